//! "For you": a per-reader linear model over the paper embeddings.
//!
//! **The model** is an L2-regularised logistic regression with balanced class weights, fitted
//! by accelerated gradient descent ([`fit`]). Positives are the reader's upvotes, saved papers
//! and the papers of the authors they follow; negatives are their "not for me" papers plus a
//! background sample of papers drawn from the whole store (a different draw per reader, the
//! same draw every time for one reader). The reader's free-text interests, embedded like a
//! query, join the positives as one more example; with no positive at all the interests alone
//! rank (cold start), and an imported library counts as saved papers. The vectors are unit
//! length, so the loss is smooth with a known constant (¼ + λ) and a fixed step needs no line
//! search; the weights start from the difference of the class means, which is most of the way.
//!
//! **Explanations** ([`explain`]) name the 1–3 rated papers nearest to a pick with their cosine
//! similarity, the followed author who wrote it, or the interests it is close to.
//!
//! The same code serves the "For you" page, its feed, the digest section and `paperboy eval
//! recs` (which compares it with the peers' recipes on real data: `recommend::eval`).

pub mod eval;
pub mod tfidf;
pub mod whole;

pub use tfidf::{Lexicon, Sparse};
pub use whole::Whole;

use std::collections::HashSet;

use chrono::NaiveDate;
use paperboy_core::{Paper, PaperId};
use paperboy_embed::{dot, dot_f16};
use serde::Serialize;

use crate::readers::{author_key, Vote};
use crate::search::vectors::VectorSet;
use crate::search::{SearchError, SearchService};
use crate::store::{Store, StoreError};
use crate::subscriptions::Subscriber;

/// The model's settings (tuned on the evaluation's tuning half only; see BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// L2 penalty on the weights.
    pub lambda: f32,
    /// Gradient steps.
    pub iterations: usize,
    /// Background papers drawn as negatives.
    pub background: usize,
    /// How much of the embedding score is mean similarity to the positives (0: the linear
    /// model alone).
    pub mean_similarity: f32,
    /// The lexical half's weight when the halves' z-scores are summed, for a reader with up to
    /// [`PAR_POSITIVES`] positives; it grows in proportion past them (0 leaves the half out).
    pub lexical_weight: f32,
    /// What a paper's [`AuthorAffinity`] adds to its fused score, per unit (an author on every
    /// rated paper); 0 leaves authors out.
    pub author_weight: f32,
}

/// The settings paperboy uses.
pub const PARAMS: Params = Params { lambda: 0.01, iterations: 20, background: 128, mean_similarity: 0.3, lexical_weight: 1.5, author_weight: 10.0 };

/// Positives past which the lexical half counts for more: its weight in the fusion grows in
/// proportion to the positives, and so does its positive class's weight in the fit (each
/// positive keeps the weight it had at this many). A model of 20,000 word features needs
/// more examples than one of 384 dimensions to be trusted, and earns more trust with them.
pub const PAR_POSITIVES: usize = 5;

/// Recent papers the lexicon is fitted on at most (their rows are kept for ranking, and are the
/// lexical half's negatives).
pub const LEXICAL_PAPERS: usize = 30_000;
/// The lexical half's C (arxiv-sanity-lite's).
pub(crate) const LEXICAL_C: f32 = 0.01;

/// Positives per reader at most (the most recent), so training stays fast for any reader.
pub const MAX_POSITIVES: usize = 400;
/// Papers of one followed author that count as positives at most (the newest).
const PER_AUTHOR: usize = 20;

fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// The mean of unit vectors, normalised (zero when there are none).
pub fn centroid(vectors: &[&[f32]], dim: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; dim];
    for v in vectors {
        axpy(1.0, v, &mut c);
    }
    let norm = dot(&c, &c).sqrt();
    if norm > 0.0 {
        c.iter_mut().for_each(|x| *x /= norm);
    }
    c
}

/// Fits logistic-regression weights that score `pos` above `neg`: each class weighs the same in
/// the loss whatever its size (balanced), L2 penalty `lambda`, `iterations` steps of Nesterov's
/// accelerated gradient from the difference of the class means. Vectors are unit length.
pub fn fit(pos: &[&[f32]], neg: &[&[f32]], p: &Params) -> Vec<f32> {
    let dim = pos.first().or(neg.first()).map_or(0, |v| v.len());
    let (cp, cn) = (centroid(pos, dim), centroid(neg, dim));
    let mut w: Vec<f32> = cp.iter().zip(&cn).map(|(a, b)| a - b).collect();
    if pos.is_empty() || neg.is_empty() {
        return w;
    }
    let (wp, wn) = (0.5 / pos.len() as f32, 0.5 / neg.len() as f32);
    // With ‖x‖ = 1 and weights summing to 1 the loss's gradient is (¼ + λ)-Lipschitz.
    let step = 1.0 / (0.25 + p.lambda);
    let mut prev = w.clone();
    let mut y = w.clone();
    let mut grad = vec![0.0f32; dim];
    for t in 0..p.iterations {
        grad.iter_mut().zip(&y).for_each(|(g, yi)| *g = p.lambda * yi);
        for x in pos {
            axpy(wp * (sigmoid(dot(&y, x)) - 1.0), x, &mut grad);
        }
        for x in neg {
            axpy(wn * sigmoid(dot(&y, x)), x, &mut grad);
        }
        std::mem::swap(&mut prev, &mut w);
        w.iter_mut().zip(&y).zip(&grad).for_each(|((wi, yi), g)| *wi = yi - step * g);
        let momentum = t as f32 / (t as f32 + 3.0);
        y.iter_mut().zip(&w).zip(&prev).for_each(|((yi, wi), pi)| *yi = wi + momentum * (wi - pi));
    }
    w
}

/// Why a paper counts for a reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// They upvoted it.
    Upvoted,
    /// They saved it.
    Saved,
    /// One of its authors is followed.
    Follows {
        /// The author.
        author: String,
    },
}

impl Reason {
    /// "which you upvoted" and the like.
    pub fn words(&self) -> String {
        match self {
            Reason::Upvoted => "which you upvoted".into(),
            Reason::Saved => "which you saved".into(),
            Reason::Follows { author } => format!("by {author}, whom you follow"),
        }
    }
}

/// A paper the reader rated, with its vector and tf-idf row.
#[derive(Debug, Clone)]
pub struct Rated {
    /// The paper.
    pub paper: PaperId,
    /// Its title.
    pub title: String,
    /// Why it counts.
    pub reason: Reason,
    /// Its vector.
    pub vector: Vec<f32>,
    /// Its tf-idf row (empty without a lexicon).
    pub row: Sparse,
    /// Its authors' keys ([`paper_author_keys`]).
    pub authors: Vec<String>,
}

/// Everything a reader's model learns from.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Upvoted and saved papers and followed authors' papers (with vectors), most recent first.
    pub positives: Vec<Rated>,
    /// "Not for me" papers' vectors.
    pub negatives: Vec<Vec<f32>>,
    /// "Not for me" papers' tf-idf rows.
    pub negative_rows: Vec<Sparse>,
    /// The interests text and its vector.
    pub interests: Option<(String, Vec<f32>)>,
    /// Followed authors (key, name).
    pub authors: Vec<(String, String)>,
    /// Papers never to recommend: voted on (either way), saved, or already sent by email.
    pub exclude: HashSet<PaperId>,
}

/// A reader's model: weights to score with, and what it learned from (for explanations).
#[derive(Debug, Clone)]
pub struct ReaderModel {
    /// Linear weights (`score = w · x`).
    pub weights: Vec<f32>,
    /// The mean of the positives (with the interests), for the mean-similarity term.
    pub centroid: Vec<f32>,
    /// The lexical half: linear weights over the lexicon's features and a bias (empty without
    /// positives or a lexicon).
    pub lexical: Vec<f32>,
    /// The lexical half's weight in the fusion (see [`PAR_POSITIVES`]).
    pub lexical_weight: f32,
    /// The lexicon the lexical half was fitted with (set by [`model`]; ranking and explanations
    /// read rows from it, not from a lexicon refitted since).
    pub lexicon: Option<std::sync::Arc<Lexical>>,
    /// The authors the reader keeps coming back to.
    pub affinity: AuthorAffinity,
    /// What it learned from.
    pub inputs: Inputs,
}

/// The next number of a xorshift sequence (`state` non-zero): the generator every sample,
/// shuffle and random start of the model draws from, fixed per seed.
pub(crate) fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// `n` indexes below `len` drawn without repeats, ascending, none that `skip` names: the same
/// for one seed (xorshift). Every background sample, product and evaluation, is drawn here.
pub fn draw(len: usize, n: usize, seed: u64, skip: &dyn Fn(usize) -> bool) -> Vec<usize> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut chosen = HashSet::new();
    let mut tries = 0;
    while chosen.len() < n.min(len) && tries < 8 * n + 16 {
        tries += 1;
        let i = (xorshift(&mut state) % len.max(1) as u64) as usize;
        if !skip(i) {
            chosen.insert(i);
        }
    }
    let mut out: Vec<usize> = chosen.into_iter().collect();
    out.sort_unstable();
    out
}

/// A background sample: `n` slots of `set` (see [`draw`]), none of the papers in `skip`.
pub fn background(set: &VectorSet, n: usize, seed: u64, skip: &HashSet<PaperId>) -> Vec<usize> {
    draw(set.len(), n, seed, &|slot| skip.contains(&set.meta[slot].id))
}

impl ReaderModel {
    /// Trains on `inputs` (`seed` picks the background samples; the reader's id). With a
    /// lexicon, the lexical half is trained too, against its own background sample.
    pub fn train(inputs: Inputs, set: &VectorSet, lexical: Option<&Lexical>, seed: u64, p: &Params) -> ReaderModel {
        let mut pos: Vec<&[f32]> = inputs.positives.iter().map(|r| r.vector.as_slice()).collect();
        if let Some((_, v)) = &inputs.interests {
            pos.push(v);
        }
        let centroid = centroid(&pos, set.dim);
        let affinity = AuthorAffinity::of(inputs.positives.iter().map(|r| r.authors.as_slice()));
        if pos.is_empty() {
            return ReaderModel { weights: vec![0.0; set.dim], centroid, lexical: vec![], lexical_weight: 0.0, lexicon: None, affinity, inputs };
        }
        let skip: HashSet<PaperId> = inputs.positives.iter().map(|r| r.paper.clone()).collect();
        let sample: Vec<Vec<f32>> = background(set, p.background, seed, &skip).into_iter().map(|s| set.vector(s)).collect();
        let mut neg: Vec<&[f32]> = sample.iter().map(|v| v.as_slice()).collect();
        neg.extend(inputs.negatives.iter().map(|v| v.as_slice()));
        // "Not for me" counts as much as the whole background: it is what the reader said.
        let weights = if inputs.negatives.is_empty() {
            fit(&pos, &neg, p)
        } else {
            let mut w = fit(&pos, &neg, p);
            let own: Vec<&[f32]> = inputs.negatives.iter().map(|v| v.as_slice()).collect();
            let w_own = fit(&pos, &own, p);
            axpy(1.0, &w_own, &mut w);
            w
        };
        let lexical = match lexical {
            Some(lex) if p.lexical_weight > 0.0 && !inputs.positives.is_empty() => {
                let pos_rows: Vec<(&Sparse, bool)> = inputs.positives.iter().map(|r| (&r.row, lex.slots.contains_key(&r.paper))).collect();
                let neg_rows: Vec<&Sparse> = inputs.negative_rows.iter().collect();
                lex.whole.train(&pos_rows, &neg_rows)
            }
            _ => vec![],
        };
        let lexical_weight = lexical_weight(p, inputs.positives.len());
        ReaderModel { weights, centroid, lexical, lexical_weight, lexicon: None, affinity, inputs }
    }

    /// Whether the model has nothing to go on (no rated paper, no interests).
    pub fn is_empty(&self) -> bool {
        self.inputs.positives.is_empty() && self.inputs.interests.is_none()
    }

    /// The score of a paper's vector: the linear model plus the mean-similarity term.
    pub fn score(&self, v: &[f32], p: &Params) -> f32 {
        let norm = dot(&self.weights, &self.weights).sqrt().max(1e-6);
        (1.0 - p.mean_similarity) * dot(&self.weights, v) / norm + p.mean_similarity * dot(&self.centroid, v)
    }

    /// [`ReaderModel::score`] of a vector as the vector set stores it (f16), without converting it.
    pub fn score_stored(&self, v: &[half::f16], p: &Params) -> f32 {
        let norm = dot(&self.weights, &self.weights).sqrt().max(1e-6);
        (1.0 - p.mean_similarity) * dot_f16(&self.weights, v) / norm + p.mean_similarity * dot_f16(&self.centroid, v)
    }
}

/// The lexical half's weight in the fusion for a reader with `positives` (see [`PAR_POSITIVES`]).
pub fn lexical_weight(p: &Params, positives: usize) -> f32 {
    p.lexical_weight * positives.max(PAR_POSITIVES) as f32 / PAR_POSITIVES as f32
}

/// Sums the two halves' z-scores over one set of candidates, the lexical one weighted
/// (`lexical` empty: the embedding scores alone).
pub fn fuse(embedding: &[f32], lexical: &[f32], lexical_weight: f32) -> Vec<f32> {
    fn z(x: &[f32]) -> Vec<f32> {
        let n = x.len().max(1) as f32;
        let mean = x.iter().sum::<f32>() / n;
        let sd = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n).sqrt().max(1e-6);
        x.iter().map(|v| (v - mean) / sd).collect()
    }
    if lexical.len() != embedding.len() {
        return embedding.to_vec();
    }
    z(embedding).into_iter().zip(z(lexical)).map(|(e, l)| e + lexical_weight * l).collect()
}

/// Adds each candidate's author affinity (see [`AuthorAffinity`]), times `weight`, to its fused
/// score (`affinity` empty: nothing).
pub fn add_affinity(fused: &mut [f32], affinity: &[f32], weight: f32) {
    for (f, a) in fused.iter_mut().zip(affinity) {
        *f += weight * a;
    }
}

/// Rated papers one author must be on to count for the reader (see [`AuthorAffinity`]).
pub const AUTHOR_PAPERS: usize = 3;

/// The authors a reader keeps coming back to: each author on [`AUTHOR_PAPERS`] or more of the
/// reader's rated papers, with how many. A paper's affinity adds up, over its authors, the
/// share of the rated papers each one is on; [`Params::author_weight`] times it is added to
/// the fused score. Most of what a reader rates may be by one group (their own, their
/// colleagues', an author they follow): the topic models see only what that group writes
/// about, not who wrote it. An author on one or two rated papers says little, so they do not
/// count (a reader of a topic rates papers from many groups).
#[derive(Debug, Clone, Default)]
pub struct AuthorAffinity {
    counts: std::collections::HashMap<String, usize>,
    rated: usize,
}

impl AuthorAffinity {
    /// From the rated papers' authors (keys, [`author_key`], each once per paper).
    pub fn of<'a>(rated: impl IntoIterator<Item = &'a [String]>) -> AuthorAffinity {
        let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut n = 0;
        for authors in rated {
            n += 1;
            for a in authors {
                *counts.entry(a.clone()).or_default() += 1;
            }
        }
        counts.retain(|_, c| *c >= AUTHOR_PAPERS);
        AuthorAffinity { counts, rated: n }
    }

    /// A paper's affinity, by its authors' keys: the sum of the shares of the rated papers
    /// each one is on (0 when none counts).
    pub fn score(&self, authors: &[String]) -> f32 {
        authors.iter().filter_map(|a| self.counts.get(a)).map(|&c| c as f32 / self.rated as f32).sum()
    }

    /// How many rated papers the author `key` is on, when that counts.
    pub fn papers(&self, key: &str) -> Option<usize> {
        self.counts.get(key).copied()
    }

    /// True when no author counts.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// The lexical side of the store: a tf-idf lexicon fitted on recent papers, with their rows
/// (the candidates, and the negatives of every reader's lexical half through the statistics
/// in [`Whole`]).
#[derive(Debug, Default)]
pub struct Lexical {
    /// The vocabulary and idf.
    pub lexicon: Lexicon,
    rows: Vec<Sparse>,
    /// The authors' keys of the papers of `rows`, in the same order.
    authors: Vec<Vec<String>>,
    slots: std::collections::HashMap<PaperId, usize>,
    /// The rows' share of every reader's fit.
    whole: Whole,
    /// Vectors in the search service when it was fitted (it is fitted again as papers arrive).
    pub fitted_at: usize,
    /// The day of the oldest paper it was fitted on (set by the search service): papers of that
    /// day or later that arrive after the fit get rows here (see [`Lexical::add_later`]).
    pub since: Option<NaiveDate>,
    /// Rows, made with this vocabulary, of the papers that reached the service after the fit
    /// (see [`Lexical::add_later`]): ranked like the others until the next fit.
    later: std::sync::RwLock<std::collections::HashMap<PaperId, (Sparse, Vec<String>)>>,
    /// Vectors in the search service when rows were last added for new papers.
    pub(crate) covered: std::sync::Mutex<usize>,
}

impl Lexical {
    /// Fits on `papers` (their titles and abstracts; their authors' keys are kept), in the
    /// [`crate::background_pool`].
    pub fn fit(papers: &[Paper], fitted_at: usize) -> Lexical {
        crate::background_pool().install(|| Self::fit_here(papers, fitted_at))
    }

    fn fit_here(papers: &[Paper], fitted_at: usize) -> Lexical {
        let texts: Vec<String> = papers.iter().map(text_of).collect();
        let lexicon = Lexicon::fit(&texts.iter().map(String::as_str).collect::<Vec<_>>(), &tfidf::PAPERBOY);
        let rows: Vec<Sparse> = texts.iter().map(|t| lexicon.row(t)).collect();
        let authors = papers.iter().map(paper_author_keys).collect();
        let slots = papers.iter().enumerate().map(|(i, p)| (p.id.clone(), i)).collect();
        let whole = Whole::fit(&rows.iter().collect::<Vec<_>>(), lexicon.len(), LEXICAL_C, 1);
        Lexical { lexicon, rows, authors, slots, whole, fitted_at, since: None, later: Default::default(), covered: std::sync::Mutex::new(fitted_at) }
    }

    /// A paper's row (kept, or made from its text).
    pub fn row_of(&self, paper: &Paper) -> Sparse {
        match self.slots.get(&paper.id) {
            Some(&i) => self.rows[i].clone(),
            None => self.later.read().expect("rows lock").get(&paper.id).map(|(row, _)| row.clone()).unwrap_or_else(|| self.lexicon.row(&text_of(paper))),
        }
    }

    /// Keeps the rows of `papers` (papers that arrived after the fit, without a row yet), so
    /// that rankings read them like the fitted ones.
    pub fn add_later(&self, papers: &[Paper]) {
        let new: Vec<(PaperId, (Sparse, Vec<String>))> = papers.iter().map(|p| (p.id.clone(), (self.lexicon.row(&text_of(p)), paper_author_keys(p)))).collect();
        self.later.write().expect("rows lock").extend(new);
    }

    /// Whether a row is kept for `id`.
    pub fn has_row(&self, id: &PaperId) -> bool {
        self.slots.contains_key(id) || self.later.read().expect("rows lock").contains_key(id)
    }

    /// The lexical scores (`w`, see [`tfidf::score`]) of the papers `ids`, or `None` when one of
    /// them has no row kept.
    pub fn scores<'a>(&self, w: &[f32], ids: impl IntoIterator<Item = &'a PaperId>) -> Option<Vec<f32>> {
        let later = self.later.read().expect("rows lock");
        ids.into_iter().map(|id| self.row(id).or_else(|| later.get(id).map(|(row, _)| row)).map(|r| tfidf::score(w, r))).collect()
    }

    /// The [`AuthorAffinity`] of the papers `ids` (0 for a paper with no row kept).
    pub fn affinities<'a>(&self, affinity: &AuthorAffinity, ids: impl IntoIterator<Item = &'a PaperId>) -> Vec<f32> {
        let later = self.later.read().expect("rows lock");
        ids.into_iter()
            .map(|id| match self.slots.get(id) {
                Some(&i) => affinity.score(&self.authors[i]),
                None => later.get(id).map_or(0.0, |(_, authors)| affinity.score(authors)),
            })
            .collect()
    }

    /// Whether it is still in date with `vectors` papers having vectors: until a tenth more
    /// than it was fitted at.
    pub fn in_date(&self, vectors: usize) -> bool {
        vectors <= self.fitted_at + self.fitted_at / 10
    }

    /// The papers it was fitted on.
    pub fn papers(&self) -> usize {
        self.rows.len()
    }

    /// A kept row, by paper.
    pub fn row(&self, id: &PaperId) -> Option<&Sparse> {
        self.slots.get(id).map(|&i| &self.rows[i])
    }
}

/// The text a paper's lexical row reads: title and abstract (its authors count through
/// [`AuthorAffinity`]).
pub fn text_of(p: &Paper) -> String {
    paperboy_embed::paper_text(&p.title, &p.abstract_text)
}

/// A paper's authors' keys ([`author_key`]), each once.
pub fn paper_author_keys(p: &Paper) -> Vec<String> {
    author_keys(p.authors.iter().map(|a| a.name.as_str()))
}

/// The keys ([`author_key`]) of authors' `names`, each once.
pub fn author_keys<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for name in names {
        let key = author_key(name);
        if !key.is_empty() && !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// One recommended paper.
#[derive(Debug, Clone, Serialize)]
pub struct Pick {
    /// The paper.
    pub paper: PaperId,
    /// Its score.
    pub score: f32,
    /// Why, nearest reasons first.
    pub because: Vec<Because>,
}

/// One reason for a pick.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Because {
    /// Close to a paper the reader rated.
    CloseTo {
        /// That paper.
        paper: PaperId,
        /// Its title.
        title: String,
        /// How the reader rated it.
        reason: Reason,
        /// Cosine similarity.
        similarity: f32,
    },
    /// Written by an author the reader follows.
    Author {
        /// The author.
        name: String,
    },
    /// Written by an author of several of the papers the reader rated (see [`AuthorAffinity`]).
    AuthorOf {
        /// The author, as the pick names them.
        name: String,
        /// Rated papers they are an author of.
        papers: usize,
    },
    /// Shares terms with the papers the reader rated, terms their model weighs in the pick's
    /// favour (the lexical half).
    Terms {
        /// Each term, with how many of the rated papers carry it; the weightiest first.
        terms: Vec<(String, usize)>,
    },
    /// Close to the reader's interests.
    Interests {
        /// The interests text.
        text: String,
        /// Cosine similarity.
        similarity: f32,
    },
}

impl Because {
    /// The reason in words, with its number.
    pub fn words(&self) -> String {
        match self {
            Because::CloseTo { title, reason, similarity, .. } => format!("close to “{title}” ({similarity:.2}), {}", reason.words()),
            Because::Author { name } => format!("by {name}, whom you follow"),
            Because::AuthorOf { name, papers } => format!("by {name}, an author of {papers} papers you rated"),
            Because::Terms { terms } => {
                let listed: Vec<String> = terms.iter().map(|(t, n)| format!("“{t}” ({n} of them)")).collect();
                format!("shares terms with papers you rated: {}", listed.join(", "))
            }
            Because::Interests { text, similarity } => format!("close to your interests “{text}” ({similarity:.2})"),
        }
    }
}

/// Terms shown in an explanation at most.
const TERMS: usize = 3;
/// The reader's terms an explanation may name: the terms of their rated papers (of two or more,
/// when they rated that many) that the model weighs most. Past ten, terms that say little about
/// a topic ("while maintaining", "https github") came in on the demo corpus.
const PROFILE_TERMS: usize = 10;

/// Whether `word` is an English stop word (the full-text index's list).
fn is_stop_word(word: &str) -> bool {
    use tantivy::tokenizer::{Language, LowerCaser, SimpleTokenizer, StopWordFilter, TextAnalyzer};
    thread_local! {
        static STOP: std::cell::RefCell<Option<TextAnalyzer>> = std::cell::RefCell::new(
            StopWordFilter::new(Language::English).map(|stop| TextAnalyzer::builder(SimpleTokenizer::default()).filter(LowerCaser).filter(stop).build()),
        );
    }
    STOP.with(|a| a.borrow_mut().as_mut().is_some_and(|a| !a.token_stream(word).advance()))
}

/// A feature's term when it can name a topic in an explanation: not a stop word, a number or a
/// piece of a web address, nor in over half the papers.
fn nameable(lexicon: &Lexicon, feature: u32) -> Option<&str> {
    let (name, idf) = (lexicon.name(feature)?, lexicon.idf(feature)?);
    // idf = ln((1 + n) / (1 + df)) + 1: below 1 + ln 2, the term is in over half the papers.
    let common = idf < 1.0 + std::f32::consts::LN_2;
    let filler = |w: &str| is_stop_word(w) || w.chars().all(char::is_numeric) || ["http", "https", "www", "com"].contains(&w);
    (!common && !name.split(' ').any(filler)).then_some(name)
}

/// The terms that make most of a paper's lexical score for the reader: features of its `row`
/// among the reader's [`PROFILE_TERMS`] that the model weighs in its favour (weight × value >
/// 0), largest first, at most [`TERMS`], no two sharing a word, each one [`nameable`]. Each with
/// how many rated papers carry it.
pub fn shared_terms(model: &ReaderModel, lexicon: &Lexicon, row: &Sparse) -> Vec<(String, usize)> {
    if model.lexical.is_empty() {
        return vec![];
    }
    let mut carried: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for r in &model.inputs.positives {
        for (f, _) in &r.row {
            *carried.entry(*f).or_default() += 1;
        }
    }
    let weight = |f: u32| model.lexical.get(f as usize).copied().unwrap_or(0.0);
    let least = model.inputs.positives.len().min(2);
    let mut profile: Vec<(f32, u32)> = carried.iter().filter(|(f, n)| **n >= least && nameable(lexicon, **f).is_some()).map(|(f, _)| (weight(*f), *f)).collect();
    profile.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    profile.truncate(PROFILE_TERMS);
    let profile: HashSet<u32> = profile.into_iter().map(|(_, f)| f).collect();
    let mut weighty: Vec<(f32, u32)> = row.iter().filter(|(f, _)| profile.contains(f)).map(|(f, x)| (weight(*f) * x, *f)).filter(|(c, _)| *c > 0.0).collect();
    weighty.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    // Every profile term is nameable already.
    let named: Vec<(u32, &str)> = weighty.iter().filter_map(|&(_, f)| Some((f, lexicon.name(f)?))).collect();
    let mut used: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for &(f, name) in &named {
        // A word stands for the pair of words it is weighed in, when there is one: "policy
        // optimization" says more than "optimization".
        let (f, name) = match name.contains(' ') {
            true => (f, name),
            false => named
                .iter()
                .copied()
                .find(|(_, pair)| pair.contains(' ') && pair.split(' ').any(|w| w == name) && pair.split(' ').all(|w| !used.contains(w)))
                .unwrap_or((f, name)),
        };
        let words: Vec<&str> = name.split(' ').collect();
        if words.iter().any(|w| used.contains(w)) {
            continue;
        }
        used.extend(words);
        out.push((name.to_owned(), carried[&f]));
        if out.len() == TERMS {
            break;
        }
    }
    out
}

/// Why `paper` (with vector `v`, and its tf-idf row in the lexicon when there is one) suits
/// the reader: a followed author, an author of several rated papers, the 1–3 nearest rated papers, the terms it shares with them
/// that the model weighs, the interests when they are close.
pub fn explain(model: &ReaderModel, paper: &Paper, v: &[f32], lexical: Option<(&Lexicon, &Sparse)>) -> Vec<Because> {
    let mut out = Vec::new();
    let keyed: Vec<(String, &String)> = paper.authors.iter().map(|a| (author_key(&a.name), &a.name)).collect();
    let followed = |key: &str| model.inputs.authors.iter().any(|(k, _)| k == key);
    for (key, name) in &model.inputs.authors {
        if keyed.iter().any(|(k, _)| k == key) {
            out.push(Because::Author { name: name.clone() });
        }
    }
    // The author of the most rated papers among the pick's (the first named, on a tie), unless
    // followed (said above).
    let frequent = keyed
        .iter()
        .filter(|(key, _)| !followed(key))
        .filter_map(|(key, name)| model.affinity.papers(key).map(|n| (n, *name)))
        .reduce(|best, next| if next.0 > best.0 { next } else { best });
    if let Some((papers, name)) = frequent {
        out.push(Because::AuthorOf { name: name.clone(), papers });
    }
    let mut near: Vec<(f32, &Rated)> = model.inputs.positives.iter().filter(|r| r.paper != paper.id).map(|r| (dot(&r.vector, v), r)).collect();
    near.sort_by(|a, b| b.0.total_cmp(&a.0));
    near.dedup_by(|a, b| a.1.paper == b.1.paper);
    for (i, (similarity, r)) in near.into_iter().take(3).enumerate() {
        // The nearest always; the next ones when they are close too.
        if i == 0 || similarity >= 0.5 {
            out.push(Because::CloseTo { paper: r.paper.clone(), title: r.title.clone(), reason: r.reason.clone(), similarity });
        }
    }
    if let Some((lexicon, row)) = lexical {
        let terms = shared_terms(model, lexicon, row);
        if !terms.is_empty() {
            out.push(Because::Terms { terms });
        }
    }
    if let Some((text, iv)) = &model.inputs.interests {
        let similarity = dot(iv, v);
        if model.inputs.positives.is_empty() || similarity >= 0.3 {
            out.push(Because::Interests { text: text.clone(), similarity });
        }
    }
    out
}

/// What a reader told the store, as the model reads it.
struct Rating {
    /// Upvoted, saved and followed authors' papers (at most [`MAX_POSITIVES`], each once).
    rated: Vec<(PaperId, Reason)>,
    /// "Not for me" papers.
    not_for_me: Vec<PaperId>,
    /// Papers voted on or saved.
    exclude: HashSet<PaperId>,
    /// Followed authors.
    follows: Vec<crate::readers::Follow>,
}

fn rating(store: &dyn Store, reader: &Subscriber) -> Result<Rating, StoreError> {
    let votes = store.votes(reader.id)?;
    let mut rated: Vec<(PaperId, Reason)> = votes.iter().filter(|v| v.vote == Vote::Up).map(|v| (v.paper.clone(), Reason::Upvoted)).collect();
    let not_for_me: Vec<PaperId> = votes.iter().filter(|v| v.vote == Vote::NotForMe).map(|v| v.paper.clone()).collect();
    let mut exclude: HashSet<PaperId> = votes.iter().map(|v| v.paper.clone()).collect();
    for c in store.collections(reader.id)? {
        for s in store.saved_papers(c.id)? {
            exclude.insert(s.paper.clone());
            rated.push((s.paper, Reason::Saved));
        }
    }
    let follows = store.follows(reader.id)?;
    for f in &follows {
        for p in store.papers_by_authors(std::slice::from_ref(&f.key), None, 0, PER_AUTHOR)? {
            rated.push((p.id, Reason::Follows { author: f.name.clone() }));
        }
    }
    let mut seen = HashSet::new();
    rated.retain(|(id, _)| seen.insert(id.clone()));
    rated.truncate(MAX_POSITIVES);
    Ok(Rating { rated, not_for_me, exclude, follows })
}

/// The authors that count for the reader's model (see [`AuthorAffinity`]), with how many of
/// their rated papers each is on, most first; followed authors left out (they are listed as
/// such). Read from the store alone, for the page that shows what the model learns from.
pub fn frequent_authors(store: &dyn Store, reader: &Subscriber) -> Result<Vec<(String, usize)>, StoreError> {
    let Rating { rated, follows, .. } = rating(store, reader)?;
    let papers = store.papers(&rated.into_iter().map(|(id, _)| id).collect::<Vec<_>>())?;
    let keys: Vec<Vec<String>> = papers.iter().map(paper_author_keys).collect();
    let affinity = AuthorAffinity::of(keys.iter().map(Vec::as_slice));
    let followed: HashSet<&str> = follows.iter().map(|f| f.key.as_str()).collect();
    let mut out: Vec<(String, usize)> = Vec::new();
    let mut seen = HashSet::new();
    for p in &papers {
        for a in &p.authors {
            let key = author_key(&a.name);
            if let Some(n) = affinity.papers(&key).filter(|_| !followed.contains(key.as_str())) {
                if seen.insert(key) {
                    out.push((a.name.clone(), n));
                }
            }
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(out)
}

/// What a reader's model learns from, read from the store; vectors from the search service,
/// tf-idf rows from `lexical`.
pub fn inputs(store: &dyn Store, search: &SearchService, lexical: &Lexical, reader: &Subscriber) -> Result<Inputs, RecommendError> {
    inputs_from(rating(store, reader)?, store, search, lexical, reader)
}

fn inputs_from(rating: Rating, store: &dyn Store, search: &SearchService, lexical: &Lexical, reader: &Subscriber) -> Result<Inputs, RecommendError> {
    let Rating { rated, not_for_me, exclude, follows } = rating;
    let mut wanted: Vec<PaperId> = rated.iter().map(|(id, _)| id.clone()).collect();
    wanted.extend(not_for_me.iter().cloned());
    let stored: std::collections::HashMap<PaperId, Paper> = store.papers(&wanted)?.into_iter().map(|p| (p.id.clone(), p)).collect();
    let row = |id: &PaperId| stored.get(id).map(|p| lexical.row_of(p)).unwrap_or_default();
    let negative_rows: Vec<Sparse> = not_for_me.iter().map(row).collect();
    let interests = match reader.interests.text.trim() {
        "" => None,
        text => Some((text.to_owned(), search.text_vector(text)?)),
    };
    let (positives, negatives) = search.with_vectors(|set| {
        let vector = |id: &PaperId| set.slot_of(id).map(|s| set.vector(s));
        let positives = rated
            .into_iter()
            .filter_map(|(paper, reason)| {
                let vector = vector(&paper)?;
                let title = stored.get(&paper).map_or_else(|| paper.to_string(), |p| p.title.clone());
                let authors = stored.get(&paper).map(paper_author_keys).unwrap_or_default();
                Some(Rated { title, row: row(&paper), authors, paper, reason, vector })
            })
            .collect();
        (positives, not_for_me.iter().filter_map(vector).collect())
    });
    Ok(Inputs { positives, negatives, negative_rows, interests, authors: follows.into_iter().map(|f| (f.key, f.name)).collect(), exclude })
}

/// Why a recommendation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The search service (vectors, the interests' embedding) failed.
    #[error(transparent)]
    Search(#[from] SearchError),
}

/// The reader's model, trained now.
pub fn model(store: &dyn Store, search: &SearchService, reader: &Subscriber) -> Result<ReaderModel, RecommendError> {
    let rating = rating(store, reader)?;
    // With nothing rated there is no lexical half to train: a new reader's first page does not
    // wait for a lexicon to be fitted (seconds at 30,000 papers); the one there is serves.
    let lexical = match rating.rated.is_empty() {
        true => search.current_lexical().unwrap_or_default(),
        false => search.lexical(store)?,
    };
    let inputs = inputs_from(rating, store, search, &lexical, reader)?;
    let mut model = search.with_vectors(|set| ReaderModel::train(inputs, set, Some(&lexical), reader.id as u64, &PARAMS));
    model.lexicon = Some(lexical);
    Ok(model)
}

/// The best papers for the reader among those whose day is in `from..=to`, never one in
/// `model.inputs.exclude` or `also_exclude`; `limit` of them after skipping `offset`.
pub fn recommend(search: &SearchService, model: &ReaderModel, from: NaiveDate, to: NaiveDate, also_exclude: &HashSet<PaperId>, offset: usize, limit: usize) -> Vec<(PaperId, f32)> {
    if model.is_empty() {
        return vec![];
    }
    let lexical = &model.lexicon;
    search.with_vectors(|set| {
        let candidates: Vec<usize> = (0..set.len())
            .filter(|&s| set.meta[s].day.is_some_and(|d| d >= from && d <= to))
            .filter(|&s| !model.inputs.exclude.contains(&set.meta[s].id) && !also_exclude.contains(&set.meta[s].id))
            .collect();
        let embedding: Vec<f32> = candidates.iter().map(|&s| model.score_stored(set.stored(s), &PARAMS)).collect();
        let lexical_scores: Vec<f32> = match lexical {
            // A paper without a row (one that arrived after the lexicon was last extended)
            // leaves the ranking to the embedding half.
            Some(lex) if !model.lexical.is_empty() => lex.scores(&model.lexical, candidates.iter().map(|&s| &set.meta[s].id)).unwrap_or_default(),
            _ => vec![],
        };
        let mut fused = fuse(&embedding, &lexical_scores, model.lexical_weight);
        if let Some(lex) = lexical.as_ref().filter(|_| !model.affinity.is_empty()) {
            add_affinity(&mut fused, &lex.affinities(&model.affinity, candidates.iter().map(|&s| &set.meta[s].id)), PARAMS.author_weight);
        }
        let mut scored: Vec<(usize, f32)> = candidates.into_iter().zip(fused).collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.into_iter().skip(offset).take(limit).map(|(s, score)| (set.meta[s].id.clone(), score)).collect()
    })
}

/// Explanations for `papers` (with the vectors the search service holds).
pub fn explain_all(search: &SearchService, model: &ReaderModel, papers: &[Paper]) -> Vec<Vec<Because>> {
    let lexical = &model.lexicon;
    search.with_vectors(|set| {
        papers
            .iter()
            .map(|p| {
                let row = lexical.as_ref().map(|l| (&l.lexicon, l.row_of(p)));
                set.slot_of(&p.id).map(|s| explain(model, p, &set.vector(s), row.as_ref().map(|(l, r)| (*l, r)))).unwrap_or_default()
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = dot(v, v).sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn the_model_learns_a_direction_and_negatives_push_away() {
        // Positives lean on axis 0, negatives on axis 1; a "not for me" near axis 2.
        let pos: Vec<Vec<f32>> = (0..5).map(|i| unit(&[1.0, 0.1 * i as f32, 0.0, 0.2])).collect();
        let neg: Vec<Vec<f32>> = (0..20).map(|i| unit(&[0.1, 1.0, 0.05 * i as f32, 0.3])).collect();
        let w = fit(&pos.iter().map(|v| v.as_slice()).collect::<Vec<_>>(), &neg.iter().map(|v| v.as_slice()).collect::<Vec<_>>(), &PARAMS);
        let (a, b) = (unit(&[1.0, 0.0, 0.0, 0.1]), unit(&[0.0, 1.0, 0.0, 0.1]));
        assert!(dot(&w, &a) > dot(&w, &b), "{w:?}");
        // With no negatives the weights are the positives' mean.
        let only = fit(&[&a], &[], &PARAMS);
        assert!((dot(&only, &a) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn the_halves_are_fused_on_one_scale() {
        // Embedding scores spread little, lexical ones a lot: z-scores put them level, so the
        // lexical half's wide spread does not decide alone.
        let fused = fuse(&[0.30, 0.31, 0.29], &[5.0, -5.0, 0.0], 1.0);
        assert!(fused[0] > fused[1] && fused[1] > fused[2], "{fused:?}");
        assert!((fused[1] - 0.0).abs() < 1e-3, "the middle embedding score and the lowest lexical one cancel: {fused:?}");
        assert_eq!(fuse(&[1.0, 2.0], &[], 1.5), vec![1.0, 2.0], "no lexical half: the embedding scores");
        let lex = Lexical::fit(&[], 0);
        assert!(lex.lexicon.is_empty() && lex.row(&"2401.00001".parse().unwrap()).is_none());
    }

    #[test]
    fn authors_count_from_three_rated_papers_by_their_share() {
        let keys = |names: &[&str]| author_keys(names.iter().copied());
        let rated = [keys(&["Ada Lovelace", "Alan Turing"]), keys(&["ada  lovelace", "Grace Hopper"]), keys(&["Ada Lovelace", "Alan Turing"]), keys(&["Alan Turing"]), keys(&["Kurt Gödel"])];
        let affinity = AuthorAffinity::of(rated.iter().map(Vec::as_slice));
        // Ada and Alan are on three of five rated papers; Grace on one, Kurt on one.
        assert_eq!((affinity.papers("ada lovelace"), affinity.papers("alan turing"), affinity.papers("grace hopper")), (Some(3), Some(3), None));
        assert!((affinity.score(&keys(&["Ada Lovelace"])) - 0.6).abs() < 1e-6);
        assert!((affinity.score(&keys(&["Ada Lovelace", "Alan Turing", "Grace Hopper"])) - 1.2).abs() < 1e-6, "shares add up");
        assert_eq!(affinity.score(&keys(&["Grace Hopper", "Kurt Gödel"])), 0.0);
        assert!(AuthorAffinity::of(rated[..2].iter().map(Vec::as_slice)).is_empty(), "two papers are not enough");
        assert_eq!(keys(&["Ada Lovelace", "ADA LOVELACE", " "]), ["ada lovelace"], "each author once, blank names skipped");
        let mut fused = vec![1.0, 2.0];
        add_affinity(&mut fused, &[0.5, 0.0], PARAMS.author_weight);
        assert!(fused[0] > fused[1], "an author on half the rated papers outweighs a z-score apart: {fused:?}");
    }

    #[test]
    fn a_background_sample_is_fixed_per_seed_and_skips_what_it_is_told() {
        let mut set = VectorSet::new(2);
        for i in 0..50 {
            let id: PaperId = format!("2401.{:05}", i + 1).parse().unwrap();
            set.push_keyed(crate::search::vectors::SlotMeta { id, day: None, categories: vec![] }, &unit(&[1.0, i as f32]), i);
        }
        let skip: HashSet<PaperId> = ["2401.00001".parse().unwrap()].into_iter().collect();
        let a = background(&set, 10, 7, &skip);
        assert_eq!(a, background(&set, 10, 7, &skip));
        assert_ne!(a, background(&set, 10, 8, &skip));
        assert_eq!(a.iter().collect::<HashSet<_>>().len(), 10);
        assert!(!a.contains(&0));
        assert_eq!(background(&set, 500, 1, &HashSet::new()).len(), 50);
    }
}
