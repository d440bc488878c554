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
    /// How a text is read into words.
    pub words: Words,
}

/// How a text is read into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Words {
    /// arxiv-sanity-lite's vectorizer (see [`for_words`]): accents stripped, ASCII words not
    /// starting with a digit, English stop words dropped before 2-grams are made.
    ArxivSanity,
    /// scikit-learn's default pattern: every run of two or more letters, digits or `_`, lower
    /// case, stop words kept (paperboy's lexical half; see [`PAPERBOY`]).
    #[default]
    Plain,
}

/// arxiv-sanity-lite's settings (it reads authors' names as words of the text, [`document`]).
pub const ARXIV_SANITY: TfidfParams = TfidfParams { max_features: 20_000, min_df: 5, max_df: 0.1, words: Words::ArxivSanity };

/// paperboy's lexical half: arxiv-sanity-lite's but with no ceiling on a term's document
/// frequency. On a corpus as focused as a reader's field, the ceiling drops the very terms that
/// name its big topics ("language models", "diffusion" in papers of machine learning), which
/// are what a reader following one of them is after; idf already weighs common terms down, and
/// a term in every paper is absorbed by the bias. Chosen on `paperboy eval recs`'s tuning half
/// (see BENCHMARKS.md). It reads words the plain way ([`Words::Plain`]): arxiv-sanity's reading
/// was no better on that half (BENCHMARKS.md, session 15).
pub const PAPERBOY: TfidfParams = TfidfParams { max_df: 1.0, words: Words::Plain, ..ARXIV_SANITY };

/// The words of a text as arxiv-sanity-lite's vectorizer reads them (scikit-learn's
/// `lowercase=True`, `strip_accents='unicode'`, `token_pattern=r'(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b'`
/// and `stop_words='english'`), each handed to `each`: lower case with accents stripped; a word
/// is a whole run of word characters that are all ASCII letters, digits or `_`, two or more long
/// and not starting with a digit ("gpt4" and "l2" are words; "3d" and "αβ" are not); stop words
/// are dropped before 2-grams are made, so "detection of objects" yields "detection objects".
fn for_words(text: &str, words: Words, each: &mut dyn FnMut(&str)) {
    if words == Words::Plain {
        return for_plain_words(text, each);
    }
    let folded = fold(text);
    for w in folded.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        let b = w.as_bytes();
        if b.len() < 2 || b[0].is_ascii_digit() || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') || is_stop_word(w) {
            continue;
        }
        each(w);
    }
}

/// The words of a text as scikit-learn's default pattern (`(?u)\b\w\w+\b`) reads them, lower case.
fn for_plain_words(text: &str, each: &mut dyn FnMut(&str)) {
    let mut buf = String::new();
    for w in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if w.chars().nth(1).is_none() {
            continue;
        }
        buf.clear();
        if w.is_ascii() {
            buf.push_str(w);
            buf.make_ascii_lowercase();
        } else {
            buf.extend(w.chars().flat_map(char::to_lowercase));
        }
        each(&buf);
    }
}

/// Lower case, then accents stripped as scikit-learn's `strip_accents_unicode` does (compatibility
/// decomposition, combining marks dropped): "Müller" reads "muller", "naïve" "naive".
fn fold(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{char::canonical_combining_class, UnicodeNormalization};
    if text.is_ascii() {
        match text.bytes().any(|b| b.is_ascii_uppercase()) {
            true => text.to_ascii_lowercase().into(),
            false => text.into(),
        }
    } else {
        text.to_lowercase().nfkd().filter(|c| canonical_combining_class(*c) == 0).collect::<String>().into()
    }
}

/// Whether `word` (lower case) is one of scikit-learn's English stop words.
fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// scikit-learn's `ENGLISH_STOP_WORDS` (from the Glasgow Information Retrieval Group's list), the
/// list arxiv-sanity-lite's `stop_words='english'` drops; sorted, for [`is_stop_word`].
const STOP_WORDS: [&str; 318] = [
    "a", "about", "above", "across", "after", "afterwards", "again", "against", "all", "almost", "alone",
    "along", "already", "also", "although", "always", "am", "among", "amongst", "amoungst", "amount", "an",
    "and", "another", "any", "anyhow", "anyone", "anything", "anyway", "anywhere", "are", "around", "as",
    "at", "back", "be", "became", "because", "become", "becomes", "becoming", "been", "before", "beforehand",
    "behind", "being", "below", "beside", "besides", "between", "beyond", "bill", "both", "bottom", "but",
    "by", "call", "can", "cannot", "cant", "co", "con", "could", "couldnt", "cry", "de", "describe",
    "detail", "do", "done", "down", "due", "during", "each", "eg", "eight", "either", "eleven", "else",
    "elsewhere", "empty", "enough", "etc", "even", "ever", "every", "everyone", "everything", "everywhere",
    "except", "few", "fifteen", "fifty", "fill", "find", "fire", "first", "five", "for", "former",
    "formerly", "forty", "found", "four", "from", "front", "full", "further", "get", "give", "go", "had",
    "has", "hasnt", "have", "he", "hence", "her", "here", "hereafter", "hereby", "herein", "hereupon",
    "hers", "herself", "him", "himself", "his", "how", "however", "hundred", "i", "ie", "if", "in", "inc",
    "indeed", "interest", "into", "is", "it", "its", "itself", "keep", "last", "latter", "latterly", "least",
    "less", "ltd", "made", "many", "may", "me", "meanwhile", "might", "mill", "mine", "more", "moreover",
    "most", "mostly", "move", "much", "must", "my", "myself", "name", "namely", "neither", "never",
    "nevertheless", "next", "nine", "no", "nobody", "none", "noone", "nor", "not", "nothing", "now",
    "nowhere", "of", "off", "often", "on", "once", "one", "only", "onto", "or", "other", "others",
    "otherwise", "our", "ours", "ourselves", "out", "over", "own", "part", "per", "perhaps", "please", "put",
    "rather", "re", "same", "see", "seem", "seemed", "seeming", "seems", "serious", "several", "she",
    "should", "show", "side", "since", "sincere", "six", "sixty", "so", "some", "somehow", "someone",
    "something", "sometime", "sometimes", "somewhere", "still", "such", "system", "take", "ten", "than",
    "that", "the", "their", "them", "themselves", "then", "thence", "there", "thereafter", "thereby",
    "therefore", "therein", "thereupon", "these", "they", "thick", "thin", "third", "this", "those",
    "though", "three", "through", "throughout", "thru", "thus", "to", "together", "too", "top", "toward",
    "towards", "twelve", "twenty", "two", "un", "under", "until", "up", "upon", "us", "very", "via", "was",
    "we", "well", "were", "what", "whatever", "when", "whence", "whenever", "where", "whereafter", "whereas",
    "whereby", "wherein", "whereupon", "wherever", "whether", "which", "while", "whither", "who", "whoever",
    "whole", "whom", "whose", "why", "will", "with", "within", "without", "would", "yet", "you", "your",
    "yours", "yourself", "yourselves",
];

/// A paper as arxiv-sanity-lite's vectorizer reads it: its title and abstract (`text`) and its
/// authors' names, joined by spaces.
pub fn document<'a>(text: &str, authors: impl IntoIterator<Item = &'a str>) -> String {
    let mut doc = text.to_owned();
    for name in authors {
        doc.push(' ');
        doc.push_str(name);
    }
    doc
}

/// A term: a word (`UNIGRAM | word`) or two words in a row (`first << 32 | second`).
const UNIGRAM: u64 = 0xFFFF_FFFF << 32;

/// A fitted vocabulary with each term's idf.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    words: HashMap<String, u32>,
    /// How texts are read.
    reading: Words,
    index: HashMap<u64, u32>,
    idf: Vec<f32>,
    /// Each feature's term as text ("language models"), for explanations.
    names: Vec<String>,
}

impl Lexicon {
    /// The terms of a document: each word's id from `id_of` (`None`: a word in no term, which
    /// also breaks the bigram across it).
    fn terms(doc: &str, reading: Words, out: &mut Vec<u64>, id_of: &mut dyn FnMut(&str) -> Option<u32>) {
        out.clear();
        let mut prev: Option<u32> = None;
        for_words(doc, reading, &mut |w| {
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
        let mut terms = Vec::new();
        for d in docs {
            // Fitting: every word gets an id.
            Self::terms(d, p.words, &mut terms, &mut |w| match words.get(w) {
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
        Lexicon { words, reading: p.words, index, idf, names }
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
        let mut terms = Vec::new();
        Self::terms(doc, self.reading, &mut terms, &mut |w| self.words.get(w).copied());
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
    fn features_idf_and_rows_are_scikit_learns_as_arxiv_sanity_sets_it_up() {
        // scikit-learn's own output (scripts/tfidf-reference.py) on the hf-daily fixture's papers
        // read as arxiv-sanity-lite reads them, and edge cases (accents, "3d", "gpt-4", stop words).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/tfidf/arxiv-sanity.reference.json");
        let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).expect("the reference file")).expect("JSON");
        let docs: Vec<&str> = reference["documents"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
        for fit in reference["fits"].as_array().unwrap() {
            let p = TfidfParams { min_df: fit["min_df"].as_u64().unwrap() as usize, max_df: fit["max_df"].as_f64().unwrap() as f32, ..ARXIV_SANITY };
            let lex = Lexicon::fit(&docs, &p);
            let idf = fit["idf"].as_object().unwrap();
            let mut ours: Vec<&str> = (0..lex.len() as u32).map(|f| lex.name(f).unwrap()).collect();
            let mut theirs: Vec<&str> = idf.keys().map(String::as_str).collect();
            ours.sort_unstable();
            theirs.sort_unstable();
            assert_eq!(ours, theirs, "the features at {p:?}");
            for f in 0..lex.len() as u32 {
                let want = idf[lex.name(f).unwrap()].as_f64().unwrap() as f32;
                assert!((lex.idf(f).unwrap() - want).abs() < 1e-5, "idf of {:?}: {} against {want}", lex.name(f), lex.idf(f).unwrap());
            }
            for (i, (doc, want)) in docs.iter().zip(fit["rows"].as_array().unwrap()).enumerate() {
                let row = lex.row(doc);
                let want = want.as_object().unwrap();
                assert_eq!(row.len(), want.len(), "document {i} at {p:?}: {:?} against {:?}", row.iter().map(|(f, _)| lex.name(*f).unwrap()).collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
                for (f, v) in &row {
                    let w = want[lex.name(*f).unwrap()].as_f64().unwrap() as f32;
                    assert!((v - w).abs() < 1e-5, "document {i}, {:?}: {v} against {w}", lex.name(*f));
                }
            }
        }
    }

    #[test]
    fn words_are_read_as_scikit_learn_reads_them() {
        let mut words = Vec::new();
        let text = "Naïve GPT-4 3D l2_norm αβγ-Nets: detection OF the Objects; José Müller";
        for_words(text, Words::ArxivSanity, &mut |w| words.push(w.to_owned()));
        assert_eq!(words, ["naive", "gpt", "l2_norm", "nets", "detection", "objects", "jose", "muller"]);
        words.clear();
        for_words(text, Words::Plain, &mut |w| words.push(w.to_owned()));
        assert_eq!(words, ["naïve", "gpt", "3d", "l2_norm", "αβγ", "nets", "detection", "of", "the", "objects", "josé", "müller"]);
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]), "sorted, for the binary search");
    }

    #[test]
    fn the_svm_separates_what_can_be_separated() {
        let a: Sparse = vec![(0, 1.0)];
        let b: Sparse = vec![(1, 1.0)];
        let w = linear_svm(&[&a], &[&b, &b, &b], 2, 1.0, CONVERGED);
        assert!(score(&w, &a) > score(&w, &b), "{w:?}");
    }
}
