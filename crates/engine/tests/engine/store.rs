//! What only the SQLite store does (the rest is the conformance suite, run on both backends).

use paperboy_core::Source;
use paperboy_engine::ingest::ingest_path;
use paperboy_engine::{PaperStore, SqliteStore};
use paperboy_engine::subscriptions::Interests;

use crate::helpers::fixture;

#[test]
fn a_database_file_reopens_at_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paperboy.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        ingest_path(&mut store, Source::Listing, &fixture("listing/head.txt"), &mut |_| {}).unwrap();
        store.set_harvest_checkpoint("k", "2023-03-07".parse().unwrap()).unwrap();
        store.set_harvest_checkpoint("k", "2023-03-01".parse().unwrap()).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 7);
    assert_eq!(store.stats().unwrap().papers, 14);
    assert_eq!(store.harvest_checkpoint("k").unwrap().unwrap().to_string(), "2023-03-07", "checkpoints never go back");
}

#[test]
fn interests_from_form_fields_are_checked() {
    let i = Interests::from_fields("  graph neural networks ", " cs.LG ,, math.CO", "GNN, ", "").unwrap();
    assert_eq!(i.text, "graph neural networks");
    assert_eq!(i.categories.len(), 2);
    assert_eq!(i.include, ["gnn"]);
    assert!(Interests::from_fields("", "not-a-category", "", "").is_err());
    assert!(Interests::from_fields(&"x".repeat(501), "", "", "").is_err());
    assert!(Interests::default().is_empty());
}

#[test]
fn upgrading_to_readers_indexes_the_stored_papers_by_author() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paperboy.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        ingest_path(&mut store, Source::HfDaily, &fixture("hf-daily"), &mut |_| {}).unwrap();
    }
    // Back to a version-5 database, as an older paperboy left it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE alert_settings; DROP TABLE watches; DROP TABLE paper_events; DROP TABLE webhook_deliveries; DROP TABLE alert_ledger; DROP TABLE alerts; DROP TABLE sign_in_links; DROP TABLE sessions; DROP TABLE api_tokens; DROP TABLE votes; DROP TABLE read_marks;
         DROP TABLE collection_items; DROP TABLE collections; DROP TABLE follows; DROP TABLE paper_authors; DROP TABLE paper_keys; DROP TABLE feed_keys; PRAGMA user_version = 5;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 7);
    let papers = store.papers_changed_since(0, 100).unwrap();
    let (_, first) = papers.iter().find(|(_, p)| !p.authors.is_empty()).unwrap();
    let key = paperboy_engine::readers::author_key(&first.authors[0].name);
    assert!(store.papers_by_authors(&[key], None, 0, 100).unwrap().iter().any(|p| p.id == first.id));
}
