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

    /// Appends a vector (`dim` long, unit length) with a key that changes whenever the paper's
    /// text (so its vector) does: a saved HNSW graph is reused only for slots whose keys are
    /// unchanged.
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
    /// Slots the graph does not lead to even after inserting them again (HNSW drops a node
    /// now and then when its neighbours' lists keep others instead); every search scores them
    /// directly, so no paper is ever out of reach. Sorted; a few per thousand at most.
    orphans: Vec<usize>,
    /// The orphans' vectors side by side: scattered over the set, a few thousand of them cost
    /// ~4 ms of cache and TLB misses per search at 1M papers; packed, a fraction of a millisecond.
    orphan_vectors: Vec<half::f16>,
}

/// Neighbours per node (twice that on the bottom layer).
const HNSW_CONNECTIVITY: usize = 16;
/// Candidates considered while inserting.
const HNSW_EXPANSION_ADD: usize = 64;
/// Candidates considered while searching.
const HNSW_EXPANSION_SEARCH: usize = 128;
/// Cosine distance under which two vectors are the same one (f16 rounding).
const IDENTICAL: f32 = 1e-4;
/// Rounds of inserting again the nodes a search for their own vector does not find.
const REPAIR_ROUNDS: usize = 3;
/// The saved graph in its directory: `graph.usearch` (usearch's file: graph and vectors) and
/// `graph.json` (how many slots it holds, their fingerprint, the file's length), written last.
const GRAPH: &str = "graph";
/// What the saved graph's files are, so files of another kind or version are never read.
/// (v2: graphs are checked and repaired after inserting, and list their orphans.)
const FORMAT: &str = "usearch-f16-v2";

/// What a saved graph holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedGraph {
    format: String,
    points: usize,
    fingerprint: String,
    bytes: u64,
    connectivity: usize,
    expansion_add: usize,
    orphans: Vec<usize>,
}

/// Threads inserting into a graph: one per core.
fn insert_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` on every item, `threads` splitting them evenly; the first error stops it.
fn in_parallel<T: Sync>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> std::io::Result<()> + Sync,
) -> std::io::Result<()> {
    let work = &work;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(items.len().div_ceil(threads).max(1))
            .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(work)))
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("an index thread panicked"))
    })
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
        Self::build_on(set, insert_threads())
    }

    /// Builds the graph over `set` with `threads` inserting at once.
    pub fn build_on(set: Arc<VectorSet>, threads: usize) -> std::io::Result<Self> {
        let mut index = Self::empty(set)?;
        index.insert_from(0, threads)?;
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
        HnswIndex { set, index, orphans: Vec::new(), orphan_vectors: Vec::new() }
    }

    /// Inserts slots `from..` with `threads` at once, then makes sure each can be found, and
    /// lists as orphans (scored directly by every search) those the graph does not lead to.
    ///
    /// Inserts that run at the same time can leave nodes that no link leads to (usearch issue
    /// 735: links formed while a neighbour's own links were half built), and HNSW now and then
    /// leaves a node that a search for its own vector does not reach. So every inserted slot is
    /// looked up by its own vector once; those not found are removed and inserted again one at a
    /// time (a lone insert links properly) and looked up again, with the nodes whose links the
    /// re-inserts pruned, for up to [`REPAIR_ROUNDS`] rounds; then a walk along the bottom
    /// layer's links (cheap, unlike a search per node) finds any node left unreachable, which is
    /// inserted again too. Any still not found become orphans.
    fn insert_from(&mut self, from: usize, threads: usize) -> std::io::Result<()> {
        let threads = threads.max(1);
        let slots: Vec<usize> = (from..self.set.len()).collect();
        self.index.reserve_capacity_and_threads(self.set.len().max(1), threads).map_err(library_error)?;
        if slots.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        in_parallel(&slots, threads, |&slot| self.insert(slot))?;
        let inserted = started.elapsed();
        // The check searches as widely as an insert does (half a query's width: about as good at
        // finding a vector's own node, at half the cost).
        self.index.change_expansion_search(HNSW_EXPANSION_ADD);
        let mut lost = self.unfound(&slots, threads);
        let mut again = 0;
        for _ in 0..REPAIR_ROUNDS {
            if lost.is_empty() {
                break;
            }
            again += lost.len();
            let mut check = lost.clone();
            for &slot in &lost {
                check.extend(self.insert_again_noting_pruned(slot)?);
            }
            check.sort_unstable();
            check.dedup();
            lost = self.unfound(&check, threads);
        }
        self.index.change_expansion_search(HNSW_EXPANSION_SEARCH);
        let mut stranded = self.unreachable();
        if !stranded.is_empty() {
            again += stranded.len();
            stranded.iter().try_for_each(|&slot| self.insert_again(slot))?;
            stranded = self.unreachable();
        }
        let orphans = self.orphans.iter().copied().chain(lost).chain(stranded).collect();
        self.set_orphans(orphans);
        tracing::info!(
            "vector index: {} papers inserted in {:.1} s, checked and repaired in {:.1} s ({again} inserted again; {} orphans, searched directly)",
            slots.len(),
            inserted.as_secs_f64(),
            (started.elapsed() - inserted).as_secs_f64(),
            self.orphans.len()
        );
        Ok(())
    }

    /// Makes `slots` the orphans (sorted, each once), their vectors packed.
    fn set_orphans(&mut self, mut slots: Vec<usize>) {
        slots.sort_unstable();
        slots.dedup();
        self.orphan_vectors = slots.iter().flat_map(|&slot| self.set.stored(slot)).copied().collect();
        self.orphans = slots;
    }

    fn insert(&self, slot: usize) -> std::io::Result<()> {
        self.index.add(slot as u64, as_usearch(self.set.stored(slot))).map_err(library_error)
    }

    /// Takes `slot` out of the graph and inserts it again (usearch reuses its node and links it
    /// anew).
    fn insert_again(&self, slot: usize) -> std::io::Result<()> {
        self.index.remove(slot as u64).map_err(library_error)?;
        self.insert(slot)
    }

    /// Inserts `slot` again and returns the nodes that lost a bottom-layer link in doing so:
    /// `slot`'s own links are formed anew, and linking it in adds links to its neighbours' lists,
    /// where a full list drops one (its neighbours are among the closest nodes to it).
    fn insert_again_noting_pruned(&self, slot: usize) -> std::io::Result<Vec<usize>> {
        let near = self.index.search(as_usearch(self.set.stored(slot)), HNSW_EXPANSION_ADD).map_err(library_error)?;
        let before: Vec<(u64, Vec<u64>)> =
            near.keys.iter().chain([&(slot as u64)]).map(|&n| (n, self.index.neighbors(n, 0).collect())).collect();
        self.insert_again(slot)?;
        let mut pruned = Vec::new();
        for (n, old) in before {
            let now: Vec<u64> = self.index.neighbors(n, 0).collect();
            pruned.extend(
                old.into_iter()
                    .filter(|k| !now.contains(k))
                    .filter_map(|k| usize::try_from(k).ok())
                    .filter(|&k| k < self.set.len()),
            );
        }
        Ok(pruned)
    }

    /// The slots that a walk along the bottom layer's links from the top node (where every
    /// search enters) never visits: no search can find them.
    fn unreachable(&self) -> Vec<usize> {
        let n = self.set.len();
        let Some(entry) = (0..n).max_by_key(|&slot| (self.index.level_of_key(slot as u64), std::cmp::Reverse(slot)))
        else {
            return Vec::new();
        };
        let mut seen = vec![false; n];
        seen[entry] = true;
        let mut queue = vec![entry];
        while let Some(slot) = queue.pop() {
            for next in self.index.neighbors(slot as u64, 0) {
                if let Some(next) = usize::try_from(next).ok().filter(|&next| next < n && !seen[next]) {
                    seen[next] = true;
                    queue.push(next);
                }
            }
        }
        (0..n).filter(|&slot| !seen[slot]).collect()
    }

    /// The slots the graph does not lead to, which every search scores directly.
    pub fn orphans(&self) -> &[usize] {
        &self.orphans
    }

    /// Those of `slots` that a search for their own vector does not find first (ties with an
    /// identical vector count as found; a failed search counts as not found; the closure never
    /// fails, so neither does the parallel run).
    fn unfound(&self, slots: &[usize], threads: usize) -> Vec<usize> {
        let lost = std::sync::Mutex::new(Vec::new());
        let found = |slot: usize| match self.index.search(as_usearch(self.set.stored(slot)), 1) {
            Ok(m) => m.keys.first() == Some(&(slot as u64)) || m.distances.first().is_some_and(|&d| d <= IDENTICAL),
            Err(_) => false,
        };
        let _ = in_parallel(slots, threads, |&slot| {
            if !found(slot) {
                lost.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(slot);
            }
            Ok(())
        });
        let mut lost = lost.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        lost.sort_unstable();
        lost
    }

    /// The graph saved in `dir` when it was built over the same first slots as `set` (only the
    /// slots added since are inserted, and the graph is saved again), else a new graph, saved.
    /// A graph that cannot be read or saved costs a rebuild, never a wrong answer. Returns the
    /// index and how many slots were inserted (0: the saved graph was complete).
    pub fn open_or_build(set: Arc<VectorSet>, dir: &Path) -> std::io::Result<(Self, usize)> {
        let (mut index, from) = match Self::load(&set, dir) {
            Some((index, points, orphans)) => {
                let mut index = Self::with_metric(set.clone(), index);
                index.set_orphans(orphans);
                (index, points)
            }
            None => (Self::empty(set.clone())?, 0),
        };
        index.insert_from(from, insert_threads())?;
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

    fn load(set: &VectorSet, dir: &Path) -> Option<(Index, usize, Vec<usize>)> {
        let saved = Self::saved(dir)?;
        let file = dir.join(format!("{GRAPH}.usearch"));
        let usable = saved.format == FORMAT
            && saved.points <= set.len()
            && saved.connectivity == HNSW_CONNECTIVITY
            && saved.expansion_add == HNSW_EXPANSION_ADD
            && saved.orphans.iter().all(|&slot| slot < saved.points)
            && saved.fingerprint == set.fingerprint(saved.points)
            && std::fs::metadata(&file).is_ok_and(|m| m.len() == saved.bytes);
        if !usable {
            return None;
        }
        let loaded = Index::new(&Self::options(set.dim)).and_then(|index| index.load(&file.to_string_lossy()).map(|()| index));
        match loaded {
            Ok(index) if index.size() == saved.points && index.dimensions() == set.dim => {
                Some((index, saved.points, saved.orphans))
            }
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
            orphans: self.orphans.clone(),
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
        let passes = |slot: usize| keep(slot) && self.set.meta[slot].passes(filters);
        let mut found: Vec<(usize, f32)> = match self.index.filtered_search(query, k, |key| passes(key as usize)) {
            Ok(m) => m.keys.iter().zip(&m.distances).map(|(&key, &d)| (key as usize, 1.0 - d)).collect(),
            Err(e) => {
                tracing::warn!("vector index search failed ({e}); scanning every vector");
                Vec::new()
            }
        };
        if found.len() < k.min(self.set.len()) {
            return ExactIndex::new(self.set.clone()).search(query, k, filters, keep);
        }
        if self.orphans.is_empty() {
            return found;
        }
        // Only an orphan that beats the graph's k-th hit can enter the answer (and only such a
        // one needs checking against the graph's hits).
        let kth = found.iter().map(|&(_, score)| score).fold(f32::INFINITY, f32::min);
        let before = found.len();
        for (&slot, vector) in self.orphans.iter().zip(self.orphan_vectors.chunks_exact(self.set.dim)) {
            let score = dot_f16(query, vector);
            if score > kth && passes(slot) && !found[..before].iter().any(|&(s, _)| s == slot) {
                found.push((slot, score));
            }
        }
        top_k(found, k)
    }

    fn set(&self) -> &VectorSet {
        &self.set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` random unit vectors of length 24 (a fixed xorshift sequence), one per day.
    fn random_set(n: usize) -> Arc<VectorSet> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut set = VectorSet::new(24);
        for i in 0..n {
            let v: Vec<f32> = (0..24)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let v: Vec<f32> = v.iter().map(|x| x / norm).collect();
            let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(i as u64);
            set.push_keyed(
                SlotMeta { id: format!("listing:{i}").parse().unwrap(), day: Some(day), categories: vec![] },
                &v,
                i as u64 + 1,
            );
        }
        Arc::new(set)
    }

    #[test]
    fn orphans_are_found_though_the_graph_does_not_lead_to_them() {
        let set = random_set(300);
        let mut index = HnswIndex::build(set.clone()).unwrap();
        // Slot 7 taken out of the graph, as HNSW now and then leaves a node no link leads to.
        index.index.remove(7).unwrap();
        let first = |index: &HnswIndex, filters: &Filters| {
            index.search(&set.vector(7), 5, filters, &|_| true).first().map(|h| h.0)
        };
        assert_ne!(first(&index, &Filters::default()), Some(7));
        index.set_orphans(vec![7]);
        let hits = index.search(&set.vector(7), 5, &Filters::default(), &|_| true);
        assert_eq!(hits[0].0, 7);
        assert!((hits[0].1 - 1.0).abs() < 1e-3, "scored directly: {hits:?}");
        assert_eq!(hits.len(), 5);
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1), "best first: {hits:?}");
        // Filters and the caller's choice apply to orphans too.
        let day = |d: u64| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(d);
        assert_ne!(first(&index, &Filters { since: Some(day(8)), ..Filters::default() }), Some(7));
        assert!(index.search(&set.vector(7), 5, &Filters::default(), &|slot| slot != 7).iter().all(|h| h.0 != 7));
    }

    #[test]
    fn orphans_are_saved_with_the_graph() {
        let dir = tempfile::tempdir().unwrap();
        let set = random_set(300);
        let mut index = HnswIndex::build(set.clone()).unwrap();
        index.set_orphans(vec![250, 3]);
        index.save(dir.path()).unwrap();
        let (reopened, inserted) = HnswIndex::open_or_build(set.clone(), dir.path()).unwrap();
        assert_eq!(inserted, 0);
        assert_eq!(reopened.orphans, vec![3, 250]);
        assert_eq!(reopened.orphan_vectors, [set.stored(3), set.stored(250)].concat());
    }
}
