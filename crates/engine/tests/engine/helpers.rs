//! Fixtures, an in-memory store and the replay HTTP server (from the test kit).

use paperboy_engine::SqliteStore;

pub use paperboy_testkit::{fixture, read_fixture, ReplayServer, Reply};

pub fn memory_store() -> SqliteStore {
    SqliteStore::open_in_memory().expect("in-memory store")
}
