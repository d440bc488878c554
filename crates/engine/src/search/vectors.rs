//! Vector indexes over paper embeddings: an exact scan (the reference) and an approximate HNSW
//! index (hnsw_rs) that is tested against it.
//!
//! Both search a [`VectorSet`]: unit vectors in one flat array, with each slot's paper id, day
//! and categories so filters can be applied without the store.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::prelude::Hnsw;
use paperboy_core::{Category, PaperId};
use paperboy_embed::dot;

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
    pub data: Vec<f32>,
    /// Per slot.
    pub meta: Vec<SlotMeta>,
    /// Slot of each paper.
    slots: HashMap<PaperId, usize>,
}

impl VectorSet {
    /// An empty set of `dim`-long vectors.
    pub fn new(dim: usize) -> Self {
        VectorSet { dim, data: Vec::new(), meta: Vec::new(), slots: HashMap::new() }
    }

    /// Appends a vector (must be `dim` long and unit length).
    pub fn push(&mut self, meta: SlotMeta, v: &[f32]) {
        assert_eq!(v.len(), self.dim, "vector dimension");
        self.data.extend_from_slice(v);
        self.slots.insert(meta.id.clone(), self.meta.len());
        self.meta.push(meta);
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// The vector in `slot`.
    pub fn vector(&self, slot: usize) -> &[f32] {
        &self.data[slot * self.dim..(slot + 1) * self.dim]
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
            .map(|i| (i, dot(query, set.vector(i))))
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

impl HnswIndex {
    /// Builds the graph over `set` (uses every core).
    pub fn build(set: Arc<VectorSet>) -> Self {
        let n = set.len().max(1);
        let hnsw = Hnsw::<f32, UnitCosine>::new(24, n, 16, 200, UnitCosine);
        let items: Vec<(&[f32], usize)> = (0..set.len()).map(|i| (set.vector(i), i)).collect();
        hnsw.parallel_insert_slice(&items);
        let mut hnsw = hnsw;
        hnsw.set_searching_mode(true);
        HnswIndex { set, hnsw, ef_search: 128 }
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
