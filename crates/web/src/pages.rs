//! The server-rendered pages: home (a day's papers, or a week's or month's by trending score),
//! day and category pages, a paper's page, search, and the subscribe flow.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use chrono::{Days, NaiveDate, Utc};
use maud::{html, Markup, DOCTYPE};
use paperboy_core::{Category, EmailAddress, Paper, PaperId};
use paperboy_engine::search::{Filters, Hit, Mode, SearchQuery};
use paperboy_engine::subscriptions::{Frequency, Interests, SubscribeOutcome};
use paperboy_engine::trending::{self, Window};

use crate::render::{long_day, param, safe_url, page, page_with, pager, paper_href, paper_item, paper_list, search_ready, url_encode, WebError};
use crate::security::check_csrf;
use crate::state::AppState;

/// Papers per page in lists and search results.
pub const PER_PAGE: usize = 30;
/// Deepest page of search results (the engine ranks at most this many hits).
const MAX_HITS: usize = 1_000;

/// An error shown as an HTML page with the right status.
pub struct PageError(pub WebError);

impl<E: Into<WebError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let heading = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::TOO_MANY_REQUESTS => "Slow down",
            StatusCode::FORBIDDEN => "Not allowed",
            s if s.is_client_error() => "That request did not work",
            _ => "Something went wrong",
        };
        let body = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (heading) " · paperboy" }
                    link rel="stylesheet" href="/assets/style.css";
                }
                body {
                    header.site { a.brand href="/" { "paperboy" } }
                    main #main.error {
                        h1 { (heading) }
                        p { (self.0.to_string()) }
                        p { a href="/" { "Back to the daily papers" } " · " a href="/search" { "Search" } }
                    }
                }
            }
        };
        let mut res = (status, Html(body.into_string())).into_response();
        if let WebError::TooMany(secs) = self.0 {
            res.headers_mut().insert("retry-after", secs.into());
        }
        res
    }
}

type PageResult = Result<Html<String>, PageError>;

fn page_number(params: &HashMap<String, String>) -> Result<usize, WebError> {
    match param(params, "page") {
        None => Ok(1),
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|&n| (1..=10_000).contains(&n))
            .ok_or_else(|| WebError::BadRequest(format!("page {p:?} is not a page number (1 to 10000)"))),
    }
}

fn period(params: &HashMap<String, String>) -> Result<Window, WebError> {
    param(params, "period").map_or(Ok(Window::Day), |p| p.parse().map_err(|e: String| WebError::BadRequest(format!("period: {e}"))))
}

/// Parses a `YYYY-MM-DD` day named `what`.
pub fn parse_day(s: &str, what: &str) -> Result<NaiveDate, WebError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| WebError::BadRequest(format!("{what}: {s:?} is not a date (YYYY-MM-DD)")))
}

/// `/`: the latest day's papers.
pub async fn home(State(state): State<AppState>, Query(params): Query<HashMap<String, String>>) -> PageResult {
    state
        .blocking(move |s| {
            let latest = s.store().latest_day()?;
            match latest {
                Some(day) => day_page(s, day, &params, true),
                None => Ok(Html(
                    page(s, "Daily papers", html! {
                        h1 { "Daily papers" }
                        p.empty { "No papers yet. Load the demo corpus with " code { "paperboy demo" } " or ingest some with " code { "paperboy ingest" } "." }
                    })
                    .into_string(),
                )),
            }
        })
        .await
}

/// `/papers/YYYY-MM-DD`.
pub async fn day(State(state): State<AppState>, Path(date): Path<String>, Query(params): Query<HashMap<String, String>>) -> PageResult {
    let day = parse_day(&date, "day").map_err(|_| WebError::NotFound(format!("{date:?} is not a day (YYYY-MM-DD)")))?;
    state.blocking(move |s| day_page(s, day, &params, false)).await
}

fn day_page(s: &AppState, day: NaiveDate, params: &HashMap<String, String>, home: bool) -> PageResult {
    let window = period(params)?;
    let page_no = page_number(params)?;
    let (before, after, latest) = {
        let store = s.store();
        let (b, a) = store.neighbour_days(day)?;
        (b, a, store.latest_day()?)
    };
    let base = if home { "/".to_owned() } else { format!("/papers/{day}") };
    let with = |w: Window, page: usize| {
        let mut q = vec![];
        if w != Window::Day {
            q.push(format!("period={w}"));
        }
        if page > 1 {
            q.push(format!("page={page}"));
        }
        if q.is_empty() { base.clone() } else { format!("{base}?{}", q.join("&")) }
    };
    let ranked = s.trending(window, day)?;
    let start = (page_no - 1) * PER_PAGE;
    let shown: Vec<_> = ranked.iter().skip(start).take(PER_PAGE).collect();
    let has_next = ranked.len() > start + PER_PAGE;
    let (prev_day, next_day) = match window {
        Window::Day => (before, after),
        w => (
            day.checked_sub_days(Days::new(w.days())),
            day.checked_add_days(Days::new(w.days())).filter(|d| latest.is_some_and(|l| *d <= l)),
        ),
    };
    let day_href = |d: NaiveDate| if window == Window::Day { format!("/papers/{d}") } else { format!("/papers/{d}?period={window}") };
    let heading = match window {
        Window::Day => format!("Papers of {}", long_day(day)),
        w => format!("Trending in the {w} to {}", long_day(day)),
    };
    let main = html! {
        h1 { (heading) }
        nav.periods aria-label="Period" {
            @for w in Window::ALL {
                a href=(with(w, 1)) aria-current=[(w == window).then_some("page")] { (match w { Window::Day => "Day", Window::Week => "Week", Window::Month => "Month" }) }
            }
        }
        nav.days aria-label="Days" {
            @if let Some(d) = prev_day { a rel="prev" href=(day_href(d)) { "← " (d) } }
            @if let Some(d) = next_day { a rel="next" href=(day_href(d)) { (d) " →" } }
        }
        @if shown.is_empty() {
            p.empty { "No papers on this day." }
        } @else {
            ol.papers start=(start + 1) {
                @for t in &shown { (paper_item(&t.paper, None, None)) }
            }
        }
        (pager(page_no, has_next, |p| with(window, p)))
    };
    let week = s.trending(Window::Week, day)?;
    let aside = html! {
        h2 { "Trending this week" }
        ol.trending {
            @for t in week.iter().take(10) {
                li { a.math href=(paper_href(&t.paper)) { (t.paper.title) } " " span.count { "▲ " (t.why.upvotes) } }
            }
        }
        p { a href=(format!("/papers/{day}?period=week")) { "The whole week →" } }
    };
    Ok(Html(page_with(s, &heading, main, Some(aside)).into_string()))
}

/// `/category/{category}`: a category's papers, newest first.
pub async fn category(State(state): State<AppState>, Path(category): Path<String>, Query(params): Query<HashMap<String, String>>) -> PageResult {
    let cat: Category = category.parse().map_err(|_| WebError::NotFound(format!("{category:?} is not an arXiv category")))?;
    let page_no = page_number(&params)?;
    state
        .blocking(move |s| {
            let mut papers = s.store().papers_in_category(cat.as_str(), (page_no - 1) * PER_PAGE, PER_PAGE + 1)?;
            let has_next = papers.len() > PER_PAGE;
            papers.truncate(PER_PAGE);
            let name = cat.name().unwrap_or("");
            let title = if name.is_empty() { cat.to_string() } else { format!("{name} ({cat})") };
            let main = html! {
                h1 { (title) }
                p { a href=(format!("/feeds/category/{cat}.xml")) { "RSS feed of this category" } }
                (paper_list(&papers, "No papers in this category yet."))
                (pager(page_no, has_next, |p| format!("/category/{cat}?page={p}")))
            };
            Ok(Html(page(s, &title, main).into_string()))
        })
        .await
}

/// `/paper/{id}`.
pub async fn paper(State(state): State<AppState>, Path(id): Path<String>) -> PageResult {
    let pid: PaperId = id.parse().map_err(|_| WebError::NotFound(format!("{id:?} is not a paper id")))?;
    state
        .blocking(move |s| {
            let (paper, latest) = {
                let store = s.store();
                (store.paper(&pid)?, store.latest_day()?)
            };
            let paper = paper.ok_or_else(|| WebError::NotFound(format!("no paper {pid} here")))?;
            let similar = similar_papers(s, &paper.id, 6)?;
            let why = why_trending(s, &paper, latest)?;
            Ok(Html(page(s, &paper.title, paper_view(&paper, &similar, why)).into_string()))
        })
        .await
}

/// The nearest papers in meaning, with their records (none while search is starting).
pub fn similar_papers(s: &AppState, id: &PaperId, n: usize) -> Result<Vec<Paper>, WebError> {
    let Some(service) = s.search() else { return Ok(vec![]) };
    let hits = match service.similar(id, n) {
        Ok(h) => h,
        Err(paperboy_engine::search::SearchError::UnknownPaper(_)) => return Ok(vec![]),
        Err(e) => return Err(e.into()),
    };
    Ok(hits.iter().filter_map(|h| s.paper(&h.id).ok().flatten().map(|p| (*p).clone())).collect())
}

fn why_trending(s: &AppState, p: &Paper, latest: Option<NaiveDate>) -> Result<Markup, WebError> {
    let Some(day) = p.day() else { return Ok(html! {}) };
    // The current week if the paper is in it, else the week that ended on its own day.
    let end = latest.filter(|l| trending::score(p, Window::Week, *l).is_some()).unwrap_or(day);
    let ranked = s.trending(Window::Week, end)?;
    let Some(t) = ranked.iter().find(|t| t.paper.id == p.id) else { return Ok(html! {}) };
    Ok(html! {
        section.why aria-labelledby="why-title" {
            h2 #why-title { "Why trending" }
            p {
                "#" (t.rank) " of " (ranked.len()) " papers in the week to " (long_day(end)) ", with a score of " strong { (format!("{:.1}", t.score)) } "."
            }
            p.formula {
                "score = votes × 0.5" sup { "age ÷ half-life" } " = (" (t.why.upvotes) " Hugging Face upvotes + " (t.why.local_votes) " local votes) × 0.5"
                sup { (t.why.age_days) " ÷ " (t.why.half_life_days) } " = " (t.why.upvotes + t.why.local_votes) " × " (format!("{:.3}", t.why.weight))
            }
            p.hint { "A paper's votes count fully on its own day and half as much every " (t.why.half_life_days) " days after; the week is ranked by this score." }
        }
    })
}

fn paper_view(p: &Paper, similar: &[Paper], why: Markup) -> Markup {
    html! {
        article.paper-page {
            h1.math { (p.title) }
            @if !p.authors.is_empty() {
                p.authors { @for (i, a) in p.authors.iter().enumerate() { @if i > 0 { ", " } (a.name) } }
            }
            dl.facts {
                dt { "Identifier" } dd { code { (p.id) } }
                @if let Some(d) = p.day() { dt { "Day" } dd { a href=(format!("/papers/{d}")) { (long_day(d)) } } }
                @if let Some(s) = p.submitted { dt { "Submitted" } dd { (s.format("%-d %B %Y")) } }
                @if let Some(u) = p.updated { dt { "Updated" } dd { (u.format("%-d %B %Y")) } }
                @if !p.versions.is_empty() {
                    dt { "Versions" }
                    dd { @for (i, v) in p.versions.iter().enumerate() { @if i > 0 { ", " } "v" (v.version) @if let Some(d) = v.date { " (" (d.format("%-d %b %Y")) ")" } } }
                }
                @if !p.categories.is_empty() {
                    dt { "Categories" }
                    dd { @for (i, c) in p.categories.iter().enumerate() { @if i > 0 { ", " } a href=(format!("/category/{c}")) title=[c.name()] { (c) } } }
                }
                dt { "Upvotes" } dd { (p.signals.hf_upvotes.unwrap_or(0)) }
                @if let Some(doi) = &p.doi { dt { "DOI" } dd { (doi) } }
                @if let Some(j) = &p.journal_ref { dt { "Journal" } dd { (j) } }
                @if let Some(c) = &p.comments { dt { "Comments" } dd { (c) } }
            }
            p.links {
                @if let Some(u) = p.abs_url() { a.button href=(u) rel="noopener" { "arXiv" } }
                @if let Some(u) = p.pdf_url() { a.button href=(u) rel="noopener" { "PDF" } }
                @if let Some(u) = safe_url(&p.links.code) { a.button href=(u) rel="nofollow noopener" { "Code" } }
                @if let Some(u) = safe_url(&p.links.project) { a.button href=(u) rel="nofollow noopener" { "Project page" } }
            }
            section aria-labelledby="abstract-title" {
                h2 #abstract-title { "Abstract" }
                div.abstract.math { @for para in p.abstract_text.split("\n\n") { p { (para) } } }
            }
            (why)
            section.similar aria-labelledby="similar-title" {
                h2 #similar-title { "Similar papers" }
                (paper_list(similar, "Similar papers appear once this paper's text has been embedded."))
            }
        }
    }
}

/// `/search`.
pub async fn search(State(state): State<AppState>, Query(params): Query<HashMap<String, String>>) -> PageResult {
    let q = param(&params, "q").unwrap_or("").to_owned();
    let mode: Mode = param(&params, "mode").unwrap_or("hybrid").parse().map_err(|e: SearchQueryError| WebError::BadRequest(e.to_string()))?;
    let page_no = page_number(&params)?;
    let filters = filters_from(&params)?;
    state
        .blocking(move |s| {
            let categories = s.category_counts()?;
            let form = search_form(&q, mode, &filters, &categories);
            if q.is_empty() {
                let main = html! {
                    h1 { "Search" }
                    (form)
                    p.hint { "Search titles, abstracts and authors by words (bm25), by meaning (semantic), or both (hybrid). Use quotes for phrases and "
                        code { "title:" } ", " code { "author:" } " or " code { "cat:" } " to search one field." }
                };
                return Ok(Html(page(s, "Search", main).into_string()));
            }
            let query = SearchQuery::parse(&q)?;
            let service = search_ready(s)?;
            let want = (page_no * PER_PAGE + 1).min(MAX_HITS);
            let hits = service.search(&*s.store(), &query, mode, &filters, want)?;
            let start = (page_no - 1) * PER_PAGE;
            let shown: Vec<&Hit> = hits.iter().skip(start).take(PER_PAGE).collect();
            let has_next = hits.len() > start + PER_PAGE && start + PER_PAGE < MAX_HITS;
            let papers: Vec<(std::sync::Arc<Paper>, &Hit)> = shown.iter().filter_map(|h| s.paper(&h.id).ok().flatten().map(|p| (p, *h))).collect();
            let href = |p: usize| search_href(&q, mode, &filters, p);
            let main = html! {
                h1 { "Search" }
                (form)
                @if papers.is_empty() {
                    section.no-results {
                        h2 { "No results for “" (q) "”" }
                        ul {
                            li { "Check the spelling, or use fewer or more general words." }
                            @if mode == Mode::Bm25 { li { a href=(search_href(&q, Mode::Hybrid, &filters, 1)) { "Search by meaning too (hybrid)" } " finds papers that use other words." } }
                            @if !filters.is_empty() { li { a href=(search_href(&q, mode, &Filters::default(), 1)) { "Search without the date and category filters" } } }
                            li { "Field searches (" code { "title:" } ", " code { "author:" } ", " code { "cat:" } ") must match exactly; try the words alone." }
                        }
                    }
                } @else {
                    p.count { "Results " (start + 1) "–" (start + papers.len()) " for “" (q) "” (" (mode) ")" }
                    ol.papers start=(start + 1) {
                        @for (p, h) in &papers {
                            (paper_item(p, Some(&h.snippet_html), Some(explain(h))))
                        }
                    }
                    (pager(page_no, has_next, href))
                    p.feeds { a href=(format!("/feeds/search.xml?q={}", url_encode(&q))) { "Follow this search (RSS)" } }
                }
            };
            Ok(Html(page(s, &format!("{q} – search"), main).into_string()))
        })
        .await
}

type SearchQueryError = paperboy_engine::search::SearchError;

fn explain(h: &Hit) -> Markup {
    let e = &h.explain;
    html! {
        p.explain {
            @if e.exact { span.badge { "exact match" } " " }
            @if let Some(r) = e.bm25_rank { span.badge title="rank by keywords (BM25)" { "keywords #" (r) } " " }
            @if let Some(r) = e.vector_rank { span.badge title="rank by meaning (vector)" { "meaning #" (r) } " " }
            @if !e.matched_terms.is_empty() { "matched: " (e.matched_terms.join(", ")) }
        }
    }
}

/// Date and category filters from query parameters.
pub fn filters_from(params: &HashMap<String, String>) -> Result<Filters, WebError> {
    let since = param(params, "since").map(|d| parse_day(d, "since")).transpose()?;
    let until = param(params, "until").map(|d| parse_day(d, "until")).transpose()?;
    let category = param(params, "category")
        .map(|c| c.parse::<Category>().map_err(|_| WebError::BadRequest(format!("category: {c:?} is not an arXiv category"))))
        .transpose()?;
    Ok(Filters { since, until, category })
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
        form.search role="search" method="get" action="/search" {
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
            }
            button type="submit" { "Search" }
        }
    }
}

/// The subscribe form's fields.
#[derive(serde::Deserialize)]
pub struct SubscribeForm {
    csrf: Option<String>,
    email: Option<String>,
    frequency: Option<String>,
    interests: Option<String>,
}

/// `POST /subscribe`: always "check your inbox" for a well-formed address, known or not.
pub async fn subscribe(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<SubscribeForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let email = form.email.as_deref().unwrap_or("");
    let email = match EmailAddress::parse(email) {
        Ok(e) => e,
        Err(e) => return Ok(subscribe_problem(&state, &format!("That address does not work: {}.", e.reason))),
    };
    let frequency: Frequency = match form.frequency.as_deref().unwrap_or("daily").parse() {
        Ok(f) => f,
        Err(e) => return Ok(subscribe_problem(&state, &e)),
    };
    let interests = match Interests::from_fields(form.interests.as_deref().unwrap_or(""), "", "", "") {
        Ok(i) => i,
        Err(e) => return Ok(subscribe_problem(&state, &e)),
    };
    state
        .blocking(move |s| {
            request_subscription(s, &email, frequency, &interests)?;
            let main = html! {
                section.notice role="status" {
                    h1 { "Check your inbox" }
                    p { "If " strong { (email) } " can receive mail, a message with a confirmation link is on its way. "
                        "Nothing else is sent until you confirm; the link works for 72 hours." }
                    p { a href="/" { "Back to the papers" } }
                }
            };
            Ok::<_, PageError>(Html(page(s, "Check your inbox", main).into_string()).into_response())
        })
        .await
}

/// Records a subscription request and queues the confirmation email when one is due.
pub fn request_subscription(s: &AppState, email: &EmailAddress, frequency: Frequency, interests: &Interests) -> Result<(), WebError> {
    let now = Utc::now();
    let mut store = s.store();
    if let SubscribeOutcome::SendConfirmation { subscriber, token } = store.subscribe(email, frequency, interests, now)? {
        let cfg = paperboy_digest::MailConfig { base_url: s.config().base_url.clone(), from: String::new() };
        let message = paperboy_digest::confirmation_message(subscriber, email.as_str(), &token, &now.to_rfc3339(), &cfg);
        store.enqueue_confirmation(subscriber, &message, now)?;
        tracing::info!(subscriber, "confirmation queued");
    }
    Ok(())
}

fn subscribe_problem(state: &AppState, message: &str) -> Response {
    let main = html! {
        section.notice.problem role="alert" {
            h1 { "Not subscribed yet" }
            p { (message) }
            p { "Correct it in the form below and send it again." }
        }
    };
    (StatusCode::BAD_REQUEST, Html(page(state, "Not subscribed yet", main).into_string())).into_response()
}

/// `GET /confirm?token=…`: a button that confirms (a link scanner's GET confirms nothing).
pub async fn confirm(State(state): State<AppState>, Query(params): Query<HashMap<String, String>>) -> PageResult {
    let token = param(&params, "token").unwrap_or("").to_owned();
    let main = html! {
        h1 { "Confirm your subscription" }
        form method="post" action="/confirm" {
            input type="hidden" name="token" value=(token);
            input type="hidden" name="csrf" value=(crate::security::csrf_token(&state.config().secret));
            button type="submit" { "Yes, send me the digest" }
        }
    };
    Ok(Html(page(&state, "Confirm your subscription", main).into_string()))
}

/// The confirmation form's fields.
#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    csrf: Option<String>,
    token: Option<String>,
}

/// `POST /confirm`: confirms the address if the token is current.
pub async fn confirm_post(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<ConfirmForm>) -> PageResult {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let token = form.token.unwrap_or_default();
    state
        .blocking(move |s| {
            let confirmed = if token.is_empty() || token.len() > 100 { None } else { s.store().confirm(&token, Utc::now())? };
            let main = match confirmed {
                Some(sub) => html! {
                    section.notice role="status" {
                        h1 { "You are subscribed" }
                        p { "The " (sub.frequency) " digest will come to " strong { (sub.email) } ". Every email has a link to change or stop it." }
                    }
                },
                None => html! {
                    section.notice.problem role="alert" {
                        h1 { "This link does not work any more" }
                        p { "Confirmation links work once, for 72 hours. Subscribe again below to get a new one." }
                    }
                },
            };
            Ok(Html(page(s, "Subscription", main).into_string()))
        })
        .await
}

fn unknown_link() -> WebError {
    WebError::NotFound("this link is not (or no longer) valid; links in older emails keep working only while the address is subscribed".into())
}

/// `GET /unsubscribe/{key}`: asks before unsubscribing (a link scanner's GET changes nothing).
pub async fn unsubscribe_page(State(state): State<AppState>, Path(key): Path<String>) -> PageResult {
    state
        .blocking(move |s| {
            let sub = s.store().subscriber_by_key(&key)?.ok_or_else(unknown_link)?;
            let main = html! {
                h1 { "Unsubscribe" }
                p { "Stop the " (sub.frequency) " paperboy digest to " strong { (sub.email) } "?" }
                form method="post" action=(format!("/unsubscribe/{key}")) {
                    button type="submit" { "Unsubscribe" }
                }
                p { "Or " a href=(format!("/preferences/{key}")) { "change what you get" } " instead." }
            };
            Ok(Html(page(s, "Unsubscribe", main).into_string()))
        })
        .await
}

/// `POST /unsubscribe/{key}`: unsubscribes at once. Mail clients post here with
/// `List-Unsubscribe=One-Click` (RFC 8058), without cookies or tokens: the key is the proof.
pub async fn unsubscribe(State(state): State<AppState>, Path(key): Path<String>) -> PageResult {
    state
        .blocking(move |s| {
            let sub = s.store().unsubscribe(&key, Utc::now())?.ok_or_else(unknown_link)?;
            tracing::info!(subscriber = sub.id, "unsubscribed");
            let main = html! {
                section.notice role="status" {
                    h1 { "You are unsubscribed" }
                    p { "No more digests will go to " strong { (sub.email) } ". Subscribe again any time with the form below." }
                }
            };
            Ok(Html(page(s, "Unsubscribed", main).into_string()))
        })
        .await
}

/// `GET /preferences/{key}`: frequency and interests.
pub async fn preferences_page(State(state): State<AppState>, Path(key): Path<String>) -> PageResult {
    state
        .blocking(move |s| {
            let sub = s.store().subscriber_by_key(&key)?.ok_or_else(unknown_link)?;
            Ok(Html(page(s, "Your digest", preferences_form(s, &key, &sub, None)).into_string()))
        })
        .await
}

fn preferences_form(s: &AppState, key: &str, sub: &paperboy_engine::subscriptions::Subscriber, notice: Option<Markup>) -> Markup {
    let i = &sub.interests;
    let cats: Vec<String> = i.categories.iter().map(|c| c.to_string()).collect();
    html! {
        h1 { "Your digest" }
        @if let Some(n) = notice { (n) }
        p { "For " strong { (sub.email) } "." }
        form.search method="post" action=(format!("/preferences/{key}")) {
            input type="hidden" name="csrf" value=(crate::security::csrf_token(&s.config().secret));
            div.field {
                label for="pref-frequency" { "How often" }
                select #pref-frequency name="frequency" {
                    option value="daily" selected[sub.frequency == Frequency::Daily] { "Daily" }
                    option value="weekly" selected[sub.frequency == Frequency::Weekly] { "Weekly (Sundays)" }
                }
            }
            div.field.wide {
                label for="pref-interests" { "Interests (searched by meaning and keywords)" }
                input #pref-interests type="text" name="interests" value=(i.text) maxlength="500";
            }
            div.field {
                label for="pref-categories" { "Categories (comma-separated, e.g. cs.LG)" }
                input #pref-categories type="text" name="categories" value=(cats.join(", ")) maxlength="500";
            }
            div.field {
                label for="pref-include" { "Must mention" }
                input #pref-include type="text" name="include" value=(i.include.join(", ")) maxlength="500";
            }
            div.field {
                label for="pref-exclude" { "Leave out papers mentioning" }
                input #pref-exclude type="text" name="exclude" value=(i.exclude.join(", ")) maxlength="500";
            }
            button type="submit" { "Save" }
        }
        p { a href=(format!("/unsubscribe/{key}")) { "Unsubscribe" } }
    }
}

/// The preferences form's fields.
#[derive(serde::Deserialize)]
pub struct PreferencesForm {
    csrf: Option<String>,
    frequency: Option<String>,
    interests: Option<String>,
    categories: Option<String>,
    include: Option<String>,
    exclude: Option<String>,
}

/// `POST /preferences/{key}`.
pub async fn preferences(State(state): State<AppState>, Path(key): Path<String>, headers: HeaderMap, Form(form): Form<PreferencesForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let frequency: Result<Frequency, String> = form.frequency.as_deref().unwrap_or("daily").parse();
    let interests = Interests::from_fields(
        form.interests.as_deref().unwrap_or(""),
        form.categories.as_deref().unwrap_or(""),
        form.include.as_deref().unwrap_or(""),
        form.exclude.as_deref().unwrap_or(""),
    );
    state
        .blocking(move |s| {
            let (frequency, interests) = match (frequency, interests) {
                (Ok(f), Ok(i)) => (f, i),
                (Err(e), _) | (_, Err(e)) => {
                    let sub = s.store().subscriber_by_key(&key)?.ok_or_else(unknown_link)?;
                    let notice = html! { section.notice.problem role="alert" { p { "Not saved: " (e) } } };
                    return Ok((StatusCode::BAD_REQUEST, Html(page(s, "Your digest", preferences_form(s, &key, &sub, Some(notice))).into_string())).into_response());
                }
            };
            let sub = s.store().update_preferences(&key, frequency, &interests)?.ok_or_else(unknown_link)?;
            let notice = html! { section.notice role="status" { p { "Saved." } } };
            Ok(Html(page(s, "Your digest", preferences_form(s, &key, &sub, Some(notice))).into_string()).into_response())
        })
        .await
}

/// 404 for every path without a route.
pub async fn not_found(State(state): State<AppState>) -> Response {
    let main = html! {
        h1 { "Not found" }
        p { "There is no page at this address." }
        p { a href="/" { "The daily papers" } " · " a href="/search" { "Search" } }
    };
    (StatusCode::NOT_FOUND, Html(page(&state, "Not found", main).into_string())).into_response()
}
