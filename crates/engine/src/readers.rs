//! Readers: people who sign in to vote, save papers into collections and follow authors.
//!
//! A reader is a person with an email address, and one row with the digest subscribers: the
//! subscriber with the same address (without regard to case) *is* the reader, so the account
//! page shows the subscription, and deleting the account removes both. A reader who never
//! asked for the digest has the status [`Status::NotSubscribed`](crate::subscriptions::Status).
//!
//! Sign-in is passwordless. A sign-in link carries a single-use token that works for
//! [`SIGN_IN_TTL`] (only its SHA-256 is stored); at most [`SIGN_INS_PER_HOUR`] links go to one
//! address an hour, and the caller answers the same whether or not the address was known.
//! Redeeming a link starts a session: a random token in a cookie, stored as its hash, so the
//! server can end one session or all of a reader's.
//!
//! Votes are private except as counts: an upvote joins the paper's trending score, "not for
//! me" is seen by the reader alone. Collections are private until shared by an unguessable
//! link.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use paperboy_core::PaperId;
use serde::Serialize;

use crate::subscriptions::Subscriber;

/// How long a sign-in link works.
pub const SIGN_IN_TTL: Duration = Duration::minutes(15);
/// Sign-in links sent to one address per hour at most; further requests send nothing.
pub const SIGN_INS_PER_HOUR: u32 = 5;
/// How long a session lasts without signing in again.
pub const SESSION_TTL: Duration = Duration::days(30);
/// Longest collection name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest note on a saved paper, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// Collections per reader at most.
pub const MAX_COLLECTIONS: usize = 200;

/// A reader's vote on a paper: one per reader and paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    /// An upvote: counts in trending and teaches the reader's model.
    Up,
    /// "Not for me": private; the paper is left out of the reader's recommendations.
    NotForMe,
}

impl Vote {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Up => "up",
            Vote::NotForMe => "not_for_me",
        }
    }

    /// A stored or posted name; `None` for one this build does not know.
    pub fn parse(s: &str) -> Option<Vote> {
        match s {
            "up" => Some(Vote::Up),
            "not_for_me" => Some(Vote::NotForMe),
            _ => None,
        }
    }
}

/// What a sign-in request led to; the caller answers the same in every case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInRequest {
    /// Send a sign-in link with this token to the reader.
    Send {
        /// The reader's id.
        reader: i64,
        /// The single-use token.
        token: String,
    },
    /// Nothing to send: the address had its [`SIGN_INS_PER_HOUR`] links this hour.
    TooMany,
}

/// A reader's marks on some papers: what a list shows on its buttons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// The reader's votes.
    pub votes: HashMap<PaperId, Vote>,
    /// Papers marked read.
    pub read: HashSet<PaperId>,
    /// Papers in at least one of the reader's collections.
    pub saved: HashSet<PaperId>,
}

/// One vote, with its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoteRecord {
    /// The paper.
    pub paper: PaperId,
    /// The vote.
    pub vote: Vote,
    /// When it was cast.
    pub at: DateTime<Utc>,
}

/// A named collection of papers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collection {
    /// Row id.
    pub id: i64,
    /// Its owner.
    #[serde(skip)]
    pub reader: i64,
    /// Its name (unique per reader).
    pub name: String,
    /// The secret of its share link, while shared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_key: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Papers in it.
    pub papers: u64,
}

/// A paper in a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedPaper {
    /// The paper.
    pub paper: PaperId,
    /// The reader's note ("" for none).
    pub note: String,
    /// When it was saved.
    pub added_at: DateTime<Utc>,
}

/// An author a reader follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Follow {
    /// The author's key (see [`author_key`]).
    pub key: String,
    /// The name as the reader saw it.
    pub name: String,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// An API token of a reader (the secret itself is shown once, when made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Row id.
    pub id: i64,
    /// The reader's name for it.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Everything stored about a reader ("download my data").
#[derive(Debug, Clone, Serialize)]
pub struct AccountData {
    /// The reader (address, subscription, interests).
    pub reader: Subscriber,
    /// Votes.
    pub votes: Vec<VoteRecord>,
    /// Papers marked read, with when.
    pub read: Vec<(PaperId, DateTime<Utc>)>,
    /// Collections with their papers.
    pub collections: Vec<(Collection, Vec<SavedPaper>)>,
    /// Followed authors.
    pub follows: Vec<Follow>,
    /// API tokens (not their secrets).
    pub api_tokens: Vec<ApiToken>,
    /// Sessions open now.
    pub sessions: u64,
    /// Alerts (saved searches; their webhook secrets left out).
    pub alerts: Vec<crate::alerts::Alert>,
    /// Watched papers, with since when.
    pub watched: Vec<(PaperId, DateTime<Utc>)>,
    /// Choices for the alerts as a whole.
    pub alert_settings: crate::alerts::AlertSettings,
}

/// How an author is matched across papers: the name in lower case, letters and digits only,
/// words separated by one space ("J. Smith-Jones" and "j smith jones" are one author).
pub fn author_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for word in name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !key.is_empty() {
            key.push(' ');
        }
        key.extend(word.chars().flat_map(char::to_lowercase));
    }
    key
}

/// The path segment of an author's page: the key with `-` for spaces.
pub fn author_slug(name: &str) -> String {
    author_key(name).replace(' ', "-")
}

/// The key of an author page's path segment.
pub fn author_key_of_slug(slug: &str) -> String {
    author_key(&slug.replace('-', " "))
}

/// A collection name as given, checked: trimmed, not empty, at most [`MAX_NAME_CHARS`], no
/// control characters.
pub fn collection_name(name: &str) -> Result<String, String> {
    let name: String = name.trim().chars().filter(|c| !c.is_control()).collect();
    if name.is_empty() {
        return Err("a collection needs a name".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("collection names are limited to {MAX_NAME_CHARS} characters"));
    }
    Ok(name)
}

/// A note as given, checked: trimmed, at most [`MAX_NOTE_CHARS`], no control characters but
/// line breaks.
pub fn note(text: &str) -> Result<String, String> {
    let note: String = text.trim().chars().filter(|c| !c.is_control() || *c == '\n').collect();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(format!("notes are limited to {MAX_NOTE_CHARS} characters"));
    }
    Ok(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_keys_match_spellings_of_one_name() {
        assert_eq!(author_key("J. Smith-Jones"), "j smith jones");
        assert_eq!(author_key("  j smith  jones "), "j smith jones");
        assert_eq!(author_key("Zoë Ångström"), "zoë ångström");
        assert_eq!(author_slug("Yann LeCun"), "yann-lecun");
        assert_eq!(author_key_of_slug("yann-lecun"), "yann lecun");
        assert_eq!(author_key("..."), "");
    }

    #[test]
    fn names_and_notes_are_checked() {
        assert_eq!(collection_name("  To read\u{7} ").unwrap(), "To read");
        assert!(collection_name("   ").is_err());
        assert!(collection_name(&"x".repeat(101)).is_err());
        assert_eq!(note(" a\nb\u{0} ").unwrap(), "a\nb");
        assert!(note(&"x".repeat(2001)).is_err());
        assert_eq!(Vote::parse(Vote::NotForMe.as_str()), Some(Vote::NotForMe));
        assert_eq!(Vote::parse("down"), None);
    }
}
