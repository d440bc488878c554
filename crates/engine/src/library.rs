//! A reader's library in and out.
//!
//! **Export**: BibTeX ([`bibtex`]: `@misc` entries with `eprint`, `archivePrefix = {arXiv}` and
//! `primaryClass`, the DOI and journal when known; keys derived from the paper alone, so they
//! stay the same from one export to the next; LaTeX's special characters escaped outside `$…$`
//! math) and CSL-JSON ([`csl_json`], what Zotero, Mendeley and pandoc read).
//!
//! **Import** ([`parse`]): a BibTeX or BibLaTeX file (Zotero's, Google Scholar's and arXiv's
//! exports included), a CSL-JSON file, or a plain list of arXiv ids, arXiv URLs and DOIs, one a
//! line. Each entry is then matched to a stored paper ([`match_citations`]) by its arXiv id,
//! else its DOI, else its normalised title, and the report says for each what matched and how,
//! or why nothing did. An entry that cannot be read is reported with where it is, and the
//! others still count.

use std::collections::{HashMap, HashSet};

use paperboy_core::{ArxivId, Paper, PaperId};
use serde::Serialize;
use serde_json::{json, Value};

use crate::readers::author_key;
use crate::store::{PaperStore, StoreError};

/// Largest library accepted for import, in bytes.
pub const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;
/// Most entries one import reads.
pub const MAX_IMPORT_ENTRIES: usize = 5_000;

/// A DOI as a lookup key: `doi:` and the DOI in lower case, without a resolver prefix.
pub fn doi_key(doi: &str) -> Option<String> {
    let d = doi.trim();
    let lower = d.to_ascii_lowercase();
    let start = ["https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:"]
        .iter()
        .find_map(|p| lower.starts_with(p).then_some(p.len()))
        .unwrap_or(0);
    let d = lower[start..].trim();
    (d.starts_with("10.") && d.contains('/') && !d.contains(char::is_whitespace)).then(|| format!("doi:{d}"))
}

/// A title as a lookup key: `title:` and its words in lower case (as [`author_key`]); `None`
/// for titles too short to tell papers apart.
pub fn title_key(title: &str) -> Option<String> {
    let words = author_key(&title.replace(['{', '}'], ""));
    (words.split(' ').count() >= 3 && words.len() >= 12).then(|| format!("title:{words}"))
}

/// The keys a paper is found by at import: its DOI, arXiv's DOI for it, and its title.
pub fn lookup_keys(paper: &Paper) -> Vec<String> {
    let mut keys: Vec<String> = paper.doi.as_deref().and_then(doi_key).into_iter().collect();
    if let Some(id) = paper.id.arxiv() {
        keys.extend(doi_key(&format!("10.48550/arXiv.{id}")));
    }
    keys.extend(title_key(&paper.title));
    keys.sort();
    keys.dedup();
    keys
}

// ---- export ---------------------------------------------------------------------------------

pub(crate) const STOP_WORDS: &[&str] = &["a", "an", "the", "on", "of", "for", "in", "to", "and", "with", "towards", "toward", "via", "from", "is", "are", "by", "at"];

/// Letters and digits of `s` in ASCII lower case (common accented letters lose their accent).
fn ascii_word(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c {
                'à'..='å' | 'À'..='Å' => 'a',
                'ç' | 'Ç' => 'c',
                'è'..='ë' | 'È'..='Ë' => 'e',
                'ì'..='ï' | 'Ì'..='Ï' => 'i',
                'ñ' | 'Ñ' => 'n',
                'ò'..='ö' | 'ø' | 'Ò'..='Ö' | 'Ø' => 'o',
                'ù'..='ü' | 'Ù'..='Ü' => 'u',
                'ý' | 'ÿ' | 'Ý' => 'y',
                'ß' => 's',
                c => c,
            };
            c.is_ascii_alphanumeric().then(|| c.to_ascii_lowercase())
        })
        .collect()
}

/// The year a paper came out: its first version's, else its arXiv id's.
fn year(paper: &Paper) -> Option<i32> {
    use chrono::Datelike;
    paper.submitted.map(|s| s.year()).or_else(|| paper.id.arxiv().map(|id| id.year_month().0)).or_else(|| paper.day().map(|d| d.year()))
}

/// A paper's citation key: first author's family name, year, first significant title word
/// (`vaswani2017attention`); made from the paper alone, so it is the same in every export.
pub fn bibtex_key(paper: &Paper) -> String {
    let family = paper.authors.first().and_then(|a| a.name.split_whitespace().last()).map(ascii_word).unwrap_or_default();
    let word = paper.title.split(|c: char| !c.is_alphanumeric()).map(ascii_word).find(|w| !w.is_empty() && !STOP_WORDS.contains(&w.as_str())).unwrap_or_default();
    let year = year(paper).map(|y| y.to_string()).unwrap_or_default();
    format!("{}{year}{word}", if family.is_empty() { "paper" } else { &family })
}

/// Text for a BibTeX field: LaTeX's special characters escaped, except inside balanced
/// `$…$` math (titles on arXiv carry TeX math), which is kept as written.
pub fn latex_escape(s: &str) -> String {
    let parts: Vec<&str> = s.split('$').collect();
    let math_ok = parts.len() % 2 == 1 && parts.iter().skip(1).step_by(2).all(|m| balanced(m));
    let mut out = String::with_capacity(s.len() + 8);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 && !math_ok {
            out.push_str("\\$");
        }
        if math_ok && i % 2 == 1 {
            out.push('$');
            out.push_str(part);
            out.push('$');
            continue;
        }
        for c in part.chars() {
            match c {
                '\\' => out.push_str("\\textbackslash{}"),
                '{' | '}' | '&' | '%' | '#' | '_' => {
                    out.push('\\');
                    out.push(c);
                }
                '^' => out.push_str("\\^{}"),
                '~' => out.push_str("\\~{}"),
                c if c.is_control() => out.push(' '),
                c => out.push(c),
            }
        }
    }
    out
}

/// Whether the braces of `s` (unescaped) balance and it ends no escape half-way.
fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    let mut escaped = false;
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && !escaped
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// One BibTeX entry for `paper` under `key`, with the reader's note when there is one.
fn bibtex_entry(paper: &Paper, key: &str, note: Option<&str>) -> String {
    use chrono::Datelike;
    let mut fields: Vec<(&str, String)> = vec![("title", latex_escape(&paper.title))];
    if !paper.authors.is_empty() {
        let names: Vec<String> = paper
            .authors
            .iter()
            .map(|a| {
                let name = latex_escape(&a.name);
                // A name BibTeX would split or reorder is kept whole.
                if a.name.contains(',') || a.name.split_whitespace().any(|w| w.eq_ignore_ascii_case("and")) { format!("{{{name}}}") } else { name }
            })
            .collect();
        fields.push(("author", names.join(" and ")));
    }
    if let Some(y) = year(paper) {
        fields.push(("year", y.to_string()));
    }
    if let Some(m) = paper.submitted.map(|s| s.month0()).or_else(|| paper.id.arxiv().map(|id| id.year_month().1.saturating_sub(1))) {
        fields.push(("month", MONTHS[m as usize % 12].to_owned()));
    }
    if let Some(id) = paper.id.arxiv() {
        fields.push(("eprint", id.to_string()));
        fields.push(("archivePrefix", "arXiv".into()));
        if let Some(c) = paper.primary_category() {
            fields.push(("primaryClass", c.to_string()));
        }
        fields.push(("url", id.abs_url()));
    }
    if let Some(doi) = &paper.doi {
        // A verbatim field (as `url`) for BibLaTeX and the `doi` package: written as is.
        fields.push(("doi", doi.replace(['{', '}', '\\'], "")));
    }
    if let Some(j) = &paper.journal_ref {
        fields.push(("journal", latex_escape(j)));
    }
    if !paper.abstract_text.is_empty() {
        fields.push(("abstract", latex_escape(&paper.abstract_text)));
    }
    if let Some(n) = note.filter(|n| !n.trim().is_empty()) {
        fields.push(("note", latex_escape(n)));
    }
    let mut out = format!("@misc{{{key},\n");
    for (name, value) in fields {
        if name == "month" {
            out.push_str(&format!("  {name} = {value},\n"));
        } else {
            out.push_str(&format!("  {name} = {{{value}}},\n"));
        }
    }
    out.push_str("}\n");
    out
}

/// Keys for `papers`, each unique: a key two papers would share gets the paper's id added.
fn unique_keys(papers: &[&Paper]) -> Vec<String> {
    let keys: Vec<String> = papers.iter().map(|p| bibtex_key(p)).collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for k in &keys {
        *seen.entry(k.as_str()).or_default() += 1;
    }
    keys.iter()
        .zip(papers)
        .map(|(k, p)| if seen[k.as_str()] > 1 { format!("{k}_{}", p.id.to_string().replace(['/', ':'], "-")) } else { k.clone() })
        .collect()
}

/// A BibTeX file of `papers`, each with the reader's note if any.
pub fn bibtex(papers: &[(&Paper, Option<&str>)]) -> String {
    let keys = unique_keys(&papers.iter().map(|(p, _)| *p).collect::<Vec<_>>());
    let mut out = String::from("% Exported from paperboy\n\n");
    for ((paper, note), key) in papers.iter().zip(keys) {
        out.push_str(&bibtex_entry(paper, &key, *note));
        out.push('\n');
    }
    out
}

/// One author as CSL-JSON: family and given names (the last word is the family name).
fn csl_name(name: &str) -> Value {
    let name = name.trim();
    match name.rsplit_once(' ') {
        Some((given, family)) if !given.trim().is_empty() => json!({"family": family, "given": given.trim()}),
        _ => json!({"literal": name}),
    }
}

/// A CSL-JSON array of `papers` (items of type `article`, a preprint to Zotero).
pub fn csl_json(papers: &[(&Paper, Option<&str>)]) -> Value {
    use chrono::Datelike;
    let keys = unique_keys(&papers.iter().map(|(p, _)| *p).collect::<Vec<_>>());
    let items: Vec<Value> = papers
        .iter()
        .zip(keys)
        .map(|((p, note), key)| {
            let mut item = json!({"id": key, "type": "article", "title": p.title});
            let o = item.as_object_mut().expect("an object");
            if !p.authors.is_empty() {
                o.insert("author".into(), Value::Array(p.authors.iter().map(|a| csl_name(&a.name)).collect()));
            }
            if let Some(s) = p.submitted {
                o.insert("issued".into(), json!({"date-parts": [[s.year(), s.month(), s.day()]]}));
            } else if let Some(y) = year(p) {
                o.insert("issued".into(), json!({"date-parts": [[y]]}));
            }
            if !p.abstract_text.is_empty() {
                o.insert("abstract".into(), json!(p.abstract_text));
            }
            if let Some(id) = p.id.arxiv() {
                o.insert("number".into(), json!(id.to_string()));
                o.insert("publisher".into(), json!("arXiv"));
                o.insert("URL".into(), json!(id.abs_url()));
                let mut n = format!("arXiv:{id}");
                if let Some(c) = p.primary_category() {
                    n.push_str(&format!(" [{c}]"));
                }
                o.insert("note".into(), json!(n));
            }
            if let Some(doi) = &p.doi {
                o.insert("DOI".into(), json!(doi));
            }
            if let Some(j) = &p.journal_ref {
                o.insert("container-title".into(), json!(j));
            }
            if !p.categories.is_empty() {
                o.insert("keyword".into(), json!(p.categories.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")));
            }
            if let Some(n) = note.filter(|n| !n.trim().is_empty()) {
                let old = o.get("note").and_then(Value::as_str).map(|s| format!("{s}\n")).unwrap_or_default();
                o.insert("note".into(), json!(format!("{old}{n}")));
            }
            item
        })
        .collect();
    Value::Array(items)
}

// ---- import ---------------------------------------------------------------------------------

/// What an imported file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// BibTeX or BibLaTeX.
    Bibtex,
    /// CSL-JSON.
    CslJson,
    /// One arXiv id, arXiv URL or DOI a line.
    List,
}

/// One entry of an imported library, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Citation {
    /// Where it is: `line 12` or `item 3`, and its key when it has one.
    pub at: String,
    /// Its arXiv id, if it names one.
    pub arxiv: Option<String>,
    /// Its DOI.
    pub doi: Option<String>,
    /// Its title.
    pub title: Option<String>,
}

/// An entry that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// Where it is.
    pub at: String,
    /// Why.
    pub reason: String,
}

/// A library as read: the format, the entries, and those that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parsed {
    /// The format.
    pub format: Format,
    /// Entries read.
    pub citations: Vec<Citation>,
    /// Entries that could not be read.
    pub unreadable: Vec<Unreadable>,
}

/// Reads a library in any of the [`Format`]s (told apart by their content). The whole input
/// fails only when it is too large or is broken JSON; a bad BibTeX entry or list line is
/// reported and the rest is read.
pub fn parse(input: &str) -> Result<Parsed, String> {
    if input.len() > MAX_IMPORT_BYTES {
        return Err(format!("the file is larger than {} MiB", MAX_IMPORT_BYTES / (1024 * 1024)));
    }
    let input = input.trim_start_matches('\u{feff}');
    let trimmed = input.trim_start();
    let mut parsed = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        parse_csl(input)?
    } else if input.lines().any(|l| l.trim_start().starts_with('@')) {
        parse_bibtex(input)
    } else {
        parse_list(input)
    };
    if parsed.citations.len() > MAX_IMPORT_ENTRIES {
        parsed.citations.truncate(MAX_IMPORT_ENTRIES);
        parsed.unreadable.push(Unreadable { at: format!("after entry {MAX_IMPORT_ENTRIES}"), reason: format!("only the first {MAX_IMPORT_ENTRIES} entries are imported") });
    }
    Ok(parsed)
}

/// An arXiv id named by an id, `arXiv:` id, arXiv URL or arXiv DOI.
fn arxiv_in(s: &str) -> Option<ArxivId> {
    let s = s.trim();
    // "2405.15738 [cs]" (Zotero's eprint) counts by its first word.
    let first = s.split_whitespace().next().unwrap_or("");
    if let Ok(v) = ArxivId::parse_loose(s).or_else(|_| ArxivId::parse_loose(first)) {
        return Some(v.id);
    }
    let lower = s.to_ascii_lowercase();
    if let Some(i) = lower.find("10.48550/arxiv.") {
        return ArxivId::parse_loose(&s[i + "10.48550/arxiv.".len()..]).ok().map(|v| v.id);
    }
    // "arXiv preprint arXiv:2401.01234" (Google Scholar), or a URL inside other text: arXiv's
    // own pages, and the services that show arXiv papers under their id.
    for marker in ["arxiv:", "arxiv.org/abs/", "arxiv.org/pdf/", "arxiv.org/html/", "huggingface.co/papers/", "hf.co/papers/", "alphaxiv.org/abs/", "alphaxiv.org/overview/"] {
        if let Some(i) = lower.find(marker) {
            let rest = &s[i + marker.len()..];
            let token: String = rest.chars().take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '}' | ';' | '?' | '#')).collect();
            if let Ok(v) = ArxivId::parse_loose(token.trim_end_matches(".pdf")) {
                return Some(v.id);
            }
        }
    }
    None
}

/// What a search query is, when it is a paper reference rather than words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A stored paper the query names (by arXiv id or URL, or DOI).
    Stored(PaperId),
    /// An arXiv paper this instance does not have.
    MissingArxiv(ArxivId),
    /// A DOI no stored paper carries.
    MissingDoi(String),
}

/// The paper a search query names outright, when the query is one reference and nothing else:
/// an arXiv id (`2401.01234`, `arXiv:2401.01234v2`), an arXiv, Hugging Face papers or alphaXiv
/// URL, or a DOI (`10.1000/x`, `https://doi.org/…`; arXiv's own DOIs too).
pub fn named_paper(store: &dyn PaperStore, query: &str) -> Result<Option<Named>, StoreError> {
    let q = query.trim();
    if q.is_empty() || q.contains(char::is_whitespace) {
        return Ok(None);
    }
    if let Some(id) = arxiv_in(q) {
        let paper = PaperId::from(id.clone());
        return Ok(Some(match store.paper(&paper)? {
            Some(_) => Named::Stored(paper),
            None => Named::MissingArxiv(id),
        }));
    }
    if let Some(key) = doi_key(q) {
        return Ok(Some(match store.papers_by_keys(std::slice::from_ref(&key))?.into_iter().next() {
            Some((_, paper)) => Named::Stored(paper),
            None => Named::MissingDoi(key.trim_start_matches("doi:").to_owned()),
        }));
    }
    Ok(None)
}

fn line_of(input: &str, byte: usize) -> usize {
    input[..byte.min(input.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

fn parse_bibtex(input: &str) -> Parsed {
    let mut parsed = Parsed { format: Format::Bibtex, citations: vec![], unreadable: vec![] };
    // Each entry alone, so one broken entry costs only itself (an entry starts at an `@` that
    // begins a line).
    let starts: Vec<usize> = input.match_indices('@').map(|(i, _)| i).filter(|&i| input[..i].rsplit('\n').next().is_some_and(|before| before.trim().is_empty())).collect();
    // `@string` abbreviations apply to every entry after them.
    let strings: String = starts
        .iter()
        .enumerate()
        .filter(|(_, &s)| input[s..].get(..7).is_some_and(|t| t.eq_ignore_ascii_case("@string")))
        .map(|(k, &s)| &input[s..starts.get(k + 1).copied().unwrap_or(input.len())])
        .collect::<Vec<_>>()
        .join("\n");
    for (k, &start) in starts.iter().enumerate() {
        let chunk = &input[start..starts.get(k + 1).copied().unwrap_or(input.len())];
        let head = chunk.get(..8).unwrap_or(chunk).to_ascii_lowercase();
        if head.starts_with("@string") || head.starts_with("@comment") || head.starts_with("@preambl") {
            continue;
        }
        let line = line_of(input, start);
        let source = format!("{strings}\n{chunk}");
        match biblatex::Bibliography::parse(&source) {
            Ok(bib) => {
                for entry in bib.iter() {
                    parsed.citations.push(citation_of_entry(entry, line));
                }
            }
            Err(e) => {
                let key = chunk.split_once('{').map(|(_, rest)| rest.split(',').next().unwrap_or("").trim().to_owned()).unwrap_or_default();
                parsed.unreadable.push(Unreadable { at: format!("line {line}{}", if key.is_empty() { String::new() } else { format!(" ({key})") }), reason: format!("not valid BibTeX: {}", e.kind) });
            }
        }
    }
    parsed
}

fn citation_of_entry(entry: &biblatex::Entry, line: usize) -> Citation {
    use biblatex::ChunksExt;
    let field = |name: &str| entry.get(name).map(|c| c.format_verbatim()).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let prefix = field("archiveprefix").or_else(|| field("eprinttype")).unwrap_or_default().to_ascii_lowercase();
    let arxiv = field("eprint")
        .filter(|_| prefix.is_empty() || prefix == "arxiv")
        .and_then(|e| arxiv_in(&e))
        .or_else(|| field("arxivid").and_then(|e| arxiv_in(&e)))
        .or_else(|| ["url", "doi", "journal", "journaltitle", "note", "howpublished"].iter().find_map(|f| field(f).and_then(|v| arxiv_in(&v))));
    let doi = field("doi").filter(|d| doi_key(d).is_some());
    let title = field("title").map(|t| t.replace(['{', '}'], ""));
    Citation { at: format!("line {line} ({})", entry.key), arxiv: arxiv.map(|a| a.to_string()), doi, title }
}

fn parse_csl(input: &str) -> Result<Parsed, String> {
    let value: Value = serde_json::from_str(input).map_err(|e| format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column()))?;
    let items = match &value {
        Value::Array(items) => items.clone(),
        Value::Object(o) => match o.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => vec![value.clone()],
        },
        _ => return Err("a CSL-JSON file is an array of items".into()),
    };
    let mut parsed = Parsed { format: Format::CslJson, citations: vec![], unreadable: vec![] };
    for (i, item) in items.iter().enumerate() {
        let Some(o) = item.as_object() else {
            parsed.unreadable.push(Unreadable { at: format!("item {}", i + 1), reason: "not a JSON object".into() });
            continue;
        };
        let text = |k: &str| o.get(k).and_then(|v| match v {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }).filter(|s| !s.is_empty());
        let arxiv_number = text("number").filter(|_| text("publisher").is_some_and(|p| p.eq_ignore_ascii_case("arxiv")));
        let arxiv = arxiv_number
            .and_then(|n| arxiv_in(&n))
            .or_else(|| ["URL", "DOI", "archive_location", "note", "container-title"].iter().find_map(|k| text(k).and_then(|v| arxiv_in(&v))));
        let at = match text("id") {
            Some(id) => format!("item {} ({id})", i + 1),
            None => format!("item {}", i + 1),
        };
        let citation = Citation { at, arxiv: arxiv.map(|a| a.to_string()), doi: text("DOI").filter(|d| doi_key(d).is_some()), title: text("title") };
        if citation.arxiv.is_none() && citation.doi.is_none() && citation.title.is_none() {
            parsed.unreadable.push(Unreadable { at: citation.at, reason: "no arXiv id, DOI or title".into() });
        } else {
            parsed.citations.push(citation);
        }
    }
    Ok(parsed)
}

fn parse_list(input: &str) -> Parsed {
    let mut parsed = Parsed { format: Format::List, citations: vec![], unreadable: vec![] };
    for (n, line) in input.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('%') {
            continue;
        }
        let at = format!("line {}", n + 1);
        if let Some(id) = arxiv_in(line) {
            parsed.citations.push(Citation { at, arxiv: Some(id.to_string()), doi: None, title: None });
        } else if doi_key(line).is_some() {
            parsed.citations.push(Citation { at, arxiv: None, doi: Some(line.to_owned()), title: None });
        } else {
            let shown: String = line.chars().take(80).collect();
            parsed.unreadable.push(Unreadable { at, reason: format!("{shown:?} is not an arXiv id, arXiv URL or DOI") });
        }
    }
    parsed
}

/// How an entry was matched to a stored paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// Its arXiv id.
    ArxivId,
    /// Its DOI.
    Doi,
    /// Its title (normalised).
    Title,
}

/// What became of one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Match {
    /// Matched to a stored paper.
    Matched {
        /// The paper.
        paper: PaperId,
        /// How.
        by: MatchedBy,
    },
    /// Not matched.
    Unmatched {
        /// Why, in words.
        reason: String,
        /// The arXiv id to fetch, when the entry names one this store lacks.
        fetchable: Option<String>,
    },
}

/// Matches each citation to a stored paper: by arXiv id, else DOI, else normalised title (a
/// title several stored papers share matches none of them).
pub fn match_citations(store: &dyn PaperStore, citations: &[Citation]) -> Result<Vec<Match>, StoreError> {
    let ids: Vec<PaperId> = citations.iter().filter_map(|c| c.arxiv.as_deref()).filter_map(|a| a.parse().ok()).collect();
    let stored: HashSet<PaperId> = store.papers(&ids)?.into_iter().map(|p| p.id).collect();
    let keys: Vec<String> = citations.iter().flat_map(|c| c.doi.as_deref().and_then(doi_key).into_iter().chain(c.title.as_deref().and_then(title_key))).collect();
    let mut by_key: HashMap<String, Vec<PaperId>> = HashMap::new();
    for (key, id) in store.papers_by_keys(&keys)? {
        by_key.entry(key).or_default().push(id);
    }
    Ok(citations
        .iter()
        .map(|c| {
            let arxiv: Option<PaperId> = c.arxiv.as_deref().and_then(|a| a.parse().ok());
            if let Some(id) = arxiv.as_ref().filter(|id| stored.contains(id)) {
                return Match::Matched { paper: id.clone(), by: MatchedBy::ArxivId };
            }
            let one = |key: Option<String>| -> Result<Option<PaperId>, usize> {
                match key.and_then(|k| by_key.get(&k)) {
                    Some(v) if v.len() == 1 => Ok(Some(v[0].clone())),
                    Some(v) => Err(v.len()),
                    None => Ok(None),
                }
            };
            if let Ok(Some(id)) = one(c.doi.as_deref().and_then(doi_key)) {
                return Match::Matched { paper: id, by: MatchedBy::Doi };
            }
            match one(c.title.as_deref().and_then(title_key)) {
                Ok(Some(id)) => return Match::Matched { paper: id, by: MatchedBy::Title },
                Err(n) if arxiv.is_none() => return Match::Unmatched { reason: format!("{n} stored papers have this title"), fetchable: None },
                _ => {}
            }
            let reason = match (&arxiv, &c.doi, &c.title) {
                (Some(id), _, _) => format!("arXiv paper {id} is not in this paperboy yet"),
                (None, Some(doi), _) => format!("no stored paper has the DOI {doi}"),
                (None, None, Some(_)) => "no stored paper has this title".to_owned(),
                (None, None, None) => "the entry names no arXiv id, DOI or title".to_owned(),
            };
            Match::Unmatched { reason, fetchable: arxiv.map(|id| id.to_string()) }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latex_specials_are_escaped_outside_math() {
        assert_eq!(latex_escape("R&D 100% #1 a_b ~x^y {z} \\cmd"), "R\\&D 100\\% \\#1 a\\_b \\~{}x\\^{}y \\{z\\} \\textbackslash{}cmd");
        assert_eq!(latex_escape("Bounds in $O(n^{2})$ & more"), "Bounds in $O(n^{2})$ \\& more");
        assert_eq!(latex_escape("Costs $5 only"), "Costs \\$5 only");
        assert_eq!(latex_escape("broken $a}$ math"), "broken \\$a\\}\\$ math");
    }

    #[test]
    fn dois_and_titles_make_keys() {
        assert_eq!(doi_key("https://doi.org/10.1000/ABC").as_deref(), Some("doi:10.1000/abc"));
        assert_eq!(doi_key("doi:10.1/x").as_deref(), Some("doi:10.1/x"));
        assert_eq!(doi_key("not a doi"), None);
        assert_eq!(title_key("Attention Is {All} You Need").as_deref(), Some("title:attention is all you need"));
        assert_eq!(title_key("Hi"), None);
    }

    #[test]
    fn arxiv_ids_are_found_where_exports_put_them() {
        for s in ["2401.01234", "arXiv:2401.01234v2", "https://arxiv.org/abs/2401.01234", "https://arxiv.org/pdf/2401.01234v1.pdf", "10.48550/arXiv.2401.01234", "arXiv preprint arXiv:2401.01234"] {
            assert_eq!(arxiv_in(s).map(|a| a.to_string()).as_deref(), Some("2401.01234"), "{s}");
        }
        assert_eq!(arxiv_in("hep-th/9901001").map(|a| a.to_string()).as_deref(), Some("hep-th/9901001"));
        assert_eq!(arxiv_in("10.1000/xyz"), None);
    }

    #[test]
    fn a_broken_entry_costs_only_itself() {
        let bib = "@misc{good1, title = {One}, eprint = {2401.01234}, archivePrefix = {arXiv}}\n\n@article{bad, title = {unclosed\n\n@misc{good2, title = {Two}, doi = {10.1/x}}\n";
        let parsed = parse(bib).unwrap();
        assert_eq!(parsed.format, Format::Bibtex);
        assert_eq!(parsed.citations.len(), 2, "{parsed:?}");
        assert_eq!(parsed.unreadable.len(), 1);
        assert!(parsed.unreadable[0].at.starts_with("line 3"), "{:?}", parsed.unreadable);
        let list = parse("# my reading\n2401.01234\nhttps://arxiv.org/abs/hep-th/9901001v2\n10.1000/xyz\nnonsense\n").unwrap();
        assert_eq!((list.format, list.citations.len(), list.unreadable.len()), (Format::List, 3, 1));
        assert_eq!(list.unreadable[0].at, "line 5");
        assert!(parse("[{\"title\": 1,").unwrap_err().contains("line 1"));
    }
}
