//! Vector indexes over paper embeddings: an exact scan (the reference) and an approximate HNSW
//! index (hnsw_rs) that is tested against it.
//!
//! Both search a [`VectorSet`]: unit vectors in one flat f16 array (half the memory and half the
//! bytes to scan; scores move by ~1e-3 at most), with each slot's paper id, day and categories so
//! filters can be applied without the store.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::api::AnnT;
use hnsw_rs::hnswio::HnswIo;
use hnsw_rs::prelude::Hnsw;
use paperboy_core::{Category, PaperId};
use paperboy_embed::{dot, dot_f16};

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

/// Cosine distance of unit vectors, 1 − dot, never below zero (rounding can push the dot
/// product of a vector with itself just over 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitCosine;

impl Distance<f32> for UnitCosine {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// Approximate search with HNSW (cosine as 1 − dot on unit vectors).
pub struct HnswIndex {
    set: Arc<VectorSet>,
    hnsw: Hnsw<'static, f32, UnitCosine>,
    ef_search: usize,
}

/// Neighbours per node (twice that on the bottom layer).
const HNSW_LINKS: usize = 24;
/// Candidates considered while inserting.
const HNSW_EF_CONSTRUCTION: usize = 200;
/// Candidates considered while searching.
const HNSW_EF_SEARCH: usize = 128;
/// The saved graph's files in its directory: `graph.hnsw.graph`, `graph.hnsw.data` and
/// `graph.json` (how many slots it holds and their fingerprint), written last.
const GRAPH: &str = "graph";

/// What a saved graph holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedGraph {
    points: usize,
    fingerprint: String,
    links: usize,
    ef_construction: usize,
}

impl HnswIndex {
    /// Builds the graph over `set` (uses every core).
    pub fn build(set: Arc<VectorSet>) -> Self {
        let mut index = Self::empty(set);
        index.insert_from(0);
        index
    }

    fn empty(set: Arc<VectorSet>) -> Self {
        let hnsw = Hnsw::new(HNSW_LINKS, set.len().max(1), 16, HNSW_EF_CONSTRUCTION, UnitCosine);
        HnswIndex { set, hnsw, ef_search: HNSW_EF_SEARCH }
    }

    /// Inserts slots `from..` (in parallel) and makes the graph searchable.
    fn insert_from(&mut self, from: usize) {
        let set = &self.set;
        // hnsw_rs takes f32 slices (and keeps its own copy): widen the f16 vectors once.
        let wide: Vec<f32> = set.data[from * set.dim..].iter().map(|x| x.to_f32()).collect();
        let items: Vec<(&[f32], usize)> = wide.chunks_exact(set.dim.max(1)).zip(from..).map(|(v, i)| (v, i)).collect();
        self.hnsw.set_searching_mode(false);
        self.hnsw.parallel_insert_slice(&items);
        self.hnsw.set_searching_mode(true);
    }

    /// The graph saved in `dir` when it was built over the same first slots as `set` (only the
    /// slots added since are inserted, and the graph is saved again), else a new graph, saved.
    /// A graph that cannot be read or saved costs a rebuild, never a wrong answer. Returns the
    /// index and how many slots were inserted (0: the saved graph was complete).
    pub fn open_or_build(set: Arc<VectorSet>, dir: &Path) -> (Self, usize) {
        let (mut index, from) = match Self::load(&set, dir) {
            Some((hnsw, points)) => (HnswIndex { set: set.clone(), hnsw, ef_search: HNSW_EF_SEARCH }, points),
            None => (Self::empty(set.clone()), 0),
        };
        index.insert_from(from);
        let inserted = set.len() - from;
        if inserted > 0 {
            if let Err(e) = index.save(dir) {
                tracing::warn!("could not save the vector index in {}: {e}", dir.display());
            }
        }
        (index, inserted)
    }

    fn saved(dir: &Path) -> Option<SavedGraph> {
        serde_json::from_slice(&std::fs::read(dir.join(format!("{GRAPH}.json"))).ok()?).ok()
    }

    fn load(set: &VectorSet, dir: &Path) -> Option<(Hnsw<'static, f32, UnitCosine>, usize)> {
        let saved = Self::saved(dir)?;
        let usable = saved.points <= set.len()
            && saved.links == HNSW_LINKS
            && saved.ef_construction == HNSW_EF_CONSTRUCTION
            && saved.fingerprint == set.fingerprint(saved.points);
        if !usable {
            return None;
        }
        // The loaded graph owns its points (no memory map), but hnsw_rs ties its lifetime to
        // the loader's: the small loader is kept for the life of the process.
        // hnsw_rs asserts on a damaged file: that is a rebuild too.
        let loaded = std::panic::catch_unwind(|| {
            let loader: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, GRAPH)));
            loader.load_hnsw::<f32, UnitCosine>()
        });
        match loaded {
            Ok(Ok(hnsw)) if hnsw.get_nb_point() == saved.points => Some((hnsw, saved.points)),
            Ok(Ok(hnsw)) => {
                tracing::warn!("the vector index in {} holds {} points, not {}", dir.display(), hnsw.get_nb_point(), saved.points);
                None
            }
            Ok(Err(e)) => {
                tracing::warn!("could not read the vector index in {}: {e}", dir.display());
                None
            }
            Err(_) => {
                tracing::warn!("the vector index in {} is damaged", dir.display());
                None
            }
        }
    }

    /// Saves the graph in `dir`: the graph files first, the description that vouches for
    /// them last (removed first), so a crash in between leaves no description and a rebuild.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let description = dir.join(format!("{GRAPH}.json"));
        match std::fs::remove_file(&description) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        // hnsw_rs picks another name when its files exist (and always after a reload): dump
        // into an empty folder, then move the files into place.
        let fresh = dir.join(format!("new-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&fresh);
        std::fs::create_dir_all(&fresh)?;
        let written = self.hnsw.file_dump(&fresh, GRAPH).map_err(std::io::Error::other)?;
        for part in ["hnsw.graph", "hnsw.data"] {
            std::fs::rename(fresh.join(format!("{written}.{part}")), dir.join(format!("{GRAPH}.{part}")))?;
        }
        std::fs::remove_dir_all(&fresh)?;
        let saved = SavedGraph {
            points: self.set.len(),
            fingerprint: self.set.fingerprint(self.set.len()),
            links: HNSW_LINKS,
            ef_construction: HNSW_EF_CONSTRUCTION,
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
        // Filters are applied to a wider candidate list; when they are very selective, fall
        // back to the exact scan so nothing that matches is missed.
        let mut want = k;
        loop {
            let fetch = (want * 2).max(self.ef_search).min(self.set.len());
            let found: Vec<(usize, f32)> = self
                .hnsw
                .search(query, fetch, fetch.max(self.ef_search))
                .into_iter()
                .map(|n| (n.d_id, 1.0 - n.distance))
                .filter(|&(i, _)| keep(i) && self.set.meta[i].passes(filters))
                .collect();
            if found.len() >= k || fetch >= self.set.len() {
                return top_k(found, k);
            }
            if want >= 8 * k.max(16) {
                return ExactIndex::new(self.set.clone()).search(query, k, filters, keep);
            }
            want *= 4;
        }
    }

    fn set(&self) -> &VectorSet {
        &self.set
    }
}
