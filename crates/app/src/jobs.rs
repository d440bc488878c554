//! The background jobs of `serve`: the daily jobs (harvest, index, embed, compose the digests)
//! once a day from the send hour, and a delivery pass over the outbox every tick, until the
//! process stops.
//!
//! With several workers on one database, the one that takes the day's lease runs the daily
//! jobs (the lease lasts [`DAILY_LEASE`] while they run, so a worker that dies holding it
//! blocks the others for at most that long, and is kept to midnight once they are done); all of
//! them deliver, each outbox row claimed by one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{NaiveDate, Timelike, Utc};
use paperboy_digest::{compose_all_on, deliver_due_claiming, ComposeReport, Mailer};
use paperboy_engine::alerts;
use paperboy_engine::harvest::{harvest, HarvestOptions};
use paperboy_engine::search::SearchService;
use paperboy_engine::Store;
use paperboy_web::AppState;
use serde::Serialize;

use crate::settings::Settings;

/// Messages delivered per pass at most.
pub const DELIVERY_BATCH: usize = 10_000;
/// Webhook calls per tick at most (each may wait up to 10 s for its endpoint).
const WEBHOOK_BATCH: usize = 50;
/// How long the alerts' lease lasts while a pass runs.
const ALERTS_LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// How long the daily jobs' lease lasts while they run.
pub const DAILY_LEASE: chrono::Duration = chrono::Duration::hours(2);

/// What the daily jobs did after the harvest.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DailyReport {
    /// Papers added to the full-text index.
    pub indexed: u64,
    /// Papers embedded.
    pub embedded: u64,
    /// Digests composed.
    pub composed: ComposeReport,
}

/// Store connections used at once to compose the digests (composing waits on the database
/// more than it computes).
pub const COMPOSERS: usize = 4;

/// A worker's store connections: one for the jobs, one for the embedding cache, and the
/// composers.
pub struct Connections {
    /// The jobs' own connection (leases, harvest, delivery).
    pub main: Box<dyn Store>,
    /// The embedding cache.
    pub cache: Box<dyn Store>,
    /// Composing the digests, [`COMPOSERS`] at once.
    pub composers: Vec<Box<dyn Store>>,
}

impl Connections {
    /// Opens them with `open`.
    pub fn open(open: impl Fn() -> Result<Box<dyn Store>>) -> Result<Connections> {
        Ok(Connections { main: open()?, cache: open()?, composers: (0..COMPOSERS).map(|_| open()).collect::<Result<_>>()? })
    }
}

/// The daily jobs after a harvest: bring search up to date with the store (index and embed what
/// is new), then compose the day's digests; delivery follows from the outbox.
pub fn daily(conns: &mut Connections, search: &SearchService, settings: &Settings, day: NaiveDate) -> Result<DailyReport> {
    let (indexed, embedded) = search.catch_up(&*conns.main, &mut *conns.cache)?;
    tracing::info!(indexed, embedded, "daily: search up to date");
    let mut composers: Vec<&mut dyn Store> = conns.composers.iter_mut().map(|s| &mut **s as &mut dyn Store).collect();
    let composed = compose_all_on(&mut composers, Some(search), &settings.mail.cfg, day, Utc::now())?;
    tracing::info!(%day, composed = composed.composed, empty = composed.empty, skipped = composed.skipped, "daily: digests");
    Ok(DailyReport { indexed, embedded, composed })
}

/// The jobs of one worker process.
pub struct Jobs {
    settings: Settings,
    /// Who holds the leases this worker takes.
    holder: String,
    mailer: Option<Box<dyn Mailer + Send>>,
}

impl Jobs {
    /// Jobs with these settings; without an SMTP server, digests are composed but not sent.
    pub fn new(settings: Settings) -> Jobs {
        let mailer: Option<Box<dyn Mailer + Send>> = match settings.mail.smtp_url {
            Some(_) => match settings.mail.mailer() {
                Ok(m) => Some(Box::new(m)),
                Err(e) => {
                    tracing::error!("email is off: {e:#}");
                    None
                }
            },
            None => {
                tracing::info!("no SMTP server configured (--smtp-url or PAPERBOY_SMTP_URL): digests are composed but not sent");
                None
            }
        };
        Jobs { settings, holder: lease_holder(), mailer }
    }

    /// Runs until `stop` is set: the daily jobs once a day from the send hour (again after a
    /// restart: digests already composed for the day are skipped), once search is open; a
    /// delivery pass every tick.
    pub fn run_until_stopped(self, state: &AppState, mut conns: Connections, stop: &AtomicBool) {
        let mut last_daily: Option<NaiveDate> = None;
        while !stop.load(Ordering::Relaxed) {
            let now = Utc::now();
            if now.hour() >= self.settings.mail.send_hour && last_daily != Some(now.date_naive()) {
                if let Some(search) = state.search() {
                    match self.daily_once(state, &search, &mut conns, now.date_naive()) {
                        Ok(_) => last_daily = Some(now.date_naive()),
                        Err(e) => tracing::error!("daily jobs stopped: {e:#}"),
                    }
                }
            }
            if let Some(search) = state.search() {
                self.alerts(&search, &mut *conns.main);
            }
            if let Some(mailer) = &self.mailer {
                deliver(&mut *conns.main, mailer.as_ref(), self.settings.mail.claim_lease);
            }
            match alerts::deliver_webhooks(&mut *conns.main, Utc::now(), self.settings.allow_private_webhooks, WEBHOOK_BATCH) {
                Ok(r) if r.attempted > 0 => tracing::info!(attempted = r.attempted, sent = r.sent, failed = r.failed, "webhooks"),
                Ok(_) => {}
                Err(e) => tracing::error!("webhook delivery stopped: {e}"),
            }
            let slept = Instant::now();
            while slept.elapsed() < self.settings.serve.tick && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(self.settings.serve.tick.min(Duration::from_millis(100)));
            }
        }
    }

    /// Runs every alert over the papers stored since its last run, unless another worker is
    /// (one lease for the whole pass; a run records each reader's deliveries in one transaction,
    /// so a worker that dies mid-pass leaves the rest to the next).
    fn alerts(&self, search: &SearchService, store: &mut dyn Store) {
        let now = Utc::now();
        match store.try_lease("alerts", &self.holder, now, now + ALERTS_LEASE) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return tracing::error!("alerts: {e}"),
        }
        match alerts::run_all(store, search, &self.settings.mail.cfg.base_url, now) {
            Ok(r) if r.candidates > 0 || r.events > 0 => tracing::info!(alerts = r.alerts, papers = r.candidates, events = r.events, deliveries = r.matched, "alerts run"),
            Ok(_) => {}
            Err(e) => tracing::error!("alerts stopped: {e}"),
        }
        // Readers who want alert email as messages of their own get them now (the digest
        // carries everyone else's).
        match paperboy_digest::send_alert_mail(store, &self.settings.mail.cfg, now) {
            Ok(n) if n > 0 => tracing::info!(messages = n, "alert email queued"),
            Ok(_) => {}
            Err(e) => tracing::error!("alert email stopped: {e}"),
        }
        if let Err(e) = store.release_lease("alerts", &self.holder) {
            tracing::error!("alerts: {e}");
        }
    }

    /// Runs the daily jobs for `today` unless another worker has run or is running them.
    /// Returns whether this worker ran them.
    fn daily_once(&self, state: &AppState, search: &SearchService, conns: &mut Connections, today: NaiveDate) -> Result<bool> {
        let name = format!("daily:{today}");
        let now = Utc::now();
        if !conns.main.try_lease(&name, &self.holder, now, now + DAILY_LEASE)? {
            tracing::debug!(lease = %name, "another worker has the daily jobs");
            return Ok(false);
        }
        let result = self.daily(state, search, conns);
        match &result {
            Ok(()) => {
                let tomorrow = (today + chrono::Days::new(1)).and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
                conns.main.try_lease(&name, &self.holder, Utc::now(), tomorrow)?;
            }
            Err(_) => conns.main.release_lease(&name, &self.holder)?,
        }
        result.map(|()| true)
    }

    fn daily(&self, state: &AppState, search: &SearchService, conns: &mut Connections) -> Result<()> {
        if self.settings.mail.harvest {
            run_harvest(&mut *conns.main, &self.settings.harvest);
        }
        let day = conns.main.latest_day()?.unwrap_or_else(|| Utc::now().date_naive());
        let report = daily(conns, search, &self.settings, day)?;
        state.papers_changed();
        tracing::info!(indexed = report.indexed, embedded = report.embedded, composed = report.composed.composed, "daily jobs done");
        Ok(())
    }
}

fn run_harvest(store: &mut dyn Store, opts: &HarvestOptions) {
    match harvest(store, opts, &mut |d| std::thread::sleep(d), &mut |_| {}) {
        Ok(summary) => tracing::info!("daily harvest: {} ({} pages)", summary.report, summary.pages),
        Err(e) => tracing::error!("daily harvest failed (the other jobs go on): {e}"),
    }
}

/// Who holds a lease, for the operator reading the table: host, process and a random part.
fn lease_holder() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".into());
    format!("{host}:{}:{}", std::process::id(), &paperboy_engine::subscriptions::random_token()[..8])
}

fn deliver(store: &mut dyn Store, mailer: &dyn Mailer, lease: chrono::Duration) {
    match deliver_due_claiming(store, mailer, Utc::now(), DELIVERY_BATCH, lease) {
        Ok(r) if r.sent + r.failed + r.retrying > 0 => tracing::info!(sent = r.sent, failed = r.failed, retrying = r.retrying, "delivery"),
        Ok(_) => {}
        Err(e) => tracing::error!("delivery: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use paperboy_core::{EmailAddress, Paper, Source};
    use paperboy_digest::{deliver_due, SmtpMailer};
    use paperboy_engine::search::{Embed, SearchService};
    use paperboy_engine::subscriptions::{Frequency, Interests};
    use paperboy_engine::{demo, PaperStore, SqliteStore, SubscriberStore};
    use paperboy_testkit::SmtpSink;

    use super::*;

    #[test]
    fn the_daily_jobs_index_embed_and_compose_what_arrived() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::for_serve(dir.path());
        let mut store = SqliteStore::open(&settings.data.database()).unwrap();
        demo::load(&mut store).unwrap();
        let interests = Interests::from_fields("lunar regolith excavation", "", "", "").unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0).unwrap();
        store.import_subscriber(&EmailAddress::parse("ada@example.org").unwrap(), Frequency::Daily, &interests, true, t0).unwrap();
        let mut cache = SqliteStore::open(&settings.data.database()).unwrap();
        let model = Arc::new(paperboy_embed::MiniLm::load().unwrap());
        let search = SearchService::open(&store, &mut cache, Some(&settings.data.indexes()), model, Embed::Later, &mut |_, _, _| {}).unwrap();
        let before = search.embedded();
        // A harvest brings two papers of a new day.
        let day: NaiveDate = "2026-08-24".parse().unwrap();
        let mut new = Vec::new();
        for (id, title) in [("2608.99001", "Autonomous lunar regolith excavation with learned excavators"), ("2608.99002", "A survey of sparse attention")] {
            let mut p = Paper::new(id.parse().unwrap(), title, Source::OaiPmh);
            p.abstract_text = format!("{title}. We study it in depth.");
            p.listed_on = Some(day);
            new.push(p);
        }
        store.upsert_papers(new).unwrap();
        drop((store, cache));
        let mut conns = Connections::open(|| Ok(Box::new(SqliteStore::open(&settings.data.database())?) as Box<dyn Store>)).unwrap();
        let report = daily(&mut conns, &search, &settings, day).unwrap();
        assert_eq!((report.indexed, report.embedded), (2, 2));
        assert_eq!(search.embedded(), before + 2, "semantic search covers the new papers");
        assert_eq!(report.composed.composed, 1);
        let sink = SmtpSink::start_local(&[]);
        deliver_due(&mut *conns.main, &SmtpMailer::new(&sink.url, &settings.mail.cfg.from).unwrap(), Utc::now(), 10).unwrap();
        let body = sink.received()[0].body_text();
        assert!(body.contains("Autonomous lunar regolith excavation"), "the new paper reached the digest");
    }
}
