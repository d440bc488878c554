//! The cases: each takes a fresh database and opens what connections it needs.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use paperboy_core::{EmailAddress, Paper, PaperId, Source};
use paperboy_engine::ingest::{ingest_path, snapshot};
use paperboy_engine::outbox::{Delivery, Kind, OutgoingMessage, Outcome, BOUNCES_TO_STOP, MAX_ATTEMPTS};
use paperboy_engine::store::CLAIM_LEASE;
use paperboy_engine::subscriptions::{Frequency, Interests, Status, SubscribeOutcome};
use paperboy_engine::readers::{author_key, Marks, SignInRequest, Vote, SESSION_TTL, SIGN_INS_PER_HOUR, SIGN_IN_TTL};
use paperboy_engine::store::account_data;
use paperboy_engine::store::transfer::{Value, TABLES};
use paperboy_engine::trending::{self, Window};
use paperboy_engine::alerts::{Alert, AlertSpec, Delivery as AlertDelivery, Run, AlertSettings, Webhook, WebhookFormat, WebhookRequest, WebhookState, FAILURES_TO_DISABLE};
use paperboy_engine::{IngestRun, Store};

use super::TestDb;
use crate::helpers::fixture;

fn id(s: &str) -> PaperId {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn ingest(store: &mut dyn Store, source: Source, rel: &str) -> paperboy_engine::IngestReport {
    ingest_path(store, source, &fixture(rel), &mut |_| {}).unwrap()
}

fn snapshot_line(version: u32, title: &str) -> String {
    let versions: Vec<String> = (1..=version).map(|v| format!(r#"{{"version":"v{v}","created":"Mon, {v} Apr 2024 10:00:00 GMT"}}"#)).collect();
    format!(
        r#"{{"id":"2404.00001","title":"{title}","authors":"A. One and B. Two","categories":"cs.LG stat.ML","abstract":"About {title}.","versions":[{}]}}"#,
        versions.join(",")
    )
}

/// A paper from a snapshot line: `id`, a title, a category and a version.
fn paper(arxiv: &str, title: &str, category: &str, version: u32) -> Paper {
    let versions: Vec<String> = (1..=version).map(|v| format!(r#"{{"version":"v{v}","created":"Tue, {v} Sep 2026 10:00:00 GMT"}}"#)).collect();
    let line = format!(
        r#"{{"id":"{arxiv}","title":"{title}","authors":"A. Author","categories":"{category}","abstract":"On {title}.","versions":[{}]}}"#,
        versions.join(",")
    );
    snapshot::parse_line(&line).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
}

pub fn ingesting_the_same_input_twice_changes_nothing(db: &TestDb) {
    let mut store = db.open();
    let store = &mut *store;
    let first = ingest(store, Source::OaiPmh, "oai-pmh/ListRecords_data_0.xml");
    assert_eq!((first.new, first.updated, first.unchanged, first.rejected), (1000, 0, 0, 0));
    let before = store.papers_changed_since(0, 10_000).unwrap();
    let second = ingest(store, Source::OaiPmh, "oai-pmh/ListRecords_data_0.xml");
    assert_eq!((second.new, second.updated, second.unchanged, second.rejected), (0, 0, 1000, 0));
    assert_eq!(store.papers_changed_since(0, 10_000).unwrap(), before, "nothing was rewritten");
    for (source, rel) in [
        (Source::ArxivSnapshot, "snapshot/head200.jsonl"),
        (Source::HfDaily, "hf-daily"),
        (Source::Listing, "listing/head.txt"),
        (Source::Beir, "beir/scifact-head40/corpus.jsonl"),
        (Source::Atom, "atom/q_testing_s0_m10_bc5a6c384fe9.xml"),
    ] {
        let a = ingest(store, source, rel);
        let b = ingest(store, source, rel);
        assert!(a.new > 0, "{source:?}");
        assert_eq!((b.new, b.updated, b.unchanged), (0, 0, a.new + a.updated + a.unchanged), "{source:?}");
    }
    let stats = store.stats().unwrap();
    assert_eq!(stats.ingest_runs, 12);
    assert!(stats.papers > 1250);
    // Listing and BEIR papers have no arXiv id.
    assert_eq!(stats.papers - stats.arxiv_papers, 14 + 40, "{stats:?}");
}

pub fn a_newer_version_updates_the_paper_and_never_duplicates_it(db: &TestDb) {
    let mut store = db.open();
    let mut run = IngestRun::new(&mut *store, Source::ArxivSnapshot, "test");
    run.accept(snapshot::parse_line(&snapshot_line(1, "First title")).map_err(|r| paperboy_engine::RecordError::new("1", r))).unwrap();
    let r1 = run.finish().unwrap();
    assert_eq!(r1.new, 1);
    let mut run = IngestRun::new(&mut *store, Source::ArxivSnapshot, "test");
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

pub fn the_same_paper_from_two_sources_merges(db: &TestDb) {
    let mut store = db.open();
    let store = &mut *store;
    // 2502.20730 is on Hugging Face on 2025-03-03; give it arXiv metadata too.
    ingest(store, Source::HfDaily, "hf-daily/2025-03-03.json");
    let hf = store.paper(&id("2502.20730")).unwrap().unwrap();
    let line = r#"{"id":"2502.20730","title":"DeepSolution: Boosting Complex Engineering Solution Design via Tree-based Exploration and Bi-point Thinking","authors":"Zhuoqun Li and Others","categories":"cs.AI cs.CL","abstract":"arXiv abstract.","doi":"10.1/x","versions":[{"version":"v1","created":"Fri, 28 Feb 2025 05:23:10 GMT"},{"version":"v2","created":"Mon, 3 Mar 2025 05:23:10 GMT"}]}"#;
    let mut run = IngestRun::new(store, Source::ArxivSnapshot, "test");
    run.accept(Ok(snapshot::parse_line(line).unwrap())).unwrap();
    assert_eq!(run.finish().unwrap().updated, 1);
    let merged = store.paper(&id("2502.20730")).unwrap().unwrap();
    assert_eq!(merged.abstract_text, "arXiv abstract.");
    assert_eq!(merged.primary_category().unwrap().as_str(), "cs.AI");
    assert_eq!(merged.signals.hf_upvotes, hf.signals.hf_upvotes, "Hugging Face upvotes survive");
    assert_eq!(merged.listed_on, hf.listed_on);
    assert_eq!(merged.sources.len(), 2);
    assert_eq!(merged.latest_version(), Some(2));
    // The Hugging Face paper is now listed under its primary arXiv category.
    assert!(store.papers_in_category("cs.AI", 0, 50).unwrap().iter().any(|p| p.id == merged.id));
    assert!(store.category_counts().unwrap().iter().any(|(c, n)| c == "cs.AI" && *n >= 1));
    // Re-reading the Hugging Face day does not undo the arXiv metadata.
    let again = ingest(store, Source::HfDaily, "hf-daily/2025-03-03.json");
    assert_eq!(again.updated, 0);
    assert_eq!(store.papers_on(day("2025-03-03")).unwrap().len() as u64, again.unchanged);
}

pub fn a_paper_twice_in_one_batch_merges_onto_itself(db: &TestDb) {
    let mut store = db.open();
    let counts = store.upsert_papers(vec![paper("2609.00001", "One", "cs.LG", 1), paper("2609.00001", "One again", "cs.LG", 2), paper("2609.00002", "Two", "cs.CL", 1)]).unwrap();
    assert_eq!((counts.new, counts.updated, counts.unchanged), (2, 1, 0));
    let p = store.paper(&id("2609.00001")).unwrap().unwrap();
    assert_eq!((p.title.as_str(), p.latest_version()), ("One again", Some(2)));
    assert_eq!(store.stats().unwrap().papers, 2);
    let again = store.upsert_papers(vec![paper("2609.00001", "One again", "cs.LG", 2), paper("2609.00001", "One again", "cs.LG", 2)]).unwrap();
    assert_eq!((again.new, again.updated, again.unchanged), (0, 0, 2));
    assert!(store.upsert_papers(Vec::new()).unwrap() == Default::default());
}

pub fn rejected_records_are_counted_and_recorded(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    let good = std::fs::read_to_string(fixture("snapshot/head200.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().take(5).collect();
    lines.insert(2, "{broken");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let mut store = db.open();
    let report = ingest_path(&mut *store, Source::ArxivSnapshot, &path, &mut |_| {}).unwrap();
    assert_eq!((report.new, report.rejected), (5, 1));
    assert!(report.first_errors[0].contains("mixed.jsonl:3: invalid JSON"), "{:?}", report.first_errors);
    let runs = store.ingest_runs(5).unwrap();
    assert_eq!(runs[0].rejected, 1);
    assert_eq!(runs[0].first_errors, report.first_errors);
    assert_eq!(runs[0].source, Source::ArxivSnapshot);
    assert_eq!(runs[0].input, report.input);
    assert_eq!(runs[0].started.timestamp(), report.started.timestamp());
}

pub fn listings_by_day_category_and_window(db: &TestDb) {
    let mut store = db.open();
    let store = &mut *store;
    ingest(store, Source::HfDaily, "hf-daily");
    let on = store.papers_on(day("2025-03-04")).unwrap();
    assert!(on.len() > 10);
    assert!(on.windows(2).all(|w| w[0].signals.hf_upvotes >= w[1].signals.hf_upvotes));
    assert_eq!(store.latest_day().unwrap(), Some(day("2025-08-01")));
    let (before, after) = store.neighbour_days(day("2025-03-04")).unwrap();
    assert!(before.is_some_and(|d| d < day("2025-03-04")) && after.is_some_and(|d| d > day("2025-03-04")), "{before:?} {after:?}");
    let window = store.papers_between(day("2025-03-03"), day("2025-03-05"), 7).unwrap();
    assert_eq!(window.len(), 7);
    assert!(window.windows(2).all(|w| w[0].signals.hf_upvotes.unwrap_or(0) >= w[1].signals.hf_upvotes.unwrap_or(0)));
    assert!(window.iter().all(|p| p.day().is_some_and(|d| (day("2025-03-03")..=day("2025-03-05")).contains(&d))));

    store.upsert_papers(vec![paper("2609.00003", "Gamma", "cs.LG", 1), paper("2609.00001", "Alpha", "cs.LG", 1), paper("2609.00002", "Beta", "math.CO", 1)]).unwrap();
    let counts = store.category_counts().unwrap();
    assert_eq!(counts, vec![("cs.LG".to_owned(), 2), ("math.CO".to_owned(), 1)]);
    let ids: Vec<String> = store.papers_in_category("cs.LG", 0, 10).unwrap().iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, ["2609.00001", "2609.00003"], "same day: by id");
    assert_eq!(store.papers_in_category("cs.LG", 1, 10).unwrap().len(), 1);
    assert!(store.papers_in_category("q-bio.BM", 0, 10).unwrap().is_empty());
    assert!(store.paper(&id("2609.09999")).unwrap().is_none());
}

pub fn papers_are_read_by_ids_in_the_order_asked(db: &TestDb) {
    let mut store = db.open();
    store.upsert_papers(vec![paper("2609.00003", "Gamma", "cs.LG", 1), paper("2609.00001", "Alpha", "cs.LG", 1), paper("2609.00002", "Beta", "math.CO", 2)]).unwrap();
    let asked = [id("2609.00002"), id("2609.09999"), id("2609.00003"), id("2609.00002"), id("2609.00001")];
    let found = store.papers(&asked).unwrap();
    let ids: Vec<String> = found.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, ["2609.00002", "2609.00003", "2609.00001"], "in the order asked, unknown left out, a repeat once");
    assert_eq!(found[0], store.paper(&id("2609.00002")).unwrap().unwrap(), "the same record as a single read");
    assert!(store.papers(&[]).unwrap().is_empty());
}

pub fn checkpoints_never_go_back(db: &TestDb) {
    let mut store = db.open();
    assert_eq!(store.harvest_checkpoint("k").unwrap(), None);
    store.set_harvest_checkpoint("k", day("2023-03-07")).unwrap();
    store.set_harvest_checkpoint("k", day("2023-03-01")).unwrap();
    store.set_harvest_checkpoint("other", day("2020-01-01")).unwrap();
    assert_eq!(store.harvest_checkpoint("k").unwrap(), Some(day("2023-03-07")));
    store.set_harvest_checkpoint("k", day("2023-03-09")).unwrap();
    assert_eq!(db.open().harvest_checkpoint("k").unwrap(), Some(day("2023-03-09")));
    assert_eq!(store.harvest_checkpoint("other").unwrap(), Some(day("2020-01-01")));
}

pub fn changes_since_seq_are_complete_and_in_order(db: &TestDb) {
    let mut store = db.open();
    assert_eq!(store.last_seq().unwrap(), 0);
    store.upsert_papers((1..=5).map(|i| paper(&format!("2609.0000{i}"), &format!("P{i}"), "cs.LG", 1)).collect()).unwrap();
    let seen = store.last_seq().unwrap();
    let all = store.papers_changed_since(0, 100).unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "in change order");
    assert_eq!(all.last().unwrap().0, seen);
    // Paging by seq sees each paper once.
    let first = store.papers_changed_since(0, 2).unwrap();
    let rest = store.papers_changed_since(first[1].0, 100).unwrap();
    assert_eq!(first.len() + rest.len(), 5);
    // A change and a new paper come after what was seen, the change with a new seq.
    store.upsert_papers(vec![paper("2609.00002", "P2", "cs.LG", 2), paper("2609.00009", "P9", "cs.CL", 1), paper("2609.00004", "P4", "cs.LG", 1)]).unwrap();
    let after: Vec<String> = store.papers_changed_since(seen, 100).unwrap().into_iter().map(|(_, p)| p.id.to_string()).collect();
    assert_eq!(after, ["2609.00002", "2609.00009"], "the unchanged paper is not rewritten");
    assert!(store.last_seq().unwrap() > seen);
    assert_eq!(store.papers_changed_since(0, 100).unwrap().len(), 6);
    // Another connection sees the same sequence.
    assert_eq!(db.open().papers_changed_since(seen, 100).unwrap().len(), 2);
}

pub fn embeddings_are_cached_per_model(db: &TestDb) {
    let mut store = db.open();
    let v = |x: f32| vec![x, -x, 0.5, f32::MIN_POSITIVE];
    store.cache_embeddings("m1", &[("a".into(), v(1.0)), ("b".into(), v(2.0)), ("a".into(), v(3.0))]).unwrap();
    store.cache_embeddings("m2", &[("a".into(), v(9.0))]).unwrap();
    let got = store.cached_embeddings("m1", &["a".into(), "b".into(), "zz".into()]).unwrap();
    assert_eq!(got.len(), 2, "missing hashes are left out");
    assert_eq!(got["a"], v(3.0), "the last vector for a hash wins");
    assert_eq!(got["b"], v(2.0));
    assert_eq!(store.cached_embeddings("m2", &["a".into(), "b".into()]).unwrap()["a"], v(9.0));
    store.cache_embeddings("m1", &[("b".into(), v(4.0))]).unwrap();
    assert_eq!(db.open().cached_embeddings("m1", &["b".into()]).unwrap()["b"], v(4.0));
    assert!(store.cached_embeddings("m1", &[]).unwrap().is_empty());
}

fn token(outcome: SubscribeOutcome) -> String {
    match outcome {
        SubscribeOutcome::SendConfirmation { token, .. } => token,
        SubscribeOutcome::Nothing => panic!("expected a confirmation to send"),
    }
}

pub fn double_opt_in_with_single_use_expiring_tokens(db: &TestDb) {
    let mut store = db.open();
    let t0 = t0();
    let ada = EmailAddress::parse("Ada@Example.org").unwrap();
    let interests = Interests::from_fields("protein folding", "q-bio.BM, cs.LG", "diffusion", "survey").unwrap();
    let first = token(store.subscribe(&ada, Frequency::Weekly, &interests, t0).unwrap());
    assert_eq!(store.subscriber_by_email(&ada).unwrap().unwrap().status, Status::Pending);

    // Again within 10 minutes (any case): nothing new is sent.
    let again = EmailAddress::parse("ada@example.ORG").unwrap();
    assert_eq!(store.subscribe(&again, Frequency::Daily, &Interests::default(), t0 + Duration::minutes(9)).unwrap(), SubscribeOutcome::Nothing);
    // After 10 minutes: a new token, and the old one no longer works.
    let second = token(store.subscribe(&again, Frequency::Weekly, &interests, t0 + Duration::minutes(11)).unwrap());
    assert_ne!(first, second);
    assert!(store.confirm(&first, t0 + Duration::minutes(12)).unwrap().is_none());

    // Expired after 72 hours.
    assert!(store.confirm(&second, t0 + Duration::hours(73)).unwrap().is_none());
    let third = token(store.subscribe(&ada, Frequency::Weekly, &interests, t0 + Duration::hours(73)).unwrap());
    let sub = store.confirm(&third, t0 + Duration::hours(74)).unwrap().expect("confirmed");
    assert_eq!(sub.status, Status::Confirmed);
    assert_eq!(sub.frequency, Frequency::Weekly);
    assert_eq!(sub.interests, interests);
    assert_eq!(sub.email.as_str(), "Ada@example.org");
    assert_eq!(sub.created_at, t0);
    // Single use.
    assert!(store.confirm(&third, t0 + Duration::hours(74)).unwrap().is_none());
    assert!(store.confirm("not-a-token", t0).unwrap().is_none());
    // Confirmed: subscribing again sends nothing and changes nothing.
    assert_eq!(store.subscribe(&ada, Frequency::Daily, &Interests::default(), t0 + Duration::hours(80)).unwrap(), SubscribeOutcome::Nothing);
    assert_eq!(store.subscribers(10).unwrap().len(), 1);
    assert_eq!(store.subscribers(10).unwrap()[0].frequency, Frequency::Weekly);
    assert_eq!(store.confirmed_subscribers().unwrap().len(), 1);
}

pub fn unsubscribe_preferences_and_import(db: &TestDb) {
    let mut store = db.open();
    let grace = EmailAddress::parse("grace@example.org").unwrap();
    assert!(store.import_subscriber(&grace, Frequency::Daily, &Interests::default(), true, t0()).unwrap());
    assert!(!store.import_subscriber(&EmailAddress::parse("GRACE@example.org").unwrap(), Frequency::Weekly, &Interests::default(), true, t0()).unwrap(), "known: left as it is");
    let pending = EmailAddress::parse("pat@example.org").unwrap();
    assert!(store.import_subscriber(&pending, Frequency::Weekly, &Interests::default(), false, t0()).unwrap());
    let sub = store.subscriber_by_email(&grace).unwrap().unwrap();
    assert_eq!((sub.status, sub.frequency), (Status::Confirmed, Frequency::Daily));
    assert_eq!(store.subscriber_by_email(&pending).unwrap().unwrap().status, Status::Pending);
    assert_eq!(store.confirmed_subscribers().unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), [sub.id]);

    let interests = Interests::from_fields("graph neural networks", "cs.LG", "", "survey").unwrap();
    let changed = store.update_preferences(&sub.manage_key, Frequency::Weekly, &interests).unwrap().unwrap();
    assert_eq!((changed.frequency, changed.interests.clone()), (Frequency::Weekly, interests));
    assert_eq!(store.subscriber_by_key(&sub.manage_key).unwrap().unwrap().frequency, Frequency::Weekly);
    assert!(store.update_preferences("unknown", Frequency::Daily, &Interests::default()).unwrap().is_none());

    let left = store.unsubscribe(&sub.manage_key, t0() + Duration::days(1)).unwrap().unwrap();
    assert_eq!(left.status, Status::Unsubscribed);
    assert!(store.unsubscribe("unknown", t0()).unwrap().is_none());
    assert!(store.confirmed_subscribers().unwrap().is_empty());
    // Subscribing again after leaving asks for a confirmation again.
    assert!(matches!(store.subscribe(&grace, Frequency::Daily, &Interests::default(), t0() + Duration::days(2)).unwrap(), SubscribeOutcome::SendConfirmation { .. }));
    assert_eq!(store.subscriber_by_email(&grace).unwrap().unwrap().status, Status::Pending);
    assert_eq!(store.subscribers(1).unwrap().len(), 1);
    assert_eq!(store.subscribers(10).unwrap().len(), 2);
}

fn message(id: &str, to: &str) -> OutgoingMessage {
    OutgoingMessage {
        message_id: format!("<{id}@paperboy.test>"),
        recipient: to.to_owned(),
        subject: format!("digest {id}"),
        html: "<p>hi</p>".into(),
        text: "hi".into(),
        unsubscribe_url: Some("http://paperboy.test/unsubscribe/k".into()),
    }
}

/// `n` confirmed subscribers `r0@…`, `r1@…`; returns their ids.
fn confirmed(store: &mut dyn Store, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            let email = EmailAddress::parse(&format!("r{i}@example.org")).unwrap();
            store.import_subscriber(&email, Frequency::Daily, &Interests::default(), true, t0()).unwrap();
            store.subscriber_by_email(&email).unwrap().unwrap().id
        })
        .collect()
}

pub fn a_period_gets_one_digest_and_a_paper_reaches_a_subscriber_once(db: &TestDb) {
    let mut store = db.open();
    let subs = confirmed(&mut *store, 2);
    let (a, b) = (subs[0], subs[1]);
    let papers = [id("2609.00001"), id("2609.00002")];
    let now = t0();
    assert!(!store.has_digest(a, "daily:2026-09-01").unwrap());
    assert!(store.enqueue_digest(a, "daily:2026-09-01", day("2026-09-01"), &papers, &message("a1", "r0@example.org"), now).unwrap());
    assert!(store.has_digest(a, "daily:2026-09-01").unwrap());
    assert!(!store.has_digest(b, "daily:2026-09-01").unwrap());
    // The same period again: nothing recorded.
    assert!(!store.enqueue_digest(a, "daily:2026-09-01", day("2026-09-01"), &[id("2609.00003")], &message("a1", "r0@example.org"), now).unwrap());
    assert!(store.already_sent(a, &[id("2609.00003")]).unwrap().is_empty(), "a refused digest adds nothing to the ledger");
    // The next day may carry an old paper in its message, but the ledger keeps one row per paper.
    assert!(store.enqueue_digest(a, "daily:2026-09-02", day("2026-09-02"), &[id("2609.00002"), id("2609.00003")], &message("a2", "r0@example.org"), now).unwrap());
    let all = [id("2609.00001"), id("2609.00002"), id("2609.00003"), id("2609.00004")];
    let sent = store.already_sent(a, &all).unwrap();
    assert_eq!(sent, HashSet::from([id("2609.00001"), id("2609.00002"), id("2609.00003")]));
    assert!(store.already_sent(b, &all).unwrap().is_empty(), "the ledger is per subscriber");
    assert_eq!(store.subscriber_by_email(&EmailAddress::parse("r0@example.org").unwrap()).unwrap().unwrap().last_digest_day, Some(day("2026-09-02")));
    assert!(!store.enqueue_digest(a, "daily:2026-09-02", day("2026-09-03"), &[id("2609.00004")], &message("a3", "r0@example.org"), now).unwrap());
    let after_refusal = store.subscriber_by_email(&EmailAddress::parse("r0@example.org").unwrap()).unwrap().unwrap();
    assert_eq!(after_refusal.last_digest_day, Some(day("2026-09-02")), "a refused digest moves nothing");
    assert_eq!(store.delivery_of("<a3@paperboy.test>").unwrap(), None);
    store.enqueue_mail(b, Kind::Confirm, &message("c1", "r1@example.org"), now).unwrap();
    let counts = store.outbox_counts().unwrap();
    assert_eq!((counts.queued, counts.sent), (3, 0));
    assert_eq!(store.delivery_of("<a1@paperboy.test>").unwrap(), Some((Delivery::Queued, 0)));
    assert_eq!(store.delivery_of("<nope@paperboy.test>").unwrap(), None);
}

pub fn claim_sent_retry_and_give_up(db: &TestDb) {
    let mut store = db.open();
    let subs = confirmed(&mut *store, 3);
    let now = t0();
    for (i, &s) in subs.iter().enumerate() {
        store.enqueue_digest(s, "daily:2026-09-01", day("2026-09-01"), &[], &message(&format!("m{i}"), &format!("r{i}@example.org")), now).unwrap();
    }
    assert!(store.claim_due(now - Duration::seconds(1), 10, CLAIM_LEASE).unwrap().is_empty(), "not due before it was queued");
    let claimed = store.claim_due(now, 2, CLAIM_LEASE).unwrap();
    assert_eq!(claimed.iter().map(|r| r.subscriber_id).collect::<Vec<_>>(), subs[..2], "oldest first, at most the limit");
    assert!(claimed.iter().all(|r| r.attempts == 0 && r.kind == Kind::Digest));
    assert_eq!(claimed[0].message, message("m0", "r0@example.org"));
    assert_eq!(store.delivery_of("<m0@paperboy.test>").unwrap(), Some((Delivery::Sending, 1)));
    // Claimed rows belong to their claimer until the claim runs out.
    let next = store.claim_due(now, 10, CLAIM_LEASE).unwrap();
    assert_eq!(next.iter().map(|r| r.subscriber_id).collect::<Vec<_>>(), [subs[2]]);
    assert!(store.claim_due(now + CLAIM_LEASE - Duration::seconds(1), 10, CLAIM_LEASE).unwrap().is_empty());

    let states = store.record_outcomes(&[(claimed[0].id, Outcome::Sent), (claimed[1].id, Outcome::Transient("451 try later".into()))], now).unwrap();
    assert_eq!(states, [Delivery::Sent, Delivery::Queued]);
    assert_eq!(store.delivery_of("<m0@paperboy.test>").unwrap(), Some((Delivery::Sent, 1)));
    let waiting = store.outbox_counts().unwrap();
    assert_eq!((waiting.queued, waiting.sending), (1, 1));
    assert_eq!(waiting.next_attempt, Some(now + Duration::minutes(1)), "the retry's backoff, before the interrupted claim's expiry");
    // The third message's worker died: after the claim expires it is claimed again, attempt 2.
    let again = store.claim_due(now + CLAIM_LEASE, 10, CLAIM_LEASE).unwrap();
    let ids: Vec<i64> = again.iter().map(|r| r.subscriber_id).collect();
    assert_eq!(ids, [subs[1], subs[2]], "the retry (backoff 1 min) and the interrupted one");
    assert!(again.iter().all(|r| r.attempts == 1));
    store.record_outcomes(&[(again[1].id, Outcome::Sent)], now + CLAIM_LEASE).unwrap();

    // Transient failures until the attempts run out.
    let retry = again[0].id;
    let mut t = now + CLAIM_LEASE;
    let mut last = Delivery::Queued;
    store.record_outcomes(&[(retry, Outcome::Transient("451".into()))], t).unwrap();
    for _ in 2..MAX_ATTEMPTS - 1 {
        t += Duration::hours(7);
        let rows = store.claim_due(t, 10, CLAIM_LEASE).unwrap();
        assert_eq!(rows.len(), 1);
        last = store.record_outcomes(&[(retry, Outcome::Transient("451".into()))], t).unwrap()[0];
    }
    assert_eq!(last, Delivery::Queued);
    t += Duration::hours(7);
    let rows = store.claim_due(t, 10, CLAIM_LEASE).unwrap();
    assert_eq!(rows[0].attempts, MAX_ATTEMPTS - 1);
    assert_eq!(store.record_outcomes(&[(retry, Outcome::Transient("451".into()))], t).unwrap(), [Delivery::Failed]);
    assert!(store.claim_due(t + Duration::days(30), 10, CLAIM_LEASE).unwrap().is_empty());
    let counts = store.outbox_counts().unwrap();
    assert_eq!((counts.sent, counts.failed, counts.queued, counts.sending, counts.next_attempt), (2, 1, 0, 0, None));
}

pub fn bounces_stop_digests(db: &TestDb) {
    let mut store = db.open();
    let sub = confirmed(&mut *store, 1)[0];
    let now = t0();
    for i in 0..BOUNCES_TO_STOP {
        let period = format!("daily:2026-09-0{}", i + 1);
        store.enqueue_digest(sub, &period, day("2026-09-01"), &[], &message(&format!("b{i}"), "r0@example.org"), now).unwrap();
        let rows = store.claim_due(now, 10, CLAIM_LEASE).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(store.record_outcomes(&[(rows[0].id, Outcome::Permanent("550 no such user".into()))], now).unwrap(), [Delivery::Bounced]);
    }
    let s = store.subscriber_by_email(&EmailAddress::parse("r0@example.org").unwrap()).unwrap().unwrap();
    assert_eq!(s.status, Status::Bouncing);
    assert!(store.confirmed_subscribers().unwrap().is_empty());
    // A digest queued before the address started bouncing is not claimed; a confirmation is.
    store.enqueue_digest(sub, "daily:2026-09-09", day("2026-09-09"), &[], &message("late", "r0@example.org"), now).unwrap();
    store.enqueue_mail(sub, Kind::Confirm, &message("confirm", "r0@example.org"), now).unwrap();
    let rows = store.claim_due(now, 10, CLAIM_LEASE).unwrap();
    assert_eq!(rows.iter().map(|r| r.kind).collect::<Vec<_>>(), [Kind::Confirm]);
    assert_eq!(store.outbox_counts().unwrap().bounced, u64::from(BOUNCES_TO_STOP));
}

pub fn concurrent_claims_never_share_a_row(db: &TestDb) {
    let mut store = db.open();
    let subs = confirmed(&mut *store, 120);
    let now = t0();
    for (i, &s) in subs.iter().enumerate() {
        store.enqueue_digest(s, "daily:2026-09-01", day("2026-09-01"), &[], &message(&format!("c{i}"), &format!("r{i}@example.org")), now).unwrap();
    }
    let claimed: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let mut mine = db.open();
                scope.spawn(move || {
                    let mut got = Vec::new();
                    loop {
                        let rows = mine.claim_due(now, 7, CLAIM_LEASE).unwrap();
                        if rows.is_empty() {
                            break got;
                        }
                        let outcomes: Vec<(i64, Outcome)> = rows.iter().map(|r| (r.id, Outcome::Sent)).collect();
                        mine.record_outcomes(&outcomes, now).unwrap();
                        got.extend(rows.iter().map(|r| r.id));
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let all: Vec<i64> = claimed.iter().flatten().copied().collect();
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 120, "every row claimed once: {:?}", claimed.iter().map(Vec::len).collect::<Vec<_>>());
    assert_eq!(unique.len(), 120);
    assert_eq!(store.outbox_counts().unwrap().sent, 120);
}

pub fn leases_are_exclusive_until_they_expire(db: &TestDb) {
    let (mut a, mut b) = (db.open(), db.open());
    let now = t0();
    assert!(a.try_lease("daily:2026-09-01", "node-a", now, now + Duration::hours(2)).unwrap());
    assert!(!b.try_lease("daily:2026-09-01", "node-b", now + Duration::minutes(5), now + Duration::hours(3)).unwrap(), "held");
    assert!(b.try_lease("daily:2026-09-02", "node-b", now, now + Duration::hours(2)).unwrap(), "leases are per name");
    assert!(a.try_lease("daily:2026-09-01", "node-a", now + Duration::hours(1), now + Duration::days(1)).unwrap(), "the holder renews");
    assert!(!b.try_lease("daily:2026-09-01", "node-b", now + Duration::hours(3), now + Duration::hours(5)).unwrap(), "renewed past 2 h");
    // The holder dies: once the lease has expired another node takes it.
    assert!(b.try_lease("daily:2026-09-01", "node-b", now + Duration::days(1), now + Duration::days(2)).unwrap());
    assert_eq!(a.lease_holder("daily:2026-09-01").unwrap(), Some(("node-b".to_owned(), now + Duration::days(2))));
    assert_eq!(a.lease_holder("nothing").unwrap(), None);
    assert!(!a.try_lease("daily:2026-09-01", "node-a", now + Duration::days(1), now + Duration::days(2)).unwrap());
    // Releasing: only the holder's release counts.
    a.release_lease("daily:2026-09-01", "node-a").unwrap();
    assert!(!a.try_lease("daily:2026-09-01", "node-a", now + Duration::days(1), now + Duration::days(2)).unwrap());
    b.release_lease("daily:2026-09-01", "node-b").unwrap();
    assert!(a.try_lease("daily:2026-09-01", "node-a", now + Duration::days(1), now + Duration::days(2)).unwrap());
}

pub fn reopening_migrates_nothing(db: &TestDb) {
    let mut store = db.open();
    store.upsert_papers(vec![paper("2609.00001", "One", "cs.LG", 1)]).unwrap();
    store.set_harvest_checkpoint("k", day("2023-03-07")).unwrap();
    drop(store);
    // Two connections opening at once, as two nodes starting together.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| db.open());
        let b = s.spawn(|| db.open());
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.stats().unwrap().papers, 1);
    assert_eq!(b.harvest_checkpoint("k").unwrap(), Some(day("2023-03-07")));
}

// ---- readers -------------------------------------------------------------------------------

fn sign_in(store: &mut dyn Store, email: &str, now: DateTime<Utc>) -> String {
    match store.request_sign_in(&EmailAddress::parse(email).unwrap(), now).unwrap() {
        SignInRequest::Send { token, .. } => token,
        SignInRequest::TooMany => panic!("a sign-in link for {email} was refused"),
    }
}

pub fn sign_in_links_are_single_use_expire_and_are_limited_per_address(db: &TestDb) {
    let mut store = db.open();
    let token = sign_in(&mut *store, "Ada@Example.org", t0());
    // The address is new: a reader without a subscription.
    let reader = store.subscriber_by_email(&EmailAddress::parse("ada@example.org").unwrap()).unwrap().unwrap();
    assert_eq!(reader.status, Status::NotSubscribed);
    assert!(store.confirmed_subscribers().unwrap().is_empty(), "signing in subscribes to nothing");
    assert_eq!(store.redeem_sign_in(&token, t0() + Duration::minutes(14)).unwrap().map(|r| r.id), Some(reader.id));
    assert!(store.redeem_sign_in(&token, t0() + Duration::minutes(14)).unwrap().is_none(), "used once");
    let late = sign_in(&mut *store, "ada@example.org", t0());
    assert!(store.redeem_sign_in(&late, t0() + SIGN_IN_TTL + Duration::seconds(1)).unwrap().is_none(), "expired");
    assert!(store.redeem_sign_in("not-a-token", t0()).unwrap().is_none());
    // Five links an hour per address, then none until the hour has passed.
    for _ in 2..SIGN_INS_PER_HOUR {
        sign_in(&mut *store, "ada@example.org", t0() + Duration::minutes(1));
    }
    let ada = EmailAddress::parse("ada@example.org").unwrap();
    assert_eq!(store.request_sign_in(&ada, t0() + Duration::minutes(2)).unwrap(), SignInRequest::TooMany);
    assert!(matches!(store.request_sign_in(&ada, t0() + Duration::minutes(62)).unwrap(), SignInRequest::Send { .. }));
    // A digest subscriber who signs in is the same person.
    store.import_subscriber(&EmailAddress::parse("grace@example.org").unwrap(), Frequency::Weekly, &Interests::default(), true, t0()).unwrap();
    let token = sign_in(&mut *store, "GRACE@example.org", t0());
    let grace = store.redeem_sign_in(&token, t0()).unwrap().unwrap();
    assert_eq!((grace.status, grace.frequency), (Status::Confirmed, Frequency::Weekly));
    // Subscribing later confirms as usual.
    assert!(matches!(store.subscribe(&ada, Frequency::Daily, &Interests::default(), t0()).unwrap(), SubscribeOutcome::SendConfirmation { .. }));
}

pub fn sessions_and_api_tokens_end_when_asked(db: &TestDb) {
    let mut store = db.open();
    let token = sign_in(&mut *store, "ada@example.org", t0());
    let ada = store.redeem_sign_in(&token, t0()).unwrap().unwrap();
    let now = Utc::now();
    let (a, b) = (store.start_session(ada.id, now).unwrap(), store.start_session(ada.id, now).unwrap());
    assert_ne!(a, b);
    assert_eq!(store.session_reader(&a, now).unwrap().unwrap().id, ada.id);
    assert_eq!(store.session_count(ada.id).unwrap(), 2);
    assert!(store.session_reader(&a, now + SESSION_TTL + Duration::seconds(1)).unwrap().is_none(), "sessions expire");
    store.end_session(&a).unwrap();
    assert!(store.session_reader(&a, now).unwrap().is_none());
    assert!(store.session_reader(&b, now).unwrap().is_some());
    let c = store.start_session(ada.id, now).unwrap();
    assert_eq!(store.end_all_sessions(ada.id).unwrap(), 2);
    assert!(store.session_reader(&b, now).unwrap().is_none() && store.session_reader(&c, now).unwrap().is_none());

    let (made, secret) = store.create_api_token(ada.id, "laptop", now).unwrap();
    assert!(store.api_tokens(ada.id).unwrap()[0].last_used_at.is_none());
    assert_eq!(store.api_token_reader(&secret, now).unwrap().unwrap().id, ada.id);
    assert!(store.api_tokens(ada.id).unwrap()[0].last_used_at.is_some());
    let other = store.subscriber_by_email(&EmailAddress::parse("x@example.org").unwrap()).unwrap();
    assert!(other.is_none());
    assert!(!store.revoke_api_token(ada.id + 1000, made.id).unwrap(), "only its owner revokes a token");
    assert!(store.revoke_api_token(ada.id, made.id).unwrap());
    assert!(store.api_token_reader(&secret, now).unwrap().is_none());
}

pub fn votes_toggle_mark_and_count_in_trending(db: &TestDb) {
    let mut store = db.open();
    ingest(&mut *store, Source::HfDaily, "hf-daily");
    let day = store.latest_day().unwrap().unwrap();
    let papers: Vec<PaperId> = store.papers_on(day).unwrap().into_iter().map(|p| p.id).collect();
    let (p, q) = (&papers[papers.len() - 1], &papers[0]);
    let readers: Vec<i64> = (0..3)
        .map(|i| {
            let t = sign_in(&mut *store, &format!("v{i}@example.org"), t0());
            store.redeem_sign_in(&t, t0()).unwrap().unwrap().id
        })
        .collect();
    for r in &readers {
        store.set_vote(*r, p, Some(Vote::Up), t0()).unwrap();
    }
    store.set_vote(readers[0], q, Some(Vote::NotForMe), t0()).unwrap();
    assert_eq!(store.local_upvotes(&[p.clone(), q.clone()]).unwrap(), [(p.clone(), 3)].into_iter().collect());
    // One vote per reader and paper: voting again replaces it; clearing removes it.
    store.set_vote(readers[1], p, Some(Vote::NotForMe), t0()).unwrap();
    store.set_vote(readers[2], p, None, t0()).unwrap();
    assert_eq!(store.local_upvotes(std::slice::from_ref(p)).unwrap()[p], 1);
    store.set_read(readers[0], p, true, t0()).unwrap();
    store.set_read(readers[0], p, true, t0()).unwrap();
    let marks = store.marks(readers[0], &[p.clone(), q.clone()]).unwrap();
    assert_eq!((marks.votes[p], marks.votes[q]), (Vote::Up, Vote::NotForMe));
    assert_eq!(marks.read, [p.clone()].into_iter().collect());
    assert!(marks.saved.is_empty());
    assert_eq!(store.votes(readers[0]).unwrap().len(), 2);
    assert_eq!(store.read_papers(readers[0]).unwrap().len(), 1);
    store.set_read(readers[0], p, false, t0()).unwrap();
    assert!(store.marks(readers[0], std::slice::from_ref(p)).unwrap().read.is_empty());
    assert_eq!(store.readers_with_marks().unwrap(), readers[..2].iter().copied().collect(), "the third cleared their only vote");
    // Marks are private: another reader sees only their own.
    assert_eq!(store.marks(readers[2], &[p.clone(), q.clone()]).unwrap(), Marks::default());
    // Local votes join the trending score.
    let ranked = trending::ranking(&*store, Window::Day, day).unwrap();
    let t = ranked.iter().find(|t| &t.paper.id == p).unwrap();
    assert_eq!(t.why.local_votes, 1);
    assert_eq!(t.score, f64::from(t.why.upvotes + 1));
}

pub fn collections_are_private_shareable_and_keep_notes(db: &TestDb) {
    let mut store = db.open();
    ingest(&mut *store, Source::HfDaily, "hf-daily");
    let day = store.latest_day().unwrap().unwrap();
    let papers: Vec<PaperId> = store.papers_on(day).unwrap().into_iter().map(|p| p.id).take(3).collect();
    let ada = { let t = sign_in(&mut *store, "ada@example.org", t0()); store.redeem_sign_in(&t, t0()).unwrap().unwrap().id };
    let eve = { let t = sign_in(&mut *store, "eve@example.org", t0()); store.redeem_sign_in(&t, t0()).unwrap().unwrap().id };
    let reading = store.create_collection(ada, "To read", t0()).unwrap();
    assert_eq!(store.create_collection(ada, "To read", t0()).unwrap().id, reading.id, "one collection per name");
    let other = store.create_collection(ada, "Ideas", t0()).unwrap();
    assert!(store.save_paper(ada, reading.id, &papers[0], Some("first"), t0()).unwrap());
    assert!(store.save_paper(ada, reading.id, &papers[1], None, t0() + Duration::minutes(1)).unwrap());
    assert!(store.save_paper(ada, other.id, &papers[0], None, t0()).unwrap());
    // Saving again keeps the note unless a new one is given.
    assert!(store.save_paper(ada, reading.id, &papers[0], None, t0()).unwrap());
    let saved = store.saved_papers(reading.id).unwrap();
    assert_eq!(saved.iter().map(|s| (&s.paper, s.note.as_str())).collect::<Vec<_>>(), vec![(&papers[1], ""), (&papers[0], "first")]);
    assert!(store.save_paper(ada, reading.id, &papers[0], Some("changed"), t0()).unwrap());
    assert_eq!(store.saved_papers(reading.id).unwrap()[1].note, "changed");
    assert_eq!(store.collections_with(ada, &papers[0]).unwrap(), vec![reading.id, other.id]);
    assert_eq!(store.marks(ada, &papers).unwrap().saved.len(), 2);
    let names: Vec<(String, u64)> = store.collections(ada).unwrap().into_iter().map(|c| (c.name, c.papers)).collect();
    assert_eq!(names, vec![("Ideas".into(), 1), ("To read".into(), 2)]);
    // Another reader can neither add to, take from, share, rename nor delete it.
    assert!(!store.save_paper(eve, reading.id, &papers[2], None, t0()).unwrap());
    assert!(!store.unsave_paper(eve, reading.id, &papers[0]).unwrap());
    assert!(store.share_collection(eve, reading.id, true).unwrap().is_none());
    assert!(store.rename_collection(eve, reading.id, "Mine").unwrap().is_none());
    assert!(!store.delete_collection(eve, reading.id).unwrap());
    assert!(store.collections(eve).unwrap().is_empty());
    assert!(store.collection(reading.id).unwrap().unwrap().share_key.is_none(), "private by default");
    // Sharing gives an unguessable key, kept when shared again, gone when unshared.
    let key = store.share_collection(ada, reading.id, true).unwrap().unwrap().share_key.unwrap();
    assert!(key.len() >= 32);
    assert_eq!(store.share_collection(ada, reading.id, true).unwrap().unwrap().share_key.as_deref(), Some(key.as_str()));
    assert_eq!(store.shared_collection(&key).unwrap().unwrap().id, reading.id);
    store.share_collection(ada, reading.id, false).unwrap();
    assert!(store.shared_collection(&key).unwrap().is_none());
    // Renaming to a name in use changes nothing.
    assert_eq!(store.rename_collection(ada, other.id, "To read").unwrap().unwrap().name, "Ideas");
    assert_eq!(store.rename_collection(ada, other.id, "Later").unwrap().unwrap().name, "Later");
    assert!(store.unsave_paper(ada, reading.id, &papers[1]).unwrap());
    assert!(store.delete_collection(ada, other.id).unwrap());
    assert_eq!(store.collections_with(ada, &papers[0]).unwrap(), vec![reading.id]);
}

pub fn followed_authors_and_their_papers(db: &TestDb) {
    let mut store = db.open();
    ingest(&mut *store, Source::HfDaily, "hf-daily");
    let day = store.latest_day().unwrap().unwrap();
    let first = store.papers_on(day).unwrap().remove(0);
    let name = first.authors[0].name.clone();
    let key = author_key(&name);
    let theirs = store.papers_by_authors(std::slice::from_ref(&key), None, 0, 100).unwrap();
    assert!(theirs.iter().any(|p| p.id == first.id));
    assert!(theirs.iter().all(|p| p.authors.iter().any(|a| author_key(&a.name) == key)));
    assert!(theirs.windows(2).all(|w| w[0].day() >= w[1].day()), "newest first");
    assert!(store.papers_by_authors(std::slice::from_ref(&key), day.succ_opt(), 0, 100).unwrap().is_empty());
    // A new version with other authors replaces the paper's authors.
    store.upsert_papers(vec![paper("2609.00001", "Engines", "cs.LG", 1)]).unwrap();
    let by = |store: &dyn Store, k: &str| store.papers_by_authors(&[k.to_owned()], None, 0, 100).unwrap().into_iter().any(|p| p.id == id("2609.00001"));
    assert!(by(&*store, "a author") && !by(&*store, "ada lovelace"));
    let mut v2 = paper("2609.00001", "Engines", "cs.LG", 2);
    v2.authors = vec![paperboy_core::Author::new("Ada Lovelace")];
    store.upsert_papers(vec![v2]).unwrap();
    assert!(by(&*store, "ada lovelace") && !by(&*store, "a author"));
    let ada = { let t = sign_in(&mut *store, "ada@example.org", t0()); store.redeem_sign_in(&t, t0()).unwrap().unwrap().id };
    store.follow_author(ada, "Ada  Lovelace", t0()).unwrap();
    store.follow_author(ada, "ada lovelace", t0()).unwrap();
    store.follow_author(ada, "...", t0()).unwrap();
    let follows = store.follows(ada).unwrap();
    assert_eq!(follows.iter().map(|f| (f.key.as_str(), f.name.as_str())).collect::<Vec<_>>(), vec![("ada lovelace", "Ada  Lovelace")]);
    assert!(store.readers_with_marks().unwrap().contains(&ada));
    store.unfollow_author(ada, "ada lovelace").unwrap();
    assert!(store.follows(ada).unwrap().is_empty());
    assert!(!store.readers_with_marks().unwrap().contains(&ada));
    // A collection counts once it holds a paper.
    let c = store.create_collection(ada, "c", t0()).unwrap();
    assert!(!store.readers_with_marks().unwrap().contains(&ada));
    store.save_paper(ada, c.id, &first.id, None, t0()).unwrap();
    assert!(store.readers_with_marks().unwrap().contains(&ada));
}

pub fn deleting_a_reader_leaves_nothing_behind(db: &TestDb) {
    let mut store = db.open();
    ingest(&mut *store, Source::HfDaily, "hf-daily");
    let paper = store.papers_on(store.latest_day().unwrap().unwrap()).unwrap().remove(0).id;
    let ids = confirmed(&mut *store, 2);
    let (ada, keep) = (ids[0], ids[1]);
    let token = sign_in(&mut *store, "r0@example.org", t0());
    assert_eq!(store.redeem_sign_in(&token, t0()).unwrap().unwrap().id, ada, "the subscriber is the reader");
    sign_in(&mut *store, "r0@example.org", t0());
    store.start_session(ada, Utc::now()).unwrap();
    store.create_api_token(ada, "t", t0()).unwrap();
    store.set_vote(ada, &paper, Some(Vote::Up), t0()).unwrap();
    store.set_read(ada, &paper, true, t0()).unwrap();
    let c = store.create_collection(ada, "c", t0()).unwrap();
    store.save_paper(ada, c.id, &paper, Some("n"), t0()).unwrap();
    store.follow_author(ada, "Ada Lovelace", t0()).unwrap();
    let key = store.feed_key(ada).unwrap();
    assert_eq!(store.feed_key(ada).unwrap(), key, "one feed key per reader");
    let mut spec = AlertSpec::new("transformers");
    spec.webhook = Some(Webhook { url: "http://hooks.example.org/p".into(), format: WebhookFormat::Json });
    let alert = store.create_alert(ada, "a", &spec, t0()).unwrap().unwrap();
    store.record_alert_run(&one_run(ada, &alert, &paper.to_string()), t0()).unwrap();
    assert_eq!(store.feed_reader(&key).unwrap().unwrap().id, ada);
    for (r, to) in [(ada, "r0@example.org"), (keep, "r1@example.org")] {
        store.enqueue_digest(r, "daily:2026-01-01", day("2026-01-01"), std::slice::from_ref(&paper), &message(&format!("d{r}"), to), t0()).unwrap();
    }
    let data = account_data(&*store, &store.subscriber_by_email(&EmailAddress::parse("r0@example.org").unwrap()).unwrap().unwrap()).unwrap();
    assert_eq!((data.votes.len(), data.read.len(), data.collections.len(), data.follows.len(), data.api_tokens.len(), data.sessions), (1, 1, 1, 1, 1, 1));
    assert!(store.delete_reader(ada).unwrap());
    assert!(!store.delete_reader(ada).unwrap());
    // Nothing of the reader is left in any table; the other subscriber keeps everything.
    for table in TABLES {
        for row in store.export_rows(table, None, 100_000).unwrap() {
            let text = format!("{row:?}");
            assert!(!text.contains("r0@example.org"), "{}: {text}", table.name);
            for (i, (column, _)) in table.columns.iter().enumerate() {
                if ["reader_id", "subscriber_id"].contains(column) || (table.name == "subscribers" && *column == "id") {
                    assert_ne!(row[i], Value::Int(ada), "{} still holds a row of the reader: {text}", table.name);
                }
            }
        }
    }
    assert!(store.collection(c.id).unwrap().is_none());
    assert!(store.saved_papers(c.id).unwrap().is_empty());
    assert!(store.feed_reader(&key).unwrap().is_none());
    assert!(store.local_upvotes(std::slice::from_ref(&paper)).unwrap().is_empty());
    assert_eq!(store.outbox_counts().unwrap().queued, 1);
    assert!(store.already_sent(keep, std::slice::from_ref(&paper)).unwrap().contains(&paper));
}

/// A run of `alert` delivering `item` to the feed and, when it has one, its webhook.
fn one_run(reader: i64, alert: &Alert, item: &str) -> Run {
    let mut deliveries = vec![AlertDelivery { item: item.into(), output: "feed".into(), alerts: vec![alert.name.clone()], webhook: None }];
    if let Some(hook) = &alert.spec.webhook {
        deliveries.push(AlertDelivery {
            item: item.into(),
            output: format!("webhook:{}", hook.url),
            alerts: vec![alert.name.clone()],
            webhook: Some(WebhookRequest {
                alert: alert.id,
                url: hook.url.clone(),
                idempotency_key: format!("k-{reader}-{item}"),
                content_type: "application/json".into(),
                headers: vec![("Title".into(), "t".into())],
                body: format!("{{\"paper\":\"{item}\"}}"),
            }),
        });
    }
    Run { reader, seen: vec![(alert.id, 7)], deliveries, events_seen: vec![] }
}

pub fn alerts_are_per_reader_and_deliver_an_item_once_per_output(db: &TestDb) {
    let mut store = db.open();
    ingest(&mut *store, Source::HfDaily, "hf-daily");
    let last = store.last_seq().unwrap();
    let ids = confirmed(&mut *store, 2);
    let (ada, bob) = (ids[0], ids[1]);
    let mut spec = AlertSpec::new("diffusion models");
    spec.exclude.words = vec!["survey".into()];
    let a = store.create_alert(ada, "diffusion", &spec, t0()).unwrap().unwrap();
    assert_eq!((a.reader, a.name.as_str(), &a.spec, a.seen_seq), (ada, "diffusion", &spec, last), "a new alert matches papers stored from now on");
    assert!(store.create_alert(ada, "diffusion", &spec, t0()).unwrap().is_none(), "one alert per name and reader");
    let b = store.create_alert(ada, "agents", &AlertSpec::new("agents"), t0()).unwrap().unwrap();
    store.create_alert(bob, "diffusion", &spec, t0()).unwrap().unwrap();
    assert_eq!(store.alerts_of(ada).unwrap().iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["agents", "diffusion"]);
    assert_eq!(store.all_alerts().unwrap().len(), 3);
    assert_ne!(a.secret, b.secret, "each alert signs with its own secret");

    // Two alerts matching one paper: one ledger row naming both.
    let run = Run {
        reader: ada,
        seen: vec![(a.id, last + 5), (b.id, last + 5)],
        deliveries: vec![
            AlertDelivery { item: "2401.00001".into(), output: "feed".into(), alerts: vec!["agents".into(), "diffusion".into()], webhook: None },
            AlertDelivery { item: "2401.00002".into(), output: "feed".into(), alerts: vec!["diffusion".into()], webhook: None },
        ],
        events_seen: vec![],
    };
    assert_eq!(store.record_alert_run(&run, t0()).unwrap().len(), 2);
    assert!(store.record_alert_run(&run, t0() + Duration::hours(1)).unwrap().is_empty(), "an item reaches a reader's output once");
    let feed = store.alert_feed(ada, 10).unwrap();
    assert_eq!(feed.len(), 2);
    assert_eq!(feed.iter().find(|e| e.item == "2401.00001").unwrap().alerts, ["agents", "diffusion"]);
    assert_eq!(feed[0].at, t0(), "the first delivery's time stays");
    assert!(store.alert_feed(bob, 10).unwrap().is_empty(), "ledgers are per reader");
    let a2 = store.alerts_of(ada).unwrap().into_iter().find(|x| x.id == a.id).unwrap();
    assert_eq!((a2.seen_seq, a2.last_run_at), (last + 5, Some(t0() + Duration::hours(1))));
    // seen_seq never goes back.
    store.record_alert_run(&Run { reader: ada, seen: vec![(a.id, 1)], deliveries: vec![], events_seen: vec![] }, t0()).unwrap();
    assert_eq!(store.alerts_of(ada).unwrap().into_iter().find(|x| x.id == a.id).unwrap().seen_seq, last + 5);

    // Email: an item waits until a digest carries it (a paper: the digest ledger; an event:
    // marked mailed with the digest, in its transaction).
    let email = |item: &str| AlertDelivery { item: item.into(), output: "email".into(), alerts: vec!["diffusion".into()], webhook: None };
    store.record_alert_run(&Run { reader: ada, seen: vec![], deliveries: vec![email("2401.00001"), email("2401.00003#v2")], events_seen: vec![] }, t0()).unwrap();
    assert_eq!(store.alert_mail(ada, 10).unwrap().iter().map(|e| e.item.as_str()).collect::<Vec<_>>(), ["2401.00001", "2401.00003#v2"]);
    let paper_id = id("2401.00001");
    assert!(store.enqueue_digest_with(ada, "daily:2026-01-01", day("2026-01-01"), std::slice::from_ref(&paper_id), &["2401.00003#v2".to_owned()], &message("dm", "r0@example.org"), t0()).unwrap());
    assert!(store.alert_mail(ada, 10).unwrap().is_empty(), "both carried");
    // As a message of its own, for a reader who chose that.
    assert!(store.separate_alert_mail_readers().unwrap().is_empty());
    store.record_alert_run(&Run { reader: ada, seen: vec![], deliveries: vec![email("2401.00004")], events_seen: vec![] }, t0()).unwrap();
    assert!(store.separate_alert_mail_readers().unwrap().is_empty(), "the digest carries it");
    store.set_alert_settings(ada, AlertSettings { separate: true, ..AlertSettings::default() }, t0()).unwrap();
    assert_eq!(store.separate_alert_mail_readers().unwrap(), [ada]);
    let last_day = store.subscriber_by_email(&EmailAddress::parse("r0@example.org").unwrap()).unwrap().unwrap().last_digest_day;
    assert!(store.enqueue_alert_mail(ada, "alerts:1", &[id("2401.00004")], &["2401.00004".to_owned()], &message("am", "r0@example.org"), t0()).unwrap());
    assert!(!store.enqueue_alert_mail(ada, "alerts:1", &[], &[], &message("am2", "r0@example.org"), t0()).unwrap(), "one message per key");
    assert!(store.separate_alert_mail_readers().unwrap().is_empty());
    assert_eq!(store.subscriber_by_email(&EmailAddress::parse("r0@example.org").unwrap()).unwrap().unwrap().last_digest_day, last_day, "not a digest");
    assert_eq!(store.delivery_of("<am@paperboy.test>").unwrap().map(|(d, _)| d), Some(Delivery::Queued));

    let mut changed = spec.clone();
    changed.top_n = Some(3);
    assert_eq!(store.update_alert(ada, a.id, &changed).unwrap().unwrap().spec.top_n, Some(3));
    assert!(store.update_alert(bob, a.id, &changed).unwrap().is_none(), "only its reader changes an alert");
    assert!(!store.delete_alert(bob, a.id).unwrap(), "only its reader deletes an alert");
    assert!(store.delete_alert(ada, a.id).unwrap());
    assert_eq!(store.alerts_of(ada).unwrap().len(), 1);
    assert_eq!(store.alert_feed(ada, 10).unwrap().len(), 2, "what was delivered stays in the feed");
}

pub fn webhook_deliveries_retry_with_the_same_key_and_a_dead_endpoint_is_disabled(db: &TestDb) {
    let mut store = db.open();
    let ada = confirmed(&mut *store, 1)[0];
    let mut spec = AlertSpec::new("graphs");
    spec.webhook = Some(Webhook { url: "http://hooks.example.org/x".into(), format: WebhookFormat::Json });
    let alert = store.create_alert(ada, "graphs", &spec, t0()).unwrap().unwrap();
    store.record_alert_run(&one_run(ada, &alert, "2401.00001"), t0()).unwrap();
    store.record_alert_run(&one_run(ada, &alert, "2401.00001"), t0()).unwrap();
    let jobs = store.claim_webhooks(t0(), 10, Duration::minutes(5)).unwrap();
    assert_eq!(jobs.len(), 1, "queued once, however often the run is recorded");
    let job = &jobs[0];
    assert_eq!((job.attempts, job.secret.as_str(), job.request.idempotency_key.as_str()), (1, alert.secret.as_str(), format!("k-{ada}-2401.00001").as_str()));
    assert_eq!(job.request.headers, [("Title".to_owned(), "t".to_owned())]);
    assert!(store.claim_webhooks(t0(), 10, Duration::minutes(5)).unwrap().is_empty(), "a claimed delivery belongs to its claimer");
    assert_eq!(store.record_webhook(job.id, Err("HTTP 500".into()), t0()).unwrap(), WebhookState::Queued);
    assert!(store.claim_webhooks(t0() + Duration::seconds(29), 10, Duration::minutes(5)).unwrap().is_empty(), "backed off");
    let again = store.claim_webhooks(t0() + Duration::seconds(30), 10, Duration::minutes(5)).unwrap();
    assert_eq!((again[0].attempts, &again[0].request.idempotency_key), (2, &job.request.idempotency_key), "a retry keeps its key");
    assert_eq!(store.record_webhook(job.id, Ok(()), t0() + Duration::seconds(31)).unwrap(), WebhookState::Sent);
    assert_eq!(store.webhook_delivery(&job.request.idempotency_key).unwrap(), Some((WebhookState::Sent, 2)));
    assert_eq!(store.alerts_of(ada).unwrap()[0].webhook_failures, 0, "a success resets the failures");

    // A claim that was never answered (its worker died) is claimed again once its lease ran out.
    store.record_alert_run(&one_run(ada, &alert, "2401.00002"), t0()).unwrap();
    let lost = store.claim_webhooks(t0() + Duration::minutes(1), 10, Duration::minutes(5)).unwrap();
    assert_eq!(lost.len(), 1);
    assert!(store.claim_webhooks(t0() + Duration::minutes(5), 10, Duration::minutes(5)).unwrap().is_empty());
    let reclaimed = store.claim_webhooks(t0() + Duration::minutes(7), 10, Duration::minutes(5)).unwrap();
    assert_eq!((reclaimed[0].id, reclaimed[0].attempts), (lost[0].id, 2));

    // Failures in a row disable the alert's webhook: nothing more is claimed until it is saved again.
    let mut now = t0() + Duration::minutes(7);
    let id = reclaimed[0].id;
    for _ in 0..FAILURES_TO_DISABLE {
        store.record_webhook(id, Err("connection refused".into()), now).unwrap();
        now += Duration::days(1);
        store.claim_webhooks(now, 10, Duration::minutes(5)).unwrap();
    }
    let dead = store.alerts_of(ada).unwrap().remove(0);
    assert_eq!(dead.webhook_failures, FAILURES_TO_DISABLE);
    assert_eq!(dead.webhook_disabled.as_ref().map(|(_, e)| e.as_str()), Some("connection refused"));
    assert!(store.claim_webhooks(now + Duration::days(30), 10, Duration::minutes(5)).unwrap().is_empty(), "a disabled webhook gets no calls");
    let revived = store.update_alert(ada, alert.id, &dead.spec).unwrap().unwrap();
    assert!(revived.webhook_disabled.is_none() && revived.webhook_failures == 0);
    assert_eq!(store.claim_webhooks(now + Duration::days(30), 10, Duration::minutes(5)).unwrap().len(), 1, "saving it again resumes delivery");
}

pub fn a_watched_paper_raises_one_event_per_change_for_its_watchers(db: &TestDb) {
    let mut store = db.open();
    let ids = confirmed(&mut *store, 3);
    let (ada, bob, carol) = (ids[0], ids[1], ids[2]);
    let v1 = paper("2404.00001", "Watched", "cs.LG", 1);
    let pid = v1.id.clone();
    store.upsert_papers(vec![v1]).unwrap();
    assert!(store.paper_events(&pid).unwrap().is_empty(), "a new paper is no event");
    store.watch_paper(ada, &pid, true, t0()).unwrap();
    store.watch_paper(ada, &pid, true, t0()).unwrap();
    store.watch_paper(bob, &pid, true, t0()).unwrap();
    assert_eq!(store.watched_papers(ada).unwrap(), [(pid.clone(), t0())]);

    // v2, then v2 again (nothing changed), then a DOI and a journal reference.
    store.upsert_papers(vec![paper("2404.00001", "Watched", "cs.LG", 2)]).unwrap();
    store.upsert_papers(vec![paper("2404.00001", "Watched", "cs.LG", 2)]).unwrap();
    let mut published = paper("2404.00001", "Watched", "cs.LG", 2);
    published.doi = Some("10.1000/xyz".into());
    published.journal_ref = Some("J. Watch. 1 (2026)".into());
    store.upsert_papers(vec![published]).unwrap();
    let events = store.paper_events(&pid).unwrap();
    assert_eq!(events.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["2404.00001#v2", "2404.00001#journal_ref:J. Watch. 1 (2026)", "2404.00001#doi:10.1000/xyz"]);
    assert!(events[0].text.starts_with("new version v2"), "{}", events[0].text);
    assert_eq!(events[2].text, "DOI: 10.1000/xyz");

    // Watchers from before hear of all three; one who watches from now on, of none.
    store.watch_paper(carol, &pid, true, t0()).unwrap();
    let pending = store.watch_events(100).unwrap();
    assert_eq!(pending.iter().filter(|(r, _)| *r == ada).count(), 3);
    assert_eq!(pending.iter().filter(|(r, _)| *r == bob).count(), 3);
    assert!(pending.iter().all(|(r, _)| *r != carol));
    let last = events.last().unwrap().id;
    store.record_alert_run(&Run { reader: ada, seen: vec![], deliveries: vec![], events_seen: vec![(pid.clone(), last)] }, t0()).unwrap();
    let pending = store.watch_events(100).unwrap();
    assert!(pending.iter().all(|(r, _)| *r == bob), "ada has had them: {pending:?}");
    store.watch_paper(bob, &pid, false, t0()).unwrap();
    assert!(store.watch_events(100).unwrap().is_empty());
    assert!(store.watched_papers(bob).unwrap().is_empty());

    // "Watch what I save": the papers saved so far, and those saved while it is on.
    let other = paper("2404.00002", "Saved", "cs.LG", 1);
    let third = paper("2404.00003", "Later", "cs.LG", 1);
    store.upsert_papers(vec![other.clone(), third.clone()]).unwrap();
    let c = store.create_collection(bob, "c", t0()).unwrap();
    store.save_paper(bob, c.id, &other.id, None, t0()).unwrap();
    assert!(store.watched_papers(bob).unwrap().is_empty(), "saving alone watches nothing");
    assert_eq!(store.alert_settings(bob).unwrap(), AlertSettings::default());
    store.set_alert_settings(bob, AlertSettings { saved: true, email: true, webhook_alert: Some(7), separate: false }, t0()).unwrap();
    assert_eq!(store.alert_settings(bob).unwrap(), AlertSettings { saved: true, email: true, webhook_alert: Some(7), separate: false });
    let watched: Vec<PaperId> = store.watched_papers(bob).unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(watched, std::slice::from_ref(&other.id));
    store.save_paper(bob, c.id, &third.id, None, t0() + Duration::minutes(1)).unwrap();
    assert_eq!(store.watched_papers(bob).unwrap().len(), 2);
    store.set_alert_settings(bob, AlertSettings { saved: false, email: true, webhook_alert: None, separate: false }, t0()).unwrap();
    store.save_paper(bob, c.id, &pid, None, t0()).unwrap();
    assert_eq!(store.watched_papers(bob).unwrap().len(), 2, "off: new saves are not watched, the watches stay");
    assert!(store.watched_papers(carol).unwrap().len() == 1);
}
