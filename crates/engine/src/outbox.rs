//! The outbox and the digest ledger: what is to be sent, what was sent, and which papers each
//! subscriber has already had.
//!
//! A digest is recorded in one transaction: the outbox row (the whole message, with its stable
//! Message-ID) and one ledger row per paper. The outbox row is unique per (subscriber, kind,
//! period), so a period never gets two digests; the ledger is unique per (subscriber, paper),
//! so a paper never reaches a subscriber twice, whatever its version or day.
//!
//! Delivery is at least once: a row is marked `sending` (attempt counted) before it is handed to
//! the SMTP server and `sent` after the server accepted it. If the process dies in between, the
//! row is still `sending` and is sent again on the next run, with the same Message-ID (mail
//! clients and many servers fold duplicates by Message-ID). Rows are handed over in steps (the
//! digest crate uses 48), so a crash re-sends at most one step. SMTP offers nothing stronger: the
//! server's acceptance and our record of it cannot be one atomic step.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use paperboy_core::PaperId;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::store::{SqliteStore, StoreError};

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
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Confirm => "confirm",
            Kind::Digest => "digest",
        }
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
    fn parse(s: &str) -> Delivery {
        match s {
            "sending" => Delivery::Sending,
            "sent" => Delivery::Sent,
            "failed" => Delivery::Failed,
            "bounced" => Delivery::Bounced,
            _ => Delivery::Queued,
        }
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
    pub kind: String,
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
}

/// The wait before attempt `attempts + 1`: one minute, doubling, at most six hours.
pub fn backoff(attempts: u32) -> Duration {
    let minutes = 1i64 << attempts.min(9).saturating_sub(1);
    Duration::minutes(minutes.min(360))
}

const ROW_COLUMNS: &str = "id, subscriber_id, kind, attempts, message_id, recipient, subject, html, text, unsubscribe_url";

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        subscriber_id: r.get(1)?,
        kind: r.get(2)?,
        attempts: r.get(3)?,
        message: OutgoingMessage {
            message_id: r.get(4)?,
            recipient: r.get(5)?,
            subject: r.get(6)?,
            html: r.get(7)?,
            text: r.get(8)?,
            unsubscribe_url: r.get(9)?,
        },
    })
}

impl SqliteStore {
    /// Of `papers`, those `subscriber` has already had in a digest.
    pub fn already_sent(&self, subscriber: i64, papers: &[PaperId]) -> Result<std::collections::HashSet<PaperId>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT 1 FROM digest_ledger WHERE subscriber_id = ?1 AND paper_id = ?2")?;
        let mut seen = std::collections::HashSet::new();
        for p in papers {
            if stmt.exists(params![subscriber, p.to_string()])? {
                seen.insert(p.clone());
            }
        }
        Ok(seen)
    }

    /// Whether `subscriber` already has a digest for `period`.
    pub fn has_digest(&self, subscriber: i64, period: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM outbox WHERE subscriber_id = ?1 AND kind = 'digest' AND period = ?2")?
            .exists(params![subscriber, period])?)
    }

    /// Records a digest: the outbox row and the ledger rows, in one transaction. Returns false
    /// (and records nothing) when the subscriber already has a digest for `period`.
    pub fn enqueue_digest(&mut self, subscriber: i64, period: &str, day: NaiveDate, papers: &[PaperId], message: &OutgoingMessage, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO outbox (subscriber_id, kind, period, message_id, recipient, subject, html, text, unsubscribe_url,
                 status, attempts, next_attempt_at, created_at)
             VALUES (?1, 'digest', ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', 0, ?9, ?9)",
            params![subscriber, period, message.message_id, message.recipient, message.subject, message.html, message.text, message.unsubscribe_url, now.to_rfc3339()],
        )?;
        if inserted == 0 {
            return Ok(false);
        }
        let outbox_id = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare_cached("INSERT OR IGNORE INTO digest_ledger (subscriber_id, paper_id, outbox_id) VALUES (?1, ?2, ?3)")?;
            for p in papers {
                stmt.execute(params![subscriber, p.to_string(), outbox_id])?;
            }
        }
        tx.execute("UPDATE subscribers SET last_digest_day = ?2 WHERE id = ?1", params![subscriber, day.to_string()])?;
        tx.commit()?;
        Ok(true)
    }

    /// Queues a confirmation email (one per subscriber and token issue time).
    pub fn enqueue_confirmation(&mut self, subscriber: i64, message: &OutgoingMessage, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO outbox (subscriber_id, kind, period, message_id, recipient, subject, html, text, unsubscribe_url,
                 status, attempts, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', 0, ?10, ?10)",
            params![
                subscriber,
                Kind::Confirm.as_str(),
                now.to_rfc3339(),
                message.message_id,
                message.recipient,
                message.subject,
                message.html,
                message.text,
                message.unsubscribe_url,
                now.to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// Messages due at `now` (queued and due, or left `sending` by an interrupted run), oldest
    /// first. Digests to addresses that left or bounce since they were queued are skipped.
    pub fn due_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM outbox o
             WHERE status IN ('queued', 'sending') AND next_attempt_at <= ?1
               AND (kind = 'confirm' OR EXISTS (SELECT 1 FROM subscribers s WHERE s.id = o.subscriber_id AND s.status = 'confirmed'))
             ORDER BY id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now.to_rfc3339(), limit as i64], outbox_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks a row as handed to the SMTP server (counts the attempt).
    pub fn mark_sending(&mut self, id: i64) -> Result<(), StoreError> {
        self.mark_sending_many(&[id])
    }

    /// Marks rows as handed to the SMTP server, in one transaction.
    pub fn mark_sending_many(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ?1")?;
            for id in ids {
                stmt.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks a row as accepted by the SMTP server.
    pub fn mark_sent(&mut self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.record_outcomes(&[(id, Outcome::Sent)], now).map(|_| ())
    }

    /// A transient failure: retry after the backoff, or give up after [`MAX_ATTEMPTS`].
    /// Returns the new state.
    pub fn mark_retry(&mut self, id: i64, error: &str, now: DateTime<Utc>) -> Result<Delivery, StoreError> {
        Ok(self.record_outcomes(&[(id, Outcome::Transient(error.to_owned()))], now)?[0])
    }

    /// A permanent failure (5xx): the message is not retried, and the address gets a bounce;
    /// at [`BOUNCES_TO_STOP`] bounces it receives no more digests.
    pub fn mark_bounced(&mut self, id: i64, error: &str) -> Result<(), StoreError> {
        self.record_outcomes(&[(id, Outcome::Permanent(error.to_owned()))], Utc::now()).map(|_| ())
    }

    /// Records what the SMTP server said for each row, in one transaction; returns each row's
    /// new state.
    pub fn record_outcomes(&mut self, outcomes: &[(i64, Outcome)], now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut states = Vec::with_capacity(outcomes.len());
        for (id, outcome) in outcomes {
            let state = match outcome {
                Outcome::Sent => {
                    tx.prepare_cached("UPDATE outbox SET status = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1")?
                        .execute(params![id, now.to_rfc3339()])?;
                    Delivery::Sent
                }
                Outcome::Transient(error) => {
                    let attempts: u32 = tx.prepare_cached("SELECT attempts FROM outbox WHERE id = ?1")?.query_row([id], |r| r.get(0))?;
                    let (state, next) = if attempts >= MAX_ATTEMPTS { (Delivery::Failed, now) } else { (Delivery::Queued, now + backoff(attempts)) };
                    tx.prepare_cached("UPDATE outbox SET status = ?2, last_error = ?3, next_attempt_at = ?4 WHERE id = ?1")?.execute(params![
                        id,
                        if state == Delivery::Failed { "failed" } else { "queued" },
                        error,
                        next.to_rfc3339()
                    ])?;
                    state
                }
                Outcome::Permanent(error) => {
                    tx.prepare_cached("UPDATE outbox SET status = 'bounced', last_error = ?2 WHERE id = ?1")?.execute(params![id, error])?;
                    tx.prepare_cached(
                        "UPDATE subscribers SET bounces = bounces + 1,
                             status = CASE WHEN bounces + 1 >= ?2 AND status = 'confirmed' THEN 'bouncing' ELSE status END
                         WHERE id = (SELECT subscriber_id FROM outbox WHERE id = ?1)",
                    )?
                    .execute(params![id, BOUNCES_TO_STOP])?;
                    Delivery::Bounced
                }
            };
            states.push(state);
        }
        tx.commit()?;
        Ok(states)
    }

    /// Rows by state.
    pub fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let mut counts = OutboxCounts::default();
        let mut stmt = self.conn.prepare_cached("SELECT status, count(*) FROM outbox GROUP BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
        for row in rows {
            let (status, n) = row?;
            match Delivery::parse(&status) {
                Delivery::Queued => counts.queued += n,
                Delivery::Sending => counts.sending += n,
                Delivery::Sent => counts.sent += n,
                Delivery::Failed => counts.failed += n,
                Delivery::Bounced => counts.bounced += n,
            }
        }
        Ok(counts)
    }

    /// The state and attempts of the row with this Message-ID.
    pub fn delivery_of(&self, message_id: &str) -> Result<Option<(Delivery, u32)>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT status, attempts FROM outbox WHERE message_id = ?1", [message_id], |r| Ok((Delivery::parse(&r.get::<_, String>(0)?), r.get(1)?)))
            .optional()?)
    }
}
