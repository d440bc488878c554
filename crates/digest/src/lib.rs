//! Email digests: composing each confirmed subscriber's digest for a period (trending papers,
//! then papers matching their interests, never a paper twice), recording it with its ledger in
//! one transaction, and delivering the outbox over SMTP. See `paperboy_engine::outbox` for the
//! delivery guarantee.

pub mod compose;
pub mod deliver;
pub mod render;
pub mod sink;

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_engine::search::{SearchError, SearchService};
use paperboy_engine::subscriptions::Subscriber;
use paperboy_engine::{EmbeddingCache, Store, StoreError};
use serde::Serialize;

pub use compose::{compose, Digest, Period};
pub use deliver::{deliver_due, deliver_due_claiming, DeliveryReport, Mailer, SendError, SmtpMailer};
pub use render::{confirmation_message, digest_message};

/// Where links point and who sends.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The public address that makes every link absolute (`PAPERBOY_BASE_URL`).
    pub base_url: String,
    /// The sender (`PAPERBOY_FROM`), e.g. `paperboy <digest@example.org>`.
    pub from: String,
}

/// What went wrong while composing or delivering.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Search failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// A setting is wrong.
    #[error("{0}")]
    Config(String),
}

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

/// What the daily jobs did (after the harvest, which the caller runs first).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DailyReport {
    /// Papers added to the full-text index.
    pub indexed: u64,
    /// Papers embedded.
    pub embedded: u64,
    /// Papers in the week's trending ranking.
    pub trending: usize,
    /// Digests composed.
    pub composed: ComposeReport,
}

/// The daily jobs after a harvest: index what is new, embed it (and refresh the vectors),
/// rank the week, compose the day's digests (delivery follows from the outbox).
pub fn daily(store: &mut dyn Store, cache: &mut dyn EmbeddingCache, search: &SearchService, cfg: &MailConfig, day: NaiveDate, now: DateTime<Utc>) -> Result<DailyReport, DigestError> {
    let indexed = search.sync(&*store)?;
    tracing::info!(indexed, "daily: index");
    let embedded = search.embed_new(&*store, cache, &mut |_, _, _| {})?;
    tracing::info!(embedded, "daily: embed");
    let trending = paperboy_engine::trending::ranking(&*store, paperboy_engine::trending::Window::Week, day)?.len();
    tracing::info!(%day, papers = trending, "daily: trending (week)");
    let (composed, _) = compose_all(store, Some(search), cfg, day, false, now)?;
    tracing::info!(%day, composed = composed.composed, empty = composed.empty, skipped = composed.skipped, "daily: digests");
    Ok(DailyReport { indexed, embedded, trending, composed })
}

/// Composes the digest of every confirmed subscriber due on `day` and records it (outbox row +
/// ledger, one transaction each). With `dry_run`, nothing is recorded; the digests are returned.
pub fn compose_all(
    store: &mut dyn Store,
    search: Option<&SearchService>,
    cfg: &MailConfig,
    day: NaiveDate,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<(ComposeReport, Vec<(Subscriber, Digest)>), DigestError> {
    let mut report = ComposeReport::default();
    let mut previews = Vec::new();
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
        let Some(digest) = compose::compose_ranked(&*store, search, &sub, &period, &rankings[&window])? else {
            report.empty += 1;
            continue;
        };
        if dry_run {
            report.composed += 1;
            previews.push((sub, digest));
            continue;
        }
        let message = digest_message(&digest, &sub, cfg);
        let ids: Vec<_> = digest.papers().map(|p| p.id.clone()).collect();
        if store.enqueue_digest(sub.id, &period.key(), day, &ids, &message, now)? {
            report.composed += 1;
        } else {
            report.skipped += 1;
        }
    }
    Ok((report, previews))
}
