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
pub use render::{alert_message, confirmation_message, digest_message, sign_in_message};
pub use subscribe::{request_sign_in, request_subscription};

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

/// Sends the alert email of every confirmed subscriber who chose it as messages of their own
/// and has some waiting: one message each, recorded like a digest (outbox row, ledger, items
/// marked mailed; one transaction) under the key `alerts:` and `now`. Returns how many.
pub fn send_alert_mail(store: &mut dyn Store, cfg: &MailConfig, now: DateTime<Utc>) -> Result<u64, DigestError> {
    let mut sent = 0;
    let readers = store.separate_alert_mail_readers()?;
    if readers.is_empty() {
        return Ok(0);
    }
    let mut confirmed: std::collections::HashMap<i64, Subscriber> = store.confirmed_subscribers()?.into_iter().map(|s| (s.id, s)).collect();
    for reader in readers {
        let Some(sub) = confirmed.remove(&reader) else { continue };
        let compose::AlertSection { papers: section, items } = compose::alert_section(&*store, reader, &std::collections::HashSet::new())?;
        if section.is_empty() {
            continue;
        }
        let key = format!("alerts:{}", now.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
        let message = render::alert_message(&section, &sub, cfg, &key);
        let papers: Vec<_> = section.iter().map(|(p, _)| p.id.clone()).collect();
        if store.enqueue_alert_mail(reader, &key, &papers, &items, &message, now)? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Composes the digest of every confirmed subscriber due on `day` and records it (outbox row +
/// ledger, one transaction each); delivery follows from the outbox.
pub fn compose_all(store: &mut dyn Store, search: Option<&SearchService>, cfg: &MailConfig, day: NaiveDate, now: DateTime<Utc>) -> Result<ComposeReport, DigestError> {
    compose_all_on(&mut [store], search, cfg, day, now)
}

/// [`compose_all`] over several connections to one database at once: the subscribers are dealt
/// out among them, each connection composing its share on a thread of its own (on PostgreSQL
/// composing is mostly waiting for the database; with interests, searching uses the other
/// cores). Each digest is still one transaction, and a period still gets one digest per
/// subscriber, whichever connection records it.
pub fn compose_all_on(stores: &mut [&mut dyn Store], search: Option<&SearchService>, cfg: &MailConfig, day: NaiveDate, now: DateTime<Utc>) -> Result<ComposeReport, DigestError> {
    let Some(first) = stores.first() else { return Ok(ComposeReport::default()) };
    let subscribers = first.confirmed_subscribers()?;
    let rankings = Rankings::for_subscribers(&**first, &subscribers, day)?;
    let mut shares: Vec<Vec<Subscriber>> = (0..stores.len()).map(|_| Vec::new()).collect();
    for (i, sub) in subscribers.into_iter().enumerate() {
        shares[i % stores.len()].push(sub);
    }
    let reports: Vec<Result<ComposeReport, DigestError>> = std::thread::scope(|scope| {
        let rankings = &rankings;
        let workers: Vec<_> = stores
            .iter_mut()
            .zip(shares)
            .map(|(store, share)| {
                scope.spawn(move || {
                    let mut report = ComposeReport::default();
                    compose_each(&mut **store, search, day, share, rankings, &mut report, &mut |store, sub, period, digest, report| {
                        let message = digest_message(&digest, &sub, cfg);
                        let ids: Vec<_> = digest.papers().map(|p| p.id.clone()).collect();
                        if store.enqueue_digest_with(sub.id, &period.key(), day, &ids, &digest.alert_items, &message, now)? {
                            report.composed += 1;
                        } else {
                            report.skipped += 1;
                        }
                        Ok(())
                    })?;
                    Ok(report)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a composing thread panicked")).collect()
    });
    let mut total = ComposeReport::default();
    for report in reports {
        let report = report?;
        total.composed += report.composed;
        total.empty += report.empty;
        total.skipped += report.skipped;
    }
    Ok(total)
}

/// What [`compose_all`] would record on `day`, recording nothing: the digests with their
/// subscribers.
pub fn preview_all(store: &mut dyn Store, search: Option<&SearchService>, day: NaiveDate) -> Result<(ComposeReport, Vec<(Subscriber, Digest)>), DigestError> {
    let mut report = ComposeReport::default();
    let mut previews = Vec::new();
    let subscribers = store.confirmed_subscribers()?;
    let rankings = Rankings::for_subscribers(&*store, &subscribers, day)?;
    compose_each(store, search, day, subscribers, &rankings, &mut report, &mut |_, sub, _, digest, report| {
        report.composed += 1;
        previews.push((sub, digest));
        Ok(())
    })?;
    Ok((report, previews))
}

/// The trending rankings a run needs, one per window of the subscribers due (the same for
/// every subscriber of a run), and the readers with marks of their own.
struct Rankings(std::collections::HashMap<paperboy_engine::trending::Window, Vec<paperboy_engine::trending::Trending>>, std::collections::HashSet<i64>);

impl Rankings {
    fn for_subscribers(store: &dyn Store, subscribers: &[Subscriber], day: NaiveDate) -> Result<Self, DigestError> {
        let mut rankings = std::collections::HashMap::new();
        for sub in subscribers.iter().filter(|s| Period::is_due(s.frequency, day)) {
            let window = Period { frequency: sub.frequency, day }.window();
            if let std::collections::hash_map::Entry::Vacant(slot) = rankings.entry(window) {
                slot.insert(paperboy_engine::trending::ranking(store, window, day)?);
            }
        }
        Ok(Rankings(rankings, store.readers_with_marks()?))
    }
}

/// What to do with one composed digest.
type Composed<'a> = dyn FnMut(&mut dyn Store, Subscriber, &Period, Digest, &mut ComposeReport) -> Result<(), DigestError> + 'a;

/// Composes the digest of each of `subscribers` due on `day` who has none for the period yet,
/// and hands each non-empty one to `each`; counts the empty and skipped ones.
fn compose_each(
    store: &mut dyn Store,
    search: Option<&SearchService>,
    day: NaiveDate,
    subscribers: Vec<Subscriber>,
    rankings: &Rankings,
    report: &mut ComposeReport,
    each: &mut Composed<'_>,
) -> Result<(), DigestError> {
    for sub in subscribers {
        let period = Period { frequency: sub.frequency, day };
        if !Period::is_due(sub.frequency, day) || store.has_digest(sub.id, &period.key())? {
            report.skipped += 1;
            continue;
        }
        let ranked = rankings.0.get(&period.window()).map_or(&[][..], Vec::as_slice);
        match compose::compose_ranked(&*store, search, &sub, &period, ranked, rankings.1.contains(&sub.id))? {
            Some(digest) => each(store, sub, &period, digest, report)?,
            None => report.empty += 1,
        }
    }
    Ok(())
}
