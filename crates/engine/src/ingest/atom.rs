//! arXiv export-API responses (Atom feeds).
//!
//! An entry's `<id>` is the versioned abs URL; `<published>` is when v1 appeared and
//! `<updated>` when the version in the id did. A feed whose single entry is titled "Error" is
//! the API's way of reporting a bad request; it becomes an [`AtomError::Api`].

use paperboy_core::text::{fold_whitespace, non_blank};
use paperboy_core::{ArxivId, Author, Category, Paper, PaperId, Source, Version};

use super::xml::{parse_document, XmlError};
use super::{parse_date, RecordError};

/// One parsed Atom response.
#[derive(Debug, Default)]
pub struct AtomFeed {
    /// The entries, good or rejected.
    pub records: Vec<Result<Paper, RecordError>>,
    /// `opensearch:totalResults`: how many results the query has in all.
    pub total_results: Option<u64>,
    /// `opensearch:startIndex` of this page.
    pub start_index: Option<u64>,
}

/// Why a response could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AtomError {
    /// Not XML.
    #[error("{location}: {source}")]
    Xml {
        /// The response.
        location: String,
        /// The XML error.
        source: XmlError,
    },
    /// XML, but not an Atom feed.
    #[error("{location}: not an Atom feed (root element <{root}>)")]
    NotAtom {
        /// The response.
        location: String,
        /// What the root was.
        root: String,
    },
    /// The API reported an error.
    #[error("{location}: the arXiv API reported an error: {message}")]
    Api {
        /// The response.
        location: String,
        /// The API's message.
        message: String,
    },
}

/// Parses one export-API response; `location` names it in errors.
pub fn parse_feed(bytes: &[u8], location: &str) -> Result<AtomFeed, AtomError> {
    let root = parse_document(bytes).map_err(|source| AtomError::Xml { location: location.to_owned(), source })?;
    if root.name != "feed" {
        return Err(AtomError::NotAtom { location: location.to_owned(), root: root.name });
    }
    let mut feed = AtomFeed {
        total_results: root.child_text("totalResults").and_then(|s| s.trim().parse().ok()),
        start_index: root.child_text("startIndex").and_then(|s| s.trim().parse().ok()),
        ..Default::default()
    };
    for (index, entry) in root.children_named("entry").enumerate() {
        let id_text = entry.child_text("id").unwrap_or("").trim();
        if id_text.contains("/api/errors") {
            let message = entry.child_text("summary").map(fold_whitespace).unwrap_or_else(|| id_text.to_owned());
            return Err(AtomError::Api { location: location.to_owned(), message });
        }
        let at = format!("{location} entry {} ({id_text})", index + 1);
        feed.records.push(parse_entry(entry).map_err(|reason| RecordError::new(at, reason)));
    }
    Ok(feed)
}

fn parse_entry(entry: &super::xml::Element) -> Result<Paper, String> {
    let versioned = ArxivId::parse_loose(entry.child_text("id").unwrap_or("")).map_err(|e| e.to_string())?;
    let title = entry.child_text("title").and_then(non_blank).ok_or("missing <title>")?;
    let mut paper = Paper::new(PaperId::Arxiv(versioned.id), title, Source::Atom);
    paper.abstract_text = entry.child_text("summary").map(fold_whitespace).unwrap_or_default();
    paper.authors = entry
        .children_named("author")
        .filter_map(|a| {
            let name = non_blank(a.child_text("name")?)?;
            Some(Author { name, affiliation: a.child_text("affiliation").and_then(non_blank) })
        })
        .collect();
    let primary = entry.child("primary_category").and_then(|c| c.attr("term"));
    let mut categories: Vec<Category> = Vec::new();
    for term in primary.into_iter().chain(entry.children_named("category").filter_map(|c| c.attr("term"))) {
        // The API also lists ACM/MSC classes as categories ("68T05", "I.2.6"): keep arXiv codes only.
        if let Ok(c) = term.parse::<Category>() {
            if !categories.contains(&c) {
                categories.push(c);
            }
        }
    }
    paper.categories = categories;
    paper.comments = entry.child_text("comment").and_then(non_blank);
    paper.journal_ref = entry.child_text("journal_ref").and_then(non_blank);
    paper.doi = entry.child_text("doi").and_then(non_blank);
    let published = entry.child_text("published").and_then(parse_date);
    let updated = entry.child_text("updated").and_then(parse_date);
    paper.versions.push(Version { version: 1, date: published });
    if let Some(v) = versioned.version.filter(|&v| v > 1) {
        paper.versions.push(Version { version: v, date: updated });
    }
    paper.submitted = published;
    paper.updated = updated.or(published);
    Ok(paper)
}
