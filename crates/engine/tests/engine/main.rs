//! Integration tests of the engine: every parser on real recorded data, the store, and the
//! OAI-PMH harvester against a local server replaying recorded arXiv responses.

mod alerts;
mod harvest;
mod library;
mod helpers;
mod parsers;
mod search;
mod conformance;
mod store;
mod trending;
