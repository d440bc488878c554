//! The pages of papers: home (a day's papers, or a week's or month's by trending score), a
//! day, a category, and a paper with its similar papers and why it is trending.

use axum::extract::{Path, State};
use axum::response::Html;
use chrono::{Days, NaiveDate};
use maud::{html, Markup};
use paperboy_core::{urls, Category, Paper, PaperId};
use paperboy_engine::readers::author_key;
use paperboy_engine::trending::{self, Window};
use std::collections::HashSet;

use super::{PageResult, PER_PAGE};
use crate::error::WebError;
use crate::params::{parse_day, Params};
use crate::render::{actions, author_links, follow_toggle, long_day, page, page_with, pager, paper_href, paper_item, paper_list, safe_url, url_encode};
use crate::session::{Viewer, Visit, DEFAULT_COLLECTION};
use crate::state::AppState;

/// `/`: the latest day's papers.
pub async fn home(State(state): State<AppState>, params: Params, visit: Visit) -> PageResult {
    state
        .blocking(move |s| {
            let latest = s.store().latest_day()?;
            match latest {
                Some(day) => day_page(s, day, &params, true, &visit),
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
pub async fn day(State(state): State<AppState>, Path(date): Path<String>, params: Params, visit: Visit) -> PageResult {
    let day = parse_day(&date, "day").map_err(|_| WebError::NotFound(format!("{date:?} is not a day (YYYY-MM-DD)")))?;
    state.blocking(move |s| day_page(s, day, &params, false, &visit)).await
}

fn day_page(s: &AppState, day: NaiveDate, params: &Params, home: bool, visit: &Visit) -> PageResult {
    let window = params.window("period", Window::Day)?;
    let page_no = params.page()?;
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
    let v = Viewer::load(s, visit, &shown.iter().map(|t| t.paper.id.clone()).collect::<Vec<_>>())?;
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
            // Each paper's title is an h3: the list gets its h2, so headings go in order.
            h2.visually-hidden { "Papers" }
            ol.papers start=(start + 1) {
                @for t in &shown { (paper_item(&t.paper, None, None, &v)) }
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
pub async fn category(State(state): State<AppState>, Path(category): Path<String>, params: Params, visit: Visit) -> PageResult {
    let cat: Category = category.parse().map_err(|_| WebError::NotFound(format!("{category:?} is not an arXiv category")))?;
    let page_no = params.page()?;
    state
        .blocking(move |s| {
            let mut papers = s.store().papers_in_category(cat.as_str(), (page_no - 1) * PER_PAGE, PER_PAGE + 1)?;
            let has_next = papers.len() > PER_PAGE;
            papers.truncate(PER_PAGE);
            let v = Viewer::load(s, &visit, &papers.iter().map(|p| p.id.clone()).collect::<Vec<_>>())?;
            let none_anywhere = papers.is_empty() && s.category_counts()?.is_empty();
            let name = cat.name().unwrap_or("");
            let title = if name.is_empty() { cat.to_string() } else { format!("{name} ({cat})") };
            let main = html! {
                h1 { (title) }
                p { a href=(urls::category_feed("", &cat)) { "RSS feed of this category" } }
                h2.visually-hidden { "Papers" }
                @if none_anywhere { (crate::render::no_categories_note()) }
                (paper_list(&papers, "No papers in this category yet.", &v))
                (pager(page_no, has_next, |p| format!("{}?page={p}", urls::category("", &cat))))
            };
            Ok(Html(page(s, &title, main).into_string()))
        })
        .await
}

/// `/paper/{id}`.
pub async fn paper(State(state): State<AppState>, Path(id): Path<String>, visit: Visit) -> PageResult {
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
            let mut ids: Vec<PaperId> = similar.iter().map(|p| p.id.clone()).collect();
            ids.push(paper.id.clone());
            let v = Viewer::load(s, &visit, &ids)?;
            let yours = yours(s, &paper, &v)?;
            Ok(Html(page(s, &paper.title, paper_view(&paper, &similar, why, yours, &v)).into_string()))
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
    Ok(s.papers_of(&hits)?.into_iter().map(|(p, _)| (*p).clone()).collect())
}

fn why_trending(s: &AppState, p: &Paper, latest: Option<NaiveDate>) -> Result<Markup, WebError> {
    let Some(day) = p.day() else { return Ok(html! {}) };
    // The current week if the paper is in it, else the week that ended on its own day.
    let end = latest.filter(|l| trending::score(p, 0, Window::Week, *l).is_some()).unwrap_or(day);
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

/// The signed-in reader's panel on a paper: their marks, saving to a collection with a note,
/// and following the authors; signed out, an invitation to sign in.
fn yours(s: &AppState, p: &Paper, v: &Viewer) -> Result<Markup, WebError> {
    let Some(reader) = &v.reader else {
        return Ok(html! {
            p.sign-in-hint { a href=(format!("/sign-in?next={}", url_encode(&v.here))) { "Sign in" } " to upvote, save this paper to a collection and follow its authors." }
        });
    };
    let (inside, followed, watching) = {
        let store = s.store();
        (store.collections_with(reader.id, &p.id)?, store.follows(reader.id)?, store.watched_papers(reader.id)?.iter().any(|(id, _)| id == &p.id))
    };
    let followed: HashSet<String> = followed.into_iter().map(|f| f.key).collect();
    let mut authors: Vec<&str> = p.authors.iter().map(|a| a.name.as_str()).filter(|n| !author_key(n).is_empty()).collect();
    authors.truncate(12);
    Ok(html! {
        section.yours aria-labelledby="yours-title" {
            h2 #yours-title { "Yours" }
            (actions(p, v))
            @let saved_in: Vec<&str> = v.collections.iter().filter(|c| inside.contains(&c.id)).map(|c| c.name.as_str()).collect();
            @if !saved_in.is_empty() {
                p { "In your collections: " @for (i, c) in v.collections.iter().filter(|c| inside.contains(&c.id)).enumerate() { @if i > 0 { ", " } a href=(format!("/collections/{}", c.id)) { (c.name) } } "." }
            }
            form.save-to method="post" action="/mark" {
                input type="hidden" name="csrf" value=(v.csrf);
                input type="hidden" name="paper" value=(p.id);
                input type="hidden" name="next" value=(v.here);
                input type="hidden" name="action" value="save";
                div.field {
                    label for="save-collection" { "Save to" }
                    select #save-collection name="collection" {
                        @if v.collections.is_empty() { option value="" { (DEFAULT_COLLECTION) } }
                        @for c in &v.collections { option value=(c.id) { (c.name) } }
                    }
                }
                div.field {
                    label for="save-new" { "or a new collection" }
                    input #save-new type="text" name="new_collection" maxlength="100" placeholder="e.g. Thesis reading";
                }
                div.field.wide {
                    label for="save-note" { "Note (optional)" }
                    textarea #save-note name="note" maxlength="2000" rows="2" {}
                }
                button type="submit" { "Save" }
            }
            form.watch method="post" action="/watch" {
                input type="hidden" name="csrf" value=(v.csrf);
                input type="hidden" name="paper" value=(p.id);
                input type="hidden" name="next" value=(v.here);
                input type="hidden" name="action" value=(if watching { "unwatch" } else { "watch" });
                button type="submit" aria-pressed=(watching) { (if watching { "Watching this paper" } else { "Watch this paper" }) }
                " " span.hint { "(new versions, a journal reference or DOI, code: in your " a href="/alerts" { "alerts feed" } ")" }
            }
            @if !authors.is_empty() {
                h3 { "Follow the authors" }
                ul.follow-list {
                    @for name in &authors {
                        @let on = followed.contains(&author_key(name));
                        li {
                            (follow_toggle(&v.csrf, name, &v.here, on, html! { (if on { "Following " } else { "Follow " }) (name) }))
                        }
                    }
                }
            }
        }
    })
}

fn paper_view(p: &Paper, similar: &[Paper], why: Markup, yours: Markup, v: &Viewer) -> Markup {
    html! {
        article.paper-page {
            h1.math { (p.title) }
            @if !p.authors.is_empty() {
                p.authors { (author_links(p, usize::MAX)) }
            }
            (yours)
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
                    dd { @for (i, c) in p.categories.iter().enumerate() { @if i > 0 { ", " } a href=(urls::category("", c)) title=[c.name()] { (c) } } }
                }
                dt { "Upvotes" } dd { (p.signals.hf_upvotes.unwrap_or(0)) " on Hugging Face, " (v.local_votes.get(&p.id).copied().unwrap_or(0)) " here" }
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
                (paper_list(similar, "Similar papers appear once this paper's text has been embedded.", v))
            }
        }
    }
}
