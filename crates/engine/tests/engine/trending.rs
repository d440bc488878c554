//! Trending over the real Hugging Face daily papers of the demo corpus (data/demo). The
//! expected papers were worked out independently, with a few lines of Python over the raw
//! daily JSON files, from the formula documented in `trending.rs`.

use chrono::NaiveDate;
use paperboy_core::Source;
use paperboy_engine::ingest::hf_daily;
use paperboy_engine::trending::{ranking, score, top, Window};
use paperboy_engine::{IngestRun, SqliteStore};

use crate::helpers::memory_store;

fn demo_store() -> SqliteStore {
    let mut store = memory_store();
    let tar = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/hf-daily.tar.gz")).expect("demo corpus");
    let mut run = IngestRun::new(&mut store, Source::HfDaily, "demo");
    hf_daily::read_tar_gz(&tar[..], "demo", &mut |r| run.accept(r).expect("stored")).expect("readable");
    run.finish().expect("finished");
    store
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn top_ids(store: &SqliteStore, window: Window, end: &str, n: usize) -> Vec<String> {
    top(store, window, day(end), n).unwrap().into_iter().map(|t| t.paper.id.to_string()).collect()
}

#[test]
fn known_weeks_months_and_days_have_the_expected_top_papers() {
    let store = demo_store();
    // A week in January: Friday's GDPO paper (58 votes, 2 days old) beats older papers with more votes.
    assert_eq!(top_ids(&store, Window::Week, "2026-01-11", 3), ["2601.05242", "2601.02151", "2601.03252"]);
    assert_eq!(top_ids(&store, Window::Week, "2026-03-08", 3), ["2603.03756", "2603.00141", "2603.02138"]);
    // The last week of the corpus.
    assert_eq!(top_ids(&store, Window::Week, "2026-08-21", 3), ["2608.19880", "2608.16590", "2608.17253"]);
    // June: a 150-vote paper from two weeks earlier ranks second to the last day's top paper.
    assert_eq!(top_ids(&store, Window::Month, "2026-06-30", 3), ["2606.26740", "2606.14777", "2606.30616"]);
    // A day is ranked by votes alone.
    assert_eq!(top_ids(&store, Window::Day, "2026-01-09", 3), ["2601.05242", "2601.05241", "2601.05167"]);
}

#[test]
fn scores_explain_themselves_and_ranks_are_dense() {
    let store = demo_store();
    let week = ranking(&store, Window::Week, day("2026-01-11")).unwrap();
    assert!(week.len() > 50, "a real week has many papers: {}", week.len());
    for (i, t) in week.iter().enumerate() {
        assert_eq!(t.rank, i + 1);
        let d = t.paper.day().unwrap();
        assert!(d >= day("2026-01-05") && d <= day("2026-01-11"), "{d} is outside the week");
        let expected = f64::from(t.why.upvotes) * 0.5f64.powf(t.why.age_days as f64 / 3.0);
        assert!((t.score - expected).abs() < 1e-9);
    }
    let gdpo = &week[0];
    assert_eq!((gdpo.why.upvotes, gdpo.why.age_days), (58, 2));
    assert!((gdpo.why.weight - 0.5f64.powf(2.0 / 3.0)).abs() < 1e-12);
    // Outside its window a paper has no score.
    assert!(score(&gdpo.paper, 0, Window::Week, day("2026-02-01")).is_none());
    assert!(score(&gdpo.paper, 0, Window::Day, day("2026-01-08")).is_none());
    // An empty window is empty, not an error.
    assert!(ranking(&store, Window::Month, day("2020-01-01")).unwrap().is_empty());
}
