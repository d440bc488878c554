//! Reciprocal rank fusion: each list gives a paper `1 / (k + rank)`; the sums decide the order.
//! Exact matches (the query was the paper's id or title) are pinned first.

use std::collections::HashMap;

use paperboy_core::PaperId;

use super::{Explanation, Hit};

/// The usual RRF constant.
pub const DEFAULT_K: f32 = 60.0;

/// Fuses BM25 hits and vector hits (each best first) into one list of at most `limit`.
pub fn reciprocal_rank_fusion(bm25: &[Hit], vector: &[Hit], k: f32, limit: usize) -> Vec<Hit> {
    let mut fused: HashMap<&PaperId, Hit> = HashMap::new();
    for (rank, h) in bm25.iter().enumerate() {
        let e = fused.entry(&h.id).or_insert_with(|| Hit { score: 0.0, ..h.clone() });
        e.score += 1.0 / (k + rank as f32 + 1.0);
        e.explain.bm25_rank = Some(rank + 1);
    }
    for (rank, h) in vector.iter().enumerate() {
        let e = fused.entry(&h.id).or_insert_with(|| Hit {
            id: h.id.clone(),
            score: 0.0,
            snippet_html: h.snippet_html.clone(),
            explain: Explanation::default(),
        });
        e.score += 1.0 / (k + rank as f32 + 1.0);
        e.explain.vector_rank = Some(rank + 1);
    }
    let mut hits: Vec<Hit> = fused.into_values().collect();
    hits.sort_by(|a, b| {
        b.explain
            .exact
            .cmp(&a.explain.exact)
            .then(b.score.total_cmp(&a.score))
            .then_with(|| a.explain.bm25_rank.unwrap_or(usize::MAX).cmp(&b.explain.bm25_rank.unwrap_or(usize::MAX)))
            .then_with(|| a.id.cmp(&b.id))
    });
    hits.truncate(limit);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str) -> Hit {
        Hit { id: format!("listing:{id}").parse().unwrap(), score: 1.0, snippet_html: String::new(), explain: Explanation::default() }
    }

    #[test]
    fn fuses_by_reciprocal_rank() {
        let bm25 = [hit("a"), hit("b"), hit("c")];
        let vec = [hit("c"), hit("d"), hit("a")];
        let fused = reciprocal_rank_fusion(&bm25, &vec, 60.0, 10);
        let ids: Vec<String> = fused.iter().map(|h| h.id.to_string()).collect();
        // a: 1/61 + 1/63; c: 1/63 + 1/61 — equal, a wins on BM25 rank; then b (1/62), d (1/62): b first on BM25 rank.
        assert_eq!(ids, ["listing:a", "listing:c", "listing:b", "listing:d"]);
        let a = &fused[0];
        assert!((a.score - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-6);
        assert_eq!((a.explain.bm25_rank, a.explain.vector_rank), (Some(1), Some(3)));
        assert_eq!((fused[3].explain.bm25_rank, fused[3].explain.vector_rank), (None, Some(2)));
    }

    #[test]
    fn exact_matches_are_pinned() {
        let mut exact = hit("z");
        exact.explain.exact = true;
        let fused = reciprocal_rank_fusion(&[hit("a"), exact], &[hit("a")], 60.0, 10);
        assert_eq!(fused[0].id.to_string(), "listing:z");
        assert_eq!(reciprocal_rank_fusion(&[hit("a"), hit("b")], &[], 60.0, 1).len(), 1);
    }
}
