//! Subscribers on PostgreSQL (rules in `crate::subscriptions`).

use chrono::{DateTime, Utc};
use paperboy_core::EmailAddress;
use postgres::types::ToSql;
use postgres::Row;

use super::PgStore;
use crate::store::{encode_interests, StoreError, SubscriberStore};
use crate::subscriptions::{email_key, random_token, token_hash, Frequency, Interests, Status, SubscribeOutcome, Subscriber, CONFIRM_TTL, RESEND_AFTER};

const COLUMNS: &str = "id, email, frequency, interests, status, manage_key, created_at, last_digest_day";

/// A subscriber row as stored, decoded strictly (as on SQLite).
fn subscriber(r: &Row) -> Result<Subscriber, StoreError> {
    let id: i64 = r.try_get(0)?;
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::corrupt(format!("subscriber {id}"), format!("{what}: {e}"));
    let email: String = r.try_get(1)?;
    let frequency: String = r.try_get(2)?;
    let interests: String = r.try_get(3)?;
    let status: String = r.try_get(4)?;
    Ok(Subscriber {
        id,
        email: EmailAddress::parse(&email).map_err(|e| corrupt("email", &e))?,
        frequency: frequency.parse().map_err(|e: String| corrupt("frequency", &e))?,
        interests: serde_json::from_str(&interests).map_err(|e| corrupt("interests", &e))?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        manage_key: r.try_get(5)?,
        created_at: r.try_get(6)?,
        last_digest_day: r.try_get(7)?,
    })
}

impl PgStore {
    fn subscribers_where(&self, tail: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Subscriber>, StoreError> {
        self.conn().query(&format!("SELECT {COLUMNS} FROM subscribers {tail}"), params)?.iter().map(subscriber).collect()
    }

    pub(super) fn subscriber_where(&self, condition: &str, value: &(dyn ToSql + Sync)) -> Result<Option<Subscriber>, StoreError> {
        Ok(self.subscribers_where(&format!("WHERE {condition}"), &[value])?.pop())
    }
}

impl SubscriberStore for PgStore {
    fn subscribe(&mut self, email: &EmailAddress, frequency: Frequency, interests: &Interests, now: DateTime<Utc>) -> Result<SubscribeOutcome, StoreError> {
        let key = email_key(email);
        let token = random_token();
        let expires = now + CONFIRM_TTL;
        let interests_json = encode_interests(interests);
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        // Requests for one address, from any node, are decided one at a time.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
        let existing = tx.query_opt("SELECT id, status, confirm_sent_at FROM subscribers WHERE email_key = $1", &[&key])?;
        let outcome = match existing {
            None => {
                let row = tx.query_one(
                    "INSERT INTO subscribers (email, email_key, frequency, interests, status, confirm_hash, confirm_expires_at,
                         confirm_sent_at, manage_key, created_at)
                     VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $7) RETURNING id",
                    &[&email.as_str(), &key, &frequency.as_str(), &interests_json, &token_hash(&token), &expires, &now, &random_token()],
                )?;
                SubscribeOutcome::SendConfirmation { subscriber: row.try_get(0)?, token }
            }
            Some(row) => {
                let (id, status, sent): (i64, String, Option<DateTime<Utc>>) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                if status == Status::Confirmed.as_str() || sent.is_some_and(|s| now - s < RESEND_AFTER) {
                    SubscribeOutcome::Nothing
                } else {
                    // Pending or unsubscribed: a fresh token replaces the old one; the wishes of
                    // the latest request count once the address is confirmed.
                    tx.execute(
                        "UPDATE subscribers SET status = 'pending', frequency = $2, interests = $3, confirm_hash = $4,
                             confirm_expires_at = $5, confirm_sent_at = $6 WHERE id = $1",
                        &[&id, &frequency.as_str(), &interests_json, &token_hash(&token), &expires, &now],
                    )?;
                    SubscribeOutcome::SendConfirmation { subscriber: id, token }
                }
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    fn confirm(&mut self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        let confirmed = self.conn().query_opt(
            "UPDATE subscribers SET status = 'confirmed', confirm_hash = NULL, confirmed_at = $2
             WHERE confirm_hash = $1 AND status = 'pending' AND confirm_expires_at >= $2 RETURNING id",
            &[&token_hash(token), &now],
        )?;
        match confirmed {
            Some(row) => self.subscriber_where("id = $1", &row.try_get::<_, i64>(0)?),
            None => Ok(None),
        }
    }

    fn subscriber_by_email(&self, email: &EmailAddress) -> Result<Option<Subscriber>, StoreError> {
        self.subscriber_where("email_key = $1", &email_key(email))
    }

    fn subscriber_by_key(&self, key: &str) -> Result<Option<Subscriber>, StoreError> {
        self.subscriber_where("manage_key = $1", &key)
    }

    fn subscribers(&self, limit: usize) -> Result<Vec<Subscriber>, StoreError> {
        self.subscribers_where("ORDER BY id LIMIT $1", &[&(limit as i64)])
    }

    fn confirmed_subscribers(&self) -> Result<Vec<Subscriber>, StoreError> {
        self.subscribers_where("WHERE status = 'confirmed' ORDER BY id", &[])
    }

    fn unsubscribe(&mut self, key: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        self.conn().execute(
            "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = $2, confirm_hash = NULL
             WHERE manage_key = $1 AND status != 'unsubscribed'",
            &[&key, &now],
        )?;
        self.subscriber_by_key(key)
    }

    fn update_preferences(&mut self, key: &str, frequency: Frequency, interests: &Interests) -> Result<Option<Subscriber>, StoreError> {
        self.conn().execute("UPDATE subscribers SET frequency = $2, interests = $3 WHERE manage_key = $1", &[&key, &frequency.as_str(), &encode_interests(interests)])?;
        self.subscriber_by_key(key)
    }

    fn import_subscriber(&mut self, email: &EmailAddress, frequency: Frequency, interests: &Interests, confirmed: bool, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let status = if confirmed { Status::Confirmed } else { Status::Pending };
        let confirmed_at = confirmed.then_some(now);
        let n = self.conn().execute(
            "INSERT INTO subscribers (email, email_key, frequency, interests, status, manage_key, created_at, confirmed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (email_key) DO NOTHING",
            &[&email.as_str(), &email_key(email), &frequency.as_str(), &encode_interests(interests), &status.as_str(), &random_token(), &now, &confirmed_at],
        )?;
        Ok(n == 1)
    }
}
