//! What every request shares: a few store connections, the search service, the configuration,
//! the rate limiter and a cache of trending rankings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::NaiveDate;
use paperboy_engine::search::{Hit, Mode, SearchQuery, SearchService};
use paperboy_engine::trending::{self, Trending, Window};
use paperboy_core::{Paper, PaperId};
use paperboy_engine::{Store, StoreError};

use crate::error::WebError;
use crate::limits::{Limiter, RateLimits};

/// Papers kept decoded for the pages and the API.
const PAPER_CACHE: usize = 20_000;

/// How the web layer is set up.
#[derive(Clone)]
pub struct WebConfig {
    /// The public address of this instance, without a trailing slash (feeds and emails need
    /// absolute links), e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// Per-client request rates.
    pub rate_limits: RateLimits,
    /// Key of the CSRF tokens (kept in the data directory so tokens survive a restart).
    pub secret: [u8; 32],
    /// The arXiv API (`base_url`, user agent, retries) that library imports may fetch papers
    /// this instance lacks from; `None` keeps imports offline.
    pub arxiv_api: Option<paperboy_engine::harvest::HarvestOptions>,
    /// The reverse proxies whose `Forwarded`/`X-Forwarded-For` name the client (rate limits, logs).
    pub trusted_proxies: crate::proxy::TrustedProxies,
    /// Searches waiting or running at once past which search answers 503 at once (with
    /// `Retry-After`) rather than queueing without bound.
    pub search_queue: usize,
    /// Whether alerts may name webhooks on loopback and private addresses.
    pub allow_private_webhooks: bool,
}

/// The default of [`WebConfig::search_queue`]: with passes of up to 32 queries (~10 ms each
/// here), the last of 64 waits about two passes.
pub const SEARCH_QUEUE: usize = 64;

impl WebConfig {
    /// A configuration with a fresh random secret and the default rate limits.
    pub fn new(base_url: impl Into<String>) -> Self {
        WebConfig { base_url: base_url.into().trim_end_matches('/').to_owned(), rate_limits: RateLimits::default(), secret: Self::random_secret(), arxiv_api: None, trusted_proxies: Default::default(), search_queue: SEARCH_QUEUE, allow_private_webhooks: false }
    }

    /// A fresh random CSRF key.
    pub fn random_secret() -> [u8; 32] {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system's random source works");
        secret
    }
}

/// One store connection of the pool, held until dropped.
pub struct StoreGuard<'a>(MutexGuard<'a, Box<dyn Store>>);

impl Deref for StoreGuard<'_> {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        &**self.0
    }
}

impl DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut (dyn Store + 'static) {
        &mut **self.0
    }
}

/// An admitted search ([`AppState::admit_search`]); dropping it lets the next one in.
pub struct SearchSlot(Arc<AtomicUsize>);

impl Drop for SearchSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// A trending ranking, shared by the requests that show it.
type Ranking = Arc<Vec<Trending>>;
/// Papers per primary category, most first.
type CategoryCounts = Arc<Vec<(String, u64)>>;

struct Inner {
    pool: Vec<Mutex<Box<dyn Store>>>,
    next: AtomicUsize,
    search: RwLock<Option<Arc<SearchService>>>,
    config: WebConfig,
    limiter: Limiter,
    trending: Mutex<HashMap<(Window, NaiveDate), Ranking>>,
    /// Papers per primary category, for the search form (dropped when papers change).
    categories: Mutex<Option<CategoryCounts>>,
    /// Recently shown papers (decoded once; dropped when papers change).
    papers: Mutex<HashMap<PaperId, Arc<Paper>>>,
    /// Searches admitted and not yet answered (see [`WebConfig::search_queue`]).
    searches: Arc<AtomicUsize>,
    /// Synchronous work running at once: about one per core, taken first come, first served;
    /// more only adds thread switching and stretches the slowest requests.
    workers: tokio::sync::Semaphore,
    /// A background fit of the For-you lexicon is under way (see [`AppState::rated`]).
    fitting: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// State over these store connections (all to one database; one is enough, more let
    /// requests read in parallel) and a search service, if one is ready.
    pub fn new(stores: Vec<Box<dyn Store>>, search: Option<Arc<SearchService>>, config: WebConfig) -> Self {
        assert!(!stores.is_empty(), "at least one store connection");
        let limiter = Limiter::new(&config.rate_limits);
        AppState(Arc::new(Inner {
            pool: stores.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
            search: RwLock::new(search),
            config,
            limiter,
            trending: Mutex::new(HashMap::new()),
            papers: Mutex::new(HashMap::new()),
            categories: Mutex::new(None),
            searches: Arc::new(AtomicUsize::new(0)),
            workers: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()) + 1),
            fitting: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// A store connection (round robin; waits if that one is busy).
    pub fn store(&self) -> StoreGuard<'_> {
        let i = self.0.next.fetch_add(1, Ordering::Relaxed) % self.0.pool.len();
        // Take a free connection if there is one, else wait for the turn's.
        for j in 0..self.0.pool.len() {
            if let Ok(guard) = self.0.pool[(i + j) % self.0.pool.len()].try_lock() {
                return StoreGuard(guard);
            }
        }
        StoreGuard(self.0.pool[i].lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The search service, once it is open.
    pub fn search(&self) -> Option<Arc<SearchService>> {
        self.0.search.read().expect("search lock").clone()
    }

    /// The search service, or a 503 while it is still opening.
    pub fn search_ready(&self) -> Result<Arc<SearchService>, WebError> {
        self.search().ok_or_else(|| WebError::Unavailable("search is starting up; try again in a few seconds".into()))
    }

    /// Admits a search (503 at once past [`WebConfig::search_queue`] in flight) and, for the
    /// modes that search by meaning, has its query embedded: on a blocking thread that holds no
    /// worker, so queries arriving together wait for the model together and share its next
    /// pass (`paperboy_embed::Batching`). Hold the slot until the answer is made.
    pub async fn admit_search(&self, query: &SearchQuery, mode: Mode) -> Result<SearchSlot, WebError> {
        let limit = self.0.config.search_queue;
        if self.0.searches.fetch_add(1, Ordering::AcqRel) >= limit {
            self.0.searches.fetch_sub(1, Ordering::AcqRel);
            return Err(WebError::Busy(format!("{limit} searches are running or waiting already; try again in a moment")));
        }
        let slot = SearchSlot(self.0.searches.clone());
        if mode != Mode::Bm25 {
            let service = self.search_ready()?;
            let text = query.as_str().to_owned();
            match tokio::task::spawn_blocking(move || service.text_vector(&text)).await {
                Ok(r) => drop(r?),
                Err(e) => return Err(WebError::Internal(format!("embedding the query failed: {e}"))),
            }
        }
        Ok(slot)
    }

    /// Searches admitted and not yet answered, and how many may be.
    pub fn search_queue(&self) -> (usize, usize) {
        (self.0.searches.load(Ordering::Relaxed), self.0.config.search_queue)
    }

    /// The papers of `hits`, in order, each with its hit. A hit whose paper the store no longer
    /// has is left out; a store that fails is an error, never "no such paper".
    pub fn papers_of<'h>(&self, hits: impl IntoIterator<Item = &'h Hit>) -> Result<Vec<(Arc<Paper>, &'h Hit)>, StoreError> {
        let mut out = Vec::new();
        for hit in hits {
            if let Some(paper) = self.paper(&hit.id)? {
                out.push((paper, hit));
            }
        }
        Ok(out)
    }

    /// Puts a (new) search service in place.
    pub fn set_search(&self, service: Arc<SearchService>) {
        *self.0.search.write().expect("search lock") = Some(service);
    }

    /// The configuration.
    pub fn config(&self) -> &WebConfig {
        &self.0.config
    }

    pub(crate) fn limiter(&self) -> &Limiter {
        &self.0.limiter
    }

    /// The trending ranking of `window` ending on `end` (cached until [`AppState::papers_changed`]).
    pub fn trending(&self, window: Window, end: NaiveDate) -> Result<Ranking, StoreError> {
        if let Some(r) = self.0.trending.lock().expect("trending lock").get(&(window, end)) {
            return Ok(r.clone());
        }
        let ranked = Arc::new(trending::ranking(&*self.store(), window, end)?);
        let mut cache = self.0.trending.lock().expect("trending lock");
        if cache.len() > 256 {
            cache.clear();
        }
        cache.insert((window, end), ranked.clone());
        Ok(ranked)
    }

    /// Forgets cached rankings and papers; call after papers were added or changed.
    pub fn papers_changed(&self) {
        self.0.trending.lock().expect("trending lock").clear();
        self.0.papers.lock().expect("paper cache lock").clear();
        *self.0.categories.lock().expect("category cache lock") = None;
    }

    /// Forgets cached rankings; call after local votes changed (they count in trending).
    pub fn votes_changed(&self) {
        self.0.trending.lock().expect("trending lock").clear();
    }

    /// A reader rated a paper (upvoted, saved) or followed an author: when the For-you lexicon
    /// has not been fitted yet (a process that started without readers fits it only when
    /// first needed), it is fitted now on a thread of its own, so that the reader's For-you
    /// page, a click away, does not wait for it (seconds at 30,000 papers). One such fit at a
    /// time.
    pub fn rated(&self) {
        let Some(search) = self.search() else { return };
        if search.current_lexical().is_some() || self.0.fitting.swap(true, Ordering::AcqRel) {
            return;
        }
        let state = self.clone();
        let spawned = std::thread::Builder::new().name("for-you-lexicon".into()).spawn(move || {
            search.prepare_lexical(&*state.store());
            state.0.fitting.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            self.0.fitting.store(false, Ordering::Release);
        }
    }

    /// Papers per primary category, most first (counted once until papers change, not at
    /// every search page).
    pub fn category_counts(&self) -> Result<CategoryCounts, StoreError> {
        if let Some(c) = &*self.0.categories.lock().expect("category cache lock") {
            return Ok(c.clone());
        }
        let counts = Arc::new(self.store().category_counts()?);
        *self.0.categories.lock().expect("category cache lock") = Some(counts.clone());
        Ok(counts)
    }

    /// A paper by id, from the cache of recently shown papers or the store.
    pub fn paper(&self, id: &PaperId) -> Result<Option<Arc<Paper>>, StoreError> {
        if let Some(p) = self.0.papers.lock().expect("paper cache lock").get(id) {
            return Ok(Some(p.clone()));
        }
        let Some(paper) = self.store().paper(id)? else { return Ok(None) };
        let paper = Arc::new(paper);
        let mut cache = self.0.papers.lock().expect("paper cache lock");
        if cache.len() >= PAPER_CACHE {
            cache.clear();
        }
        cache.insert(id.clone(), paper.clone());
        Ok(Some(paper))
    }

    /// Runs `f` on a blocking thread (store and search work is synchronous).
    pub async fn blocking<T, E>(&self, f: impl FnOnce(&AppState) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static + From<WebError>,
    {
        let state = self.clone();
        let _permit = self.0.workers.acquire().await.map_err(|_| WebError::Unavailable("shutting down".into()))?;
        match tokio::task::spawn_blocking(move || f(&state)).await {
            Ok(r) => r,
            Err(e) => Err(WebError::Internal(format!("a request task failed: {e}")).into()),
        }
    }
}
