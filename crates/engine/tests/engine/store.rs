//! The SQLite store: idempotent re-ingest, version updates, merging sources, runs, checkpoints.

use paperboy_core::{PaperId, Source};
use paperboy_engine::ingest::{ingest_path, snapshot};
use paperboy_engine::{IngestRun, PaperStore, SqliteStore};

use crate::helpers::{fixture, memory_store};

fn id(s: &str) -> PaperId {
    s.parse().unwrap()
}

fn ingest(store: &mut SqliteStore, source: Source, rel: &str) -> paperboy_engine::IngestReport {
    ingest_path(store, source, &fixture(rel), &mut |_| {}).unwrap()
}

#[test]
fn ingesting_the_same_input_twice_changes_nothing() {
    let mut store = memory_store();
    let first = ingest(&mut store, Source::OaiPmh, "oai-pmh/ListRecords_data_0.xml");
    assert_eq!((first.new, first.updated, first.unchanged, first.rejected), (1000, 0, 0, 0));
    let before = store.papers_changed_since(0, 10_000).unwrap();
    let second = ingest(&mut store, Source::OaiPmh, "oai-pmh/ListRecords_data_0.xml");
    assert_eq!((second.new, second.updated, second.unchanged, second.rejected), (0, 0, 1000, 0));
    assert_eq!(store.papers_changed_since(0, 10_000).unwrap(), before, "nothing was rewritten");
    for (source, rel) in [
        (Source::ArxivSnapshot, "snapshot/head200.jsonl"),
        (Source::HfDaily, "hf-daily"),
        (Source::Listing, "listing/head.txt"),
        (Source::Beir, "beir/scifact-head40/corpus.jsonl"),
        (Source::Atom, "atom/q_testing_s0_m10_bc5a6c384fe9.xml"),
    ] {
        let a = ingest(&mut store, source, rel);
        let b = ingest(&mut store, source, rel);
        assert!(a.new > 0, "{source:?}");
        assert_eq!((b.new, b.updated, b.unchanged), (0, 0, a.new + a.updated + a.unchanged), "{source:?}");
    }
    let stats = store.stats().unwrap();
    assert_eq!(stats.ingest_runs, 12);
    assert!(stats.papers > 1250);
}

fn snapshot_line(version: u32, title: &str) -> String {
    let versions: Vec<String> = (1..=version)
        .map(|v| format!(r#"{{"version":"v{v}","created":"Mon, {v} Apr 2024 10:00:00 GMT"}}"#))
        .collect();
    format!(
        r#"{{"id":"2404.00001","title":"{title}","authors":"A. One and B. Two","categories":"cs.LG stat.ML","abstract":"About {title}.","versions":[{}]}}"#,
        versions.join(",")
    )
}

#[test]
fn a_newer_version_updates_the_paper_and_never_duplicates_it() {
    let mut store = memory_store();
    let mut run = IngestRun::new(&mut store, Source::ArxivSnapshot, "test");
    run.accept(snapshot::parse_line(&snapshot_line(1, "First title")).map_err(|r| paperboy_engine::RecordError::new("1", r))).unwrap();
    let r1 = run.finish().unwrap();
    assert_eq!(r1.new, 1);
    let mut run = IngestRun::new(&mut store, Source::ArxivSnapshot, "test");
    run.accept(Ok(snapshot::parse_line(&snapshot_line(2, "Second title")).unwrap())).unwrap();
    run.accept(Ok(snapshot::parse_line(&snapshot_line(1, "First title")).unwrap())).unwrap();
    let r2 = run.finish().unwrap();
    assert_eq!((r2.new, r2.updated, r2.unchanged), (0, 1, 1), "a late v1 changes nothing");
    let p = store.paper(&id("2404.00001")).unwrap().unwrap();
    assert_eq!(p.title, "Second title");
    assert_eq!(p.latest_version(), Some(2));
    assert_eq!(p.authors.len(), 2);
    assert_eq!(store.stats().unwrap().papers, 1);
}

#[test]
fn the_same_paper_from_two_sources_merges() {
    let mut store = memory_store();
    // 2502.20730 is on Hugging Face on 2025-03-03; give it arXiv metadata too.
    ingest(&mut store, Source::HfDaily, "hf-daily/2025-03-03.json");
    let hf = store.paper(&id("2502.20730")).unwrap().unwrap();
    let line = r#"{"id":"2502.20730","title":"DeepSolution: Boosting Complex Engineering Solution Design via Tree-based Exploration and Bi-point Thinking","authors":"Zhuoqun Li and Others","categories":"cs.AI cs.CL","abstract":"arXiv abstract.","doi":"10.1/x","versions":[{"version":"v1","created":"Fri, 28 Feb 2025 05:23:10 GMT"},{"version":"v2","created":"Mon, 3 Mar 2025 05:23:10 GMT"}]}"#;
    let mut run = IngestRun::new(&mut store, Source::ArxivSnapshot, "test");
    run.accept(Ok(snapshot::parse_line(line).unwrap())).unwrap();
    assert_eq!(run.finish().unwrap().updated, 1);
    let merged = store.paper(&id("2502.20730")).unwrap().unwrap();
    assert_eq!(merged.abstract_text, "arXiv abstract.");
    assert_eq!(merged.primary_category().unwrap().as_str(), "cs.AI");
    assert_eq!(merged.signals.hf_upvotes, hf.signals.hf_upvotes, "Hugging Face upvotes survive");
    assert_eq!(merged.listed_on, hf.listed_on);
    assert_eq!(merged.sources.len(), 2);
    assert_eq!(merged.latest_version(), Some(2));
    // Re-reading the Hugging Face day does not undo the arXiv metadata.
    let again = ingest(&mut store, Source::HfDaily, "hf-daily/2025-03-03.json");
    assert_eq!(again.updated, 0);
    assert_eq!(store.papers_on("2025-03-03".parse().unwrap()).unwrap().len() as u64, again.unchanged);
}

#[test]
fn rejected_records_are_counted_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    let good = std::fs::read_to_string(fixture("snapshot/head200.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().take(5).collect();
    lines.insert(2, "{broken");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let mut store = memory_store();
    let report = ingest_path(&mut store, Source::ArxivSnapshot, &path, &mut |_| {}).unwrap();
    assert_eq!((report.new, report.rejected), (5, 1));
    assert!(report.first_errors[0].contains("mixed.jsonl:3: invalid JSON"), "{:?}", report.first_errors);
    let runs = store.ingest_runs(5).unwrap();
    assert_eq!(runs[0].rejected, 1);
    assert_eq!(runs[0].first_errors, report.first_errors);
    assert_eq!(runs[0].source, Source::ArxivSnapshot);
}

#[test]
fn papers_by_day_most_upvoted_first() {
    let mut store = memory_store();
    ingest(&mut store, Source::HfDaily, "hf-daily");
    let day = store.papers_on("2025-03-04".parse().unwrap()).unwrap();
    assert!(day.len() > 10);
    assert!(day.windows(2).all(|w| w[0].signals.hf_upvotes >= w[1].signals.hf_upvotes));
    assert_eq!(store.latest_day().unwrap().unwrap().to_string(), "2025-08-01");
}

#[test]
fn a_database_file_reopens_at_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paperboy.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        ingest(&mut store, Source::Listing, "listing/head.txt");
        store.set_harvest_checkpoint("k", "2023-03-07".parse().unwrap()).unwrap();
        store.set_harvest_checkpoint("k", "2023-03-01".parse().unwrap()).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 4);
    assert_eq!(store.stats().unwrap().papers, 14);
    assert_eq!(store.harvest_checkpoint("k").unwrap().unwrap().to_string(), "2023-03-07", "checkpoints never go back");
}
