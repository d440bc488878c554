//! The text conventions arXiv's sources share: author lists and dates.

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::text::fold_whitespace;
use paperboy_core::Author;

/// Splits an author list as arXiv writes it ("A. One, B. Two and C. Three") into names,
/// leaving commas inside parentheses (affiliations) alone.
pub fn split_authors(list: &str) -> Vec<Author> {
    let list = fold_whitespace(list);
    let mut names = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    let mut push = |s: &mut String| {
        let name = s.trim().trim_end_matches(',').trim();
        if !name.is_empty() {
            names.push(name.to_owned());
        }
        s.clear();
    };
    let mut rest = list.as_str();
    while let Some(c) = rest.chars().next() {
        if depth == 0 && (rest.starts_with(" and ") || rest.starts_with(", and ")) {
            push(&mut current);
            rest = &rest[rest.find("and ").expect("matched") + 4..];
            continue;
        }
        match c {
            '(' => depth += 1,
            ')' => depth = (depth - 1).max(0),
            ',' if depth == 0 => {
                push(&mut current);
                rest = &rest[1..];
                continue;
            }
            _ => {}
        }
        current.push(c);
        rest = &rest[c.len_utf8()..];
    }
    push(&mut current);
    names
        .into_iter()
        .map(|n| match n.split_once(" (") {
            Some((name, aff)) if n.ends_with(')') => Author {
                name: name.trim().to_owned(),
                affiliation: Some(aff.trim_end_matches(')').trim().to_owned()),
            },
            _ => Author::new(n),
        })
        .collect()
}

/// Parses the dates arXiv writes: RFC 2822 (`Mon, 2 Apr 2007 19:18:42 GMT`), RFC 3339, or a
/// plain `YYYY-MM-DD` (taken as midnight UTC).
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_split_like_arxiv_writes_them() {
        let names: Vec<_> = split_authors("C. Bal\\'azs, E. L. Berger,\n  P. M. Nadolsky and C.-P. Yuan")
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["C. Bal\\'azs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]);
        let with_aff = split_authors("A. One (Univ. X, Lab Y), B. Two");
        assert_eq!(with_aff[0].name, "A. One");
        assert_eq!(with_aff[0].affiliation.as_deref(), Some("Univ. X, Lab Y"));
        assert_eq!(with_aff[1].name, "B. Two");
        assert_eq!(split_authors("Moustapha Diaby").len(), 1);
        assert!(split_authors("  ").is_empty());
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("Mon, 2 Apr 2007 19:18:42 GMT").unwrap().to_rfc3339(), "2007-04-02T19:18:42+00:00");
        assert_eq!(parse_date("2023-03-07").unwrap().to_rfc3339(), "2023-03-07T00:00:00+00:00");
        assert_eq!(parse_date("2025-02-28T05:23:10.000Z").unwrap().date_naive().to_string(), "2025-02-28");
        assert!(parse_date("yesterday").is_none());
    }
}
