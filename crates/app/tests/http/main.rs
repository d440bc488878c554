//! The real `serve` wiring under test: `spawn_app` runs the same `Application::build` that
//! `main` runs (settings resolved once, the store, the demo corpus, the secret in the data
//! directory, the rate limits, search opening in the background, the jobs), on port 0 and a
//! temporary data directory.

mod helpers;

use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use paperboy_core::EmailAddress;
use paperboy_engine::subscriptions::{Frequency, Interests};
use paperboy_engine::{Outbox, SqliteStore, SubscriberStore};
use paperboy_testkit::http::{csrf_of, form_encode};
use paperboy_testkit::{fixture, SmtpSink};

use helpers::{settings, spawn_app, until};

#[test]
fn serve_answers_at_once_loads_the_demo_and_opens_search_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(settings(dir.path()));
    // Pages answer before search is ready.
    let home = app.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("paperboy"), "{}", home.body);
    let health = app.wait_for_search();
    assert!(health["papers"].as_u64().unwrap() > 5_000, "the demo corpus is loaded: {health}");
    assert!(health["search"]["embedded"].as_u64().unwrap() > 5_000, "its shipped vectors are in: {health}");
    let hits = app.json("/api/v1/search?q=video%20generation%20with%20diffusion&mode=semantic&limit=3");
    assert_eq!(hits["hits"].as_array().unwrap().len(), 3, "{hits}");
    assert!(dir.path().join("index/fulltext").is_dir() && dir.path().join("paperboy.db").is_file(), "the data directory's layout");
}

#[test]
fn rate_limits_come_from_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path());
    settings.serve.demo = false;
    settings.serve.rate_limits.search_per_minute = 2;
    let app = spawn_app(settings);
    for _ in 0..2 {
        assert_ne!(app.get("/search?q=attention").status, 429);
    }
    let limited = app.get("/search?q=attention");
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n > 0)), "{:?}", limited.headers);
}

#[test]
fn the_csrf_secret_is_kept_in_the_data_directory_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path());
    settings.serve.demo = false;
    let token = {
        let app = spawn_app(settings.clone());
        csrf_of(&app.get("/").body)
    };
    let secret = dir.path().join("secret");
    assert_eq!(std::fs::read(&secret).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600, "the key is the owner's alone");
    }
    // A form rendered before the restart is still accepted after it.
    let app = spawn_app(settings);
    let answer = app.post_form("/subscribe", &format!("csrf={}&email={}&frequency=daily", form_encode(&token), form_encode("ada@example.org")));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("Check your inbox"));
    let forged = app.post_form("/subscribe", &format!("csrf={}&email=bob%40example.org", form_encode("1.00ff")));
    assert_eq!(forged.status, 403);
}

#[test]
fn the_jobs_compose_the_digests_and_deliver_them_and_the_confirmations() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start_local(&[]);
    let mut settings = settings(dir.path());
    settings.mail.smtp_url = Some(sink.url.clone());
    settings.mail.send_hour = 0;
    settings.serve.tick = Duration::from_millis(200);
    {
        // A reader who confirmed before this start.
        let mut store = SqliteStore::open(&settings.data.database()).unwrap();
        let interests = Interests::from_fields("video generation", "", "", "").unwrap();
        store.import_subscriber(&EmailAddress::parse("ada@example.org").unwrap(), Frequency::Daily, &interests, true, Utc::now()).unwrap();
    }
    let app = spawn_app(settings);
    let digest_to = |to: &str| sink.received().into_iter().find(|m| m.to == [to] && m.header("List-Unsubscribe").is_some());
    until("the digest", Duration::from_secs(300), || digest_to("ada@example.org").is_some());
    let digest = digest_to("ada@example.org").unwrap();
    assert!(digest.body_text().contains(&format!("{}/unsubscribe/", app.url)), "links point at the bound address");

    // The subscribe form queues a confirmation; the same jobs deliver it.
    let token = csrf_of(&app.get("/").body);
    let answer = app.post_form("/subscribe", &format!("csrf={}&email={}", form_encode(&token), form_encode("bob@example.org")));
    assert_eq!(answer.status, 200, "{}", answer.body);
    until("the confirmation", Duration::from_secs(60), || sink.received().iter().any(|m| m.to == ["bob@example.org"]));
    let confirmation = sink.received().into_iter().find(|m| m.to == ["bob@example.org"]).unwrap();
    assert!(confirmation.body_text().contains(&format!("{}/confirm?token=", app.url)));
    let store = SqliteStore::open(&app.settings.data.database()).unwrap();
    assert_eq!(store.outbox_counts().unwrap().queued, 0);
}

#[test]
fn a_paper_written_by_another_process_reaches_search_while_serve_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path());
    settings.serve.demo = false;
    let app = spawn_app(settings);
    app.wait_for_search();
    let query = "/api/v1/search?q=generalized%20sum%20pooling%20metric%20learning&mode=bm25&limit=3";
    assert!(app.json(query)["hits"].as_array().unwrap().is_empty());
    // Another process (the CLI) writes papers into the same database.
    ingest_with_cli(dir.path(), "listing", "listing/head.txt");
    // serve follows the store's change sequence (every 2 s) and indexes what arrived.
    until("the new paper in search", Duration::from_secs(60), || {
        app.json(query)["hits"].as_array().unwrap().iter().any(|h| h["title"] == "Generalized Sum Pooling for Metric Learning")
    });
}

#[test]
fn with_readers_serve_fits_the_for_you_lexicon_in_the_background_and_without_none_it_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path());
    settings.serve.demo = false;
    ingest_with_cli(dir.path(), "hf-daily", "hf-daily");
    let lexicon = |app: &helpers::TestApp| app.json("/healthz")["search"]["for_you_lexicon_papers"].as_u64();
    {
        // No reader: nothing would use the lexicon, so none is fitted.
        let app = spawn_app(settings.clone());
        until("every paper embedded", Duration::from_secs(300), || {
            let health = app.wait_for_search();
            health["search"]["embedded"].as_u64().is_some_and(|n| n > 0 && Some(n) == health["search"]["indexed"].as_u64())
        });
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(lexicon(&app), None);
    }
    {
        let mut store = SqliteStore::open(&settings.data.database()).unwrap();
        let interests = Interests::from_fields("metric learning", "", "", "").unwrap();
        store.import_subscriber(&EmailAddress::parse("ada@example.org").unwrap(), Frequency::Daily, &interests, true, Utc::now()).unwrap();
    }
    // A reader: the search thread fits it after start-up, before anyone asks for a page.
    let app = spawn_app(settings);
    until("the For-you lexicon", Duration::from_secs(300), || lexicon(&app).is_some_and(|n| n > 0));
}

/// Ingests the fixture `rel` (a `format` file) into the data directory `dir` with the CLI: another
/// process writing the store.
fn ingest_with_cli(dir: &std::path::Path, format: &str, rel: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_paperboy"))
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--json", "ingest", format])
        .arg(fixture(rel))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn serve_on_a_reachable_address_needs_a_base_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path());
    settings.serve.demo = false;
    settings.serve.listen = "0.0.0.0:0".into();
    let err = paperboy::Application::build(settings.clone()).err().expect("refused without a base URL").to_string();
    assert!(err.contains("--base-url"), "{err}");
    // With one, it serves, and its links use it.
    settings.mail.cfg.base_url = "https://papers.example.org".into();
    settings.mail.base_url_given = true;
    let app = paperboy::Application::build(settings).expect("builds with a base URL");
    assert!(app.address().unwrap().ip().is_unspecified());
    assert_eq!(app.state().config().base_url, "https://papers.example.org");
}
