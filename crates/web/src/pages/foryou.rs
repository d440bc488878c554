//! "For you": the papers a reader's own model ranks first (today, or this week), each with why,
//! a private Atom feed of them, and the page where the reader sees and edits what the model
//! learned from. The model is `paperboy_engine::recommend`'s.

use std::collections::HashSet;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{Days, NaiveDate};
use maud::{html, Markup};
use paperboy_core::{urls, Paper, PaperId};
use paperboy_engine::recommend::{self, Because, ReaderModel};
use paperboy_engine::subscriptions::{Interests, Subscriber};

use super::{PageResult, PER_PAGE};
use crate::error::{PageError, WebError};
use crate::feeds;
use crate::params::Params;
use crate::render::{count, followed_author, page, pager, paper_item};
use crate::security::check_csrf;
use crate::session::{Viewer, Visit};
use crate::state::AppState;

/// Picks in a feed.
const FEED_ITEMS: usize = 30;

/// Today or this week.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Span {
    Today,
    Week,
}

impl Span {
    fn parse(s: Option<&str>) -> Result<Span, WebError> {
        match s {
            None | Some("today") => Ok(Span::Today),
            Some("week") => Ok(Span::Week),
            Some(other) => Err(WebError::BadRequest(format!("period: {other:?} is not today or week"))),
        }
    }

    /// The days covered, ending on the latest day with papers.
    fn days(self, latest: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Span::Today => (latest, latest),
            Span::Week => (latest.checked_sub_days(Days::new(6)).unwrap_or(latest), latest),
        }
    }
}

/// The reader's picks in `from..=to` (never a paper voted on, saved, or already sent by email),
/// with the papers and why; `offset`/`limit` page through them.
fn picks(s: &AppState, reader: &Subscriber, model: &ReaderModel, from: NaiveDate, to: NaiveDate, offset: usize, limit: usize) -> Result<Vec<(Paper, Vec<Because>)>, WebError> {
    let service = s.search_ready()?;
    let window: Vec<PaperId> = service.with_vectors(|set| set.meta.iter().filter(|m| m.day.is_some_and(|d| d >= from && d <= to)).map(|m| m.id.clone()).collect());
    let sent: HashSet<PaperId> = s.store().already_sent(reader.id, &window)?;
    let ranked = recommend::recommend(&service, model, from, to, &sent, offset, limit);
    let papers = s.store().papers(&ranked.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>())?;
    let because = recommend::explain_all(&service, model, &papers);
    Ok(papers.into_iter().zip(because).collect())
}

fn model_of(s: &AppState, reader: &Subscriber) -> Result<ReaderModel, WebError> {
    let service = s.search_ready()?;
    let store = s.store();
    recommend::model(&*store, &service, reader).map_err(|e| match e {
        recommend::RecommendError::Store(e) => e.into(),
        recommend::RecommendError::Search(e) => e.into(),
    })
}

fn why(because: &[Because]) -> Markup {
    html! {
        @if !because.is_empty() {
            p.why-pick { strong { "Why: " } @for (i, b) in because.iter().enumerate() { @if i > 0 { "; " } (b.words()) } "." }
        }
    }
}

/// `GET /for-you?period=today|week&page=N`.
pub async fn for_you(State(state): State<AppState>, params: Params, visit: Visit) -> PageResult {
    let span = Span::parse(params.text("period"))?;
    let page_no = params.page()?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let latest = s.store().latest_day()?;
            let model = model_of(s, &reader)?;
            let (mut shown, from_to) = match latest {
                Some(latest) if !model.is_empty() => {
                    let (from, to) = span.days(latest);
                    (picks(s, &reader, &model, from, to, (page_no - 1) * PER_PAGE, PER_PAGE + 1)?, Some((from, to)))
                }
                _ => (vec![], None),
            };
            let has_next = shown.len() > PER_PAGE;
            shown.truncate(PER_PAGE);
            let v = Viewer::load(s, &visit, &shown.iter().map(|(p, _)| p.id.clone()).collect::<Vec<_>>())?;
            let key = s.store().feed_key(reader.id)?;
            let href = |p: usize| format!("/for-you?period={}&page={p}", if span == Span::Week { "week" } else { "today" });
            let main = html! {
                h1 { "For you" }
                nav.periods aria-label="Period" {
                    a href="/for-you" aria-current=[(span == Span::Today).then_some("page")] { "Today" }
                    a href="/for-you?period=week" aria-current=[(span == Span::Week).then_some("page")] { "This week" }
                }
                p.hint {
                    "Ranked for you by a model that learns from " (count(model.inputs.positives.len(), "paper")) " you upvoted, saved or whose authors you follow"
                    @if model.inputs.interests.is_some() { ", and your interests" } ". "
                    a href="/for-you/learned" { "See and change what it learned from" } " · "
                    a href=(format!("/feeds/for-you/{key}.xml")) { "Your private Atom feed" }
                }
                @if model.is_empty() {
                    section.notice role="status" {
                        p { "Nothing to go on yet. Upvote or save papers, follow authors from a paper's page, or "
                            a href="/for-you/learned" { "write your interests" } ": your picks appear here." }
                    }
                } @else if shown.is_empty() {
                    p.empty { "No new papers for you " (if span == Span::Today { "today" } else { "this week" }) ": you have seen them all." }
                } @else {
                    @if let Some((from, to)) = from_to { p.count { "Papers of " (from) @if from != to { " to " (to) } ", best for you first." } }
                    h2.visually-hidden { "Papers" }
                    ol.papers start=((page_no - 1) * PER_PAGE + 1) {
                        @for (p, because) in &shown { (paper_item(p, None, Some(why(because)), &v)) }
                    }
                    (pager(page_no, has_next, href))
                }
            };
            Ok(Html(page(s, "For you", main).into_string()))
        })
        .await
}

fn unknown_feed() -> WebError {
    WebError::NotFound("this feed does not exist (its address changes when the account is deleted)".into())
}

/// The reader's private feed key of a feed file name (`KEY.xml`).
pub(crate) fn private_feed_key(file: &str) -> Result<String, WebError> {
    let key = file.strip_suffix(".xml").ok_or_else(unknown_feed)?;
    if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown_feed());
    }
    Ok(key.to_owned())
}

/// The reader whose private feed key this is.
pub(crate) fn private_feed_reader(s: &AppState, key: &str) -> Result<Subscriber, WebError> {
    s.store().feed_reader(key)?.ok_or_else(unknown_feed)
}

/// `GET /feeds/for-you/{key}.xml`: the reader's picks of the week as Atom (the key is the
/// reader's private feed secret).
pub async fn feed(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response, PageError> {
    let key = private_feed_key(&file)?;
    state
        .blocking(move |s| {
            let reader = private_feed_reader(s, &key)?;
            let model = model_of(s, &reader)?;
            let papers = match s.store().latest_day()? {
                Some(latest) if !model.is_empty() => {
                    let (from, to) = Span::Week.days(latest);
                    picks(s, &reader, &model, from, to, 0, FEED_ITEMS)?.into_iter().map(|(p, _)| p).collect()
                }
                _ => vec![],
            };
            let base = s.config().base_url.clone();
            Ok(feeds::atom_response("paperboy: for you", &format!("{base}/for-you?period=week"), &format!("{base}/feeds/for-you/{key}.xml"), "This week's papers picked for you.", papers, &base))
        })
        .await
}

/// `GET /for-you/learned`: what the model learns from, each part removable.
pub async fn learned(State(state): State<AppState>, visit: Visit) -> PageResult {
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let (votes, follows, collections, frequent) = {
                let store = s.store();
                (store.votes(reader.id)?, store.follows(reader.id)?, store.collections(reader.id)?, paperboy_engine::recommend::frequent_authors(&*store, &reader)?)
            };
            let papers = s.store().papers(&votes.iter().map(|v| v.paper.clone()).collect::<Vec<_>>())?;
            let title = |id: &PaperId| papers.iter().find(|p| &p.id == id).map_or_else(|| id.to_string(), |p| p.title.clone());
            let v = Viewer::load(s, &visit, &[])?;
            let main = html! {
                h1 { "What “For you” learns from" }
                p { "Your picks come from a model trained on what you tell it here; remove anything and it forgets it at once." }
                section aria-labelledby="learn-interests" {
                    h2 #learn-interests { "Your interests" }
                    form.search method="post" action="/for-you/interests" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        div.field.wide {
                            label for="interests" { "In your words (embedded like a search)" }
                            input #interests type="text" name="interests" maxlength="500" value=(reader.interests.text) placeholder="e.g. protein structure prediction";
                        }
                        button type="submit" { "Save" }
                    }
                }
                section aria-labelledby="learn-votes" {
                    h2 #learn-votes { "Your votes" }
                    @if votes.is_empty() { p.empty { "No votes yet." } } @else {
                        ul.learned {
                            @for vote in &votes {
                                li {
                                    (if vote.vote == paperboy_engine::readers::Vote::Up { "▲ upvoted: " } else { "✕ not for me: " })
                                    a.math href=(urls::paper("", &vote.paper)) { (title(&vote.paper)) }
                                    (crate::render::paper_button("/mark", &v.csrf, &vote.paper, "clear_vote", "/for-you/learned", "Remove"))
                                }
                            }
                        }
                    }
                }
                section aria-labelledby="learn-follows" {
                    h2 #learn-follows { "Authors you follow" }
                    @if follows.is_empty() { p.empty { "None yet." } } @else {
                        ul.learned {
                            @for f in &follows {
                                li { (followed_author(&v.csrf, f, "/for-you/learned")) }
                            }
                        }
                    }
                }
                section aria-labelledby="learn-frequent" {
                    h2 #learn-frequent { "Authors of several papers you rated" }
                    p { "New papers by an author of " (paperboy_engine::recommend::AUTHOR_PAPERS) " or more of the papers the model learns from (your upvotes, saved papers and followed authors' papers) move up, the more the larger their share. Remove those papers to undo it." }
                    @if frequent.is_empty() { p.empty { "None yet." } } @else {
                        ul.learned {
                            @for (name, n) in &frequent {
                                li { a href=(urls::author("", &paperboy_engine::readers::author_slug(name))) { (name) } " · " (n) " of your rated papers" }
                            }
                        }
                    }
                }
                section aria-labelledby="learn-saved" {
                    h2 #learn-saved { "Your saved papers" }
                    @if collections.is_empty() { p.empty { "None yet." } } @else {
                        ul { @for c in &collections { li { a href=(format!("/collections/{}", c.id)) { (c.name) } " · " (count(c.papers as usize, "paper")) } } }
                    }
                }
            };
            Ok(Html(page(s, "What For you learns from", main).into_string()))
        })
        .await
}

/// The interests form.
#[derive(serde::Deserialize)]
pub struct InterestsForm {
    csrf: Option<String>,
    interests: Option<String>,
}

/// `POST /for-you/interests`: the reader's free-text interests (also their digest's).
pub async fn interests(State(state): State<AppState>, headers: HeaderMap, visit: Visit, Form(form): Form<InterestsForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let text = form.interests.unwrap_or_default();
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let mut interests = reader.interests.clone();
            interests.text = Interests::from_fields(&text, "", "", "").map_err(WebError::BadRequest)?.text;
            s.store().update_preferences(&reader.manage_key, reader.frequency, &interests)?;
            Ok(Redirect::to("/for-you/learned").into_response())
        })
        .await
}
