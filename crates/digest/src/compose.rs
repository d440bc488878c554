//! Composing a subscriber's digest for a period: the trending papers of the period, the new
//! papers of the authors they follow, their own model's picks ("For you", once they have rated
//! papers), what their alerts sent to email, then the papers matching their interests among
//! those new since their last digest, minus every paper the subscriber already had (the
//! ledger), at most [`TRENDING`] + [`FOLLOWED`] + [`FOR_YOU`] + [`ALERTS`] + [`MATCHES`] papers.

use chrono::{Datelike, NaiveDate};
use paperboy_core::{Paper, PaperId};
use std::collections::HashSet;

use paperboy_engine::recommend;
use paperboy_engine::search::{Filters, Mode, SearchQuery, SearchService};
use paperboy_engine::subscriptions::{Frequency, Subscriber};
use paperboy_engine::trending::{self, Window};
use paperboy_engine::Store;

use crate::error::DigestError;

/// Trending papers per digest at most.
pub const TRENDING: usize = 5;
/// Papers matching the interests per digest at most.
pub const MATCHES: usize = 10;
/// New papers of followed authors per digest at most.
pub const FOLLOWED: usize = 10;
/// Papers the reader's own model picks per digest at most.
pub const FOR_YOU: usize = 5;
/// Papers from the reader's alerts per digest at most (the rest wait for the next).
pub const ALERTS: usize = 20;
/// Hits found by meaning alone that count as matches (the nearest few).
const NEAREST: usize = 3;
/// Search depth for interest matches (before the ledger and keyword filters).
const SEARCH_DEPTH: usize = 60;
/// Papers read from the store at a time while filling the matches.
const READ_BATCH: usize = 2 * MATCHES;

/// The period a digest covers, ending on `day`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// Daily or weekly.
    pub frequency: Frequency,
    /// The last day covered.
    pub day: NaiveDate,
}

impl Period {
    /// The key that makes a digest unique per subscriber: `daily:2026-08-21`, `weekly:2026-W34`.
    pub fn key(&self) -> String {
        match self.frequency {
            Frequency::Daily => format!("daily:{}", self.day),
            Frequency::Weekly => {
                let w = self.day.iso_week();
                format!("weekly:{}-W{:02}", w.year(), w.week())
            }
        }
    }

    /// The trending window.
    pub fn window(&self) -> Window {
        match self.frequency {
            Frequency::Daily => Window::Day,
            Frequency::Weekly => Window::Week,
        }
    }

    /// Whether a subscriber of this frequency gets a digest on `day`: daily ones every day,
    /// weekly ones on Sundays (the end of the ISO week).
    pub fn is_due(frequency: Frequency, day: NaiveDate) -> bool {
        frequency == Frequency::Daily || day.weekday() == chrono::Weekday::Sun
    }
}

/// A composed digest, before it is rendered.
#[derive(Debug, Clone)]
pub struct Digest {
    /// The period.
    pub period: Period,
    /// Trending papers of the period, best first.
    pub trending: Vec<Paper>,
    /// New papers of the authors the subscriber follows, newest first.
    pub followed: Vec<Paper>,
    /// The reader's model's picks, best first, each with why (in words).
    pub for_you: Vec<(Paper, String)>,
    /// What the reader's alerts and watched papers sent to their email since the last digest,
    /// each with the names of the alerts that matched it or what happened to the paper.
    pub alerts: Vec<(Paper, String)>,
    /// The alert-mail items (`paperboy_engine::alerts`) the alerts section carries, marked
    /// mailed with the digest.
    pub alert_items: Vec<String>,
    /// Papers matching the subscriber's interests, best first.
    pub matches: Vec<Paper>,
}

impl Digest {
    /// Papers in the digest.
    pub fn len(&self) -> usize {
        self.trending.len() + self.followed.len() + self.for_you.len() + self.alerts.len() + self.matches.len()
    }

    /// No papers: nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every paper, in the order of the email.
    pub fn papers(&self) -> impl Iterator<Item = &Paper> {
        self.trending.iter().chain(&self.followed).chain(self.for_you.iter().map(|(p, _)| p)).chain(self.alerts.iter().map(|(p, _)| p)).chain(&self.matches)
    }
}

/// What `reader`'s alerts and watched papers sent to their email that no digest or alert mail
/// carried yet, at most [`ALERTS`]: each paper with why (the alerts' names, or the watched
/// paper's news), and the alert-mail items they are (to be marked mailed with the message).
/// Papers in `shown` (already in the message) are left out.
pub fn alert_section(store: &dyn Store, reader: i64, shown: &HashSet<PaperId>) -> Result<AlertSection, DigestError> {
    // An item is a paper an alert matched, or `PAPER#what`: news of a watched paper.
    let entries: Vec<(String, PaperId, Option<String>, String)> = store
        .alert_mail(reader, ALERTS)?
        .into_iter()
        .filter_map(|e| {
            let (paper, event) = match e.item.split_once('#') {
                Some((p, _)) => (p.to_owned(), Some(e.item.clone())),
                None => (e.item.clone(), None),
            };
            Some((e.item, paper.parse().ok()?, event, e.alerts.join(", ")))
        })
        .filter(|(_, id, event, _)| event.is_some() || !shown.contains(id))
        .collect();
    let papers = store.papers(&entries.iter().map(|(_, id, _, _)| id.clone()).collect::<Vec<_>>())?;
    let (mut section, mut items) = (Vec::new(), Vec::new());
    for (item, id, event, names) in entries {
        let Some(paper) = papers.iter().find(|p| p.id == id) else { continue };
        let why = match &event {
            Some(key) => {
                let text = store.paper_events(&id)?.into_iter().find(|e| &e.key == key).map_or_else(|| key.clone(), |e| e.text);
                format!("a paper you watch: {text}")
            }
            None => format!("Alert: {names}"),
        };
        section.push((paper.clone(), why));
        items.push(item);
    }
    Ok(AlertSection { papers: section, items })
}

/// See [`alert_section`].
#[derive(Debug, Clone, Default)]
pub struct AlertSection {
    /// Each paper with why it is there.
    pub papers: Vec<(Paper, String)>,
    /// The alert-mail items the papers are.
    pub items: Vec<String>,
}

fn mentions(p: &Paper, word: &str) -> bool {
    let w = word.to_lowercase();
    p.title.to_lowercase().contains(&w) || p.abstract_text.to_lowercase().contains(&w)
}

/// Composes `subscriber`'s digest for `period`; `None` when there is nothing new to send.
pub fn compose(store: &dyn Store, search: Option<&SearchService>, subscriber: &Subscriber, period: &Period) -> Result<Option<Digest>, DigestError> {
    let ranked = trending::ranking(store, period.window(), period.day)?;
    let rated = store.readers_with_marks()?.contains(&subscriber.id);
    compose_ranked(store, search, subscriber, period, &ranked, rated)
}

/// [`compose`] with the period's trending ranking already computed (it is the same for every
/// subscriber of a run); `rated`: whether the subscriber voted, saved, followed anything or had
/// alert mail (if not, their own sections are skipped without asking the store).
pub fn compose_ranked(
    store: &dyn Store,
    search: Option<&SearchService>,
    subscriber: &Subscriber,
    period: &Period,
    ranked: &[trending::Trending],
    rated: bool,
) -> Result<Option<Digest>, DigestError> {
    let interests = &subscriber.interests;
    let excluded = |p: &Paper| interests.exclude.iter().any(|w| mentions(p, w));
    // Trending of the period, minus what the subscriber already had.
    let candidates: Vec<&Paper> = ranked.iter().map(|t| &t.paper).filter(|p| !excluded(p)).take(TRENDING * 4).collect();
    let ids: Vec<_> = candidates.iter().map(|p| p.id.clone()).collect();
    let seen = store.already_sent(subscriber.id, &ids)?;
    let trending: Vec<Paper> = candidates.into_iter().filter(|p| !seen.contains(&p.id)).take(TRENDING).cloned().collect();

    // Followed authors and interests: papers new since the last digest (or of the last week,
    // for a first digest).
    let since = subscriber.last_digest_day.map(|d| d.succ_opt().unwrap_or(d)).unwrap_or_else(|| Window::Week.start(period.day));
    let authors: Vec<String> = if rated { store.follows(subscriber.id)?.into_iter().map(|f| f.key).collect() } else { vec![] };
    let mut followed = Vec::new();
    if !authors.is_empty() {
        let theirs: Vec<Paper> = store
            .papers_by_authors(&authors, Some(since), 0, FOLLOWED * 4)?
            .into_iter()
            .filter(|p| p.day().is_some_and(|d| d <= period.day) && !excluded(p) && !trending.iter().any(|t| t.id == p.id))
            .collect();
        let seen = store.already_sent(subscriber.id, &theirs.iter().map(|p| p.id.clone()).collect::<Vec<_>>())?;
        followed = theirs.into_iter().filter(|p| !seen.contains(&p.id)).take(FOLLOWED).collect();
    }
    // The reader's own model, once they have rated something (the interests alone are the
    // interests section's).
    let mut for_you = Vec::new();
    if let Some(service) = search.filter(|_| rated) {
        let model = recommend::model(store, service, subscriber).map_err(|e| match e {
            recommend::RecommendError::Store(e) => DigestError::Store(e),
            recommend::RecommendError::Search(e) => DigestError::Search(e),
        })?;
        if !model.inputs.positives.is_empty() {
            let shown: HashSet<PaperId> = trending.iter().chain(&followed).map(|p| p.id.clone()).collect();
            let ranked = recommend::recommend(service, &model, since, period.day, &shown, 0, FOR_YOU * 4);
            let ids: Vec<PaperId> = ranked.into_iter().map(|(id, _)| id).collect();
            let seen = store.already_sent(subscriber.id, &ids)?;
            let unseen: Vec<PaperId> = ids.into_iter().filter(|id| !seen.contains(id)).collect();
            let papers: Vec<Paper> = store.papers(&unseen)?.into_iter().filter(|p| !excluded(p)).take(FOR_YOU).collect();
            let why = recommend::explain_all(service, &model, &papers);
            for_you = papers.into_iter().zip(why).map(|(p, b)| (p, b.iter().map(|b| b.words()).collect::<Vec<_>>().join("; "))).collect();
        }
    }
    // The reader's alerts' matches for email that no digest carried yet (their own exclusions
    // already applied when they matched).
    let (mut alerts, mut alert_items) = (Vec::new(), Vec::new());
    if rated && !store.alert_settings(subscriber.id)?.separate {
        let shown: HashSet<PaperId> = trending.iter().chain(&followed).chain(for_you.iter().map(|(p, _)| p)).map(|p| p.id.clone()).collect();
        let section = alert_section(store, subscriber.id, &shown)?;
        (alerts, alert_items) = (section.papers, section.items);
    }
    let mut matches = Vec::new();
    if !interests.is_empty() {
        let in_categories = |p: &Paper| interests.categories.is_empty() || p.categories.iter().any(|c| interests.categories.contains(c));
        let shown = |p: &Paper| trending.iter().chain(&followed).chain(for_you.iter().chain(&alerts).map(|(p, _)| p)).any(|t| t.id == p.id);
        let wanted = |p: &Paper| in_categories(p) && interests.include.iter().all(|w| mentions(p, w)) && !excluded(p) && !shown(p);
        let mut found: Vec<Paper> = Vec::new();
        let text: String = [interests.text.as_str(), &interests.include.join(" ")].join(" ").trim().to_owned();
        match (search, SearchQuery::parse(&text)) {
            (Some(service), Ok(query)) => {
                let filters = Filters { since: Some(since), until: Some(period.day), category: None };
                // A match shares words with the interests, or is among the few nearest in
                // meaning: vector search alone always finds something, relevant or not.
                let relevant = |h: &paperboy_engine::search::Hit| h.explain.bm25_rank.is_some() || h.explain.vector_rank.is_some_and(|r| r <= NEAREST);
                let hits: Vec<PaperId> = service.rank(&query, Mode::Hybrid, &filters, SEARCH_DEPTH)?.into_iter().filter(relevant).map(|h| h.id).collect();
                // Hits are checked against the ledger and read a batch at a time, only until the
                // digest has enough: usually one round trip for each, whatever the backend.
                for batch in hits.chunks(READ_BATCH) {
                    let seen = store.already_sent(subscriber.id, batch)?;
                    let unseen: Vec<PaperId> = batch.iter().filter(|id| !seen.contains(*id)).cloned().collect();
                    found.extend(store.papers(&unseen)?.into_iter().filter(|p| wanted(p)));
                    if found.len() >= MATCHES {
                        break;
                    }
                }
            }
            // Categories alone (or no search yet): the period's papers in them, by trending score.
            _ => {
                let ranked = trending::ranking(store, Window::Month, period.day)?;
                let candidates: Vec<Paper> = ranked.into_iter().map(|t| t.paper).filter(|p| p.day().is_some_and(|d| d >= since) && wanted(p)).collect();
                let ids: Vec<_> = candidates.iter().map(|p| p.id.clone()).collect();
                let seen = store.already_sent(subscriber.id, &ids)?;
                found.extend(candidates.into_iter().filter(|p| !seen.contains(&p.id)));
            }
        }
        found.truncate(MATCHES);
        matches = found;
    }
    let digest = Digest { period: period.clone(), trending, followed, for_you, alerts, alert_items, matches };
    Ok((!digest.is_empty()).then_some(digest))
}
