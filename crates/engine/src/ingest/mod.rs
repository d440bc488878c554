//! Ingest: one parser per source, and the run that feeds their records into the store.
//!
//! Every parser turns its input into a stream of `Result<Paper, RecordError>`: a malformed
//! record becomes a [`RecordError`] naming the file, the record's position and the reason, and
//! the stream goes on with the next record. An [`IngestRun`] batches the good papers into the
//! store, counts what was new, updated, unchanged or rejected, and records the run.

pub mod atom;
pub mod beir;
pub mod hf_daily;
pub mod listing;
pub mod oai_pmh;
pub mod snapshot;
mod text;
pub mod xml;

pub use text::{parse_date, split_authors};

use chrono::{DateTime, Utc};
use paperboy_core::{Paper, Source};
use serde::Serialize;

use crate::store::{PaperStore, StoreError};

/// How many rejected records a report keeps the reasons of.
pub const FIRST_ERRORS_KEPT: usize = 10;

/// A record that could not be turned into a paper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct RecordError {
    /// File and position: `corpus.jsonl:12`, `page.xml record 7 (oai:arXiv.org:2401.01234)`.
    pub location: String,
    /// What is wrong.
    pub reason: String,
}

impl RecordError {
    /// A record error at `location`.
    pub fn new(location: impl Into<String>, reason: impl Into<String>) -> Self {
        RecordError { location: location.into(), reason: reason.into() }
    }
}

/// The summary of one ingest run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Which parser read the input.
    pub source: Source,
    /// What was read: a path or a URL.
    pub input: String,
    /// When the run began.
    pub started: DateTime<Utc>,
    /// When it ended.
    pub finished: DateTime<Utc>,
    /// Papers not seen before.
    pub new: u64,
    /// Papers that changed (a new version, a new source, new signals).
    pub updated: u64,
    /// Papers seen before with nothing new.
    pub unchanged: u64,
    /// Records that could not be read.
    pub rejected: u64,
    /// The reasons of the first rejected records.
    pub first_errors: Vec<String>,
}

impl IngestReport {
    /// Every record looked at, good or bad.
    pub fn total(&self) -> u64 {
        self.new + self.updated + self.unchanged + self.rejected
    }
}

impl std::fmt::Display for IngestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} new, {} updated, {} unchanged, {} rejected",
            self.source.as_str(),
            self.new,
            self.updated,
            self.unchanged,
            self.rejected
        )?;
        for e in &self.first_errors {
            write!(f, "\n  rejected {e}")?;
        }
        Ok(())
    }
}

/// Feeds records into a store in batches and keeps the counts of one run.
pub struct IngestRun<'s> {
    store: &'s mut dyn PaperStore,
    report: IngestReport,
    batch: Vec<Paper>,
    batch_size: usize,
}

impl<'s> IngestRun<'s> {
    /// Starts a run of `source` reading `input`.
    pub fn new(store: &'s mut dyn PaperStore, source: Source, input: impl Into<String>) -> Self {
        let now = Utc::now();
        IngestRun {
            store,
            report: IngestReport {
                source,
                input: input.into(),
                started: now,
                finished: now,
                new: 0,
                updated: 0,
                unchanged: 0,
                rejected: 0,
                first_errors: Vec::new(),
            },
            batch: Vec::new(),
            batch_size: 8_000,
        }
    }

    /// Takes one record: a paper goes into the next batch, an error is counted and kept.
    pub fn accept(&mut self, record: Result<Paper, RecordError>) -> Result<(), StoreError> {
        match record {
            Ok(paper) => {
                self.batch.push(paper);
                if self.batch.len() >= self.batch_size {
                    self.flush()?;
                }
            }
            Err(e) => self.reject(e),
        }
        Ok(())
    }

    /// Takes every record of an iterator.
    pub fn accept_all(&mut self, records: impl IntoIterator<Item = Result<Paper, RecordError>>) -> Result<(), StoreError> {
        for r in records {
            self.accept(r)?;
        }
        Ok(())
    }

    /// Counts a rejected record.
    pub fn reject(&mut self, e: RecordError) {
        tracing::debug!(%e, "rejected record");
        self.report.rejected += 1;
        if self.report.first_errors.len() < FIRST_ERRORS_KEPT {
            self.report.first_errors.push(e.to_string());
        }
    }

    /// Records looked at so far.
    pub fn seen(&self) -> u64 {
        self.report.total() + self.batch.len() as u64
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let counts = self.store.upsert_papers(std::mem::take(&mut self.batch))?;
        self.report.new += counts.new;
        self.report.updated += counts.updated;
        self.report.unchanged += counts.unchanged;
        Ok(())
    }

    /// Writes the last batch, records the run in the store and returns its summary.
    pub fn finish(mut self) -> Result<IngestReport, StoreError> {
        self.flush()?;
        self.report.finished = Utc::now();
        self.store.record_ingest_run(&self.report)?;
        Ok(self.report)
    }
}

/// Parses on one thread while the caller stores on this one: the two halves of an ingest take
/// about the same time, so a second core nearly doubles throughput. The channel holds a few
/// batches at most, so memory stays flat however long the input is.
fn pipelined<I>(records: I, mut store: impl FnMut(Result<Paper, RecordError>) -> Result<(), StoreError>) -> Result<(), StoreError>
where
    I: Iterator<Item = Result<Paper, RecordError>> + Send,
{
    const BATCH: usize = 512;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<Paper, RecordError>>>(4);
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for record in records {
                batch.push(record);
                if batch.len() == BATCH && tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).is_err() {
                    return; // the storing side stopped
                }
            }
            let _ = tx.send(batch);
        });
        // Dropping `rx` on an error ends the parser thread at its next send.
        for batch in rx {
            for record in batch {
                store(record)?;
            }
        }
        Ok(())
    })
}

/// Why a whole input could not be ingested (single bad records are rejected, not errors).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The input.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An OAI-PMH page as a whole is unusable.
    #[error(transparent)]
    Oai(#[from] oai_pmh::OaiError),
    /// An Atom response as a whole is unusable.
    #[error(transparent)]
    Atom(#[from] atom::AtomError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Ingests one input of `source` from `path`: a saved response page for `oai-pmh` and `atom`,
/// a file for `arxiv-snapshot`, `listing` and `beir`, and a day file, folder or `.tar.gz` for
/// `hf-daily`. `progress` is called with the number of records seen, now and then.
pub fn ingest_path(
    store: &mut dyn PaperStore,
    source: Source,
    path: &std::path::Path,
    progress: &mut dyn FnMut(u64),
) -> Result<IngestReport, IngestError> {
    use std::io::BufReader;
    let shown = path.display().to_string();
    let io = |source: std::io::Error| IngestError::Io { path: shown.clone(), source };
    let mut run = IngestRun::new(store, source, shown.clone());
    let mut tick = |run: &IngestRun| {
        if run.seen().is_multiple_of(1000) {
            progress(run.seen());
        }
    };
    match source {
        Source::OaiPmh => {
            let bytes = std::fs::read(path).map_err(io)?;
            run.accept_all(oai_pmh::parse_page(&bytes, &shown)?.records)?;
        }
        Source::Atom => {
            let bytes = std::fs::read(path).map_err(io)?;
            run.accept_all(atom::parse_feed(&bytes, &shown)?.records)?;
        }
        Source::ArxivSnapshot => {
            let file = std::fs::File::open(path).map_err(io)?;
            let records = snapshot::SnapshotReader::new(BufReader::with_capacity(1 << 20, file), shown.clone());
            pipelined(records, |record| {
                run.accept(record)?;
                tick(&run);
                Ok(())
            })?;
        }
        Source::HfDaily => {
            let mut failed = None;
            hf_daily::read_path(path, &mut |record| {
                if failed.is_none() {
                    if let Err(e) = run.accept(record) {
                        failed = Some(e);
                    }
                }
            })
            .map_err(io)?;
            if let Some(e) = failed {
                return Err(e.into());
            }
        }
        Source::Listing => {
            let bytes = std::fs::read(path).map_err(io)?;
            let text = String::from_utf8_lossy(&bytes);
            if matches!(text, std::borrow::Cow::Owned(_)) {
                run.reject(RecordError::new(&shown, "not valid UTF-8; unreadable bytes were replaced with U+FFFD"));
            }
            run.accept_all(listing::parse_listing(&text, &shown))?;
        }
        Source::Beir => {
            let file = std::fs::File::open(path).map_err(io)?;
            let dataset = beir::dataset_name(path);
            pipelined(beir::read_corpus(BufReader::new(file), &shown, &dataset), |record| {
                run.accept(record)?;
                tick(&run);
                Ok(())
            })?;
        }
    }
    progress(run.seen());
    Ok(run.finish()?)
}
