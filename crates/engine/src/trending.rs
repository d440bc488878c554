//! Trending: which papers readers are upvoting now.
//!
//! The score of a paper in a window that ends on day `E` is
//!
//! ```text
//! score = votes × 0.5 ^ (age / half_life)
//! votes = Hugging Face upvotes + local votes
//! age   = E − the paper's day, in days (0 for a paper of day E)
//! ```
//!
//! over the papers whose day lies in the window (`E` and the `len − 1` days before it). The
//! half-life is three days in a week window and ten days in a month window: in the week ending
//! on a Sunday, Monday's paper needs four times the votes of Sunday's to rank level with it. A
//! day window holds one day, where the score is simply the votes. Ties go to more votes, then to
//! the smaller id. A local vote (an upvote of a reader of this instance) weighs the same as a
//! Hugging Face upvote: [`LOCAL_VOTE_WEIGHT`] is 1, so the explanation can show the sum.

use std::fmt;
use std::str::FromStr;

use chrono::{Days, NaiveDate};
use paperboy_core::Paper;
use serde::Serialize;

use crate::store::{PaperStore, StoreError};

/// What one local upvote counts for, in Hugging Face upvotes.
pub const LOCAL_VOTE_WEIGHT: u32 = 1;

/// Papers read per window at most: far more than any window of real daily lists holds.
const WINDOW_CAP: usize = 20_000;

/// The span trending is computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    /// One day.
    Day,
    /// Seven days.
    Week,
    /// Thirty days.
    Month,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 3] = [Window::Day, Window::Week, Window::Month];

    /// Days in the window.
    pub fn days(self) -> u64 {
        match self {
            Window::Day => 1,
            Window::Week => 7,
            Window::Month => 30,
        }
    }

    /// Half-life of a vote's weight, in days.
    pub fn half_life_days(self) -> f64 {
        match self {
            Window::Day => 1.0,
            Window::Week => 3.0,
            Window::Month => 10.0,
        }
    }

    /// The first day of the window that ends on `end`.
    pub fn start(self, end: NaiveDate) -> NaiveDate {
        end.checked_sub_days(Days::new(self.days() - 1)).unwrap_or(NaiveDate::MIN)
    }

    /// `day`, `week` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Day => "day",
            Window::Week => "week",
            Window::Month => "month",
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Window {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "day" => Ok(Window::Day),
            "week" => Ok(Window::Week),
            "month" => Ok(Window::Month),
            other => Err(format!("unknown window {other:?}: expected day, week or month")),
        }
    }
}

/// How a paper's score came about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Why {
    /// Hugging Face upvotes.
    pub upvotes: u32,
    /// Votes of this instance's readers.
    pub local_votes: u32,
    /// Days between the paper's day and the window's end.
    pub age_days: u64,
    /// The half-life applied.
    pub half_life_days: f64,
    /// `0.5 ^ (age / half_life)`.
    pub weight: f64,
}

/// A paper with its trending score and rank in a window.
#[derive(Debug, Clone, Serialize)]
pub struct Trending {
    /// 1 for the top paper.
    pub rank: usize,
    /// The score (see the module documentation).
    pub score: f64,
    /// How the score came about.
    pub why: Why,
    /// The paper.
    pub paper: Paper,
}

/// The score of `paper`, with `local_votes` of this instance's readers, in `window` ending on
/// `end`; `None` when the paper is not in the window.
pub fn score(paper: &Paper, local_votes: u32, window: Window, end: NaiveDate) -> Option<(f64, Why)> {
    let day = paper.day()?;
    if day > end || day < window.start(end) {
        return None;
    }
    let age_days = (end - day).num_days() as u64;
    let upvotes = paper.signals.hf_upvotes.unwrap_or(0);
    let half_life_days = window.half_life_days();
    let weight = 0.5f64.powf(age_days as f64 / half_life_days);
    let score = f64::from(upvotes + LOCAL_VOTE_WEIGHT * local_votes) * weight;
    Some((score, Why { upvotes, local_votes, age_days, half_life_days, weight }))
}

/// Every paper of `window` ending on `end`, ranked by score.
pub fn ranking(store: &dyn PaperStore, window: Window, end: NaiveDate) -> Result<Vec<Trending>, StoreError> {
    let papers = store.papers_between(window.start(end), end, WINDOW_CAP)?;
    let local = store.local_upvotes(&papers.iter().map(|p| p.id.clone()).collect::<Vec<_>>())?;
    let mut ranked: Vec<Trending> = papers
        .into_iter()
        .filter_map(|paper| {
            let votes = local.get(&paper.id).copied().unwrap_or(0);
            score(&paper, votes, window, end).map(|(score, why)| Trending { rank: 0, score, why, paper })
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then((b.why.upvotes + b.why.local_votes).cmp(&(a.why.upvotes + a.why.local_votes)))
            .then_with(|| a.paper.id.to_string().cmp(&b.paper.id.to_string()))
    });
    for (i, t) in ranked.iter_mut().enumerate() {
        t.rank = i + 1;
    }
    Ok(ranked)
}

/// The top `limit` papers of `window` ending on `end`.
pub fn top(store: &dyn PaperStore, window: Window, end: NaiveDate, limit: usize) -> Result<Vec<Trending>, StoreError> {
    let mut ranked = ranking(store, window, end)?;
    ranked.truncate(limit);
    Ok(ranked)
}
