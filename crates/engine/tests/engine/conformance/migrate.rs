//! Copying a whole store between backends: SQLite → PostgreSQL → SQLite gives back every row,
//! and a second copy changes nothing.

use chrono::{Timelike, Utc};
use paperboy_core::{EmailAddress, Source};
use paperboy_engine::ingest::ingest_path;
use paperboy_engine::outbox::{OutgoingMessage, Outcome};
use paperboy_engine::readers::{SignInRequest, Vote};
use paperboy_engine::store::transfer::{copy_all, Value, TABLES};
use paperboy_engine::store::CLAIM_LEASE;
use paperboy_engine::subscriptions::{Frequency, Interests};
use paperboy_engine::Store;

use super::TestDb;
use crate::helpers::fixture;

/// Every row of every table, in key order; times to the microsecond (PostgreSQL's precision).
fn dump(store: &dyn Store) -> Vec<Vec<Vec<Value>>> {
    let micros = |v: Value| match v {
        Value::Time(t) => Value::Time(t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap()),
        other => other,
    };
    TABLES.iter().map(|t| store.export_rows(t, None, 1_000_000).unwrap().into_iter().map(|r| r.into_iter().map(micros).collect()).collect()).collect()
}

fn fill(store: &mut dyn Store) {
    ingest_path(store, Source::HfDaily, &fixture("hf-daily"), &mut |_| {}).unwrap();
    ingest_path(store, Source::Listing, &fixture("listing/head.txt"), &mut |_| {}).unwrap();
    store.cache_embeddings("m", &[("h1".into(), vec![0.25, -1.0]), ("h2".into(), vec![1.0, 0.0])]).unwrap();
    store.set_harvest_checkpoint("oai|arXiv|cs", "2026-09-01".parse().unwrap()).unwrap();
    let now = Utc::now();
    for i in 0..5 {
        let email = EmailAddress::parse(&format!("m{i}@example.org")).unwrap();
        store.import_subscriber(&email, Frequency::Daily, &Interests::from_fields("graphs", "cs.LG", "", "").unwrap(), i != 4, now).unwrap();
        let id = store.subscriber_by_email(&email).unwrap().unwrap().id;
        let message = OutgoingMessage { message_id: format!("<m{i}@t>"), recipient: email.to_string(), subject: "s".into(), html: "h".into(), text: "t".into(), unsubscribe_url: None };
        store.enqueue_digest(id, "daily:2026-09-01", "2026-09-01".parse().unwrap(), &["2502.20730".parse().unwrap()], &message, now).unwrap();
    }
    let claimed = store.claim_due(now, 2, CLAIM_LEASE).unwrap();
    store.record_outcomes(&[(claimed[0].id, Outcome::Sent), (claimed[1].id, Outcome::Transient("451".into()))], now).unwrap();
    store.try_lease("daily:2026-09-01", "node", now, now + chrono::Duration::hours(1)).unwrap();
    // A reader with one of everything.
    let SignInRequest::Send { reader, token } = store.request_sign_in(&EmailAddress::parse("m0@example.org").unwrap(), now).unwrap() else { panic!("no link") };
    store.redeem_sign_in(&token, now).unwrap().unwrap();
    store.start_session(reader, now).unwrap();
    store.create_api_token(reader, "script", now).unwrap();
    let paper: paperboy_core::PaperId = "2502.20730".parse().unwrap();
    store.set_vote(reader, &paper, Some(Vote::Up), now).unwrap();
    store.set_read(reader, &paper, true, now).unwrap();
    let c = store.create_collection(reader, "To read", now).unwrap();
    store.share_collection(reader, c.id, true).unwrap();
    store.save_paper(reader, c.id, &paper, Some("a note"), now).unwrap();
    store.follow_author(reader, "Ada Lovelace", now).unwrap();
}

#[test]
fn a_store_moves_between_backends_whole_and_a_second_copy_changes_nothing() {
    let Some(pg) = TestDb::postgres("migrate") else { return };
    let sqlite = TestDb::sqlite();
    let mut source = sqlite.open();
    fill(&mut *source);
    let mut target = pg.open();
    let report = copy_all(&*source, &mut *target, &mut |_, _, _| {}).unwrap();
    assert!(report.iter().all(|t| t.read == t.inserted && t.source_rows == t.target_rows), "{report:?}");
    assert!(report.iter().find(|t| t.table == "papers").unwrap().read > 50, "{report:?}");
    assert_eq!(dump(&*source), dump(&*target), "every row, value for value");
    let again = copy_all(&*source, &mut *target, &mut |_, _, _| {}).unwrap();
    assert!(again.iter().all(|t| t.inserted == 0), "{again:?}");
    // The copy works: the ledger, the outbox and the ids carry on.
    let counts = |store: &dyn paperboy_engine::Store| {
        let mut c = store.outbox_counts().unwrap();
        c.next_attempt = c.next_attempt.map(|t| t.with_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap());
        c
    };
    assert_eq!(counts(&*target), counts(&*source), "times to the microsecond (PostgreSQL's precision)");
    let email = EmailAddress::parse("new@example.org").unwrap();
    target.import_subscriber(&email, Frequency::Daily, &Interests::default(), true, Utc::now()).unwrap();
    assert_eq!(target.subscriber_by_email(&email).unwrap().unwrap().id, 6, "ids continue after the copied ones");
    assert_eq!(target.last_seq().unwrap(), source.last_seq().unwrap());
    // And back.
    let back_db = TestDb::sqlite();
    let mut back = back_db.open();
    copy_all(&*target, &mut *back, &mut |_, _, _| {}).unwrap();
    assert_eq!(dump(&*back), dump(&*target));
}
