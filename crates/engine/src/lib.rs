//! paperboy's engine: the store (system of record), ingest of every source, and the OAI-PMH
//! harvester. It knows nothing of HTTP servers, templates or mail.
#![warn(missing_docs)]

pub mod demo;
pub mod harvest;
pub mod ingest;
pub mod outbox;
pub mod search;
pub mod store;
pub mod subscriptions;
pub mod synth;
pub mod trending;

pub use ingest::{IngestReport, IngestRun, RecordError};
pub use store::{EmbeddingCache, Leases, Location, Outbox, PaperStore, PgStore, SqliteStore, Store, StoreError, SubscriberStore};
