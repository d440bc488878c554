//! The reader's library: marks on papers (upvote, not for me, read, save), collections with
//! notes (private, or shared read-only by an unguessable link with an Atom feed), BibTeX and
//! CSL-JSON export and import, and authors (their page and feed, following them).
//!
//! Every form works without JavaScript (a post, then back to the page); `app.js` posts the
//! mark forms in place and gets JSON back.

use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::Utc;
use maud::{html, Markup};
use paperboy_core::{urls, Paper, PaperId};
use paperboy_engine::library::{self, Match, MatchedBy};
use paperboy_engine::readers::{author_key_of_slug, collection_name, note, Collection, SavedPaper, Vote};
use paperboy_engine::subscriptions::Subscriber;
use serde_json::json;

use super::{PageResult, PER_PAGE};
use crate::error::{PageError, WebError};
use crate::feeds;
use crate::params::Params;
use crate::render::{count, follow_toggle, page, pager, paper_item};
use crate::security::check_csrf;
use crate::session::{local_path, Viewer, Visit, DEFAULT_COLLECTION};
use crate::state::AppState;

/// The mark form's fields.
#[derive(serde::Deserialize)]
pub struct MarkForm {
    csrf: Option<String>,
    paper: Option<String>,
    action: Option<String>,
    next: Option<String>,
    collection: Option<String>,
    new_collection: Option<String>,
    note: Option<String>,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"))
}

/// The collection a save goes to: a new one by name, one of the reader's by id, or "Saved".
fn target_collection(s: &AppState, reader: &Subscriber, form: &MarkForm) -> Result<Collection, WebError> {
    let now = Utc::now();
    if let Some(name) = form.new_collection.as_deref().filter(|n| !n.trim().is_empty()) {
        let name = collection_name(name).map_err(WebError::BadRequest)?;
        return Ok(s.store().create_collection(reader.id, &name, now)?);
    }
    match form.collection.as_deref().filter(|c| !c.is_empty()) {
        Some(id) => {
            let id: i64 = id.parse().map_err(|_| WebError::BadRequest(format!("collection: {id:?} is not a collection number")))?;
            s.store().collection(id)?.filter(|c| c.reader == reader.id).ok_or_else(|| WebError::NotFound(format!("you have no collection {id}")))
        }
        None => Ok(s.store().create_collection(reader.id, DEFAULT_COLLECTION, now)?),
    }
}

/// `POST /mark`: `action` is `up`, `not_for_me`, `clear_vote`, `read`, `unread`, `save` (to
/// `collection`, or a `new_collection`, with an optional `note`) or `unsave` (from every
/// collection, or from `collection` when given). Answers JSON to `Accept: application/json`
/// (the page's script), else goes back to `next`.
pub async fn mark(State(state): State<AppState>, headers: HeaderMap, visit: Visit, Form(form): Form<MarkForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let paper_text = form.paper.clone().unwrap_or_default();
    let paper: PaperId = paper_text.parse().map_err(|_| WebError::BadRequest(format!("paper: {paper_text:?} is not a paper id")))?;
    let json_wanted = wants_json(&headers);
    state
        .blocking(move |s| {
            let reader = s.signed_in(&Visit { here: local_path(form.next.as_deref(), "/"), ..visit })?;
            if s.paper(&paper)?.is_none() {
                return Err(WebError::NotFound(format!("no paper {paper} here")).into());
            }
            let now = Utc::now();
            let action = form.action.as_deref().unwrap_or("");
            match action {
                "up" | "not_for_me" | "clear_vote" => {
                    s.store().set_vote(reader.id, &paper, Vote::parse(action), now)?;
                    s.votes_changed();
                    s.rated();
                }
                "read" | "unread" => s.store().set_read(reader.id, &paper, action == "read", now)?,
                "save" => {
                    let c = target_collection(s, &reader, &form)?;
                    let note = form.note.as_deref().filter(|n| !n.trim().is_empty()).map(note).transpose().map_err(WebError::BadRequest)?;
                    s.store().save_paper(reader.id, c.id, &paper, note.as_deref(), now)?;
                    s.rated();
                }
                "unsave" => {
                    let mut store = s.store();
                    let from: Vec<i64> = match form.collection.as_deref().and_then(|c| c.parse().ok()) {
                        Some(id) => vec![id],
                        None => store.collections_with(reader.id, &paper)?,
                    };
                    for c in from {
                        store.unsave_paper(reader.id, c, &paper)?;
                    }
                }
                other => return Err(WebError::BadRequest(format!("action: {other:?} is not up, not_for_me, clear_vote, read, unread, save or unsave")).into()),
            }
            if json_wanted {
                return Ok(Json(mark_state(s, reader.id, &paper)?).into_response());
            }
            Ok(Redirect::to(&local_path(form.next.as_deref(), &urls::paper("", &paper))).into_response())
        })
        .await
}

/// A reader's marks on one paper, and its vote count, as the API and the page script see them.
pub fn mark_state(s: &AppState, reader: i64, paper: &PaperId) -> Result<serde_json::Value, WebError> {
    let store = s.store();
    let marks = store.marks(reader, std::slice::from_ref(paper))?;
    let local = store.local_upvotes(std::slice::from_ref(paper))?.get(paper).copied().unwrap_or(0);
    drop(store);
    let hf = s.paper(paper)?.and_then(|p| p.signals.hf_upvotes).unwrap_or(0);
    Ok(json!({
        "paper": paper.to_string(),
        "vote": marks.votes.get(paper).map(|v| v.as_str()),
        "read": marks.read.contains(paper),
        "saved": marks.saved.contains(paper),
        "upvotes": {"hugging_face": hf, "local": local, "total": hf + local},
    }))
}

/// The follow form's fields.
#[derive(serde::Deserialize)]
pub struct FollowForm {
    csrf: Option<String>,
    name: Option<String>,
    action: Option<String>,
    next: Option<String>,
}

/// `POST /follow`: `action` is `follow` or `unfollow` the author `name`.
pub async fn follow(State(state): State<AppState>, headers: HeaderMap, visit: Visit, Form(form): Form<FollowForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let name: String = form.name.unwrap_or_default().trim().chars().filter(|c| !c.is_control()).take(200).collect();
    if paperboy_engine::readers::author_key(&name).is_empty() {
        return Err(WebError::BadRequest("name: an author's name is needed".into()).into());
    }
    let next = local_path(form.next.as_deref(), "/account");
    state
        .blocking(move |s| {
            let reader = s.signed_in(&Visit { here: next.clone(), ..visit })?;
            match form.action.as_deref() {
                Some("follow") => {
                    s.store().follow_author(reader.id, &name, Utc::now())?;
                    s.rated();
                }
                Some("unfollow") => s.store().unfollow_author(reader.id, &paperboy_engine::readers::author_key(&name))?,
                other => return Err(WebError::BadRequest(format!("action: {other:?} is not follow or unfollow")).into()),
            }
            Ok(Redirect::to(&next).into_response())
        })
        .await
}

/// A collection with its papers in saved order (papers the store lost are left out).
fn collection_papers(s: &AppState, c: &Collection) -> Result<Vec<(Paper, SavedPaper)>, WebError> {
    let saved = s.store().saved_papers(c.id)?;
    let papers = s.store().papers(&saved.iter().map(|i| i.paper.clone()).collect::<Vec<_>>())?;
    let mut by_id: std::collections::HashMap<PaperId, Paper> = papers.into_iter().map(|p| (p.id.clone(), p)).collect();
    Ok(saved.into_iter().filter_map(|i| by_id.remove(&i.paper).map(|p| (p, i))).collect())
}

/// The reader's own collection `id`; another reader's is "not found" (its existence is not told).
fn own_collection(s: &AppState, reader: &Subscriber, id: i64) -> Result<Collection, WebError> {
    s.store().collection(id)?.filter(|c| c.reader == reader.id).ok_or_else(|| WebError::NotFound(format!("you have no collection {id}")))
}

fn note_markup(item: &SavedPaper) -> Option<Markup> {
    (!item.note.is_empty()).then(|| html! { p.note { strong { "Note: " } (item.note) } })
}

/// `GET /collections/{id}`: the owner's view, with sharing, export, import and notes.
pub async fn collection(State(state): State<AppState>, Path(id): Path<i64>, visit: Visit) -> PageResult {
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let c = own_collection(s, &reader, id)?;
            let items = collection_papers(s, &c)?;
            let v = Viewer::load(s, &visit, &items.iter().map(|(p, _)| p.id.clone()).collect::<Vec<_>>())?;
            let base = s.config().base_url.clone();
            let main = html! {
                h1 { (c.name) }
                p { (count(items.len(), "paper")) " · " a href="/account" { "all your collections" } }
                section.share aria-labelledby="share-title" {
                    h2 #share-title { "Sharing" }
                    @if let Some(key) = &c.share_key {
                        p { "Anyone with this link can read the collection and its notes (not your address, votes or other collections):" }
                        p { a href=(urls::shared_collection("", key)) { (urls::shared_collection(&base, key)) } " · " a href=(format!("/shared/{key}/feed.xml")) { "Atom feed" } }
                    } @else {
                        p { "Private: only you can see it." }
                    }
                    form.inline method="post" action=(format!("/collections/{}", c.id)) {
                        input type="hidden" name="csrf" value=(v.csrf);
                        input type="hidden" name="action" value=(if c.share_key.is_some() { "unshare" } else { "share" });
                        button type="submit" { (if c.share_key.is_some() { "Stop sharing" } else { "Share by link" }) }
                    }
                }
                section aria-labelledby="export-title" {
                    h2 #export-title { "Export and import" }
                    p { "Export: " a href=(format!("/collections/{}/export.bib", c.id)) { "BibTeX" } " · " a href=(format!("/collections/{}/export.json", c.id)) { "CSL-JSON (Zotero, Mendeley, pandoc)" } }
                    form method="post" action=(format!("/collections/{}/import", c.id)) enctype="multipart/form-data" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        div.field.wide {
                            label for="import-file" { "Import a BibTeX, BibLaTeX or CSL-JSON file (Zotero: File → Export Library), or a list of arXiv ids, URLs and DOIs" }
                            input #import-file type="file" name="file" accept=".bib,.bibtex,.json,.txt,text/plain,application/json";
                        }
                        div.field.wide {
                            label for="import-text" { "…or paste it here" }
                            textarea #import-text name="text" rows="4" {}
                        }
                        @if s.config().arxiv_api.is_some() {
                            div.field {
                                label { input type="checkbox" name="fetch" value="on"; " Fetch papers this paperboy lacks from arXiv" }
                            }
                        }
                        button type="submit" { "Import into " (c.name) }
                    }
                }
                h2 { "Papers" }
                @if items.is_empty() { p.empty { "No papers yet." } } @else {
                    ol.papers {
                        @for (p, item) in &items {
                            (paper_item(p, None, Some(html! {
                                @if let Some(n) = note_markup(item) { (n) }
                                form.note-form method="post" action=(format!("/collections/{}", c.id)) {
                                    input type="hidden" name="csrf" value=(v.csrf);
                                    input type="hidden" name="action" value="note";
                                    input type="hidden" name="paper" value=(p.id);
                                    label.visually-hidden for=(format!("note-{}", p.id)) { "Note on " (p.title) }
                                    input id=(format!("note-{}", p.id)) type="text" name="note" value=(item.note) maxlength="2000" placeholder="Add a note";
                                    button type="submit" { "Save note" }
                                }
                                form.inline method="post" action=(format!("/collections/{}", c.id)) {
                                    input type="hidden" name="csrf" value=(v.csrf);
                                    input type="hidden" name="action" value="remove";
                                    input type="hidden" name="paper" value=(p.id);
                                    button type="submit" { "Remove from " (c.name) }
                                }
                            }), &v))
                        }
                    }
                }
                section.danger aria-labelledby="manage-title" {
                    h2 #manage-title { "Rename or delete" }
                    form.inline method="post" action=(format!("/collections/{}", c.id)) {
                        input type="hidden" name="csrf" value=(v.csrf);
                        input type="hidden" name="action" value="rename";
                        label for="rename" { "New name" }
                        input #rename type="text" name="name" required maxlength="100" value=(c.name);
                        button type="submit" { "Rename" }
                    }
                    form.inline method="post" action=(format!("/collections/{}", c.id)) {
                        input type="hidden" name="csrf" value=(v.csrf);
                        input type="hidden" name="action" value="delete";
                        button.danger type="submit" { "Delete this collection" }
                    }
                }
            };
            Ok(Html(page(s, &c.name, main).into_string()))
        })
        .await
}

/// The new-collection form.
#[derive(serde::Deserialize)]
pub struct NewCollectionForm {
    csrf: Option<String>,
    name: Option<String>,
}

/// `POST /collections`: makes a collection (or finds the reader's of that name).
pub async fn create_collection(State(state): State<AppState>, headers: HeaderMap, visit: Visit, Form(form): Form<NewCollectionForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let name = collection_name(form.name.as_deref().unwrap_or("")).map_err(WebError::BadRequest)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            if s.store().collections(reader.id)?.len() >= paperboy_engine::readers::MAX_COLLECTIONS {
                return Err(WebError::BadRequest(format!("you have {} collections, the most one reader can have", paperboy_engine::readers::MAX_COLLECTIONS)).into());
            }
            let c = s.store().create_collection(reader.id, &name, Utc::now())?;
            Ok(Redirect::to(&format!("/collections/{}", c.id)).into_response())
        })
        .await
}

/// The collection management form.
#[derive(serde::Deserialize)]
pub struct CollectionForm {
    csrf: Option<String>,
    action: Option<String>,
    name: Option<String>,
    paper: Option<String>,
    note: Option<String>,
}

/// `POST /collections/{id}`: `share`, `unshare`, `rename` (to `name`), `delete`, `note` (on
/// `paper`) or `remove` (`paper`).
pub async fn manage_collection(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap, visit: Visit, Form(form): Form<CollectionForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let c = own_collection(s, &reader, id)?;
            let here = format!("/collections/{}", c.id);
            let paper = || -> Result<PaperId, WebError> {
                let text = form.paper.as_deref().unwrap_or("");
                text.parse().map_err(|_| WebError::BadRequest(format!("paper: {text:?} is not a paper id")))
            };
            let mut store = s.store();
            match form.action.as_deref() {
                Some("share") => drop(store.share_collection(reader.id, c.id, true)?),
                Some("unshare") => drop(store.share_collection(reader.id, c.id, false)?),
                Some("rename") => {
                    let name = collection_name(form.name.as_deref().unwrap_or("")).map_err(WebError::BadRequest)?;
                    if store.rename_collection(reader.id, c.id, &name)?.is_some_and(|r| r.name != name) {
                        return Err(WebError::BadRequest(format!("you already have a collection named {name:?}")).into());
                    }
                }
                Some("delete") => {
                    store.delete_collection(reader.id, c.id)?;
                    return Ok(Redirect::to("/account").into_response());
                }
                Some("note") => {
                    let text = note(form.note.as_deref().unwrap_or("")).map_err(WebError::BadRequest)?;
                    let paper = paper()?;
                    if !store.collections_with(reader.id, &paper)?.contains(&c.id) {
                        return Err(WebError::NotFound(format!("paper {paper} is not in {}", c.name)).into());
                    }
                    store.save_paper(reader.id, c.id, &paper, Some(&text), Utc::now())?;
                }
                Some("remove") => drop(store.unsave_paper(reader.id, c.id, &paper()?)?),
                other => return Err(WebError::BadRequest(format!("action: {other:?} is not share, unshare, rename, delete, note or remove")).into()),
            }
            Ok(Redirect::to(&here).into_response())
        })
        .await
}

fn export_response(papers: &[(Paper, Option<String>)], name: &str, format: &str) -> Response {
    let items: Vec<(&Paper, Option<&str>)> = papers.iter().map(|(p, n)| (p, n.as_deref())).collect();
    let file: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let (body, mime, ext) = match format {
        "bib" => (library::bibtex(&items), "application/x-bibtex; charset=utf-8", "bib"),
        _ => (serde_json::to_string_pretty(&library::csl_json(&items)).expect("JSON values serialise"), "application/vnd.citationstyles.csl+json; charset=utf-8", "json"),
    };
    let disposition = format!("attachment; filename=\"{file}.{ext}\"");
    ([(header::CONTENT_TYPE, mime.to_owned()), (header::CONTENT_DISPOSITION, disposition), (header::CACHE_CONTROL, "private, no-store".to_owned())], body).into_response()
}

fn export_format(file: &str) -> Result<&'static str, WebError> {
    match file {
        "export.bib" => Ok("bib"),
        "export.json" => Ok("json"),
        other => Err(WebError::NotFound(format!("{other:?}: exports are export.bib (BibTeX) and export.json (CSL-JSON)"))),
    }
}

/// `GET /collections/{id}/export.bib` and `…/export.json`.
pub async fn export_collection(State(state): State<AppState>, Path((id, file)): Path<(i64, String)>, visit: Visit) -> Result<Response, PageError> {
    let format = export_format(&file)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let c = own_collection(s, &reader, id)?;
            let papers: Vec<(Paper, Option<String>)> = collection_papers(s, &c)?.into_iter().map(|(p, i)| (p, Some(i.note))).collect();
            Ok(export_response(&papers, &c.name, format))
        })
        .await
}

/// `GET /account/export.bib` and `…/export.json`: every saved paper, once.
pub async fn export_account(State(state): State<AppState>, Path(file): Path<String>, visit: Visit) -> Result<Response, PageError> {
    let format = export_format(&file)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let mut seen = std::collections::HashSet::new();
            let mut papers = Vec::new();
            for c in s.store().collections(reader.id)? {
                for (p, item) in collection_papers(s, &c)? {
                    if seen.insert(p.id.clone()) {
                        papers.push((p, Some(item.note)));
                    }
                }
            }
            Ok(export_response(&papers, "paperboy-library", format))
        })
        .await
}

/// `POST /collections/{id}/import` (multipart: `file` and/or `text`): matches each entry to a
/// stored paper, saves the matches, and reports every entry.
pub async fn import(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap, visit: Visit, mut multipart: Multipart) -> Result<Response, PageError> {
    let (mut csrf, mut input, mut fetch) = (String::new(), String::new(), false);
    while let Some(field) = multipart.next_field().await.map_err(|e| WebError::BadRequest(format!("the upload could not be read: {e}")))? {
        let name = field.name().unwrap_or("").to_owned();
        let bytes = field.bytes().await.map_err(|e| WebError::BadRequest(format!("the upload could not be read: {e}")))?;
        let text = || String::from_utf8(bytes.to_vec()).map_err(|e| WebError::BadRequest(format!("{name}: not UTF-8 text (byte {})", e.utf8_error().valid_up_to())));
        match name.as_str() {
            "csrf" => csrf = text()?,
            "fetch" => fetch = text()? == "on",
            "file" | "text" if !bytes.is_empty() => {
                input.push_str(&text()?);
                input.push('\n');
            }
            _ => {}
        }
    }
    check_csrf(&state.config().secret, &csrf, &headers)?;
    if input.trim().is_empty() {
        return Err(WebError::BadRequest("choose a file or paste a library to import".into()).into());
    }
    let parsed = library::parse(&input).map_err(WebError::BadRequest)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let c = own_collection(s, &reader, id)?;
            let mut results = library::match_citations(&*s.store(), &parsed.citations)?;
            let fetched = match (&s.config().arxiv_api, fetch) {
                (Some(api), true) => fetch_missing(s, api, &parsed.citations, &mut results),
                _ => None,
            };
            let now = Utc::now();
            let mut added = 0;
            for m in &results {
                if let Match::Matched { paper, .. } = m {
                    s.store().save_paper(reader.id, c.id, paper, None, now)?;
                    added += 1;
                }
            }
            let by = |b: &MatchedBy| match b {
                MatchedBy::ArxivId => "arXiv id",
                MatchedBy::Doi => "DOI",
                MatchedBy::Title => "title",
            };
            if added > 0 {
                s.rated();
            }
            let unmatched = results.iter().filter(|m| matches!(m, Match::Unmatched { .. })).count();
            let main = html! {
                h1 { "Imported into " (c.name) }
                section.notice role="status" {
                    p { "Read " (parsed.citations.len() + parsed.unreadable.len()) " entries as " (format!("{:?}", parsed.format)) ": "
                        strong { (added) " matched and saved" } ", " (unmatched) " not matched, " (parsed.unreadable.len()) " unreadable." }
                    @if let Some(f) = &fetched { p { (f) } }
                }
                table.import-report {
                    thead { tr { th { "Entry" } th { "Result" } } }
                    tbody {
                        @for (citation, m) in parsed.citations.iter().zip(&results) {
                            tr {
                                td { (citation.at) @if let Some(t) = &citation.title { br; span.muted { (t) } } }
                                td { @match m {
                                    Match::Matched { paper, by: b } => { "Matched by " (by(b)) ": " a href=(urls::paper("", paper)) { (paper) } }
                                    Match::Unmatched { reason, .. } => { "Not matched: " (reason) }
                                } }
                            }
                        }
                        @for u in &parsed.unreadable {
                            tr { td { (u.at) } td { "Unreadable: " (u.reason) } }
                        }
                    }
                }
                p { a href=(format!("/collections/{}", c.id)) { "Back to " (c.name) } }
            };
            Ok(Html(page(s, "Import", main).into_string()).into_response())
        })
        .await
}

/// Fetches the entries' arXiv ids this store lacks from the arXiv API, stores the papers and
/// matches the entries again; says what happened, in words.
fn fetch_missing(s: &AppState, api: &paperboy_engine::harvest::HarvestOptions, citations: &[library::Citation], results: &mut Vec<Match>) -> Option<String> {
    let ids: Vec<paperboy_core::ArxivId> = results
        .iter()
        .filter_map(|m| match m {
            Match::Unmatched { fetchable: Some(id), .. } => id.parse().ok(),
            _ => None,
        })
        .take(library::MAX_IMPORT_ENTRIES)
        .collect();
    if ids.is_empty() {
        return None;
    }
    let fetched = paperboy_engine::harvest::fetch_by_ids(&mut *s.store(), &api.base_url, &ids, api, &mut std::thread::sleep);
    let said = match fetched {
        Ok(n) => {
            s.papers_changed();
            format!("Fetched {n} of {} papers from arXiv.", ids.len())
        }
        Err(e) => {
            tracing::warn!("import: fetching from arXiv: {e}");
            format!("Fetching {} papers from arXiv failed: {e}", ids.len())
        }
    };
    match library::match_citations(&*s.store(), citations) {
        Ok(again) => *results = again,
        Err(e) => tracing::warn!("import: matching again: {e}"),
    }
    Some(said)
}

/// `GET /shared/{key}`: a shared collection, read-only.
pub async fn shared(State(state): State<AppState>, Path(key): Path<String>, visit: Visit) -> PageResult {
    state
        .blocking(move |s| {
            let c = shared_collection(s, &key)?;
            let items = collection_papers(s, &c)?;
            let v = Viewer::load(s, &visit, &items.iter().map(|(p, _)| p.id.clone()).collect::<Vec<_>>())?;
            let main = html! {
                h1 { (c.name) }
                p { "A reading list shared from paperboy · " (count(items.len(), "paper")) " · " a href=(format!("/shared/{key}/feed.xml")) { "Atom feed" } }
                h2.visually-hidden { "Papers" }
                @if items.is_empty() { p.empty { "No papers yet." } } @else {
                    ol.papers { @for (p, item) in &items { (paper_item(p, None, note_markup(item), &v)) } }
                }
            };
            Ok(Html(page(s, &c.name, main).into_string()))
        })
        .await
}

fn shared_collection(s: &AppState, key: &str) -> Result<Collection, WebError> {
    let unknown = || WebError::NotFound("this shared collection does not exist or is no longer shared".into());
    if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    s.store().shared_collection(key)?.ok_or_else(unknown)
}

/// `GET /shared/{key}/feed.xml`: a shared collection as Atom, most recently saved first.
pub async fn shared_feed(State(state): State<AppState>, Path(key): Path<String>) -> Result<Response, PageError> {
    state
        .blocking(move |s| {
            let c = shared_collection(s, &key)?;
            let papers = collection_papers(s, &c)?.into_iter().map(|(p, _)| p).take(100).collect();
            let base = s.config().base_url.clone();
            let page = urls::shared_collection(&base, &key);
            Ok(feeds::atom_response(&format!("paperboy: {}", c.name), &page, &format!("{page}/feed.xml"), "A reading list shared from paperboy.", papers, &base))
        })
        .await
}

/// The author of a page's slug, named as their newest paper names them.
fn author_papers(s: &AppState, slug: &str, offset: usize, limit: usize) -> Result<(String, String, Vec<Paper>), WebError> {
    let key = author_key_of_slug(slug);
    if key.is_empty() {
        return Err(WebError::NotFound(format!("{slug:?} is not an author")));
    }
    let papers = s.store().papers_by_authors(std::slice::from_ref(&key), None, offset, limit)?;
    let name = papers
        .iter()
        .flat_map(|p| &p.authors)
        .find(|a| paperboy_engine::readers::author_key(&a.name) == key)
        .map(|a| a.name.clone());
    match name {
        Some(name) => Ok((key, name, papers)),
        None if offset > 0 => Ok((key.clone(), key, papers)),
        None => Err(WebError::NotFound(format!("no papers by {slug:?} here"))),
    }
}

/// `GET /author/{slug}`: an author's papers, newest first, with following and a feed.
pub async fn author(State(state): State<AppState>, Path(slug): Path<String>, params: Params, visit: Visit) -> PageResult {
    let page_no = params.page()?;
    state
        .blocking(move |s| {
            let (key, name, mut papers) = author_papers(s, &slug, (page_no - 1) * PER_PAGE, PER_PAGE + 1)?;
            let has_next = papers.len() > PER_PAGE;
            papers.truncate(PER_PAGE);
            let v = Viewer::load(s, &visit, &papers.iter().map(|p| p.id.clone()).collect::<Vec<_>>())?;
            let following = match &v.reader {
                Some(r) => s.store().follows(r.id)?.iter().any(|f| f.key == key),
                None => false,
            };
            let main = html! {
                h1 { (name) }
                p { "Papers by " (name) ", newest first · " a href=(format!("{}/feed.xml", urls::author("", &slug))) { "Atom feed" } }
                @if v.reader.is_some() {
                    (follow_toggle(&v.csrf, &name, &v.here, following, html! { (if following { "Following" } else { "Follow" }) }))
                    @if following { p.hint { "Their new papers come in a section of your digest." } }
                } @else {
                    p.sign-in-hint { a href=(format!("/sign-in?next={}", crate::render::url_encode(&v.here))) { "Sign in" } " to follow " (name) " and get their new papers in your digest." }
                }
                h2.visually-hidden { "Papers" }
                ol.papers start=((page_no - 1) * PER_PAGE + 1) { @for p in &papers { (paper_item(p, None, None, &v)) } }
                (pager(page_no, has_next, |p| format!("{}?page={p}", urls::author("", &slug))))
            };
            Ok(Html(page(s, &name, main).into_string()))
        })
        .await
}

/// `GET /author/{slug}/feed.xml`: an author's newest papers as Atom.
pub async fn author_feed(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response, PageError> {
    state
        .blocking(move |s| {
            let (_, name, papers) = author_papers(s, &slug, 0, 30)?;
            let base = s.config().base_url.clone();
            let page = urls::author(&base, &slug);
            Ok(feeds::atom_response(&format!("paperboy: papers by {name}"), &page, &format!("{page}/feed.xml"), &format!("The newest papers by {name}."), papers, &base))
        })
        .await
}
