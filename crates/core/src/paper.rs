//! A paper as the store keeps it, and how two descriptions of the same paper merge.
//!
//! Sources disagree in what they know: arXiv's own feeds (OAI-PMH, the export API, the bulk
//! snapshot) are authoritative for metadata; Hugging Face daily papers add upvotes, code links and
//! the day a paper was listed; plain listings and BEIR corpora give a title and an abstract.
//! [`Paper::merge`] combines them so that ingest is idempotent (merging the same description
//! twice changes nothing) and a newer version updates a paper instead of duplicating it.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{Category, PaperId};

/// Where a description of a paper came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// arXiv's OAI-PMH interface (`oai_dc`, `arXiv` or `arXivRaw` metadata).
    OaiPmh,
    /// arXiv's export API (Atom).
    Atom,
    /// The arXiv metadata snapshot (JSON lines).
    ArxivSnapshot,
    /// Hugging Face daily papers.
    HfDaily,
    /// A plain title/abstract listing.
    Listing,
    /// A BEIR evaluation corpus.
    Beir,
}

impl Source {
    /// Every source, in a fixed order.
    pub const ALL: [Source; 6] =
        [Source::OaiPmh, Source::Atom, Source::ArxivSnapshot, Source::HfDaily, Source::Listing, Source::Beir];

    /// The name used on the command line and in the store (`oai-pmh`, `hf-daily`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::OaiPmh => "oai-pmh",
            Source::Atom => "atom",
            Source::ArxivSnapshot => "arxiv-snapshot",
            Source::HfDaily => "hf-daily",
            Source::Listing => "listing",
            Source::Beir => "beir",
        }
    }

    /// Parses a name as written by [`Source::as_str`].
    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|src| src.as_str() == s)
    }

    /// arXiv's own feeds are authoritative for a paper's metadata.
    pub fn is_authoritative(self) -> bool {
        matches!(self, Source::OaiPmh | Source::Atom | Source::ArxivSnapshot)
    }
}

/// One author, as the source names them ("First Last").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// Display name.
    pub name: String,
    /// Affiliation, when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<String>,
}

impl Author {
    /// An author with just a name.
    pub fn new(name: impl Into<String>) -> Self {
        Author { name: name.into(), affiliation: None }
    }
}

/// One version of a paper on arXiv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// 1 for `v1`.
    pub version: u32,
    /// When it was submitted, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateTime<Utc>>,
}

/// Links beyond arXiv's own abs and PDF pages (those follow from the id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// The code repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The project page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// Popularity signals imported from other services.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// Upvotes on Hugging Face daily papers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_upvotes: Option<u32>,
    /// Comments on Hugging Face daily papers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_comments: Option<u32>,
    /// Stars of the code repository on GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_stars: Option<u32>,
}

/// A research paper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paper {
    /// The key: arXiv id without version, or a source-derived id.
    pub id: PaperId,
    /// Title, whitespace folded.
    pub title: String,
    /// Abstract, whitespace folded.
    #[serde(rename = "abstract", default)]
    pub abstract_text: String,
    /// Authors in order.
    #[serde(default)]
    pub authors: Vec<Author>,
    /// Categories, the primary one first.
    #[serde(default)]
    pub categories: Vec<Category>,
    /// Known versions, ascending.
    #[serde(default)]
    pub versions: Vec<Version>,
    /// When the first version was submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted: Option<DateTime<Utc>>,
    /// When the latest version was submitted or the metadata last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// DOI of the published version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doi: Option<String>,
    /// Journal reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_ref: Option<String>,
    /// The authors' comments ("12 pages, 3 figures").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// License URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Code and project links.
    #[serde(default)]
    pub links: Links,
    /// Imported popularity signals.
    #[serde(default)]
    pub signals: Signals,
    /// Keywords (Hugging Face's `ai_keywords`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// The day the paper was listed on a daily list (Hugging Face), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_on: Option<NaiveDate>,
    /// Every source this paper was seen in.
    #[serde(default)]
    pub sources: BTreeSet<Source>,
}

impl Paper {
    /// A paper with just an id, a title and one source; parsers fill in the rest.
    pub fn new(id: PaperId, title: impl Into<String>, source: Source) -> Self {
        Paper {
            id,
            title: title.into(),
            abstract_text: String::new(),
            authors: Vec::new(),
            categories: Vec::new(),
            versions: Vec::new(),
            submitted: None,
            updated: None,
            doi: None,
            journal_ref: None,
            comments: None,
            license: None,
            links: Links::default(),
            signals: Signals::default(),
            keywords: Vec::new(),
            listed_on: None,
            sources: BTreeSet::from([source]),
        }
    }

    /// The primary category.
    pub fn primary_category(&self) -> Option<&Category> {
        self.categories.first()
    }

    /// The highest known version number.
    pub fn latest_version(&self) -> Option<u32> {
        self.versions.iter().map(|v| v.version).max()
    }

    /// The day the paper belongs to on daily pages: the day it was listed, else the day it
    /// was first submitted, else the day of its latest update.
    pub fn day(&self) -> Option<NaiveDate> {
        self.listed_on
            .or_else(|| self.submitted.map(|d| d.date_naive()))
            .or_else(|| self.updated.map(|d| d.date_naive()))
    }

    /// The arXiv abstract page, for papers on arXiv.
    pub fn abs_url(&self) -> Option<String> {
        self.id.arxiv().map(|id| id.abs_url())
    }

    /// The arXiv PDF, for papers on arXiv.
    pub fn pdf_url(&self) -> Option<String> {
        self.id.arxiv().map(|id| id.pdf_url())
    }

    fn is_authoritative(&self) -> bool {
        self.sources.iter().any(|s| s.is_authoritative())
    }

    /// Puts a freshly parsed paper in the form [`Paper::merge`] keeps: versions sorted, dates
    /// filled from versions, keywords without repeats. The store saves new papers so.
    pub fn normalize(&mut self) {
        self.versions.sort_by_key(|v| v.version);
        self.versions.dedup_by_key(|v| v.version);
        let mut seen = BTreeSet::new();
        self.keywords.retain(|k| seen.insert(k.clone()));
        self.fill_dates_from_versions();
    }

    /// Sets `submitted` and `updated` from the version dates where they are missing or older.
    pub fn fill_dates_from_versions(&mut self) {
        if let Some(first) = self.versions.iter().min_by_key(|v| v.version).and_then(|v| v.date) {
            self.submitted = Some(self.submitted.map_or(first, |s| s.min(first)));
        }
        if let Some(last) = self.versions.iter().filter_map(|v| v.date).max() {
            self.updated = Some(self.updated.map_or(last, |u| u.max(last)));
        }
    }

    /// Merges another description of the same paper into this one.
    ///
    /// Metadata from an authoritative source (arXiv's feeds) of the same or a newer version
    /// replaces what is there; anything else only fills gaps. Versions, sources and keywords are
    /// unions, signals keep their highest value, the listing day its earliest. Merging the same
    /// description twice gives the same paper as merging it once.
    pub fn merge(&mut self, incoming: Paper) {
        debug_assert_eq!(self.id, incoming.id);
        let overwrite = incoming.is_authoritative()
            && (!self.is_authoritative() || incoming.latest_version().unwrap_or(0) >= self.latest_version().unwrap_or(0));

        fn text(slot: &mut String, new: String, overwrite: bool) {
            if !new.is_empty() && (overwrite || slot.is_empty()) {
                *slot = new;
            }
        }
        fn opt<T>(slot: &mut Option<T>, new: Option<T>, overwrite: bool) {
            if new.is_some() && (overwrite || slot.is_none()) {
                *slot = new;
            }
        }
        fn list<T>(slot: &mut Vec<T>, new: Vec<T>, overwrite: bool) {
            if !new.is_empty() && (overwrite || slot.is_empty()) {
                *slot = new;
            }
        }
        fn max(slot: &mut Option<u32>, new: Option<u32>) {
            *slot = (*slot).max(new);
        }

        text(&mut self.title, incoming.title, overwrite);
        text(&mut self.abstract_text, incoming.abstract_text, overwrite);
        list(&mut self.authors, incoming.authors, overwrite);
        list(&mut self.categories, incoming.categories, overwrite);
        opt(&mut self.doi, incoming.doi, overwrite);
        opt(&mut self.journal_ref, incoming.journal_ref, overwrite);
        opt(&mut self.comments, incoming.comments, overwrite);
        opt(&mut self.license, incoming.license, overwrite);
        opt(&mut self.links.code, incoming.links.code, true);
        opt(&mut self.links.project, incoming.links.project, true);
        max(&mut self.signals.hf_upvotes, incoming.signals.hf_upvotes);
        max(&mut self.signals.hf_comments, incoming.signals.hf_comments);
        max(&mut self.signals.github_stars, incoming.signals.github_stars);

        for v in incoming.versions {
            match self.versions.iter_mut().find(|mine| mine.version == v.version) {
                Some(mine) => opt(&mut mine.date, v.date, overwrite),
                None => self.versions.push(v),
            }
        }
        self.versions.sort_by_key(|v| v.version);
        for k in incoming.keywords {
            if !self.keywords.contains(&k) {
                self.keywords.push(k);
            }
        }
        self.submitted = match (self.submitted, incoming.submitted) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.updated = self.updated.max(incoming.updated);
        self.listed_on = match (self.listed_on, incoming.listed_on) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.sources.extend(incoming.sources);
        self.fill_dates_from_versions();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn arxiv(version: u32, title: &str) -> Paper {
        let mut p = Paper::new("2401.01234".parse().unwrap(), title, Source::OaiPmh);
        p.versions = (1..=version)
            .map(|v| Version { version: v, date: Some(date(&format!("2024-01-0{v}T10:00:00Z"))) })
            .collect();
        p.categories = vec!["cs.LG".parse().unwrap()];
        p.fill_dates_from_versions();
        p
    }

    fn hf(upvotes: u32) -> Paper {
        let mut p = Paper::new("2401.01234".parse().unwrap(), "HF title", Source::HfDaily);
        p.abstract_text = "HF abstract".into();
        p.signals.hf_upvotes = Some(upvotes);
        p.links.code = Some("https://github.com/a/b".into());
        p.listed_on = NaiveDate::from_ymd_opt(2024, 1, 3);
        p
    }

    #[test]
    fn newer_version_updates() {
        let mut p = arxiv(1, "Old title");
        p.merge(arxiv(2, "New title"));
        assert_eq!(p.title, "New title");
        assert_eq!(p.latest_version(), Some(2));
        assert_eq!(p.submitted, Some(date("2024-01-01T10:00:00Z")));
        assert_eq!(p.updated, Some(date("2024-01-02T10:00:00Z")));
        // An older version arriving late does not roll the paper back.
        p.merge(arxiv(1, "Old title"));
        assert_eq!(p.title, "New title");
    }

    #[test]
    fn sources_merge_in_any_order() {
        let mut a = arxiv(1, "arXiv title");
        a.merge(hf(5));
        let mut b = hf(5);
        b.merge(arxiv(1, "arXiv title"));
        assert_eq!(a, b);
        assert_eq!(a.title, "arXiv title");
        assert_eq!(a.abstract_text, "HF abstract");
        assert_eq!(a.signals.hf_upvotes, Some(5));
        assert_eq!(a.sources.len(), 2);
        assert_eq!(a.day(), NaiveDate::from_ymd_opt(2024, 1, 3));
    }

    #[test]
    fn merging_twice_changes_nothing() {
        let mut once = arxiv(2, "T");
        once.merge(hf(7));
        let mut twice = once.clone();
        twice.merge(hf(7));
        twice.merge(arxiv(2, "T"));
        assert_eq!(once, twice);
    }

    #[test]
    fn json_round_trip() {
        let mut p = arxiv(2, "T");
        p.merge(hf(3));
        let json = serde_json::to_string(&p).unwrap();
        let back: Paper = serde_json::from_str(&json).unwrap();
        assert_eq!(p, back);
    }
}
