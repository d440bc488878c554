//! Search: full-text (tantivy BM25), semantic (vectors from a local model), hybrid (both sides'
//! scores, scaled by their spread, combined), similar papers, and the evaluation that keeps them
//! honest.
//!
//! Everything here is derived from the store and can be rebuilt from it: the full-text index
//! follows the store's change `seq`; vectors are cached in the store by model and text hash, so
//! the same text is never embedded twice.

pub mod eval;
pub mod fulltext;
pub mod highlight;
pub mod hybrid;
pub mod names;
pub mod service;
pub mod stem;
pub mod syntax;
pub mod vectors;

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use paperboy_core::{Category, PaperId};
use serde::Serialize;

use crate::store::StoreError;

pub use service::{Embed, IndexDirs, SearchService};

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 1_000;

/// What went wrong while searching or indexing.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed.
    #[error("full-text index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The index directory could not be opened.
    #[error("cannot open index directory: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    /// I/O on a path.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// An index entry that cannot be read.
    #[error("index is inconsistent ({0}); rebuild it with `paperboy reindex`")]
    Corrupt(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The embedder failed.
    #[error(transparent)]
    Embed(#[from] paperboy_embed::EmbedError),
    /// The query is not acceptable.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// A paper that is not in the store.
    #[error("no paper {0}")]
    UnknownPaper(String),
}

/// A validated query: not blank, at most [`MAX_QUERY_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery(String);

impl SearchQuery {
    /// Validates a query string.
    pub fn parse(s: &str) -> Result<Self, SearchError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(SearchError::InvalidQuery("the query is empty".into()));
        }
        if trimmed.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchError::InvalidQuery(format!("the query is longer than {MAX_QUERY_CHARS} characters")));
        }
        Ok(SearchQuery(trimmed.to_owned()))
    }

    /// The query text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Restrictions on results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only papers of this day or later.
    pub since: Option<NaiveDate>,
    /// Only papers of this day or earlier.
    pub until: Option<NaiveDate>,
    /// Only papers in this category.
    pub category: Option<Category>,
}

impl Filters {
    /// True when there is nothing to filter.
    pub fn is_empty(&self) -> bool {
        self.since.is_none() && self.until.is_none() && self.category.is_none()
    }
}

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Keywords only (BM25).
    Bm25,
    /// Meaning only (vectors).
    Semantic,
    /// Both, fused by score (see [`hybrid::fuse`]).
    #[default]
    Hybrid,
}

impl FromStr for Mode {
    type Err = SearchError;
    fn from_str(s: &str) -> Result<Self, SearchError> {
        match s {
            "bm25" => Ok(Mode::Bm25),
            "semantic" => Ok(Mode::Semantic),
            "hybrid" => Ok(Mode::Hybrid),
            other => Err(SearchError::InvalidQuery(format!("unknown mode {other:?}: use bm25, semantic or hybrid"))),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Bm25 => "bm25",
            Mode::Semantic => "semantic",
            Mode::Hybrid => "hybrid",
        })
    }
}

/// Why a hit is where it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Explanation {
    /// 1-based rank in the BM25 results, if it was there.
    pub bm25_rank: Option<usize>,
    /// 1-based rank in the vector results, if it was there.
    pub vector_rank: Option<usize>,
    /// Query terms found in the paper.
    pub matched_terms: Vec<String>,
    /// The query was this paper's id or exact title; pinned first.
    pub exact: bool,
    /// The query is the name of one of its authors; pinned after exact matches.
    pub author: bool,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// The paper.
    pub id: PaperId,
    /// The score in the mode used (BM25, cosine, or the fused score of [`hybrid::fuse`]).
    pub score: f32,
    /// The abstract fragment with matched terms in `<b>`, HTML-escaped ("" when none).
    pub snippet_html: String,
    /// Why it ranks here.
    pub explain: Explanation,
}
