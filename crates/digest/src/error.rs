//! The digest crate's settings and errors (kept apart from `lib.rs` so every module imports
//! them from here, not from the crate root that imports those modules).

use paperboy_engine::search::SearchError;
use paperboy_engine::StoreError;

/// Where links point and who sends.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The public address that makes every link absolute (`PAPERBOY_BASE_URL`).
    pub base_url: String,
    /// The sender (`PAPERBOY_FROM`), e.g. `paperboy <digest@example.org>`.
    pub from: String,
}

/// What went wrong while composing or delivering.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Search failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// A setting is wrong.
    #[error("{0}")]
    Config(String),
}

