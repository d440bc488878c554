//! The outbox, the digest ledger and leases on SQLite (guarantees in `crate::outbox`).

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use paperboy_core::PaperId;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::SqliteStore;
use crate::outbox::{after_transient, Delivery, Kind, OutboxCounts, OutboxRow, OutgoingMessage, Outcome, BOUNCES_TO_STOP};
use crate::store::{Leases, Outbox, StoreError};

const COLUMNS: &str = "id, subscriber_id, kind, attempts, message_id, recipient, subject, html, text, unsubscribe_url";

fn outbox_row(r: &rusqlite::Row<'_>) -> Result<OutboxRow, StoreError> {
    let id: i64 = r.get(0)?;
    let kind: String = r.get(2)?;
    Ok(OutboxRow {
        id,
        subscriber_id: r.get(1)?,
        kind: Kind::parse(&kind).ok_or_else(|| StoreError::corrupt(format!("outbox row {id}"), format!("kind {kind:?}")))?,
        attempts: r.get(3)?,
        message: OutgoingMessage {
            message_id: r.get(4)?,
            recipient: r.get(5)?,
            subject: r.get(6)?,
            html: r.get(7)?,
            text: r.get(8)?,
            unsubscribe_url: r.get(9)?,
        },
    })
}

fn delivery(s: &str, record: &str) -> Result<Delivery, StoreError> {
    Delivery::parse(s).ok_or_else(|| StoreError::corrupt(record, format!("delivery state {s:?}")))
}

impl Outbox for SqliteStore {
    fn already_sent(&self, subscriber: i64, papers: &[PaperId]) -> Result<HashSet<PaperId>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT 1 FROM digest_ledger WHERE subscriber_id = ?1 AND paper_id = ?2")?;
        let mut seen = HashSet::new();
        for p in papers {
            if stmt.exists(params![subscriber, p.to_string()])? {
                seen.insert(p.clone());
            }
        }
        Ok(seen)
    }

    fn has_digest(&self, subscriber: i64, period: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM outbox WHERE subscriber_id = ?1 AND kind = 'digest' AND period = ?2")?
            .exists(params![subscriber, period])?)
    }

    fn enqueue_digest_with(&mut self, subscriber: i64, period: &str, day: NaiveDate, papers: &[PaperId], alert_items: &[String], message: &OutgoingMessage, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.enqueue_ledgered(subscriber, Kind::Digest, period, Some(day), papers, alert_items, message, now)
    }

    fn enqueue_alert_mail(&mut self, subscriber: i64, key: &str, papers: &[PaperId], alert_items: &[String], message: &OutgoingMessage, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.enqueue_ledgered(subscriber, Kind::Alert, key, None, papers, alert_items, message, now)
    }

    fn enqueue_mail(&mut self, subscriber: i64, kind: Kind, message: &OutgoingMessage, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO outbox (subscriber_id, kind, period, message_id, recipient, subject, html, text, unsubscribe_url,
                 status, attempts, next_attempt_at, created_at)
             VALUES (?1, ?9, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', 0, ?2, ?2)",
            params![subscriber, now.to_rfc3339(), message.message_id, message.recipient, message.subject, message.html, message.text, message.unsubscribe_url, kind.as_str()],
        )?;
        Ok(())
    }

    fn claim_due(&mut self, now: DateTime<Utc>, limit: usize, lease: Duration) -> Result<Vec<OutboxRow>, StoreError> {
        // One write transaction at a time on SQLite: taking the lock first makes the select and
        // the claim one step for every process on the file.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox o
                 WHERE status IN ('queued', 'sending') AND next_attempt_at <= ?1
                   AND (kind NOT IN ('digest', 'alert') OR EXISTS (SELECT 1 FROM subscribers s WHERE s.id = o.subscriber_id AND s.status = 'confirmed'))
                 ORDER BY id LIMIT ?2"
            ))?;
            let mut found = stmt.query(params![now.to_rfc3339(), limit as i64])?;
            let mut rows = Vec::new();
            while let Some(r) = found.next()? {
                rows.push(outbox_row(r)?);
            }
            rows
        };
        {
            let mut claim = tx.prepare_cached("UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1")?;
            for row in &rows {
                claim.execute(params![row.id, (now + lease).to_rfc3339()])?;
            }
        }
        tx.commit()?;
        Ok(rows)
    }

    fn record_outcomes(&mut self, outcomes: &[(i64, Outcome)], now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut states = Vec::with_capacity(outcomes.len());
        for (id, outcome) in outcomes {
            let state = match outcome {
                Outcome::Sent => {
                    tx.prepare_cached("UPDATE outbox SET status = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1")?
                        .execute(params![id, now.to_rfc3339()])?;
                    Delivery::Sent
                }
                Outcome::Transient(error) => {
                    let attempts: u32 = tx.prepare_cached("SELECT attempts FROM outbox WHERE id = ?1")?.query_row([id], |r| r.get(0))?;
                    let (state, next) = after_transient(attempts, now);
                    tx.prepare_cached("UPDATE outbox SET status = ?2, last_error = ?3, next_attempt_at = ?4 WHERE id = ?1")?
                        .execute(params![id, state.as_str(), error, next.to_rfc3339()])?;
                    state
                }
                Outcome::Permanent(error) => {
                    tx.prepare_cached("UPDATE outbox SET status = 'bounced', last_error = ?2 WHERE id = ?1")?.execute(params![id, error])?;
                    tx.prepare_cached(
                        "UPDATE subscribers SET bounces = bounces + 1,
                             status = CASE WHEN bounces + 1 >= ?2 AND status = 'confirmed' THEN 'bouncing' ELSE status END
                         WHERE id = (SELECT subscriber_id FROM outbox WHERE id = ?1)",
                    )?
                    .execute(params![id, BOUNCES_TO_STOP])?;
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
        let mut stmt = self.conn.prepare_cached("SELECT status, count(*) FROM outbox GROUP BY status")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let status: String = r.get(0)?;
            counts.add(delivery(&status, "outbox")?, r.get(1)?);
        }
        drop(rows);
        // RFC 3339 texts in UTC order as their times do.
        let next: Option<String> = self.conn.prepare_cached("SELECT min(next_attempt_at) FROM outbox WHERE status IN ('queued', 'sending')")?.query_row([], |r| r.get(0))?;
        counts.next_attempt = next.map(|t| super::time(&t, &|| "outbox next attempt".into())).transpose()?;
        Ok(counts)
    }

    fn delivery_of(&self, message_id: &str) -> Result<Option<(Delivery, u32)>, StoreError> {
        let found: Option<(String, u32)> =
            self.conn.query_row("SELECT status, attempts FROM outbox WHERE message_id = ?1", [message_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        found.map(|(status, attempts)| Ok((delivery(&status, &format!("outbox message {message_id}"))?, attempts))).transpose()
    }
}

impl Leases for SqliteStore {
    fn try_lease(&mut self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let changed = self.conn.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?4)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE leases.expires_at <= ?3 OR leases.holder = excluded.holder",
            params![name, holder, now.to_rfc3339(), until.to_rfc3339()],
        )?;
        Ok(changed == 1)
    }

    fn release_lease(&mut self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM leases WHERE name = ?1 AND holder = ?2", params![name, holder])?;
        Ok(())
    }

    fn lease_holder(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        let found: Option<(String, String)> =
            self.conn.query_row("SELECT holder, expires_at FROM leases WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        found.map(|(holder, until)| Ok((holder, super::time(&until, &|| format!("lease {name}"))?))).transpose()
    }
}

impl SqliteStore {
    /// A digest or an alert mail: the outbox row, its ledger rows, the alert items marked
    /// mailed and (a digest) the subscriber's last digest day, in one transaction.
    #[allow(clippy::too_many_arguments)]
    fn enqueue_ledgered(&mut self, subscriber: i64, kind: Kind, period: &str, day: Option<NaiveDate>, papers: &[PaperId], alert_items: &[String], message: &OutgoingMessage, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO outbox (subscriber_id, kind, period, message_id, recipient, subject, html, text, unsubscribe_url,
                 status, attempts, next_attempt_at, created_at)
             VALUES (?1, ?10, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', 0, ?9, ?9)",
            params![subscriber, period, message.message_id, message.recipient, message.subject, message.html, message.text, message.unsubscribe_url, now.to_rfc3339(), kind.as_str()],
        )?;
        if inserted == 0 {
            return Ok(false);
        }
        let outbox_id = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare_cached("INSERT OR IGNORE INTO digest_ledger (subscriber_id, paper_id, outbox_id) VALUES (?1, ?2, ?3)")?;
            for p in papers {
                stmt.execute(params![subscriber, p.to_string(), outbox_id])?;
            }
        }
        {
            let mut stmt = tx.prepare_cached("UPDATE alert_ledger SET mailed_at = ?3 WHERE reader_id = ?1 AND output = 'email' AND item = ?2")?;
            for item in alert_items {
                stmt.execute(params![subscriber, item, now.to_rfc3339()])?;
            }
        }
        if let Some(day) = day {
            tx.execute("UPDATE subscribers SET last_digest_day = ?2 WHERE id = ?1", params![subscriber, day.to_string()])?;
        }
        tx.commit()?;
        Ok(true)
    }
}
