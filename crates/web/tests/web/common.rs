//! One application shared by the tests: the demo corpus with its vectors, plus a page of real
//! arXiv OAI-PMH records (categories and LaTeX), over a store in a temporary directory, with the
//! real embedding model.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use paperboy_core::{Paper, PaperId, Source};
use paperboy_embed::{paper_text, Embedder, MiniLm};
use paperboy_engine::search::service::text_hash;
use paperboy_engine::search::{Embed, IndexDirs, SearchService};
use paperboy_engine::{demo, ingest, EmbeddingCache, PaperStore, SqliteStore, Store};
use paperboy_web::{AppState, RateLimits, WebConfig};
use tower::ServiceExt;

pub use paperboy_testkit::fixture;
pub use paperboy_testkit::http::{csrf_of, form_encode as enc};

/// A paper from the OAI-PMH page with LaTeX in its title and abstract.
pub const MATH_PAPER: &str = "1612.03262";
/// Dollars that are money, not math.
pub const MONEY_PAPER: &str = "2601.99998";
/// A hostile record: markup and entities in every text field.
pub const HOSTILE_PAPER: &str = "2601.99999";

pub struct TestApp {
    pub state: AppState,
    /// The "arXiv API" library imports fetch from: recorded answers on loopback.
    pub arxiv: paperboy_testkit::ReplayServer,
    /// Kept so the data directory lives as long as the app.
    pub _dir: tempfile::TempDir,
}

fn build(limits: RateLimits) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("paperboy.db");
    let mut store = SqliteStore::open(&db).expect("store");
    demo::load(&mut store).expect("demo corpus");
    ingest::ingest_path(&mut store, Source::OaiPmh, &fixture("oai-pmh/ListRecords_data_0.xml"), &mut |_| {}).expect("oai-pmh page");
    let mut hostile = Paper::new(HOSTILE_PAPER.parse::<PaperId>().unwrap(), "<script>alert('title')</script> & $x<y$ \"quoted\"", Source::Atom);
    hostile.abstract_text = "We show <img src=x onerror=alert(1)> that a & b < c holds for $\\alpha < \\beta$.".into();
    hostile.authors = vec![paperboy_core::Author::new("Eve <b>Bold</b>")];
    hostile.categories = vec!["cs.CR".parse().unwrap()];
    hostile.listed_on = Some("2026-08-21".parse().unwrap());
    hostile.links.code = Some("javascript:alert(1)".into());
    let mut money = Paper::new(MONEY_PAPER.parse::<PaperId>().unwrap(), "Robots for every lab", Source::Atom);
    money.abstract_text = "A kit that costs $250 per robot and $7,800 for a lab of thirty.".into();
    money.listed_on = Some("2026-08-20".parse().unwrap());
    store.upsert_papers(vec![hostile, money]).expect("hostile and money papers");
    // The math paper gets a vector (the OAI-PMH page is not in the shipped demo vectors).
    // As `serve` has it: queries arriving together share the model's passes.
    let model: Arc<dyn Embedder> = Arc::new(paperboy_embed::Batching::new(Arc::new(MiniLm::load().expect("model"))));
    let math = store.paper(&MATH_PAPER.parse().unwrap()).unwrap().expect("math paper ingested");
    let v = model.embed(&[&paper_text(&math.title, &math.abstract_text)]).unwrap().pop().unwrap();
    store.cache_embeddings(&model.model_id().to_string(), &[(text_hash(&math), v.into_vec())]).unwrap();
    let mut cache = SqliteStore::open(&db).unwrap();
    let service = SearchService::open(&store, &mut cache, Some(&IndexDirs::under(&dir.path().join("index"))), model, Embed::Later, &mut |_, _, _| {}).expect("search");
    let stores = (0..3).map(|_| Box::new(SqliteStore::open(&db).unwrap()) as Box<dyn Store>).collect();
    let arxiv = paperboy_testkit::ReplayServer::start(|_, _| paperboy_testkit::Reply::ok(paperboy_testkit::read_fixture("atom/id_2104.12255v1_s0_m100_6ae69987ffe1.xml")));
    let mut config = WebConfig::new("http://paperboy.test");
    config.rate_limits = limits;
    let mut api = paperboy_engine::harvest::HarvestOptions::new(arxiv.base_url.trim_end_matches("/oai2"));
    (api.max_retries, api.delay) = (0, std::time::Duration::ZERO);
    config.arxiv_api = Some(api);
    TestApp { state: AppState::new(stores, Some(Arc::new(service)), config), arxiv, _dir: dir }
}

/// The shared application (built once per test binary).
pub fn app() -> &'static TestApp {
    static APP: OnceLock<TestApp> = OnceLock::new();
    APP.get_or_init(|| build(RateLimits { search_per_minute: 0, subscribe_per_hour: 0 }))
}

/// An application of its own for the API contract walk, whose subscriptions and collections no
/// other test sees.
pub fn contract_app() -> &'static TestApp {
    static APP: OnceLock<TestApp> = OnceLock::new();
    APP.get_or_init(|| build(RateLimits { search_per_minute: 0, subscribe_per_hour: 0 }))
}

/// An application of its own for the browser test, whose outbox no other test delivers.
pub fn browser_app() -> &'static TestApp {
    static APP: OnceLock<TestApp> = OnceLock::new();
    APP.get_or_init(|| build(RateLimits { search_per_minute: 0, subscribe_per_hour: 0 }))
}

/// An application of its own whose For-you lexicon no other test has fitted.
pub fn unfitted_app() -> &'static TestApp {
    static APP: OnceLock<TestApp> = OnceLock::new();
    APP.get_or_init(|| build(RateLimits { search_per_minute: 0, subscribe_per_hour: 0 }))
}

/// A second application with tight rate limits.
pub fn limited_app() -> &'static TestApp {
    static APP: OnceLock<TestApp> = OnceLock::new();
    APP.get_or_init(|| build(RateLimits { search_per_minute: 5, subscribe_per_hour: 5 }))
}

/// Sends one request through the router.
pub async fn send(app: &TestApp, req: Request<Body>) -> Response {
    paperboy_web::router(app.state.clone()).oneshot(req).await.expect("infallible")
}

pub async fn get(app: &TestApp, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = send(app, Request::get(uri).body(Body::empty()).unwrap()).await;
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

pub async fn get_json(app: &TestApp, uri: &str) -> (StatusCode, serde_json::Value) {
    let (status, headers, body) = get(app, uri).await;
    assert!(headers.get("content-type").is_some_and(|v| v.to_str().unwrap().starts_with("application/json")), "{uri}: not JSON");
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{uri}: {e}: {body}")))
}

pub async fn post_form(app: &TestApp, uri: &str, form: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut req = Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = send(app, req.body(Body::from(form.to_owned())).unwrap()).await;
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts.status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Any request, with headers; answers status, headers and body.
pub async fn request(app: &TestApp, method: &str, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = send(app, req.body(body.into()).unwrap()).await;
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

/// The link in `body` that starts with `prefix`.
pub fn link_after(body: &str, prefix: &str) -> String {
    let at = body.find(prefix).unwrap_or_else(|| panic!("no {prefix} link in {body}"));
    body[at..].split(|c: char| c.is_whitespace() || c == '"' || c == '<').next().unwrap().to_owned()
}
