//! Email digests: composing each confirmed subscriber's digest for a period (trending papers,
//! then papers matching their interests, never a paper twice), recording it with its ledger in
//! one transaction, and delivering the outbox over SMTP; and the subscribe use case. See
//! `paperboy_engine::outbox` for the delivery guarantee. The daily jobs that call these live in
//! the app (`jobs.rs`).

pub mod compose;
pub mod deliver;
mod error;
pub mod render;
pub mod subscribe;

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_engine::search::SearchService;
use paperboy_engine::subscriptions::Subscriber;
use paperboy_engine::Store;
use serde::Serialize;

pub use compose::{compose, Digest, Period};
pub use deliver::{deliver_due, deliver_due_claiming, DeliveryReport, Mailer, SendError, SmtpMailer};
pub use error::{DigestError, MailConfig};
pub use render::{confirmation_message, digest_message};
pub use subscribe::request_subscription;

/// What a digest run composed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ComposeReport {
    /// Digests recorded in the outbox.
    pub composed: u64,
    /// Subscribers with nothing new (no email).
    pub empty: u64,
    /// Subscribers who already have this period's digest, or are not due.
    pub skipped: u64,
}

/// Composes the digest of every confirmed subscriber due on `day` and records it (outbox row +
/// ledger, one transaction each); delivery follows from the outbox.
pub fn compose_all(store: &mut dyn Store, search: Option<&SearchService>, cfg: &MailConfig, day: NaiveDate, now: DateTime<Utc>) -> Result<ComposeReport, DigestError> {
    let mut report = ComposeReport::default();
    for_each_due(store, search, day, &mut report, &mut |store, sub, period, digest, report| {
        let message = digest_message(&digest, &sub, cfg);
        let ids: Vec<_> = digest.papers().map(|p| p.id.clone()).collect();
        if store.enqueue_digest(sub.id, &period.key(), day, &ids, &message, now)? {
            report.composed += 1;
        } else {
            report.skipped += 1;
        }
        Ok(())
    })?;
    Ok(report)
}

/// What [`compose_all`] would record on `day`, recording nothing: the digests with their
/// subscribers.
pub fn preview_all(store: &mut dyn Store, search: Option<&SearchService>, day: NaiveDate) -> Result<(ComposeReport, Vec<(Subscriber, Digest)>), DigestError> {
    let mut report = ComposeReport::default();
    let mut previews = Vec::new();
    for_each_due(store, search, day, &mut report, &mut |_, sub, _, digest, report| {
        report.composed += 1;
        previews.push((sub, digest));
        Ok(())
    })?;
    Ok((report, previews))
}

/// What to do with one composed digest.
type Composed<'a> = dyn FnMut(&mut dyn Store, Subscriber, &Period, Digest, &mut ComposeReport) -> Result<(), DigestError> + 'a;

/// Composes the digest of every confirmed subscriber due on `day` who has none for the period
/// yet, and hands each non-empty one to `each`; counts the empty and skipped ones.
fn for_each_due(store: &mut dyn Store, search: Option<&SearchService>, day: NaiveDate, report: &mut ComposeReport, each: &mut Composed<'_>) -> Result<(), DigestError> {
    let mut rankings = std::collections::HashMap::new();
    for sub in store.confirmed_subscribers()? {
        let period = Period { frequency: sub.frequency, day };
        if !Period::is_due(sub.frequency, day) || store.has_digest(sub.id, &period.key())? {
            report.skipped += 1;
            continue;
        }
        let window = period.window();
        if let std::collections::hash_map::Entry::Vacant(slot) = rankings.entry(window) {
            slot.insert(paperboy_engine::trending::ranking(&*store, window, day)?);
        }
        match compose::compose_ranked(&*store, search, &sub, &period, &rankings[&window])? {
            Some(digest) => each(store, sub, &period, digest, report)?,
            None => report.empty += 1,
        }
    }
    Ok(())
}
