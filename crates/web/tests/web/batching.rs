//! Queries embedded together: 32 concurrent distinct queries get the vectors and rankings they
//! get alone; past the search queue, search answers 503 at once (JSON envelope and
//! `Retry-After` for the API, "Busy, try again" for the page) and `/healthz` shows the queue.

use axum::http::StatusCode;
use paperboy_embed::{Embedder, MiniLm};
use paperboy_engine::search::{Mode, SearchQuery};
use paperboy_web::{AppState, WebConfig};

use crate::common::*;

/// 32 distinct queries nobody searched before (SciFact dev claims and demo titles).
fn fresh_queries() -> Vec<String> {
    let all = include_str!("../../../../scripts/bench-fresh-queries.txt");
    all.lines().rev().take(32).map(str::to_owned).collect()
}

fn ranking(body: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batched_queries_get_the_vectors_and_rankings_they_get_alone() {
    let app = app();
    let service = app.state.search().unwrap();
    let queries = fresh_queries();
    // Vectors: 32 callers at once through the batching embedder, against the model alone.
    let batched: Vec<_> = {
        let embedder = service.embedder().clone();
        let calls: Vec<_> = queries.iter().cloned().map(|q| {
            let e = embedder.clone();
            std::thread::spawn(move || e.embed(&[&q]).unwrap().pop().unwrap())
        }).collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    };
    let alone = MiniLm::load().unwrap();
    for (q, v) in queries.iter().zip(&batched) {
        let single = alone.embed(&[q]).unwrap().pop().unwrap();
        assert!(single.cosine(v) >= 0.99999, "{q}: cosine {}", single.cosine(v));
    }
    // Rankings: the same 32 queries as concurrent API searches, then one at a time.
    service.clear_query_cache();
    let together: Vec<_> = queries.iter().map(|q| {
        let uri = format!("/api/v1/search?mode=hybrid&limit=20&q={}", enc(q));
        tokio::spawn(async move { get(app, &uri).await })
    }).collect();
    let mut concurrent = vec![];
    for t in together {
        let (status, _, body) = t.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        concurrent.push(ranking(&body));
    }
    service.clear_query_cache();
    for (q, concurrent) in queries.iter().zip(&concurrent) {
        let (_, _, body) = get(app, &format!("/api/v1/search?mode=hybrid&limit=20&q={}", enc(q))).await;
        assert_eq!(&ranking(&body), concurrent, "{q}");
    }
}

/// An application over the shared one's store and search, admitting `queue` searches at once.
fn with_queue(queue: usize) -> TestApp {
    let shared = app();
    let store = paperboy_engine::SqliteStore::open(&shared._dir.path().join("paperboy.db")).unwrap();
    let mut config = WebConfig::new("http://paperboy.test");
    config.search_queue = queue;
    config.rate_limits = paperboy_web::RateLimits { search_per_minute: 0, subscribe_per_hour: 0 };
    let arxiv = paperboy_testkit::ReplayServer::start(|_, _| paperboy_testkit::Reply::ok(Vec::new()));
    TestApp { state: AppState::new(vec![Box::new(store)], shared.state.search(), config), arxiv, _dir: tempfile::tempdir().unwrap() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn past_the_queue_search_is_refused_at_once() {
    let app: &'static TestApp = Box::leak(Box::new(with_queue(2)));
    let query = SearchQuery::parse("protein folding").unwrap();
    // Two searches in flight (held here): the third is refused, whatever its mode.
    let held = [app.state.admit_search(&query, Mode::Bm25).await.unwrap(), app.state.admit_search(&query, Mode::Bm25).await.unwrap()];
    let (status, headers, body) = get(app, "/api/v1/search?q=kidney+stones&mode=bm25").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "unavailable");
    let (status, headers, page) = get(app, "/search?q=kidney+stones").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert!(page.contains("Busy, try again"), "{page}");
    let (status, _, _) = get(app, "/feeds/search.xml?q=kidney+stones").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (_, health) = get_json(app, "/healthz").await;
    assert_eq!((health["search"]["queue"].as_u64(), health["search"]["queue_limit"].as_u64()), (Some(2), Some(2)));
    // The bare search page asks nothing of the queue.
    let (status, _, _) = get(app, "/search").await;
    assert_eq!(status, StatusCode::OK);
    drop(held);
    let (status, _, _) = get(app, "/api/v1/search?q=kidney+stones").await;
    assert_eq!(status, StatusCode::OK);

    // A flood of fresh queries: every request is answered, served or refused, none hangs, and
    // the queue is empty after.
    let flood: Vec<_> = (0..40)
        .map(|i| {
            let uri = format!("/api/v1/search?mode=hybrid&q={}", enc(&format!("flood query number {i} about cells")));
            tokio::spawn(async move { get(app, &uri).await.0 })
        })
        .collect();
    let mut answers = vec![];
    for f in flood {
        answers.push(f.await.unwrap());
    }
    assert!(answers.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE), "{answers:?}");
    assert!(answers.contains(&StatusCode::OK));
    let (_, health) = get_json(app, "/healthz").await;
    assert_eq!(health["search"]["queue"], 0);
}
