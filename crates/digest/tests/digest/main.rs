//! Digests over the demo corpus, delivered to a real SMTP server on loopback (the sink).

use std::net::TcpListener;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use paperboy_core::{EmailAddress, PaperId};
use paperboy_testkit::SmtpSink;
use paperboy_digest::{compose, compose_all, deliver_due, preview_all, MailConfig, Period, SmtpMailer};
use paperboy_engine::outbox::Delivery;
use paperboy_engine::subscriptions::{Frequency, Interests, Subscriber};
use paperboy_engine::store::CLAIM_LEASE;
use paperboy_engine::{demo, Outbox, SqliteStore, SubscriberStore};

fn cfg() -> MailConfig {
    MailConfig { base_url: "http://paperboy.test".into(), from: "paperboy <digest@paperboy.test>".into() }
}

fn store_with(subscribers: &[(&str, Frequency, &str)]) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("paperboy.db")).unwrap();
    demo::load(&mut store).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0).unwrap();
    for (email, freq, interests) in subscribers {
        let interests = Interests::from_fields(interests, "", "", "").unwrap();
        assert!(store.import_subscriber(&EmailAddress::parse(email).unwrap(), *freq, &interests, true, now).unwrap());
    }
    (dir, store)
}

fn sub(store: &SqliteStore, email: &str) -> Subscriber {
    store.subscriber_by_email(&EmailAddress::parse(email).unwrap()).unwrap().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn never_the_same_paper_twice_never_two_digests_a_period_nothing_new_no_email() {
    let (_dir, mut store) = store_with(&[("ada@example.org", Frequency::Daily, "agents")]);
    let now = Utc::now();
    let r1 = compose_all(&mut store, None, &cfg(), day("2026-08-20"), now).unwrap();
    assert_eq!(r1.composed, 1);
    // The same period again: nothing new is recorded.
    let again = compose_all(&mut store, None, &cfg(), day("2026-08-20"), now).unwrap();
    assert_eq!((again.composed, again.skipped), (0, 1));
    // The next day: a digest without any paper of the first.
    let ada = sub(&store, "ada@example.org");
    assert_eq!(ada.last_digest_day, Some(day("2026-08-20")));
    let d2 = compose(&store, None, &ada, &Period { frequency: Frequency::Daily, day: day("2026-08-21") }).unwrap().expect("new papers");
    let first_day: Vec<PaperId> = paperboy_engine::trending::ranking(&store, paperboy_engine::trending::Window::Day, day("2026-08-20")).unwrap().into_iter().map(|t| t.paper.id).collect();
    let sent_before = store.already_sent(ada.id, &first_day).unwrap();
    assert!(!sent_before.is_empty());
    assert!(d2.papers().all(|p| !sent_before.contains(&p.id)), "a paper came twice");
    // Record it; whatever the same day could still offer leaves out everything sent so far.
    let r2 = compose_all(&mut store, None, &cfg(), day("2026-08-21"), now).unwrap();
    assert_eq!(r2.composed, 1);
    let ada = sub(&store, "ada@example.org");
    let p = Period { frequency: Frequency::Daily, day: day("2026-08-21") };
    let all: Vec<PaperId> = d2.papers().map(|p| p.id.clone()).chain(first_day.iter().cloned()).collect();
    let sent = store.already_sent(ada.id, &all).unwrap();
    assert!(d2.papers().all(|p| sent.contains(&p.id)), "the ledger holds the second digest's papers");
    if let Some(d3) = compose(&store, None, &ada, &p).unwrap() {
        assert!(d3.papers().all(|p| !sent.contains(&p.id)));
    }
    // A day with no papers at all: no email.
    let r3 = compose_all(&mut store, None, &cfg(), day("2019-01-01"), now).unwrap();
    assert_eq!((r3.composed, r3.empty), (0, 1));
}

#[test]
fn weekly_digests_come_on_sundays_and_dry_runs_record_nothing() {
    let (_dir, mut store) = store_with(&[("w@example.org", Frequency::Weekly, "")]);
    let now = Utc::now();
    let sat = compose_all(&mut store, None, &cfg(), day("2026-08-15"), now).unwrap();
    assert_eq!((sat.composed, sat.skipped), (0, 1), "Saturday: not due");
    let (dry, previews) = preview_all(&mut store, None, day("2026-08-16")).unwrap();
    assert_eq!(dry.composed, 1);
    assert!(!previews[0].1.is_empty());
    assert_eq!(store.outbox_counts().unwrap().queued, 0, "a dry run records nothing");
    let sun = compose_all(&mut store, None, &cfg(), day("2026-08-16"), now).unwrap();
    assert_eq!(sun.composed, 1);
}

#[test]
fn delivered_mime_has_rfc8058_headers_a_stable_message_id_and_both_parts() {
    let sink = SmtpSink::start_local(&[]);
    let (_dir, mut store) = store_with(&[("ada@example.org", Frequency::Daily, "")]);
    let now = Utc::now();
    compose_all(&mut store, None, &cfg(), day("2026-08-21"), now).unwrap();
    let mailer = SmtpMailer::new(&sink.url, &cfg().from).unwrap();
    let report = deliver_due(&mut store, &mailer, now, 100).unwrap();
    assert_eq!(report.sent, 1);
    let got = sink.received();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.to, ["ada@example.org"]);
    let key = sub(&store, "ada@example.org").manage_key;
    assert_eq!(m.header("List-Unsubscribe").unwrap(), format!("<http://paperboy.test/unsubscribe/{key}>"));
    assert_eq!(m.header("List-Unsubscribe-Post").unwrap(), "List-Unsubscribe=One-Click");
    assert!(m.header("Subject").unwrap().starts_with("paperboy: 5 papers for Friday, 21 August 2026"), "{:?}", m.header("Subject"));
    assert!(m.header("Content-Type").unwrap().starts_with("multipart/alternative"));
    assert!(m.data.contains("Content-Type: text/plain") && m.data.contains("Content-Type: text/html"));
    let body = m.body_text();
    assert!(body.contains("http://paperboy.test/paper/2608.19880"), "links to the paper pages");
    let id = m.header("Message-ID").unwrap();
    assert_eq!(id, paperboy_digest::render::message_id(sub(&store, "ada@example.org").id, "daily:2026-08-21", "http://paperboy.test"));
    assert_eq!(store.delivery_of(&id).unwrap(), Some((Delivery::Sent, 1)));
}

#[test]
fn a_restart_in_the_middle_sends_nothing_twice_and_loses_nothing() {
    let sink = SmtpSink::start_local(&[]);
    let people: Vec<String> = (0..12).map(|i| format!("reader{i}@example.org")).collect();
    let subs: Vec<(&str, Frequency, &str)> = people.iter().map(|e| (e.as_str(), Frequency::Daily, "")).collect();
    let (dir, mut store) = store_with(&subs);
    let now = Utc::now();
    compose_all(&mut store, None, &cfg(), day("2026-08-21"), now).unwrap();
    let mailer = SmtpMailer::new(&sink.url, &cfg().from).unwrap();
    // The first run stops after 5 messages (the process dies)...
    deliver_due(&mut store, &mailer, now, 5).unwrap();
    // ... and one more was handed over but not marked sent when it died.
    let interrupted = store.claim_due(now, 1, CLAIM_LEASE).unwrap().remove(0);
    drop(store);
    // A new process composes again (nothing new) and delivers what is left.
    let mut store = SqliteStore::open(&dir.path().join("paperboy.db")).unwrap();
    let again = compose_all(&mut store, None, &cfg(), day("2026-08-21"), now).unwrap();
    assert_eq!(again.composed, 0);
    let report = deliver_due(&mut store, &mailer, now, 100).unwrap();
    assert_eq!(report.sent, 6, "the 6 never sent; the interrupted one is still claimed by the dead process");
    // Once its claim has expired, the interrupted one goes out (with its Message-ID).
    let report = deliver_due(&mut store, &mailer, now + CLAIM_LEASE, 100).unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(store.delivery_of(&interrupted.message.message_id).unwrap(), Some((Delivery::Sent, 2)));
    let got = sink.received();
    for p in &people {
        assert_eq!(got.iter().filter(|m| m.to == [p.clone()]).count(), 1, "{p} got exactly one digest");
    }
    assert_eq!(store.outbox_counts().unwrap().sent, 12);
}

#[test]
fn smtp_down_for_a_while_then_up_everything_arrives() {
    let (_dir, mut store) = store_with(&[("a@example.org", Frequency::Daily, ""), ("b@example.org", Frequency::Daily, "")]);
    // A port with nothing listening yet.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mailer = SmtpMailer::new(&format!("smtp://{addr}"), &cfg().from).unwrap();
    let t0 = Utc::now();
    compose_all(&mut store, None, &cfg(), day("2026-08-21"), t0).unwrap();
    let down = deliver_due(&mut store, &mailer, t0, 100).unwrap();
    assert_eq!((down.sent, down.retrying), (0, 2));
    // Not due again before the backoff.
    assert_eq!(deliver_due(&mut store, &mailer, t0 + Duration::seconds(30), 100).unwrap().retrying, 0);
    let down2 = deliver_due(&mut store, &mailer, t0 + Duration::minutes(2), 100).unwrap();
    assert_eq!(down2.retrying, 2, "second attempt, still down");
    // The server comes up on that port.
    let sink = SmtpSink::start(TcpListener::bind(addr).unwrap(), &[]);
    let up = deliver_due(&mut store, &mailer, t0 + Duration::minutes(10), 100).unwrap();
    assert_eq!(up.sent, 2);
    assert_eq!(sink.received().len(), 2);
}

#[test]
fn a_5xx_for_one_address_does_not_hold_up_the_others() {
    let sink = SmtpSink::start_local(&["gone@example.org"]);
    let (_dir, mut store) = store_with(&[("a@example.org", Frequency::Daily, ""), ("gone@example.org", Frequency::Daily, ""), ("c@example.org", Frequency::Daily, "")]);
    let now = Utc::now();
    compose_all(&mut store, None, &cfg(), day("2026-08-21"), now).unwrap();
    let mailer = SmtpMailer::new(&sink.url, &cfg().from).unwrap();
    let report = deliver_due(&mut store, &mailer, now, 100).unwrap();
    assert_eq!((report.sent, report.failed), (2, 1));
    let mut got: Vec<String> = sink.received().into_iter().flat_map(|m| m.to).collect();
    got.sort();
    assert_eq!(got, ["a@example.org", "c@example.org"]);
    // Bounced: never retried.
    assert_eq!(deliver_due(&mut store, &mailer, now + Duration::days(1), 100).unwrap(), Default::default());
    // Three bounces and the address gets no more digests.
    for d in ["2026-08-20", "2026-08-19"] {
        compose_all(&mut store, None, &cfg(), day(d), now).unwrap();
        deliver_due(&mut store, &mailer, now, 100).unwrap();
    }
    assert_eq!(format!("{:?}", sub(&store, "gone@example.org").status), "Bouncing");
    assert_eq!(format!("{:?}", sub(&store, "a@example.org").status), "Confirmed");
}

#[test]
fn subscribing_queues_one_confirmation_with_an_absolute_link_and_then_waits() {
    use paperboy_digest::request_subscription;
    use paperboy_engine::outbox::Kind;
    let (_dir, mut store) = store_with(&[]);
    let email = EmailAddress::parse("new@example.org").unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 8, 1, 9, 0, 0).unwrap();
    let interests = Interests::from_fields("graph neural networks", "", "", "").unwrap();
    assert!(request_subscription(&mut store, "https://papers.example.org", &email, Frequency::Weekly, &interests, t0).unwrap());
    // Asking again at once sends nothing more (and the caller cannot tell the address is known).
    assert!(!request_subscription(&mut store, "https://papers.example.org", &email, Frequency::Weekly, &interests, t0 + Duration::minutes(1)).unwrap());
    let queued = store.claim_due(t0 + Duration::minutes(2), 10, CLAIM_LEASE).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].kind, Kind::Confirm);
    assert!(queued[0].message.text.contains("https://papers.example.org/confirm?token="), "{}", queued[0].message.text);
    assert!(queued[0].message.text.contains("72 hours"), "the TTL in words");
    assert_eq!(format!("{:?}", sub(&store, "new@example.org").status), "Pending");
}

#[test]
fn several_connections_compose_one_digest_per_subscriber_between_them() {
    use paperboy_digest::compose_all_on;
    use paperboy_engine::Store;
    let emails: Vec<String> = (0..30).map(|i| format!("r{i}@example.org")).collect();
    let subs: Vec<(&str, Frequency, &str)> = emails.iter().enumerate().map(|(i, e)| (e.as_str(), Frequency::Daily, if i % 2 == 0 { "agents" } else { "" })).collect();
    let (dir, mut store) = store_with(&subs);
    let now = Utc::now();
    let mut conns: Vec<Box<dyn Store>> = (0..3).map(|_| Box::new(SqliteStore::open(&dir.path().join("paperboy.db")).unwrap()) as Box<dyn Store>).collect();
    let mut composers: Vec<&mut dyn Store> = conns.iter_mut().map(|s| &mut **s as &mut dyn Store).collect();
    let report = compose_all_on(&mut composers, None, &cfg(), day("2026-08-21"), now).unwrap();
    assert_eq!((report.composed, report.empty, report.skipped), (30, 0, 0));
    let again = compose_all_on(&mut composers, None, &cfg(), day("2026-08-21"), now).unwrap();
    assert_eq!((again.composed, again.skipped), (0, 30), "never two digests for one period");
    let sink = SmtpSink::start_local(&[]);
    assert_eq!(deliver_due(&mut store, &SmtpMailer::new(&sink.url, &cfg().from).unwrap(), now, 100).unwrap().sent, 30);
    let mut to: Vec<String> = sink.received().into_iter().flat_map(|m| m.to).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 30, "each subscriber exactly once");
}

#[test]
fn followed_authors_get_their_own_section_once() {
    use paperboy_engine::{PaperStore, ReaderStore};
    let (_dir, mut store) = store_with(&[("ada@example.org", Frequency::Daily, "")]);
    let ada = sub(&store, "ada@example.org");
    // An author of the day's least upvoted paper, which trending leaves out.
    let papers = store.papers_on(day("2026-08-21")).unwrap();
    let last = papers.last().unwrap();
    let name = last.authors[0].name.clone();
    store.follow_author(ada.id, &name, Utc::now()).unwrap();
    let p = Period { frequency: Frequency::Daily, day: day("2026-08-21") };
    let d = compose(&store, None, &ada, &p).unwrap().expect("a digest");
    assert!(d.followed.iter().any(|f| f.id == last.id), "{:?}", d.followed.iter().map(|p| &p.title).collect::<Vec<_>>());
    assert!(d.followed.iter().all(|f| f.authors.iter().any(|a| paperboy_engine::readers::author_key(&a.name) == paperboy_engine::readers::author_key(&name))));
    assert!(d.followed.iter().all(|f| !d.trending.iter().any(|t| t.id == f.id)), "never twice in one digest");
    let message = paperboy_digest::digest_message(&d, &ada, &cfg());
    assert!(message.html.contains("From authors you follow") && message.text.contains("From authors you follow"));
    // Sent once: the ledger keeps it out of the next digest.
    compose_all(&mut store, None, &cfg(), day("2026-08-21"), Utc::now()).unwrap();
    let ada = sub(&store, "ada@example.org");
    let next = compose(&store, None, &ada, &Period { frequency: Frequency::Daily, day: day("2026-08-22") }).unwrap();
    assert!(next.is_none_or(|d| d.papers().all(|p| p.id != last.id)));
}

#[test]
fn alerts_sent_to_email_get_their_own_section_once() {
    use paperboy_engine::alerts::{AlertSpec, Delivery as AlertDelivery, Run, EMAIL};
    use paperboy_engine::{AlertStore, PaperStore};
    let (_dir, mut store) = store_with(&[("ada@example.org", Frequency::Daily, "")]);
    let ada = sub(&store, "ada@example.org");
    let mut spec = AlertSpec::new("agents");
    spec.email = true;
    store.create_alert(ada.id, "agents", &spec, Utc::now()).unwrap().unwrap();
    // What a run of the alert delivered to email: the day's least upvoted paper (trending leaves
    // it out) and the day before's.
    let papers = store.papers_on(day("2026-08-21")).unwrap();
    let (matched, old) = (papers.last().unwrap().clone(), store.papers_on(day("2026-08-20")).unwrap().last().unwrap().clone());
    let deliveries = [&matched, &old].iter().map(|p| AlertDelivery { item: p.id.to_string(), output: EMAIL.into(), alerts: vec!["agents".into()], webhook: None }).collect();
    store.record_alert_run(&Run { reader: ada.id, seen: vec![], deliveries, events_seen: vec![] }, Utc::now()).unwrap();
    let p = Period { frequency: Frequency::Daily, day: day("2026-08-21") };
    let d = compose(&store, None, &ada, &p).unwrap().expect("a digest");
    let ids: Vec<&PaperId> = d.alerts.iter().map(|(p, _)| &p.id).collect();
    assert!(ids.contains(&&matched.id) && ids.contains(&&old.id), "{ids:?}");
    assert!(d.alerts.iter().all(|(p, names)| names == "Alert: agents" && !d.trending.iter().any(|t| t.id == p.id)), "never twice in one digest");
    let message = paperboy_digest::digest_message(&d, &ada, &cfg());
    assert!(message.html.contains("From your alerts") && message.text.contains("From your alerts") && message.text.contains("Alert: agents"));
    // News of a watched paper rides along, with what happened.
    let event = AlertDelivery { item: format!("{}#v2", old.id), output: EMAIL.into(), alerts: vec![paperboy_engine::alerts::WATCHING.into()], webhook: None };
    store.record_alert_run(&Run { reader: ada.id, seen: vec![], deliveries: vec![event], events_seen: vec![] }, Utc::now()).unwrap();
    let d = compose(&store, None, &ada, &p).unwrap().expect("a digest");
    assert!(d.alerts.iter().any(|(paper, why)| paper.id == old.id && why.starts_with("a paper you watch: ")), "{:?}", d.alerts);
    assert_eq!(d.alert_items.len(), 3);
    // Sent once: the next digest has no alerts section.
    compose_all(&mut store, None, &cfg(), day("2026-08-21"), Utc::now()).unwrap();
    let ada = sub(&store, "ada@example.org");
    assert!(store.alert_mail(ada.id, 10).unwrap().is_empty());
    let next = compose(&store, None, &ada, &Period { frequency: Frequency::Daily, day: day("2026-08-22") }).unwrap();
    assert!(next.is_none_or(|d| d.alerts.is_empty()));
}

#[test]
fn alert_email_as_a_message_of_its_own_goes_out_once_and_not_in_the_digest() {
    use paperboy_engine::alerts::{AlertSettings, AlertSpec, Delivery as AlertDelivery, Run, EMAIL};
    use paperboy_engine::{AlertStore, PaperStore};
    let sink = SmtpSink::start_local(&[]);
    let (_dir, mut store) = store_with(&[("ada@example.org", Frequency::Daily, "")]);
    let ada = sub(&store, "ada@example.org");
    let mut spec = AlertSpec::new("agents");
    spec.email = true;
    store.create_alert(ada.id, "agents", &spec, Utc::now()).unwrap().unwrap();
    store.set_alert_settings(ada.id, AlertSettings { separate: true, ..AlertSettings::default() }, Utc::now()).unwrap();
    let papers = store.papers_on(day("2026-08-21")).unwrap();
    let found: Vec<_> = papers.iter().rev().take(2).collect();
    let deliveries = found.iter().map(|p| AlertDelivery { item: p.id.to_string(), output: EMAIL.into(), alerts: vec!["agents".into()], webhook: None }).collect();
    store.record_alert_run(&Run { reader: ada.id, seen: vec![], deliveries, events_seen: vec![] }, Utc::now()).unwrap();
    // The digest leaves them to their own message.
    let d = compose(&store, None, &ada, &Period { frequency: Frequency::Daily, day: day("2026-08-21") }).unwrap();
    assert!(d.is_none_or(|d| d.alerts.is_empty()));
    let now = Utc::now();
    assert_eq!(paperboy_digest::send_alert_mail(&mut store, &cfg(), now).unwrap(), 1);
    assert_eq!(paperboy_digest::send_alert_mail(&mut store, &cfg(), now + Duration::minutes(1)).unwrap(), 0, "once");
    let mailer = SmtpMailer::new(&sink.url, &cfg().from).unwrap();
    assert_eq!(deliver_due(&mut store, &mailer, now, 100).unwrap().sent, 1);
    let got = sink.received();
    let m = &got[0];
    assert_eq!(m.header("Subject").unwrap(), "paperboy: 2 new from your alerts");
    assert_eq!(m.header("List-Unsubscribe-Post").unwrap(), "List-Unsubscribe=One-Click");
    let body = m.body_text();
    assert!(found.iter().all(|p| body.contains(&format!("http://paperboy.test/paper/{}", p.id))) && body.contains("Alert: agents"), "{body}");
    // Carried: the next digest does not bring them again.
    let next = compose(&store, None, &sub(&store, "ada@example.org"), &Period { frequency: Frequency::Daily, day: day("2026-08-21") }).unwrap();
    assert!(next.is_none_or(|d| d.papers().all(|p| found.iter().all(|f| f.id != p.id))));
}
