//! arxiv-sanity-lite's recipe (the evaluation's baseline; paperboy's lexical half uses its
//! features without the document-frequency ceiling, [`PAPERBOY`]): tf-idf features (word 1- and
//! 2-grams, the 20,000 most frequent terms with document frequency ≥ 5 and ≤ 10% of the papers,
//! sublinear tf, smoothed idf, rows of unit length; as scikit-learn's `TfidfVectorizer`) and a
//! linear SVM per reader (squared hinge loss, L2, `C = 0.01`, balanced class weights, a bias
//! feature; as scikit-learn's `LinearSVC`, solved by the same dual coordinate descent as
//! liblinear).

use std::collections::HashMap;

/// A sparse row: (feature, value), features ascending.
pub type Sparse = Vec<(u32, f32)>;

/// The vectorizer's settings (arxiv-sanity-lite's).
#[derive(Debug, Clone, Copy)]
pub struct TfidfParams {
    /// Features kept at most (the most frequent over the corpus).
    pub max_features: usize,
    /// Least documents a term is in.
    pub min_df: usize,
    /// Largest share of documents a term is in.
    pub max_df: f32,
}

/// arxiv-sanity-lite's settings.
pub const ARXIV_SANITY: TfidfParams = TfidfParams { max_features: 20_000, min_df: 5, max_df: 0.1 };

/// paperboy's lexical half: arxiv-sanity-lite's but with no ceiling on a term's document
/// frequency. On a corpus as focused as a reader's field, the ceiling drops the very terms that
/// name its big topics ("language models", "diffusion" in papers of machine learning), which
/// are what a reader following one of them is after; idf already weighs common terms down, and
/// a term in every paper is absorbed by the bias. Chosen on `paperboy eval recs`'s tuning half
/// (see BENCHMARKS.md).
pub const PAPERBOY: TfidfParams = TfidfParams { max_df: 1.0, ..ARXIV_SANITY };

/// The words of a text (two or more letters, digits or `_`; scikit-learn's default pattern),
/// lower case, each handed to `each`.
fn for_words(text: &str, buf: &mut String, each: &mut dyn FnMut(&str)) {
    for w in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if w.len() < 2 || (w.chars().nth(1).is_none()) {
            continue;
        }
        buf.clear();
        if w.is_ascii() {
            buf.push_str(w);
            buf.make_ascii_lowercase();
        } else {
            buf.extend(w.chars().flat_map(char::to_lowercase));
        }
        each(buf);
    }
}

/// A term: a word (`UNIGRAM | word`) or two words in a row (`first << 32 | second`).
const UNIGRAM: u64 = 0xFFFF_FFFF << 32;

/// A fitted vocabulary with each term's idf.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    words: HashMap<String, u32>,
    index: HashMap<u64, u32>,
    idf: Vec<f32>,
    /// Each feature's term as text ("language models"), for explanations.
    names: Vec<String>,
}

impl Lexicon {
    /// The terms of a document: each word's id from `id_of` (`None`: a word in no term, which
    /// also breaks the bigram across it).
    fn terms(doc: &str, buf: &mut String, out: &mut Vec<u64>, id_of: &mut dyn FnMut(&str) -> Option<u32>) {
        out.clear();
        let mut prev: Option<u32> = None;
        for_words(doc, buf, &mut |w| {
            let id = id_of(w);
            if let Some(id) = id {
                out.push(UNIGRAM | u64::from(id));
                if let Some(p) = prev {
                    out.push(u64::from(p) << 32 | u64::from(id));
                }
            }
            prev = id;
        });
    }

    /// Fits the vocabulary and idf on `docs`.
    pub fn fit(docs: &[&str], p: &TfidfParams) -> Lexicon {
        let n = docs.len();
        let mut words: HashMap<String, u32> = HashMap::new();
        let mut df: HashMap<u64, (u32, u64)> = HashMap::new();
        let (mut buf, mut terms) = (String::new(), Vec::new());
        for d in docs {
            // Fitting: every word gets an id.
            Self::terms(d, &mut buf, &mut terms, &mut |w| match words.get(w) {
                Some(&id) => Some(id),
                None => {
                    let id = words.len() as u32;
                    words.insert(w.to_owned(), id);
                    Some(id)
                }
            });
            terms.sort_unstable();
            let mut i = 0;
            while i < terms.len() {
                let j = terms[i..].iter().position(|t| *t != terms[i]).map_or(terms.len(), |k| i + k);
                let e = df.entry(terms[i]).or_insert((0, 0));
                e.0 += 1;
                e.1 += (j - i) as u64;
                i = j;
            }
        }
        let max_df = (p.max_df * n as f32).floor() as usize;
        let mut kept: Vec<(u64, u32, u64)> = df.into_iter().filter(|(_, (d, _))| *d as usize >= p.min_df && *d as usize <= max_df).map(|(t, (d, c))| (t, d, c)).collect();
        // The most frequent terms, ties by term (the same vocabulary every time).
        kept.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        kept.truncate(p.max_features);
        kept.sort_by_key(|k| k.0);
        let idf = kept.iter().map(|(_, d, _)| ((1.0 + n as f32) / (1.0 + *d as f32)).ln() + 1.0).collect();
        let index: HashMap<u64, u32> = kept.iter().enumerate().map(|(i, (t, _, _))| (*t, i as u32)).collect();
        let mut spelled = vec![""; words.len()];
        for (w, &id) in &words {
            spelled[id as usize] = w.as_str();
        }
        let names = kept
            .iter()
            .map(|(t, _, _)| match *t & UNIGRAM == UNIGRAM {
                true => spelled[*t as u32 as usize].to_owned(),
                false => format!("{} {}", spelled[(*t >> 32) as usize], spelled[*t as u32 as usize]),
            })
            .collect();
        // Only words some kept term uses are needed to read new documents.
        let used: std::collections::HashSet<u32> = kept.iter().flat_map(|(t, _, _)| [(*t >> 32) as u32, *t as u32]).collect();
        words.retain(|_, id| used.contains(id));
        Lexicon { words, index, idf, names }
    }

    /// A feature's term as text: a word, or two words with a space between.
    pub fn name(&self, feature: u32) -> Option<&str> {
        self.names.get(feature as usize).map(String::as_str)
    }

    /// A feature's idf.
    pub fn idf(&self, feature: u32) -> Option<f32> {
        self.idf.get(feature as usize).copied()
    }

    /// Features.
    pub fn len(&self) -> usize {
        self.idf.len()
    }

    /// True when no term was kept.
    pub fn is_empty(&self) -> bool {
        self.idf.is_empty()
    }

    /// A document's row: sublinear tf × idf, unit length.
    pub fn row(&self, doc: &str) -> Sparse {
        let (mut buf, mut terms) = (String::new(), Vec::new());
        Self::terms(doc, &mut buf, &mut terms, &mut |w| self.words.get(w).copied());
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for t in &terms {
            if let Some(&i) = self.index.get(t) {
                *counts.entry(i).or_insert(0) += 1;
            }
        }
        let mut row: Sparse = counts.into_iter().map(|(i, c)| (i, (1.0 + (c as f32).ln()) * self.idf[i as usize])).collect();
        row.sort_by_key(|(i, _)| *i);
        let norm = row.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|(_, v)| *v /= norm);
        }
        row
    }
}

/// Fits the vocabulary and idf on `docs` and returns every document's row.
pub fn tfidf(docs: &[String], p: &TfidfParams) -> Vec<Sparse> {
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let lexicon = Lexicon::fit(&refs, p);
    docs.iter().map(|d| lexicon.row(d)).collect()
}

/// Sparse row · dense weights (the bias is the last weight).
pub fn score(w: &[f32], x: &Sparse) -> f32 {
    x.iter().map(|(i, v)| w[*i as usize] * v).sum::<f32>() + w[w.len() - 1]
}

/// Passes of dual coordinate descent for a converged fit (the baseline's, as liblinear's).
pub const CONVERGED: usize = 200;

/// A linear SVM (squared hinge, L2, bias feature 1) with balanced class weights, by dual
/// coordinate descent: `pos` rows are +1, `neg` rows −1; `dim` features; at most `passes`
/// passes, fewer once converged.
pub fn linear_svm(pos: &[&Sparse], neg: &[&Sparse], dim: usize, c: f32, passes: usize) -> Vec<f32> {
    let n = pos.len() + neg.len();
    let mut w = vec![0.0f32; dim + 1];
    if pos.is_empty() || neg.is_empty() {
        return w;
    }
    let (cp, cn) = (c * n as f32 / (2.0 * pos.len() as f32), c * n as f32 / (2.0 * neg.len() as f32));
    let rows: Vec<(&Sparse, f32, f32)> = pos.iter().map(|x| (*x, 1.0, cp)).chain(neg.iter().map(|x| (*x, -1.0, cn))).collect();
    // Squared hinge: no upper bound on α, and D_ii = 1 / (2 C_i) on the diagonal.
    // Rows are unit length (or empty): ‖x‖² + the bias feature's 1 + D_ii.
    let q: Vec<f32> = rows.iter().map(|(x, _, ci)| if x.is_empty() { 1.0 } else { 2.0 } + 0.5 / ci).collect();
    let mut alpha = vec![0.0f32; n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for _epoch in 0..passes {
        // A fixed shuffle per epoch (xorshift), as liblinear permutes.
        for i in (1..n).rev() {
            order.swap(i, (super::xorshift(&mut state) % (i as u64 + 1)) as usize);
        }
        let mut max_pg = 0.0f32;
        for &i in &order {
            let (x, y, ci) = rows[i];
            let g = y * score(&w, x) - 1.0 + alpha[i] * 0.5 / ci;
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            max_pg = max_pg.max(pg.abs());
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (alpha[i] - g / q[i]).max(0.0);
                let d = (alpha[i] - old) * y;
                for (j, v) in x.iter() {
                    w[*j as usize] += d * v;
                }
                w[dim] += d;
            }
        }
        if max_pg < 1e-3 {
            break;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tfidf_keeps_mid_frequency_terms_with_unit_rows() {
        let mut docs: Vec<String> = (0..100).map(|i| format!("common words everywhere paper{i}")).collect();
        for d in docs.iter_mut().take(6) {
            d.push_str(" graph neural networks");
        }
        let rows = tfidf(&docs, &ARXIV_SANITY);
        // "common" is in every document (over max_df); "graph neural" in six (kept); "paper7" in one.
        assert_eq!(rows[50].len(), 0, "{:?}", rows[50]);
        assert_eq!(rows[0].len(), 5, "graph, neural, networks, graph neural, neural networks");
        let norm: f32 = rows[0].iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn every_feature_has_its_term_as_text() {
        let docs: Vec<String> = (0..10).map(|i| format!("Graph neural networks, paper{i}")).collect();
        let lex = Lexicon::fit(&docs.iter().map(String::as_str).collect::<Vec<_>>(), &PAPERBOY);
        let mut names: Vec<&str> = lex.row("graph neural networks").iter().map(|(f, _)| lex.name(*f).unwrap()).collect();
        names.sort_unstable();
        assert_eq!(names, ["graph", "graph neural", "networks", "neural", "neural networks"]);
        assert_eq!(lex.name(lex.len() as u32), None);
    }

    #[test]
    fn paperboys_lexicon_keeps_the_big_topics_and_weighs_them_down() {
        // "language models" is in 40 of 100 papers: over arxiv-sanity's ceiling, kept by paperboy's.
        let docs: Vec<String> = (0..100).map(|i| format!("{} paper{i}", if i < 40 { "language models" } else { "other words" })).collect();
        let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let (theirs, ours) = (Lexicon::fit(&docs, &ARXIV_SANITY), Lexicon::fit(&docs, &PAPERBOY));
        assert_eq!(theirs.row("language models").len(), 0);
        let row = ours.row("language models graph");
        assert_eq!(row.len(), 3, "language, models, language models: {row:?}");
        // Common terms get a lower idf than rarer ones.
        let rare: Vec<String> = (0..100).map(|i| format!("{} paper{i}", if i < 6 { "graph" } else { "language" })).collect();
        let lex = Lexicon::fit(&rare.iter().map(String::as_str).collect::<Vec<_>>(), &PAPERBOY);
        let row = lex.row("graph language");
        assert_eq!(row.len(), 2);
        let (graph, language) = (lex.row("graph")[0].1, lex.row("language")[0].1);
        assert!((graph - 1.0).abs() < 1e-6 && (language - 1.0).abs() < 1e-6, "single-term rows are unit length");
        let weights: Vec<f32> = row.iter().map(|(_, v)| *v).collect();
        assert!(weights.iter().any(|&v| v > 0.8) && weights.iter().any(|&v| v < 0.6), "graph (rare) outweighs language (common): {row:?}");
    }

    #[test]
    fn the_svm_separates_what_can_be_separated() {
        let a: Sparse = vec![(0, 1.0)];
        let b: Sparse = vec![(1, 1.0)];
        let w = linear_svm(&[&a], &[&b, &b, &b], 2, 1.0, CONVERGED);
        assert!(score(&w, &a) > score(&w, &b), "{w:?}");
    }
}
