//! Alerts: a reader's saved searches (made from any search, or here), what each delivers where,
//! the state of its webhook, and the private Atom feed of everything they found. Matching and
//! delivery are `paperboy_engine::alerts`'s (the worker runs them after every harvest).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use maud::{html, Markup};
use paperboy_core::urls;
use paperboy_engine::alerts::{self, Alert, AlertSpec, Exclusions, Webhook, WebhookFormat};
use paperboy_engine::search::Mode;

use super::account::CsrfForm;
use super::PageResult;
use crate::error::{PageError, WebError};
use crate::feeds;
use crate::params::Params;
use crate::render::page;
use crate::security::check_csrf;
use crate::session::{Viewer, Visit};
use crate::state::AppState;

/// Alerts one reader can have.
pub const MAX_ALERTS: usize = 50;
/// Entries in the alerts feed.
const FEED_ITEMS: usize = 50;

/// The alert form (every field optional; the spec's own check names what is wrong).
#[derive(Debug, Default, serde::Deserialize)]
pub struct AlertForm {
    csrf: Option<String>,
    name: Option<String>,
    q: Option<String>,
    mode: Option<String>,
    categories: Option<String>,
    authors: Option<String>,
    exclude_words: Option<String>,
    exclude_phrases: Option<String>,
    exclude_categories: Option<String>,
    exclude_authors: Option<String>,
    min_score: Option<String>,
    top_n: Option<String>,
    feed: Option<String>,
    email: Option<String>,
    webhook_url: Option<String>,
    webhook_format: Option<String>,
}

/// Entries separated by commas or new lines (authors' names: new lines or semicolons).
fn list(s: &Option<String>, separators: &[char]) -> Vec<String> {
    s.as_deref().unwrap_or("").split(separators).map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect()
}

impl AlertForm {
    /// The alert's name and spec, checked; the error names the field.
    fn spec(&self, allow_private: bool) -> Result<(String, AlertSpec), WebError> {
        let bad = WebError::BadRequest;
        let mode = match self.mode.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => m.parse::<Mode>().map_err(|e| bad(format!("mode: {e}")))?,
            None => Mode::Hybrid,
        };
        let number = |field: &str, s: &Option<String>| -> Result<Option<f64>, WebError> {
            match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(v) => v.parse::<f64>().map(Some).map_err(|_| bad(format!("{field}: {v:?} is not a number"))),
                None => Ok(None),
            }
        };
        let top_n = match number("top_n", &self.top_n)? {
            Some(n) if n.fract() == 0.0 && n >= 0.0 => Some(n as usize),
            Some(n) => return Err(bad(format!("top_n: {n} is not a whole number"))),
            None => None,
        };
        let webhook = match self.webhook_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => {
                let format = match self.webhook_format.as_deref().unwrap_or("json") {
                    "json" | "" => WebhookFormat::Json,
                    "slack" => WebhookFormat::Slack,
                    "ntfy" => WebhookFormat::Ntfy,
                    other => return Err(bad(format!("webhook_format: {other:?} is not json, slack or ntfy"))),
                };
                Some(Webhook { url: url.to_owned(), format })
            }
            None => None,
        };
        let spec = AlertSpec {
            query: self.q.clone().unwrap_or_default(),
            mode,
            categories: list(&self.categories, &[',', ' ', '\n']),
            authors: list(&self.authors, &[';', '\n']),
            exclude: Exclusions {
                words: list(&self.exclude_words, &[',', ' ', '\n']),
                phrases: list(&self.exclude_phrases, &[',', '\n']),
                categories: list(&self.exclude_categories, &[',', ' ', '\n']),
                authors: list(&self.exclude_authors, &[';', '\n']),
            },
            min_score: number("min_score", &self.min_score)?.map(|s| s as f32),
            top_n,
            feed: self.feed.is_some(),
            email: self.email.is_some(),
            webhook,
        }
        .checked()
        .map_err(bad)?;
        if let Some(hook) = &spec.webhook {
            alerts::check_url(&hook.url, allow_private).map_err(|e| bad(format!("webhook_url: {e}")))?;
        }
        let name = match self.name.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(n) => alerts::alert_name(n).map_err(bad)?,
            None => alerts::default_name(&spec.query),
        };
        Ok((name, spec))
    }
}

fn describe(a: &Alert) -> Markup {
    let s = &a.spec;
    let ex = &s.exclude;
    html! {
        dl.alert-spec {
            dt { "Query" } dd { code { (s.query) } " (" (s.mode) ")" }
            @if !s.categories.is_empty() { dt { "Only in" } dd { (s.categories.join(", ")) } }
            @if !s.authors.is_empty() { dt { "Only by" } dd { (s.authors.join("; ")) } }
            @if ex != &Exclusions::default() {
                dt { "Never" }
                dd {
                    @if !ex.words.is_empty() { "words: " (ex.words.join(", ")) ". " }
                    @if !ex.phrases.is_empty() { "phrases: " (ex.phrases.iter().map(|p| format!("“{p}”")).collect::<Vec<_>>().join(", ")) ". " }
                    @if !ex.categories.is_empty() { "categories: " (ex.categories.join(", ")) ". " }
                    @if !ex.authors.is_empty() { "authors: " (ex.authors.join("; ")) "." }
                }
            }
            dt { "At most" } dd { (s.top_n.unwrap_or(alerts::DEFAULT_TOP_N)) " papers a run"
                @if let Some(m) = s.min_score { ", similarity at least " (format!("{m:.2}")) } }
            dt { "Delivers to" }
            dd {
                @let outputs: Vec<&str> = [(s.feed, "your alerts feed"), (s.email, "your email digest")].into_iter().filter(|(on, _)| *on).map(|(_, what)| what).collect();
                (outputs.join(" and "))
                @if !s.feed && !s.email && s.webhook.is_none() { "nowhere: paused" }
                @if let Some(h) = &s.webhook {
                    @if !outputs.is_empty() { " and " }
                    "a " (format!("{:?}", h.format).to_lowercase()) " webhook at " code { (h.url) }
                    @if let Some((when, error)) = &a.webhook_disabled {
                        strong.warning { " — disabled on " (when.format("%Y-%m-%d %H:%M UTC")) " after " (a.webhook_failures) " failed calls (last: " (error) "); save the alert again to resume" }
                    } @else if a.webhook_failures > 0 {
                        " (" (a.webhook_failures) " failed calls in a row; retried with backoff)"
                    }
                    br;
                    "Signed with " code { "X-Paperboy-Signature: sha256=HMAC(secret, timestamp + \".\" + body)" } "; secret: " code.secret { (a.secret) }
                }
            }
            @if let Some(t) = a.last_run_at { dt { "Last run" } dd { (t.format("%Y-%m-%d %H:%M UTC")) } }
        }
    }
}

/// `GET /alerts`: the reader's alerts and the form for a new one (prefilled from `q`, `mode`
/// and `category` when a search sent the reader here).
pub async fn alerts_page(State(state): State<AppState>, params: Params, visit: Visit) -> PageResult {
    let q = params.text("q").unwrap_or("").to_owned();
    let mode = params.text("mode").unwrap_or("hybrid").to_owned();
    let category = params.text("category").unwrap_or("").to_owned();
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let list = s.store().alerts_of(reader.id)?;
            let key = s.store().feed_key(reader.id)?;
            let watched_ids: Vec<paperboy_core::PaperId> = s.store().watched_papers(reader.id)?.into_iter().map(|(id, _)| id).collect();
            let watched = s.store().papers(&watched_ids)?;
            let settings = s.store().alert_settings(reader.id)?;
            let v = Viewer::load(s, &visit, &[])?;
            let main = html! {
                h1 { "Alerts" }
                p.hint {
                    "A saved search runs after every harvest over the papers that arrived, and delivers each new match once, to "
                    a href=(urls::alerts_feed("", &key)) { "your private alerts feed" } " and, as you choose, your email and a webhook (JSON, Slack or ntfy). "
                    a href="#new-alert" { "New alert" }
                }
                section aria-labelledby="your-alerts" {
                    h2 #your-alerts { "Your alerts" }
                    @if list.is_empty() { p.hint { "No alerts yet: save one with the form above, or from the foot of any search's results." } }
                    @for a in &list {
                        article.alert {
                            h3 { (a.name) }
                            (describe(a))
                            form.inline method="post" action=(format!("/alerts/{}/delete", a.id)) {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button.danger type="submit" { "Delete “" (a.name) "”" }
                            }
                            @if a.webhook_disabled.is_some() {
                                form.inline method="post" action=(format!("/alerts/{}/resume", a.id)) {
                                    input type="hidden" name="csrf" value=(v.csrf);
                                    button type="submit" { "Resume its webhook" }
                                }
                            }
                        }
                    }
                }
                section aria-labelledby="watched" {
                    h2 #watched { "Papers you watch" }
                    @if watched.is_empty() { p.hint { "None yet: “Watch this paper” on a paper's page tells you here and in your feed of a new version, a journal reference or DOI, or code." } }
                    ul.learned {
                        @for p in &watched {
                            li {
                                a.math href=(paperboy_core::urls::paper("", &p.id)) { (p.title) }
                                (crate::render::paper_button("/watch", &v.csrf, &p.id, "unwatch", "/alerts", "Stop watching"))
                            }
                        }
                    }
                }
                section aria-labelledby="alert-settings" {
                    h2 #alert-settings { "How alerts reach you" }
                    form.watch-settings method="post" action="/watch" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        input type="hidden" name="next" value="/alerts#alert-settings";
                        input type="hidden" name="action" value="settings";
                        div.field.check { input #watch-saved type="checkbox" name="saved" value="1" checked[settings.saved]; label for="watch-saved" { "Watch every paper I save" } }
                        div.field.check { input #watch-email type="checkbox" name="email" value="1" checked[settings.email]; label for="watch-email" { "News of the papers I watch by email too (it is always in my alerts feed)" } }
                        div.field.check { input #alert-separate type="checkbox" name="separate" value="1" checked[settings.separate]; label for="alert-separate" { "Alert email as a message of its own after each harvest, rather than in my digest" } }
                        @let hooked: Vec<&Alert> = list.iter().filter(|a| a.spec.webhook.is_some()).collect();
                        @if !hooked.is_empty() {
                            div.field {
                                label for="watch-hook" { "News of the papers I watch to the webhook of" }
                                select #watch-hook name="webhook_alert" {
                                    option value="" { "none" }
                                    @for a in &hooked { option value=(a.id) selected[settings.webhook_alert == Some(a.id)] { (a.name) } }
                                }
                            }
                        }
                        button type="submit" { "Save" }
                    }
                }
                section aria-labelledby="new-alert" {
                    h2 #new-alert { "New alert" }
                    form.alert-form method="post" action="/alerts" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        div.field.wide { label for="alert-q" { "Search" } input #alert-q type="text" name="q" required maxlength="500" value=(q) placeholder="e.g. protein structure prediction"; }
                        div.field { label for="alert-name" { "Name" } input #alert-name type="text" name="name" maxlength="80" placeholder="(the search)"; }
                        div.field {
                            label for="alert-mode" { "Match by" }
                            select #alert-mode name="mode" {
                                @for (value, label) in [("hybrid", "words or meaning"), ("bm25", "words"), ("semantic", "meaning")] {
                                    option value=(value) selected[mode == value] { (label) }
                                }
                            }
                        }
                        div.field { label for="alert-categories" { "Only in categories" } input #alert-categories type="text" name="categories" value=(category) placeholder="cs.LG, stat.ML"; }
                        div.field { label for="alert-authors" { "Only by authors (; between)" } input #alert-authors type="text" name="authors"; }
                        fieldset {
                            legend { "Never show papers with" }
                            div.field { label for="ex-words" { "these words" } input #ex-words type="text" name="exclude_words" placeholder="survey, benchmark"; }
                            div.field { label for="ex-phrases" { "these phrases (, between)" } input #ex-phrases type="text" name="exclude_phrases" placeholder="large language model"; }
                            div.field { label for="ex-categories" { "these categories" } input #ex-categories type="text" name="exclude_categories" placeholder="cs.CV"; }
                            div.field { label for="ex-authors" { "these authors (; between)" } input #ex-authors type="text" name="exclude_authors"; }
                        }
                        div.field { label for="alert-top" { "At most, papers a run" } input #alert-top type="number" name="top_n" min="1" max="100" placeholder=(alerts::DEFAULT_TOP_N); }
                        div.field { label for="alert-min" { "Similarity at least (0–1, blank: words or close meaning)" } input #alert-min type="number" name="min_score" min="0" max="1" step="0.05"; }
                        div.field.check { input #alert-feed type="checkbox" name="feed" value="1" checked; label for="alert-feed" { "Deliver to my alerts feed" } }
                        div.field.check { input #alert-email type="checkbox" name="email" value="1"; label for="alert-email" { "And in my email digest (when subscribed)" } }
                        div.field.wide { label for="alert-hook" { "Webhook URL (optional)" } input #alert-hook type="url" name="webhook_url" placeholder="https://ntfy.sh/my-topic"; }
                        div.field {
                            label for="alert-format" { "Webhook body" }
                            select #alert-format name="webhook_format" {
                                option value="json" { "JSON (signed)" }
                                option value="slack" { "Slack-compatible" }
                                option value="ntfy" { "ntfy" }
                            }
                        }
                        button type="submit" { "Save alert" }
                    }
                }
            };
            Ok(Html(page(s, "Alerts", main).into_string()))
        })
        .await
}

/// `POST /alerts`: saves a new alert.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, visit: Visit, Form(form): Form<AlertForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let (name, spec) = form.spec(state.config().allow_private_webhooks)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            save(s, reader.id, &name, &spec)?;
            Ok(Redirect::to("/alerts").into_response())
        })
        .await
}

/// Saves a new alert for `reader`: at most [`MAX_ALERTS`], names unique.
pub(crate) fn save(s: &AppState, reader: i64, name: &str, spec: &AlertSpec) -> Result<Alert, WebError> {
    if s.store().alerts_of(reader)?.len() >= MAX_ALERTS {
        return Err(WebError::BadRequest(format!("you have {MAX_ALERTS} alerts, the most one reader can have")));
    }
    s.store().create_alert(reader, name, spec, Utc::now())?.ok_or_else(|| WebError::BadRequest(format!("name: you already have an alert called {name:?}")))
}

/// The watch form.
#[derive(serde::Deserialize)]
pub struct WatchForm {
    csrf: Option<String>,
    paper: Option<String>,
    action: Option<String>,
    next: Option<String>,
    /// With `action=settings`: watch every saved paper.
    saved: Option<String>,
    /// With `action=settings`: the news goes to the email digest too.
    email: Option<String>,
    /// With `action=settings`: the news goes to this alert's webhook too (empty: none).
    webhook_alert: Option<String>,
    /// With `action=settings`: alert email as messages of their own, not in the digest.
    separate: Option<String>,
}

/// `POST /watch`: `watch` or `unwatch` `paper`, or `settings` (`saved`: watch every paper the
/// reader saves; `email`: their news in the email digest too), then back to `next`.
pub async fn watch(State(state): State<AppState>, headers: HeaderMap, visit: Visit, Form(form): Form<WatchForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let next = crate::session::local_path(form.next.as_deref(), "/alerts");
    if form.action.as_deref() == Some("settings") {
        let webhook_alert = match form.webhook_alert.as_deref().filter(|a| !a.is_empty()) {
            Some(a) => Some(a.parse::<i64>().map_err(|_| WebError::BadRequest(format!("webhook_alert: {a:?} is not an alert")))?),
            None => None,
        };
        let settings = alerts::AlertSettings { saved: form.saved.is_some(), email: form.email.is_some(), webhook_alert, separate: form.separate.is_some() };
        return state
            .blocking(move |s| {
                let reader = s.signed_in(&Visit { here: next.clone(), ..visit })?;
                if let Some(id) = webhook_alert {
                    if !s.store().alerts_of(reader.id)?.iter().any(|a| a.id == id && a.spec.webhook.is_some()) {
                        return Err(WebError::BadRequest(format!("webhook_alert: you have no alert {id} with a webhook")).into());
                    }
                }
                s.store().set_alert_settings(reader.id, settings, Utc::now())?;
                Ok(Redirect::to(&next).into_response())
            })
            .await;
    }
    let paper: paperboy_core::PaperId = crate::params::parse_id(form.paper.as_deref().unwrap_or(""))?;
    let on = match form.action.as_deref() {
        Some("watch") => true,
        Some("unwatch") => false,
        other => return Err(WebError::BadRequest(format!("action: {other:?} is not watch, unwatch or settings")).into()),
    };
    state
        .blocking(move |s| {
            let reader = s.signed_in(&Visit { here: next.clone(), ..visit })?;
            if on && s.store().paper(&paper)?.is_none() {
                return Err(WebError::NotFound(format!("no paper {paper}")).into());
            }
            s.store().watch_paper(reader.id, &paper, on, Utc::now())?;
            Ok(Redirect::to(&next).into_response())
        })
        .await
}

/// `POST /alerts/{id}/delete`.
pub async fn delete(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap, visit: Visit, Form(form): Form<CsrfForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            if !s.store().delete_alert(reader.id, id)? {
                return Err(WebError::NotFound(format!("you have no alert {id}")).into());
            }
            Ok(Redirect::to("/alerts").into_response())
        })
        .await
}

/// `POST /alerts/{id}/resume`: enables a webhook disabled after failures.
pub async fn resume(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap, visit: Visit, Form(form): Form<CsrfForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let alert = s.store().alerts_of(reader.id)?.into_iter().find(|a| a.id == id).ok_or_else(|| WebError::NotFound(format!("you have no alert {id}")))?;
            s.store().update_alert(reader.id, id, &alert.spec)?;
            Ok(Redirect::to("/alerts").into_response())
        })
        .await
}

/// `GET /feeds/alerts/{key}.xml`: what the reader's alerts delivered to their feed, newest
/// first, as Atom (the key is the reader's private feed secret; entry ids are the papers'
/// addresses, so they never change).
pub async fn feed(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response, PageError> {
    let key = super::foryou::private_feed_key(&file)?;
    state
        .blocking(move |s| {
            let reader = super::foryou::private_feed_reader(s, &key)?;
            let entries = s.store().alert_feed(reader.id, FEED_ITEMS)?;
            // An item is a paper (an alert's match) or `PAPER#what` (an event of a watched paper).
            let paper_of = |item: &str| item.split_once('#').map_or(item, |(p, _)| p).parse::<paperboy_core::PaperId>().ok();
            let ids: Vec<paperboy_core::PaperId> = entries.iter().filter_map(|e| paper_of(&e.item)).collect();
            let papers: std::collections::HashMap<_, _> = s.store().papers(&ids)?.into_iter().map(|p| (p.id.clone(), p)).collect();
            let mut out = Vec::new();
            for e in &entries {
                let Some(paper) = paper_of(&e.item).and_then(|id| papers.get(&id)) else { continue };
                let note = match e.item.split_once('#') {
                    Some((_, what)) => {
                        let text = s.store().paper_events(&paper.id)?.into_iter().find(|ev| ev.key == e.item).map_or_else(|| what.to_owned(), |ev| ev.text);
                        feeds::Note { fragment: Some(what.to_owned()), title: Some(text.clone()), summary: format!("A paper you watch: {text}."), updated: e.at }
                    }
                    None => feeds::Note { fragment: None, title: None, summary: format!("Matched your alert{}: {}.", if e.alerts.len() > 1 { "s" } else { "" }, e.alerts.join(", ")), updated: e.at },
                };
                out.push((paper.clone(), Some(note)));
            }
            let base = s.config().base_url.clone();
            Ok(feeds::atom_notes_response("paperboy: your alerts", &format!("{base}/alerts"), &urls::alerts_feed(&base, &key), "New papers your saved searches found, and news of the papers you watch.", out, &base))
        })
        .await
}
