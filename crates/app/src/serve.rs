//! `paperboy serve`: the web service and the jobs. Pages answer at once; the search index opens
//! in the background (keyword search first, with the cached vectors), then papers without
//! vectors are embedded in the background with progress in the log, and semantic search picks
//! them up.
//!
//! Roles: a `web` process answers HTTP and keeps its own search index in step with the
//! database (it follows the store's change sequence every [`FOLLOW`]); a `worker` runs the daily
//! jobs and delivers email; `all` (the default) is both. Several processes can share one
//! PostgreSQL database: the daily jobs take a lease per day, so one worker runs them, and
//! outbox rows are claimed, so each message goes out through one worker.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{NaiveDate, Timelike, Utc};
use paperboy_digest::{deliver_due_claiming, Mailer};
use paperboy_embed::{Embedder, MiniLm};
use paperboy_engine::harvest::{harvest, HarvestOptions};
use paperboy_engine::search::SearchService;
use paperboy_engine::Store;
use paperboy_web::{AppState, RateLimits, WebConfig};

use crate::cli::Role;
use crate::commands::{harvest_options, Ctx};
use crate::config::Config;
use crate::demo;
use crate::digest::{Mail, DELIVERY_BATCH};

/// Store connections for requests (reads run in parallel; SQLite serialises writes).
const CONNECTIONS: usize = 4;
/// Default listen address: this machine only.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How often the scheduler looks at the clock and the outbox (`[serve] tick_secs`).
const TICK: std::time::Duration = std::time::Duration::from_secs(30);
/// How often a process with a search index looks for papers other processes wrote.
const FOLLOW: std::time::Duration = std::time::Duration::from_secs(2);
/// How long the daily jobs' lease lasts while they run: a worker that dies holding it blocks
/// the others for at most this long.
const DAILY_LEASE: chrono::Duration = chrono::Duration::hours(2);

/// What `serve` was asked for on the command line.
pub struct Options {
    pub listen: Option<String>,
    pub base_url: Option<String>,
    pub no_demo: bool,
    pub search_rate: Option<u32>,
    pub role: Role,
}

pub fn serve(ctx: &Ctx, config: &Config, mut mail: Mail, opts: Options) -> Result<()> {
    let cfg = &config.serve;
    let listen = opts.listen.or_else(|| cfg.listen.clone()).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let mut store = ctx.open_store()?;
    tracing::info!(database = %ctx.db_name(), backend = store.backend(), role = ?opts.role, "store open");
    if store.stats()?.papers == 0 && !opts.no_demo {
        tracing::info!("the store is empty: loading the demo corpus");
        for r in demo::load(&mut *store)? {
            tracing::info!("{r}");
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let listener = match opts.role.serves_http() {
        true => Some(
            runtime
                .block_on(tokio::net::TcpListener::bind(&listen))
                .with_context(|| format!("cannot listen on {listen} (in use? try --listen 127.0.0.1:8081)"))?,
        ),
        false => None,
    };
    let local = listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let base_url = opts
        .base_url
        .or_else(|| cfg.base_url.clone())
        .or_else(|| config.mail.base_url.clone())
        .unwrap_or_else(|| format!("http://{}", local.map_or_else(|| listen.clone(), |a| a.to_string())));
    mail.cfg.base_url = base_url.trim_end_matches('/').to_owned();
    let jobs = DailyJobs {
        mail,
        send_hour: config.mail.send_hour.unwrap_or(6).min(23),
        harvest: config.mail.harvest.unwrap_or(false).then(|| harvest_options(config, None, None, None)),
        holder: lease_holder(),
        tick: cfg.tick_secs.map_or(TICK, std::time::Duration::from_secs),
        claim_lease: config.mail.claim_lease_secs.map_or(paperboy_engine::store::CLAIM_LEASE, |s| chrono::Duration::seconds(s as i64)),
    };
    let mut config = WebConfig::new(base_url);
    config.secret = load_secret(&ctx.data_dir.join("secret"))?;
    let defaults = RateLimits::default();
    config.rate_limits = RateLimits {
        search_per_minute: opts.search_rate.or(cfg.search_per_minute).unwrap_or(defaults.search_per_minute),
        subscribe_per_hour: cfg.subscribe_per_hour.unwrap_or(defaults.subscribe_per_hour),
    };
    let connections = if opts.role.serves_http() { CONNECTIONS } else { 1 };
    let stores = (0..connections).map(|_| ctx.open_store()).collect::<Result<Vec<_>>>()?;
    let state = AppState::new(stores, None, config);
    {
        let state = state.clone();
        let (data_dir, follow) = (ctx.data_dir.clone(), (ctx.open_store()?, ctx.open_store()?));
        std::thread::Builder::new().name("search".into()).spawn(move || {
            if let Err(e) = open_search(&state, &data_dir, follow) {
                tracing::error!("search is unavailable: {e:#}");
            }
        })?;
    }
    if opts.role.runs_jobs() {
        let state = state.clone();
        let stores = (ctx.open_store()?, ctx.open_store()?);
        std::thread::Builder::new().name("scheduler".into()).spawn(move || jobs.run(&state, stores))?;
    }
    match (listener, local) {
        (Some(listener), Some(local)) => {
            eprintln!("paperboy is serving http://{local}/ (database {}); Ctrl-C stops it", ctx.db_name());
            runtime.block_on(paperboy_web::serve(listener, state)).context("serving")?;
        }
        _ => {
            eprintln!("paperboy is working (database {}); Ctrl-C stops it", ctx.db_name());
            runtime.block_on(paperboy_web::shutdown_signal());
        }
    }
    Ok(())
}

/// Who holds a lease, for the operator reading the table: host, process and a random part.
fn lease_holder() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".into());
    format!("{host}:{}:{}", std::process::id(), &paperboy_engine::subscriptions::random_token()[..8])
}

/// Opens the search service (without embedding), puts it in place, then embeds what has no
/// vector yet and refreshes the vectors; from then on follows the store's changes, which other
/// processes may write, every [`FOLLOW`].
fn open_search(state: &AppState, data_dir: &Path, (store, mut cache): (Box<dyn Store>, Box<dyn Store>)) -> Result<()> {
    let started = std::time::Instant::now();
    let model: Arc<dyn Embedder> = Arc::new(MiniLm::load().context("loading the embedding model")?);
    let index_dir = data_dir.join("index").join("fulltext");
    let service = SearchService::open_with(&*store, &mut *cache, Some(&index_dir), model.clone(), false, &mut |what, done, total| {
        tracing::debug!(what, done, total, "opening search");
    })?;
    let service = Arc::new(service);
    tracing::info!(indexed = service.indexed(), embedded = service.embedded(), secs = started.elapsed().as_secs_f32(), "search is ready");
    state.set_search(service.clone());
    let mut last_log = std::time::Instant::now();
    let n = service.embed_new(&*store, &mut *cache, &mut |_, done, total| {
        if last_log.elapsed().as_secs() >= 10 || done == total {
            tracing::info!("embedding new papers in the background: {done}/{total}");
            last_log = std::time::Instant::now();
        }
    })?;
    if n > 0 {
        tracing::info!(embedded = n, vectors = service.embedded(), "semantic search now covers every paper");
    }
    loop {
        std::thread::sleep(FOLLOW);
        match service.catch_up(&*store, &mut *cache) {
            Ok((0, _)) => {}
            Ok((indexed, embedded)) => {
                state.papers_changed();
                tracing::info!(indexed, embedded, "search caught up with the store");
            }
            Err(e) => tracing::warn!("following the store: {e}"),
        }
    }
}

/// The CSRF key: 32 random bytes kept in the data directory (so forms survive a restart).
fn load_secret(path: &Path) -> Result<[u8; 32]> {
    let mut secret = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open(path) {
        if f.read_exact(&mut secret).is_ok() {
            return Ok(secret);
        }
    }
    secret = WebConfig::new("").secret;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(&secret)?;
    Ok(secret)
}

/// The daily jobs at `send_hour` (UTC): harvest (if enabled), index, trending, digests,
/// delivery, each logged with its counts; and a delivery pass every tick. With several
/// workers, the one that takes the day's lease runs the daily jobs; all of them deliver.
struct DailyJobs {
    mail: Mail,
    send_hour: u32,
    harvest: Option<HarvestOptions>,
    holder: String,
    tick: std::time::Duration,
    claim_lease: chrono::Duration,
}

impl DailyJobs {
    /// Runs until the process stops; `cache` is a second connection for the embedding cache.
    fn run(self, state: &AppState, (mut store, mut cache): (Box<dyn Store>, Box<dyn Store>)) {
        let mailer = match self.mail.smtp_url {
            Some(_) => match self.mail.mailer() {
                Ok(m) => Some(m),
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
        let mut last_daily: Option<NaiveDate> = None;
        loop {
            let now = Utc::now();
            // Due once a day from `send_hour` on (again after a restart: digests already
            // composed for the day are skipped), once search is open.
            if now.hour() >= self.send_hour && last_daily != Some(now.date_naive()) && state.search().is_some() {
                match self.daily_once(state, &mut *store, &mut *cache, now.date_naive()) {
                    Ok(_) => last_daily = Some(now.date_naive()),
                    Err(e) => tracing::error!("daily jobs stopped: {e:#}"),
                }
            }
            if let Some(m) = &mailer {
                deliver(&mut *store, m, self.claim_lease);
            }
            std::thread::sleep(self.tick);
        }
    }

    /// Runs the daily jobs for `today` unless another worker has run or is running them:
    /// the lease is taken for [`DAILY_LEASE`] and, once the jobs are done, kept until the day
    /// is over. Returns whether this worker ran them.
    fn daily_once(&self, state: &AppState, store: &mut dyn Store, cache: &mut dyn Store, today: NaiveDate) -> Result<bool> {
        let name = format!("daily:{today}");
        let now = Utc::now();
        if !store.try_lease(&name, &self.holder, now, now + DAILY_LEASE)? {
            tracing::debug!(lease = %name, "another worker has the daily jobs");
            return Ok(false);
        }
        let result = self.daily(state, store, cache);
        match &result {
            Ok(()) => {
                let tomorrow = (today + chrono::Days::new(1)).and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
                store.try_lease(&name, &self.holder, Utc::now(), tomorrow)?;
            }
            Err(_) => store.release_lease(&name, &self.holder)?,
        }
        result.map(|()| true)
    }

    fn daily(&self, state: &AppState, store: &mut dyn Store, cache: &mut dyn Store) -> Result<()> {
        if let Some(opts) = &self.harvest {
            match harvest(&mut *store, opts, &mut |d| std::thread::sleep(d), &mut |_| {}) {
                Ok(summary) => tracing::info!("daily harvest: {} ({} pages)", summary.report, summary.pages),
                Err(e) => tracing::error!("daily harvest failed (the other jobs go on): {e}"),
            }
        }
        let Some(search) = state.search() else { anyhow::bail!("search is not open") };
        let day = store.latest_day()?.unwrap_or_else(|| Utc::now().date_naive());
        let report = paperboy_digest::daily(store, cache, &search, &self.mail.cfg, day, Utc::now())?;
        state.papers_changed();
        tracing::info!(indexed = report.indexed, embedded = report.embedded, composed = report.composed.composed, "daily jobs done");
        Ok(())
    }
}

fn deliver(store: &mut dyn Store, mailer: &dyn Mailer, lease: chrono::Duration) {
    match deliver_due_claiming(store, mailer, Utc::now(), DELIVERY_BATCH, lease) {
        Ok(r) if r.sent + r.failed + r.retrying > 0 => tracing::info!(sent = r.sent, failed = r.failed, retrying = r.retrying, "delivery"),
        Ok(_) => {}
        Err(e) => tracing::error!("delivery: {e}"),
    }
}
