//! Subscribe, confirm, digest, unsubscribe: end to end through the pages and a real SMTP
//! server on loopback, reading the MIME that arrives.

use axum::http::StatusCode;
use chrono::Utc;
use paperboy_core::EmailAddress;
use paperboy_testkit::SmtpSink;
use paperboy_digest::{compose_all, deliver_due, MailConfig, SmtpMailer};

use crate::common::*;


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_confirm_digest_unsubscribe() {
    let app = app();
    let sink = SmtpSink::start_local(&[]);
    let cfg = MailConfig { base_url: "http://paperboy.test".into(), from: "paperboy <digest@paperboy.test>".into() };
    let mailer = SmtpMailer::new(&sink.url, &cfg.from).unwrap();
    let deliver = || {
        let mut store = app.state.store();
        deliver_due(&mut *store, &mailer, Utc::now(), 100).unwrap()
    };
    let (_, _, home) = get(app, "/").await;
    let form = format!("csrf={}&email=e2e%40example.org&frequency=daily&interests=video+generation", enc(&csrf_of(&home)));
    let (status, _) = post_form(app, "/subscribe", &form, &[]).await;
    assert_eq!(status, StatusCode::OK);
    // Nothing but the confirmation goes to a pending address.
    let day = "2026-08-21".parse().unwrap();
    let report = compose_all(&mut *app.state.store(), app.state.search().as_deref(), &cfg, day, Utc::now()).unwrap();
    assert_eq!(report.composed, 0, "pending: no digest");
    assert_eq!(deliver().sent, 1);
    let confirmation = sink.received().pop().unwrap();
    assert_eq!(confirmation.to, ["e2e@example.org"]);
    assert_eq!(confirmation.header("Subject").unwrap(), "Confirm your paperboy digest");
    let confirm_url = link_after(&confirmation.body_text(), "http://paperboy.test/confirm?token=");
    let token = confirm_url.split("token=").nth(1).unwrap().to_owned();
    // The link shows a button; posting it confirms.
    let (status, _, page) = get(app, &format!("/confirm?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, html) = post_form(app, "/confirm", &format!("csrf={}&token={token}", enc(&csrf_of(&page))), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You are subscribed"));
    // Single use.
    let (_, again) = post_form(app, "/confirm", &format!("csrf={}&token={token}", enc(&csrf_of(&page))), &[]).await;
    assert!(again.contains("does not work any more"));

    // The digest: trending, then the interests, found by hybrid search.
    let report = compose_all(&mut *app.state.store(), app.state.search().as_deref(), &cfg, day, Utc::now()).unwrap();
    assert!(report.composed >= 1);
    assert!(deliver().sent >= 1);
    let digest = sink.received().into_iter().find(|m| m.to == ["e2e@example.org"] && m.header("Subject").unwrap().starts_with("paperboy: ")).expect("a digest");
    let body = digest.body_text();
    assert!(body.contains("For your interests"), "interest matches");
    assert!(body.to_lowercase().contains("video"), "the interests were searched");
    let unsubscribe = digest.header("List-Unsubscribe").unwrap();
    assert_eq!(digest.header("List-Unsubscribe-Post").unwrap(), "List-Unsubscribe=One-Click");
    let path = unsubscribe.trim_matches(['<', '>']).strip_prefix("http://paperboy.test").unwrap().to_owned();
    let preferences = path.replace("/unsubscribe/", "/preferences/");
    assert!(body.contains(&format!("http://paperboy.test{preferences}")));

    // Preferences change frequency and interests.
    let (status, _, prefs) = get(app, &preferences).await;
    assert_eq!(status, StatusCode::OK);
    let change = format!("csrf={}&frequency=weekly&interests=robot+learning&categories=cs.RO&include=&exclude=survey", enc(&csrf_of(&prefs)));
    let (status, saved) = post_form(app, &preferences, &change, &[]).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let sub = app.state.store().subscriber_by_email(&EmailAddress::parse("e2e@example.org").unwrap()).unwrap().unwrap();
    assert_eq!((sub.frequency.as_str(), sub.interests.text.as_str(), sub.interests.exclude.clone()), ("weekly", "robot learning", vec!["survey".to_owned()]));
    let (status, _) = post_form(app, &preferences, &format!("csrf={}&categories=not-a-cat", enc(&csrf_of(&prefs))), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // GET shows a confirmation page and changes nothing; the one-click POST unsubscribes.
    let (status, _, page) = get(app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Stop the weekly paperboy digest"));
    let (status, html) = post_form(app, &path, "List-Unsubscribe=One-Click", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You are unsubscribed"));
    let sub = app.state.store().subscriber_by_email(&EmailAddress::parse("e2e@example.org").unwrap()).unwrap().unwrap();
    assert_eq!(format!("{:?}", sub.status), "Unsubscribed");
    let (status, _) = post_form(app, "/unsubscribe/not-a-key", "List-Unsubscribe=One-Click", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // No more digests.
    let before = sink.received().len();
    compose_all(&mut *app.state.store(), app.state.search().as_deref(), &cfg, "2026-08-23".parse().unwrap(), Utc::now()).unwrap();
    deliver();
    assert!(sink.received()[before..].iter().all(|m| m.to != ["e2e@example.org"]));
}
