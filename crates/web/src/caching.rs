//! HTTP validators: every successful GET gets a strong `ETag` (a digest of its body), and a
//! request whose `If-None-Match` names it is answered 304 without the body, so a feed reader's
//! poll of an unchanged feed costs a few hundred bytes. It also gets `Last-Modified`: when this
//! process first served that URL's current body (a body that changes, back to an old one
//! included, moves the date on), so `If-Modified-Since` without `If-None-Match` is answered 304
//! only when the body is the one the client has; forgetting (a restart, a full table) only moves
//! dates later, which costs a download, never a stale answer. Bodies are compressed (gzip or br, as
//! the client accepts) by tower-http's layer outside this one; a compressed body is another
//! representation, so its tag gets the encoding's name (`"…-gzip"`), and a conditional request
//! matches either form.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Largest body given a tag (larger ones pass through untagged).
const MAX_TAGGED: usize = 8 * 1024 * 1024;

/// URLs whose bodies' change times are kept; past this many, all are forgotten.
const MAX_TRACKED: usize = 20_000;

/// When a URL's current body was first served.
struct Seen {
    digest: String,
    since: DateTime<Utc>,
    /// The body before this one was first served in the same second: an `If-Modified-Since` of
    /// that second cannot tell the two apart.
    same_second: bool,
}

fn seen() -> &'static Mutex<HashMap<String, Seen>> {
    static SEEN: OnceLock<Mutex<HashMap<String, Seen>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// The whole second of `t` (HTTP dates have no fractions).
fn second(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// Records `digest` as `url`'s body now; answers whether a client whose copy is from
/// `if_modified_since` has it, and the `Last-Modified` date.
fn last_modified(url: &str, digest: &str, now: DateTime<Utc>, if_modified_since: Option<DateTime<Utc>>) -> (bool, DateTime<Utc>) {
    let mut map = seen().lock().expect("last-modified lock");
    if map.len() >= MAX_TRACKED && !map.contains_key(url) {
        map.clear();
    }
    let entry = map.entry(url.to_owned()).or_insert_with(|| Seen { digest: digest.to_owned(), since: now, same_second: false });
    if entry.digest != digest {
        *entry = Seen { digest: digest.to_owned(), since: now, same_second: second(entry.since) == second(now) };
    }
    let fresh = if_modified_since.is_some_and(|ims| {
        let (ims, since) = (ims.timestamp(), second(entry.since));
        ims > since || (ims == since && !entry.same_second)
    });
    (fresh, DateTime::from_timestamp(second(entry.since), 0).unwrap_or(now))
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(t: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).expect("ASCII")
}

/// The tags `If-None-Match` names, without an encoding suffix.
fn requested(value: Option<&HeaderValue>) -> Vec<String> {
    let Some(v) = value.and_then(|v| v.to_str().ok()) else { return vec![] };
    v.split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .map(|t| t.strip_suffix("-gzip").or_else(|| t.strip_suffix("-br")).unwrap_or(t).to_owned())
        .collect()
}

/// Tags successful GET (and HEAD) answers with `ETag` and `Last-Modified`, and answers 304 to a
/// request that has the body already (`If-None-Match`, or else `If-Modified-Since`).
pub async fn etag(req: Request, next: Next) -> Response {
    let conditional = matches!(*req.method(), Method::GET | Method::HEAD).then(|| requested(req.headers().get(header::IF_NONE_MATCH)));
    let url = req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    let if_modified_since = req
        .headers()
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.with_timezone(&Utc));
    let res = next.run(req).await;
    let Some(wanted) = conditional else { return res };
    if res.status() != StatusCode::OK || res.headers().contains_key(header::ETAG) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_TAGGED).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the answer was too large to send").into_response();
    };
    let digest: String = Sha256::digest(&bytes).iter().take(16).map(|b| format!("{b:02x}")).collect();
    parts.headers.insert(header::ETAG, HeaderValue::from_str(&format!("\"{digest}\"")).expect("hex"));
    // If-Modified-Since counts only without If-None-Match (RFC 9110, 13.1.3).
    let ims = if_modified_since.filter(|_| wanted.is_empty());
    let (unchanged_since, modified) = last_modified(&url, &digest, Utc::now(), ims);
    parts.headers.insert(header::LAST_MODIFIED, http_date(modified));
    if wanted.iter().any(|t| t == &digest || t == "*") || unchanged_since {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        for name in [header::ETAG, header::LAST_MODIFIED, header::CACHE_CONTROL, header::VARY, header::CONTENT_LOCATION] {
            if let Some(v) = parts.headers.get(&name) {
                not_modified.headers_mut().insert(name, v.clone());
            }
        }
        return not_modified;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// After compression: a compressed body's tag names its encoding (another representation).
pub async fn tag_encoding(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let encoding = res.headers().get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let (Some(encoding), Some(tag)) = (encoding, res.headers().get(header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned)) {
        if let Ok(v) = HeaderValue::from_str(&format!("{}-{encoding}\"", tag.trim_end_matches('"'))) {
            res.headers_mut().insert(header::ETAG, v);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_is_read_with_weak_and_encoded_forms() {
        let v = HeaderValue::from_static("\"abc\", W/\"def-gzip\", \"ghi-br\"");
        assert_eq!(requested(Some(&v)), ["abc", "def", "ghi"]);
        assert!(requested(None).is_empty());
    }

    #[test]
    fn last_modified_moves_with_the_body_and_never_answers_for_another() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let url = "/test/last-modified";
        let (_, first) = last_modified(url, "a", t("2026-12-07T10:00:00.2Z"), None);
        assert_eq!(first, t("2026-12-07T10:00:00Z"));
        assert_eq!(http_date(first), "Mon, 07 Dec 2026 10:00:00 GMT");
        // The same body later: the date stays, and a client with it is answered 304.
        let (fresh, again) = last_modified(url, "a", t("2026-12-07T11:00:00Z"), Some(first));
        assert!(fresh);
        assert_eq!(again, first);
        // Another body in the same second: a copy from that second may be the old one.
        let (fresh, moved) = last_modified(url, "b", t("2026-12-07T10:00:00.7Z"), Some(first));
        assert!(!fresh, "changed within the second");
        assert_eq!(moved, first);
        let (fresh, _) = last_modified(url, "b", t("2026-12-07T10:00:05Z"), Some(t("2026-12-07T10:00:01Z")));
        assert!(fresh, "a copy from a later second is this body");
        // Back to the first body: a new date, so a copy of "b" is not taken for it.
        let (fresh, back) = last_modified(url, "a", t("2026-12-07T12:00:00Z"), Some(t("2026-12-07T10:00:01Z")));
        assert!(!fresh);
        assert_eq!(back, t("2026-12-07T12:00:00Z"));
    }
}
