//! The store: paperboy's system of record. Papers, ingest runs and harvest checkpoints.
//!
//! [`PaperStore`] is the seam; [`SqliteStore`] (WAL, versioned migrations) is the embedded
//! default. Everything derived (search indexes, vectors) can be rebuilt from what is here.

mod sqlite;

use std::collections::HashMap;

use chrono::NaiveDate;
use paperboy_core::{Paper, PaperId};
use serde::Serialize;

pub use sqlite::SqliteStore;

use crate::ingest::IngestReport;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row could not be read back.
    #[error("stored paper {id} is unreadable: {reason}")]
    Corrupt {
        /// The paper.
        id: String,
        /// Why.
        reason: String,
    },
    /// The database is newer than this program.
    #[error("the database is at schema version {found}, newer than this paperboy knows ({known}); upgrade paperboy")]
    TooNew {
        /// Schema version in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
}

/// What an upsert did with a batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UpsertCounts {
    /// Papers inserted.
    pub new: u64,
    /// Papers whose stored record changed.
    pub updated: u64,
    /// Papers already stored exactly so.
    pub unchanged: u64,
}

/// Counts over the whole store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Papers stored.
    pub papers: u64,
    /// Papers with an arXiv id.
    pub arxiv_papers: u64,
    /// Distinct days with papers.
    pub days: u64,
    /// The most recent day with papers.
    pub latest_day: Option<NaiveDate>,
    /// Ingest runs recorded.
    pub ingest_runs: u64,
}

/// The system of record.
pub trait PaperStore: Send {
    /// Inserts new papers and merges descriptions of known ones (see [`Paper::merge`]), in one
    /// transaction.
    fn upsert_papers(&mut self, papers: Vec<Paper>) -> Result<UpsertCounts, StoreError>;
    /// One paper by id.
    fn paper(&self, id: &PaperId) -> Result<Option<Paper>, StoreError>;
    /// The papers of one day (see [`Paper::day`]), most upvoted first, then by id.
    fn papers_on(&self, day: NaiveDate) -> Result<Vec<Paper>, StoreError>;
    /// The most recent day that has papers.
    fn latest_day(&self) -> Result<Option<NaiveDate>, StoreError>;
    /// Papers whose day is in `from..=to`, most upvoted first, then by id; at most `limit`.
    fn papers_between(&self, from: NaiveDate, to: NaiveDate, limit: usize) -> Result<Vec<Paper>, StoreError>;
    /// The nearest days with papers before and after `day`.
    fn neighbour_days(&self, day: NaiveDate) -> Result<(Option<NaiveDate>, Option<NaiveDate>), StoreError>;
    /// Papers whose primary category is `category`, newest day first, then by id; `limit` of
    /// them after skipping `offset`.
    fn papers_in_category(&self, category: &str, offset: usize, limit: usize) -> Result<Vec<Paper>, StoreError>;
    /// Primary categories with how many papers each, most papers first.
    fn category_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;
    /// Counts over the store.
    fn stats(&self) -> Result<Stats, StoreError>;
    /// Records a finished ingest run.
    fn record_ingest_run(&mut self, report: &IngestReport) -> Result<(), StoreError>;
    /// The most recent ingest runs, newest first.
    fn ingest_runs(&self, limit: usize) -> Result<Vec<IngestReport>, StoreError>;
    /// The last datestamp harvested completely for a harvest key (base URL, prefix and set).
    fn harvest_checkpoint(&self, key: &str) -> Result<Option<NaiveDate>, StoreError>;
    /// Remembers the last datestamp harvested completely.
    fn set_harvest_checkpoint(&mut self, key: &str, datestamp: NaiveDate) -> Result<(), StoreError>;
    /// Papers inserted or changed after `seq`, in change order, at most `limit`, each with its seq.
    fn papers_changed_since(&self, seq: i64, limit: usize) -> Result<Vec<(i64, Paper)>, StoreError>;
    /// Cached embeddings of `model` for these text hashes (those missing are left out).
    fn cached_embeddings(&self, model: &str, text_hashes: &[String]) -> Result<HashMap<String, Vec<f32>>, StoreError>;
    /// Caches embeddings of `model` by text hash.
    fn cache_embeddings(&mut self, model: &str, vectors: &[(String, Vec<f32>)]) -> Result<(), StoreError>;
}
