//! `paperboy eval recs`: the "For you" model against its peers' recipes, on real data: 558 days
//! of Hugging Face daily papers, which name who submitted each paper and its `ai_keywords`.
//!
//! Two protocols, each reported for two halves of the readers: the tuning half (a reader whose
//! name's SHA-256 starts with a hex digit 0–7; the only half any setting was tuned on) and the
//! held-out half.
//! - **Submitters**: each user who submitted ≥ 6 papers is a reader whose positives are their
//!   submissions in time order; the first half trains, then each later day (and, separately,
//!   week) with one of their papers ranks all papers of that day (week).
//! - **Keyword readers**: a reader who liked the first k = 5 (or 20) papers carrying one of the
//!   100 most frequent keywords; that keyword's later papers are relevant among all later papers.
//!
//! Metrics per ranking: nDCG@10, recall@10 and MRR, averaged per reader, then over readers.
//! paperboy's margin over the best baseline is also given paired by reader, with a bootstrap
//! interval ([`Margin`]), so a line's margin can be read against the readers' spread.
//! Methods: popularity (Hugging Face upvotes), time-weighted mean similarity to the positives
//! (zotero-arxiv-daily's rule), tf-idf + linear SVM (arxiv-sanity-lite's), paperboy's embedding
//! half alone, and paperboy's model (both halves fused, as the product ranks).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate};
use paperboy_embed::dot;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::tfidf::{self, Sparse};
use super::{centroid, fit, Params, Whole};

/// One paper of the evaluation corpus.
#[derive(Debug, Clone)]
pub struct EvalPaper {
    /// arXiv id.
    pub id: String,
    /// The daily list it was on.
    pub day: NaiveDate,
    /// Title and abstract.
    pub text: String,
    /// Hugging Face upvotes.
    pub upvotes: u32,
    /// Who submitted it to the daily list.
    pub submitter: Option<String>,
    /// `ai_keywords`, lower case.
    pub keywords: Vec<String>,
    /// The authors' names.
    pub authors: Vec<String>,
}

impl EvalPaper {
    /// What the baseline's tf-idf row is made of: title, abstract and authors' names, as
    /// arxiv-sanity-lite reads a paper ([`tfidf::document`]).
    pub fn document(&self) -> String {
        tfidf::document(&self.text, self.authors.iter().map(String::as_str))
    }

    /// Its authors' keys ([`super::author_keys`]).
    pub fn author_keys(&self) -> Vec<String> {
        super::author_keys(self.authors.iter().map(String::as_str))
    }
}

/// Reads the daily-papers archive (`YYYY-MM-DD.json` files in a .tar.gz): each paper once, on
/// the first day it was listed, in day order.
pub fn read_archive(path: &Path) -> Result<Vec<EvalPaper>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut papers: HashMap<String, EvalPaper> = HashMap::new();
    for entry in archive.entries().map_err(|e| format!("{}: {e}", path.display()))? {
        let mut entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
        let name = entry.path().map_err(|e| e.to_string())?.to_string_lossy().into_owned();
        let Some(day) = Path::new(&name).file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<NaiveDate>().ok()) else { continue };
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| format!("{name}: {e}"))?;
        let Ok(serde_json::Value::Array(items)) = serde_json::from_slice::<serde_json::Value>(&bytes) else { continue };
        for item in items {
            let p = &item["paper"];
            let (Some(id), Some(title)) = (p["id"].as_str(), p["title"].as_str()) else { continue };
            let summary = p["summary"].as_str().unwrap_or("");
            let text = format!("{}\n\n{}", title.split_whitespace().collect::<Vec<_>>().join(" "), summary.split_whitespace().collect::<Vec<_>>().join(" "));
            let paper = EvalPaper {
                id: id.to_owned(),
                day,
                text,
                upvotes: p["upvotes"].as_u64().unwrap_or(0) as u32,
                submitter: p["submittedOnDailyBy"]["user"].as_str().map(str::to_owned),
                authors: p["authors"].as_array().map(|a| a.iter().filter_map(|w| w["name"].as_str()).map(str::to_owned).collect()).unwrap_or_default(),
                keywords: p["ai_keywords"].as_array().map(|k| k.iter().filter_map(|w| w.as_str()).map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).collect()).unwrap_or_default(),
            };
            papers.entry(id.to_owned()).and_modify(|old| if day < old.day { *old = paper.clone() }).or_insert(paper);
        }
    }
    let mut out: Vec<EvalPaper> = papers.into_values().collect();
    out.sort_by(|a, b| a.day.cmp(&b.day).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// nDCG@k, recall@k and reciprocal rank of one ranking (`relevant[i]`: is the i-th ranked
/// paper relevant), with `total` relevant papers in all.
pub fn metrics(relevant: &[bool], total: usize, k: usize) -> (f64, f64, f64) {
    if total == 0 {
        return (0.0, 0.0, 0.0);
    }
    let dcg: f64 = relevant.iter().take(k).enumerate().filter(|(_, r)| **r).map(|(i, _)| 1.0 / ((i + 2) as f64).log2()).sum();
    let ideal: f64 = (0..total.min(k)).map(|i| 1.0 / ((i + 2) as f64).log2()).sum();
    let hits = relevant.iter().take(k).filter(|r| **r).count();
    let rr = relevant.iter().position(|r| *r).map_or(0.0, |i| 1.0 / (i + 1) as f64);
    (dcg / ideal, hits as f64 / total as f64, rr)
}

/// A method under evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Method {
    /// Hugging Face upvotes.
    Popularity,
    /// Time-weighted mean cosine similarity to the positives (zotero-arxiv-daily).
    MeanSimilarity,
    /// tf-idf + linear SVM (arxiv-sanity-lite).
    TfidfSvm,
    /// paperboy's embedding half alone (logistic regression + mean similarity).
    Embeddings,
    /// paperboy's model: the embedding half fused with a lexical (tf-idf SVM) half trained
    /// against a background sample (the product's code).
    Paperboy,
}

impl Method {
    /// All, baselines first.
    pub const ALL: [Method; 5] = [Method::Popularity, Method::MeanSimilarity, Method::TfidfSvm, Method::Embeddings, Method::Paperboy];

    /// Whether it is one of the peers' recipes (not paperboy's).
    pub fn is_baseline(self) -> bool {
        matches!(self, Method::Popularity | Method::MeanSimilarity | Method::TfidfSvm)
    }

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Method::Popularity => "popularity (upvotes)",
            Method::MeanSimilarity => "mean similarity (zotero-arxiv-daily)",
            Method::TfidfSvm => "tf-idf + linear SVM (arxiv-sanity-lite)",
            Method::Embeddings => "paperboy's embedding half alone",
            Method::Paperboy => "paperboy: embeddings + tf-idf, fused",
        }
    }
}

/// Averages over readers.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Scores {
    /// nDCG@10.
    pub ndcg10: f64,
    /// Recall@10.
    pub recall10: f64,
    /// Mean reciprocal rank.
    pub mrr: f64,
    /// Readers averaged over.
    pub readers: usize,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `submitters/day`, `submitters/week`, `keywords/k=5`, `keywords/k=20`.
    pub protocol: String,
    /// `tuning` or `held-out`.
    pub half: &'static str,
    /// The method.
    pub method: Method,
    /// Its scores.
    pub scores: Scores,
    /// paperboy's row only: its nDCG@10 against the best baseline's, reader by reader.
    pub margin: Option<Margin>,
}

/// paperboy's nDCG@10 minus the best baseline's, paired by reader, with a bootstrap interval:
/// how much of a margin the readers' spread can explain.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Margin {
    /// The baseline with the best nDCG@10 on the line.
    pub baseline: Method,
    /// Mean difference, in nDCG@10 points (×100).
    pub points: f64,
    /// The 95% interval of [`RESAMPLES`] bootstrap resamples of the readers.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
    /// Readers paperboy ranks better for.
    pub better: usize,
    /// Readers it ranks worse for.
    pub worse: usize,
}

/// Bootstrap resamples behind [`Margin`]'s interval.
pub const RESAMPLES: usize = 10_000;

/// The mean of `diffs` and the 2.5th and 97.5th percentiles of the means of `resamples`
/// resamples with replacement (drawn from a fixed seed, so a report is the same every run).
pub fn bootstrap(diffs: &[f64], resamples: usize) -> (f64, f64, f64) {
    if diffs.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let n = diffs.len();
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut means: Vec<f64> = (0..resamples.max(1))
        .map(|_| (0..n).map(|_| diffs[(super::xorshift(&mut state) % n as u64) as usize]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
    (mean, at(0.025), at(0.975))
}

/// Whether a reader's name puts them in the tuning half (SHA-256 starts with 0–7).
pub fn tuning_half(name: &str) -> bool {
    Sha256::digest(name.as_bytes())[0] < 0x80
}

/// The corpus with its features: vectors (unit length, same order as the papers) and tf-idf rows.
pub struct Corpus {
    /// The papers, in day order.
    pub papers: Vec<EvalPaper>,
    /// Their vectors.
    pub vectors: Vec<Vec<f32>>,
    /// Their tf-idf rows.
    pub tfidf: Vec<Sparse>,
    /// tf-idf features.
    pub features: usize,
    /// paperboy's lexical rows ([`tfidf::PAPERBOY`]'s features).
    pub lexical: Vec<Sparse>,
    /// Their features.
    pub lexical_features: usize,
    /// Each paper's authors' keys ([`crate::readers::author_key`]).
    pub author_keys: Vec<Vec<String>>,
    /// The lexical half's shared statistics by the papers they cover (see [`Corpus::whole`]).
    wholes: Mutex<HashMap<usize, Arc<Whole>>>,
}

impl Corpus {
    /// `papers` with `vectors` (one each, unit length); fits tf-idf.
    pub fn new(papers: Vec<EvalPaper>, vectors: Vec<Vec<f32>>) -> Corpus {
        let docs: Vec<String> = papers.iter().map(EvalPaper::document).collect();
        let width = |rows: &[Sparse]| rows.iter().flat_map(|r| r.iter().map(|(i, _)| *i as usize + 1)).max().unwrap_or(0);
        let tfidf = tfidf::tfidf(&docs, &tfidf::ARXIV_SANITY);
        let texts: Vec<String> = papers.iter().map(|p| p.text.clone()).collect();
        let lexical = tfidf::tfidf(&texts, &tfidf::PAPERBOY);
        let (features, lexical_features) = (width(&tfidf), width(&lexical));
        let author_keys = papers.iter().map(EvalPaper::author_keys).collect();
        Corpus { papers, vectors, tfidf, features, lexical, lexical_features, author_keys, wholes: Mutex::default() }
    }

    /// The lexical half's shared statistics over the papers before `cutoff`, as last refitted:
    /// over the first multiple of [`SNAP`] papers at or below it (or all of them, when fewer).
    /// Returns how many papers they cover, and them.
    fn whole(&self, cutoff: usize) -> (usize, Arc<Whole>) {
        let known = if cutoff < SNAP { cutoff } else { cutoff / SNAP * SNAP };
        let mut cache = self.wholes.lock().expect("statistics cache");
        let whole = cache.entry(known).or_insert_with(|| Arc::new(Whole::fit(&self.lexical[..known].iter().collect::<Vec<_>>(), self.lexical_features, super::LEXICAL_C, 1)));
        (known, whole.clone())
    }
}

/// Papers between refits of the lexical half's statistics (a few days of the archive).
pub const SNAP: usize = 250;

/// A trained scorer for one reader: scores papers by index.
struct Scorer {
    method: Method,
    /// The lexical half's weights (paperboy's model).
    lexical: Vec<f32>,
    weights: Vec<f32>,
    centroid: Vec<f32>,
    /// Mean similarity: the positives (newest first) and their time weights.
    anchors: Vec<(usize, f64)>,
    /// The lexical half's weight in the fusion.
    lexical_weight: f32,
    /// Recurring authors of the positives.
    affinity: super::AuthorAffinity,
}

impl Scorer {
    /// Trains `method` on positives `pos` (indexes, oldest first) with papers up to `cutoff`
    /// (index, exclusive) as the available corpus.
    fn train(c: &Corpus, method: Method, pos: &[usize], cutoff: usize, seed: u64, p: &Params) -> Scorer {
        let mut s = Scorer { method, lexical: vec![], weights: vec![], centroid: vec![], anchors: vec![], lexical_weight: 0.0, affinity: Default::default() };
        match method {
            Method::Popularity => {}
            Method::MeanSimilarity => {
                // zotero-arxiv-daily: newest first, weight 1 / (1 + log10(rank + 1)), normalised.
                let raw: Vec<f64> = (0..pos.len()).map(|i| 1.0 / (1.0 + ((i + 1) as f64).log10())).collect();
                let sum: f64 = raw.iter().sum();
                s.anchors = pos.iter().rev().zip(raw).map(|(&i, w)| (i, w / sum)).collect();
            }
            Method::TfidfSvm => {
                let set: HashSet<usize> = pos.iter().copied().collect();
                let positives: Vec<&Sparse> = pos.iter().map(|&i| &c.tfidf[i]).collect();
                let negatives: Vec<&Sparse> = (0..cutoff).filter(|i| !set.contains(i)).map(|i| &c.tfidf[i]).collect();
                s.weights = tfidf::linear_svm(&positives, &negatives, c.features, 0.01, tfidf::CONVERGED);
            }
            Method::Embeddings | Method::Paperboy => {
                let set: HashSet<usize> = pos.iter().copied().collect();
                let positives: Vec<&[f32]> = pos.iter().map(|&i| c.vectors[i].as_slice()).collect();
                let background = sample(cutoff, p.background, seed, &set);
                let negatives: Vec<&[f32]> = background.iter().map(|&i| c.vectors[i].as_slice()).collect();
                s.weights = fit(&positives, &negatives, p);
                let norm = dot(&s.weights, &s.weights).sqrt().max(1e-6);
                s.weights.iter_mut().for_each(|w| *w /= norm);
                s.centroid = centroid(&positives, c.vectors.first().map_or(0, |v| v.len()));
                if method == Method::Paperboy && p.lexical_weight > 0.0 {
                    // Every paper known when training is a negative, through the statistics the
                    // product keeps: refitted every SNAP papers here, as the product refits them
                    // as its store grows.
                    let known = c.whole(cutoff);
                    let rows: Vec<(&Sparse, bool)> = pos.iter().map(|&i| (&c.lexical[i], i < known.0)).collect();
                    s.lexical = known.1.train(&rows, &[]);
                    s.lexical_weight = super::lexical_weight(p, pos.len());
                    s.affinity = super::AuthorAffinity::of(pos.iter().map(|&i| c.author_keys[i].as_slice()));
                }
            }
        }
        s
    }

    fn score(&self, c: &Corpus, i: usize, p: &Params) -> f64 {
        match self.method {
            Method::Popularity => f64::from(c.papers[i].upvotes),
            Method::MeanSimilarity => self.anchors.iter().map(|&(a, w)| w * f64::from(dot(&c.vectors[a], &c.vectors[i]))).sum(),
            Method::TfidfSvm => f64::from(tfidf::score(&self.weights, &c.tfidf[i])),
            Method::Embeddings | Method::Paperboy => f64::from((1.0 - p.mean_similarity) * dot(&self.weights, &c.vectors[i]) + p.mean_similarity * dot(&self.centroid, &c.vectors[i])),
        }
    }

    /// Scores of `candidates`; paperboy's model fuses its two halves over them as the product does.
    fn scores(&self, c: &Corpus, candidates: &[usize], p: &Params) -> Vec<f64> {
        let own: Vec<f64> = candidates.iter().map(|&i| self.score(c, i, p)).collect();
        if self.method != Method::Paperboy || self.lexical.is_empty() {
            return own;
        }
        let embedding: Vec<f32> = own.iter().map(|&x| x as f32).collect();
        let lexical: Vec<f32> = candidates.iter().map(|&i| tfidf::score(&self.lexical, &c.lexical[i])).collect();
        let mut fused = super::fuse(&embedding, &lexical, self.lexical_weight);
        let affinity: Vec<f32> = candidates.iter().map(|&i| self.affinity.score(&c.author_keys[i])).collect();
        super::add_affinity(&mut fused, &affinity, p.author_weight);
        fused.into_iter().map(f64::from).collect()
    }

    /// Ranks `candidates` (ties by index) and scores the ranking against `relevant`.
    fn evaluate(&self, c: &Corpus, candidates: &[usize], relevant: &HashSet<usize>, p: &Params) -> (f64, f64, f64) {
        let mut scored: Vec<(f64, usize)> = self.scores(c, candidates, p).into_iter().zip(candidates.iter().copied()).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let flags: Vec<bool> = scored.iter().map(|(_, i)| relevant.contains(i)).collect();
        metrics(&flags, relevant.len(), 10)
    }
}

/// `n` indexes below `below` (see [`super::draw`]), none in `skip`.
fn sample(below: usize, n: usize, seed: u64, skip: &HashSet<usize>) -> Vec<usize> {
    super::draw(below, n, seed, &|i| skip.contains(&i))
}

/// Accumulates per-reader averages.
#[derive(Default)]
struct Mean {
    /// Each reader's mean (nDCG@10, recall@10, MRR) over their rankings, in the order they were
    /// added (the same for every method, so two methods' lists pair by reader).
    readers: Vec<(f64, f64, f64)>,
}

impl Mean {
    fn add_reader(&mut self, per_ranking: &[(f64, f64, f64)]) {
        if per_ranking.is_empty() {
            return;
        }
        let n = per_ranking.len() as f64;
        let mean = |f: fn(&(f64, f64, f64)) -> f64| per_ranking.iter().map(f).sum::<f64>() / n;
        self.readers.push((mean(|m| m.0), mean(|m| m.1), mean(|m| m.2)));
    }

    /// Each reader's nDCG@10.
    fn ndcg(&self) -> impl Iterator<Item = f64> + '_ {
        self.readers.iter().map(|r| r.0)
    }

    fn scores(&self) -> Scores {
        let n = self.readers.len().max(1) as f64;
        let mean = |f: fn(&(f64, f64, f64)) -> f64| self.readers.iter().map(f).sum::<f64>() / n;
        Scores { ndcg10: mean(|r| r.0), recall10: mean(|r| r.1), mrr: mean(|r| r.2), readers: self.readers.len() }
    }
}

fn seed_of(name: &str) -> u64 {
    u64::from_le_bytes(Sha256::digest(name.as_bytes())[..8].try_into().expect("8 bytes"))
}

/// Least submissions for a submitter to be a reader.
pub const MIN_SUBMISSIONS: usize = 6;

/// The submitters protocol; `week`: rank each later week's papers instead of each day's.
pub fn submitters(c: &Corpus, methods: &[Method], week: bool, p: &Params) -> Vec<Row> {
    let mut by_user: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, paper) in c.papers.iter().enumerate() {
        if let Some(u) = &paper.submitter {
            by_user.entry(u).or_default().push(i);
        }
    }
    let bucket = |d: NaiveDate| if week { (d.iso_week().year(), d.iso_week().week()) } else { (d.year(), d.ordinal()) };
    let mut groups: HashMap<(i32, u32), Vec<usize>> = HashMap::new();
    for (i, paper) in c.papers.iter().enumerate() {
        groups.entry(bucket(paper.day)).or_default().push(i);
    }
    let mut users: Vec<(&str, Vec<usize>)> = by_user.into_iter().filter(|(_, v)| v.len() >= MIN_SUBMISSIONS).collect();
    users.sort();
    let mut means: HashMap<(bool, Method), Mean> = HashMap::new();
    for (user, subs) in &users {
        let train = &subs[..subs.len() / 2];
        let last = *train.last().expect("at least three");
        let cutoff_day = c.papers[last].day;
        // The corpus known when training: every paper up to the last training day.
        let cutoff = c.papers.iter().position(|p| p.day > cutoff_day).unwrap_or(c.papers.len());
        let mut tests: HashMap<(i32, u32), HashSet<usize>> = HashMap::new();
        for &i in &subs[subs.len() / 2..] {
            if c.papers[i].day > cutoff_day {
                tests.entry(bucket(c.papers[i].day)).or_default().insert(i);
            }
        }
        let mut keys: Vec<_> = tests.keys().copied().collect();
        keys.sort();
        for &m in methods {
            let scorer = Scorer::train(c, m, train, cutoff, seed_of(user), p);
            let per: Vec<(f64, f64, f64)> = keys
                .iter()
                .map(|k| {
                    let candidates: Vec<usize> = groups[k].iter().copied().filter(|&i| c.papers[i].day > cutoff_day).collect();
                    scorer.evaluate(c, &candidates, &tests[k], p)
                })
                .collect();
            means.entry((tuning_half(user), m)).or_default().add_reader(&per);
        }
    }
    rows(&means, methods, if week { "submitters/week" } else { "submitters/day" })
}

/// Keywords (the most frequent) whose readers the keyword protocol evaluates.
pub const KEYWORDS: usize = 100;

/// The keyword-readers protocol for readers who liked `k` papers.
pub fn keyword_readers(c: &Corpus, methods: &[Method], k: usize, p: &Params) -> Vec<Row> {
    let mut freq: HashMap<&str, usize> = HashMap::new();
    for paper in &c.papers {
        for w in paper.keywords.iter().collect::<HashSet<_>>() {
            *freq.entry(w).or_default() += 1;
        }
    }
    let mut top: Vec<(&str, usize)> = freq.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    top.truncate(KEYWORDS);
    let mut means: HashMap<(bool, Method), Mean> = HashMap::new();
    for (term, _) in &top {
        let with: Vec<usize> = (0..c.papers.len()).filter(|&i| c.papers[i].keywords.iter().any(|w| w == term)).collect();
        if with.len() <= k {
            continue;
        }
        let liked = &with[..k];
        let cutoff_day = c.papers[liked[k - 1]].day;
        let cutoff = c.papers.iter().position(|p| p.day > cutoff_day).unwrap_or(c.papers.len());
        let candidates: Vec<usize> = (cutoff..c.papers.len()).collect();
        let relevant: HashSet<usize> = with.iter().copied().filter(|&i| i >= cutoff).collect();
        if relevant.is_empty() {
            continue;
        }
        for &m in methods {
            let scorer = Scorer::train(c, m, liked, cutoff, seed_of(term), p);
            let result = scorer.evaluate(c, &candidates, &relevant, p);
            means.entry((tuning_half(term), m)).or_default().add_reader(&[result]);
        }
    }
    rows(&means, methods, &format!("keywords/k={k}"))
}

fn rows(means: &HashMap<(bool, Method), Mean>, methods: &[Method], protocol: &str) -> Vec<Row> {
    let mut out = Vec::new();
    for (tuning, half) in [(true, "tuning"), (false, "held-out")] {
        let scores = |m: Method| means.get(&(tuning, m)).map(Mean::scores).unwrap_or_default();
        let best = methods.iter().copied().filter(|m| m.is_baseline()).max_by(|a, b| scores(*a).ndcg10.total_cmp(&scores(*b).ndcg10));
        for &m in methods {
            let margin = match (m, best, means.get(&(tuning, m))) {
                (Method::Paperboy, Some(b), Some(own)) => means.get(&(tuning, b)).map(|theirs| {
                    let diffs: Vec<f64> = own.ndcg().zip(theirs.ndcg()).map(|(a, b)| 100.0 * (a - b)).collect();
                    let (points, low, high) = bootstrap(&diffs, RESAMPLES);
                    Margin { baseline: b, points, low, high, better: diffs.iter().filter(|d| **d > 0.0).count(), worse: diffs.iter().filter(|d| **d < 0.0).count() }
                }),
                _ => None,
            };
            out.push(Row { protocol: protocol.to_owned(), half, method: m, scores: scores(m), margin });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_on_a_hand_worked_ranking() {
        // Relevant at ranks 2 and 4, three relevant in all.
        let (ndcg, recall, rr) = metrics(&[false, true, false, true, false], 3, 10);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let ideal = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((ndcg - dcg / ideal).abs() < 1e-12, "{ndcg}");
        assert!((recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((rr - 0.5).abs() < 1e-12);
        assert_eq!(metrics(&[true], 1, 10), (1.0, 1.0, 1.0));
        assert_eq!(metrics(&[false; 3], 0, 10), (0.0, 0.0, 0.0));
        // Beyond k counts for the reciprocal rank only.
        let (ndcg, recall, rr) = metrics(&[false, false, true], 1, 2);
        assert_eq!((ndcg, recall), (0.0, 0.0));
        assert!((rr - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn the_bootstrap_interval_brackets_the_mean_and_narrows_with_agreement() {
        let (mean, low, high) = bootstrap(&[2.0; 40], 1000);
        assert_eq!((mean, low, high), (2.0, 2.0, 2.0), "every reader the same: no spread");
        let mixed: Vec<f64> = (0..40).map(|i| if i % 2 == 0 { 3.0 } else { -1.0 }).collect();
        let (mean, low, high) = bootstrap(&mixed, 2000);
        assert!((mean - 1.0).abs() < 1e-12);
        // Sd of one draw is 2, of a mean of 40 about 0.32: the interval is about ±0.62.
        assert!(low < mean && mean < high && low > 0.2 && high < 1.8 && high - low > 0.8, "{low} {high}");
        assert_eq!(bootstrap(&mixed, 2000), (mean, low, high), "fixed seed: the same report every run");
    }

    #[test]
    fn halves_split_by_the_names_hash() {
        // SHA-256("a") starts with ca…, SHA-256("b") with 3e….
        assert!(!tuning_half("a"));
        assert!(tuning_half("b"));
    }

    #[test]
    fn a_tiny_corpus_ranks_the_readers_papers_first() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2025, 1, d).unwrap();
        let mut papers = Vec::new();
        let mut vectors = Vec::new();
        for d in 1..=12u32 {
            for j in 0..4u32 {
                let mine = j == 0;
                papers.push(EvalPaper {
                    id: format!("2501.{d:02}{j:03}"),
                    day: day(d),
                    text: if mine { format!("graph neural network message passing {d}") } else { format!("language model tokens decoding {d} {j}") },
                    upvotes: j,
                    submitter: mine.then(|| "ada".to_owned()),
                    keywords: vec![],
                    authors: vec![],
                });
                let v = if mine { vec![1.0, 0.1 * j as f32, 0.0] } else { vec![0.0, 1.0, 0.1 * j as f32] };
                let n = dot(&v, &v).sqrt();
                vectors.push(v.into_iter().map(|x| x / n).collect());
            }
        }
        let c = Corpus::new(papers, vectors);
        let params = super::super::PARAMS;
        let rows = submitters(&c, &[Method::Popularity, Method::Paperboy, Method::Embeddings, Method::MeanSimilarity], false, &params);
        let score = |m: Method| rows.iter().find(|r| r.method == m && r.scores.readers == 1).unwrap().scores;
        assert_eq!(score(Method::Paperboy).ndcg10, 1.0);
        assert_eq!(score(Method::Embeddings).ndcg10, 1.0);
        assert_eq!(score(Method::MeanSimilarity).ndcg10, 1.0);
        assert!(score(Method::Popularity).ndcg10 < 1.0, "the reader's papers have the fewest upvotes");
    }
}
