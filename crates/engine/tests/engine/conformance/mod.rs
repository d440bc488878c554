//! One conformance suite for every store backend: the same test functions (`cases.rs`), run
//! once on SQLite and once on PostgreSQL.
//!
//! PostgreSQL runs when `PAPERBOY_TEST_POSTGRES_URL` names a database (`.ci/run` starts a
//! throwaway cluster and sets it); each test gets a schema of its own, dropped at the end.
//! Without the URL the PostgreSQL half prints a SKIPPED line, except in CI (`CI=true`), where a
//! missing database fails the test.

mod cases;
mod migrate;

use std::io::Write;
use std::path::PathBuf;

use paperboy_engine::{PgStore, SqliteStore, Store};

/// A database for one test; [`TestDb::open`] gives as many connections to it as a case needs.
pub enum TestDb {
    Sqlite { _dir: tempfile::TempDir, path: PathBuf },
    Postgres { url: String, schema: String },
}

pub const POSTGRES_URL: &str = "PAPERBOY_TEST_POSTGRES_URL";

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("paperboy.db");
        TestDb::Sqlite { _dir: dir, path }
    }

    /// A fresh schema on the test server, or `None` (after saying so) when there is none.
    pub fn postgres(test: &str) -> Option<TestDb> {
        match std::env::var(POSTGRES_URL) {
            Ok(url) if !url.is_empty() => {
                let schema = format!("t_{}_{}", test.chars().take(40).collect::<String>(), &paperboy_engine::subscriptions::random_token()[..8]);
                Some(TestDb::Postgres { url, schema })
            }
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("{POSTGRES_URL} is not set: in CI the PostgreSQL half of the store suite must run (.ci/run starts the server)")
            }
            _ => {
                // Straight to stderr, past the test harness's capture, so the skip is seen.
                let _ = writeln!(std::io::stderr(), "SKIPPED: store conformance `{test}` on PostgreSQL ({POSTGRES_URL} is not set)");
                None
            }
        }
    }

    /// A new connection to this test's database.
    pub fn open(&self) -> Box<dyn Store> {
        match self {
            TestDb::Sqlite { path, .. } => Box::new(SqliteStore::open(path).expect("SQLite store")),
            TestDb::Postgres { url, schema } => Box::new(PgStore::connect_in_schema(url, schema).expect("PostgreSQL store")),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { url, schema } = self {
            if let Err(e) = PgStore::drop_schema(url, schema) {
                let _ = writeln!(std::io::stderr(), "could not drop test schema {schema}: {e}");
            }
        }
    }
}

/// Instantiates every case twice: `sqlite::case` and `postgres::case`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $case() { super::cases::$case(&super::TestDb::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $case() {
                if let Some(db) = super::TestDb::postgres(stringify!($case)) { super::cases::$case(&db); }
            })*
        }
    };
}

conformance!(
    ingesting_the_same_input_twice_changes_nothing,
    a_newer_version_updates_the_paper_and_never_duplicates_it,
    the_same_paper_from_two_sources_merges,
    a_paper_twice_in_one_batch_merges_onto_itself,
    rejected_records_are_counted_and_recorded,
    listings_by_day_category_and_window,
    papers_are_read_by_ids_in_the_order_asked,
    checkpoints_never_go_back,
    changes_since_seq_are_complete_and_in_order,
    embeddings_are_cached_per_model,
    double_opt_in_with_single_use_expiring_tokens,
    unsubscribe_preferences_and_import,
    a_period_gets_one_digest_and_a_paper_reaches_a_subscriber_once,
    claim_sent_retry_and_give_up,
    bounces_stop_digests,
    concurrent_claims_never_share_a_row,
    leases_are_exclusive_until_they_expire,
    reopening_migrates_nothing,
    sign_in_links_are_single_use_expire_and_are_limited_per_address,
    sessions_and_api_tokens_end_when_asked,
    votes_toggle_mark_and_count_in_trending,
    collections_are_private_shareable_and_keep_notes,
    followed_authors_and_their_papers,
    deleting_a_reader_leaves_nothing_behind,
    alerts_are_per_reader_and_deliver_an_item_once_per_output,
    webhook_deliveries_retry_with_the_same_key_and_a_dead_endpoint_is_disabled,
    a_watched_paper_raises_one_event_per_change_for_its_watchers,
);
