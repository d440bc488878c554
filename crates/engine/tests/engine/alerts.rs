//! Alerts end to end on the engine: saved searches run over papers that arrive after them,
//! hard exclusions, one ledger across alerts and runs, and webhooks delivered to a loopback
//! receiver that fails twice (signed, retried with the same idempotency key); and a watched
//! paper's new version, harvested from the OAI-PMH replay server, reaching its watchers once.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use paperboy_core::{EmailAddress, Source};
use paperboy_embed::ModelId;
use paperboy_engine::alerts::{self, AlertSpec, Webhook, WebhookFormat, WebhookState};
use paperboy_engine::harvest::{harvest, HarvestOptions};
use paperboy_engine::ingest::ingest_path;
use paperboy_engine::search::{Embed, SearchService};
use paperboy_engine::subscriptions::{Frequency, Interests};
use paperboy_engine::{AlertStore, PaperStore, SqliteStore, SubscriberStore};
use sha2::Sha256;

use crate::helpers::{fixture, memory_store, read_fixture, BagOfWords, ReplayServer, Reply};

fn reader(store: &mut SqliteStore, n: usize) -> i64 {
    let email = EmailAddress::parse(&format!("r{n}@example.org")).unwrap();
    store.import_subscriber(&email, Frequency::Daily, &Interests::default(), true, Utc::now()).unwrap();
    store.subscriber_by_email(&email).unwrap().unwrap().id
}

#[test]
fn saved_searches_deliver_new_matches_once_and_never_an_excluded_one() {
    let mut store = memory_store();
    ingest_path(&mut store, Source::HfDaily, &fixture("hf-daily"), &mut |_| {}).unwrap();
    let mut cache = memory_store();
    let service = SearchService::open(&store, &mut cache, None, Arc::new(BagOfWords(ModelId("bag-of-words-test".into()))), Embed::Missing, &mut |_, _, _| {}).unwrap();
    let (ada, bob, carol) = (reader(&mut store, 0), reader(&mut store, 1), reader(&mut store, 2));
    // Saved before the recorded papers' days (2008–2023): a paper counts as news from a week before its alert on.
    let t0 = Utc.with_ymd_and_hms(2008, 1, 1, 8, 0, 0).unwrap();

    let mut quantum = AlertSpec::new("quantum algorithms");
    quantum.top_n = Some(100);
    let open = quantum.clone();
    quantum.exclude.words = vec!["communication".into()];
    quantum.exclude.phrases = vec!["quantum graphs".into()];
    quantum.exclude.categories = vec!["math.QA".into()];
    let quantum = quantum.checked().unwrap();
    store.create_alert(ada, "quantum", &quantum, t0).unwrap().unwrap();
    let mut shor = AlertSpec::new("Shor's quantum algorithm discrete logarithms");
    shor.top_n = Some(1);
    store.create_alert(ada, "shor", &shor, t0).unwrap().unwrap();
    store.create_alert(bob, "quantum", &open, t0).unwrap().unwrap();
    let receiver = ReplayServer::start(|_, n| Reply { status: if n < 2 { 500 } else { 200 }, headers: vec![], body: b"ok".to_vec() });
    let mut hooked = shor.clone();
    hooked.feed = false;
    hooked.webhook = Some(Webhook { url: format!("{}/hook", receiver.base_url), format: WebhookFormat::Json });
    let hook_alert = store.create_alert(carol, "shor", &hooked, t0).unwrap().unwrap();

    // Nothing new yet: alerts match only papers stored after them.
    let report = alerts::run_all(&mut store, &service, "http://paperboy.test", t0).unwrap();
    assert_eq!((report.alerts, report.candidates, report.matched), (4, 0, 0));

    // A harvest brings 1,000 papers.
    ingest_path(&mut store, Source::OaiPmh, &fixture("oai-pmh/ListRecords_data_0.xml"), &mut |_| {}).unwrap();
    service.catch_up(&store, &mut cache).unwrap();
    let report = alerts::run_all(&mut store, &service, "http://paperboy.test", t0).unwrap();
    assert_eq!(report.candidates, 1000);

    let ada_feed = store.alert_feed(ada, 500).unwrap();
    let bob_feed = store.alert_feed(bob, 500).unwrap();
    assert!(ada_feed.len() >= 5 && bob_feed.len() > ada_feed.len(), "ada {} bob {}", ada_feed.len(), bob_feed.len());
    let paper = |item: &str| store.paper(&item.parse().unwrap()).unwrap().unwrap();
    let excluded = |p: &paperboy_core::Paper| {
        let text = format!("{} {}", p.title, p.abstract_text).to_lowercase();
        text.contains("communication") || text.split(|c: char| !c.is_alphanumeric()).collect::<Vec<_>>().windows(2).any(|w| w == ["quantum", "graphs"]) || p.categories.iter().any(|c| c.as_str() == "math.QA")
    };
    for e in &ada_feed {
        assert!(!excluded(&paper(&e.item)), "{} violates an exclusion of the alert", e.item);
    }
    let kept_out: Vec<_> = bob_feed.iter().filter(|e| excluded(&paper(&e.item))).collect();
    assert!(!kept_out.is_empty(), "without the exclusions some matches hold those words (the test checks something)");
    // The paper both of ada's alerts found is delivered once, naming both.
    let both = ada_feed.iter().find(|e| e.alerts.len() == 2).expect("one paper matched both alerts");
    assert_eq!(both.alerts, ["quantum", "shor"]);
    assert!(paper(&both.item).title.contains("Shor"), "{}", paper(&both.item).title);
    assert_eq!(ada_feed.iter().filter(|e| e.item == both.item).count(), 1);

    // The next run finds nothing new; the same papers changed again are not delivered twice.
    let again = alerts::run_all(&mut store, &service, "http://paperboy.test", t0 + Duration::hours(1)).unwrap();
    assert_eq!(again.candidates, 0);
    assert!(store.all_alerts().unwrap().iter().all(|a| a.last_run_at == Some(t0)), "an idle run writes nothing");
    for a in store.all_alerts().unwrap() {
        assert!(store.record_alert_run(&alerts::Run { reader: a.reader, seen: vec![(a.id, 0)], deliveries: vec![], events_seen: vec![] }, t0).unwrap().is_empty());
    }
    assert_eq!(store.alert_feed(ada, 500).unwrap().len(), ada_feed.len());

    // Carol's webhook: one delivery, refused twice (HTTP 500), then taken; signed each time,
    // with the same idempotency key.
    let t = t0 + Duration::minutes(1);
    for (i, at) in [t, t + Duration::seconds(30), t + Duration::seconds(30 + 120)].into_iter().enumerate() {
        if i > 0 {
            assert_eq!(alerts::deliver_webhooks(&mut store, at - Duration::seconds(1), true, 10).unwrap().attempted, 0, "not before its retry time");
        }
        let r = alerts::deliver_webhooks(&mut store, at, true, 10).unwrap();
        assert_eq!((r.attempted, r.sent), (1, usize::from(i == 2)), "attempt {i}");
    }
    let seen = receiver.requests();
    assert_eq!(seen.len(), 3);
    let key = seen[0].header("Idempotency-Key").unwrap().to_owned();
    for s in &seen {
        assert_eq!((s.method.as_str(), s.url.as_str()), ("POST", "/oai2/hook"));
        assert_eq!(s.header("Idempotency-Key"), Some(key.as_str()), "a retry keeps its key");
        assert_eq!(s.header("Content-Type"), Some("application/json"));
        let timestamp = s.header("X-Paperboy-Timestamp").unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(hook_alert.secret.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(&s.body);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(s.header("X-Paperboy-Signature"), Some(format!("sha256={hex}").as_str()), "signed with the alert's secret");
        let body: serde_json::Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!((body["type"].as_str(), body["alerts"][0].as_str(), body["idempotency_key"].as_str()), (Some("alert.paper"), Some("shor"), Some(key.as_str())));
        assert!(body["paper"]["title"].as_str().unwrap().contains("Shor"));
        assert!(body["paper"]["url"].as_str().unwrap().starts_with("http://paperboy.test/paper/"));
    }
    assert_eq!(store.webhook_delivery(&key).unwrap(), Some((WebhookState::Sent, 3)));
    assert_eq!(alerts::deliver_webhooks(&mut store, t + Duration::days(1), true, 10).unwrap().attempted, 0, "delivered once");
    assert!(store.alert_feed(carol, 10).unwrap().is_empty(), "carol's alert delivers to the webhook only");

    // Without the operator's leave, a loopback target is refused and never called.
    let mut blocked = shor.clone();
    blocked.webhook = Some(Webhook { url: format!("{}/hook", receiver.base_url), format: WebhookFormat::Json });
    let dave = reader(&mut store, 3);
    store.create_alert(dave, "shor", &blocked, t0).unwrap().unwrap();
    ingest_path(&mut store, Source::OaiPmh, &fixture("oai-pmh/ListRecords_data_1.xml"), &mut |_| {}).unwrap();
    service.catch_up(&store, &mut cache).unwrap();
    alerts::run_all(&mut store, &service, "http://paperboy.test", t0).unwrap();
    let r = alerts::deliver_webhooks(&mut store, t + Duration::days(2), false, 10).unwrap();
    assert!(r.attempted >= 1 && r.sent == 0);
    assert_eq!(receiver.requests().len(), 3, "a private address is not called");
}

/// The recorded arXivRaw page as one complete list (its resumption token taken out), and the
/// same page as harvested before 0704.0716 had its v4 and journal reference.
fn raw_pages() -> (Vec<u8>, Vec<u8>) {
    let page = String::from_utf8(read_fixture("oai-pmh/ListRecordsResponse.xml")).unwrap();
    let token = regex_lite_strip(&page, "<resumptionToken", "</resumptionToken>");
    let v4 = r#"<version version="v4"><date>Fri, 14 Nov 2008 09:07:25 GMT</date><size>49kb</size></version>"#;
    assert!(token.contains(v4));
    let journal = "<journal-ref>Polygons, polyominoes and polycubes, 247-299, Lecture Notes in\n  Phys., 775, Springer, Dordrecht, 2009</journal-ref>";
    assert!(token.contains(journal));
    let before = token.replace(v4, "").replace(journal, "");
    (before.into_bytes(), token.into_bytes())
}

/// `text` without the first element that starts with `open` and ends with `close`.
fn regex_lite_strip(text: &str, open: &str, close: &str) -> String {
    let start = text.find(open).expect("the element");
    let end = text[start..].find(close).expect("its end") + start + close.len();
    format!("{}{}", &text[..start], &text[end..])
}

#[test]
fn a_new_version_harvested_reaches_the_papers_watchers_once() {
    let (before, after) = raw_pages();
    let pages = std::sync::Arc::new(std::sync::Mutex::new(before));
    let served = pages.clone();
    let server = ReplayServer::start(move |_, _| Reply::ok(served.lock().unwrap().clone()));
    let mut opts = HarvestOptions::new(server.base_url.clone());
    opts.metadata_prefix = "arXivRaw".into();
    opts.delay = std::time::Duration::from_millis(0);
    let mut store = memory_store();
    harvest(&mut store, &opts, &mut |_| {}, &mut |_| {}).unwrap();
    let watched: paperboy_core::PaperId = "0704.0716".parse().unwrap();
    assert_eq!(store.paper(&watched).unwrap().unwrap().versions.len(), 3);
    let mut cache = memory_store();
    let service = SearchService::open(&store, &mut cache, None, Arc::new(BagOfWords(ModelId("bag-of-words-test".into()))), Embed::Missing, &mut |_, _, _| {}).unwrap();
    let (ada, bob) = (reader(&mut store, 0), reader(&mut store, 1));
    store.watch_paper(ada, &watched, true, Utc::now()).unwrap();
    // The news goes to email and to the webhook of one of ada's alerts too.
    let receiver = ReplayServer::start(|_, _| Reply { status: 200, headers: vec![], body: b"ok".to_vec() });
    let mut spec = AlertSpec::new("lattice polygons");
    spec.webhook = Some(Webhook { url: format!("{}/news", receiver.base_url), format: WebhookFormat::Json });
    let hooked = store.create_alert(ada, "polygons", &spec, Utc::now()).unwrap().unwrap();
    store.set_alert_settings(ada, alerts::AlertSettings { saved: false, email: true, webhook_alert: Some(hooked.id), separate: false }, Utc::now()).unwrap();

    // The next harvest brings v4 and the journal reference.
    *pages.lock().unwrap() = after;
    harvest(&mut store, &opts, &mut |_| {}, &mut |_| {}).unwrap();
    assert_eq!(store.paper(&watched).unwrap().unwrap().versions.len(), 4);
    let report = alerts::run_all(&mut store, &service, "http://paperboy.test", Utc::now()).unwrap();
    assert_eq!(report.events, 2);
    let feed = store.alert_feed(ada, 10).unwrap();
    let versions: Vec<_> = feed.iter().filter(|e| e.item == "0704.0716#v4").collect();
    assert_eq!(versions.len(), 1, "{feed:?}");
    assert_eq!(versions[0].alerts, [alerts::WATCHING]);
    let text = &store.paper_events(&watched).unwrap()[0].text;
    assert!(text.starts_with("new version v4 (2008-11-14): 54 pages"), "{text}");
    assert!(feed.iter().any(|e| e.item.starts_with("0704.0716#journal_ref:Polygons")), "{feed:?}");
    assert!(store.alert_feed(bob, 10).unwrap().is_empty(), "only watchers hear of it");
    let mail: Vec<String> = store.alert_mail(ada, 10).unwrap().into_iter().map(|e| e.item).collect();
    assert_eq!(mail.len(), 2, "and to email, as ada asked: {mail:?}");
    assert_eq!(alerts::deliver_webhooks(&mut store, Utc::now(), true, 10).unwrap().sent, 2);
    let calls = receiver.requests();
    let bodies: Vec<serde_json::Value> = calls.iter().map(|c| serde_json::from_slice(&c.body).unwrap()).collect();
    assert!(bodies.iter().all(|b| b["type"] == "watch.event" && b["paper"]["id"] == "0704.0716"), "{bodies:?}");
    assert_eq!(bodies.iter().filter(|b| b["event"]["kind"] == "version" && b["event"]["key"] == "0704.0716#v4").count(), 1);
    assert!(calls.iter().all(|c| c.header("X-Paperboy-Signature").is_some()));

    // The same harvest again changes nothing and delivers nothing.
    harvest(&mut store, &opts, &mut |_| {}, &mut |_| {}).unwrap();
    assert_eq!(store.paper_events(&watched).unwrap().len(), 2, "an event is recorded once");
    let again = alerts::run_all(&mut store, &service, "http://paperboy.test", Utc::now()).unwrap();
    assert_eq!(again.events, 0);
    assert_eq!(store.alert_feed(ada, 10).unwrap().len(), 2);
    assert_eq!(alerts::deliver_webhooks(&mut store, Utc::now(), true, 10).unwrap().attempted, 0);
}

#[test]
fn slack_and_ntfy_bodies_are_what_those_services_take() {
    let mut store = memory_store();
    ingest_path(&mut store, Source::HfDaily, &fixture("hf-daily"), &mut |_| {}).unwrap();
    let ada = reader(&mut store, 0);
    let receiver = ReplayServer::start(|_, _| Reply { status: 200, headers: vec![], body: b"ok".to_vec() });
    let mut paper = store.papers_changed_since(0, 1).unwrap().remove(0).1;
    paper.title = "Fast <b>&</b> Furious: Ünïcode".into();
    for (format, path) in [(WebhookFormat::Slack, "/slack"), (WebhookFormat::Ntfy, "/ntfy-topic")] {
        let mut spec = AlertSpec::new("anything");
        spec.webhook = Some(Webhook { url: format!("{}{path}", receiver.base_url), format });
        let alert = store.create_alert(ada, path, &spec, Utc::now()).unwrap().unwrap();
        let request = alerts::webhook_request(alert.id, ada, spec.webhook.as_ref().unwrap(), &paper, &["my alert".to_owned()], "http://paperboy.test");
        let delivery = alerts::Delivery { item: paper.id.to_string(), output: format!("webhook:{}", request.url), alerts: vec!["my alert".into()], webhook: Some(request) };
        store.record_alert_run(&alerts::Run { reader: ada, seen: vec![], deliveries: vec![delivery], events_seen: vec![] }, Utc::now()).unwrap();
    }
    let r = alerts::deliver_webhooks(&mut store, Utc::now(), true, 10).unwrap();
    assert_eq!((r.attempted, r.sent), (2, 2));
    let seen = receiver.requests();
    let slack = seen.iter().find(|s| s.url.ends_with("/slack")).unwrap();
    assert_eq!(slack.header("Content-Type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&slack.body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with(&format!("*<http://paperboy.test/paper/{}|Fast &lt;b&gt;&amp;&lt;/b&gt; Furious: Ünïcode>*", paper.id)), "{text}");
    assert!(text.ends_with("_paperboy alert: my alert_"), "{text}");
    let ntfy = seen.iter().find(|s| s.url.ends_with("/ntfy-topic")).unwrap();
    assert_eq!(ntfy.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert_eq!(ntfy.header("Title"), Some("Fast <b>&</b> Furious: ?n?code"), "header values stay ASCII");
    assert_eq!(ntfy.header("Click"), Some(format!("http://paperboy.test/paper/{}", paper.id).as_str()));
    let message = String::from_utf8(ntfy.body.clone()).unwrap();
    assert!(message.starts_with("Fast <b>&</b> Furious: Ünïcode\n") && message.ends_with("paperboy alert: my alert"), "{message}");
    assert!(seen.iter().all(|s| s.header("X-Paperboy-Signature").is_some_and(|v| v.starts_with("sha256="))), "every format is signed");
}
