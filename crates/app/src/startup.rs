//! The composition root of `serve`: [`Application::build`] turns [`Settings`] into a running
//! service (store, demo corpus, listener, web state with its secret and rate limits, search
//! opening in the background, the jobs), and [`Application::run_until_stopped`] serves until
//! Ctrl-C or SIGTERM. `main` runs exactly this, and so do the tests (`tests/http/`), on port 0
//! and a temporary data directory.
//!
//! Pages answer at once; the search index opens in the background (keyword search first, with
//! the cached vectors), then papers without vectors are embedded with progress in the log, and
//! from then on search follows the store's change sequence, which other processes may write.
//!
//! Roles: a `web` process answers HTTP and keeps its own search index in step with the database;
//! a `worker` runs the daily jobs and delivers email (see `jobs.rs`); `all` (the default) is
//! both.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use paperboy_embed::{Embedder, MiniLm};
use paperboy_engine::search::{Embed, SearchService};
use paperboy_engine::Store;
use paperboy_web::{AppState, WebConfig};

use crate::jobs::{Connections, Jobs};
use crate::settings::Settings;

/// Store connections for requests (reads run in parallel; SQLite serialises writes).
const CONNECTIONS: usize = 4;
/// How often a process with a search index looks for papers other processes wrote.
pub const FOLLOW: Duration = Duration::from_secs(2);

/// A built service, ready to run.
pub struct Application {
    settings: Settings,
    runtime: tokio::runtime::Runtime,
    listener: Option<tokio::net::TcpListener>,
    address: Option<SocketAddr>,
    state: AppState,
    /// Set when the service stops; the background threads end at their next look.
    stop: Arc<AtomicBool>,
}

impl Application {
    /// Opens the store (loading the demo corpus into an empty one unless told not to), binds
    /// the listener (web roles), builds the web state (the CSRF secret from the data directory,
    /// the rate limits, the base URL: the configured one, else the bound address), and starts
    /// the background threads: search, and the jobs for worker roles.
    pub fn build(mut settings: Settings) -> Result<Application> {
        let open = |s: &Settings| s.open_store();
        let mut store = open(&settings)?;
        tracing::info!(database = %settings.database.display(), backend = store.backend(), role = ?settings.serve.role, "store open");
        if store.stats()?.papers == 0 && settings.serve.demo {
            tracing::info!("the store is empty: loading the demo corpus");
            for r in paperboy_engine::demo::load(&mut *store)? {
                tracing::info!("{r}");
            }
        }
        drop(store);
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
        let listener = match settings.serve.role.serves_http() {
            true => {
                let listen = &settings.serve.listen;
                Some(runtime.block_on(tokio::net::TcpListener::bind(listen)).with_context(|| format!("cannot listen on {listen} (in use? try --listen 127.0.0.1:8081)"))?)
            }
            false => None,
        };
        let address = listener.as_ref().map(|l| l.local_addr()).transpose()?;
        if let (false, Some(address)) = (settings.mail.base_url_given, address) {
            // Links in feeds and emails must reach this server from elsewhere: on an address
            // others can reach, the bound address is no guess to make for them.
            anyhow::ensure!(
                address.ip().is_loopback(),
                "serve listens on {address}, which other machines can reach, but has no base URL for the links in feeds and emails: \
                 pass --base-url https://… (or set PAPERBOY_BASE_URL, or base_url in the config file's [serve])"
            );
            settings.mail.cfg.base_url = format!("http://{address}");
        }
        let mut config = WebConfig::new(settings.mail.cfg.base_url.clone());
        config.secret = load_secret(&settings.data.secret())?;
        config.rate_limits = settings.serve.rate_limits;
        config.arxiv_api = settings.arxiv_api.clone();
        config.trusted_proxies = settings.serve.trusted_proxies.clone();
        config.search_queue = settings.serve.search_queue;
        config.allow_private_webhooks = settings.allow_private_webhooks;
        let connections = if settings.serve.role.serves_http() { CONNECTIONS } else { 1 };
        let stores = (0..connections).map(|_| open(&settings)).collect::<Result<Vec<_>>>()?;
        let state = AppState::new(stores, None, config);
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (state, stop, dirs) = (state.clone(), stop.clone(), settings.data.indexes());
            let follow = (open(&settings)?, open(&settings)?);
            std::thread::Builder::new().name("search".into()).spawn(move || {
                if let Err(e) = open_search(&state, &dirs, follow, &stop) {
                    tracing::error!("search is unavailable: {e:#}");
                }
            })?;
        }
        if settings.serve.role.runs_jobs() {
            let (state, stop, jobs) = (state.clone(), stop.clone(), Jobs::new(settings.clone()));
            let conns = Connections::open(|| open(&settings))?;
            std::thread::Builder::new().name("jobs".into()).spawn(move || jobs.run_until_stopped(&state, conns, &stop))?;
        }
        Ok(Application { settings, runtime, listener, address, state, stop })
    }

    /// The bound address (none for a worker-only process).
    pub fn address(&self) -> Option<SocketAddr> {
        self.address
    }

    /// The web state (for tests that look inside).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub fn run_until_stopped(self) -> Result<()> {
        match self.address {
            Some(address) => eprintln!("paperboy is serving http://{address}/ (database {}); Ctrl-C stops it", self.settings.database.display()),
            None => eprintln!("paperboy is working (database {}); Ctrl-C stops it", self.settings.database.display()),
        }
        self.run_until(paperboy_web::shutdown_signal())
    }

    /// Serves until `shutdown` resolves, then stops the background threads.
    pub fn run_until(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
        let Application { runtime, listener, state, stop, .. } = self;
        let result = match listener {
            Some(listener) => runtime.block_on(paperboy_web::serve_until(listener, state, shutdown)).context("serving"),
            None => {
                runtime.block_on(shutdown);
                Ok(())
            }
        };
        stop.store(true, Ordering::Relaxed);
        result
    }
}

/// Opens the search service (without embedding), puts it in place, then embeds what has no
/// vector yet and refreshes the vectors; from then on follows the store's changes every
/// [`FOLLOW`] until `stop`.
fn open_search(state: &AppState, dirs: &paperboy_engine::search::IndexDirs, (store, mut cache): (Box<dyn Store>, Box<dyn Store>), stop: &AtomicBool) -> Result<()> {
    let started = std::time::Instant::now();
    // Queries arriving together share the model's passes (bulk embedding goes straight through).
    let model: Arc<dyn Embedder> = Arc::new(paperboy_embed::Batching::new(Arc::new(MiniLm::load().context("loading the embedding model")?)));
    let service = SearchService::open(&*store, &mut *cache, Some(dirs), model, Embed::Later, &mut |what, done, total| {
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
    fit_for_you_lexicon(&service, &*store);
    service.follow_until_stopped(&*store, &mut *cache, FOLLOW, stop, &mut |indexed, embedded| {
        state.papers_changed();
        tracing::info!(indexed, embedded, "search caught up with the store");
    });
    Ok(())
}

/// Fits the For-you lexicon now that every paper has a vector, when the store has readers, so
/// that their first page or digest after a start does not wait for it (seconds at 30,000
/// papers). A failure is logged: a reader's page tries again.
fn fit_for_you_lexicon(service: &SearchService, store: &dyn Store) {
    match store.subscribers(1) {
        Ok(readers) if readers.is_empty() => {}
        Ok(_) => service.prepare_lexical(store),
        Err(e) => tracing::warn!("looking for readers before fitting the For-you lexicon: {e}"),
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
    secret = WebConfig::random_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(&secret)?;
    Ok(secret)
}
