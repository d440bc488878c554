//! Subscribers on SQLite (rules in `crate::subscriptions`).

use chrono::{DateTime, Utc};
use paperboy_core::EmailAddress;
use rusqlite::{params, OptionalExtension};

use super::{day, time, SqliteStore};
use crate::store::{encode_interests, StoreError, SubscriberStore};
use crate::subscriptions::{email_key, random_token, token_hash, Frequency, Interests, Status, SubscribeOutcome, Subscriber, CONFIRM_TTL, RESEND_AFTER};

const COLUMNS: &str = "id, email, frequency, interests, status, manage_key, created_at, last_digest_day";

/// A subscriber row as stored, decoded strictly: a value this build cannot read is an error
/// naming the row, never a silent default.
fn subscriber(r: &rusqlite::Row<'_>) -> Result<Subscriber, StoreError> {
    let id: i64 = r.get(0)?;
    let record = || format!("subscriber {id}");
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::corrupt(record(), format!("{what}: {e}"));
    let email: String = r.get(1)?;
    let frequency: String = r.get(2)?;
    let interests: String = r.get(3)?;
    let status: String = r.get(4)?;
    Ok(Subscriber {
        id,
        email: EmailAddress::parse(&email).map_err(|e| corrupt("email", &e))?,
        frequency: frequency.parse().map_err(|e: String| corrupt("frequency", &e))?,
        interests: serde_json::from_str(&interests).map_err(|e| corrupt("interests", &e))?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        manage_key: r.get(5)?,
        created_at: time(&r.get::<_, String>(6)?, &record)?,
        last_digest_day: r.get::<_, Option<String>>(7)?.map(|d| day(&d, &record)).transpose()?,
    })
}

impl SqliteStore {
    pub(super) fn subscriber_where(&self, condition: &str, value: &dyn rusqlite::ToSql) -> Result<Option<Subscriber>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM subscribers WHERE {condition}"))?;
        let mut rows = stmt.query([value])?;
        rows.next()?.map(subscriber).transpose()
    }

    fn subscribers_where(&self, tail: &str, values: &[&dyn rusqlite::ToSql]) -> Result<Vec<Subscriber>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM subscribers {tail}"))?;
        let mut rows = stmt.query(values)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(subscriber(r)?);
        }
        Ok(out)
    }
}

impl SubscriberStore for SqliteStore {
    fn subscribe(&mut self, email: &EmailAddress, frequency: Frequency, interests: &Interests, now: DateTime<Utc>) -> Result<SubscribeOutcome, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing: Option<(i64, String, Option<String>)> = tx
            .query_row("SELECT id, status, confirm_sent_at FROM subscribers WHERE email_key = ?1", [email_key(email)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let token = random_token();
        let expires = (now + CONFIRM_TTL).to_rfc3339();
        let interests_json = encode_interests(interests);
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

    fn confirm(&mut self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found: Option<(i64, String)> = tx
            .query_row("SELECT id, confirm_expires_at FROM subscribers WHERE confirm_hash = ?1 AND status = 'pending'", [token_hash(token)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((id, expires)) = found else { return Ok(None) };
        if DateTime::parse_from_rfc3339(&expires).map_or(true, |e| now > e.with_timezone(&Utc)) {
            return Ok(None);
        }
        tx.execute("UPDATE subscribers SET status = 'confirmed', confirm_hash = NULL, confirmed_at = ?2 WHERE id = ?1", params![id, now.to_rfc3339()])?;
        tx.commit()?;
        self.subscriber_where("id = ?1", &id)
    }

    fn subscriber_by_email(&self, email: &EmailAddress) -> Result<Option<Subscriber>, StoreError> {
        self.subscriber_where("email_key = ?1", &email_key(email))
    }

    fn subscriber_by_key(&self, key: &str) -> Result<Option<Subscriber>, StoreError> {
        self.subscriber_where("manage_key = ?1", &key)
    }

    fn subscribers(&self, limit: usize) -> Result<Vec<Subscriber>, StoreError> {
        self.subscribers_where("ORDER BY id LIMIT ?1", &[&(limit as i64)])
    }

    fn confirmed_subscribers(&self) -> Result<Vec<Subscriber>, StoreError> {
        self.subscribers_where("WHERE status = 'confirmed' ORDER BY id", &[])
    }

    fn unsubscribe(&mut self, key: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        self.conn.execute(
            "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?2, confirm_hash = NULL
             WHERE manage_key = ?1 AND status != 'unsubscribed'",
            params![key, now.to_rfc3339()],
        )?;
        self.subscriber_by_key(key)
    }

    fn update_preferences(&mut self, key: &str, frequency: Frequency, interests: &Interests) -> Result<Option<Subscriber>, StoreError> {
        self.conn.execute(
            "UPDATE subscribers SET frequency = ?2, interests = ?3 WHERE manage_key = ?1",
            params![key, frequency.as_str(), encode_interests(interests)],
        )?;
        self.subscriber_by_key(key)
    }

    fn import_subscriber(&mut self, email: &EmailAddress, frequency: Frequency, interests: &Interests, confirmed: bool, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO subscribers (email, email_key, frequency, interests, status, manage_key, created_at, confirmed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, CASE WHEN ?5 = 'confirmed' THEN ?7 END)",
            params![
                email.as_str(),
                email_key(email),
                frequency.as_str(),
                encode_interests(interests),
                if confirmed { "confirmed" } else { "pending" },
                random_token(),
                now.to_rfc3339()
            ],
        )?;
        Ok(n == 1)
    }
}
