//! A synthetic corpus for measuring search at scale (`paperboy synth`).
//!
//! Embedding a million abstracts on two cores takes most of a day, so the large corpus is made
//! from the real papers (and vectors) already in a store: synthetic paper `i` takes three real
//! papers `a`, `b`, `c` chosen by a seeded generator; its title is the first half of `a`'s title
//! followed by the second half of `b`'s, its abstract `a`'s first sentences, `b`'s middle ones
//! and `c`'s last, its authors `a`'s, its vector the normalised mixture
//! `0.5·v(a) + 0.35·v(b) + 0.15·v(c)` (close to what the model would make of such a text: the
//! semantic neighbours of a synthetic paper are its parents' neighbours). Days spread evenly over
//! the two years before `last_day`. The same seed and sources give the same corpus.

use chrono::NaiveDate;
use paperboy_core::{Paper, PaperId, Source};
use paperboy_embed::Embedding;

use crate::search::service::{text_hash, walk_with_cached_vectors, Progress};
use crate::search::SearchError;
use crate::store::Store;

/// Papers written per transaction.
const BATCH: usize = 10_000;

/// A real paper with its vector.
struct Seed {
    paper: Paper,
    sentences: Vec<String>,
    vector: Vec<f32>,
}

/// splitmix64: small, seeded, good enough to pick papers.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// Adds `n` synthetic papers (ids `synth:0` … `synth:{n-1}`) with their vectors under `model`,
/// made from the papers of `store` that have a vector and an abstract. Returns how many real
/// papers seeded them.
pub fn generate(store: &mut dyn Store, model: &str, n: usize, last_day: NaiveDate, progress: Progress) -> Result<usize, SearchError> {
    let mut seeds = Vec::new();
    walk_with_cached_vectors(&*store, &*store, model, |paper, _, vector| {
        let synthetic = matches!(&paper.id, PaperId::External { source, .. } if source == "synth");
        if let (Some(vector), false, false) = (vector, paper.abstract_text.is_empty(), synthetic) {
            let sentences = paper.abstract_text.split_inclusive(". ").map(str::to_owned).collect();
            seeds.push(Seed { paper: paper.clone(), sentences, vector: vector.clone() });
        }
    })?;
    if seeds.len() < 3 {
        return Ok(seeds.len());
    }
    let mut rng = Rng(42);
    let first_day = last_day - chrono::Days::new(729);
    let mut done = 0;
    while done < n {
        let count = BATCH.min(n - done);
        let mut papers = Vec::with_capacity(count);
        let mut vectors = Vec::with_capacity(count);
        for i in done..done + count {
            let (a, b, c) = (&seeds[rng.below(seeds.len())], &seeds[rng.below(seeds.len())], &seeds[rng.below(seeds.len())]);
            let day = first_day + chrono::Days::new((i * 730 / n.max(1)) as u64);
            let paper = mix(i, [a, b, c], day);
            let mixed: Vec<f32> =
                (0..a.vector.len()).map(|d| 0.5 * a.vector[d] + 0.35 * b.vector[d] + 0.15 * c.vector[d]).collect();
            vectors.push((text_hash(&paper), Embedding::normalized(mixed).into_vec()));
            papers.push(paper);
        }
        store.upsert_papers(papers)?;
        store.cache_embeddings(model, &vectors)?;
        done += count;
        progress("synthetic papers", done as u64, n as u64);
    }
    Ok(seeds.len())
}

/// Synthetic paper `i` from three real ones.
fn mix(i: usize, [a, b, c]: [&Seed; 3], day: NaiveDate) -> Paper {
    let words_a: Vec<&str> = a.paper.title.split_whitespace().collect();
    let words_b: Vec<&str> = b.paper.title.split_whitespace().collect();
    let title = [&words_a[..words_a.len().div_ceil(2)], &words_b[words_b.len() / 2..]].concat().join(" ");
    let third = |s: &Seed| s.sentences.len().div_ceil(3);
    let mut text = String::new();
    text.extend(a.sentences.iter().take(third(a)).map(String::as_str));
    text.extend(b.sentences.iter().skip(third(b)).take(third(b)).map(String::as_str));
    text.extend(c.sentences.iter().skip(c.sentences.len() - third(c)).map(String::as_str));
    let mut paper = Paper::new(PaperId::External { source: "synth".into(), key: i.to_string() }, title, Source::Listing);
    paper.abstract_text = paperboy_core::text::fold_whitespace(&text);
    paper.authors = a.paper.authors.clone();
    paper.categories = a.paper.categories.clone();
    paper.listed_on = Some(day);
    paper.signals.hf_upvotes = b.paper.signals.hf_upvotes;
    paper
}
