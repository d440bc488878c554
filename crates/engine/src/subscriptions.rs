//! Subscriptions to the daily or weekly digest, with double opt-in.
//!
//! A new address is stored as `pending` with a single-use confirmation token (only its SHA-256
//! is kept) that expires after 72 hours; nothing but the confirmation is ever sent to a pending
//! address. Subscribing an address again gives the caller the same answer whether or not it is
//! known (the web layer always says "check your inbox"), and asks for a new confirmation email
//! at most once per 10 minutes. Every subscriber also has a `manage_key`, the secret in the
//! unsubscribe and preferences links.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use paperboy_core::text::non_blank;
use paperboy_core::{Category, EmailAddress};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{SqliteStore, StoreError};

/// How long a confirmation link works.
pub const CONFIRM_TTL: Duration = Duration::hours(72);
/// The least time between two confirmation emails to one address.
pub const RESEND_AFTER: Duration = Duration::minutes(10);
/// Longest free-text interest accepted, in characters.
pub const MAX_INTEREST_CHARS: usize = 500;

/// How often a subscriber gets a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// Every day.
    Daily,
    /// Once a week.
    Weekly,
}

impl Frequency {
    /// `daily` or `weekly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Frequency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" | "" => Ok(Frequency::Daily),
            "weekly" => Ok(Frequency::Weekly),
            other => Err(format!("unknown frequency {other:?}: expected daily or weekly")),
        }
    }
}

/// What a subscriber wants beyond the trending papers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interests {
    /// Free text, searched (hybrid) over the new papers.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Categories of interest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    /// Keywords a paper should mention.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Keywords that rule a paper out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl Interests {
    /// Interests from form fields: free text, and comma-separated categories and keywords.
    pub fn from_fields(text: &str, categories: &str, include: &str, exclude: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.chars().count() > MAX_INTEREST_CHARS {
            return Err(format!("interests are limited to {MAX_INTEREST_CHARS} characters"));
        }
        let list = |s: &str| -> Vec<String> { s.split(',').filter_map(non_blank).take(50).collect() };
        let lower = |v: Vec<String>| -> Vec<String> { v.into_iter().map(|w| w.to_lowercase()).collect() };
        let categories = list(categories)
            .iter()
            .map(|c| match c.parse::<Category>() {
                Ok(cat) if cat.name().is_some() => Ok(cat),
                _ => Err(format!("{c:?} is not an arXiv category (examples: cs.LG, math.CO, q-bio.BM)")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (include, exclude) = (lower(list(include)), lower(list(exclude)));
        Ok(Interests { text: text.to_owned(), categories, include, exclude })
    }

    /// No interests at all: the digest is the trending papers alone.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.categories.is_empty() && self.include.is_empty()
    }
}

/// Where a subscriber stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for the address to be confirmed.
    Pending,
    /// Receives digests.
    Confirmed,
    /// Left; receives nothing.
    Unsubscribed,
    /// Mail to the address bounced too often; receives nothing.
    Bouncing,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Unsubscribed => "unsubscribed",
            Status::Bouncing => "bouncing",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "confirmed" => Status::Confirmed,
            "unsubscribed" => Status::Unsubscribed,
            "bouncing" => Status::Bouncing,
            _ => Status::Pending,
        }
    }
}

/// A stored subscriber.
#[derive(Debug, Clone, Serialize)]
pub struct Subscriber {
    /// Row id.
    pub id: i64,
    /// The address.
    pub email: EmailAddress,
    /// Digest frequency.
    pub frequency: Frequency,
    /// Interests.
    pub interests: Interests,
    /// Pending, confirmed or unsubscribed.
    pub status: Status,
    /// The secret of the unsubscribe and preferences links.
    #[serde(skip)]
    pub manage_key: String,
    /// When the address was first subscribed.
    pub created_at: DateTime<Utc>,
    /// The day of the last digest composed for this subscriber.
    pub last_digest_day: Option<chrono::NaiveDate>,
}

/// What a subscribe request led to; the caller answers the same in every case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// Send a confirmation email with this token to the subscriber.
    SendConfirmation {
        /// The subscriber's row id.
        subscriber: i64,
        /// The single-use token for the confirmation link.
        token: String,
    },
    /// Nothing to send: already confirmed, or a confirmation went out less than 10 minutes ago.
    Nothing,
}

/// A random secret, 32 hex digits (128 bits).
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

const SUBSCRIBER_COLUMNS: &str = "id, email, frequency, interests, status, manage_key, created_at, last_digest_day";

fn subscriber_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Subscriber> {
    let email: String = r.get(1)?;
    let frequency: String = r.get(2)?;
    let interests: String = r.get(3)?;
    let status: String = r.get(4)?;
    let created: String = r.get(6)?;
    Ok(Subscriber {
        id: r.get(0)?,
        email: EmailAddress::parse(&email).map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into()))?,
        frequency: frequency.parse().unwrap_or(Frequency::Daily),
        interests: serde_json::from_str(&interests).unwrap_or_default(),
        status: Status::parse(&status),
        manage_key: r.get(5)?,
        created_at: DateTime::parse_from_rfc3339(&created).map(|d| d.with_timezone(&Utc)).unwrap_or_default(),
        last_digest_day: r.get::<_, Option<String>>(7)?.and_then(|d| d.parse().ok()),
    })
}

impl SqliteStore {
    /// Records a subscription request (see the module documentation for the rules).
    pub fn subscribe(&mut self, email: &EmailAddress, frequency: Frequency, interests: &Interests, now: DateTime<Utc>) -> Result<SubscribeOutcome, StoreError> {
        let tx = self.conn.transaction()?;
        let existing: Option<(i64, String, Option<String>)> = tx
            .query_row("SELECT id, status, confirm_sent_at FROM subscribers WHERE email_key = ?1", [email_key(email)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let token = random_token();
        let expires = (now + CONFIRM_TTL).to_rfc3339();
        let interests_json = serde_json::to_string(interests).expect("interests serialise");
        let outcome = match existing {
            None => {
                tx.execute(
                    "INSERT INTO subscribers (email, email_key, frequency, interests, status, confirm_hash, confirm_expires_at,
                         confirm_sent_at, manage_key, created_at)
                     VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?8, ?7)",
                    params![email.as_str(), email_key(email), frequency.as_str(), interests_json, token_hash(&token), expires, now.to_rfc3339(), random_token()],
                )?;
                SubscribeOutcome::SendConfirmation { subscriber: tx.last_insert_rowid(), token }
            }
            Some((_, status, _)) if status == Status::Confirmed.as_str() => SubscribeOutcome::Nothing,
            Some((_, _, Some(sent))) if DateTime::parse_from_rfc3339(&sent).is_ok_and(|s| now - s.with_timezone(&Utc) < RESEND_AFTER) => {
                SubscribeOutcome::Nothing
            }
            Some((id, _, _)) => {
                // Pending or unsubscribed: a fresh token replaces the old one; the wishes of
                // the latest request count once the address is confirmed.
                tx.execute(
                    "UPDATE subscribers SET status = 'pending', frequency = ?2, interests = ?3, confirm_hash = ?4,
                         confirm_expires_at = ?5, confirm_sent_at = ?6 WHERE id = ?1",
                    params![id, frequency.as_str(), interests_json, token_hash(&token), expires, now.to_rfc3339()],
                )?;
                SubscribeOutcome::SendConfirmation { subscriber: id, token }
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Confirms the address whose confirmation token this is, if the token is current; the
    /// token then stops working.
    pub fn confirm(&mut self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        let tx = self.conn.transaction()?;
        let found: Option<(i64, String)> = tx
            .query_row("SELECT id, confirm_expires_at FROM subscribers WHERE confirm_hash = ?1 AND status = 'pending'", [token_hash(token)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((id, expires)) = found else { return Ok(None) };
        if DateTime::parse_from_rfc3339(&expires).map_or(true, |e| now > e.with_timezone(&Utc)) {
            return Ok(None);
        }
        tx.execute(
            "UPDATE subscribers SET status = 'confirmed', confirm_hash = NULL, confirmed_at = ?2 WHERE id = ?1",
            params![id, now.to_rfc3339()],
        )?;
        let sub = tx.query_row(&format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = ?1"), [id], subscriber_row)?;
        tx.commit()?;
        Ok(Some(sub))
    }

    /// A subscriber by address.
    pub fn subscriber_by_email(&self, email: &EmailAddress) -> Result<Option<Subscriber>, StoreError> {
        Ok(self
            .conn
            .query_row(&format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key = ?1"), [email_key(email)], subscriber_row)
            .optional()?)
    }

    /// Subscribers, oldest first.
    pub fn subscribers(&self, limit: usize) -> Result<Vec<Subscriber>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers ORDER BY id LIMIT ?1"))?;
        let rows = stmt.query_map([limit as i64], subscriber_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl SqliteStore {
    /// The subscriber whose manage key (from an email's links) this is.
    pub fn subscriber_by_key(&self, key: &str) -> Result<Option<Subscriber>, StoreError> {
        Ok(self
            .conn
            .query_row(&format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE manage_key = ?1"), [key], subscriber_row)
            .optional()?)
    }

    /// Unsubscribes at once; returns the subscriber, or `None` for an unknown key.
    pub fn unsubscribe(&mut self, key: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        self.conn.execute(
            "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?2, confirm_hash = NULL
             WHERE manage_key = ?1 AND status != 'unsubscribed'",
            params![key, now.to_rfc3339()],
        )?;
        self.subscriber_by_key(key)
    }

    /// Changes frequency and interests; returns the updated subscriber.
    pub fn update_preferences(&mut self, key: &str, frequency: Frequency, interests: &Interests) -> Result<Option<Subscriber>, StoreError> {
        self.conn.execute(
            "UPDATE subscribers SET frequency = ?2, interests = ?3 WHERE manage_key = ?1",
            params![key, frequency.as_str(), serde_json::to_string(interests).expect("interests serialise")],
        )?;
        self.subscriber_by_key(key)
    }

    /// Confirmed subscribers, by id.
    pub fn confirmed_subscribers(&self) -> Result<Vec<Subscriber>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE status = 'confirmed' ORDER BY id"))?;
        let rows = stmt.query_map([], subscriber_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds a subscriber as is (an operator's import): confirmed lists skip the opt-in.
    /// Returns false if the address is already known (it is left as it is).
    pub fn import_subscriber(&mut self, email: &EmailAddress, frequency: Frequency, interests: &Interests, confirmed: bool, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO subscribers (email, email_key, frequency, interests, status, manage_key, created_at, confirmed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, CASE WHEN ?5 = 'confirmed' THEN ?7 END)",
            params![
                email.as_str(),
                email_key(email),
                frequency.as_str(),
                serde_json::to_string(interests).expect("interests serialise"),
                if confirmed { "confirmed" } else { "pending" },
                random_token(),
                now.to_rfc3339()
            ],
        )?;
        Ok(n == 1)
    }
}

/// Addresses are unique without regard to case.
fn email_key(email: &EmailAddress) -> String {
    email.as_str().to_lowercase()
}
