//! Vector indexes over paper embeddings: an exact scan (the reference) and an approximate HNSW
//! index (usearch) that is tested against it.
//!
//! Both search a [`VectorSet`]: unit vectors in one flat f16 array (half the memory and half the
//! bytes to scan; scores move by ~1e-3 at most), with each slot's paper id, day and categories so
//! filters can be applied without the store.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use paperboy_core::{Category, PaperId};
use paperboy_embed::{dot_f16, dot_f16_pair};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::Filters;

/// What a slot holds besides its vector.
#[derive(Debug, Clone)]
pub struct SlotMeta {
    /// The paper.
    pub id: PaperId,
    /// Its day.
    pub day: Option<NaiveDate>,
    /// Its categories.
    pub categories: Vec<Category>,
}

impl SlotMeta {
    fn passes(&self, f: &Filters) -> bool {
        f.since.is_none_or(|s| self.day.is_some_and(|d| d >= s))
            && f.until.is_none_or(|u| self.day.is_some_and(|d| d <= u))
            && f.category.as_ref().is_none_or(|c| self.categories.contains(c))
    }
}

/// Unit vectors, one per slot.
#[derive(Debug, Default)]
pub struct VectorSet {
    /// Vector length.
    pub dim: usize,
    /// `dim` values per slot.
    data: Vec<half::f16>,
    /// Per slot.
    pub meta: Vec<SlotMeta>,
    /// Slot of each paper.
    slots: HashMap<PaperId, usize>,
    /// A digest of each slot's paper and text, so a saved graph can tell which slots it holds.
    keys: Vec<u64>,
}

impl VectorSet {
    /// An empty set of `dim`-long vectors.
    pub fn new(dim: usize) -> Self {
        VectorSet { dim, data: Vec::new(), meta: Vec::new(), slots: HashMap::new(), keys: Vec::new() }
    }

    /// Appends a vector (must be `dim` long and unit length).
    pub fn push(&mut self, meta: SlotMeta, v: &[f32]) {
        self.push_keyed(meta, v, 0);
    }

    /// Appends a vector with a key that changes whenever the paper's text (so its vector) does:
    /// a saved HNSW graph is reused only for slots whose keys are unchanged.
    pub fn push_keyed(&mut self, meta: SlotMeta, v: &[f32], key: u64) {
        assert_eq!(v.len(), self.dim, "vector dimension");
        self.data.extend(v.iter().map(|&x| half::f16::from_f32(x)));
        self.slots.insert(meta.id.clone(), self.meta.len());
        self.meta.push(meta);
        self.keys.push(key);
    }

    /// A digest of the first `n` slots' keys (hexadecimal).
    fn fingerprint(&self, n: usize) -> String {
        let h = self.keys[..n].iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &k| (h ^ k).wrapping_mul(0x100_0000_01b3).rotate_left(5));
        format!("{h:016x}")
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// The vector in `slot`, as stored.
    pub fn stored(&self, slot: usize) -> &[half::f16] {
        &self.data[slot * self.dim..(slot + 1) * self.dim]
    }

    /// The vector in `slot`, in f32.
    pub fn vector(&self, slot: usize) -> Vec<f32> {
        self.stored(slot).iter().map(|x| x.to_f32()).collect()
    }

    /// The slot of a paper.
    pub fn slot_of(&self, id: &PaperId) -> Option<usize> {
        self.slots.get(id).copied()
    }
}

/// Nearest-neighbour search over a [`VectorSet`].
pub trait VectorIndex: Send + Sync {
    /// The `k` slots most similar to `query` that pass `filters` and `keep`, best first, with
    /// their cosine similarity.
    fn search(&self, query: &[f32], k: usize, filters: &Filters, keep: &dyn Fn(usize) -> bool) -> Vec<(usize, f32)>;
    /// The vectors searched.
    fn set(&self) -> &VectorSet;
}

/// Scans every vector: exact, and the reference for the approximate index.
pub struct ExactIndex {
    set: Arc<VectorSet>,
}

impl ExactIndex {
    /// Over `set`.
    pub fn new(set: Arc<VectorSet>) -> Self {
        ExactIndex { set }
    }
}

fn top_k(mut scored: Vec<(usize, f32)>, k: usize) -> Vec<(usize, f32)> {
    if scored.len() > k {
        scored.select_nth_unstable_by(k, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored
}

impl VectorIndex for ExactIndex {
    fn search(&self, query: &[f32], k: usize, filters: &Filters, keep: &dyn Fn(usize) -> bool) -> Vec<(usize, f32)> {
        let set = &self.set;
        let scored: Vec<(usize, f32)> = (0..set.len())
            .filter(|&i| keep(i) && set.meta[i].passes(filters))
            .map(|i| (i, dot_f16(query, set.stored(i))))
            .collect();
        top_k(scored, k)
    }

    fn set(&self) -> &VectorSet {
        &self.set
    }
}

/// Approximate search with HNSW (usearch): the vectors in f16, cosine distance as 1 − dot of
/// unit vectors (our F16C kernel), slot numbers as keys.
pub struct HnswIndex {
    set: Arc<VectorSet>,
    index: Index,
}

/// Neighbours per node (twice that on the bottom layer).
const HNSW_CONNECTIVITY: usize = 16;
/// Candidates considered while inserting.
const HNSW_EXPANSION_ADD: usize = 64;
/// Candidates considered while searching.
const HNSW_EXPANSION_SEARCH: usize = 128;
/// The saved graph in its directory: `graph.usearch` (usearch's file: graph and vectors) and
/// `graph.json` (how many slots it holds, their fingerprint, the file's length), written last.
const GRAPH: &str = "graph";
/// What the saved graph's files are, so files of another kind or version are never read.
const FORMAT: &str = "usearch-f16-v1";

/// What a saved graph holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedGraph {
    format: String,
    points: usize,
    fingerprint: String,
    bytes: u64,
    connectivity: usize,
    expansion_add: usize,
}

/// A failure of the vector index library.
fn library_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("usearch: {e}"))
}

/// Views f16 values as usearch's f16 type (both are IEEE half-precision bits).
fn as_usearch(v: &[half::f16]) -> &[usearch::f16] {
    // SAFETY: both types are two-byte `repr(transparent)` wrappers of the same 16 bits.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), v.len()) }
}

impl HnswIndex {
    /// Builds the graph over `set` (uses every core). Fails only when the library does (out of
    /// memory).
    pub fn build(set: Arc<VectorSet>) -> std::io::Result<Self> {
        let mut index = Self::empty(set)?;
        index.insert_from(0)?;
        Ok(index)
    }

    fn options(dim: usize) -> IndexOptions {
        IndexOptions {
            dimensions: dim,
            metric: MetricKind::IP,
            quantization: ScalarKind::F16,
            connectivity: HNSW_CONNECTIVITY,
            expansion_add: HNSW_EXPANSION_ADD,
            expansion_search: HNSW_EXPANSION_SEARCH,
            multi: false,
        }
    }

    fn empty(set: Arc<VectorSet>) -> std::io::Result<Self> {
        let index = Index::new(&Self::options(set.dim)).map_err(library_error)?;
        Ok(Self::with_metric(set, index))
    }

    /// Our distance: usearch calls it with two stored (f16) vectors of `dim` values.
    fn with_metric(set: Arc<VectorSet>, mut index: Index) -> Self {
        let dim = set.dim;
        index.change_metric::<usearch::f16>(Box::new(move |a, b| {
            // SAFETY: usearch passes pointers to two vectors of the index's `dim` f16 values.
            let (a, b) = unsafe { (std::slice::from_raw_parts(a.cast::<half::f16>(), dim), std::slice::from_raw_parts(b.cast::<half::f16>(), dim)) };
            (1.0 - dot_f16_pair(a, b)).max(0.0)
        }));
        HnswIndex { set, index }
    }

    /// Inserts slots `from..`, on every core.
    fn insert_from(&mut self, from: usize) -> std::io::Result<()> {
        let (set, index) = (&self.set, &self.index);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        index.reserve_capacity_and_threads(set.len().max(1), threads).map_err(library_error)?;
        let slots: Vec<usize> = (from..set.len()).collect();
        std::thread::scope(|scope| {
            let workers: Vec<_> = slots
                .chunks(slots.len().div_ceil(threads).max(1))
                .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(|&i| index.add(i as u64, as_usearch(set.stored(i))))))
                .collect();
            workers.into_iter().try_for_each(|w| w.join().expect("an insert thread panicked").map_err(library_error))
        })
    }

    /// The graph saved in `dir` when it was built over the same first slots as `set` (only the
    /// slots added since are inserted, and the graph is saved again), else a new graph, saved.
    /// A graph that cannot be read or saved costs a rebuild, never a wrong answer. Returns the
    /// index and how many slots were inserted (0: the saved graph was complete).
    pub fn open_or_build(set: Arc<VectorSet>, dir: &Path) -> std::io::Result<(Self, usize)> {
        let (mut index, from) = match Self::load(&set, dir) {
            Some((index, points)) => (Self::with_metric(set.clone(), index), points),
            None => (Self::empty(set.clone())?, 0),
        };
        index.insert_from(from)?;
        let inserted = set.len() - from;
        if inserted > 0 {
            if let Err(e) = index.save(dir) {
                tracing::warn!("could not save the vector index in {}: {e}", dir.display());
            }
        }
        Ok((index, inserted))
    }

    fn saved(dir: &Path) -> Option<SavedGraph> {
        serde_json::from_slice(&std::fs::read(dir.join(format!("{GRAPH}.json"))).ok()?).ok()
    }

    fn load(set: &VectorSet, dir: &Path) -> Option<(Index, usize)> {
        let saved = Self::saved(dir)?;
        let file = dir.join(format!("{GRAPH}.usearch"));
        let usable = saved.format == FORMAT
            && saved.points <= set.len()
            && saved.connectivity == HNSW_CONNECTIVITY
            && saved.expansion_add == HNSW_EXPANSION_ADD
            && saved.fingerprint == set.fingerprint(saved.points)
            && std::fs::metadata(&file).is_ok_and(|m| m.len() == saved.bytes);
        if !usable {
            return None;
        }
        let loaded = Index::new(&Self::options(set.dim)).and_then(|index| index.load(&file.to_string_lossy()).map(|()| index));
        match loaded {
            Ok(index) if index.size() == saved.points && index.dimensions() == set.dim => Some((index, saved.points)),
            Ok(index) => {
                tracing::warn!("the vector index in {} holds {} points, not {}", dir.display(), index.size(), saved.points);
                None
            }
            Err(e) => {
                tracing::warn!("could not read the vector index in {}: {e}", dir.display());
                None
            }
        }
    }

    /// Saves the graph in `dir`: the graph file first (written aside, then renamed), the
    /// description that vouches for it last (removed first), so a crash in between leaves no
    /// description and a rebuild.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let description = dir.join(format!("{GRAPH}.json"));
        match std::fs::remove_file(&description) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let file = dir.join(format!("{GRAPH}.usearch"));
        let fresh = dir.join(format!("{GRAPH}.usearch.{}.tmp", std::process::id()));
        self.index.save(&fresh.to_string_lossy()).map_err(library_error)?;
        std::fs::rename(&fresh, &file)?;
        // Files of the HNSW library used before (hnsw_rs) are of no more use.
        for old in ["hnsw.graph", "hnsw.data"] {
            let _ = std::fs::remove_file(dir.join(format!("{GRAPH}.{old}")));
        }
        let saved = SavedGraph {
            format: FORMAT.to_owned(),
            points: self.set.len(),
            fingerprint: self.set.fingerprint(self.set.len()),
            bytes: std::fs::metadata(&file)?.len(),
            connectivity: HNSW_CONNECTIVITY,
            expansion_add: HNSW_EXPANSION_ADD,
        };
        let tmp = dir.join(format!("{GRAPH}.json.tmp"));
        std::fs::write(&tmp, serde_json::to_vec(&saved).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, description)
    }
}

impl VectorIndex for HnswIndex {
    fn search(&self, query: &[f32], k: usize, filters: &Filters, keep: &dyn Fn(usize) -> bool) -> Vec<(usize, f32)> {
        if self.set.is_empty() || k == 0 {
            return Vec::new();
        }
        // Filters are applied while walking the graph; when they are so selective that fewer
        // than `k` are found, the exact scan makes sure nothing that matches is missed.
        let passes = |key: u64| keep(key as usize) && self.set.meta[key as usize].passes(filters);
        let found: Vec<(usize, f32)> = match self.index.filtered_search(query, k, passes) {
            Ok(m) => m.keys.iter().zip(&m.distances).map(|(&key, &d)| (key as usize, 1.0 - d)).collect(),
            Err(e) => {
                tracing::warn!("vector index search failed ({e}); scanning every vector");
                Vec::new()
            }
        };
        if found.len() >= k.min(self.set.len()) {
            return found;
        }
        ExactIndex::new(self.set.clone()).search(query, k, filters, keep)
    }

    fn set(&self) -> &VectorSet {
        &self.set
    }
}
