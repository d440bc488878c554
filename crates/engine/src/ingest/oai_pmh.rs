//! arXiv OAI-PMH response pages: `ListRecords` and `GetRecord` in the `oai_dc`, `arXiv` and
//! `arXivRaw` metadata formats, resumption tokens and OAI error replies.
//!
//! This module only reads pages; [`crate::harvest`] talks to the server.

use chrono::NaiveDate;
use paperboy_core::text::{fold_whitespace, non_blank};
use paperboy_core::{ArxivId, Author, Category, Paper, PaperId, Source, Version};

use super::xml::{parse_document, Element, XmlError};
use super::{parse_date, split_authors, RecordError};

/// One parsed response page.
#[derive(Debug, Default)]
pub struct OaiPage {
    /// The records, good or rejected, in page order (deleted records are left out).
    pub records: Vec<Result<Paper, RecordError>>,
    /// Records the server marked deleted.
    pub deleted: usize,
    /// The token for the next page; `None` on the last page (absent or empty token).
    pub resumption_token: Option<String>,
    /// `completeListSize` of the token, when given.
    pub complete_list_size: Option<u64>,
    /// The latest record datestamp on the page.
    pub max_datestamp: Option<NaiveDate>,
}

/// Why a page could not be read as a whole.
#[derive(Debug, thiserror::Error)]
pub enum OaiError {
    /// Not XML.
    #[error("{location}: {source}")]
    Xml {
        /// The page.
        location: String,
        /// The XML error with its byte offset.
        source: XmlError,
    },
    /// XML, but not an OAI-PMH response.
    #[error("{location}: not an OAI-PMH response (root element <{root}>)")]
    NotOai {
        /// The page.
        location: String,
        /// The root element found.
        root: String,
    },
    /// The server answered with an OAI error other than `noRecordsMatch`.
    #[error("{location}: OAI-PMH error {code}: {message}")]
    Protocol {
        /// The page.
        location: String,
        /// The OAI error code (`badResumptionToken`, `badArgument`, …).
        code: String,
        /// The server's message.
        message: String,
    },
}

/// Parses one OAI-PMH response. `location` names the page in errors (a path or URL).
///
/// `noRecordsMatch` is not an error: it means there is nothing new, and gives an empty page.
pub fn parse_page(bytes: &[u8], location: &str) -> Result<OaiPage, OaiError> {
    let root = parse_document(bytes).map_err(|source| OaiError::Xml { location: location.to_owned(), source })?;
    if root.name != "OAI-PMH" {
        return Err(OaiError::NotOai { location: location.to_owned(), root: root.name });
    }
    if let Some(error) = root.child("error") {
        let code = error.attr("code").unwrap_or("unknown").to_owned();
        if code == "noRecordsMatch" {
            return Ok(OaiPage::default());
        }
        return Err(OaiError::Protocol { location: location.to_owned(), code, message: fold_whitespace(&error.text) });
    }
    let mut page = OaiPage::default();
    let list = root.child("ListRecords").or_else(|| root.child("GetRecord"));
    let Some(list) = list else { return Ok(page) };
    for (index, record) in list.children_named("record").enumerate() {
        let header = record.child("header");
        let identifier = header.and_then(|h| h.child_text("identifier")).unwrap_or("").trim();
        let location = format!("{location} record {} ({identifier})", index + 1);
        if let Some(stamp) = header.and_then(|h| h.child_text("datestamp")) {
            if let Ok(d) = NaiveDate::parse_from_str(stamp.trim(), "%Y-%m-%d") {
                page.max_datestamp = page.max_datestamp.max(Some(d));
            }
        }
        if header.and_then(|h| h.attr("status")) == Some("deleted") {
            page.deleted += 1;
            continue;
        }
        page.records.push(parse_record(record, identifier).map_err(|reason| RecordError::new(location, reason)));
    }
    if let Some(token) = list.child("resumptionToken") {
        page.resumption_token = non_blank(&token.text);
        page.complete_list_size = token.attr("completeListSize").and_then(|s| s.parse().ok());
    }
    Ok(page)
}

fn parse_record(record: &Element, identifier: &str) -> Result<Paper, String> {
    let metadata = record.child("metadata").ok_or("record has no <metadata>")?;
    let format = metadata.children.first().ok_or("empty <metadata>")?;
    match format.name.as_str() {
        "dc" => parse_oai_dc(format, identifier),
        "arXiv" => parse_arxiv(format),
        "arXivRaw" => parse_arxiv_raw(format),
        other => Err(format!("unsupported metadata format <{other}>")),
    }
}

fn arxiv_id(text: &str) -> Result<PaperId, String> {
    ArxivId::parse_loose(text).map(|v| PaperId::Arxiv(v.id)).map_err(|e| e.to_string())
}

fn title_of(el: &Element) -> Result<String, String> {
    el.child_text("title").and_then(non_blank).ok_or_else(|| "missing <title>".to_owned())
}

fn categories_from_codes(list: &str) -> Result<Vec<Category>, String> {
    list.split_whitespace().map(|c| c.parse::<Category>().map_err(|e| e.to_string())).collect()
}

fn opt_text(el: &Element, name: &str) -> Option<String> {
    el.child_text(name).and_then(non_blank)
}

/// Dublin Core: names are "Last, First"; subjects are category names; the abstract and
/// "Comment: …" are both `<description>`.
fn parse_oai_dc(dc: &Element, header_id: &str) -> Result<Paper, String> {
    let id_text = dc
        .children_named("identifier")
        .map(|i| i.text.trim())
        .find(|t| t.contains("arxiv.org/abs/"))
        .unwrap_or(header_id);
    let mut paper = Paper::new(arxiv_id(id_text)?, title_of(dc)?, Source::OaiPmh);
    paper.authors = dc
        .children_named("creator")
        .filter_map(|c| non_blank(&c.text))
        .map(|name| match name.split_once(", ") {
            Some((last, first)) => Author::new(format!("{first} {last}")),
            None => Author::new(name),
        })
        .collect();
    paper.categories = dc.children_named("subject").filter_map(|s| Category::from_oai_subject(&s.text)).collect();
    for d in dc.children_named("description") {
        let text = fold_whitespace(&d.text);
        match text.strip_prefix("Comment:") {
            Some(comment) => paper.comments = non_blank(comment),
            None if paper.abstract_text.is_empty() => paper.abstract_text = text,
            None => {}
        }
    }
    let dates: Vec<_> = dc.children_named("date").filter_map(|d| parse_date(&d.text)).collect();
    paper.submitted = dates.iter().min().copied();
    paper.updated = dates.iter().max().copied();
    for ident in dc.children_named("identifier").map(|i| i.text.trim()) {
        if let Some(doi) = ident.strip_prefix("doi:") {
            paper.doi = non_blank(doi);
        } else if !ident.starts_with("http") && paper.journal_ref.is_none() {
            paper.journal_ref = non_blank(ident);
        }
    }
    Ok(paper)
}

/// The fields the `arXiv` and `arXivRaw` formats write alike.
fn fill_arxiv_fields(paper: &mut Paper, el: &Element) -> Result<(), String> {
    paper.categories = categories_from_codes(el.child_text("categories").unwrap_or(""))?;
    paper.abstract_text = el.child_text("abstract").map(fold_whitespace).unwrap_or_default();
    paper.comments = opt_text(el, "comments");
    paper.journal_ref = opt_text(el, "journal-ref");
    paper.doi = opt_text(el, "doi");
    paper.license = opt_text(el, "license");
    Ok(())
}

/// The `arXiv` format: structured authors with affiliations, `created`/`updated` dates.
fn parse_arxiv(el: &Element) -> Result<Paper, String> {
    let id = el.child_text("id").ok_or("missing <id>")?;
    let mut paper = Paper::new(arxiv_id(id)?, title_of(el)?, Source::OaiPmh);
    if let Some(authors) = el.child("authors") {
        paper.authors = authors
            .children_named("author")
            .filter_map(|a| {
                let keyname = a.child_text("keyname").map(fold_whitespace).unwrap_or_default();
                let forenames = a.child_text("forenames").map(fold_whitespace).unwrap_or_default();
                let suffix = a.child_text("suffix").map(fold_whitespace).unwrap_or_default();
                let name = [forenames, keyname, suffix].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
                (!name.is_empty()).then(|| Author { name, affiliation: opt_text(a, "affiliation") })
            })
            .collect();
    }
    fill_arxiv_fields(&mut paper, el)?;
    paper.submitted = el.child_text("created").and_then(parse_date);
    paper.updated = el.child_text("updated").and_then(parse_date).or(paper.submitted);
    if let Some(created) = paper.submitted {
        paper.versions = vec![Version { version: 1, date: Some(created) }];
    }
    Ok(paper)
}

/// `arXivRaw`: every version with its date; authors as one string.
fn parse_arxiv_raw(el: &Element) -> Result<Paper, String> {
    let id = el.child_text("id").ok_or("missing <id>")?;
    let mut paper = Paper::new(arxiv_id(id)?, title_of(el)?, Source::OaiPmh);
    paper.authors = split_authors(el.child_text("authors").unwrap_or(""));
    fill_arxiv_fields(&mut paper, el)?;
    for v in el.children_named("version") {
        let number = v
            .attr("version")
            .and_then(|s| s.trim_start_matches('v').parse::<u32>().ok())
            .ok_or("a <version> without a vN attribute")?;
        paper.versions.push(Version { version: number, date: v.child_text("date").and_then(parse_date) });
    }
    paper.versions.sort_by_key(|v| v.version);
    paper.fill_dates_from_versions();
    Ok(paper)
}
