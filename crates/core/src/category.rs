//! arXiv subject categories (`cs.LG`, `hep-th`, `math.GT`) and their names.
//!
//! The taxonomy table `taxonomy.tsv` is generated from arXiv's own category tables by
//! `scripts/gen-taxonomy.py`. Codes outside it are still accepted when well formed (arXiv adds
//! categories now and then); they just have no name.
//!
//! ```
//! use paperboy_core::Category;
//! let c: Category = "cs.LG".parse().unwrap();
//! assert_eq!(c.name(), Some("Machine Learning"));
//! assert_eq!(Category::from_oai_subject("Mathematics - Number Theory").unwrap().as_str(), "math.NT");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const TAXONOMY: &str = include_str!("taxonomy.tsv");

struct Entry {
    code: &'static str,
    name: &'static str,
    archive: &'static str,
    subject: &'static str,
}

struct Taxonomy {
    entries: Vec<Entry>,
    by_code: HashMap<&'static str, usize>,
    by_subject: HashMap<&'static str, usize>,
}

fn taxonomy() -> &'static Taxonomy {
    static T: OnceLock<Taxonomy> = OnceLock::new();
    T.get_or_init(|| {
        let entries: Vec<Entry> = TAXONOMY
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some(Entry { code: f.next()?, name: f.next()?, archive: f.next()?, subject: f.next()? })
            })
            .collect();
        let by_code = entries.iter().enumerate().map(|(i, e)| (e.code, i)).collect();
        let by_subject = entries.iter().enumerate().map(|(i, e)| (e.subject, i)).collect();
        Taxonomy { entries, by_code, by_subject }
    })
}

/// Why a string is not a category code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid arXiv category {0:?}: expected a code like cs.LG or hep-th")]
pub struct CategoryError(pub String);

/// An arXiv category code such as `cs.LG`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
    /// The code, e.g. `cs.LG`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The human name, e.g. "Machine Learning", when the category is in the taxonomy.
    pub fn name(&self) -> Option<&'static str> {
        let t = taxonomy();
        t.by_code.get(self.0.as_str()).map(|&i| t.entries[i].name)
    }

    /// The name of the archive it belongs to, e.g. "Computer Science".
    pub fn archive_name(&self) -> Option<&'static str> {
        let t = taxonomy();
        t.by_code.get(self.0.as_str()).map(|&i| t.entries[i].archive)
    }

    /// The category for an OAI-PMH `oai_dc` subject string such as
    /// "Computer Science - Machine Learning"; `None` for MSC/ACM codes and unknown names.
    pub fn from_oai_subject(subject: &str) -> Option<Category> {
        let t = taxonomy();
        t.by_subject.get(subject.trim()).map(|&i| Category(t.entries[i].code.to_owned()))
    }

    /// Every category in the taxonomy, in code order.
    pub fn all() -> impl Iterator<Item = Category> {
        taxonomy().entries.iter().map(|e| Category(e.code.to_owned()))
    }
}

impl FromStr for Category {
    type Err = CategoryError;

    fn from_str(s: &str) -> Result<Self, CategoryError> {
        let (archive, class) = match s.split_once('.') {
            Some((a, c)) => (a, Some(c)),
            None => (s, None),
        };
        let archive_ok = !archive.is_empty()
            && archive.len() <= 16
            && archive.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
        let class_ok = class.is_none_or(|c| {
            !c.is_empty() && c.len() <= 16 && c.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
        });
        if archive_ok && class_ok {
            Ok(Category(s.to_owned()))
        } else {
            Err(CategoryError(s.chars().take(40).collect()))
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Category {
    type Error = CategoryError;
    fn try_from(s: String) -> Result<Self, CategoryError> {
        s.parse()
    }
}

impl From<Category> for String {
    fn from(c: Category) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taxonomy_has_names() {
        assert!(Category::all().count() > 150);
        let c: Category = "hep-th".parse().unwrap();
        assert_eq!(c.name(), Some("High Energy Physics - Theory"));
        assert_eq!("physics.optics".parse::<Category>().unwrap().archive_name(), Some("Physics"));
        assert_eq!("cs.XY".parse::<Category>().unwrap().name(), None);
    }

    #[test]
    fn oai_subjects() {
        assert_eq!(Category::from_oai_subject("Quantum Physics").unwrap().as_str(), "quant-ph");
        assert_eq!(Category::from_oai_subject("Physics - Optics").unwrap().as_str(), "physics.optics");
        assert_eq!(Category::from_oai_subject("40-01, 65B10"), None);
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "CS.LG", "cs.", "cs.L G", "<script>"] {
            assert!(s.parse::<Category>().is_err(), "{s}");
        }
    }
}
