//! The JSON API under `/api/v1`, described by `/api/openapi.json` (a test keeps the two in
//! step). Every error has one shape: `{"error":{"code":..,"message":..}}`. Lists take `limit`
//! (1 to 100, default 20) and `offset`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use paperboy_core::{urls, Paper};
use paperboy_engine::trending::Window;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{ApiError, WebError};
use crate::params::{self, parse_id, Params};
use crate::state::AppState;

/// The OpenAPI document as written: paths, bodies and answers; the query parameters are added
/// from the handlers' specs ([`openapi_document`]), and `tests` compare the paths with the router.
pub const OPENAPI: &str = include_str!("openapi.json");
/// Deepest search result reachable with `offset`.
const MAX_SEARCH_DEPTH: usize = 1_000;

type ApiResult = Result<Json<Value>, ApiError>;

/// A paper in a list.
#[derive(Serialize)]
pub struct PaperSummary {
    id: String,
    title: String,
    authors: Vec<String>,
    day: Option<chrono::NaiveDate>,
    categories: Vec<String>,
    upvotes: u32,
    url: String,
    arxiv_url: Option<String>,
    pdf_url: Option<String>,
    code_url: Option<String>,
}

impl PaperSummary {
    /// `p` with absolute links under `base_url`.
    pub fn new(p: &Paper, base_url: &str) -> Self {
        PaperSummary {
            id: p.id.to_string(),
            title: p.title.clone(),
            authors: p.authors.iter().map(|a| a.name.clone()).collect(),
            day: p.day(),
            categories: p.categories.iter().map(|c| c.to_string()).collect(),
            upvotes: p.signals.hf_upvotes.unwrap_or(0),
            url: urls::paper(base_url, &p.id),
            arxiv_url: p.abs_url(),
            pdf_url: p.pdf_url(),
            code_url: crate::render::safe_url(&p.links.code).map(str::to_owned),
        }
    }
}

/// `GET /api/v1/papers?date=YYYY-MM-DD`: a day's papers, most upvoted first (the latest day by default).
pub async fn papers(State(state): State<AppState>, params: Params) -> ApiResult {
    let params = params.checked(params::PAPERS)?;
    let day = params.day("date")?;
    let (limit, offset) = (params.int("limit"), params.int("offset"));
    state
        .blocking(move |s| {
            let store = s.store();
            let Some(day) = day.map_or_else(|| store.latest_day(), |d| Ok(Some(d)))? else {
                return Ok(Json(json!({"date": null, "total": 0, "limit": limit, "offset": offset, "papers": []})));
            };
            let all = store.papers_on(day)?;
            let base = &s.config().base_url;
            let list: Vec<PaperSummary> = all.iter().skip(offset).take(limit).map(|p| PaperSummary::new(p, base)).collect();
            Ok(Json(json!({"date": day, "total": all.len(), "limit": limit, "offset": offset, "papers": list})))
        })
        .await
}

/// `GET /api/v1/papers/{id}`: everything known about a paper.
pub async fn paper(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let pid = parse_id(&id)?;
    state
        .blocking(move |s| {
            let paper = s.store().paper(&pid)?.ok_or_else(|| WebError::NotFound(format!("no paper {pid}")))?;
            let url = urls::paper(&s.config().base_url, &paper.id);
            Ok(Json(json!({"paper": paper, "url": url})))
        })
        .await
}

/// `GET /api/v1/papers/{id}/similar`: the nearest papers in meaning.
pub async fn similar(State(state): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult {
    let pid = parse_id(&id)?;
    let limit = params.checked(params::SIMILAR)?.int("limit");
    state
        .blocking(move |s| {
            if s.store().paper(&pid)?.is_none() {
                return Err(WebError::NotFound(format!("no paper {pid}")).into());
            }
            let service = s.search_ready()?;
            let hits = service.similar(&pid, limit)?;
            let base = &s.config().base_url;
            let list: Vec<Value> = s.papers_of(&hits)?.into_iter().map(|(p, h)| json!({"score": h.score, "paper": PaperSummary::new(&p, base)})).collect();
            Ok(Json(json!({"id": pid, "hits": list})))
        })
        .await
}

/// `GET /api/v1/search?q=…&mode=…`.
pub async fn search(State(state): State<AppState>, params: Params) -> ApiResult {
    let params = params.checked(params::SEARCH)?;
    let asked = params.search()?;
    let query = asked.query()?;
    let (limit, offset) = (params.int("limit"), params.int("offset"));
    let (q, mode, filters) = (asked.q, asked.mode, asked.filters);
    let slot = state.admit_search(&query, mode).await?;
    state
        .blocking(move |s| {
            let _slot = slot;
            let service = s.search_ready()?;
            let hits = service.search(&*s.store(), &query, mode, &filters, (offset + limit).min(MAX_SEARCH_DEPTH))?;
            let base = &s.config().base_url;
            let list: Vec<Value> = s
                .papers_of(hits.iter().skip(offset))?
                .into_iter()
                .map(|(p, h)| json!({"id": h.id, "title": p.title, "score": h.score, "snippet_html": h.snippet_html, "explain": h.explain, "paper": PaperSummary::new(&p, base)}))
                .collect();
            Ok(Json(json!({"query": q, "mode": mode.to_string(), "limit": limit, "offset": offset, "hits": list})))
        })
        .await
}

/// `GET /api/v1/trending?window=day|week|month`: ranked papers with their scores explained.
pub async fn trending(State(state): State<AppState>, params: Params) -> ApiResult {
    let params = params.checked(params::TRENDING)?;
    let window = params.window("window", Window::Week)?;
    let end = params.day("date")?;
    let (limit, offset) = (params.int("limit"), params.int("offset"));
    state
        .blocking(move |s| {
            let Some(end) = end.map_or_else(|| s.store().latest_day(), |d| Ok(Some(d)))? else {
                return Ok(Json(json!({"window": window, "end": null, "total": 0, "papers": []})));
            };
            let ranked = s.trending(window, end)?;
            let base = &s.config().base_url;
            let list: Vec<Value> = ranked
                .iter()
                .skip(offset)
                .take(limit)
                .map(|t| json!({"rank": t.rank, "score": t.score, "why": t.why, "paper": PaperSummary::new(&t.paper, base)}))
                .collect();
            Ok(Json(json!({"window": window, "start": window.start(end), "end": end, "total": ranked.len(), "limit": limit, "offset": offset, "papers": list})))
        })
        .await
}

/// A body field that may be left out but not set to `null` (the document says which may be).
fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// An object field that may be left out but must be an object when given (serde alone would read
/// a struct from a list too).
fn object<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        v @ Value::Object(_) => serde_json::from_value(v).map(Some).map_err(D::Error::custom),
        other => Err(D::Error::custom(format!("{other} is not an object"))),
    }
}

/// The body of `POST /api/v1/subscriptions`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRequest {
    email: String,
    #[serde(default, deserialize_with = "present")]
    frequency: Option<String>,
    #[serde(default, deserialize_with = "object")]
    interests: Option<InterestsRequest>,
}

/// Interests in a subscription request.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InterestsRequest {
    #[serde(default)]
    text: String,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

/// `POST /api/v1/subscriptions`: the form's double opt-in for programs. Answers 202 with the
/// same body whether or not the address is known; a confirmation email is queued (at most one
/// per 10 minutes per address).
pub async fn subscribe(State(state): State<AppState>, body: axum::body::Bytes) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let req: SubscriptionRequest = json_body(&body)?;
    let email = paperboy_core::EmailAddress::parse(&req.email).map_err(|e| WebError::BadRequest(format!("email: {e}")))?;
    let frequency: paperboy_engine::subscriptions::Frequency = match req.frequency.as_deref().unwrap_or("daily") {
        f @ ("daily" | "weekly") => f.parse().map_err(|e: String| WebError::BadRequest(format!("frequency: {e}")))?,
        other => return Err(WebError::BadRequest(format!("frequency: {other:?} is not \"daily\" or \"weekly\"")).into()),
    };
    let i = req.interests.unwrap_or_default();
    let interests = paperboy_engine::subscriptions::Interests::from_fields(&i.text, &i.categories.join(","), &i.include.join(","), &i.exclude.join(","))
        .map_err(|e| WebError::BadRequest(format!("interests: {e}")))?;
    state
        .blocking(move |s| {
            paperboy_digest::request_subscription(&mut *s.store(), &s.config().base_url, &email, frequency, &interests, chrono::Utc::now())?;
            Ok((axum::http::StatusCode::ACCEPTED, Json(json!({"status": "pending", "message": "check your inbox: a confirmation link is on its way if the address can receive mail"}))))
        })
        .await
}

/// The OpenAPI document as served: [`OPENAPI`] with each operation's query parameters made from
/// the specs its handler checks requests against ([`params::API_OPS`]).
pub fn openapi_document() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        for op in params::API_OPS {
            let get = doc["paths"].get_mut(op.path).and_then(|p| p.get_mut("get")).unwrap_or_else(|| panic!("openapi.json has no GET {}", op.path));
            let mut list = get.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            list.extend(params::openapi_parameters(&op));
            get["parameters"] = Value::Array(list);
        }
        doc.to_string()
    })
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_document()).into_response()
}

/// `GET /healthz`: 200 with counts once the store answers.
pub async fn healthz(State(state): State<AppState>) -> ApiResult {
    state
        .blocking(|s| {
            let stats = s.store().stats()?;
            let search = s.search();
            let queue = s.search_queue();
            Ok(Json(json!({
                "status": "ok",
                "papers": stats.papers,
                "latest_day": stats.latest_day,
                "search": {
                    "ready": search.is_some(), "indexed": search.as_ref().map(|x| x.indexed()), "embedded": search.as_ref().map(|x| x.embedded()),
                    "queue": queue.0, "queue_limit": queue.1,
                    "for_you_lexicon_papers": search.as_ref().and_then(|x| x.current_lexical()).map(|l| l.papers()),
                },
            })))
        })
        .await
}

// ---- a reader's own data (an API token in `Authorization: Bearer …`) -------------------------

fn collection_json(c: &paperboy_engine::readers::Collection, base: &str) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "papers": c.papers,
        "created_at": c.created_at,
        "shared_url": c.share_key.as_deref().map(|k| urls::shared_collection(base, k)),
    })
}

fn own_collection(s: &AppState, reader: i64, id: i64) -> Result<paperboy_engine::readers::Collection, WebError> {
    s.store().collection(id)?.filter(|c| c.reader == reader).ok_or_else(|| WebError::NotFound(format!("you have no collection {id}")))
}

/// A request body: one JSON object of the fields `T` takes (a list is no object, though serde
/// would read a struct from one).
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WebError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| WebError::BadRequest(format!("request body: {e}")))?;
    if !value.is_object() {
        return Err(WebError::BadRequest("request body: a JSON object is expected".into()));
    }
    serde_json::from_value(value).map_err(|e| WebError::BadRequest(format!("request body: {e}")))
}

/// `GET /api/v1/me`: the token's reader.
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            let store = s.store();
            Ok(Json(json!({
                "email": r.email,
                "subscription": {"status": r.status, "frequency": r.frequency, "interests": r.interests},
                "votes": store.votes(r.id)?.len(),
                "collections": store.collections(r.id)?.len(),
                "following": store.follows(r.id)?,
            })))
        })
        .await
}

/// `GET /api/v1/me/votes`: the reader's votes, newest first.
pub async fn my_votes(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            Ok(Json(json!({"votes": s.store().votes(r.id)?})))
        })
        .await
}

/// `GET /api/v1/marks/{id}`: the reader's marks on a paper and its vote count.
pub async fn marks(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    let pid = parse_id(&id)?;
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            s.paper(&pid)?.ok_or_else(|| WebError::NotFound(format!("no paper {pid}")))?;
            Ok(Json(crate::pages::library::mark_state(s, r.id, &pid)?))
        })
        .await
}

/// The body of `POST /api/v1/marks/{id}`: fields left out stay as they are.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarksRequest {
    /// `"up"`, `"not_for_me"`, or `null` to clear.
    #[serde(default, with = "double_option")]
    vote: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    read: Option<bool>,
}

/// Tells a field left out (`None`) from one set to `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// `POST /api/v1/marks/{id}`: sets the reader's vote and read mark on a paper.
pub async fn set_marks(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> ApiResult {
    let pid = parse_id(&id)?;
    let req: MarksRequest = json_body(&body)?;
    let vote = match &req.vote {
        Some(Some(v)) => Some(Some(paperboy_engine::readers::Vote::parse(v).ok_or_else(|| WebError::BadRequest(format!("vote: {v:?} is not \"up\", \"not_for_me\" or null")))?)),
        Some(None) => Some(None),
        None => None,
    };
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            s.paper(&pid)?.ok_or_else(|| WebError::NotFound(format!("no paper {pid}")))?;
            let now = chrono::Utc::now();
            if let Some(v) = vote {
                s.store().set_vote(r.id, &pid, v, now)?;
                s.votes_changed();
                s.rated();
            }
            if let Some(read) = req.read {
                s.store().set_read(r.id, &pid, read, now)?;
            }
            Ok(Json(crate::pages::library::mark_state(s, r.id, &pid)?))
        })
        .await
}

/// `GET /api/v1/collections`: the reader's collections.
pub async fn collections(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            let base = &s.config().base_url;
            let list: Vec<Value> = s.store().collections(r.id)?.iter().map(|c| collection_json(c, base)).collect();
            Ok(Json(json!({"collections": list})))
        })
        .await
}

/// The body of `POST /api/v1/collections`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCollection {
    name: String,
}

/// `POST /api/v1/collections`: makes a collection (or gives the reader's of that name).
pub async fn create_collection(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: NewCollection = json_body(&body)?;
    let name = paperboy_engine::readers::collection_name(&req.name).map_err(|e| WebError::BadRequest(format!("name: {e}")))?;
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            let c = s.store().create_collection(r.id, &name, chrono::Utc::now())?;
            Ok((StatusCode::CREATED, Json(collection_json(&c, &s.config().base_url))))
        })
        .await
}

/// `GET /api/v1/collections/{id}`: a collection with its papers and notes.
pub async fn collection(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap) -> ApiResult {
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            let c = own_collection(s, r.id, id)?;
            let base = &s.config().base_url;
            let saved = s.store().saved_papers(c.id)?;
            let papers: std::collections::HashMap<_, _> = s.store().papers(&saved.iter().map(|i| i.paper.clone()).collect::<Vec<_>>())?.into_iter().map(|p| (p.id.clone(), p)).collect();
            let items: Vec<Value> = saved
                .iter()
                .filter_map(|i| papers.get(&i.paper).map(|p| json!({"note": i.note, "added_at": i.added_at, "paper": PaperSummary::new(p, base)})))
                .collect();
            Ok(Json(json!({"collection": collection_json(&c, base), "items": items})))
        })
        .await
}

/// The body of `POST /api/v1/collections/{id}/papers`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveRequest {
    paper: String,
    #[serde(default, deserialize_with = "present")]
    note: Option<String>,
}

/// `POST /api/v1/collections/{id}/papers`: saves a paper (a note given replaces the old one).
pub async fn save_paper(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap, body: axum::body::Bytes) -> ApiResult {
    let req: SaveRequest = json_body(&body)?;
    let pid: paperboy_core::PaperId = req.paper.parse().map_err(|_| WebError::BadRequest(format!("paper: {:?} is not a paper id", req.paper)))?;
    let note = req.note.as_deref().map(paperboy_engine::readers::note).transpose().map_err(|e| WebError::BadRequest(format!("note: {e}")))?;
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            let c = own_collection(s, r.id, id)?;
            s.paper(&pid)?.ok_or_else(|| WebError::NotFound(format!("no paper {pid}")))?;
            s.store().save_paper(r.id, c.id, &pid, note.as_deref(), chrono::Utc::now())?;
            s.rated();
            Ok(Json(json!({"collection": c.id, "paper": pid, "saved": true})))
        })
        .await
}

/// `DELETE /api/v1/collections/{id}/papers/{paper}`.
pub async fn unsave_paper(State(state): State<AppState>, Path((id, paper)): Path<(i64, String)>, headers: HeaderMap) -> ApiResult {
    let pid = parse_id(&paper)?;
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            let c = own_collection(s, r.id, id)?;
            let removed = s.store().unsave_paper(r.id, c.id, &pid)?;
            Ok(Json(json!({"collection": c.id, "paper": pid, "removed": removed})))
        })
        .await
}

/// An alert as the API shows it.
fn alert_json(a: &paperboy_engine::alerts::Alert) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "spec": a.spec,
        "webhook_secret": a.spec.webhook.as_ref().map(|_| a.secret.clone()),
        "webhook_failures": a.webhook_failures,
        "webhook_disabled": a.webhook_disabled.as_ref().map(|(at, error)| json!({"at": at, "error": error})),
        "last_run_at": a.last_run_at,
        "created_at": a.created_at,
    })
}

/// `GET /api/v1/alerts`: the reader's alerts and their private feed's address.
pub async fn alerts(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            let list: Vec<Value> = s.store().alerts_of(r.id)?.iter().map(alert_json).collect();
            let key = s.store().feed_key(r.id)?;
            Ok(Json(json!({"alerts": list, "feed": paperboy_core::urls::alerts_feed(&s.config().base_url, &key)})))
        })
        .await
}

/// `POST /api/v1/alerts`: saves an alert by name (`name`, default the query, and the fields of
/// the spec): a new name makes one (201), a known one replaces its spec (200).
pub async fn save_alert(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut fields: serde_json::Map<String, Value> = json_body(&body)?;
    let name = match fields.remove("name") {
        None => None,
        Some(Value::String(n)) => Some(n),
        Some(other) => return Err(WebError::BadRequest(format!("name: {other} is not text")).into()),
    };
    // serde reads a struct from a list too: the nested objects must be objects.
    for nested in ["exclude", "webhook"] {
        if fields.get(nested).is_some_and(|v| v.is_array()) {
            return Err(WebError::BadRequest(format!("{nested}: an object is expected, not a list")).into());
        }
    }
    let spec: paperboy_engine::alerts::AlertSpec = serde_json::from_value(Value::Object(fields)).map_err(|e| WebError::BadRequest(format!("request body: {e}")))?;
    let spec = spec.checked().map_err(WebError::BadRequest)?;
    if let Some(hook) = &spec.webhook {
        paperboy_engine::alerts::check_url(&hook.url, state.config().allow_private_webhooks).map_err(|e| WebError::BadRequest(format!("webhook.url: {e}")))?;
    }
    let name = match name {
        Some(n) => paperboy_engine::alerts::alert_name(&n).map_err(WebError::BadRequest)?,
        None => paperboy_engine::alerts::default_name(&spec.query),
    };
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            let known = s.store().alerts_of(r.id)?.into_iter().find(|a| a.name == name);
            Ok(match known {
                Some(a) => {
                    let a = s.store().update_alert(r.id, a.id, &spec)?.ok_or_else(|| WebError::NotFound(format!("you have no alert {}", a.id)))?;
                    (StatusCode::OK, Json(alert_json(&a)))
                }
                None => (StatusCode::CREATED, Json(alert_json(&crate::pages::alerts::save(s, r.id, &name, &spec)?))),
            })
        })
        .await
}

/// `DELETE /api/v1/alerts/{id}`.
pub async fn delete_alert(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| WebError::BadRequest(format!("id: {id:?} is not an alert id")))?;
    state
        .blocking(move |s| {
            let r = s.api_reader(&headers)?;
            if !s.store().delete_alert(r.id, id)? {
                return Err(WebError::NotFound(format!("you have no alert {id}")).into());
            }
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}
