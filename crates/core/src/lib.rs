//! Domain types of paperboy: what a paper is, how it is identified and classified.
//!
//! Everything here is plain data with validating constructors; no I/O. The engine, the
//! embedders and the web layer all speak these types, so an `ArxivId` or a `Category` that
//! exists is always well formed.
#![warn(missing_docs)]

pub mod arxiv_id;
pub mod category;
pub mod email;
pub mod paper;
pub mod text;
pub mod urls;

pub use arxiv_id::{ArxivId, IdError, PaperId, VersionedId};
pub use category::Category;
pub use email::{EmailAddress, EmailError};
pub use paper::{Author, Links, Paper, Signals, Source, Version};
