//! Retrieval evaluation on BEIR-format data: nDCG@10, Recall@100 and MRR@10, computed as
//! trec_eval computes `ndcg_cut_10`, `recall_100` and `recip_rank` (cut at 10).
//!
//! - Gains are the judged relevance levels; DCG = Σ gain / log2(rank + 1); the ideal DCG sorts
//!   all judged gains of the query.
//! - Recall@100 = relevant documents in the top 100 / relevant documents judged (level > 0).
//! - MRR@10 = 1 / rank of the first relevant document in the top 10, else 0.
//! - Averages run over every query with at least one relevant judgment (trec_eval `-c`): a
//!   query the system answers with nothing counts as zero, never as missing.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde::Serialize;

/// Relevance judgments: query id → document id → level.
pub type Qrels = HashMap<String, HashMap<String, u32>>;

/// The three measures, averaged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    /// nDCG@10.
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    /// Recall@100.
    #[serde(rename = "recall@100")]
    pub recall_100: f64,
    /// MRR@10.
    #[serde(rename = "mrr@10")]
    pub mrr_10: f64,
    /// Queries averaged over.
    pub queries: usize,
}

/// nDCG at `k` of one ranking.
pub fn ndcg_at(ranked: &[String], rels: &HashMap<String, u32>, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, d)| rels.get(d).copied().unwrap_or(0) as f64 / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u32> = rels.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal.iter().take(k).enumerate().map(|(i, &g)| g as f64 / ((i + 2) as f64).log2()).sum();
    if idcg == 0.0 {
        0.0
    } else {
        dcg / idcg
    }
}

/// Recall at `k` of one ranking.
pub fn recall_at(ranked: &[String], rels: &HashMap<String, u32>, k: usize) -> f64 {
    let relevant = rels.values().filter(|&&g| g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranked.iter().take(k).filter(|d| rels.get(*d).is_some_and(|&g| g > 0)).count();
    found as f64 / relevant as f64
}

/// Reciprocal rank of the first relevant document within `k`.
pub fn mrr_at(ranked: &[String], rels: &HashMap<String, u32>, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|d| rels.get(d).is_some_and(|&g| g > 0))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// Averages the measures over every judged query; `runs` maps query id → ranked document ids.
pub fn evaluate(runs: &HashMap<String, Vec<String>>, qrels: &Qrels) -> Metrics {
    let empty = Vec::new();
    let judged: Vec<(&String, &HashMap<String, u32>)> =
        qrels.iter().filter(|(_, rels)| rels.values().any(|&g| g > 0)).collect();
    let n = judged.len().max(1) as f64;
    let mut m = Metrics { ndcg_10: 0.0, recall_100: 0.0, mrr_10: 0.0, queries: judged.len() };
    for (qid, rels) in judged {
        let ranked = runs.get(qid).unwrap_or(&empty);
        m.ndcg_10 += ndcg_at(ranked, rels, 10) / n;
        m.recall_100 += recall_at(ranked, rels, 100) / n;
        m.mrr_10 += mrr_at(ranked, rels, 10) / n;
    }
    m
}

/// Why evaluation input could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {reason}")]
pub struct EvalInputError {
    /// The file.
    pub path: String,
    /// The line (1-based; 0 for the whole file).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Reads BEIR qrels (`query-id<TAB>corpus-id<TAB>score`, with an optional header line).
pub fn read_qrels(path: &Path) -> Result<Qrels, EvalInputError> {
    let err = |line, reason: String| EvalInputError { path: path.display().to_string(), line, reason };
    let file = std::fs::File::open(path).map_err(|e| err(0, e.to_string()))?;
    let mut qrels = Qrels::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| err(i + 1, e.to_string()))?;
        let f: Vec<&str> = line.split('\t').map(str::trim).collect();
        if line.trim().is_empty() || (i == 0 && f.first().is_some_and(|h| h.contains("query"))) {
            continue;
        }
        if f.len() < 3 {
            return Err(err(i + 1, "expected query-id, corpus-id and score separated by tabs".into()));
        }
        let score: i64 = f[2].parse().map_err(|_| err(i + 1, format!("score {:?} is not an integer", f[2])))?;
        qrels.entry(f[0].to_owned()).or_default().insert(f[1].to_owned(), score.max(0) as u32);
    }
    Ok(qrels)
}

/// Reads BEIR queries (`{"_id", "text"}` per line).
pub fn read_queries(path: &Path) -> Result<Vec<(String, String)>, EvalInputError> {
    let err = |line, reason: String| EvalInputError { path: path.display().to_string(), line, reason };
    let file = std::fs::File::open(path).map_err(|e| err(0, e.to_string()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| err(i + 1, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| err(i + 1, format!("invalid JSON: {e}")))?;
        let id = match &v["_id"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(err(i + 1, "missing _id".into())),
        };
        let text = v["text"].as_str().ok_or_else(|| err(i + 1, "missing text".into()))?;
        out.push((id, text.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rels(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(d, g)| (d.to_string(), *g)).collect()
    }

    fn ranked(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    /// Worked by hand. Ranking d1 d2 d3 d4; relevant d2 (gain 2), d4 (gain 1), d9 (gain 1, not retrieved).
    /// DCG  = 2/log2(3) + 1/log2(5) = 1.261860 + 0.430677 = 1.692537
    /// IDCG = 2/log2(2) + 1/log2(3) + 1/log2(4) = 2 + 0.630930 + 0.5 = 3.130930
    /// nDCG = 0.540587; recall = 2/3; MRR = 1/2.
    #[test]
    fn hand_worked_example() {
        let r = rels(&[("d2", 2), ("d4", 1), ("d9", 1), ("d1", 0)]);
        let run = ranked(&["d1", "d2", "d3", "d4"]);
        assert!((ndcg_at(&run, &r, 10) - 0.540587).abs() < 1e-5, "{}", ndcg_at(&run, &r, 10));
        assert!((recall_at(&run, &r, 100) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(mrr_at(&run, &r, 10), 0.5);
        // Cut-offs: only d1 within the top 1.
        assert_eq!(mrr_at(&run, &r, 1), 0.0);
        assert_eq!(ndcg_at(&ranked(&["d2", "d4", "d9"]), &r, 10), 1.0);
    }

    #[test]
    fn averages_count_unanswered_queries_as_zero() {
        let mut qrels = Qrels::new();
        qrels.insert("q1".into(), rels(&[("a", 1)]));
        qrels.insert("q2".into(), rels(&[("b", 1)]));
        qrels.insert("q3".into(), rels(&[("c", 0)])); // no relevant document: not averaged
        let mut runs = HashMap::new();
        runs.insert("q1".to_string(), ranked(&["a"]));
        let m = evaluate(&runs, &qrels);
        assert_eq!(m.queries, 2);
        assert_eq!((m.ndcg_10, m.recall_100, m.mrr_10), (0.5, 0.5, 0.5));
    }
}
