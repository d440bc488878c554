//! Delivery over SMTP with lettre: plain, STARTTLS (`smtp://…?tls=required`) or TLS
//! (`smtps://`), optional `user:password@`. Each message carries its stable Message-ID and, for
//! digests, the RFC 8058 headers. Transient failures (4xx, connection errors) are retried with
//! a doubling backoff; permanent ones (5xx) bounce that message only.

use chrono::{DateTime, Utc};
use lettre::message::header::{self, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::SmtpTransport;
use lettre::{Message, Transport};
use paperboy_engine::outbox::{Delivery, Outcome, OutgoingMessage};
use paperboy_engine::store::CLAIM_LEASE;
use paperboy_engine::Store;
use serde::Serialize;

use crate::error::DigestError;

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Accepted by the SMTP server.
    pub sent: u64,
    /// Transient failures, to be retried.
    pub retrying: u64,
    /// Given up (after the last attempt, or refused permanently).
    pub failed: u64,
}

/// Sends messages; the SMTP implementation is [`SmtpMailer`].
pub trait Mailer: Sync {
    /// Sends one message.
    fn send(&self, message: &OutgoingMessage) -> Result<(), SendError>;
}

/// Why a message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying: 4xx, a dropped connection, a timeout.
    #[error("transient: {0}")]
    Transient(String),
    /// Not worth retrying: 5xx for this recipient or message.
    #[error("permanent: {0}")]
    Permanent(String),
}

#[derive(Clone)]
struct ListUnsubscribe(String);

impl header::Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.trim_matches(['<', '>']).to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

#[derive(Clone)]
struct ListUnsubscribePost;

impl header::Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// Builds the MIME message: multipart/alternative (text, then HTML), Message-ID, Date and,
/// with an unsubscribe URL, `List-Unsubscribe` + `List-Unsubscribe-Post` (RFC 8058).
pub fn build(message: &OutgoingMessage, from: &Mailbox) -> Result<Message, SendError> {
    let to: Mailbox = message.recipient.parse().map_err(|e| SendError::Permanent(format!("recipient {:?}: {e}", message.recipient)))?;
    let mut builder = Message::builder().from(from.clone()).to(to).subject(&message.subject).message_id(Some(message.message_id.clone())).date_now();
    if let Some(url) = &message.unsubscribe_url {
        builder = builder.header(ListUnsubscribe(url.clone())).header(ListUnsubscribePost);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(message.text.clone(), message.html.clone()))
        .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
}

/// Delivers over SMTP.
pub struct SmtpMailer {
    transport: SmtpTransport,
    from: Mailbox,
}

impl SmtpMailer {
    /// From an `smtp://`/`smtps://` URL and the sender address.
    pub fn new(url: &str, from: &str) -> Result<Self, DigestError> {
        let transport = SmtpTransport::from_url(url)
            .map_err(|e| DigestError::Config(format!("SMTP URL {url:?}: {e}")))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        let from = from.parse().map_err(|e| DigestError::Config(format!("sender {from:?}: {e}")))?;
        Ok(SmtpMailer { transport, from })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, message: &OutgoingMessage) -> Result<(), SendError> {
        let email = build(message, &self.from)?;
        match self.transport.send(&email) {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}

/// Messages handed over per step: their `sending` and final states are each written in one
/// transaction. A crash mid-step re-sends at most this many (with their Message-IDs).
pub const STEP: usize = 48;
/// SMTP connections used at once: each message is a handful of round trips, so a few
/// connections in parallel keep the server busy.
pub const CONNECTIONS: usize = 4;

/// Sends every message due at `now` (at most `limit`), one by one: a failure for one address
/// never holds up the others. Rows are claimed a step at a time, so several workers can deliver
/// from one outbox at once, each message by one of them.
pub fn deliver_due(store: &mut dyn Store, mailer: &dyn Mailer, now: DateTime<Utc>, limit: usize) -> Result<DeliveryReport, DigestError> {
    deliver_due_claiming(store, mailer, now, limit, CLAIM_LEASE)
}

/// [`deliver_due`] with claims of `lease` (longer than one step's delivery can take; a worker
/// that dies leaves its step to the others for this long).
pub fn deliver_due_claiming(store: &mut dyn Store, mailer: &dyn Mailer, now: DateTime<Utc>, limit: usize, lease: chrono::Duration) -> Result<DeliveryReport, DigestError> {
    let mut report = DeliveryReport::default();
    let mut left = limit;
    let started = std::time::Instant::now();
    while left > 0 {
        // The pass's clock moves on with the time it takes: a claim lasts `lease` from when it
        // is made, and outcomes are recorded when they are known.
        let now = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
        let step = store.claim_due(now, STEP.min(left), lease)?;
        if step.is_empty() {
            break;
        }
        left -= step.len();
        let send = |row: &paperboy_engine::outbox::OutboxRow| {
            let outcome = match mailer.send(&row.message) {
                Ok(()) => Outcome::Sent,
                Err(SendError::Permanent(e)) => {
                    tracing::warn!(recipient = %row.message.recipient, "refused permanently: {e}");
                    Outcome::Permanent(e)
                }
                Err(SendError::Transient(e)) => {
                    tracing::info!(recipient = %row.message.recipient, attempt = row.attempts + 1, "will retry: {e}");
                    Outcome::Transient(e)
                }
            };
            (row.id, outcome)
        };
        // The step's messages over a few connections at once; outcomes keep the step's order.
        let per_connection = step.len().div_ceil(CONNECTIONS).max(1);
        let outcomes: Vec<(i64, Outcome)> = std::thread::scope(|scope| {
            let workers: Vec<_> = step.chunks(per_connection).map(|part| scope.spawn(move || part.iter().map(send).collect::<Vec<_>>())).collect();
            workers.into_iter().flat_map(|w| w.join().expect("a delivery thread panicked")).collect()
        });
        for state in store.record_outcomes(&outcomes, now)? {
            match state {
                Delivery::Sent => report.sent += 1,
                Delivery::Queued | Delivery::Sending => report.retrying += 1,
                Delivery::Failed | Delivery::Bounced => report.failed += 1,
            }
        }
    }
    Ok(report)
}
