//! paperboy's URL scheme in one place: every page, email, feed and API answer that links to a
//! paper, a category or a subscription's pages builds the link here. `base` is `""` for links
//! within the site, or the instance's absolute base URL without a trailing slash (emails, feeds
//! and the API need absolute links).
//!
//! ```
//! use paperboy_core::{urls, PaperId};
//! let id: PaperId = "hep-th/9901001".parse().unwrap();
//! assert_eq!(urls::paper("", &id), "/paper/hep-th/9901001");
//! assert_eq!(urls::unsubscribe("https://papers.example.org", "k3y"), "https://papers.example.org/unsubscribe/k3y");
//! ```

use std::fmt::Display;

use crate::PaperId;

/// A paper's page (old-style ids keep their slash: the route takes the rest of the path).
pub fn paper(base: &str, id: &PaperId) -> String {
    format!("{base}/paper/{id}")
}

/// A category's page.
pub fn category(base: &str, category: impl Display) -> String {
    format!("{base}/category/{category}")
}

/// A category's RSS feed.
pub fn category_feed(base: &str, category: impl Display) -> String {
    format!("{base}/feeds/category/{category}.xml")
}

/// The one-click unsubscribe page of the subscriber with this manage key (also the
/// `List-Unsubscribe` URL).
pub fn unsubscribe(base: &str, key: &str) -> String {
    format!("{base}/unsubscribe/{key}")
}

/// The preferences page of the subscriber with this manage key.
pub fn preferences(base: &str, key: &str) -> String {
    format!("{base}/preferences/{key}")
}

/// The confirmation link of a double opt-in email.
pub fn confirm(base: &str, token: &str) -> String {
    format!("{base}/confirm?token={token}")
}

/// The link of a sign-in email; `next` is the page to come back to after signing in.
pub fn sign_in_link(base: &str, token: &str, next: Option<&str>) -> String {
    match next {
        Some(next) => format!("{base}/sign-in/link?token={token}&next={}", encode(next)),
        None => format!("{base}/sign-in/link?token={token}"),
    }
}

/// Percent-encodes a query value: everything but RFC 3986's unreserved characters.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An author's page (`slug` from the author's name: lower case, words joined by `-`).
pub fn author(base: &str, slug: &str) -> String {
    format!("{base}/author/{slug}")
}

/// The read-only page of a shared collection.
pub fn shared_collection(base: &str, share_key: &str) -> String {
    format!("{base}/shared/{share_key}")
}

/// A reader's private Atom feed of what their alerts delivered (`key`: their feed secret).
pub fn alerts_feed(base: &str, key: &str) -> String {
    format!("{base}/feeds/alerts/{key}.xml")
}
