//! Safety around every request: security headers (a strict Content-Security-Policy), a bound on
//! the request target's length, the per-client rate limits (kept in `limits.rs`), and CSRF
//! tokens for forms.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{error_response, WebError};
use crate::limits::Bucket;
use crate::state::AppState;

/// Scripts, styles and fonts come from this server only; no inline script, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the security headers to every response and refuses over-long request targets.
pub async fn headers(req: Request, next: Next) -> Response {
    if req.uri().path_and_query().map_or(0, |pq| pq.as_str().len()) > crate::MAX_URI_BYTES {
        let e = WebError::TooLong(format!("the request target is longer than {} bytes", crate::MAX_URI_BYTES));
        return error_response(req.uri().path(), e);
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    res
}

/// Under `/api/`, an error answered before any handler (no route, a method the route lacks, a
/// body over the limit, a body that is not JSON) becomes the API's JSON envelope with the same
/// status and headers (`Allow` on a 405), and a request body must be declared JSON (415).
pub async fn api_errors(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let has_body = axum::body::HttpBody::size_hint(req.body()).exact() != Some(0);
    let json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        let mime = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        mime == "application/json" || mime.ends_with("+json")
    });
    if has_body && !json {
        return error_response(req.uri().path(), WebError::Unsupported("the request body must be JSON, sent as Content-Type: application/json".into()));
    }
    let method = req.method().clone();
    let res = next.run(req).await;
    let is_json = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if res.status().is_success() || is_json || res.status() == StatusCode::NOT_MODIFIED {
        return res;
    }
    let status = res.status();
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_owned()).unwrap_or_default();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("this path does not take {method} (the Allow header says what it takes)"),
        StatusCode::PAYLOAD_TOO_LARGE => format!("the request body is larger than {} bytes", crate::MAX_BODY_BYTES),
        StatusCode::NOT_FOUND if text.is_empty() => "there is no API endpoint at this path (see /api/openapi.json)".to_owned(),
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_owned(),
        _ => text,
    };
    let mut res = error_response("/api/", WebError::Status(status, message));
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            res.headers_mut().insert(name, v.clone());
        }
    }
    res
}

/// Applies the per-client limits (`limits.rs`); a client over its limit gets 429 with
/// `Retry-After`.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The sign-in form itself costs nothing; sending it does (an email).
    if req.method() == axum::http::Method::GET && req.uri().path() == "/sign-in" {
        return next.run(req).await;
    }
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let client = state.config().trusted_proxies.client(peer, req.headers());
    if let Err(e) = state.limiter().check(Bucket::of(req.uri().path()), client) {
        return error_response(req.uri().path(), e);
    }
    next.run(req).await
}

/// How long a form's CSRF token stays good.
const CSRF_TTL_SECS: u64 = 24 * 3600;

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn mac(secret: &[u8; 32], stamp: u64) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("any key length works");
    m.update(b"paperboy-csrf:");
    m.update(stamp.to_string().as_bytes());
    m
}

/// A CSRF token for a form rendered now: `time.hmac` (stateless; checked by [`check_csrf`]).
pub fn csrf_token(secret: &[u8; 32]) -> String {
    let stamp = now_secs();
    let tag: String = mac(secret, stamp).finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("{stamp}.{tag}")
}

/// Checks a posted form's CSRF token and that the request does not come from another site.
pub fn check_csrf(secret: &[u8; 32], token: &str, headers: &HeaderMap) -> Result<(), WebError> {
    let refuse = |why: &str| Err(WebError::Forbidden(format!("{why}; reload the page and send the form again")));
    if headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site") {
        return refuse("the form was sent from another site");
    }
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        let origin = origin.to_str().unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if origin != "null" && origin_host != host.to_str().unwrap_or("") {
            return refuse("the form was sent from another site");
        }
    }
    let Some((stamp, tag)) = token.split_once('.') else { return refuse("the form's security token is missing") };
    let (Ok(stamp), Some(tag)) = (stamp.parse::<u64>(), decode_hex(tag)) else { return refuse("the form's security token is malformed") };
    let now = now_secs();
    if stamp > now + 300 || now.saturating_sub(stamp) > CSRF_TTL_SECS {
        return refuse("the form has expired");
    }
    if mac(secret, stamp).verify_slice(&tag).is_err() {
        return refuse("the form's security token is not valid");
    }
    Ok(())
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_verify_and_forgeries_do_not() {
        let secret = [7u8; 32];
        let token = csrf_token(&secret);
        let h = HeaderMap::new();
        assert!(check_csrf(&secret, &token, &h).is_ok());
        assert!(check_csrf(&[8u8; 32], &token, &h).is_err());
        assert!(check_csrf(&secret, "", &h).is_err());
        assert!(check_csrf(&secret, "123.zz", &h).is_err());
        let (stamp, tag) = token.split_once('.').unwrap();
        let shifted = format!("{}.{tag}", stamp.parse::<u64>().unwrap() + 1);
        assert!(check_csrf(&secret, &shifted, &h).is_err());
        let old = now_secs() - CSRF_TTL_SECS - 10;
        let tag: String = mac(&secret, old).finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert!(check_csrf(&secret, &format!("{old}.{tag}"), &h).is_err(), "expired");
        let mut cross = HeaderMap::new();
        cross.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        cross.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(check_csrf(&secret, &token, &cross).is_err());
        let mut same = HeaderMap::new();
        same.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        same.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(check_csrf(&secret, &token, &same).is_ok());
    }
}
