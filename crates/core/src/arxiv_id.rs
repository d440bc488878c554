//! Paper identifiers: arXiv ids (new and old style, version kept apart) and ids of papers
//! that come from sources without one.
//!
//! ```
//! use paperboy_core::{ArxivId, VersionedId};
//! let v: VersionedId = "2401.01234v3".parse().unwrap();
//! assert_eq!(ArxivId::parse_loose("arXiv:2401.01234v3").unwrap(), v);
//! assert_eq!(v.id.as_str(), "2401.01234");
//! assert_eq!(v.version, Some(3));
//! let old: ArxivId = "hep-th/9901001".parse().unwrap();
//! assert_eq!(old.to_string(), "hep-th/9901001");
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a paper id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid paper id {input:?}: {reason}")]
pub struct IdError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn err(input: &str, reason: &'static str) -> IdError {
    IdError { input: input.chars().take(80).collect(), reason }
}

/// An arXiv identifier without version: `2401.01234` (new style, 4 or 5 digits after the
/// dot) or `hep-th/9901001` (old style, archive with optional subject class).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArxivId(String);

impl ArxivId {
    /// The id as text, e.g. `2401.01234`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for new-style ids (`YYMM.NNNNN`).
    pub fn is_new_style(&self) -> bool {
        !self.0.contains('/')
    }

    /// The year and month of submission encoded in the id, as (year, month).
    pub fn year_month(&self) -> (i32, u32) {
        let digits = match self.0.split_once('/') {
            Some((_, n)) => &n[..4],
            None => &self.0[..4],
        };
        let yy: i32 = digits[..2].parse().unwrap_or(0);
        let mm: u32 = digits[2..4].parse().unwrap_or(1);
        (if yy >= 91 { 1900 + yy } else { 2000 + yy }, mm)
    }

    /// The abstract page on arXiv.
    pub fn abs_url(&self) -> String {
        format!("https://arxiv.org/abs/{}", self.0)
    }

    /// The PDF of the latest version on arXiv.
    pub fn pdf_url(&self) -> String {
        format!("https://arxiv.org/pdf/{}", self.0)
    }

    /// Parses an id in any of the forms sources write it: `arXiv:ID`, `oai:arXiv.org:ID`,
    /// an abs or PDF URL, with or without a version suffix.
    pub fn parse_loose(input: &str) -> Result<VersionedId, IdError> {
        let mut s = input.trim();
        for prefix in ["oai:arXiv.org:", "oai:arxiv.org:", "arXiv:", "arxiv:"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest;
            }
        }
        for scheme in ["https://", "http://"] {
            if let Some(rest) = s.strip_prefix(scheme) {
                let rest = rest.strip_prefix("www.").unwrap_or(rest);
                let rest = rest.strip_prefix("export.").unwrap_or(rest);
                let rest = rest
                    .strip_prefix("arxiv.org/")
                    .ok_or_else(|| err(input, "a URL that is not an arXiv address"))?;
                s = rest
                    .strip_prefix("abs/")
                    .or_else(|| rest.strip_prefix("pdf/"))
                    .ok_or_else(|| err(input, "an arXiv URL that is not an abs or pdf page"))?;
                s = s.strip_suffix(".pdf").unwrap_or(s);
            }
        }
        s.parse::<VersionedId>().map_err(|e| IdError { input: input.chars().take(80).collect(), ..e })
    }
}

fn valid_month(digits: &str) -> bool {
    matches!(digits[2..4].parse::<u32>(), Ok(1..=12))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl FromStr for ArxivId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        if let Some((archive, number)) = s.split_once('/') {
            // Old style: archive(.SC)?/YYMMNNN
            let (name, class) = match archive.split_once('.') {
                Some((n, c)) => (n, Some(c)),
                None => (archive, None),
            };
            let name_ok = !name.is_empty()
                && !name.starts_with('-')
                && !name.ends_with('-')
                && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
            if !name_ok {
                return Err(err(s, "old-style archive name must be lowercase letters, e.g. hep-th"));
            }
            if let Some(c) = class {
                if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(err(s, "old-style subject class must be two capitals, e.g. math.GT"));
                }
            }
            if number.len() != 7 || !all_digits(number) {
                return Err(err(s, "old-style number must be 7 digits YYMMNNN"));
            }
            if !valid_month(number) {
                return Err(err(s, "month must be 01-12"));
            }
            return Ok(ArxivId(s.to_owned()));
        }
        let (yymm, number) = s.split_once('.').ok_or_else(|| err(s, "expected YYMM.NNNNN or archive/YYMMNNN"))?;
        if yymm.len() != 4 || !all_digits(yymm) {
            return Err(err(s, "expected four digits YYMM before the dot"));
        }
        if !valid_month(yymm) {
            return Err(err(s, "month must be 01-12"));
        }
        if !(number.len() == 4 || number.len() == 5) || !all_digits(number) {
            return Err(err(s, "expected 4 or 5 digits after the dot"));
        }
        // From 2015 on arXiv numbers have five digits, before that four.
        let five = ("1501".."9100").contains(&yymm);
        if five != (number.len() == 5) {
            return Err(err(s, "ids from 2015 on have 5 digits after the dot, earlier ones 4"));
        }
        Ok(ArxivId(s.to_owned()))
    }
}

impl fmt::Display for ArxivId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ArxivId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<ArxivId> for String {
    fn from(id: ArxivId) -> String {
        id.0
    }
}

/// An arXiv id with an optional version: `2401.01234v2`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionedId {
    /// The id without version.
    pub id: ArxivId,
    /// The version number (1 for `v1`), if one was given.
    pub version: Option<u32>,
}

impl FromStr for VersionedId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        // A version suffix is `v` and digits at the very end.
        if let Some(pos) = s.rfind('v') {
            let digits = &s[pos + 1..];
            if pos > 0 && all_digits(digits) {
                let version: u32 = digits.parse().map_err(|_| err(s, "version number too large"))?;
                if version == 0 {
                    return Err(err(s, "versions start at v1"));
                }
                return Ok(VersionedId { id: s[..pos].parse()?, version: Some(version) });
            }
        }
        Ok(VersionedId { id: s.parse()?, version: None })
    }
}

impl fmt::Display for VersionedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}v{v}", self.id),
            None => write!(f, "{}", self.id),
        }
    }
}

/// The key of a paper in the store: its arXiv id, or for sources without one (plain
/// listings, BEIR corpora) a stable id derived from the source, written `source:key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PaperId {
    /// A paper on arXiv.
    Arxiv(ArxivId),
    /// A paper known only to another source.
    External {
        /// Lowercase source tag, e.g. `listing` or `beir`.
        source: String,
        /// The key within that source (no restrictions beyond being non-empty).
        key: String,
    },
}

impl PaperId {
    /// An id for a paper from `source` (lowercase letters, digits and `-`) with the given key.
    pub fn external(source: &str, key: &str) -> Result<Self, IdError> {
        let ok = !source.is_empty()
            && source.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(err(source, "source tag must be lowercase letters, digits or '-'"));
        }
        if key.trim().is_empty() {
            return Err(err(key, "empty key"));
        }
        Ok(PaperId::External { source: source.to_owned(), key: key.to_owned() })
    }

    /// The arXiv id, when the paper is on arXiv.
    pub fn arxiv(&self) -> Option<&ArxivId> {
        match self {
            PaperId::Arxiv(id) => Some(id),
            PaperId::External { .. } => None,
        }
    }
}

impl FromStr for PaperId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() > 200 {
            return Err(err(s, "longer than 200 characters"));
        }
        match ArxivId::parse_loose(s) {
            Ok(v) => Ok(PaperId::Arxiv(v.id)),
            Err(arxiv_err) => match s.split_once(':') {
                Some((source, key)) if source != "arXiv" && source != "oai" && !source.contains('/') => {
                    PaperId::external(source, key)
                }
                _ => Err(arxiv_err),
            },
        }
    }
}

impl fmt::Display for PaperId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaperId::Arxiv(id) => write!(f, "{id}"),
            PaperId::External { source, key } => write!(f, "{source}:{key}"),
        }
    }
}

impl TryFrom<String> for PaperId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<PaperId> for String {
    fn from(id: PaperId) -> String {
        id.to_string()
    }
}

impl From<ArxivId> for PaperId {
    fn from(id: ArxivId) -> Self {
        PaperId::Arxiv(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_real_ids() {
        for s in ["0704.0001", "1412.9999", "1501.00001", "2401.01234", "hep-th/9901001", "math.GT/0309136", "cond-mat/0102536"] {
            assert_eq!(s.parse::<ArxivId>().unwrap().as_str(), s);
        }
    }

    #[test]
    fn rejects_malformed_ids() {
        for s in ["", "2401.1234", "1312.12345", "2413.01234", "24010.1234", "Hep-th/9901001", "hep-th/990100", "math.gt/0309136", "2401.01234v0", "abc"] {
            assert!(s.parse::<VersionedId>().is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn loose_forms() {
        let cases = [
            ("oai:arXiv.org:0806.4410", "0806.4410", None),
            ("http://arxiv.org/abs/2104.12255v1", "2104.12255", Some(1)),
            ("https://arxiv.org/pdf/2401.01234v2.pdf", "2401.01234", Some(2)),
            ("arXiv:hep-th/9901001v3", "hep-th/9901001", Some(3)),
            ("http://arxiv.org/abs/nlin/0202021", "nlin/0202021", None),
        ];
        for (input, id, version) in cases {
            let v = ArxivId::parse_loose(input).unwrap();
            assert_eq!((v.id.as_str(), v.version), (id, version), "{input}");
        }
        assert!(ArxivId::parse_loose("https://example.org/abs/2401.01234").is_err());
    }

    #[test]
    fn paper_ids() {
        assert_eq!("listing:ab12".parse::<PaperId>().unwrap(), PaperId::external("listing", "ab12").unwrap());
        assert_eq!("beir:scifact:4983".parse::<PaperId>().unwrap().to_string(), "beir:scifact:4983");
        assert!(matches!("2401.01234".parse::<PaperId>().unwrap(), PaperId::Arxiv(_)));
        assert!("no id here".parse::<PaperId>().is_err());
        assert_eq!(serde_json::to_string(&"hep-th/9901001".parse::<PaperId>().unwrap()).unwrap(), "\"hep-th/9901001\"");
    }

    fn new_style() -> impl Strategy<Value = String> {
        (0u32..100, 1u32..=12, 0u32..100_000).prop_map(|(yy, mm, n)| {
            let yymm = format!("{yy:02}{mm:02}");
            if (1501..9100).contains(&(yy * 100 + mm)) {
                format!("{yymm}.{n:05}")
            } else {
                format!("{yymm}.{:04}", n % 10_000)
            }
        })
    }

    fn old_style() -> impl Strategy<Value = String> {
        ("[a-z]{2,5}(-[a-z]{2,4})?", proptest::option::of("[A-Z]{2}"), 0u32..100, 1u32..=12, 0u32..1000).prop_map(
            |(archive, class, yy, mm, n)| match class {
                Some(c) => format!("{archive}.{c}/{yy:02}{mm:02}{n:03}"),
                None => format!("{archive}/{yy:02}{mm:02}{n:03}"),
            },
        )
    }

    proptest! {
        #[test]
        fn round_trip(s in prop_oneof![new_style(), old_style()], version in proptest::option::of(1u32..50)) {
            let id: ArxivId = s.parse().unwrap();
            prop_assert_eq!(id.to_string(), s.clone());
            let v = VersionedId { id: id.clone(), version };
            let back: VersionedId = v.to_string().parse().unwrap();
            prop_assert_eq!(back, v);
            let pid: PaperId = id.to_string().parse().unwrap();
            prop_assert_eq!(pid, PaperId::Arxiv(id));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<VersionedId>();
            let _ = ArxivId::parse_loose(&s);
            let _ = s.parse::<PaperId>();
        }
    }
}
