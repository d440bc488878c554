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

    /// A non-blank parameter, trimmed.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// A whole number from 0 to `max`, `default` when absent.
    pub fn number(&self, name: &str, default: usize, max: usize) -> Result<usize, WebError> {
        match self.text(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| WebError::BadRequest(format!("{name}: {v:?} is not a whole number from 0 to {max}"))),
        }
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

    /// `limit` (1 to [`MAX_LIMIT`], 20 when absent) and `offset` (0 to `max_offset`).
    pub fn paging(&self, max_offset: usize) -> Result<(usize, usize), WebError> {
        let limit = self.number("limit", 20, MAX_LIMIT)?.max(1);
        Ok((limit, self.number("offset", 0, max_offset)?))
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
        assert!(p.paging(10).unwrap_err().to_string().contains("limit"));
        assert!(p.filters().unwrap_err().to_string().contains("since"));
        assert!(p.mode().is_err());
        assert!(Params::from_pairs([("category", "not a cat")]).filters().unwrap_err().to_string().contains("category"));
        let p = Params::from_pairs([("q", "  diffusion  "), ("category", "cs.LG"), ("limit", "0")]);
        let s = p.search().unwrap();
        assert_eq!((s.q.as_str(), s.mode), ("diffusion", Mode::Hybrid));
        assert_eq!(s.filters.category.unwrap().as_str(), "cs.LG");
        assert_eq!(p.paging(10).unwrap(), (1, 0), "limit 0 reads as 1");
        assert!(Params::default().search().unwrap().query().unwrap_err().to_string().contains("q:"));
    }
}
