//! The outbox, the digest ledger and leases on PostgreSQL (guarantees in `crate::outbox`).

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use paperboy_core::PaperId;
use postgres::Row;

use super::{uncount, PgStore};
use crate::outbox::{after_transient, Delivery, Kind, OutboxCounts, OutboxRow, OutgoingMessage, Outcome, BOUNCES_TO_STOP};
use crate::store::{Leases, Outbox, StoreError};

fn delivery(s: &str, record: &str) -> Result<Delivery, StoreError> {
    Delivery::parse(s).ok_or_else(|| StoreError::corrupt(record, format!("delivery state {s:?}")))
}

/// A claimed row; `attempts` in the row already counts this claim.
fn claimed_row(r: &Row) -> Result<OutboxRow, StoreError> {
    let id: i64 = r.try_get(0)?;
    let kind: String = r.try_get(2)?;
    let attempts: i32 = r.try_get(3)?;
    Ok(OutboxRow {
        id,
        subscriber_id: r.try_get(1)?,
        kind: Kind::parse(&kind).ok_or_else(|| StoreError::corrupt(format!("outbox row {id}"), format!("kind {kind:?}")))?,
        attempts: u32::try_from(attempts - 1).unwrap_or(0),
        message: OutgoingMessage {
            message_id: r.try_get(4)?,
            recipient: r.try_get(5)?,
            subject: r.try_get(6)?,
            html: r.try_get(7)?,
            text: r.try_get(8)?,
            unsubscribe_url: r.try_get(9)?,
        },
    })
}

impl Outbox for PgStore {
    fn already_sent(&self, subscriber: i64, papers: &[PaperId]) -> Result<HashSet<PaperId>, StoreError> {
        if papers.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<String> = papers.iter().map(|p| p.to_string()).collect();
        let mut client = self.conn();
        let statement = self.statement(&mut *client, "SELECT paper_id FROM digest_ledger WHERE subscriber_id = $1 AND paper_id = ANY($2)")?;
        let rows = client.query(&statement, &[&subscriber, &ids])?;
        let seen: HashSet<String> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
        Ok(papers.iter().filter(|p| seen.contains(&p.to_string())).cloned().collect())
    }

    fn has_digest(&self, subscriber: i64, period: &str) -> Result<bool, StoreError> {
        let mut client = self.conn();
        let statement = self.statement(&mut *client, "SELECT 1 FROM outbox WHERE subscriber_id = $1 AND kind = 'digest' AND period = $2")?;
        Ok(client.query_opt(&statement, &[&subscriber, &period])?.is_some())
    }

    fn enqueue_digest_with(&mut self, subscriber: i64, period: &str, day: NaiveDate, papers: &[PaperId], alert_items: &[String], message: &OutgoingMessage, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.enqueue_ledgered(subscriber, Kind::Digest, period, Some(day), papers, alert_items, message, now)
    }

    fn enqueue_alert_mail(&mut self, subscriber: i64, key: &str, papers: &[PaperId], alert_items: &[String], message: &OutgoingMessage, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.enqueue_ledgered(subscriber, Kind::Alert, key, None, papers, alert_items, message, now)
    }

    fn enqueue_mail(&mut self, subscriber: i64, kind: Kind, message: &OutgoingMessage, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO outbox (subscriber_id, kind, period, message_id, recipient, subject, html, text, unsubscribe_url,
                 status, attempts, next_attempt_at, created_at)
             VALUES ($1, $10, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9, $9) ON CONFLICT DO NOTHING",
            &[&subscriber, &now.to_rfc3339(), &message.message_id, &message.recipient, &message.subject, &message.html, &message.text, &message.unsubscribe_url, &now, &kind.as_str()],
        )?;
        Ok(())
    }

    fn claim_due(&mut self, now: DateTime<Utc>, limit: usize, lease: Duration) -> Result<Vec<OutboxRow>, StoreError> {
        let mut client = self.conn();
        let claim = self.statement(
            &mut *client,
            "WITH due AS (
                 SELECT o.id FROM outbox o
                 WHERE o.status IN ('queued', 'sending') AND o.next_attempt_at <= $1
                   AND (o.kind NOT IN ('digest', 'alert') OR EXISTS (SELECT 1 FROM subscribers s WHERE s.id = o.subscriber_id AND s.status = 'confirmed'))
                 ORDER BY o.id LIMIT $2
                 FOR UPDATE OF o SKIP LOCKED
             )
             UPDATE outbox SET status = 'sending', attempts = outbox.attempts + 1, next_attempt_at = $3
             FROM due WHERE outbox.id = due.id
             RETURNING outbox.id, outbox.subscriber_id, outbox.kind, outbox.attempts, outbox.message_id, outbox.recipient,
                 outbox.subject, outbox.html, outbox.text, outbox.unsubscribe_url",
        )?;
        let rows = client.query(&claim, &[&now, &(limit as i64), &(now + lease)])?;
        let mut claimed = rows.iter().map(claimed_row).collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|r| r.id);
        Ok(claimed)
    }

    fn record_outcomes(&mut self, outcomes: &[(i64, Outcome)], now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        // The usual outcome, every message accepted, is one statement for the whole step.
        let sent: Vec<i64> = outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Sent)).map(|(id, _)| *id).collect();
        if !sent.is_empty() {
            let mark_sent = self.statement(&mut tx, "UPDATE outbox SET status = 'sent', sent_at = $2, last_error = NULL WHERE id = ANY($1)")?;
            tx.execute(&mark_sent, &[&sent, &now])?;
        }
        let mut states = Vec::with_capacity(outcomes.len());
        for (id, outcome) in outcomes {
            let state = match outcome {
                Outcome::Sent => Delivery::Sent,
                Outcome::Transient(error) => {
                    let attempts: i32 = tx.query_one("SELECT attempts FROM outbox WHERE id = $1", &[id])?.try_get(0)?;
                    let attempts = u32::try_from(attempts).unwrap_or(0);
                    let (state, next) = after_transient(attempts, now);
                    tx.execute("UPDATE outbox SET status = $2, last_error = $3, next_attempt_at = $4 WHERE id = $1", &[id, &state.as_str(), error, &next])?;
                    state
                }
                Outcome::Permanent(error) => {
                    tx.execute("UPDATE outbox SET status = 'bounced', last_error = $2 WHERE id = $1", &[id, error])?;
                    tx.execute(
                        "UPDATE subscribers SET bounces = bounces + 1,
                             status = CASE WHEN bounces + 1 >= $2 AND status = 'confirmed' THEN 'bouncing' ELSE status END
                         WHERE id = (SELECT subscriber_id FROM outbox WHERE id = $1)",
                        &[id, &(BOUNCES_TO_STOP as i32)],
                    )?;
                    Delivery::Bounced
                }
            };
            states.push(state);
        }
        tx.commit()?;
        Ok(states)
    }

    fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let mut counts = OutboxCounts::default();
        for r in self.conn().query("SELECT status, count(*) FROM outbox GROUP BY status", &[])? {
            let status: String = r.try_get(0)?;
            counts.add(delivery(&status, "outbox")?, uncount(r.try_get(1)?));
        }
        counts.next_attempt = self.conn().query_one("SELECT min(next_attempt_at) FROM outbox WHERE status IN ('queued', 'sending')", &[])?.try_get(0)?;
        Ok(counts)
    }

    fn delivery_of(&self, message_id: &str) -> Result<Option<(Delivery, u32)>, StoreError> {
        let Some(r) = self.conn().query_opt("SELECT status, attempts FROM outbox WHERE message_id = $1", &[&message_id])? else { return Ok(None) };
        let status: String = r.try_get(0)?;
        let attempts: i32 = r.try_get(1)?;
        Ok(Some((delivery(&status, &format!("outbox message {message_id}"))?, u32::try_from(attempts).unwrap_or(0))))
    }
}

impl Leases for PgStore {
    fn try_lease(&mut self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $4)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE leases.expires_at <= $3 OR leases.holder = excluded.holder",
            &[&name, &holder, &now, &until],
        )?;
        Ok(changed == 1)
    }

    fn release_lease(&mut self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM leases WHERE name = $1 AND holder = $2", &[&name, &holder])?;
        Ok(())
    }

    fn lease_holder(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        let row = self.conn().query_opt("SELECT holder, expires_at FROM leases WHERE name = $1", &[&name])?;
        Ok(row.map(|r| Ok::<_, postgres::Error>((r.try_get(0)?, r.try_get(1)?))).transpose()?)
    }
}

impl PgStore {
    /// A digest or an alert mail: the outbox row, its ledger rows, the alert items marked
    /// mailed and (a digest) the subscriber's last digest day, in one statement.
    #[allow(clippy::too_many_arguments)]
    fn enqueue_ledgered(&self, subscriber: i64, kind: Kind, period: &str, day: Option<NaiveDate>, papers: &[PaperId], alert_items: &[String], message: &OutgoingMessage, now: DateTime<Utc>) -> Result<bool, StoreError> {
        // One statement, so one round trip and one transaction: the outbox row, its ledger rows
        // and the subscriber's last digest day, or (a digest for the period exists) nothing.
        let mut client = self.conn();
        let enqueue = self.statement(
            &mut *client,
            "WITH o AS (
                 INSERT INTO outbox (subscriber_id, kind, period, message_id, recipient, subject, html, text, unsubscribe_url,
                     status, attempts, next_attempt_at, created_at)
                 VALUES ($1, $13, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9, $9)
                 ON CONFLICT DO NOTHING RETURNING id
             ), ledger AS (
                 INSERT INTO digest_ledger (subscriber_id, paper_id, outbox_id)
                 SELECT $1, p, o.id FROM o, unnest($10::text[]) AS t(p) ON CONFLICT DO NOTHING
             ), last_day AS (
                 UPDATE subscribers SET last_digest_day = $11 WHERE id = $1 AND $11::date IS NOT NULL AND EXISTS (SELECT 1 FROM o)
             ), mailed AS (
                 UPDATE alert_ledger SET mailed_at = $9
                 WHERE reader_id = $1 AND output = 'email' AND item = ANY($12::text[]) AND EXISTS (SELECT 1 FROM o)
             )
             SELECT id FROM o",
        )?;
        let ids: Vec<String> = papers.iter().map(|p| p.to_string()).collect();
        let inserted = client.query_opt(
            &enqueue,
            &[&subscriber, &period, &message.message_id, &message.recipient, &message.subject, &message.html, &message.text, &message.unsubscribe_url, &now, &ids, &day, &alert_items, &kind.as_str()],
        )?;
        Ok(inserted.is_some())
    }
}
