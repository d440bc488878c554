//! The search service: keeps the full-text index and the vectors in step with the store and
//! answers searches in every mode, and similar-paper lookups.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, TryLockError};

use paperboy_core::text::stable_digest;
use paperboy_core::{Paper, PaperId};
use paperboy_embed::{paper_text, Embedder, Embedding};

use super::fulltext::{exact_title_key, FullTextIndex, TextHitRef};
use super::syntax;
use super::highlight::html_escape;
use super::hybrid;
use super::vectors::{ExactIndex, HnswIndex, SlotMeta, VectorIndex, VectorSet};
use super::{Explanation, Filters, Hit, Mode, SearchError, SearchQuery};
use crate::store::{EmbeddingCache, PaperStore};

/// How many candidates each side gives the fusion.
const CANDIDATES: usize = 100;
/// For a query written with syntax, the vector side looks this many times deeper, since papers
/// that break the query's requirements or exclusions are dropped from it.
const SYNTAX_DEPTH: usize = 4;
/// Papers read from the store per step while syncing.
const SYNC_CHUNK: usize = 5_000;
/// Texts embedded per step (and per cache write).
pub const EMBED_CHUNK: usize = 64;
/// From this many vectors on, an HNSW graph is built; below it the exact scan is fast enough.
pub const HNSW_THRESHOLD: usize = 20_000;

/// The cache key of a paper's text.
pub fn text_hash(p: &Paper) -> String {
    stable_digest(&paper_text(&p.title, &p.abstract_text))
}

/// Progress of a long step: (what, done, total).
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, u64);

/// Full-text index + vectors + the model that embeds queries.
pub struct SearchService {
    /// Searches read; [`SearchService::sync`] writes (briefly, after an ingest).
    fulltext: RwLock<FullTextIndex>,
    /// Swapped whole when newly embedded papers arrive ([`SearchService::refresh_vectors`]).
    vectors: RwLock<Arc<Vectors>>,
    embedder: Arc<dyn Embedder>,
    /// Recent query vectors: paging through results or repeating a search embeds nothing.
    /// Read by every search at once (a write only for a query not seen lately).
    query_vectors: RwLock<HashMap<String, Embedding>>,
    /// Where the HNSW graph is saved (beside the full-text index), if on disk.
    graph_dir: Option<std::path::PathBuf>,
    /// The tf-idf lexicon of recent papers, for "For you" (fitted when first needed, and again
    /// once a tenth more papers have vectors).
    lexical: RwLock<Option<Arc<crate::recommend::Lexical>>>,
    /// Held while the lexicon is fitted: one fit at a time (seconds at 30,000 papers), while
    /// every other caller goes on with the lexicon it has.
    lexical_fit: Mutex<()>,
}

/// The vector index with each slot's exact-title key (to keep other records of a paper out of
/// its similar papers).
struct Vectors {
    index: Arc<dyn VectorIndex>,
    titles: Vec<String>,
}

impl Vectors {
    /// `graph_dir`: where the HNSW graph is saved and reused from (none: built in memory).
    fn load(store: &dyn PaperStore, cache: &dyn EmbeddingCache, embedder: &dyn Embedder, graph_dir: Option<&Path>, progress: Progress) -> Result<Self, SearchError> {
        let (set, titles) = load_vectors(store, cache, embedder)?;
        let set = Arc::new(set);
        let index: Arc<dyn VectorIndex> = if set.len() >= HNSW_THRESHOLD {
            progress("building the vector index", 0, set.len() as u64);
            let start = std::time::Instant::now();
            let index = match graph_dir {
                Some(dir) => {
                    let (index, inserted) = HnswIndex::open_or_build(set.clone(), dir).map_err(|e| SearchError::Io(dir.display().to_string(), e))?;
                    tracing::info!(
                        "vector index: {} vectors, {inserted} inserted, the rest read from {} ({:.1} s)",
                        set.len(),
                        dir.display(),
                        start.elapsed().as_secs_f64()
                    );
                    index
                }
                None => HnswIndex::build(set).map_err(|e| SearchError::Io("the vector index".into(), e))?,
            };
            Arc::new(index)
        } else {
            Arc::new(ExactIndex::new(set))
        };
        Ok(Vectors { index, titles })
    }
}

/// Where a search service keeps its files: the full-text index and the saved vector graph,
/// both derived from the store and rebuilt from it when missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDirs {
    /// The tantivy index.
    pub fulltext: std::path::PathBuf,
    /// The HNSW graph (used once the corpus is large enough for one).
    pub hnsw: std::path::PathBuf,
}

impl IndexDirs {
    /// `fulltext/` and `hnsw/` under `dir`.
    pub fn under(dir: &Path) -> Self {
        IndexDirs { fulltext: dir.join("fulltext"), hnsw: dir.join("hnsw") }
    }
}

/// What opening does with papers that have no cached vector yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embed {
    /// Embed them before the service opens (semantic search covers every paper at once).
    Missing,
    /// Open with the cached vectors only (keyword search is ready at once); they are left out of
    /// vector search until [`SearchService::embed_new`].
    Later,
}

/// Query vectors kept; the cache is emptied when full (queries repeat in bursts).
const QUERY_CACHE: usize = 4_096;

impl SearchService {
    /// Opens (or creates) the full-text index in `dirs` (in memory when `None`) and catches it
    /// up with `store`; with [`Embed::Missing`], embeds what is not yet in `cache` (usually the
    /// same store); then loads the vectors (the graph saved in `dirs` is reused).
    pub fn open(
        store: &dyn PaperStore,
        cache: &mut dyn EmbeddingCache,
        dirs: Option<&IndexDirs>,
        embedder: Arc<dyn Embedder>,
        embed: Embed,
        progress: Progress,
    ) -> Result<Self, SearchError> {
        let mut fulltext = match dirs {
            Some(dirs) => FullTextIndex::open(&dirs.fulltext)?,
            None => FullTextIndex::in_memory()?,
        };
        sync_fulltext(store, &mut fulltext, progress)?;
        if embed == Embed::Missing {
            embed_missing(store, cache, embedder.as_ref(), progress)?;
        }
        let graph_dir = dirs.map(|d| d.hnsw.clone());
        let vectors = Vectors::load(store, cache, embedder.as_ref(), graph_dir.as_deref(), progress)?;
        Ok(SearchService {
            fulltext: RwLock::new(fulltext),
            vectors: RwLock::new(Arc::new(vectors)),
            embedder,
            query_vectors: RwLock::new(HashMap::new()),
            graph_dir,
            lexical: RwLock::new(None),
            lexical_fit: Mutex::new(()),
        })
    }

    /// Reloads the vectors from the cache (after papers were embedded in the background);
    /// searches running meanwhile finish on the old ones.
    pub fn refresh_vectors(&self, store: &dyn PaperStore, cache: &dyn EmbeddingCache, progress: Progress) -> Result<usize, SearchError> {
        let fresh = Vectors::load(store, cache, self.embedder.as_ref(), self.graph_dir.as_deref(), progress)?;
        let n = fresh.index.set().len();
        *self.vectors.write().expect("vectors lock") = Arc::new(fresh);
        Ok(n)
    }

    /// Indexes what changed in `store` since the last commit (after an ingest or harvest while
    /// serving); returns how many papers were indexed.
    pub fn sync(&self, store: &dyn PaperStore) -> Result<u64, SearchError> {
        let mut index = self.fulltext.write().expect("index lock");
        sync_fulltext(store, &mut index, &mut |_, _, _| {})
    }

    /// Keeps this service in step with the store, which other processes may write: when the
    /// store has changes the full-text index has not seen, indexes them, embeds those without a
    /// cached vector and reloads the vectors. Cheap when nothing changed (one look at the
    /// store's change sequence, no lock that a search waits on). Returns (indexed, embedded).
    /// A For-you lexicon this service has fitted is refitted here once the new papers put it
    /// out of date, so that a reader's page seldom has to wait for the fit.
    pub fn catch_up(&self, store: &dyn PaperStore, cache: &mut dyn EmbeddingCache) -> Result<(u64, u64), SearchError> {
        let seen = self.fulltext.read().expect("index lock").indexed_seq()?;
        if store.last_seq()? <= seen {
            return Ok((0, 0));
        }
        let indexed = self.sync(store)?;
        let embedded = embed_missing(store, cache, self.embedder.as_ref(), &mut |_, _, _| {})?;
        // Another process may have embedded the new papers already: reload either way.
        self.refresh_vectors(store, &*cache, &mut |_, _, _| {})?;
        // A failed refit leaves the lexicon there is; a reader's page tries again.
        if self.current_lexical().is_some() {
            if let Err(e) = self.lexical(store) {
                tracing::warn!("refitting the For-you lexicon: {e}");
            }
        }
        Ok((indexed, embedded))
    }

    /// Follows the store until `stop` is set: every `every`, [`SearchService::catch_up`], so
    /// papers that any process writes reach this service's search within about `every`.
    /// `changed(indexed, embedded)` hears of each change (callers drop what they derived from
    /// the old papers); a failed look is logged and tried again at the next one.
    pub fn follow_until_stopped(
        &self,
        store: &dyn PaperStore,
        cache: &mut dyn EmbeddingCache,
        every: std::time::Duration,
        stop: &std::sync::atomic::AtomicBool,
        changed: &mut dyn FnMut(u64, u64),
    ) {
        let step = every.min(std::time::Duration::from_millis(100));
        loop {
            let started = std::time::Instant::now();
            while started.elapsed() < every {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(step);
            }
            match self.catch_up(store, cache) {
                Ok((0, _)) => {}
                Ok((indexed, embedded)) => changed(indexed, embedded),
                Err(e) => tracing::warn!("following the store: {e}"),
            }
        }
    }

    /// Embeds the papers of `store` without a cached vector (with this service's model) and,
    /// if there were any, reloads the vectors; returns how many were embedded.
    pub fn embed_new(&self, store: &dyn PaperStore, cache: &mut dyn EmbeddingCache, progress: Progress) -> Result<u64, SearchError> {
        let n = embed_missing(store, cache, self.embedder.as_ref(), progress)?;
        if n > 0 {
            self.refresh_vectors(store, &*cache, &mut |_, _, _| {})?;
        }
        Ok(n)
    }

    fn current_vectors(&self) -> Arc<Vectors> {
        self.vectors.read().expect("vectors lock").clone()
    }

    /// Runs `f` over the paper vectors searched now (unit length, one slot per paper), for the
    /// models that learn from them.
    pub fn with_vectors<T>(&self, f: impl FnOnce(&VectorSet) -> T) -> T {
        let vectors = self.current_vectors();
        f(vectors.index.set())
    }

    /// The tf-idf lexicon of the most recent papers with vectors (at most
    /// [`crate::recommend::LEXICAL_PAPERS`]), fitted now if there is none or it is out of date.
    /// One caller fits at a time: while it does, the others use the lexicon there is (out of
    /// date by at most the papers since), or wait for the fit when there is none yet. Papers
    /// that arrived since the fit get rows in it here (see [`SearchService::extend_lexical`]).
    pub fn lexical(&self, store: &dyn PaperStore) -> Result<Arc<crate::recommend::Lexical>, SearchError> {
        let vectors = self.current_vectors();
        let set = vectors.index.set();
        let fresh = |l: &Arc<crate::recommend::Lexical>| l.in_date(set.len());
        if let Some(l) = self.current_lexical().filter(fresh) {
            self.extend_lexical(&l, set, store)?;
            return Ok(l);
        }
        let _fitting = match self.lexical_fit.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::WouldBlock) => match self.current_lexical() {
                Some(stale) => {
                    self.extend_lexical(&stale, set, store)?;
                    return Ok(stale);
                }
                None => self.lexical_fit.lock().unwrap_or_else(|e| e.into_inner()),
            },
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
        };
        // Another caller may have fitted it while this one waited.
        if let Some(l) = self.current_lexical().filter(fresh) {
            return Ok(l);
        }
        let mut recent: Vec<usize> = (0..set.len()).filter(|&s| set.meta[s].day.is_some()).collect();
        recent.sort_by(|a, b| set.meta[*b].day.cmp(&set.meta[*a].day).then(b.cmp(a)));
        recent.truncate(crate::recommend::LEXICAL_PAPERS);
        let ids: Vec<PaperId> = recent.iter().map(|&s| set.meta[s].id.clone()).collect();
        let mut papers = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1_000) {
            papers.extend(store.papers(chunk)?);
        }
        let mut fitted = crate::recommend::Lexical::fit(&papers, set.len());
        fitted.since = recent.last().and_then(|&s| set.meta[s].day);
        let fitted = Arc::new(fitted);
        *self.lexical.write().expect("lexical lock") = Some(fitted.clone());
        Ok(fitted)
    }

    /// Gives `lexical` the rows of the papers in `set` that arrived after its fit (those of a
    /// day no older than its oldest paper's, as the fit would have taken them), so that a
    /// reader's ranking of the newest papers uses both halves of the model between fits: the
    /// lexicon is refitted only once a tenth more papers have come. Cheap when `set` has not
    /// grown since the last call; one caller at a time, the others wait for it.
    fn extend_lexical(&self, lexical: &crate::recommend::Lexical, set: &super::vectors::VectorSet, store: &dyn PaperStore) -> Result<(), SearchError> {
        let mut covered = lexical.covered.lock().unwrap_or_else(|e| e.into_inner());
        if *covered == set.len() {
            return Ok(());
        }
        if let Some(since) = lexical.since {
            let missing: Vec<PaperId> =
                (0..set.len()).filter(|&s| set.meta[s].day.is_some_and(|d| d >= since)).map(|s| &set.meta[s].id).filter(|id| !lexical.has_row(id)).cloned().collect();
            for chunk in missing.chunks(1_000) {
                lexical.add_later(&store.papers(chunk)?);
            }
        }
        *covered = set.len();
        Ok(())
    }

    /// Has the lexicon fitted ahead of the readers who will need it (after start-up, after a
    /// first rating), logging how long it took; a failure is logged too, and a reader's page
    /// tries again.
    pub fn prepare_lexical(&self, store: &dyn PaperStore) {
        let started = std::time::Instant::now();
        match self.lexical(store) {
            Ok(lexical) => tracing::info!(papers = lexical.papers(), secs = started.elapsed().as_secs_f32(), "the For-you lexicon is fitted"),
            Err(e) => tracing::warn!("fitting the For-you lexicon: {e}"),
        }
    }

    /// The lexicon fitted last, if any.
    pub fn current_lexical(&self) -> Option<Arc<crate::recommend::Lexical>> {
        self.lexical.read().expect("lexical lock").clone()
    }

    /// A text's vector (cached like a query's).
    pub fn text_vector(&self, text: &str) -> Result<Vec<f32>, SearchError> {
        Ok(self.query_vector(text)?.into_vec())
    }

    /// The embedder queries are embedded with.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Papers in the full-text index.
    pub fn indexed(&self) -> u64 {
        self.fulltext.read().expect("index lock").len()
    }

    /// Papers with vectors.
    pub fn embedded(&self) -> usize {
        self.current_vectors().index.set().len()
    }

    /// Ranks without snippets or matched terms (for digests: cheaper, same order as
    /// [`SearchService::search`]).
    pub fn rank(&self, query: &SearchQuery, mode: Mode, filters: &Filters, limit: usize) -> Result<Vec<Hit>, SearchError> {
        let depth = limit.max(CANDIDATES);
        Ok(match mode {
            Mode::Bm25 => self.bm25(query, filters, limit)?,
            Mode::Semantic => self.semantic(query, filters, limit)?,
            Mode::Hybrid => {
                // Both rankings at once: a query's latency is the slower of the two, not their sum.
                let (bm25, semantic) = rayon::join(|| self.bm25(query, filters, depth), || self.semantic(query, filters, depth));
                hybrid::fuse(&bm25?, &semantic?, CANDIDATES, limit)
            }
        })
    }

    /// Searches in `mode`; the result is at most `limit` hits, best first, with snippets.
    pub fn search(&self, store: &dyn PaperStore, query: &SearchQuery, mode: Mode, filters: &Filters, limit: usize) -> Result<Vec<Hit>, SearchError> {
        let mut hits = self.rank(query, mode, filters, limit)?;
        // Snippets and matched terms only for the hits shown, not for every candidate.
        if mode != Mode::Semantic {
            let mut refs: Vec<TextHitRef<'_>> = hits
                .iter_mut()
                .map(|h| TextHitRef { id: &h.id, snippet_html: &mut h.snippet_html, matched_terms: &mut h.explain.matched_terms })
                .collect();
            self.fulltext.read().expect("index lock").highlight(query.as_str(), &mut refs)?;
        }
        // Hits found by meaning alone get the start of their abstract as a snippet.
        for h in hits.iter_mut().filter(|h| h.snippet_html.is_empty()) {
            if let Some(p) = store.paper(&h.id)? {
                let start: String = p.abstract_text.chars().take(240).collect();
                h.snippet_html = html_escape(&start);
            }
        }
        Ok(hits)
    }

    fn bm25(&self, query: &SearchQuery, filters: &Filters, limit: usize) -> Result<Vec<Hit>, SearchError> {
        Ok(self
            .fulltext
            .read()
            .expect("index lock")
            .search(query.as_str(), filters, limit)?
            .into_iter()
            .enumerate()
            .map(|(rank, t)| Hit {
                id: t.id,
                score: t.score,
                snippet_html: t.snippet_html,
                explain: Explanation { bm25_rank: Some(rank + 1), vector_rank: None, matched_terms: t.matched_terms, exact: t.exact, author: t.author },
            })
            .collect())
    }

    /// By meaning: the query's words embedded ([`syntax::meaning_text`]). A query written with
    /// syntax keeps only the papers that hold what it requires and nothing it excludes, from a
    /// deeper list so that `limit` can still be reached.
    fn semantic(&self, query: &SearchQuery, filters: &Filters, limit: usize) -> Result<Vec<Hit>, SearchError> {
        let text = syntax::meaning_text(query.as_str());
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let q = self.query_vector(&text)?;
        let vectors = self.current_vectors();
        if !syntax::uses_query_syntax(query.as_str()) {
            return Ok(vector_hits(vectors.index.set(), vectors.index.search(q.as_slice(), limit, filters, &|_| true)));
        }
        let mut hits = vector_hits(vectors.index.set(), vectors.index.search(q.as_slice(), limit * SYNTAX_DEPTH, filters, &|_| true));
        let ids: Vec<PaperId> = hits.iter().map(|h| h.id.clone()).collect();
        let admitted = self.fulltext.read().expect("index lock").admitted(query.as_str(), &ids)?;
        hits.retain(|h| admitted.contains(&h.id));
        hits.truncate(limit);
        for (rank, h) in hits.iter_mut().enumerate() {
            h.explain.vector_rank = Some(rank + 1);
        }
        Ok(hits)
    }

    /// Forgets the cached query vectors (benchmarks measure the embedding too).
    pub fn clear_query_cache(&self) {
        self.query_vectors.write().expect("cache lock").clear();
    }

    fn query_vector(&self, query: &str) -> Result<Embedding, SearchError> {
        if let Some(v) = self.query_vectors.read().expect("cache lock").get(query) {
            return Ok(v.clone());
        }
        let v = self.embedder.embed(&[query])?.pop().expect("one vector");
        let mut cache = self.query_vectors.write().expect("cache lock");
        if cache.len() >= QUERY_CACHE {
            cache.clear();
        }
        cache.insert(query.to_owned(), v.clone());
        Ok(v)
    }

    /// The papers nearest in meaning to `id`: never the paper itself, nor another record of it
    /// (the same title from another source).
    pub fn similar(&self, id: &PaperId, limit: usize) -> Result<Vec<Hit>, SearchError> {
        let vectors = self.current_vectors();
        let set = vectors.index.set();
        let slot = set.slot_of(id).ok_or_else(|| SearchError::UnknownPaper(id.to_string()))?;
        let own_title = &vectors.titles[slot];
        let keep = |i: usize| i != slot && &vectors.titles[i] != own_title;
        Ok(vector_hits(set, vectors.index.search(&set.vector(slot), limit, &Filters::default(), &keep)))
    }
}

/// Turns (slot, similarity) pairs, best first, into hits ranked by vector.
fn vector_hits(set: &VectorSet, found: Vec<(usize, f32)>) -> Vec<Hit> {
    found
        .into_iter()
        .enumerate()
        .map(|(rank, (slot, score))| Hit {
            id: set.meta[slot].id.clone(),
            score,
            snippet_html: String::new(),
            explain: Explanation { vector_rank: Some(rank + 1), ..Default::default() },
        })
        .collect()
}

/// Brings the full-text index up to the store's latest change; commits record how far it got.
pub fn sync_fulltext(store: &dyn PaperStore, index: &mut FullTextIndex, progress: Progress) -> Result<u64, SearchError> {
    let mut seq = index.indexed_seq()?;
    let mut done = 0u64;
    loop {
        let batch = store.papers_changed_since(seq, SYNC_CHUNK)?;
        let Some(&(last, _)) = batch.last() else { break };
        for (_, p) in &batch {
            index.upsert(p)?;
        }
        index.commit(last)?;
        seq = last;
        done += batch.len() as u64;
        progress("indexing", done, 0);
    }
    Ok(done)
}

/// Rebuilds the full-text index from nothing.
pub fn rebuild_fulltext(store: &dyn PaperStore, index: &mut FullTextIndex, progress: Progress) -> Result<u64, SearchError> {
    index.clear()?;
    index.commit(0)?;
    sync_fulltext(store, index, progress)
}

/// Calls `each` with every paper of `store` (in change order), its text hash and its cached
/// vector under `model`, if any.
pub(crate) fn walk_with_cached_vectors(
    store: &dyn PaperStore,
    cache: &dyn EmbeddingCache,
    model: &str,
    mut each: impl FnMut(&Paper, String, Option<&Vec<f32>>),
) -> Result<(), SearchError> {
    let mut seq = 0;
    loop {
        let batch = store.papers_changed_since(seq, SYNC_CHUNK)?;
        let Some(&(last, _)) = batch.last() else { break };
        let hashes: Vec<String> = batch.iter().map(|(_, p)| text_hash(p)).collect();
        let cached = cache.cached_embeddings(model, &hashes)?;
        for ((_, p), h) in batch.iter().zip(hashes) {
            let v = cached.get(&h);
            each(p, h, v);
        }
        seq = last;
    }
    Ok(())
}

/// Embeds every paper whose text has no cached vector for this model; returns how many.
pub fn embed_missing(store: &dyn PaperStore, cache: &mut dyn EmbeddingCache, embedder: &dyn Embedder, progress: Progress) -> Result<u64, SearchError> {
    let model = embedder.model_id().to_string();
    let mut missing: Vec<(String, String)> = Vec::new();
    let mut queued = std::collections::HashSet::new();
    walk_with_cached_vectors(store, &*cache, &model, |p, h, v| {
        if v.is_none() && queued.insert(h.clone()) {
            missing.push((h, paper_text(&p.title, &p.abstract_text)));
        }
    })?;
    let total = missing.len() as u64;
    let mut done = 0u64;
    for chunk in missing.chunks(EMBED_CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
        let vectors = embed_papers(embedder, &texts)?;
        let rows: Vec<(String, Vec<f32>)> = chunk.iter().zip(vectors).map(|((h, _), v)| (h.clone(), v.into_vec())).collect();
        cache.cache_embeddings(&model, &rows)?;
        done += rows.len() as u64;
        progress("embedding", done, total);
    }
    Ok(total)
}

/// Embeds papers' texts (a batch of [`embed_missing`]'s) in the [`crate::background_pool`], so
/// that fresh queries' embeddings do not queue behind it.
pub fn embed_papers(embedder: &dyn Embedder, texts: &[&str]) -> Result<Vec<Embedding>, SearchError> {
    Ok(crate::background_pool().install(|| embedder.embed(texts))?)
}

/// Reads every paper's vector from the cache into a [`VectorSet`], with each slot's exact title.
pub fn load_vectors(store: &dyn PaperStore, cache: &dyn EmbeddingCache, embedder: &dyn Embedder) -> Result<(VectorSet, Vec<String>), SearchError> {
    let mut set = VectorSet::new(embedder.dim());
    let mut titles = Vec::new();
    walk_with_cached_vectors(store, cache, &embedder.model_id().to_string(), |p, hash, v| {
        if let Some(v) = v.filter(|v| v.len() == set.dim) {
            // The slot's key: its paper and text (so its vector), for reusing a saved graph.
            let key = u64::from_str_radix(&stable_digest(&format!("{}\n{hash}", p.id)), 16).unwrap_or_default();
            set.push_keyed(SlotMeta { id: p.id.clone(), day: p.day(), categories: p.categories.clone() }, v, key);
            titles.push(exact_title_key(&p.title));
        }
    })?;
    Ok((set, titles))
}
