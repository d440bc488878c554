//! RSS 2.0 and Atom feeds: the daily papers, trending, a category and a saved search.
//! `.xml` is RSS; add `?format=atom` for Atom. Written with quick-xml, which escapes every text.

use std::io::Cursor;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use paperboy_core::{urls, Category, Paper};
use paperboy_engine::search::{Filters, Mode};
use paperboy_engine::trending::Window;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::error::{PageError, WebError};
use crate::params::{Params, SearchParams};
use crate::render::{author_line, long_day, url_encode};
use crate::state::AppState;

/// Items per feed.
const ITEMS: usize = 30;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Rss,
    Atom,
}

fn format_of(params: &Params) -> Result<Format, WebError> {
    match params.text("format") {
        None | Some("rss") => Ok(Format::Rss),
        Some("atom") => Ok(Format::Atom),
        Some(other) => Err(WebError::BadRequest(format!("format: {other:?} is not rss or atom"))),
    }
}

/// A feed before it is written out.
struct Feed {
    title: String,
    /// The page the feed follows (absolute).
    page: String,
    /// The feed's own address (absolute).
    self_url: String,
    description: String,
    papers: Vec<Paper>,
    /// Per paper, what this feed says of it beyond the paper (Atom only; empty: nothing).
    notes: Vec<Option<Note>>,
}

/// What a feed entry says beyond its paper: an event of a watched paper, or why an alert sent it.
pub(crate) struct Note {
    /// Added to the entry's id (`…/paper/ID#v2`), so each event is an entry of its own.
    pub fragment: Option<String>,
    /// Put before the paper's title.
    pub title: Option<String>,
    /// Put before the paper's summary.
    pub summary: String,
    /// The entry's time.
    pub updated: chrono::DateTime<chrono::Utc>,
}

fn response(feed: Feed, format: Format, base: &str) -> Response {
    let (body, mime) = match format {
        Format::Rss => (rss(&feed, base), "application/rss+xml; charset=utf-8"),
        Format::Atom => (atom(&feed, base), "application/atom+xml; charset=utf-8"),
    };
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "max-age=300")], body).into_response()
}

/// An Atom feed of `papers` (shared collections, authors).
pub(crate) fn atom_response(title: &str, page: &str, self_url: &str, description: &str, papers: Vec<Paper>, base: &str) -> Response {
    let feed = Feed { title: title.to_owned(), page: page.to_owned(), self_url: self_url.to_owned(), description: description.to_owned(), papers, notes: vec![] };
    response(feed, Format::Atom, base)
}

/// An Atom feed of papers, each with what the feed says of it (the alerts feed).
pub(crate) fn atom_notes_response(title: &str, page: &str, self_url: &str, description: &str, entries: Vec<(Paper, Option<Note>)>, base: &str) -> Response {
    let (papers, notes) = entries.into_iter().unzip();
    let feed = Feed { title: title.to_owned(), page: page.to_owned(), self_url: self_url.to_owned(), description: description.to_owned(), papers, notes };
    response(feed, Format::Atom, base)
}

type W = Writer<Cursor<Vec<u8>>>;

fn text(w: &mut W, name: &str, value: &str) {
    w.create_element(name).write_text_content(BytesText::new(value)).expect("writing to memory");
}

fn start(w: &mut W, el: BytesStart<'_>) {
    w.write_event(Event::Start(el)).expect("writing to memory");
}

fn end(w: &mut W, name: &str) {
    w.write_event(Event::End(BytesEnd::new(name))).expect("writing to memory");
}

fn new_writer() -> W {
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 1);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None))).expect("writing to memory");
    w
}

/// Midnight UTC of a day.
fn day_time(d: NaiveDate) -> chrono::DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// When a feed last changed: its newest paper's day (the Unix epoch for a feed with none). Never
/// the time of the request, so an unchanged feed is the same bytes, and its ETag holds.
fn feed_updated(feed: &Feed) -> chrono::DateTime<Utc> {
    feed.papers.iter().filter_map(Paper::day).max().map_or(chrono::DateTime::UNIX_EPOCH, day_time)
}

fn rss(feed: &Feed, base: &str) -> Vec<u8> {
    let mut w = new_writer();
    start(&mut w, BytesStart::new("rss").with_attributes([("version", "2.0"), ("xmlns:atom", "http://www.w3.org/2005/Atom")]));
    start(&mut w, BytesStart::new("channel"));
    text(&mut w, "title", &feed.title);
    text(&mut w, "link", &feed.page);
    text(&mut w, "description", &feed.description);
    w.write_event(Event::Empty(BytesStart::new("atom:link").with_attributes([
        ("href", feed.self_url.as_str()),
        ("rel", "self"),
        ("type", "application/rss+xml"),
    ])))
    .expect("writing to memory");
    text(&mut w, "lastBuildDate", &feed_updated(feed).to_rfc2822());
    for p in &feed.papers {
        let url = urls::paper(base, &p.id);
        start(&mut w, BytesStart::new("item"));
        text(&mut w, "title", &p.title);
        text(&mut w, "link", &url);
        w.create_element("guid").with_attribute(("isPermaLink", "true")).write_text_content(BytesText::new(&url)).expect("writing to memory");
        if let Some(day) = p.day() {
            text(&mut w, "pubDate", &day_time(day).to_rfc2822());
        }
        text(&mut w, "description", &item_text(p));
        for c in &p.categories {
            text(&mut w, "category", c.as_str());
        }
        end(&mut w, "item");
    }
    end(&mut w, "channel");
    end(&mut w, "rss");
    w.into_inner().into_inner()
}

fn atom(feed: &Feed, base: &str) -> Vec<u8> {
    let mut w = new_writer();
    start(&mut w, BytesStart::new("feed").with_attributes([("xmlns", "http://www.w3.org/2005/Atom")]));
    text(&mut w, "title", &feed.title);
    text(&mut w, "subtitle", &feed.description);
    text(&mut w, "id", &feed.self_url);
    let link = |rel: &'static str, href: &str| BytesStart::new("link").with_attributes([("rel", rel), ("href", href)]).into_owned();
    w.write_event(Event::Empty(link("self", &feed.self_url))).expect("writing to memory");
    w.write_event(Event::Empty(link("alternate", &feed.page))).expect("writing to memory");
    let updated = feed_updated(feed);
    text(&mut w, "updated", &updated.to_rfc3339());
    start(&mut w, BytesStart::new("author"));
    text(&mut w, "name", "paperboy");
    end(&mut w, "author");
    for (i, p) in feed.papers.iter().enumerate() {
        let note = feed.notes.get(i).and_then(Option::as_ref);
        let url = urls::paper(base, &p.id);
        start(&mut w, BytesStart::new("entry"));
        match note.and_then(|n| n.title.as_deref()) {
            Some(t) => text(&mut w, "title", &format!("{t}: {}", p.title)),
            None => text(&mut w, "title", &p.title),
        }
        match note.and_then(|n| n.fragment.as_deref()) {
            Some(f) => text(&mut w, "id", &format!("{url}#{}", urls::encode(f))),
            None => text(&mut w, "id", &url),
        }
        w.write_event(Event::Empty(link("alternate", &url))).expect("writing to memory");
        text(&mut w, "updated", &note.map(|n| n.updated).unwrap_or_else(|| p.day().map_or(updated, day_time)).to_rfc3339());
        for a in p.authors.iter().take(20) {
            start(&mut w, BytesStart::new("author"));
            text(&mut w, "name", &a.name);
            end(&mut w, "author");
        }
        for c in &p.categories {
            w.write_event(Event::Empty(BytesStart::new("category").with_attributes([("term", c.as_str())]))).expect("writing to memory");
        }
        match note {
            Some(n) => text(&mut w, "summary", &format!("{}\n\n{}", n.summary, item_text(p))),
            None => text(&mut w, "summary", &item_text(p)),
        }
        end(&mut w, "entry");
    }
    end(&mut w, "feed");
    w.into_inner().into_inner()
}

fn item_text(p: &Paper) -> String {
    let authors = author_line(p);
    let votes = p.signals.hf_upvotes.map(|v| format!(" ({v} upvotes)")).unwrap_or_default();
    if authors.is_empty() {
        format!("{}{votes}", p.abstract_text)
    } else {
        format!("{authors}{votes}\n\n{}", p.abstract_text)
    }
}

/// `/feeds/daily.xml`: the latest day's papers, most upvoted first.
pub async fn daily(State(state): State<AppState>, params: Params) -> Result<Response, PageError> {
    let format = format_of(&params)?;
    state
        .blocking(move |s| {
            let store = s.store();
            let base = s.config().base_url.clone();
            let (papers, title) = match store.latest_day()? {
                Some(d) => (store.papers_on(d)?, format!("paperboy: papers of {}", long_day(d))),
                None => (vec![], "paperboy: daily papers".to_owned()),
            };
            let feed = Feed {
                title,
                page: format!("{base}/"),
                self_url: format!("{base}/feeds/daily.xml"),
                description: "The papers of the latest day, most upvoted first.".into(),
                papers: papers.into_iter().take(ITEMS).collect(),
                notes: vec![],
            };
            Ok(response(feed, format, &base))
        })
        .await
}

/// `/feeds/trending.xml?window=day|week|month`.
pub async fn trending(State(state): State<AppState>, params: Params) -> Result<Response, PageError> {
    let format = format_of(&params)?;
    let window = params.window("window", Window::Week)?;
    state
        .blocking(move |s| {
            let base = s.config().base_url.clone();
            let latest = s.store().latest_day()?;
            let papers = match latest {
                Some(d) => s.trending(window, d)?.iter().take(ITEMS).map(|t| t.paper.clone()).collect(),
                None => vec![],
            };
            let feed = Feed {
                title: format!("paperboy: trending this {window}"),
                page: format!("{base}/?period={window}"),
                self_url: format!("{base}/feeds/trending.xml?window={window}"),
                description: format!("The papers with the highest trending score this {window} (upvotes, decaying with age)."),
                papers,
                notes: vec![],
            };
            Ok(response(feed, format, &base))
        })
        .await
}

/// `/feeds/category/{category}.xml`: a category's newest papers.
pub async fn category(State(state): State<AppState>, Path(file): Path<String>, params: Params) -> Result<Response, PageError> {
    let mut format = format_of(&params)?;
    let name = match (file.strip_suffix(".xml"), file.strip_suffix(".atom")) {
        (Some(n), _) => n,
        (_, Some(n)) => {
            format = Format::Atom;
            n
        }
        _ => return Err(WebError::NotFound(format!("{file:?}: category feeds are /feeds/category/CATEGORY.xml")).into()),
    };
    let cat: Category = name.parse().map_err(|_| WebError::NotFound(format!("{name:?} is not an arXiv category")))?;
    state
        .blocking(move |s| {
            let base = s.config().base_url.clone();
            let papers = s.store().papers_in_category(cat.as_str(), 0, ITEMS)?;
            let feed = Feed {
                title: format!("paperboy: {}", cat.name().map_or_else(|| cat.to_string(), |n| format!("{n} ({cat})"))),
                page: urls::category(&base, &cat),
                self_url: urls::category_feed(&base, &cat),
                description: format!("The newest papers in {cat}."),
                papers,
                notes: vec![],
            };
            Ok(response(feed, format, &base))
        })
        .await
}

/// `/feeds/search.xml?q=…`: a saved search, best matches first.
pub async fn search(State(state): State<AppState>, params: Params) -> Result<Response, PageError> {
    let format = format_of(&params)?;
    // A feed follows the words and the mode (the page's "follow this search" link carries
    // nothing else): the best matches, without date or category filters.
    let asked = SearchParams { q: params.text("q").unwrap_or("").to_owned(), mode: params.mode()?, filters: Filters::default() };
    let query = asked.query()?;
    let (q, mode): (String, Mode) = (asked.q, asked.mode);
    let slot = state.admit_search(&query, mode).await?;
    state
        .blocking(move |s| {
            let _slot = slot;
            let base = s.config().base_url.clone();
            let service = s.search_ready()?;
            let store = s.store();
            let hits = service.search(&*store, &query, mode, &Filters::default(), ITEMS)?;
            drop(store);
            let papers = s.papers_of(&hits)?.into_iter().map(|(p, _)| (*p).clone()).collect();
            let feed = Feed {
                title: format!("paperboy: “{q}”"),
                page: format!("{base}/search?q={}&mode={mode}", url_encode(&q)),
                self_url: format!("{base}/feeds/search.xml?q={}&mode={mode}", url_encode(&q)),
                description: format!("Papers matching “{q}” ({mode} search)."),
                papers,
                notes: vec![],
            };
            Ok(response(feed, format, &base))
        })
        .await
}
