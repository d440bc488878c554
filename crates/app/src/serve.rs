//! `paperboy serve`: the web service. Pages answer at once; the search index opens in the
//! background (keyword search first, with the cached vectors), then papers without vectors are
//! embedded in the background with progress in the log, and semantic search picks them up.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use paperboy_embed::{Embedder, MiniLm};
use paperboy_engine::search::SearchService;
use paperboy_engine::PaperStore;
use paperboy_web::{AppState, RateLimits, WebConfig};

use chrono::{NaiveDate, Timelike, Utc};
use paperboy_digest::{deliver_due, Mailer};
use paperboy_engine::harvest::{harvest, HarvestOptions};
use paperboy_engine::SqliteStore;

use crate::commands::{harvest_options, Ctx};
use crate::config::Config;
use crate::demo;
use crate::digest::{Mail, DELIVERY_BATCH};

/// Store connections for requests (reads run in parallel; SQLite serialises writes).
const CONNECTIONS: usize = 4;
/// Default listen address: this machine only.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How often the scheduler looks at the clock and the outbox.
const TICK: std::time::Duration = std::time::Duration::from_secs(30);

pub fn serve(ctx: &Ctx, config: &Config, mut mail: Mail, listen: Option<String>, base_url: Option<String>, no_demo: bool, search_rate: Option<u32>) -> Result<()> {
    let cfg = &config.serve;
    let listen = listen.or_else(|| cfg.listen.clone()).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let mut store = ctx.open_store()?;
    if store.stats()?.papers == 0 && !no_demo {
        tracing::info!("the store is empty: loading the demo corpus");
        for r in demo::load(&mut store)? {
            tracing::info!("{r}");
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(&listen))
        .with_context(|| format!("cannot listen on {listen} (in use? try --listen 127.0.0.1:8081)"))?;
    let local = listener.local_addr()?;
    let base_url = base_url
        .or_else(|| cfg.base_url.clone())
        .or_else(|| config.mail.base_url.clone())
        .unwrap_or_else(|| format!("http://{local}"));
    mail.cfg.base_url = base_url.trim_end_matches('/').to_owned();
    let jobs = DailyJobs {
        mail,
        send_hour: config.mail.send_hour.unwrap_or(6).min(23),
        harvest: config.mail.harvest.unwrap_or(false).then(|| harvest_options(config, None, None, None)),
        db: ctx.db_path(),
    };
    let mut config = WebConfig::new(base_url);
    config.secret = load_secret(&ctx.data_dir.join("secret"))?;
    let defaults = RateLimits::default();
    config.rate_limits = RateLimits {
        search_per_minute: search_rate.or(cfg.search_per_minute).unwrap_or(defaults.search_per_minute),
        subscribe_per_hour: cfg.subscribe_per_hour.unwrap_or(defaults.subscribe_per_hour),
    };
    let stores = (0..CONNECTIONS).map(|_| ctx.open_store()).collect::<Result<Vec<_>>>()?;
    let state = AppState::new(stores, None, config);
    let background = {
        let state = state.clone();
        let data_dir = ctx.data_dir.clone();
        std::thread::Builder::new().name("search-setup".into()).spawn(move || {
            if let Err(e) = open_search(&state, &data_dir) {
                tracing::error!("search is unavailable: {e:#}");
            }
        })?
    };
    {
        let state = state.clone();
        std::thread::Builder::new().name("scheduler".into()).spawn(move || jobs.run(&state))?;
    }
    eprintln!("paperboy is serving http://{local}/ (data in {}); Ctrl-C stops it", ctx.data_dir.display());
    runtime.block_on(paperboy_web::serve(listener, state)).context("serving")?;
    drop(background);
    Ok(())
}

/// Opens the search service (without embedding), puts it in place, then embeds what has no
/// vector yet and refreshes the vectors.
fn open_search(state: &AppState, data_dir: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let model: Arc<dyn Embedder> = Arc::new(MiniLm::load().context("loading the embedding model")?);
    let db = data_dir.join("paperboy.db");
    let store = paperboy_engine::SqliteStore::open(&db)?;
    let mut cache = paperboy_engine::SqliteStore::open(&db)?;
    let index_dir = data_dir.join("index").join("fulltext");
    let service = SearchService::open_with(&store, &mut cache, Some(&index_dir), model.clone(), false, &mut |what, done, total| {
        tracing::debug!(what, done, total, "opening search");
    })?;
    let service = Arc::new(service);
    tracing::info!(indexed = service.indexed(), embedded = service.embedded(), secs = started.elapsed().as_secs_f32(), "search is ready");
    state.set_search(service.clone());
    let mut last_log = std::time::Instant::now();
    let n = service.embed_new(&store, &mut cache, &mut |_, done, total| {
        if last_log.elapsed().as_secs() >= 10 || done == total {
            tracing::info!("embedding new papers in the background: {done}/{total}");
            last_log = std::time::Instant::now();
        }
    })?;
    if n > 0 {
        tracing::info!(embedded = n, vectors = service.embedded(), "semantic search now covers every paper");
    }
    Ok(())
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
/// delivery, each logged with its counts; and a delivery pass every [`TICK`].
struct DailyJobs {
    mail: Mail,
    send_hour: u32,
    harvest: Option<HarvestOptions>,
    db: std::path::PathBuf,
}

impl DailyJobs {
    fn run(self, state: &AppState) {
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
        let mut store = match SqliteStore::open(&self.db) {
            Ok(s) => s,
            Err(e) => return tracing::error!("the scheduler cannot open the store: {e}"),
        };
        let mut last_daily: Option<NaiveDate> = None;
        loop {
            let now = Utc::now();
            // Due once a day from `send_hour` on (again after a restart: digests already
            // composed for the day are skipped), once search is open.
            if now.hour() >= self.send_hour && last_daily != Some(now.date_naive()) && state.search().is_some() {
                last_daily = Some(now.date_naive());
                if let Err(e) = self.daily(state, &mut store) {
                    tracing::error!("daily jobs stopped: {e:#}");
                }
            }
            if let Some(m) = &mailer {
                deliver(&mut store, m);
            }
            std::thread::sleep(TICK);
        }
    }

    fn daily(&self, state: &AppState, store: &mut SqliteStore) -> Result<()> {
        if let Some(opts) = &self.harvest {
            match harvest(store, opts, &mut |d| std::thread::sleep(d), &mut |_| {}) {
                Ok(summary) => tracing::info!("daily harvest: {} ({} pages)", summary.report, summary.pages),
                Err(e) => tracing::error!("daily harvest failed (the other jobs go on): {e}"),
            }
        }
        let Some(search) = state.search() else { anyhow::bail!("search is not open") };
        let mut cache = SqliteStore::open(&self.db)?;
        let day = store.latest_day()?.unwrap_or_else(|| Utc::now().date_naive());
        let report = paperboy_digest::daily(store, &mut cache, &search, &self.mail.cfg, day, Utc::now())?;
        state.papers_changed();
        tracing::info!(indexed = report.indexed, embedded = report.embedded, composed = report.composed.composed, "daily jobs done");
        Ok(())
    }
}

fn deliver(store: &mut SqliteStore, mailer: &dyn Mailer) {
    match deliver_due(store, mailer, Utc::now(), DELIVERY_BATCH) {
        Ok(r) if r.sent + r.failed + r.retrying > 0 => tracing::info!(sent = r.sent, failed = r.failed, retrying = r.retrying, "delivery"),
        Ok(_) => {}
        Err(e) => tracing::error!("delivery: {e}"),
    }
}
