//! paperboy's engine: the store (the system of record, on SQLite or PostgreSQL), ingest of
//! every source and the OAI-PMH harvester, search (BM25, vectors and both), trending, and the
//! domain of subscriptions and the outbox. It knows nothing of HTTP servers, templates or mail.
//!
//! The whole flow, from a file to a ranked answer:
//!
//! ```
//! use std::sync::Arc;
//!
//! use paperboy_core::Source;
//! use paperboy_embed::MiniLm;
//! use paperboy_engine::ingest::ingest_path;
//! use paperboy_engine::search::{Embed, Filters, Mode, SearchQuery, SearchService};
//! use paperboy_engine::{PaperStore, SqliteStore};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The store: an SQLite file in production (`SqliteStore::open`), or PostgreSQL (`PgStore`).
//! let mut store = SqliteStore::open_in_memory()?;
//! // Ingest: one parser per source; every record is counted, a bad one reported and skipped.
//! let listing = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/listing/head.txt");
//! let report = ingest_path(&mut store, Source::Listing, listing.as_ref(), &mut |_| {})?;
//! assert_eq!(report.rejected, 0);
//!
//! // Search: the full-text index and the vectors are derived from the store (here in memory;
//! // `IndexDirs` keeps them on disk). The store is also the embedding cache.
//! let mut cache = SqliteStore::open_in_memory()?;
//! let model = Arc::new(MiniLm::load()?);
//! let search = SearchService::open(&store, &mut cache, None, model, Embed::Missing, &mut |_, _, _| {})?;
//! let query = SearchQuery::parse("adapting a segmentation network without the source data")?;
//! let hits = search.search(&store, &query, Mode::Hybrid, &Filters::default(), 3)?;
//! let best = store.paper(&hits[0].id)?.expect("a stored paper");
//! assert_eq!(best.title, "Source-Free Domain Adaptation for Image Segmentation");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod alerts;
pub mod demo;
pub mod harvest;
pub mod ingest;
pub mod library;
pub mod outbox;
pub mod readers;
pub mod recommend;
pub mod search;
pub mod store;
pub mod subscriptions;
pub mod synth;
pub mod trending;

pub use ingest::{IngestReport, IngestRun, RecordError};

/// The thread pool for bulk work done beside serving: embedding new papers and fitting the
/// "For you" lexicon. It has as many threads as the global pool, so that work runs no slower,
/// but it is apart from it. Search's own parallel work runs in the global pool: a query's
/// embedding and the two sides of a hybrid ranking. A rayon pool takes up work from outside only
/// once the parallel passes under way in it are done, so in one pool a fresh query waited for
/// the bulk work's current pass (see BENCHMARKS.md, "While the For-you lexicon is fitted, or new
/// papers embedded"). Apart, the pools' threads share the cores through the operating system's
/// scheduler.
pub fn background_pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("paperboy-background-{i}"))
            .build()
            .expect("the background thread pool")
    })
}
pub use store::{AlertStore, EmbeddingCache, Leases, Location, Outbox, PaperStore, PgStore, ReaderStore, SqliteStore, Store, StoreError, SubscriberStore};
