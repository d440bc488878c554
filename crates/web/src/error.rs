//! Every error a request can meet, and its two renderings: an HTML page ([`PageError`]) for
//! pages and feeds, the JSON envelope `{"error":{"code":..,"message":..}}` ([`ApiError`]) under
//! `/api/`. Users get a clear message for their mistakes and an opaque one for ours; the cause
//! of ours goes to the log.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use maud::{html, DOCTYPE};
use paperboy_engine::search::SearchError;
use paperboy_engine::StoreError;
use serde_json::json;

/// What can go wrong in a request; pages show it as an HTML page, the API as JSON.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 400: the request itself is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// 401: the API needs a reader's token.
    #[error("{0}")]
    Unauthorized(String),
    /// The page is a signed-in reader's: pages send the visitor to sign in (and back to this
    /// path afterwards); the API answers 401.
    #[error("sign in first")]
    SignIn(String),
    /// 403: a form without a valid CSRF token, or from another site.
    #[error("{0}")]
    Forbidden(String),
    /// 414: the request target is too long.
    #[error("{0}")]
    TooLong(String),
    /// 429: over the rate limit; retry after this many seconds.
    #[error("too many requests: try again in {0} s")]
    TooMany(u64),
    /// 503: not ready yet (the search index is still opening).
    #[error("{0}")]
    Unavailable(String),
    /// 503 with `Retry-After: 1`: too many searches at once; the request was not queued.
    #[error("busy: {0}")]
    Busy(String),
    /// 415: a request body of a type the endpoint does not take.
    #[error("{0}")]
    Unsupported(String),
    /// Another status, with its message (errors the framework answers before a handler).
    #[error("{1}")]
    Status(axum::http::StatusCode, String),
    /// 500.
    #[error("{0}")]
    Internal(String),
}

impl WebError {
    /// The HTTP status.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode as S;
        match self {
            WebError::NotFound(_) => S::NOT_FOUND,
            WebError::BadRequest(_) => S::BAD_REQUEST,
            WebError::Unauthorized(_) | WebError::SignIn(_) => S::UNAUTHORIZED,
            WebError::Forbidden(_) => S::FORBIDDEN,
            WebError::TooLong(_) => S::URI_TOO_LONG,
            WebError::TooMany(_) => S::TOO_MANY_REQUESTS,
            WebError::Unavailable(_) | WebError::Busy(_) => S::SERVICE_UNAVAILABLE,
            WebError::Unsupported(_) => S::UNSUPPORTED_MEDIA_TYPE,
            WebError::Status(s, _) => *s,
            WebError::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            WebError::NotFound(_) => "not_found",
            WebError::BadRequest(_) => "bad_request",
            WebError::Unauthorized(_) | WebError::SignIn(_) => "unauthorized",
            WebError::Forbidden(_) => "forbidden",
            WebError::TooLong(_) => "too_long",
            WebError::TooMany(_) => "rate_limited",
            WebError::Unavailable(_) | WebError::Busy(_) => "unavailable",
            WebError::Unsupported(_) => "unsupported_media_type",
            WebError::Status(s, _) => match s.as_u16() {
                404 => "not_found",
                405 => "method_not_allowed",
                413 => "too_large",
                415 => "unsupported_media_type",
                422 | 400 => "bad_request",
                s if s >= 500 => "internal",
                _ => "error",
            },
            WebError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        tracing::error!("store: {e}");
        WebError::Internal("the database could not answer; the error is in the server log".into())
    }
}

impl From<SearchError> for WebError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::InvalidQuery(_) => WebError::BadRequest(e.to_string()),
            SearchError::UnknownPaper(id) => WebError::NotFound(format!("no vectors for paper {id} (not embedded yet?)")),
            other => {
                tracing::error!("search: {other}");
                WebError::Internal("the search failed; the error is in the server log".into())
            }
        }
    }
}

impl From<paperboy_digest::DigestError> for WebError {
    fn from(e: paperboy_digest::DigestError) -> Self {
        match e {
            paperboy_digest::DigestError::Store(e) => e.into(),
            paperboy_digest::DigestError::Search(e) => e.into(),
            paperboy_digest::DigestError::Config(e) => {
                tracing::error!("mail settings: {e}");
                WebError::Internal("the server's mail settings are wrong; the error is in the server log".into())
            }
        }
    }
}

/// `res` with the status of `e`, and `Retry-After` when `e` says when to come back.
fn with_retry_after(mut res: Response, e: &WebError) -> Response {
    match e {
        WebError::TooMany(secs) => drop(res.headers_mut().insert(header::RETRY_AFTER, (*secs).into())),
        WebError::Busy(_) => drop(res.headers_mut().insert(header::RETRY_AFTER, 1.into())),
        _ => {}
    }
    res
}

/// An error as JSON.
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.0.code(), "message": self.0.to_string()}});
        with_retry_after((self.0.status(), Json(body)).into_response(), &self.0)
    }
}

/// An error shown as an HTML page with the right status.
pub struct PageError(pub WebError);

impl<E: Into<WebError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let WebError::SignIn(next) = &self.0 {
            let to = format!("/sign-in?next={}", crate::render::url_encode(next));
            return axum::response::Redirect::to(&to).into_response();
        }
        let status = self.0.status();
        let heading = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::TOO_MANY_REQUESTS => "Slow down",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::SERVICE_UNAVAILABLE if matches!(self.0, WebError::Busy(_)) => "Busy, try again",
            s if s.is_client_error() => "That request did not work",
            _ => "Something went wrong",
        };
        let body = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (heading) " · paperboy" }
                    link rel="stylesheet" href="/assets/style.css";
                }
                body {
                    header.site { a.brand href="/" { "paperboy" } }
                    main #main.error {
                        h1 { (heading) }
                        p { (self.0.to_string()) }
                        p { a href="/" { "Back to the daily papers" } " · " a href="/search" { "Search" } }
                    }
                }
            }
        };
        with_retry_after((status, Html(body.into_string())).into_response(), &self.0)
    }
}

/// `e` as the API's JSON error under `/api/`, else as an HTML page (for the middlewares,
/// which answer before any handler).
pub fn error_response(path: &str, e: WebError) -> Response {
    if path.starts_with("/api/") {
        ApiError(e).into_response()
    } else {
        PageError(e).into_response()
    }
}
