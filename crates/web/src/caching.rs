//! HTTP validators: every successful GET gets a strong `ETag` (a digest of its body), and a
//! request whose `If-None-Match` names it is answered 304 without the body, so a feed reader's
//! poll of an unchanged feed costs a few hundred bytes. Bodies are compressed (gzip or br, as
//! the client accepts) by tower-http's layer outside this one; a compressed body is another
//! representation, so its tag gets the encoding's name (`"…-gzip"`), and a conditional request
//! matches either form.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Largest body given a tag (larger ones pass through untagged).
const MAX_TAGGED: usize = 8 * 1024 * 1024;

/// The tags `If-None-Match` names, without an encoding suffix.
fn requested(value: Option<&HeaderValue>) -> Vec<String> {
    let Some(v) = value.and_then(|v| v.to_str().ok()) else { return vec![] };
    v.split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .map(|t| t.strip_suffix("-gzip").or_else(|| t.strip_suffix("-br")).unwrap_or(t).to_owned())
        .collect()
}

/// Tags successful GET (and HEAD) answers and answers 304 to a request that has the body already.
pub async fn etag(req: Request, next: Next) -> Response {
    let conditional = matches!(*req.method(), Method::GET | Method::HEAD).then(|| requested(req.headers().get(header::IF_NONE_MATCH)));
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
    if wanted.iter().any(|t| t == &digest || t == "*") {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        for name in [header::ETAG, header::CACHE_CONTROL, header::VARY, header::CONTENT_LOCATION] {
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
}
