//! The outbox and the digest ledger: what is to be sent, what was sent, and which papers each
//! subscriber has already had.
//!
//! A digest is recorded in one transaction: the outbox row (the whole message, with its stable
//! Message-ID) and one ledger row per paper. The outbox row is unique per (subscriber, kind,
//! period), so a period never gets two digests; the ledger is unique per (subscriber, paper),
//! so a paper never reaches a subscriber twice, whatever its version or day.
//!
//! Delivery is at least once: a row is marked `sending` (attempt counted) before it is handed to
//! the SMTP server and `sent` after the server accepted it. If the process dies in between, the row
//! is still `sending` and is claimed and sent again once its claim has expired
//! ([`crate::store::CLAIM_LEASE`]), with the same Message-ID (mail clients and many servers fold
//! duplicates by Message-ID). Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL (one
//! write transaction at a time on SQLite), so workers delivering at once never share a row. Rows
//! are handed over in steps (the digest crate uses 48), so a crash re-sends at most one step. SMTP
//! offers nothing stronger: the server's acceptance and our record of it cannot be one atomic step.

use chrono::Duration;
use serde::Serialize;


/// Attempts before a message is given up as failed.
pub const MAX_ATTEMPTS: u32 = 10;
/// Permanent failures after which an address counts as bouncing (and gets no more digests).
pub const BOUNCES_TO_STOP: u32 = 3;

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutgoingMessage {
    /// `<…@…>`, stable for a subscriber and period.
    pub message_id: String,
    /// The recipient.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// HTML part.
    pub html: String,
    /// Plain-text part.
    pub text: String,
    /// The one-click unsubscribe URL (RFC 8058), if the message has one.
    pub unsubscribe_url: Option<String>,
}

/// What kind of message an outbox row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The double opt-in confirmation.
    Confirm,
    /// A digest.
    Digest,
    /// A sign-in link.
    SignIn,
    /// What a reader's alerts found, as a message of its own (they chose it over the digest).
    Alert,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Confirm => "confirm",
            Kind::Digest => "digest",
            Kind::SignIn => "sign_in",
            Kind::Alert => "alert",
        }
    }

    /// A stored name; `None` for one this build does not know.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "confirm" => Kind::Confirm,
            "digest" => Kind::Digest,
            "sign_in" => Kind::SignIn,
            "alert" => Kind::Alert,
            _ => return None,
        })
    }
}

/// Where an outbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Waiting for its (next) attempt.
    Queued,
    /// Handed to the SMTP server; not yet known to be accepted.
    Sending,
    /// Accepted by the SMTP server.
    Sent,
    /// Given up after [`MAX_ATTEMPTS`] transient failures.
    Failed,
    /// Refused permanently (5xx).
    Bounced,
}

impl Delivery {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Queued => "queued",
            Delivery::Sending => "sending",
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
            Delivery::Bounced => "bounced",
        }
    }

    /// A stored name; `None` for one this build does not know.
    pub fn parse(s: &str) -> Option<Delivery> {
        Some(match s {
            "queued" => Delivery::Queued,
            "sending" => Delivery::Sending,
            "sent" => Delivery::Sent,
            "failed" => Delivery::Failed,
            "bounced" => Delivery::Bounced,
            _ => return None,
        })
    }
}

/// An outbox row due for delivery.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// The subscriber.
    pub subscriber_id: i64,
    /// Confirmation or digest.
    pub kind: Kind,
    /// Attempts so far.
    pub attempts: u32,
    /// The message.
    pub message: OutgoingMessage,
}

/// What the SMTP server said about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted.
    Sent,
    /// Worth retrying (4xx, connection trouble), with the error.
    Transient(String),
    /// Refused for good (5xx), with the error.
    Permanent(String),
}

impl OutboxCounts {
    /// Adds `n` rows in `state`.
    pub fn add(&mut self, state: Delivery, n: u64) {
        match state {
            Delivery::Queued => self.queued += n,
            Delivery::Sending => self.sending += n,
            Delivery::Sent => self.sent += n,
            Delivery::Failed => self.failed += n,
            Delivery::Bounced => self.bounced += n,
        }
    }
}

/// Counts of outbox rows by state.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    /// Queued (incl. waiting to retry).
    pub queued: u64,
    /// Sending (in flight or interrupted).
    pub sending: u64,
    /// Sent.
    pub sent: u64,
    /// Failed.
    pub failed: u64,
    /// Bounced.
    pub bounced: u64,
    /// When the earliest queued or sending row is due (a retry's wait, or an interrupted
    /// claim's expiry); `None` when nothing waits.
    pub next_attempt: Option<chrono::DateTime<chrono::Utc>>,
}

/// After a transient failure at attempt `attempts`: the row's new state and when it is due
/// again (queued after the [`backoff`], or failed for good after [`MAX_ATTEMPTS`]).
pub fn after_transient(attempts: u32, now: chrono::DateTime<chrono::Utc>) -> (Delivery, chrono::DateTime<chrono::Utc>) {
    if attempts >= MAX_ATTEMPTS {
        (Delivery::Failed, now)
    } else {
        (Delivery::Queued, now + backoff(attempts))
    }
}

/// The wait before attempt `attempts + 1`: one minute, doubling, at most six hours.
pub fn backoff(attempts: u32) -> Duration {
    let minutes = 1i64 << attempts.min(9).saturating_sub(1);
    Duration::minutes(minutes.min(360))
}
