//! The arXiv metadata snapshot: one JSON object per line, millions of lines.
//!
//! [`SnapshotReader`] streams the file line by line, so memory stays flat however large it is;
//! a malformed line is rejected with its line number and the stream goes on.

use std::io::BufRead;

use chrono::NaiveDate;
use paperboy_core::text::{fold_whitespace, non_blank};
use paperboy_core::{ArxivId, Author, Category, Paper, PaperId, Source, Version};
use serde::Deserialize;

use super::{parse_date, split_authors, RecordError};

#[derive(Deserialize)]
struct Record {
    id: String,
    #[serde(default)]
    authors: Option<String>,
    #[serde(default)]
    authors_parsed: Option<Vec<Vec<String>>>,
    title: Option<String>,
    #[serde(default)]
    comments: Option<String>,
    #[serde(rename = "journal-ref", default)]
    journal_ref: Option<String>,
    #[serde(default)]
    doi: Option<String>,
    #[serde(default)]
    categories: Option<String>,
    #[serde(default)]
    license: Option<String>,
    #[serde(rename = "abstract", default)]
    abstract_text: Option<String>,
    #[serde(default)]
    versions: Vec<RecordVersion>,
    #[serde(default)]
    update_date: Option<String>,
}

#[derive(Deserialize)]
struct RecordVersion {
    version: String,
    #[serde(default)]
    created: Option<String>,
}

/// Streams papers out of a snapshot file.
pub struct SnapshotReader<R> {
    input: R,
    location: String,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> SnapshotReader<R> {
    /// Reads `input`; `location` (the file name) prefixes error positions.
    pub fn new(input: R, location: impl Into<String>) -> Self {
        SnapshotReader { input, location: location.into(), line: 0, buf: Vec::with_capacity(4096), done: false }
    }
}

impl<R: BufRead> Iterator for SnapshotReader<R> {
    type Item = Result<Paper, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            self.line += 1;
            let at = || format!("{}:{}", self.location, self.line);
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    let Ok(text) = std::str::from_utf8(&self.buf) else {
                        return Some(Err(RecordError::new(at(), "line is not valid UTF-8")));
                    };
                    if text.trim().is_empty() {
                        continue;
                    }
                    return Some(parse_line(text).map_err(|reason| RecordError::new(at(), reason)));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(RecordError::new(at(), format!("read error, stopped here: {e}"))));
                }
            }
        }
        None
    }
}

/// Parses one snapshot line.
pub fn parse_line(line: &str) -> Result<Paper, String> {
    let r: Record = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let id = ArxivId::parse_loose(&r.id).map_err(|e| e.to_string())?;
    let title = r.title.as_deref().and_then(non_blank).ok_or("missing title")?;
    let mut paper = Paper::new(PaperId::Arxiv(id.id), title, Source::ArxivSnapshot);
    paper.abstract_text = r.abstract_text.as_deref().map(fold_whitespace).unwrap_or_default();
    paper.authors = match r.authors_parsed {
        Some(parsed) if !parsed.is_empty() => parsed
            .into_iter()
            .filter_map(|parts| {
                // [last, first, suffix, …]
                let mut it = parts.into_iter().map(|p| fold_whitespace(&p));
                let last = it.next().unwrap_or_default();
                let first = it.next().unwrap_or_default();
                let suffix = it.next().unwrap_or_default();
                let name = [first, last, suffix].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
                (!name.is_empty()).then(|| Author::new(name))
            })
            .collect(),
        _ => split_authors(r.authors.as_deref().unwrap_or("")),
    };
    paper.categories = r
        .categories
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(|c| c.parse::<Category>().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    paper.comments = r.comments.as_deref().and_then(non_blank);
    paper.journal_ref = r.journal_ref.as_deref().and_then(non_blank);
    paper.doi = r.doi.as_deref().and_then(non_blank);
    paper.license = r.license.as_deref().and_then(non_blank);
    for v in r.versions {
        let number = v.version.trim_start_matches('v').parse::<u32>().map_err(|_| format!("bad version {:?}", v.version))?;
        paper.versions.push(Version { version: number, date: v.created.as_deref().and_then(parse_date) });
    }
    paper.versions.sort_by_key(|v| v.version);
    paper.fill_dates_from_versions();
    if let Some(d) = r.update_date.as_deref().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) {
        let d = d.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        paper.updated = Some(paper.updated.map_or(d, |u| u.max(d)));
    }
    Ok(paper)
}
