//! The store: paperboy's system of record. Papers, ingest runs, harvest checkpoints, the
//! embedding cache, digest subscribers, the outbox with its ledger, and the leases that let one
//! node of many run a job.
//!
//! The store is one seam made of small traits, one per concern ([`PaperStore`],
//! [`EmbeddingCache`], [`SubscriberStore`], [`Outbox`], [`Leases`]); [`Store`] is all of them.
//! Two backends implement every trait: [`SqliteStore`] (one file, WAL; the embedded default)
//! and [`PgStore`] (PostgreSQL, for several web and worker processes on one database). Both
//! pass one conformance suite (`tests/engine/conformance/`). No SQL and no database type
//! leaves `store/`: callers see these traits, the domain types and [`StoreError`].
//!
//! Everything derived (search indexes, vectors) can be rebuilt from what is here.

mod postgres;
mod sqlite;
pub mod transfer;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use paperboy_core::{EmailAddress, Paper, PaperId};
use serde::Serialize;

pub use self::postgres::PgStore;
pub use self::sqlite::SqliteStore;

use crate::alerts::{Alert, AlertSpec, FeedEntry, PaperEvent, Run, AlertSettings, WebhookJob, WebhookState};
use crate::ingest::IngestReport;
use crate::readers::{AccountData, ApiToken, Collection, Follow, Marks, SavedPaper, SignInRequest, Vote, VoteRecord};
use crate::outbox::{Delivery, Kind, OutboxCounts, OutboxRow, OutgoingMessage, Outcome};
use crate::subscriptions::{Frequency, Interests, SubscribeOutcome, Subscriber};

/// What went wrong in the store. The variants name what failed, not the backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error (the backend's own message).
    #[error("database error: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// A stored row could not be read back.
    #[error("stored {record} is unreadable: {reason}")]
    Corrupt {
        /// The row, e.g. `paper 2401.01234` or `subscriber 7`.
        record: String,
        /// Why.
        reason: String,
    },
    /// The database is newer than this program.
    #[error("the database is at schema version {found}, newer than this paperboy knows ({known}); upgrade paperboy")]
    TooNew {
        /// Schema version in the database.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// The database location is not one paperboy can open.
    #[error("{0}")]
    Location(String),
}

impl StoreError {
    pub(crate) fn corrupt(record: impl Into<String>, reason: impl ToString) -> Self {
        StoreError::Corrupt { record: record.into(), reason: reason.to_string() }
    }
}

/// What an upsert did with a batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UpsertCounts {
    /// Papers inserted.
    pub new: u64,
    /// Papers whose stored record changed.
    pub updated: u64,
    /// Papers already stored exactly so.
    pub unchanged: u64,
}

/// Counts over the whole store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Papers stored.
    pub papers: u64,
    /// Papers with an arXiv id.
    pub arxiv_papers: u64,
    /// Distinct days with papers.
    pub days: u64,
    /// The most recent day with papers.
    pub latest_day: Option<NaiveDate>,
    /// Ingest runs recorded.
    pub ingest_runs: u64,
}

/// Papers, the ingest log and harvest checkpoints: what ingest writes and every page reads.
///
/// Every insert or change of a paper gives it a new, larger `seq`, and changes become visible
/// in `seq` order (a writer allocates its numbers only once it holds the write lock), so a
/// derived index that has seen everything up to `seq` misses nothing by asking for what came
/// after it ([`PaperStore::papers_changed_since`]).
pub trait PaperStore: Send {
    /// Inserts new papers and merges descriptions of known ones (see [`Paper::merge`]), in one
    /// transaction.
    fn upsert_papers(&mut self, papers: Vec<Paper>) -> Result<UpsertCounts, StoreError>;
    /// One paper by id.
    fn paper(&self, id: &PaperId) -> Result<Option<Paper>, StoreError>;
    /// The stored papers among `ids`, in the order of `ids` (unknown ids are left out, a
    /// repeated id gives its paper once): one round trip where a backend has them.
    fn papers(&self, ids: &[PaperId]) -> Result<Vec<Paper>, StoreError>;
    /// The papers of one day (see [`Paper::day`]), most upvoted first, then by id.
    fn papers_on(&self, day: NaiveDate) -> Result<Vec<Paper>, StoreError>;
    /// The most recent day that has papers.
    fn latest_day(&self) -> Result<Option<NaiveDate>, StoreError>;
    /// Papers whose day is in `from..=to`, most upvoted first, then by id; at most `limit`.
    fn papers_between(&self, from: NaiveDate, to: NaiveDate, limit: usize) -> Result<Vec<Paper>, StoreError>;
    /// The nearest days with papers before and after `day`.
    fn neighbour_days(&self, day: NaiveDate) -> Result<(Option<NaiveDate>, Option<NaiveDate>), StoreError>;
    /// Papers whose primary category is `category`, newest day first, then by id; `limit` of
    /// them after skipping `offset`.
    fn papers_in_category(&self, category: &str, offset: usize, limit: usize) -> Result<Vec<Paper>, StoreError>;
    /// Primary categories with how many papers each, most papers first.
    fn category_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;
    /// Counts over the store.
    fn stats(&self) -> Result<Stats, StoreError>;
    /// Records a finished ingest run.
    fn record_ingest_run(&mut self, report: &IngestReport) -> Result<(), StoreError>;
    /// The most recent ingest runs, newest first.
    fn ingest_runs(&self, limit: usize) -> Result<Vec<IngestReport>, StoreError>;
    /// The last datestamp harvested completely for a harvest key (base URL, prefix and set).
    fn harvest_checkpoint(&self, key: &str) -> Result<Option<NaiveDate>, StoreError>;
    /// Remembers the last datestamp harvested completely (a checkpoint never moves back).
    fn set_harvest_checkpoint(&mut self, key: &str, datestamp: NaiveDate) -> Result<(), StoreError>;
    /// Papers inserted or changed after `seq`, in change order, at most `limit`, each with its seq.
    fn papers_changed_since(&self, seq: i64, limit: usize) -> Result<Vec<(i64, Paper)>, StoreError>;
    /// The largest `seq` given so far (0 for an empty store).
    fn last_seq(&self) -> Result<i64, StoreError>;
    /// Upvotes of this instance's readers on each of `papers` (papers without any are left out).
    fn local_upvotes(&self, papers: &[PaperId]) -> Result<HashMap<PaperId, u32>, StoreError>;
    /// The papers filed under each of `keys` (see [`crate::library::lookup_keys`]: a DOI or a
    /// normalised title), as `(key, paper)` pairs.
    fn papers_by_keys(&self, keys: &[String]) -> Result<Vec<(String, PaperId)>, StoreError>;
    /// Papers any of `authors` (keys, see [`crate::readers::author_key`]) wrote, newest day
    /// first, then by id, each once; only days from `since` on when given; `limit` after
    /// skipping `offset`.
    fn papers_by_authors(&self, authors: &[String], since: Option<NaiveDate>, offset: usize, limit: usize) -> Result<Vec<Paper>, StoreError>;
}

/// The embedding cache: one vector per model id and text hash, so a changed model means new
/// rows, never mixed vectors.
pub trait EmbeddingCache: Send {
    /// Cached embeddings of `model` for these text hashes (those missing are left out).
    fn cached_embeddings(&self, model: &str, text_hashes: &[String]) -> Result<HashMap<String, Vec<f32>>, StoreError>;
    /// Caches embeddings of `model` by text hash (a vector cached again replaces the old one).
    fn cache_embeddings(&mut self, model: &str, vectors: &[(String, Vec<f32>)]) -> Result<(), StoreError>;
}

/// Digest subscribers with double opt-in; the rules are in [`crate::subscriptions`].
pub trait SubscriberStore: Send {
    /// Records a subscription request.
    fn subscribe(&mut self, email: &EmailAddress, frequency: Frequency, interests: &Interests, now: DateTime<Utc>) -> Result<SubscribeOutcome, StoreError>;
    /// Confirms the address whose confirmation token this is, if the token is current; the
    /// token then stops working.
    fn confirm(&mut self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError>;
    /// A subscriber by address (without regard to case).
    fn subscriber_by_email(&self, email: &EmailAddress) -> Result<Option<Subscriber>, StoreError>;
    /// The subscriber whose manage key (from an email's links) this is.
    fn subscriber_by_key(&self, key: &str) -> Result<Option<Subscriber>, StoreError>;
    /// Subscribers, oldest first, at most `limit`.
    fn subscribers(&self, limit: usize) -> Result<Vec<Subscriber>, StoreError>;
    /// Confirmed subscribers, by id.
    fn confirmed_subscribers(&self) -> Result<Vec<Subscriber>, StoreError>;
    /// Unsubscribes at once; returns the subscriber, or `None` for an unknown key.
    fn unsubscribe(&mut self, key: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError>;
    /// Changes frequency and interests; returns the updated subscriber.
    fn update_preferences(&mut self, key: &str, frequency: Frequency, interests: &Interests) -> Result<Option<Subscriber>, StoreError>;
    /// Adds a subscriber as is (an operator's import): confirmed lists skip the opt-in.
    /// Returns false if the address is already known (it is left as it is).
    fn import_subscriber(&mut self, email: &EmailAddress, frequency: Frequency, interests: &Interests, confirmed: bool, now: DateTime<Utc>) -> Result<bool, StoreError>;
}

/// How long a claimed outbox row belongs to the worker that claimed it. A worker that dies
/// mid-delivery leaves its rows `sending`; they are claimed again (and sent again, with the same
/// Message-ID) once this has passed.
pub const CLAIM_LEASE: Duration = Duration::minutes(5);

/// The outbox and the digest ledger; the guarantees are in [`crate::outbox`].
pub trait Outbox: Send {
    /// Of `papers`, those `subscriber` has already had in a digest.
    fn already_sent(&self, subscriber: i64, papers: &[PaperId]) -> Result<HashSet<PaperId>, StoreError>;
    /// Whether `subscriber` already has a digest for `period`.
    fn has_digest(&self, subscriber: i64, period: &str) -> Result<bool, StoreError>;
    /// Records a digest: the outbox row and the ledger rows, in one transaction. Returns false
    /// (and records nothing) when the subscriber already has a digest for `period`.
    fn enqueue_digest(&mut self, subscriber: i64, period: &str, day: NaiveDate, papers: &[PaperId], message: &OutgoingMessage, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.enqueue_digest_with(subscriber, period, day, papers, &[], message, now)
    }
    /// [`Outbox::enqueue_digest`], marking these items of the subscriber's alert mail
    /// ([`AlertStore::alert_mail`]) mailed in the same transaction.
    #[allow(clippy::too_many_arguments)]
    fn enqueue_digest_with(&mut self, subscriber: i64, period: &str, day: NaiveDate, papers: &[PaperId], alert_items: &[String], message: &OutgoingMessage, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Records a reader's alert mail sent as a message of its own ([`Kind::Alert`], unique per
    /// `key`), like a digest: the outbox row, the digest ledger rows of `papers` and the
    /// `alert_items` marked mailed, in one transaction (the last digest day stays). Returns false
    /// (and records nothing) when a message with that key exists.
    fn enqueue_alert_mail(&mut self, subscriber: i64, key: &str, papers: &[PaperId], alert_items: &[String], message: &OutgoingMessage, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Queues a mail the person asked for (a confirmation or a sign-in link; digests go through
    /// [`Outbox::enqueue_digest`]), one per subscriber, kind and issue time.
    fn enqueue_mail(&mut self, subscriber: i64, kind: Kind, message: &OutgoingMessage, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Claims up to `limit` messages due at `now`, oldest first, for this caller alone: each is
    /// marked `sending` (attempt counted) with its claim running until `now + lease`. Due means
    /// queued and due, or `sending` with an expired claim (its worker died). Digests to
    /// addresses that left or bounce since they were queued are not claimed. Several workers
    /// claiming at once never get the same row.
    fn claim_due(&mut self, now: DateTime<Utc>, limit: usize, lease: Duration) -> Result<Vec<OutboxRow>, StoreError>;
    /// Records what the SMTP server said for each row, in one transaction; returns each row's
    /// new state.
    fn record_outcomes(&mut self, outcomes: &[(i64, Outcome)], now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError>;
    /// Rows by state.
    fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;
    /// The state and attempts of the row with this Message-ID.
    fn delivery_of(&self, message_id: &str) -> Result<Option<(Delivery, u32)>, StoreError>;
}

/// Readers: sign-in links, sessions, API tokens, votes, collections and follows; the rules are
/// in [`crate::readers`]. A reader is a row of [`SubscriberStore`] (one person per address).
pub trait ReaderStore: Send {
    /// Issues a sign-in link for `email` (making the reader if the address is new), unless the
    /// address had its hourly share of links.
    fn request_sign_in(&mut self, email: &EmailAddress, now: DateTime<Utc>) -> Result<SignInRequest, StoreError>;
    /// The reader whose current, unused sign-in token this is; the token then stops working.
    fn redeem_sign_in(&mut self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError>;
    /// Starts a session for `reader`; returns its secret (for the cookie).
    fn start_session(&mut self, reader: i64, now: DateTime<Utc>) -> Result<String, StoreError>;
    /// The reader of a current session.
    fn session_reader(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError>;
    /// Ends one session.
    fn end_session(&mut self, token: &str) -> Result<(), StoreError>;
    /// Sessions of `reader` open now.
    fn session_count(&self, reader: i64) -> Result<u64, StoreError>;
    /// Ends every session of `reader`; returns how many there were.
    fn end_all_sessions(&mut self, reader: i64) -> Result<u64, StoreError>;
    /// Makes an API token; returns it and its secret (shown once).
    fn create_api_token(&mut self, reader: i64, name: &str, now: DateTime<Utc>) -> Result<(ApiToken, String), StoreError>;
    /// A reader's API tokens, oldest first.
    fn api_tokens(&self, reader: i64) -> Result<Vec<ApiToken>, StoreError>;
    /// Revokes one of `reader`'s API tokens; false when it is not theirs or not there.
    fn revoke_api_token(&mut self, reader: i64, id: i64) -> Result<bool, StoreError>;
    /// The reader of an API token (its last use is recorded).
    fn api_token_reader(&mut self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError>;
    /// Sets (or with `None` clears) `reader`'s vote on `paper`.
    fn set_vote(&mut self, reader: i64, paper: &PaperId, vote: Option<Vote>, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Marks `paper` read (or not) for `reader`.
    fn set_read(&mut self, reader: i64, paper: &PaperId, read: bool, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// `reader`'s votes, read marks and saves among `papers`.
    fn marks(&self, reader: i64, papers: &[PaperId]) -> Result<Marks, StoreError>;
    /// All of `reader`'s votes, newest first.
    fn votes(&self, reader: i64) -> Result<Vec<VoteRecord>, StoreError>;
    /// All papers `reader` marked read, newest first.
    fn read_papers(&self, reader: i64) -> Result<Vec<(PaperId, DateTime<Utc>)>, StoreError>;
    /// Makes a collection (or finds `reader`'s collection of that name).
    fn create_collection(&mut self, reader: i64, name: &str, now: DateTime<Utc>) -> Result<Collection, StoreError>;
    /// `reader`'s collections, by name.
    fn collections(&self, reader: i64) -> Result<Vec<Collection>, StoreError>;
    /// A collection by id (whoever owns it: callers check).
    fn collection(&self, id: i64) -> Result<Option<Collection>, StoreError>;
    /// The shared collection whose share key this is.
    fn shared_collection(&self, share_key: &str) -> Result<Option<Collection>, StoreError>;
    /// Shares (a new unguessable key) or stops sharing one of `reader`'s collections.
    fn share_collection(&mut self, reader: i64, id: i64, share: bool) -> Result<Option<Collection>, StoreError>;
    /// Renames one of `reader`'s collections; `None` when it is not theirs.
    fn rename_collection(&mut self, reader: i64, id: i64, name: &str) -> Result<Option<Collection>, StoreError>;
    /// Deletes one of `reader`'s collections with its saved papers.
    fn delete_collection(&mut self, reader: i64, id: i64) -> Result<bool, StoreError>;
    /// Saves `paper` in one of `reader`'s collections; a note given replaces the old one.
    /// False when the collection is not theirs.
    fn save_paper(&mut self, reader: i64, collection: i64, paper: &PaperId, note: Option<&str>, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Takes `paper` out of one of `reader`'s collections.
    fn unsave_paper(&mut self, reader: i64, collection: i64, paper: &PaperId) -> Result<bool, StoreError>;
    /// The papers of a collection, most recently saved first.
    fn saved_papers(&self, collection: i64) -> Result<Vec<SavedPaper>, StoreError>;
    /// Which of `reader`'s collections hold `paper`.
    fn collections_with(&self, reader: i64, paper: &PaperId) -> Result<Vec<i64>, StoreError>;
    /// Follows an author (by name; matched by [`crate::readers::author_key`]).
    fn follow_author(&mut self, reader: i64, name: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Stops following the author with this key.
    fn unfollow_author(&mut self, reader: i64, key: &str) -> Result<(), StoreError>;
    /// The authors `reader` follows, by name.
    fn follows(&self, reader: i64) -> Result<Vec<Follow>, StoreError>;
    /// Readers who voted, saved or followed anything, or whose alerts sent them email (whose
    /// digests have sections of their own):
    /// one query for a whole digest run.
    fn readers_with_marks(&self) -> Result<HashSet<i64>, StoreError>;
    /// The secret of the reader's private "For you" feed (made on first use).
    fn feed_key(&mut self, reader: i64) -> Result<String, StoreError>;
    /// The reader whose feed key this is.
    fn feed_reader(&self, key: &str) -> Result<Option<Subscriber>, StoreError>;
    /// Deletes the reader and everything tied to the address: sessions, links, tokens, votes,
    /// collections, follows, the subscription, its outbox rows and digest ledger. False for
    /// an unknown reader.
    fn delete_reader(&mut self, reader: i64) -> Result<bool, StoreError>;
}

/// Everything stored about a reader, from the store's parts.
pub fn account_data(store: &dyn Store, reader: &Subscriber) -> Result<AccountData, StoreError> {
    let collections = store.collections(reader.id)?.into_iter().map(|c| store.saved_papers(c.id).map(|saved| (c, saved))).collect::<Result<_, _>>()?;
    Ok(AccountData {
        reader: reader.clone(),
        votes: store.votes(reader.id)?,
        read: store.read_papers(reader.id)?,
        collections,
        follows: store.follows(reader.id)?,
        api_tokens: store.api_tokens(reader.id)?,
        sessions: store.session_count(reader.id)?,
        alerts: store.alerts_of(reader.id)?,
        watched: store.watched_papers(reader.id)?,
        alert_settings: store.alert_settings(reader.id)?,
    })
}

/// Alerts (saved searches), their ledger and their webhook outbox; the rules are in
/// [`crate::alerts`].
pub trait AlertStore: Send {
    /// Saves an alert for `reader`, matching papers stored from now on; a fresh signing secret.
    /// `None` when the reader already has an alert of that name.
    fn create_alert(&mut self, reader: i64, name: &str, spec: &AlertSpec, now: DateTime<Utc>) -> Result<Option<Alert>, StoreError>;
    /// Replaces an alert's spec (its ledger stays; a disabled webhook is enabled again).
    /// `None` when it is not `reader`'s.
    fn update_alert(&mut self, reader: i64, id: i64, spec: &AlertSpec) -> Result<Option<Alert>, StoreError>;
    /// `reader`'s alerts, by name.
    fn alerts_of(&self, reader: i64) -> Result<Vec<Alert>, StoreError>;
    /// Every alert, by id.
    fn all_alerts(&self) -> Result<Vec<Alert>, StoreError>;
    /// Deletes one of `reader`'s alerts with its queued webhook deliveries.
    fn delete_alert(&mut self, reader: i64, id: i64) -> Result<bool, StoreError>;
    /// Records a run in one transaction: each delivery not yet in the ledger for its output
    /// gets its ledger row (and its webhook request queued), and each alert its new
    /// `seen_seq`. Returns the deliveries recorded now, as `(item, output)`.
    fn record_alert_run(&mut self, run: &Run, now: DateTime<Utc>) -> Result<Vec<(String, String)>, StoreError>;
    /// The newest items delivered to `reader`'s feed, at most `limit`.
    fn alert_feed(&self, reader: i64, limit: usize) -> Result<Vec<FeedEntry>, StoreError>;
    /// What `reader`'s alerts and watched papers delivered to their email that no digest has
    /// carried yet (a paper item: the digest ledger decides; an event: the digest that mailed
    /// it), oldest first, at most `limit`.
    fn alert_mail(&self, reader: i64, limit: usize) -> Result<Vec<FeedEntry>, StoreError>;
    /// Confirmed subscribers who chose alert email as messages of their own and have some
    /// waiting ([`AlertStore::alert_mail`]).
    fn separate_alert_mail_readers(&self) -> Result<Vec<i64>, StoreError>;
    /// Claims up to `limit` webhook deliveries due at `now` (queued and due, or `sending`
    /// with an expired claim), for this caller alone, counting the attempt. Deliveries of
    /// alerts whose webhook is disabled are not claimed.
    fn claim_webhooks(&mut self, now: DateTime<Utc>, limit: usize, lease: Duration) -> Result<Vec<WebhookJob>, StoreError>;
    /// Records an attempt's outcome: sent; or queued again after [`crate::alerts::retry_after`],
    /// failed after [`crate::alerts::WEBHOOK_ATTEMPTS`]; the alert's failures in a row counted
    /// and its webhook disabled after [`crate::alerts::FAILURES_TO_DISABLE`].
    fn record_webhook(&mut self, id: i64, outcome: Result<(), String>, now: DateTime<Utc>) -> Result<WebhookState, StoreError>;
    /// State and attempts of the delivery with this idempotency key.
    fn webhook_delivery(&self, idempotency_key: &str) -> Result<Option<(WebhookState, u32)>, StoreError>;
    /// Watches `paper` for `reader` (from the events recorded after now on), or stops.
    fn watch_paper(&mut self, reader: i64, paper: &PaperId, watch: bool, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Sets where `reader`'s watched papers' news goes; turning `saved` on watches the papers
    /// already saved (turning it off keeps the watches there are).
    fn set_alert_settings(&mut self, reader: i64, settings: AlertSettings, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// See [`AlertStore::set_alert_settings`] (the defaults when never set).
    fn alert_settings(&self, reader: i64) -> Result<AlertSettings, StoreError>;
    /// The papers `reader` watches, most recently watched first.
    fn watched_papers(&self, reader: i64) -> Result<Vec<(PaperId, DateTime<Utc>)>, StoreError>;
    /// Events of watched papers that their watchers have not had yet, as `(reader, event)` in
    /// event order, at most `limit`.
    fn watch_events(&self, limit: usize) -> Result<Vec<(i64, PaperEvent)>, StoreError>;
    /// Every event recorded for `paper`, oldest first.
    fn paper_events(&self, paper: &PaperId) -> Result<Vec<PaperEvent>, StoreError>;
}

/// Named leases with an expiry: how one node of many runs a job, and how a node that died
/// holding one blocks nobody once it has expired.
pub trait Leases: Send {
    /// Takes the lease `name` for `holder` until `until` when it is free, expired at `now`, or
    /// already `holder`'s (then it is renewed). Returns whether `holder` holds it now.
    fn try_lease(&mut self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Gives the lease up, if `holder` holds it.
    fn release_lease(&mut self, name: &str, holder: &str) -> Result<(), StoreError>;
    /// Who holds the lease `name` and until when, whether or not it has expired.
    fn lease_holder(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError>;
}

/// The whole store: every part, on one database.
pub trait Store: PaperStore + EmbeddingCache + SubscriberStore + ReaderStore + AlertStore + Outbox + Leases + transfer::Transfer {
    /// Which backend this is (`sqlite` or `postgres`), for logs.
    fn backend(&self) -> &'static str;
}

/// Where a store lives, as an operator writes it: `postgres://…` (or `postgresql://…`),
/// `sqlite:PATH`, or a plain path to an SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Location {
    /// Reads a location; an unknown URL scheme is an error that names it.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Location::Postgres(s.to_owned()));
        }
        if let Some(path) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(StoreError::Location("sqlite: needs a file path, e.g. sqlite:/var/lib/paperboy/paperboy.db".into()));
            }
            return Ok(Location::Sqlite(path.into()));
        }
        match s.split_once("://") {
            Some((scheme, _)) => Err(StoreError::Location(format!("unknown database scheme {scheme:?}: use postgres://… or sqlite:PATH"))),
            None if s.is_empty() => Err(StoreError::Location("the database location is empty".into())),
            None => Ok(Location::Sqlite(s.into())),
        }
    }

    /// Opens the store there (creating an SQLite file if needed) and brings its schema up to date.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            Location::Sqlite(path) => Box::new(SqliteStore::open(path)?),
            Location::Postgres(url) => Box::new(PgStore::connect(url)?),
        })
    }

    /// The location for logs: a PostgreSQL URL without its password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(path) => format!("sqlite:{}", path.display()),
            Location::Postgres(url) => redact(url),
        }
    }
}

/// A URL with its password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (auth, host),
        None => return url.to_owned(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Confirmed subscribers who chose alert email as messages of their own and have alert mail no
/// digest or message carried yet (the same SQL on both backends).
pub(crate) const SEPARATE_ALERT_MAIL_READERS: &str = "SELECT DISTINCT a.reader_id FROM alert_ledger a
     JOIN alert_settings s ON s.reader_id = a.reader_id AND s.separate = 1
     JOIN subscribers u ON u.id = a.reader_id AND u.status = 'confirmed'
     WHERE a.output = 'email' AND a.mailed_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM digest_ledger d WHERE d.subscriber_id = a.reader_id AND d.paper_id = a.item)
     ORDER BY a.reader_id";

/// Papers are stored as their whole JSON.
pub(crate) fn encode_paper(paper: &Paper) -> String {
    serde_json::to_string(paper).expect("a Paper always serialises")
}

pub(crate) fn decode_paper(id: &str, data: &str) -> Result<Paper, StoreError> {
    serde_json::from_str(data).map_err(|e| StoreError::corrupt(format!("paper {id}"), e))
}

/// The merge step of an upsert, shared by the backends: what to write for one incoming paper
/// given what is stored, whether it is new, and what its watchers should hear of (see
/// [`crate::alerts::events_between`]); `None` when the stored record already says it all.
pub(crate) fn merged(id: &str, stored: Option<&str>, incoming: Paper) -> Result<Option<(Paper, bool, Vec<crate::alerts::NewEvent>)>, StoreError> {
    match stored {
        None => {
            let mut fresh = incoming;
            fresh.normalize();
            Ok(Some((fresh, true, vec![])))
        }
        Some(data) => {
            let before = decode_paper(id, data)?;
            let mut merged = before.clone();
            merged.merge(incoming);
            if merged == before {
                return Ok(None);
            }
            let events = crate::alerts::events_between(&before, &merged);
            Ok(Some((merged, false, events)))
        }
    }
}

/// The author keys of a paper, each once (names without letters or digits have none).
pub(crate) fn author_keys(paper: &Paper) -> Vec<String> {
    let mut keys: Vec<String> = paper.authors.iter().map(|a| crate::readers::author_key(&a.name)).filter(|k| !k.is_empty()).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Embedding vectors are stored as little-endian f32.
pub(crate) fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn vector_from_bytes(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Interests are stored as JSON.
pub(crate) fn encode_interests(interests: &Interests) -> String {
    serde_json::to_string(interests).expect("interests serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_read_as_operators_write_them() {
        assert_eq!(Location::parse("postgres://u:p@127.0.0.1:5432/db").unwrap(), Location::Postgres("postgres://u:p@127.0.0.1:5432/db".into()));
        assert_eq!(Location::parse("sqlite:/tmp/x.db").unwrap(), Location::Sqlite("/tmp/x.db".into()));
        assert_eq!(Location::parse("data/paperboy.db").unwrap(), Location::Sqlite("data/paperboy.db".into()));
        let err = Location::parse("mysql://h/db").unwrap_err().to_string();
        assert!(err.contains("\"mysql\""), "{err}");
        assert!(Location::parse("sqlite:").is_err());
        assert_eq!(Location::parse("postgres://u:secret@h/db").unwrap().display(), "postgres://u:***@h/db");
        assert_eq!(Location::parse("postgres://h/db").unwrap().display(), "postgres://h/db");
    }
}
