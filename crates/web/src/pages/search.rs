//! The search page: the form (words, meaning or both; dates and a category), results with
//! snippets and why each ranks where it does, and help when nothing matches.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperboy_core::urls;
use paperboy_engine::library::Named;
use maud::{html, Markup};
use paperboy_engine::readers::author_slug;
use paperboy_engine::search::names::names_match;
use paperboy_engine::search::{Filters, Hit, Mode};

use super::{MAX_HITS, PER_PAGE};
use crate::error::PageError;
use crate::params::{Params, SearchParams};
use crate::render::{page, pager, paper_item, url_encode};
use crate::session::{Viewer, Visit};
use crate::state::AppState;

/// `/search`. A query that is one paper reference (an arXiv id or URL, a Hugging Face papers or
/// alphaXiv URL, a DOI) opens that paper's page when this instance has it, and says so when not.
pub async fn search(State(state): State<AppState>, params: Params, visit: Visit) -> Result<Response, PageError> {
    let page_no = params.page()?;
    let asked = params.search()?;
    // Only a query of one word can be a reference: others go straight to search.
    let reference = asked.q.trim().to_owned();
    let named = match reference.is_empty() || reference.contains(char::is_whitespace) {
        true => None,
        false => state.blocking(move |s| Ok::<_, PageError>(paperboy_engine::library::named_paper(&*s.store(), &reference)?)).await?,
    };
    if let Some(Named::Stored(id)) = &named {
        return Ok(Redirect::to(&urls::paper("", id)).into_response());
    }
    let slot = match asked.q.is_empty() {
        true => None,
        false => Some(state.admit_search(&asked.query()?, asked.mode).await?),
    };
    state
        .blocking(move |s| {
            let _slot = slot;
            let SearchParams { q, mode, filters } = &asked;
            let (q, mode) = (q.as_str(), *mode);
            let categories = s.category_counts()?;
            let form = search_form(q, mode, filters, &categories);
            if q.is_empty() {
                let main = html! {
                    h1 { "Search" }
                    (form)
                    p.hint { "Search titles, abstracts and authors by words (keywords), by meaning, or both (hybrid)." }
                    section.tips aria-labelledby="tips" {
                        h2 #tips { "How to search" }
                        ul {
                            li { code { "\"exact phrase\"" } " ranks papers that hold the phrase first; " code { "+word" } " or " code { "+\"a phrase\"" } " requires it, " code { "-word" } " leaves out every paper with it." }
                            li { code { "title:" } ", " code { "author:" } " and " code { "cat:" } " search one field and are required, e.g. " code { "author:hinton cat:cs.LG capsules" } "." }
                            li { "What a query requires or leaves out holds for the papers found by meaning too." }
                            li { "A person's name (" code { "Geoffrey Hinton" } ", " code { "G. Hinton" } ", " code { "Hinton, G." } ") lists their papers first." }
                            li { "An arXiv id or URL, a Hugging Face or alphaXiv paper URL, or a DOI opens that paper." }
                            li { "A misspelt title word of five letters or more still finds the title." }
                        }
                    }
                };
                return Ok(Html(page(s, "Search", main).into_string()).into_response());
            }
            let query = asked.query()?;
            let service = s.search_ready()?;
            let want = (page_no * PER_PAGE + 1).min(MAX_HITS);
            let hits = service.search(&*s.store(), &query, mode, filters, want)?;
            let start = (page_no - 1) * PER_PAGE;
            let shown = hits.iter().skip(start).take(PER_PAGE);
            let has_next = hits.len() > start + PER_PAGE && start + PER_PAGE < MAX_HITS;
            let papers = s.papers_of(shown)?;
            let v = Viewer::load(s, &visit, &papers.iter().map(|(p, _)| p.id.clone()).collect::<Vec<_>>())?;
            // A name as the query: say whose papers come first, and where all of them are.
            let person = papers
                .first()
                .filter(|(_, h)| h.explain.author)
                .and_then(|(p, _)| p.authors.iter().find(|a| names_match(q, &a.name)))
                .map(|a| a.name.clone());
            let href = |p: usize| search_href(q, mode, filters, p);
            let main = html! {
                h1 { "Search" }
                (form)
                @match &named {
                    Some(Named::MissingArxiv(id)) => section.notice role="status" {
                        p { "arXiv " (id) " is not in this instance yet. " a href=(id.abs_url()) { "Its page on arXiv" } "; below, papers that mention it." }
                    },
                    Some(Named::MissingDoi(doi)) => section.notice role="status" { p { "No paper here has the DOI " code { (doi) } "." } },
                    _ => {}
                }
                @if let Some(name) = &person {
                    section.notice role="status" {
                        p { "Papers by " a href=(urls::author("", &author_slug(name))) { (name) } " come first; their author page lists them all, newest first, with a feed to follow." }
                    }
                }
                @if papers.is_empty() {
                    section.no-results {
                        h2 { "No results for “" (q) "”" }
                        ul {
                            li { "Check the spelling, or use fewer or more general words." }
                            @if mode == Mode::Bm25 { li { a href=(search_href(q, Mode::Hybrid, filters, 1)) { "Search by meaning too (hybrid)" } " finds papers that use other words." } }
                            @if !filters.is_empty() { li { a href=(search_href(q, mode, &Filters::default(), 1)) { "Search without the date and category filters" } } }
                            li { "Field searches (" code { "title:" } ", " code { "author:" } ", " code { "cat:" } ") must match exactly; try the words alone." }
                        }
                    }
                } @else {
                    h2.visually-hidden { "Results" }
                    p.count { "Results " (start + 1) "–" (start + papers.len()) " for “" (q) "” (" (mode) ")" }
                    ol.papers start=(start + 1) {
                        @for (p, h) in &papers {
                            (paper_item(p, Some(&h.snippet_html), Some(explain(h)), &v))
                        }
                    }
                    (pager(page_no, has_next, href))
                    p.feeds {
                        a href=(format!("/feeds/search.xml?q={}", url_encode(q))) { "Follow this search (RSS)" } " · "
                        a href=(alert_href(q, mode, filters)) { "Save as an alert" } " (its new matches in your feed or a webhook)"
                    }
                }
            };
            Ok(Html(page(s, &format!("{q} – search"), main).into_string()).into_response())
        })
        .await
}

fn explain(h: &Hit) -> Markup {
    let e = &h.explain;
    html! {
        p.explain {
            @if e.exact { span.badge { "exact match" } " " }
            @if e.author { span.badge title="the search is the name of one of its authors" { "author" } " " }
            @if let Some(r) = e.bm25_rank { span.badge title="rank by keywords (BM25)" { "keywords #" (r) } " " }
            @if let Some(r) = e.vector_rank { span.badge title="rank by meaning (vector)" { "meaning #" (r) } " " }
            @if !e.matched_terms.is_empty() { "matched: " (e.matched_terms.join(", ")) }
        }
    }
}

/// The alerts page with its form filled from this search.
fn alert_href(q: &str, mode: Mode, f: &Filters) -> String {
    let mut href = format!("/alerts?q={}&mode={mode}", url_encode(q));
    if let Some(c) = &f.category {
        href.push_str(&format!("&category={}", url_encode(c.as_str())));
    }
    href.push_str("#new-alert");
    href
}

fn search_href(q: &str, mode: Mode, f: &Filters, page: usize) -> String {
    let mut href = format!("/search?q={}&mode={mode}", url_encode(q));
    if let Some(d) = f.since {
        href.push_str(&format!("&since={d}"));
    }
    if let Some(d) = f.until {
        href.push_str(&format!("&until={d}"));
    }
    if let Some(c) = &f.category {
        href.push_str(&format!("&category={}", url_encode(c.as_str())));
    }
    if page > 1 {
        href.push_str(&format!("&page={page}"));
    }
    href
}

fn search_form(q: &str, mode: Mode, f: &Filters, categories: &[(String, u64)]) -> Markup {
    html! {
        form.search role="search" aria-label="Search papers" method="get" action="/search" {
            div.field.wide {
                label for="q" { "Search for" }
                input #q type="search" name="q" value=(q) maxlength="1000" autofocus[q.is_empty()] placeholder="e.g. protein structure prediction";
            }
            div.field {
                label for="mode" { "Mode" }
                select #mode name="mode" {
                    @for (m, label) in [(Mode::Hybrid, "Hybrid (words + meaning)"), (Mode::Bm25, "Keywords (BM25)"), (Mode::Semantic, "Meaning (semantic)")] {
                        option value=(m) selected[m == mode] { (label) }
                    }
                }
            }
            div.field {
                label for="since" { "From" }
                input #since type="date" name="since" value=[f.since];
            }
            div.field {
                label for="until" { "To" }
                input #until type="date" name="until" value=[f.until];
            }
            div.field {
                label for="category" { "Category" }
                select #category name="category" {
                    option value="" { "Any" }
                    @for (c, n) in categories {
                        option value=(c) selected[f.category.as_ref().is_some_and(|fc| fc.as_str() == c)] { (c) " (" (n) ")" }
                    }
                    @if let Some(fc) = &f.category {
                        @if !categories.iter().any(|(c, _)| c == fc.as_str()) { option value=(fc) selected { (fc) } }
                    }
                }
                @if categories.is_empty() { (crate::render::no_categories_note()) }
            }
            button type="submit" { "Search" }
        }
    }
}
