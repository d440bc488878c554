//! Plain paper listings: a title line, then an abstract line, repeated, as copied from a
//! paper-listing web page. Banner lines before the first paper ("Get trending papers in your
//! email inbox…", a "Subscribe" button glued to the first title) are skipped.
//!
//! Listing papers have no arXiv id; their id is `listing:` and a digest of the folded,
//! lower-cased title, so the same paper in two listings is one paper.

use paperboy_core::text::{fold_whitespace, stable_digest};
use paperboy_core::{Paper, PaperId, Source};

use super::RecordError;

fn is_banner(line: &str) -> bool {
    let l = line.to_lowercase();
    l.starts_with("get trending papers") || l == "subscribe"
}

/// The id a listing gives a paper with this title.
pub fn listing_id(title: &str) -> PaperId {
    PaperId::external("listing", &stable_digest(&fold_whitespace(title).to_lowercase())).expect("valid tag")
}

/// Parses a whole listing; `name` prefixes error positions (`file:line`).
pub fn parse_listing(text: &str, name: &str) -> Vec<Result<Paper, RecordError>> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, fold_whitespace(l))).filter(|(_, l)| !l.is_empty());
    let mut in_banner = true;
    let mut pending_title: Option<(usize, String)> = None;
    for (line_no, mut line) in lines.by_ref() {
        if in_banner {
            if is_banner(&line) {
                continue;
            }
            in_banner = false;
            // The page's "Subscribe" button text runs into the first title.
            if let Some(rest) = line.strip_prefix("Subscribe") {
                if rest.starts_with(|c: char| c.is_uppercase()) {
                    line = rest.to_owned();
                }
            }
        }
        match pending_title.take() {
            None => pending_title = Some((line_no, line)),
            Some((title_line, title)) => {
                if title.chars().count() > 500 {
                    out.push(Err(RecordError::new(
                        format!("{name}:{title_line}"),
                        "title line longer than 500 characters (are title and abstract lines out of step?)",
                    )));
                    continue;
                }
                let mut paper = Paper::new(listing_id(&title), title, Source::Listing);
                paper.abstract_text = line;
                out.push(Ok(paper));
            }
        }
    }
    if let Some((line_no, _)) = pending_title {
        out.push(Err(RecordError::new(format!("{name}:{line_no}"), "a title without an abstract line after it")));
    }
    out
}
