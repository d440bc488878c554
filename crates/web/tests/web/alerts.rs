//! Alerts on the web: saved from a search, made and checked field by field on the alerts page
//! (hostile names escaped, private webhook targets refused), deleted by their reader only, and
//! the private Atom feed of what they delivered (well-formed, stable entry ids), and watching a
//! paper from its page.

use axum::http::StatusCode;
use chrono::Utc;
use paperboy_core::{EmailAddress, PaperId};
use paperboy_engine::alerts::{Delivery, Run};
use paperboy_engine::readers::SignInRequest;
use quick_xml::events::Event;

use crate::common::*;

async fn sign_in(app: &TestApp, email: &str) -> (String, i64) {
    let SignInRequest::Send { token, reader } = app.state.store().request_sign_in(&EmailAddress::parse(email).unwrap(), Utc::now()).unwrap() else { panic!() };
    let (_, _, page) = get(app, &format!("/sign-in/link?token={token}")).await;
    let (_, headers, _) = request(app, "POST", "/sign-in/link", &[("content-type", "application/x-www-form-urlencoded")], format!("csrf={}&token={token}", enc(&csrf_of(&page)))).await;
    (headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned(), reader)
}

/// The `<id>`s of an Atom feed's entries; panics unless the feed is well-formed XML.
fn entry_ids(xml: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut ids, mut in_entry, mut in_id) = (vec![], false, false);
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("feed is not XML: {e}")) {
            Event::Start(e) if e.name().as_ref() == b"entry" => in_entry = true,
            Event::End(e) if e.name().as_ref() == b"entry" => in_entry = false,
            Event::Start(e) if e.name().as_ref() == b"id" => in_id = in_entry,
            Event::End(e) if e.name().as_ref() == b"id" => in_id = false,
            Event::Text(t) if in_id => ids.push(t.decode().unwrap().into_owned()),
            Event::Eof => return ids,
            _ => {}
        }
    }
}

async fn post(app: &TestApp, cookie: &str, uri: &str, form: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    request(app, "POST", uri, &[("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")], form.to_owned()).await
}

#[tokio::test]
async fn alerts_are_saved_from_a_search_checked_listed_and_fed() {
    let app = app();
    let (status, _, _) = get(app, "/alerts").await;
    assert!(status.is_redirection() || status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN, "signed out: {status}");
    let (cookie, reader) = sign_in(app, "alerts@example.org").await;

    // A search offers to save itself; the alerts page comes filled in.
    let (_, _, results) = request(app, "GET", "/search?q=protein+folding&mode=bm25", &[("cookie", &cookie)], "").await;
    assert!(results.contains("/alerts?q=protein%20folding&amp;mode=bm25#new-alert") || results.contains("/alerts?q=protein+folding&amp;mode=bm25#new-alert"), "{results}");
    let (status, _, page) = request(app, "GET", "/alerts?q=protein+folding&mode=bm25", &[("cookie", &cookie)], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"value="protein folding""#) && page.contains(r#"<option value="bm25" selected>"#), "{page}");
    let csrf = enc(&csrf_of(&page));

    // Saved with a hostile name and exclusions; the list shows it escaped.
    let form = format!("csrf={csrf}&q=protein+folding&name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&mode=hybrid&exclude_words=survey%2C+review&exclude_phrases=large+language+model&exclude_categories=cs.CV&top_n=5&feed=1");
    let (status, headers, _) = post(app, &cookie, "/alerts", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/alerts");
    let (_, _, page) = request(app, "GET", "/alerts", &[("cookie", &cookie)], "").await;
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("survey, review") && page.contains("“large language model”") && page.contains("cs.CV"), "{page}");
    let saved = app.state.store().alerts_of(reader).unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!((saved[0].spec.exclude.words.clone(), saved[0].spec.top_n), (vec!["survey".to_owned(), "review".to_owned()], Some(5)));
    let (status, _, body) = post(app, &cookie, "/alerts", &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "one name once");
    assert!(body.contains("already have an alert"), "{body}");

    // Field by field: each error names its field.
    for (fields, named) in [
        ("q=", "query"),
        ("q=x&top_n=abc", "top_n"),
        ("q=x&top_n=500", "top_n"),
        ("q=x&min_score=2", "min_score"),
        ("q=x&mode=fuzzy", "mode"),
        ("q=x&categories=not+a+category%21", "categories"),
        ("q=x&webhook_url=ftp%3A%2F%2Fexample.org%2F", "webhook.url"),
        ("q=x&webhook_url=http%3A%2F%2F127.0.0.1%3A9%2Fhook", "webhook_url"),
        ("q=x&webhook_url=http%3A%2F%2F169.254.169.254%2Flatest", "webhook_url"),
        ("q=x&webhook_url=https%3A%2F%2Fhooks.example.org%2Fx&webhook_format=xml", "webhook_format"),
    ] {
        let (status, _, body) = post(app, &cookie, "/alerts", &format!("csrf={csrf}&{fields}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fields}");
        assert!(body.contains(named), "{fields}: the error names {named}: {body}");
    }
    let (status, _, _) = post(app, &cookie, "/alerts", "q=x").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");

    // The private feed: what runs delivered, newest first, ids stable across fetches.
    let key = app.state.store().feed_key(reader).unwrap();
    assert!(page.contains(&format!("/feeds/alerts/{key}.xml")));
    let (status, headers, empty) = get(app, &format!("/feeds/alerts/{key}.xml")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/atom+xml"));
    assert!(entry_ids(&empty).is_empty());
    let papers: Vec<PaperId> = app.state.store().papers_on(app.state.store().latest_day().unwrap().unwrap()).unwrap().into_iter().take(3).map(|p| p.id).collect();
    let deliveries = papers.iter().map(|id| Delivery { item: id.to_string(), output: "feed".into(), alerts: vec![saved[0].name.clone()], webhook: None }).collect();
    app.state.store().record_alert_run(&Run { reader, seen: vec![], deliveries, events_seen: vec![] }, Utc::now()).unwrap();
    let (_, _, feed) = get(app, &format!("/feeds/alerts/{key}.xml")).await;
    let ids = entry_ids(&feed);
    assert_eq!(ids.len(), 3, "{feed}");
    assert!(ids.iter().all(|id| id.starts_with("http://paperboy.test/paper/")));
    let (_, _, again) = get(app, &format!("/feeds/alerts/{key}.xml")).await;
    assert_eq!(entry_ids(&again), ids, "stable ids");
    let (status, _, _) = get(app, &format!("/feeds/alerts/{}.xml", "a".repeat(64))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Watching a paper from its page; its events join the feed as entries of their own.
    let watched = &papers[0];
    let (_, _, paper_page) = request(app, "GET", &format!("/paper/{watched}"), &[("cookie", &cookie)], "").await;
    assert!(paper_page.contains("Watch this paper"), "{paper_page}");
    let form = format!("csrf={}&paper={watched}&action=watch&next=%2Fpaper%2F{watched}", enc(&csrf_of(&paper_page)));
    let (status, headers, _) = post(app, &cookie, "/watch", &form).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, format!("/paper/{watched}").as_str()));
    let (_, _, paper_page) = request(app, "GET", &format!("/paper/{watched}"), &[("cookie", &cookie)], "").await;
    assert!(paper_page.contains("Watching this paper"));
    let (_, _, page) = request(app, "GET", "/alerts", &[("cookie", &cookie)], "").await;
    assert!(page.contains("Papers you watch") && page.contains(&format!("/paper/{watched}")), "{page}");
    let (status, _, _) = post(app, &cookie, "/watch", &format!("csrf={csrf}&paper=9999.99999&action=watch")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an unknown paper");
    let (status, _, _) = post(app, &cookie, "/watch", &format!("csrf={csrf}&paper={watched}&action=stare")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = post(app, &cookie, "/watch", &format!("csrf={csrf}&action=settings&saved=1&email=1")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.state.store().alert_settings(reader).unwrap(), paperboy_engine::alerts::AlertSettings { saved: true, email: true, webhook_alert: None, separate: false });
    let (_, _, page) = request(app, "GET", "/alerts", &[("cookie", &cookie)], "").await;
    assert!(page.contains(r#"name="saved" value="1" checked"#), "{page}");
    post(app, &cookie, "/watch", &format!("csrf={csrf}&action=settings")).await;
    assert_eq!(app.state.store().alert_settings(reader).unwrap(), paperboy_engine::alerts::AlertSettings::default());
    let event = Delivery { item: format!("{watched}#v9"), output: "feed".into(), alerts: vec![paperboy_engine::alerts::WATCHING.into()], webhook: None };
    app.state.store().record_alert_run(&Run { reader, seen: vec![], deliveries: vec![event], events_seen: vec![] }, Utc::now()).unwrap();
    let (_, _, feed) = get(app, &format!("/feeds/alerts/{key}.xml")).await;
    let ids = entry_ids(&feed);
    assert_eq!(ids.len(), 4);
    assert!(ids.contains(&format!("http://paperboy.test/paper/{watched}#v9")) && ids.contains(&format!("http://paperboy.test/paper/{watched}")), "{ids:?}");
    let (status, _, _) = post(app, &cookie, "/watch", &format!("csrf={csrf}&paper={watched}&action=unwatch")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(app.state.store().watched_papers(reader).unwrap().is_empty());

    // A dead webhook is disabled, and the account page says so.
    let mut hooked = paperboy_engine::alerts::AlertSpec::new("dead hooks");
    hooked.webhook = Some(paperboy_engine::alerts::Webhook { url: "https://hooks.example.org/gone".into(), format: paperboy_engine::alerts::WebhookFormat::Json });
    let dead = app.state.store().create_alert(reader, "dead hooks", &hooked, Utc::now()).unwrap().unwrap();
    let hook_call = paperboy_engine::alerts::webhook_request(dead.id, reader, hooked.webhook.as_ref().unwrap(), &app.state.store().paper(&papers[1]).unwrap().unwrap(), &["dead hooks".into()], "http://paperboy.test");
    let call = Delivery { item: papers[1].to_string(), output: "webhook:https://hooks.example.org/gone".into(), alerts: vec!["dead hooks".into()], webhook: Some(hook_call) };
    app.state.store().record_alert_run(&Run { reader, seen: vec![], deliveries: vec![call], events_seen: vec![] }, Utc::now()).unwrap();
    let mut t = Utc::now();
    for _ in 0..paperboy_engine::alerts::FAILURES_TO_DISABLE {
        let job = app.state.store().claim_webhooks(t, 1000, chrono::Duration::minutes(5)).unwrap().into_iter().find(|j| j.request.alert == dead.id).expect("its call");
        app.state.store().record_webhook(job.id, Err("connection refused".into()), t).unwrap();
        t += chrono::Duration::days(1);
    }
    let (_, _, account) = request(app, "GET", "/account", &[("cookie", &cookie)], "").await;
    assert!(account.contains("The webhook of your alert “dead hooks” was disabled after 5 failed calls (last: connection refused)"), "{account}");
    let (_, _, page) = request(app, "GET", "/alerts", &[("cookie", &cookie)], "").await;
    assert!(page.contains("Resume its webhook"));

    // Only its reader deletes an alert.
    let (other, _) = sign_in(app, "other-alerts@example.org").await;
    let (_, _, other_page) = request(app, "GET", "/alerts", &[("cookie", &other)], "").await;
    let (status, _, _) = post(app, &other, &format!("/alerts/{}/delete", saved[0].id), &format!("csrf={}", enc(&csrf_of(&other_page)))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = post(app, &cookie, &format!("/alerts/{}/delete", saved[0].id), &format!("csrf={csrf}")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.state.store().alerts_of(reader).unwrap().len(), 1, "the dead-hooks alert stays");
}
