//! Who is asking: the session cookie of a signed-in reader (pages) or an API token (the JSON
//! API), and what a page shows them ([`Viewer`]: their marks on the papers listed and the
//! forms' CSRF token).
//!
//! The cookie holds a random secret; the store keeps only its hash, so a session can be ended
//! on the server (sign out, sign out everywhere). It is `HttpOnly`, `SameSite=Lax`, and
//! `Secure` when the instance's base URL is https.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use chrono::Utc;
use paperboy_core::PaperId;
use paperboy_engine::readers::{Collection, Marks, SESSION_TTL};
use paperboy_engine::subscriptions::Subscriber;

use crate::error::WebError;
use crate::security::csrf_token;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "paperboy_session";
/// The collection a paper goes to when saved from a list.
pub const DEFAULT_COLLECTION: &str = "Saved";

/// A request's session secret (if it sent one) and where it was (for forms to come back to).
#[derive(Debug, Clone, Default)]
pub struct Visit {
    /// The session cookie's value.
    pub session: Option<String>,
    /// The path and query of this page.
    pub here: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Visit {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let here = parts.uri.path_and_query().map_or("/", |pq| pq.as_str()).to_owned();
        Ok(Visit { session: session_cookie(&parts.headers), here })
    }
}

/// The session secret in a request's cookies.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(state: &AppState, secret: &str) -> HeaderValue {
    cookie(secret, SESSION_TTL.num_seconds(), state.config().base_url.starts_with("https://"))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    cookie("", 0, state.config().base_url.starts_with("https://"))
}

/// The session cookie: script cannot read it, other sites' requests do not carry it (but links
/// from them do), and over https it never travels in the clear.
fn cookie(value: &str, max_age: i64, https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")).expect("hex and ASCII")
}

/// A path to come back to after a form: a local path, never another site.
pub fn local_path(next: Option<&str>, default: &str) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() <= 2000 && !n.chars().any(char::is_control) => n.to_owned(),
        _ => default.to_owned(),
    }
}

impl AppState {
    /// The signed-in reader of a visit, if its session is current.
    pub fn reader(&self, visit: &Visit) -> Result<Option<Subscriber>, WebError> {
        match &visit.session {
            Some(secret) => Ok(self.store().session_reader(secret, Utc::now())?),
            None => Ok(None),
        }
    }

    /// The signed-in reader, or 401-like redirect material: an error that sends them to sign in.
    pub fn signed_in(&self, visit: &Visit) -> Result<Subscriber, WebError> {
        self.reader(visit)?.ok_or_else(|| WebError::SignIn(visit.here.clone()))
    }

    /// The reader of an API request's `Authorization: Bearer …` token.
    pub fn api_reader(&self, headers: &HeaderMap) -> Result<Subscriber, WebError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 100)
            .ok_or_else(|| WebError::Unauthorized("send an API token as `Authorization: Bearer TOKEN` (make one on your account page)".into()))?;
        self.store().api_token_reader(token, Utc::now())?.ok_or_else(|| WebError::Unauthorized("this API token is not valid (revoked, or never made)".into()))
    }
}

/// What a page shows one visitor: who they are, their marks on the papers shown, the local
/// upvotes of those papers, and the CSRF token of the page's forms.
pub struct Viewer {
    /// The signed-in reader.
    pub reader: Option<Subscriber>,
    /// Their marks on the papers shown.
    pub marks: Marks,
    /// Upvotes of this instance's readers on the papers shown.
    pub local_votes: HashMap<PaperId, u32>,
    /// Their collections (the paper page's "save to" choices).
    pub collections: Vec<Collection>,
    /// The forms' CSRF token.
    pub csrf: String,
    /// The page's path and query (where forms come back to).
    pub here: String,
}

impl Viewer {
    /// The viewer of `visit` for a page showing `papers`.
    pub fn load(s: &AppState, visit: &Visit, papers: &[PaperId]) -> Result<Viewer, WebError> {
        let reader = s.reader(visit)?;
        let store = s.store();
        let local_votes = store.local_upvotes(papers)?;
        let (marks, collections) = match &reader {
            Some(r) => (store.marks(r.id, papers)?, store.collections(r.id)?),
            None => (Marks::default(), vec![]),
        };
        Ok(Viewer { reader, marks, local_votes, collections, csrf: csrf_token(&s.config().secret), here: visit.here.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_secure_over_https_and_read_back_strictly() {
        assert_eq!(cookie("ab12", 60, true).to_str().unwrap(), "paperboy_session=ab12; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        assert!(!cookie("ab12", 60, false).to_str().unwrap().contains("Secure"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("theme=dark; paperboy_session=ab12"));
        assert_eq!(session_cookie(&h).as_deref(), Some("ab12"));
        h.insert(header::COOKIE, HeaderValue::from_static("paperboy_session=<script>"));
        assert_eq!(session_cookie(&h), None, "only hex secrets");
        assert_eq!(local_path(Some("//evil.example/x"), "/"), "/");
        assert_eq!(local_path(Some("https://evil.example/"), "/"), "/");
        assert_eq!(local_path(Some("/paper/1?x=1"), "/"), "/paper/1?x=1");
    }
}
