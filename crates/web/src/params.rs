//! Query parameters, read in one place: pages, the API and the feeds take [`Params`] and ask it
//! for what they need, each value parsed and checked the same way everywhere, with an error
//! that names the parameter.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::response::Response;
use chrono::NaiveDate;
use paperboy_core::{Category, PaperId};
use paperboy_engine::search::{Filters, Mode, SearchQuery};
use paperboy_engine::trending::Window;

use crate::error::{error_response, WebError};

/// Most items one API request returns.
pub const MAX_LIMIT: usize = 100;
/// The deepest page number a list accepts.
const MAX_PAGE: usize = 10_000;

/// A request's query parameters.
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

/// What values one API query parameter takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A whole number from `min` to `max`, `default` when left out.
    Int { min: usize, max: usize, default: usize },
    /// A `YYYY-MM-DD` calendar day.
    Date,
    /// One of the words `of`, `default` when left out.
    Choice { of: &'static [&'static str], default: &'static str },
    /// Text of 1 to `max_chars` characters with something other than blanks.
    Text { max_chars: usize },
    /// An arXiv category (`cs.LG`, `hep-th`).
    Category,
}

/// One API query parameter: its name, what it takes and what it means. The API's handlers read
/// their parameters through these ([`Params::checked`], [`Checked`]), and the OpenAPI document's
/// query parameters are made from the same values ([`openapi_parameters`]), so the two cannot drift.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub about: &'static str,
}

/// An API operation's query parameters.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// The documented path (`/api/v1/search`).
    pub path: &'static str,
    pub params: &'static [Spec],
}

const fn spec(name: &'static str, kind: Kind, about: &'static str) -> Spec {
    Spec { name, kind, required: false, about }
}

const LIMIT: Spec = spec("limit", Kind::Int { min: 1, max: MAX_LIMIT, default: 20 }, "Items to return.");
/// The deepest item a list (a day's papers, trending) reaches with `offset`.
const MAX_LIST_OFFSET: usize = 100_000;
const LIST_OFFSET: Spec = spec("offset", Kind::Int { min: 0, max: MAX_LIST_OFFSET, default: 0 }, "Items to skip.");

/// `GET /api/v1/papers`.
pub const PAPERS: Op = Op {
    path: "/api/v1/papers",
    params: &[spec("date", Kind::Date, "The day (YYYY-MM-DD); the latest day with papers when left out."), LIMIT, LIST_OFFSET],
};
/// `GET /api/v1/papers/{id}/similar`.
pub const SIMILAR: Op = Op { path: "/api/v1/papers/{id}/similar", params: &[spec("limit", Kind::Int { min: 1, max: MAX_LIMIT, default: 10 }, "Papers to return.")] };
/// `GET /api/v1/search`.
pub const SEARCH: Op = Op {
    path: "/api/v1/search",
    params: &[
        Spec { name: "q", kind: Kind::Text { max_chars: 1000 }, required: true, about: "The query: words, phrases in quotes, the fields title:, author: and cat: (required), and +word or -word (required, excluded); papers found by meaning obey these too. A person's name puts their papers first." },
        spec("mode", Kind::Choice { of: &["hybrid", "bm25", "semantic"], default: "hybrid" }, "Keyword (bm25), meaning (semantic) or both fused (hybrid)."),
        spec("since", Kind::Date, "Papers of this day (YYYY-MM-DD) or later."),
        spec("until", Kind::Date, "Papers of this day (YYYY-MM-DD) or earlier."),
        spec("category", Kind::Category, "Papers in this arXiv category (cs.LG, hep-th)."),
        LIMIT,
        spec("offset", Kind::Int { min: 0, max: 999, default: 0 }, "Hits to skip (the first 1,000 hits are reachable)."),
    ],
};
/// `GET /api/v1/trending`.
pub const TRENDING: Op = Op {
    path: "/api/v1/trending",
    params: &[
        spec("window", Kind::Choice { of: &["day", "week", "month"], default: "week" }, "How many days the ranking looks back over."),
        spec("date", Kind::Date, "The window's last day (YYYY-MM-DD); the latest day with papers when left out."),
        LIMIT,
        LIST_OFFSET,
    ],
};
/// Every API operation with query parameters.
pub const API_OPS: [Op; 4] = [PAPERS, SIMILAR, SEARCH, TRENDING];

impl Spec {
    /// Checks one value; the error names the parameter.
    fn check(&self, v: &str) -> Result<(), WebError> {
        let name = self.name;
        if v.trim().is_empty() {
            return Err(WebError::BadRequest(match self.kind {
                Kind::Text { .. } => format!("{name}: empty; give some text"),
                _ => format!("{name}: empty; leave the parameter out for its default"),
            }));
        }
        match self.kind {
            Kind::Int { min, max, .. } => match v.parse::<usize>() {
                Ok(n) if (min..=max).contains(&n) => Ok(()),
                _ => Err(WebError::BadRequest(format!("{name}: {v:?} is not a whole number from {min} to {max}"))),
            },
            Kind::Date => parse_day(v, name).map(drop),
            Kind::Choice { of, .. } if of.contains(&v) => Ok(()),
            Kind::Choice { of, .. } => Err(WebError::BadRequest(format!("{name}: {:?} is not one of {}", clip(v), of.join(", ")))),
            Kind::Text { max_chars } if v.chars().count() > max_chars => Err(WebError::BadRequest(format!("{name}: longer than {max_chars} characters"))),
            Kind::Text { .. } => Ok(()),
            Kind::Category => v.parse::<Category>().map(drop).map_err(|_| WebError::BadRequest(format!("{name}: {:?} is not an arXiv category", clip(v)))),
        }
    }

    /// The OpenAPI parameter object.
    fn openapi(&self) -> serde_json::Value {
        use serde_json::json;
        let schema = match self.kind {
            Kind::Int { min, max, default } => json!({"type": "integer", "minimum": min, "maximum": max, "default": default}),
            Kind::Date => json!({"type": "string", "format": "date"}),
            Kind::Choice { of, default } => json!({"type": "string", "enum": of, "default": default}),
            Kind::Text { max_chars } => json!({"type": "string", "minLength": 1, "maxLength": max_chars, "pattern": "\\S"}),
            Kind::Category => json!({"type": "string", "pattern": "^[a-z-]{1,16}(\\.[A-Za-z-]{1,16})?$"}),
        };
        json!({"name": self.name, "in": "query", "required": self.required, "description": self.about, "schema": schema})
    }
}

/// The first 40 characters of a value, for an error message.
fn clip(v: &str) -> String {
    v.chars().take(40).collect()
}

/// The OpenAPI query parameters of an operation.
pub fn openapi_parameters(op: &Op) -> Vec<serde_json::Value> {
    op.params.iter().map(Spec::openapi).collect()
}

/// An API request's parameters, each checked against its operation's [`Spec`].
#[derive(Debug)]
pub struct Checked {
    params: Params,
    op: Op,
}

impl std::ops::Deref for Checked {
    type Target = Params;

    fn deref(&self) -> &Params {
        &self.params
    }
}

impl Checked {
    fn spec(&self, name: &str) -> &'static Spec {
        self.op.params.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{} has no parameter {name}", self.op.path))
    }

    /// A whole-number parameter (already checked), its default when left out.
    pub fn int(&self, name: &str) -> usize {
        match (self.spec(name).kind, self.params.text(name)) {
            (Kind::Int { default, .. }, None) => default,
            (Kind::Int { default, .. }, Some(v)) => v.parse().unwrap_or(default),
            (kind, _) => panic!("{name} is {kind:?}, not a number"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<HashMap<String, String>>::from_request_parts(parts, state).await {
            Ok(Query(map)) => Ok(Params(map)),
            Err(e) => Err(error_response(parts.uri.path(), WebError::BadRequest(format!("query string: {}", e.body_text())))),
        }
    }
}

/// What a search asks for: the query text (empty on a bare search page), the mode and the
/// filters.
#[derive(Debug, Clone)]
pub struct SearchParams {
    /// The query as typed, trimmed ("" when there is none).
    pub q: String,
    /// bm25, semantic or hybrid (hybrid by default).
    pub mode: Mode,
    /// Date and category filters.
    pub filters: Filters,
}

impl SearchParams {
    /// The parsed query; a missing one is an error naming `q`.
    pub fn query(&self) -> Result<SearchQuery, WebError> {
        if self.q.is_empty() {
            return Err(WebError::BadRequest("q: a search query is required".into()));
        }
        Ok(SearchQuery::parse(&self.q)?)
    }
}

impl Params {
    /// Parameters from pairs (for tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Params(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    /// These parameters checked against an API operation: an unknown name, an empty value or
    /// one outside its range is a 400 that names it; a required one must be there.
    pub fn checked(self, op: Op) -> Result<Checked, WebError> {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        for name in names {
            let Some(spec) = op.params.iter().find(|s| s.name == name) else {
                let known: Vec<&str> = op.params.iter().map(|s| s.name).collect();
                let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                return Err(WebError::BadRequest(format!("{:?} is not a parameter of {} (it takes: {known})", clip(name), op.path)));
            };
            spec.check(&self.0[name])?;
        }
        if let Some(missing) = op.params.iter().find(|s| s.required && !self.0.contains_key(s.name)) {
            return Err(WebError::BadRequest(format!("{}: required", missing.name)));
        }
        Ok(Checked { params: self, op })
    }

    /// A non-blank parameter, trimmed.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// `page`: 1 to 10,000, 1 when absent.
    pub fn page(&self) -> Result<usize, WebError> {
        match self.text("page") {
            None => Ok(1),
            Some(p) => p
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| WebError::BadRequest(format!("page {p:?} is not a page number (1 to {MAX_PAGE})"))),
        }
    }

    /// A `YYYY-MM-DD` day, if given.
    pub fn day(&self, name: &str) -> Result<Option<NaiveDate>, WebError> {
        self.text(name).map(|d| parse_day(d, name)).transpose()
    }

    /// A trending window (`day`, `week` or `month`), `default` when absent.
    pub fn window(&self, name: &str, default: Window) -> Result<Window, WebError> {
        self.text(name).map_or(Ok(default), |w| w.parse().map_err(|e: String| WebError::BadRequest(format!("{name}: {e}"))))
    }

    /// `mode`: bm25, semantic or hybrid (the default).
    pub fn mode(&self) -> Result<Mode, WebError> {
        Ok(self.text("mode").unwrap_or("hybrid").parse::<Mode>()?)
    }

    /// `since`, `until` and `category`.
    pub fn filters(&self) -> Result<Filters, WebError> {
        let category = self
            .text("category")
            .map(|c| c.parse::<Category>().map_err(|_| WebError::BadRequest(format!("category: {c:?} is not an arXiv category"))))
            .transpose()?;
        Ok(Filters { since: self.day("since")?, until: self.day("until")?, category })
    }

    /// `q`, `mode` and the filters.
    pub fn search(&self) -> Result<SearchParams, WebError> {
        Ok(SearchParams { q: self.text("q").unwrap_or("").to_owned(), mode: self.mode()?, filters: self.filters()? })
    }
}

/// Parses a `YYYY-MM-DD` day named `what`.
pub fn parse_day(s: &str, what: &str) -> Result<NaiveDate, WebError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| WebError::BadRequest(format!("{what}: {s:?} is not a date (YYYY-MM-DD)")))
}

/// A paper id from a path; one that cannot be an id is "not found", like an unknown one.
pub fn parse_id(id: &str) -> Result<PaperId, WebError> {
    id.parse().map_err(|e: paperboy_core::IdError| WebError::NotFound(format!("{id:?} is not a paper id: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_is_checked_and_named() {
        let p = Params::from_pairs([("page", "0"), ("limit", "500"), ("since", "2026-02-30"), ("mode", "fuzzy")]);
        assert!(p.page().unwrap_err().to_string().contains("page"));
        assert!(p.filters().unwrap_err().to_string().contains("since"));
        assert!(p.mode().is_err());
        assert!(Params::from_pairs([("category", "not a cat")]).filters().unwrap_err().to_string().contains("category"));
        let p = Params::from_pairs([("q", "  diffusion  "), ("category", "cs.LG")]);
        let s = p.search().unwrap();
        assert_eq!((s.q.as_str(), s.mode), ("diffusion", Mode::Hybrid));
        assert_eq!(s.filters.category.unwrap().as_str(), "cs.LG");
        assert!(Params::default().search().unwrap().query().unwrap_err().to_string().contains("q:"));
    }

    fn refusal(pairs: &[(&str, &str)], op: Op) -> String {
        Params::from_pairs(pairs.iter().copied()).checked(op).unwrap_err().to_string()
    }

    #[test]
    fn api_parameters_are_checked_against_their_specs() {
        let ok = Params::from_pairs([("q", "agents"), ("limit", "100"), ("offset", "999"), ("mode", "bm25")]).checked(SEARCH).unwrap();
        assert_eq!((ok.int("limit"), ok.int("offset")), (100, 999));
        let defaults = Params::from_pairs([("q", "x")]).checked(SEARCH).unwrap();
        assert_eq!((defaults.int("limit"), defaults.int("offset")), (20, 0));
        assert!(refusal(&[("q", "x"), ("limit", "0")], SEARCH).contains("limit: \"0\" is not a whole number from 1 to 100"));
        assert!(refusal(&[("q", "x"), ("offset", "1000")], SEARCH).contains("offset"));
        assert!(refusal(&[("q", "x"), ("limit", "")], SEARCH).contains("limit: empty"));
        assert!(refusal(&[("q", " ")], SEARCH).contains("q: empty"));
        assert!(refusal(&[], SEARCH).contains("q: required"));
        assert!(refusal(&[("q", &"é".repeat(1001))], SEARCH).contains("longer than 1000"));
        assert!(Params::from_pairs([("q", "é".repeat(1000).as_str())]).checked(SEARCH).is_ok(), "characters, not bytes");
        assert!(refusal(&[("date_from", "2026-02-30")], PAPERS).contains("\"date_from\" is not a parameter of /api/v1/papers (it takes: date, limit, offset)"));
        assert!(refusal(&[("date", "2026-02-30")], PAPERS).contains("date: \"2026-02-30\" is not a date"));
        assert!(refusal(&[("window", "year")], TRENDING).contains("window: \"year\" is not one of day, week, month"));
        assert!(refusal(&[("q", "x"), ("category", "CS LG")], SEARCH).contains("category"));
    }

    #[test]
    fn openapi_parameters_come_from_the_specs() {
        let search = openapi_parameters(&SEARCH);
        assert_eq!(search[0]["name"], "q");
        assert_eq!(search[0]["required"], true);
        assert_eq!(search[0]["schema"]["maxLength"], 1000);
        let limit = &openapi_parameters(&PAPERS)[1];
        assert_eq!((limit["schema"]["minimum"].as_u64(), limit["schema"]["maximum"].as_u64()), (Some(1), Some(MAX_LIMIT as u64)));
        assert_eq!(openapi_parameters(&PAPERS)[2]["schema"]["maximum"], MAX_LIST_OFFSET);
    }
}
