//! Small text helpers: whitespace folding and stable hashing (shared by every parser), and how
//! a day is written for people.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

/// A day as people read it: "Friday, 9 January 2026" (pages, feeds and emails).
pub fn long_day(d: NaiveDate) -> String {
    d.format("%A, %-d %B %Y").to_string()
}

/// Collapses every run of whitespace (spaces, tabs, line breaks) into one space and trims.
///
/// arXiv wraps titles and abstracts at 80 columns with indentation; the same text from two
/// sources compares equal only after folding.
///
/// ```
/// assert_eq!(paperboy_core::text::fold_whitespace("  A\n  title\twith  gaps "), "A title with gaps");
/// ```
pub fn fold_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Returns `Some(folded)` for text with content, `None` for empty or blank text.
pub fn non_blank(s: &str) -> Option<String> {
    let folded = fold_whitespace(s);
    (!folded.is_empty()).then_some(folded)
}

/// A short, stable hexadecimal digest of `s` (the first 16 hex digits of its SHA-256).
///
/// Used for ids of papers without an arXiv id; stable across runs, machines and versions.
pub fn stable_digest(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
