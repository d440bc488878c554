//! Highlighting without re-tokenising: each shown paper's title and abstract are analysed once
//! (the index's own English analyser: words, stop words dropped, stems) and kept as byte ranges
//! with a hash of each word's stem. A search then only compares the hashes of its query's
//! stems against the cached words of the hits it shows.
//!
//! The fragment chosen is the window of at most [`SNIPPET_CHARS`] bytes, starting at a word,
//! that holds the most weight of distinct query terms (a term weighs `1 / (1 + document
//! frequency)`, as tantivy's snippet generator weighs it; rare terms win), the earliest on ties.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use paperboy_core::PaperId;
use rustc_hash::{FxHashMap, FxHasher};
use tantivy::tokenizer::TextAnalyzer;

/// The longest snippet, in bytes of the abstract.
pub const SNIPPET_CHARS: usize = 240;

/// Papers whose analysed texts are kept; the cache starts over when full.
const CACHED_PAPERS: usize = 20_000;

/// One word of an analysed text: its bytes in the text and the hash of its stem.
#[derive(Clone, Copy, Debug)]
struct Word {
    start: u32,
    end: u32,
    stem: u64,
}

/// A text and its words.
#[derive(Debug)]
pub struct Analysed {
    text: Box<str>,
    words: Box<[Word]>,
}

/// The hash a stem is known by.
pub fn stem_hash(stem: &str) -> u64 {
    let mut h = FxHasher::default();
    stem.hash(&mut h);
    h.finish()
}

impl Analysed {
    /// Splits `text` into words with `analyser` (the index's analyser of the field).
    pub fn new(analyser: &mut TextAnalyzer, text: &str) -> Self {
        let mut words = Vec::new();
        analyser.token_stream(text).process(&mut |t| {
            words.push(Word { start: t.offset_from as u32, end: t.offset_to as u32, stem: stem_hash(&t.text) });
        });
        Analysed { text: text.into(), words: words.into_boxed_slice() }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The words that are query terms: (word, term) index pairs.
    fn matches<'a>(&'a self, terms: &'a QueryTerms) -> impl Iterator<Item = (usize, usize)> + 'a {
        self.words.iter().enumerate().filter_map(|(i, w)| terms.position(w.stem).map(|k| (i, k)))
    }
}

/// A paper's analysed title and abstract.
#[derive(Debug)]
pub struct PaperText {
    /// The title.
    pub title: Analysed,
    /// The abstract.
    pub abstract_text: Analysed,
}

/// The query's stems (hashed) with their weights, for one field.
#[derive(Default, Debug)]
pub struct QueryTerms {
    terms: Vec<(u64, f32)>,
}

impl QueryTerms {
    /// Adds a stem with its weight (a stem given twice keeps its first weight).
    pub fn add(&mut self, stem: &str, weight: f32) {
        let h = stem_hash(stem);
        if !self.terms.iter().any(|(t, _)| *t == h) {
            self.terms.push((h, weight));
        }
    }

    /// True when there is nothing to highlight.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    fn position(&self, stem: u64) -> Option<usize> {
        self.terms.iter().position(|(t, _)| *t == stem)
    }
}

/// A highlighted fragment: HTML with matched words in `<b>…</b>`, and those words.
pub struct Highlighted {
    /// Escaped HTML; empty when nothing matched.
    pub html: String,
    /// The matched words as written, lower-cased, first occurrence first.
    pub words: Vec<String>,
}

/// Highlights the whole of a short text (a title).
pub fn highlight_all(a: &Analysed, terms: &QueryTerms) -> Highlighted {
    let hits: Vec<usize> = a.matches(terms).map(|(i, _)| i).collect();
    render(a, 0, a.text.len(), &hits)
}

/// Highlights the best fragment of at most `max` bytes of a text (an abstract); when nothing
/// matches, the start of the text.
pub fn highlight_best(a: &Analysed, terms: &QueryTerms, max: usize) -> Highlighted {
    let matched: Vec<(usize, usize)> = a.matches(terms).collect();
    if matched.is_empty() {
        let (start, end) = window(a, 0, 0, max);
        return render(a, start, end, &[]);
    }
    // Windows start at a matched word; each counts the weight of the distinct terms in it.
    let mut best: Option<(f32, usize, usize)> = None; // weight, first matched, one past last matched
    let mut seen = vec![false; terms.terms.len()];
    for first in 0..matched.len() {
        let start = a.words[matched[first].0].start as usize;
        seen.iter_mut().for_each(|s| *s = false);
        let mut weight = 0.0;
        let mut last = first;
        while last < matched.len() && a.words[matched[last].0].end as usize - start <= max {
            let k = matched[last].1;
            if !seen[k] {
                seen[k] = true;
                weight += terms.terms[k].1;
            }
            last += 1;
        }
        if best.is_none_or(|(w, _, _)| weight > w) {
            best = Some((weight, first, last));
        }
    }
    let (_, first, last) = best.expect("at least one match");
    let hits: Vec<usize> = matched[first..last].iter().map(|(i, _)| *i).collect();
    let (start, end) = window(a, matched[first].0, a.words[matched[last - 1].0].end as usize, max);
    render(a, start, end, &hits)
}

/// The byte range shown for a fragment from word `anchor` to byte `last_end`: up to two words
/// of context before the anchor while the fragment still fits in `max` bytes, then whole words
/// up to `max` bytes.
fn window(a: &Analysed, anchor: usize, last_end: usize, max: usize) -> (usize, usize) {
    let text = &a.text;
    if text.len() <= max || a.words.is_empty() {
        return (0, floor_char_boundary(text, max));
    }
    let mut first = anchor;
    while first > 0 && anchor - first < 2 && last_end.saturating_sub(a.words[first - 1].start as usize) <= max {
        first -= 1;
    }
    let start = if first == 0 { 0 } else { a.words[first].start as usize };
    if text.len() - start <= max {
        return (start, text.len());
    }
    // Runs on to the end of the last word that fits.
    let end = a.words.iter().map(|w| w.end as usize).filter(|&e| e > start && e - start <= max).max().unwrap_or(start + max);
    (start, floor_char_boundary(text, end))
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `text[start..end]` escaped, the words `hits` (inside it) in `<b>…</b>`; an ellipsis marks text
/// left out before or after.
fn render(a: &Analysed, start: usize, end: usize, hits: &[usize]) -> Highlighted {
    let text = &a.text;
    let mut html = String::with_capacity(end - start + 16 * hits.len() + 8);
    let mut words = Vec::new();
    if start > 0 {
        html.push('…');
    }
    let mut at = start;
    for &i in hits {
        let (ws, we) = (a.words[i].start as usize, a.words[i].end as usize);
        if ws < at || we > end {
            continue;
        }
        html.push_str(&html_escape(&text[at..ws]));
        html.push_str("<b>");
        html.push_str(&html_escape(&text[ws..we]));
        html.push_str("</b>");
        let word = text[ws..we].to_lowercase();
        if !words.contains(&word) {
            words.push(word);
        }
        at = we;
    }
    html.push_str(&html_escape(&text[at..end]));
    if end < text.len() {
        html.push('…');
    }
    Highlighted { html, words }
}

/// The analysed texts of recently shown papers, shared by all searches.
#[derive(Default)]
pub struct TextCache {
    papers: Mutex<FxHashMap<PaperId, Arc<PaperText>>>,
}

impl TextCache {
    /// The cached texts of `id`.
    pub fn get(&self, id: &PaperId) -> Option<Arc<PaperText>> {
        self.papers.lock().expect("text cache lock").get(id).cloned()
    }

    /// Keeps the texts of `id`.
    pub fn insert(&self, id: PaperId, text: Arc<PaperText>) {
        let mut papers = self.papers.lock().expect("text cache lock");
        if papers.len() >= CACHED_PAPERS {
            papers.clear();
        }
        papers.insert(id, text);
    }

    /// Forgets everything (the indexed texts changed).
    pub fn clear(&self) {
        self.papers.lock().expect("text cache lock").clear();
    }
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::tokenizer::{LowerCaser, SimpleTokenizer};

    fn analyser() -> TextAnalyzer {
        TextAnalyzer::builder(SimpleTokenizer::default()).filter(LowerCaser).build()
    }

    fn terms(words: &[(&str, f32)]) -> QueryTerms {
        let mut t = QueryTerms::default();
        for (w, s) in words {
            t.add(w, *s);
        }
        t
    }

    #[test]
    fn the_window_with_most_distinct_weight_wins_and_text_is_escaped() {
        let text = format!("alpha <x> & alpha {} beta gamma & <end>", "filler ".repeat(40));
        let a = Analysed::new(&mut analyser(), &text);
        let h = highlight_best(&a, &terms(&[("alpha", 0.5), ("beta", 0.3), ("gamma", 0.3)]), 60);
        // Two alphas weigh 0.5 (distinct terms count once); beta + gamma weigh 0.6.
        assert!(h.html.contains("<b>beta</b> <b>gamma</b> &amp; &lt;end&gt;"), "{}", h.html);
        assert!(h.html.starts_with('…'), "{}", h.html);
        assert!(!h.html.contains("alpha"), "{}", h.html);
        assert_eq!(h.words, ["beta", "gamma"]);
    }

    #[test]
    fn short_texts_are_whole_and_no_match_is_empty() {
        let a = Analysed::new(&mut analyser(), "Deep <b>Nets</b> for Proteins");
        let h = highlight_all(&a, &terms(&[("proteins", 1.0), ("nets", 1.0)]));
        assert_eq!(h.html, "Deep &lt;b&gt;<b>Nets</b>&lt;/b&gt; for <b>Proteins</b>");
        assert_eq!(h.words, ["nets", "proteins"]);
        let none = highlight_best(&a, &terms(&[("absent", 1.0)]), 240);
        assert_eq!((none.html.as_str(), none.words.len()), ("Deep &lt;b&gt;Nets&lt;/b&gt; for Proteins", 0));
    }

    #[test]
    fn fragments_end_on_a_character_boundary() {
        let text = format!("{} target {}", "é".repeat(30), "ü".repeat(200));
        let a = Analysed::new(&mut analyser(), &text);
        let h = highlight_best(&a, &terms(&[("target", 1.0)]), 100);
        assert!(h.html.contains("<b>target</b>"), "{}", h.html);
    }
}
