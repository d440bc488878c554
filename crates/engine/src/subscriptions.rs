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
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};


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
    /// A reader who signed in but never asked for the digest; receives nothing but the mail
    /// they ask for (sign-in links).
    NotSubscribed,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Unsubscribed => "unsubscribed",
            Status::Bouncing => "bouncing",
            Status::NotSubscribed => "none",
        }
    }

    /// A stored name; `None` for one this build does not know.
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pending" => Status::Pending,
            "confirmed" => Status::Confirmed,
            "unsubscribed" => Status::Unsubscribed,
            "bouncing" => Status::Bouncing,
            "none" => Status::NotSubscribed,
            _ => return None,
        })
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
    /// Where the subscription stands (`NotSubscribed` for a reader who only signs in).
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

/// What is stored of a token: its SHA-256, in hex.
pub(crate) fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Addresses are unique without regard to case.
pub(crate) fn email_key(email: &EmailAddress) -> String {
    email.as_str().to_lowercase()
}
