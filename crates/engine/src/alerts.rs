//! Alerts: a reader's saved searches, matched against the papers that arrive after them and
//! delivered to the reader's private Atom feed and to webhooks, each paper once per output.
//!
//! - **Matching** runs over the papers stored since the alert's last run (their `seq` after
//!   the alert's `seen_seq`): the saved query ranks them (BM25, meaning or both, as saved); a
//!   paper matches when it shares words with the query or is close enough in meaning (cosine
//!   at least [`MEANING_FLOOR`], or the alert's own minimum); the alert's categories and
//!   authors narrow it; its **exclusions are hard**: a paper whose title or abstract holds an
//!   excluded word (whole word, any case, plural too) or phrase, or that is filed under an
//!   excluded category or written by an excluded author, never matches, however it ranks. At
//!   most `top_n` papers per alert and run, best first.
//! - **One ledger**: a reader gets an item once per output (`feed`, or `webhook:URL`),
//!   across alerts and runs; two alerts that match one paper in a run deliver it once, naming
//!   both. A run's ledger rows, webhook deliveries and each alert's new `seen_seq` are one
//!   transaction: a crash before it leaves nothing half done, and the next run matches the same
//!   papers again.
//! - **Webhooks** go through their own outbox: each delivery has an idempotency key (the same
//!   on every attempt), is signed with HMAC-SHA256 under the alert's secret, retried with
//!   backoff ([`retry_after`]) up to [`WEBHOOK_ATTEMPTS`] times, and an alert whose endpoint
//!   failed [`FAILURES_TO_DISABLE`] times in a row has its webhook disabled (the alerts page
//!   says so) until the reader saves it again. Only `http(s)` targets whose addresses are
//!   public are called, unless the operator allows private ones ([`check_target`]).

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, ToSocketAddrs};

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use paperboy_core::{Paper, PaperId};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::readers::author_key;
use crate::search::{Filters, Mode, SearchError, SearchQuery, SearchService};
use crate::store::{Store, StoreError};

/// Cosine similarity to the query from which a paper counts as close in meaning (a paper
/// that shares no word with the query must be at least this close).
pub const MEANING_FLOOR: f32 = 0.45;
/// Papers per alert and run when the alert does not say.
pub const DEFAULT_TOP_N: usize = 10;
/// Attempts at one webhook delivery before it is given up.
pub const WEBHOOK_ATTEMPTS: u32 = 8;
/// Failed attempts in a row after which an alert's webhook is disabled.
pub const FAILURES_TO_DISABLE: u32 = 5;
/// Events of watched papers handled per run at most (the rest wait for the next).
const EVENTS_PER_RUN: usize = 10_000;
/// The output of alert matches that go out in the reader's email digest.
pub const EMAIL: &str = "email";
/// The "alert" name under which a watched paper's events are delivered.
pub const WATCHING: &str = "watched paper";
/// Papers read from the store per page while collecting a run's candidates.
const PAGE: usize = 2_000;
/// Longest alert name, query, and list entry (characters); most entries per list.
const MAX_NAME: usize = 80;
const MAX_QUERY: usize = 500;
const MAX_ENTRY: usize = 120;
const MAX_ENTRIES: usize = 50;

/// What an alert never lets through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exclusions {
    /// Whole words (any case; a plural in `s`/`es` too).
    pub words: Vec<String>,
    /// Phrases: these words one after another.
    pub phrases: Vec<String>,
    /// Categories (primary or cross-listed), e.g. `cs.CV`.
    pub categories: Vec<String>,
    /// Authors, by name (matched as the follows are: case and accents aside).
    pub authors: Vec<String>,
}

/// Where a webhook body is shaped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// paperboy's JSON, signed.
    #[default]
    Json,
    /// A Slack-compatible incoming-webhook message (`{"text": …}`).
    Slack,
    /// An ntfy-compatible publish (plain-text message, `Title` and `Click` headers).
    Ntfy,
}

/// A webhook target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `http(s)://…`
    pub url: String,
    /// Body shape.
    #[serde(default)]
    pub format: WebhookFormat,
}

/// A saved search, as the reader gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    /// The query, in the search box's syntax.
    pub query: String,
    /// How to search.
    #[serde(default)]
    pub mode: Mode,
    /// Only papers in one of these categories (none: any).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Only papers by one of these authors (none: any).
    #[serde(default)]
    pub authors: Vec<String>,
    /// Never these.
    #[serde(default)]
    pub exclude: Exclusions,
    /// Cosine similarity to the query a match needs at least (0–1); none: words in common or
    /// [`MEANING_FLOOR`].
    #[serde(default)]
    pub min_score: Option<f32>,
    /// Matches per run at most (1–100); none: [`DEFAULT_TOP_N`].
    #[serde(default)]
    pub top_n: Option<usize>,
    /// Deliver to the reader's private alerts feed (with no other output, the alert is paused).
    #[serde(default = "yes")]
    pub feed: bool,
    /// Deliver to the reader's email digest too (a section of its own, when they subscribe).
    #[serde(default)]
    pub email: bool,
    /// Deliver to this webhook too.
    #[serde(default)]
    pub webhook: Option<Webhook>,
}

fn yes() -> bool {
    true
}

impl AlertSpec {
    /// A spec for `query` with the defaults (hybrid, feed only).
    pub fn new(query: &str) -> AlertSpec {
        AlertSpec { query: query.into(), mode: Mode::Hybrid, categories: vec![], authors: vec![], exclude: Exclusions::default(), min_score: None, top_n: None, feed: true, email: false, webhook: None }
    }

    /// The spec tidied (entries trimmed, empty ones and repeats dropped, categories checked),
    /// or what is wrong with it, naming the field.
    pub fn checked(mut self) -> Result<AlertSpec, String> {
        self.query = self.query.trim().to_owned();
        if self.query.is_empty() {
            return Err("query: an alert needs a query".into());
        }
        if self.query.chars().count() > MAX_QUERY {
            return Err(format!("query: at most {MAX_QUERY} characters"));
        }
        SearchQuery::parse(&self.query).map_err(|e| format!("query: {e}"))?;
        for (field, list) in [
            ("categories", &mut self.categories),
            ("authors", &mut self.authors),
            ("exclude.words", &mut self.exclude.words),
            ("exclude.phrases", &mut self.exclude.phrases),
            ("exclude.categories", &mut self.exclude.categories),
            ("exclude.authors", &mut self.exclude.authors),
        ] {
            tidy(field, list)?;
        }
        for (field, list) in [("categories", &self.categories), ("exclude.categories", &self.exclude.categories)] {
            for c in list {
                c.parse::<paperboy_core::Category>().map_err(|e| format!("{field}: {e}"))?;
            }
        }
        if let Some(w) = self.exclude.words.iter().find(|w| words(w).len() != 1) {
            return Err(format!("exclude.words: {w:?} is not one word (put it under exclude.phrases)"));
        }
        if let Some(s) = self.min_score {
            if !(0.0..=1.0).contains(&s) {
                return Err(format!("min_score: {s} is outside 0–1"));
            }
        }
        if let Some(n) = self.top_n {
            if !(1..=100).contains(&n) {
                return Err(format!("top_n: {n} is outside 1–100"));
            }
        }
        if let Some(hook) = &mut self.webhook {
            hook.url = hook.url.trim().to_owned();
            target(&hook.url).map_err(|e| format!("webhook.url: {e}"))?;
        }
        Ok(self)
    }

    /// Whether `paper` is one this alert may deliver: in its categories and by its authors
    /// (when it names any), and not excluded.
    pub fn admits(&self, paper: &Paper) -> bool {
        let in_categories = self.categories.is_empty() || paper.categories.iter().any(|c| self.categories.iter().any(|w| w == c.as_str()));
        let by_authors = self.authors.is_empty() || {
            let wanted: HashSet<String> = self.authors.iter().map(|a| author_key(a)).collect();
            paper.authors.iter().any(|a| wanted.contains(&author_key(&a.name)))
        };
        in_categories && by_authors && violation(&self.exclude, paper).is_none()
    }
}

fn tidy(field: &str, list: &mut Vec<String>) -> Result<(), String> {
    let mut seen = HashSet::new();
    list.retain_mut(|s| {
        *s = s.trim().to_owned();
        !s.is_empty() && seen.insert(s.to_lowercase())
    });
    if list.len() > MAX_ENTRIES {
        return Err(format!("{field}: at most {MAX_ENTRIES} entries"));
    }
    match list.iter().find(|s| s.chars().count() > MAX_ENTRY) {
        Some(s) => Err(format!("{field}: {:?}… is longer than {MAX_ENTRY} characters", s.chars().take(20).collect::<String>())),
        None => Ok(()),
    }
}

/// A name for an alert, tidied, or why it cannot be one.
pub fn alert_name(name: &str) -> Result<String, String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err("name: an alert needs a name".into());
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(format!("name: at most {MAX_NAME} characters, no control characters"));
    }
    Ok(name)
}

/// The name an alert gets when it is given none: its query, shortened to fit.
pub fn default_name(query: &str) -> String {
    let q = query.split_whitespace().collect::<Vec<_>>().join(" ");
    match q.char_indices().nth(MAX_NAME - 1) {
        Some((cut, _)) => format!("{}…", &q[..cut]),
        None => q,
    }
}

/// The lower-cased words of a text (letters and digits; anything else separates).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Why `paper` is excluded, or `None`.
pub fn violation(ex: &Exclusions, paper: &Paper) -> Option<String> {
    if let Some(c) = ex.categories.iter().find(|c| paper.categories.iter().any(|pc| pc.as_str().eq_ignore_ascii_case(c))) {
        return Some(format!("category {c}"));
    }
    if !ex.authors.is_empty() {
        let theirs: HashSet<String> = paper.authors.iter().map(|a| author_key(&a.name)).collect();
        if let Some(a) = ex.authors.iter().find(|a| theirs.contains(&author_key(a))) {
            return Some(format!("author {a}"));
        }
    }
    if ex.words.is_empty() && ex.phrases.is_empty() {
        return None;
    }
    let text = words(&format!("{}\n{}", paper.title, paper.abstract_text));
    for w in &ex.words {
        let w = w.to_lowercase();
        let (s, es) = (format!("{w}s"), format!("{w}es"));
        if text.iter().any(|t| *t == w || *t == s || *t == es) {
            return Some(format!("word {w:?}"));
        }
    }
    for p in &ex.phrases {
        let phrase = words(p);
        if !phrase.is_empty() && text.windows(phrase.len()).any(|win| win == phrase.as_slice()) {
            return Some(format!("phrase {p:?}"));
        }
    }
    None
}

/// A saved search as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Its id.
    pub id: i64,
    /// The reader it belongs to.
    pub reader: i64,
    /// Its name (unique per reader).
    pub name: String,
    /// What it matches and where it delivers.
    pub spec: AlertSpec,
    /// Papers stored up to this `seq` have been matched.
    pub seen_seq: i64,
    /// The secret its webhook deliveries are signed with.
    #[serde(skip)]
    pub secret: String,
    /// Failed webhook attempts in a row.
    pub webhook_failures: u32,
    /// When its webhook was disabled after failing, with the last error.
    pub webhook_disabled: Option<(DateTime<Utc>, String)>,
    /// When it last ran.
    pub last_run_at: Option<DateTime<Utc>>,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
}

/// One item a run delivers to one output of a reader.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The item (a paper id).
    pub item: String,
    /// `feed` or `webhook:URL`.
    pub output: String,
    /// Names of the alerts that matched it.
    pub alerts: Vec<String>,
    /// For a webhook: the request to queue.
    pub webhook: Option<WebhookRequest>,
}

/// A webhook request to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRequest {
    /// The alert whose webhook this is (its secret signs, its failures count).
    pub alert: i64,
    /// Target.
    pub url: String,
    /// The same on every attempt.
    pub idempotency_key: String,
    /// `Content-Type`.
    pub content_type: String,
    /// Extra headers (ntfy's `Title`, `Click`).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

/// What one run of a reader's alerts records, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The reader.
    pub reader: i64,
    /// Each alert run, with the `seq` it has now seen up to.
    pub seen: Vec<(i64, i64)>,
    /// What to deliver (items already delivered to an output are skipped by the store).
    pub deliveries: Vec<Delivery>,
    /// Each watched paper whose events were handled, with the last event's id.
    pub events_seen: Vec<(PaperId, i64)>,
}

/// A feed entry: an item delivered to the reader's feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedEntry {
    /// The item (a paper id).
    pub item: String,
    /// Names of the alerts that matched it.
    pub alerts: Vec<String>,
    /// When it was delivered.
    pub at: DateTime<Utc>,
}

/// A webhook delivery claimed for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookJob {
    /// Row id.
    pub id: i64,
    /// The request.
    pub request: WebhookRequest,
    /// The alert's signing secret.
    pub secret: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookState {
    /// Waiting (for its first attempt or a retry).
    Queued,
    /// Claimed by a worker.
    Sending,
    /// The endpoint answered 2xx.
    Sent,
    /// Given up after [`WEBHOOK_ATTEMPTS`], or its alert's webhook is disabled.
    Failed,
}

impl WebhookState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookState::Queued => "queued",
            WebhookState::Sending => "sending",
            WebhookState::Sent => "sent",
            WebhookState::Failed => "failed",
        }
    }

    /// A stored name.
    pub fn parse(s: &str) -> Option<WebhookState> {
        Some(match s {
            "queued" => WebhookState::Queued,
            "sending" => WebhookState::Sending,
            "sent" => WebhookState::Sent,
            "failed" => WebhookState::Failed,
            _ => return None,
        })
    }
}

/// How long after its `attempts`-th failed attempt a delivery is tried again: 30 s, 2 min,
/// 8 min, … at most 6 hours.
pub fn retry_after(attempts: u32) -> Duration {
    Duration::seconds((30i64 << (2 * attempts.saturating_sub(1).min(10))).min(6 * 3600))
}

/// What went wrong running alerts.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Search failed.
    #[error(transparent)]
    Search(#[from] SearchError),
}

/// What a run of every alert did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Alerts run.
    pub alerts: usize,
    /// Papers looked at (new since the oldest alert's last run).
    pub candidates: usize,
    /// Deliveries handed to the store (before the ledger).
    pub matched: usize,
    /// Events of watched papers handed to their watchers.
    pub events: usize,
}

/// The stems of a text's words, stop words left out.
fn stems(text: &str) -> HashSet<String> {
    words(text)
        .into_iter()
        .filter(|w| !crate::library::STOP_WORDS.contains(&w.as_str()))
        .map(|mut w| {
            crate::search::stem::stem(&mut w);
            w
        })
        .collect()
}

/// Matches of one alert among `candidates`: `(paper, similarity to the query)`, those that
/// hold every word of the query first, then by similarity; at most its `top_n`.
///
/// A paper matches by its words when it holds every word of the query (stemmed, stop words
/// aside; a query in the search syntax — phrases, fields, `+`/`-` — is the index's to
/// judge), and by meaning when its cosine similarity to the query is at least the alert's
/// `min_score` or [`MEANING_FLOOR`]. With a `min_score`, only meaning counts.
pub fn matches(service: &SearchService, spec: &AlertSpec, candidates: &[&Paper]) -> Result<Vec<(PaperId, f32)>, AlertError> {
    if candidates.is_empty() {
        return Ok(vec![]);
    }
    let query = SearchQuery::parse(&spec.query)?;
    let lexical: Box<dyn Fn(&Paper) -> bool> = if crate::search::syntax::uses_query_syntax(&spec.query) {
        let since = candidates.iter().filter_map(|p| p.day()).min();
        let filters = Filters { since, until: None, category: None };
        let hits: HashSet<PaperId> = service.rank(&query, Mode::Bm25, &filters, (candidates.len() * 4).max(200))?.into_iter().map(|h| h.id).collect();
        Box::new(move |p: &Paper| hits.contains(&p.id))
    } else {
        let wanted = stems(&spec.query);
        Box::new(move |p: &Paper| {
            let have = stems(&format!("{}\n{}", p.title, p.abstract_text));
            !wanted.is_empty() && wanted.iter().all(|w| have.contains(w))
        })
    };
    let vector = (spec.mode != Mode::Bm25).then(|| service.text_vector(&spec.query)).transpose()?;
    let floor = spec.min_score.unwrap_or(MEANING_FLOOR);
    let mut found: Vec<(PaperId, f32, bool)> = service.with_vectors(|set| {
        candidates
            .iter()
            .filter(|p| spec.admits(p))
            .filter_map(|p| {
                let sim = match (&vector, set.slot_of(&p.id)) {
                    (Some(q), Some(slot)) => set.vector(slot).iter().zip(q).map(|(a, b)| a * b).sum(),
                    _ => 0.0,
                };
                let by_words = spec.min_score.is_none() && spec.mode != Mode::Semantic && lexical(p);
                let by_meaning = vector.is_some() && sim >= floor;
                (by_words || by_meaning).then(|| (p.id.clone(), sim, by_words))
            })
            .collect()
    });
    found.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.total_cmp(&a.1)).then_with(|| a.0.cmp(&b.0)));
    Ok(found.into_iter().take(spec.top_n.unwrap_or(DEFAULT_TOP_N)).map(|(id, sim, _)| (id, sim)).collect())
}

/// Something that happened to a stored paper that its watchers hear of: a new arXiv version, a
/// journal reference or DOI, a code or project link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaperEvent {
    /// Its id (events are numbered in the order they were recorded).
    pub id: i64,
    /// The paper.
    pub paper: PaperId,
    /// `version`, `journal_ref`, `doi`, `code` or `project`.
    pub kind: String,
    /// The event's stable key, `PAPER#what` (`2401.00001#v2`, `2401.00001#doi`): an event is
    /// recorded once, and reaches a reader's output once.
    pub key: String,
    /// In words: "new version v2 (2026-01-03): 12 pages, code released".
    pub text: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// A reader's choices for their alerts as a whole: where watched papers' news goes beyond their
/// alerts feed, and how alert email is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AlertSettings {
    /// Every paper the reader saves is watched too (from when it is saved).
    pub saved: bool,
    /// The news goes to the reader's email too.
    pub email: bool,
    /// The news goes to the webhook of this alert of the reader's too.
    pub webhook_alert: Option<i64>,
    /// Alert email (matches and news) goes out as a message of its own after each alerts run,
    /// rather than as a section of the digest.
    pub separate: bool,
}

/// An event to record (before it has an id): kind, key and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// See [`PaperEvent::kind`].
    pub kind: &'static str,
    /// See [`PaperEvent::key`].
    pub key: String,
    /// See [`PaperEvent::text`].
    pub text: String,
}

/// What changed between a stored paper and its merged update, as events for its watchers:
/// each version past the stored ones, and a journal reference, DOI, code or project link that
/// appeared or changed.
pub fn events_between(before: &Paper, after: &Paper) -> Vec<NewEvent> {
    let id = &after.id;
    let mut out = Vec::new();
    let newest = before.versions.iter().map(|v| v.version).max().unwrap_or(0);
    for v in after.versions.iter().filter(|v| v.version > newest) {
        let date = v.date.map(|d| format!(" ({})", d.date_naive())).unwrap_or_default();
        let comment = after.comments.as_deref().filter(|c| !c.trim().is_empty()).map(|c| format!(": {}", c.trim())).unwrap_or_default();
        out.push(NewEvent { kind: "version", key: format!("{id}#v{}", v.version), text: format!("new version v{}{date}{comment}", v.version) });
    }
    let changed = |b: &Option<String>, a: &Option<String>| a.as_deref().filter(|a| !a.trim().is_empty() && b.as_deref() != Some(*a)).map(str::to_owned);
    for (kind, b, a, words) in [
        ("journal_ref", &before.journal_ref, &after.journal_ref, "published"),
        ("doi", &before.doi, &after.doi, "DOI"),
        ("code", &before.links.code, &after.links.code, "code"),
        ("project", &before.links.project, &after.links.project, "project page"),
    ] {
        if let Some(value) = changed(b, a) {
            out.push(NewEvent { kind, key: format!("{id}#{kind}:{value}"), text: format!("{words}: {value}") });
        }
    }
    out
}

/// What one output of a reader gets of one item in a run: the names of the alerts that matched
/// it, the paper, and the alert whose webhook it goes to (none for the feed).
type Found<'a> = (Vec<String>, &'a Paper, Option<&'a Alert>);

/// Runs every alert over the papers stored since its last run and records what each reader
/// gets (see the module docs). `base_url` makes the links in webhook bodies.
pub fn run_all(store: &mut dyn Store, service: &SearchService, base_url: &str, now: DateTime<Utc>) -> Result<RunReport, AlertError> {
    let all = store.all_alerts()?;
    let events = store.watch_events(EVENTS_PER_RUN)?;
    let mut report = RunReport { alerts: all.len(), events: events.len(), ..RunReport::default() };
    let last = store.last_seq()?;
    let oldest = all.iter().map(|a| a.seen_seq).min().unwrap_or(last);
    let mut papers: Vec<(i64, Paper)> = Vec::new();
    let mut after = oldest;
    while after < last {
        let page = store.papers_changed_since(after, PAGE)?;
        let Some((seq, _)) = page.last() else { break };
        after = *seq;
        papers.extend(page.into_iter().filter(|(s, _)| *s <= last));
    }
    report.candidates = papers.len();
    let mut by_reader: BTreeMap<i64, (Vec<&Alert>, Vec<&PaperEvent>)> = BTreeMap::new();
    for a in &all {
        by_reader.entry(a.reader).or_default().0.push(a);
    }
    for (reader, e) in &events {
        by_reader.entry(*reader).or_default().1.push(e);
    }
    for (reader, (alerts, events)) in by_reader {
        // Nothing new for this reader: no write at all (the worker runs this every tick).
        if events.is_empty() && alerts.iter().all(|a| a.seen_seq >= last) {
            continue;
        }
        let mut run = Run { reader, seen: vec![], deliveries: vec![], events_seen: vec![] };
        let mut found: BTreeMap<String, BTreeMap<String, Found<'_>>> = BTreeMap::new();
        for alert in alerts {
            run.seen.push((alert.id, last));
            // Papers after this alert's last run that are not older than a week before it was
            // saved (a changed old paper is not news).
            let from_day = alert.created_at.date_naive() - chrono::Days::new(7);
            let candidates: Vec<&Paper> = papers.iter().filter(|(s, p)| *s > alert.seen_seq && p.day().is_none_or(|d| d >= from_day)).map(|(_, p)| p).collect();
            for (id, _) in matches(service, &alert.spec, &candidates)? {
                let paper = candidates.iter().find(|p| p.id == id).expect("a match is a candidate");
                let mut outputs: Vec<(String, Option<&Alert>)> = vec![];
                if alert.spec.feed {
                    outputs.push(("feed".into(), None));
                }
                if alert.spec.email {
                    outputs.push((EMAIL.into(), None));
                }
                if let Some(hook) = alert.spec.webhook.as_ref().filter(|_| alert.webhook_disabled.is_none()) {
                    outputs.push((format!("webhook:{}", hook.url), Some(alert)));
                }
                for (output, hook_alert) in outputs {
                    found.entry(output).or_default().entry(id.to_string()).or_insert((vec![], paper, hook_alert)).0.push(alert.name.clone());
                }
            }
        }
        for (output, items) in found {
            for (item, (names, paper, hook_alert)) in items {
                let webhook = hook_alert.and_then(|a| a.spec.webhook.as_ref().map(|h| webhook_request(a.id, reader, h, paper, &names, base_url)));
                run.deliveries.push(Delivery { item, output: output.clone(), alerts: names, webhook });
            }
        }
        // A watched paper's events go to the reader's feed, and to their email if they asked,
        // each once.
        let settings = if events.is_empty() { AlertSettings::default() } else { store.alert_settings(reader)? };
        // The alert whose (working) webhook hears of the news too, and the events' papers.
        let hook = settings.webhook_alert.and_then(|id| all.iter().find(|a| a.id == id && a.reader == reader && a.webhook_disabled.is_none())).and_then(|a| a.spec.webhook.as_ref().map(|h| (a, h)));
        let event_papers: Vec<Paper> = match hook {
            Some(_) => store.papers(&events.iter().map(|e| e.paper.clone()).collect::<Vec<_>>())?,
            None => vec![],
        };
        let mut seen: BTreeMap<&PaperId, i64> = BTreeMap::new();
        for e in events {
            run.deliveries.push(Delivery { item: e.key.clone(), output: "feed".into(), alerts: vec![WATCHING.into()], webhook: None });
            if settings.email {
                run.deliveries.push(Delivery { item: e.key.clone(), output: EMAIL.into(), alerts: vec![WATCHING.into()], webhook: None });
            }
            if let (Some((alert, h)), Some(paper)) = (hook, event_papers.iter().find(|p| p.id == e.paper)) {
                let request = event_request(alert.id, reader, h, paper, e, base_url);
                run.deliveries.push(Delivery { item: e.key.clone(), output: format!("webhook:{}", h.url), alerts: vec![WATCHING.into()], webhook: Some(request) });
            }
            let last = seen.entry(&e.paper).or_insert(e.id);
            *last = (*last).max(e.id);
        }
        run.events_seen = seen.into_iter().map(|(p, id)| (p.clone(), id)).collect();
        report.matched += run.deliveries.len();
        store.record_alert_run(&run, now)?;
    }
    Ok(report)
}

/// The request that tells a webhook about `paper`, which `alerts` matched.
pub fn webhook_request(alert: i64, reader: i64, hook: &Webhook, paper: &Paper, alerts: &[String], base_url: &str) -> WebhookRequest {
    hook_request(alert, reader, hook, paper, Told::Matched(alerts), base_url)
}

/// The request that tells a webhook about `event` of a watched `paper`.
pub fn event_request(alert: i64, reader: i64, hook: &Webhook, paper: &Paper, event: &PaperEvent, base_url: &str) -> WebhookRequest {
    hook_request(alert, reader, hook, paper, Told::Event(event), base_url)
}

/// What a webhook call tells of its paper.
enum Told<'a> {
    /// These alerts matched it.
    Matched(&'a [String]),
    /// This happened to it (it is watched).
    Event(&'a PaperEvent),
}

fn hook_request(alert: i64, reader: i64, hook: &Webhook, paper: &Paper, told: Told<'_>, base_url: &str) -> WebhookRequest {
    let link = format!("{}/paper/{}", base_url.trim_end_matches('/'), paper.id);
    let authors: Vec<&str> = paper.authors.iter().map(|a| a.name.as_str()).collect();
    let item = match &told {
        Told::Matched(_) => paper.id.to_string(),
        Told::Event(e) => e.key.clone(),
    };
    let key = format!("paperboy-{reader}-{item}-{}", &crate::subscriptions::token_hash(&hook.url)[..12]);
    // One line saying why, and the title as the service shows it.
    let (why, headline) = match &told {
        Told::Matched(alerts) => (format!("paperboy alert: {}", alerts.join(", ")), paper.title.clone()),
        Told::Event(e) => (format!("a paper you watch: {}", e.text), format!("{}: {}", e.text, paper.title)),
    };
    let (content_type, headers, body) = match hook.format {
        WebhookFormat::Json => {
            let mut body = serde_json::json!({
                "idempotency_key": key,
                "paper": {
                    "id": paper.id.to_string(),
                    "title": paper.title,
                    "authors": authors,
                    "abstract": paper.abstract_text,
                    "categories": paper.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                    "day": paper.day(),
                    "url": link,
                    "arxiv_url": paper.abs_url(),
                },
            });
            match told {
                Told::Matched(alerts) => {
                    body["type"] = "alert.paper".into();
                    body["alerts"] = serde_json::json!(alerts);
                }
                Told::Event(e) => {
                    body["type"] = "watch.event".into();
                    body["event"] = serde_json::json!({"kind": e.kind, "text": e.text, "key": e.key, "at": e.at});
                }
            }
            ("application/json", vec![], body.to_string())
        }
        WebhookFormat::Slack => {
            // Slack's mrkdwn: &, < and > are escaped, a link is <url|text>.
            let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            let text = format!("*<{}|{}>*\n{}\n_{}_", link, esc(&paper.title), esc(&authors.join(", ")), esc(&why));
            ("application/json", vec![], serde_json::json!({ "text": text }).to_string())
        }
        WebhookFormat::Ntfy => {
            // Header values are one line of visible ASCII (ntfy reads UTF-8 titles sent RFC 2047
            // encoded; plain ASCII keeps every server happy).
            let ascii = |s: &str| s.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect::<String>();
            let title = ascii(&headline.chars().take(200).collect::<String>());
            let body = format!("{}\n{}\n{}", paper.title, authors.join(", "), why);
            ("text/plain; charset=utf-8", vec![("Title".to_owned(), title), ("Click".to_owned(), link.clone()), ("Tags".to_owned(), "page_facing_up".to_owned())], body)
        }
    };
    WebhookRequest { alert, url: hook.url.clone(), idempotency_key: key, content_type: content_type.into(), headers, body }
}

/// `sha256=` and the hex HMAC-SHA256 of `timestamp.body` under `secret`: what the
/// `X-Paperboy-Signature` header carries (with `X-Paperboy-Timestamp`).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The host and port of an `http(s)` URL, or why it is not one paperboy calls.
fn target(url: &str) -> Result<(String, u16), String> {
    let (scheme, rest) = url.split_once("://").ok_or("not an absolute URL (http:// or https://)")?;
    let port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        other => return Err(format!("scheme {other:?}: only http and https")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("user names in the URL are not accepted".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, tail) = v6.split_once(']').ok_or("unclosed [ in the host")?;
            (host.to_owned(), tail.strip_prefix(':').map(|p| p.parse().map_err(|_| format!("port {p:?}"))).transpose()?.unwrap_or(port))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| format!("port {p:?}"))?),
            None => (authority.to_owned(), port),
        },
    };
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("no host, or spaces in the URL".into());
    }
    Ok((host, port))
}

/// Whether an address is one anyone on the internet could reach (not loopback, private,
/// link-local, shared, documentation, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80 || s[0] == 0x2001 && s[1] == 0xdb8)
        }
    }
}

/// Checks a webhook URL as it is saved, without asking DNS (a name is checked again, resolved,
/// before every call: [`check_target`]): `http(s)`, and unless `allow_private`, not
/// `localhost` nor a literal private or local address.
pub fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    let (host, _) = target(url)?;
    if allow_private {
        return Ok(());
    }
    let lower = host.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Err(format!("{host} is this machine (the operator can allow local targets: [alerts] allow_private_webhooks)"));
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if !is_public(ip) => Err(format!("{host} is a private or local address (the operator can allow those: [alerts] allow_private_webhooks)")),
        _ => Ok(()),
    }
}

/// Checks a webhook URL before a call: `http(s)`, and (unless `allow_private`) every address
/// its host resolves to is public, so an alert cannot make the server call into its own
/// network.
pub fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    let (host, port) = target(url)?;
    if allow_private {
        return Ok(());
    }
    let addrs: Vec<IpAddr> = (host.as_str(), port).to_socket_addrs().map_err(|e| format!("{host}: {e}"))?.map(|a| a.ip()).collect();
    match addrs.iter().find(|ip| !is_public(**ip)) {
        Some(ip) => Err(format!("{host} is {ip}, a private or local address (the operator can allow those: [alerts] allow_private_webhooks)")),
        None if addrs.is_empty() => Err(format!("{host} has no address")),
        None => Ok(()),
    }
}

/// What a pass of webhook delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WebhookReport {
    /// Deliveries attempted.
    pub attempted: usize,
    /// Answered 2xx.
    pub sent: usize,
    /// Failed this time (to be retried, or given up).
    pub failed: usize,
}

/// Delivers the webhook requests due at `now`: each POSTed with its signature and
/// idempotency key; 2xx is delivered, anything else (or no answer in 10 s) is retried later.
pub fn deliver_webhooks(store: &mut dyn Store, now: DateTime<Utc>, allow_private: bool, limit: usize) -> Result<WebhookReport, StoreError> {
    let jobs = store.claim_webhooks(now, limit, Duration::minutes(5))?;
    let mut report = WebhookReport { attempted: jobs.len(), ..WebhookReport::default() };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent("paperboy-webhooks")
        .build()
        .into();
    for job in jobs {
        let outcome = check_target(&job.request.url, allow_private).and_then(|()| post(&agent, &job, now));
        match &outcome {
            Ok(()) => report.sent += 1,
            Err(e) => {
                report.failed += 1;
                tracing::warn!(url = %job.request.url, attempt = job.attempts, "webhook delivery failed: {e}");
            }
        }
        store.record_webhook(job.id, outcome, now)?;
    }
    Ok(report)
}

fn post(agent: &ureq::Agent, job: &WebhookJob, now: DateTime<Utc>) -> Result<(), String> {
    let r = &job.request;
    let mut req = agent
        .post(&r.url)
        .header("Content-Type", &r.content_type)
        .header("Idempotency-Key", &r.idempotency_key)
        .header("X-Paperboy-Timestamp", now.timestamp().to_string())
        .header("X-Paperboy-Signature", signature(&job.secret, now.timestamp(), &r.body));
    for (name, value) in &r.headers {
        req = req.header(name, value);
    }
    match req.send(r.body.as_str()) {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(format!("HTTP {}", resp.status().as_u16())),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paperboy_core::{Author, Category};

    fn paper(title: &str, abstract_text: &str, categories: &[&str], authors: &[&str]) -> Paper {
        let mut p = Paper::new("2401.00001".parse().unwrap(), title, paperboy_core::Source::Listing);
        p.abstract_text = abstract_text.into();
        p.categories = categories.iter().map(|c| c.parse::<Category>().unwrap()).collect();
        p.authors = authors.iter().map(|a| Author::new(*a)).collect();
        p
    }

    #[test]
    fn exclusions_hold_for_words_phrases_categories_and_authors() {
        let p = paper("Diffusion Models for Proteins", "We fold proteins with large language models.", &["cs.LG", "q-bio.BM"], &["Ada Lovelace"]);
        let ex = |f: &dyn Fn(&mut Exclusions)| {
            let mut e = Exclusions::default();
            f(&mut e);
            violation(&e, &p)
        };
        assert_eq!(ex(&|e| e.words = vec!["protein".into()]), Some("word \"protein\"".into()), "a plural is the word");
        assert_eq!(ex(&|e| e.words = vec!["DIFFUSION".into()]), Some("word \"diffusion\"".into()));
        assert_eq!(ex(&|e| e.words = vec!["fold".into(), "diff".into()]), Some("word \"fold\"".into()));
        assert_eq!(ex(&|e| e.words = vec!["diff".into()]), None, "a part of a word is not the word");
        assert_eq!(ex(&|e| e.phrases = vec!["Large  language-models".into()]), Some("phrase \"Large  language-models\"".into()));
        assert_eq!(ex(&|e| e.phrases = vec!["language large".into()]), None);
        assert_eq!(ex(&|e| e.categories = vec!["q-bio.BM".into()]), Some("category q-bio.BM".into()), "cross-lists count");
        assert_eq!(ex(&|e| e.authors = vec!["ada  LOVELACE".into()]), Some("author ada  LOVELACE".into()));
        assert_eq!(ex(&|_| {}), None);
    }

    #[test]
    fn specs_are_checked_field_by_field() {
        assert!(AlertSpec::new("  ").checked().unwrap_err().starts_with("query:"));
        let mut s = AlertSpec::new("graph neural networks");
        s.exclude.words = vec!["two words".into()];
        assert!(s.clone().checked().unwrap_err().starts_with("exclude.words:"));
        s.exclude.words = vec![" survey ".into(), "Survey".into(), "".into()];
        assert_eq!(s.clone().checked().unwrap().exclude.words, vec!["survey".to_owned()]);
        s.categories = vec!["cs LG; drop".into()];
        assert!(s.clone().checked().unwrap_err().starts_with("categories:"));
        s.categories = vec![];
        s.min_score = Some(1.5);
        assert!(s.clone().checked().unwrap_err().starts_with("min_score:"));
        s.min_score = None;
        s.webhook = Some(Webhook { url: "ftp://example.org/x".into(), format: WebhookFormat::Json });
        assert!(s.clone().checked().unwrap_err().starts_with("webhook.url:"));
        s.webhook = None;
        s.feed = false;
        assert!(s.checked().is_ok(), "an alert delivering nowhere is paused, not wrong");
    }

    #[test]
    fn only_public_addresses_are_called_unless_allowed() {
        for url in ["http://127.0.0.1:9/hook", "http://[::1]/x", "http://10.1.2.3/", "http://192.168.0.1/", "http://169.254.169.254/latest", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/"] {
            assert!(check_target(url, false).is_err(), "{url} must be refused");
            assert!(check_target(url, true).is_ok(), "{url} is allowed when the operator says so");
        }
        assert!(check_target("http://93.184.215.14/x", false).is_ok());
        assert!(check_url("http://localhost:8080/x", false).is_err() && check_url("http://[fd00::1]/x", false).is_err());
        assert!(check_url("https://hooks.example.org/x", false).is_ok(), "names are resolved and checked at every call");
        assert!(check_target("http://user@93.184.215.14/x", false).is_err());
        assert!(check_target("gopher://93.184.215.14/", true).is_err());
    }

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_and_body() {
        // RFC 4231 test case 2 uses key "Jefe" and "what do ya want for nothing?".
        let sig = signature("Jefe", 0, "what do ya want for nothing?");
        assert!(sig.starts_with("sha256="));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        assert!(mac.verify_slice(&(0..32).map(|i| u8::from_str_radix(&sig[7 + 2 * i..9 + 2 * i], 16).unwrap()).collect::<Vec<_>>()).is_ok());
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "the HMAC itself is RFC 4231's");
    }

    #[test]
    fn retries_back_off_to_six_hours() {
        assert_eq!(retry_after(1), Duration::seconds(30));
        assert_eq!(retry_after(2), Duration::seconds(120));
        assert_eq!(retry_after(3), Duration::seconds(480));
        assert_eq!(retry_after(9), Duration::hours(6));
    }
}
