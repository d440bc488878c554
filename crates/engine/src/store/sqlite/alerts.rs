//! Alerts, their ledger and the webhook outbox on SQLite (rules in `crate::alerts`).

use chrono::{DateTime, Duration, Utc};
use paperboy_core::PaperId;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{paper_id, time, SqliteStore};
use crate::alerts::{retry_after, Alert, AlertSpec, FeedEntry, PaperEvent, Run, AlertSettings, WebhookJob, WebhookRequest, WebhookState, FAILURES_TO_DISABLE, WEBHOOK_ATTEMPTS};
use crate::store::{AlertStore, StoreError};
use crate::subscriptions::random_token;

const ALERT: &str = "SELECT id, reader_id, name, spec, secret, seen_seq, webhook_failures, webhook_disabled_at, webhook_error, last_run_at, created_at FROM alerts";

fn alert(r: &rusqlite::Row<'_>) -> Result<Alert, StoreError> {
    let id: i64 = r.get(0)?;
    let record = || format!("alert {id}");
    let spec: String = r.get(3)?;
    let disabled: Option<String> = r.get(7)?;
    let last_run: Option<String> = r.get(9)?;
    Ok(Alert {
        id,
        reader: r.get(1)?,
        name: r.get(2)?,
        spec: serde_json::from_str(&spec).map_err(|e| StoreError::corrupt(record(), e))?,
        secret: r.get(4)?,
        seen_seq: r.get(5)?,
        webhook_failures: r.get(6)?,
        webhook_disabled: disabled.map(|d| Ok::<_, StoreError>((time(&d, &record)?, r.get::<_, Option<String>>(8)?.unwrap_or_default()))).transpose()?,
        last_run_at: last_run.map(|t| time(&t, &record)).transpose()?,
        created_at: time(&r.get::<_, String>(10)?, &record)?,
    })
}

fn state(s: &str, id: i64) -> Result<WebhookState, StoreError> {
    WebhookState::parse(s).ok_or_else(|| StoreError::corrupt(format!("webhook delivery {id}"), format!("state {s:?}")))
}

fn event(r: &rusqlite::Row<'_>) -> Result<PaperEvent, StoreError> {
    let id: i64 = r.get(0)?;
    let record = || format!("paper event {id}");
    let paper: String = r.get(1)?;
    Ok(PaperEvent {
        id,
        paper: paper_id(&paper, &record)?,
        kind: r.get(2)?,
        key: r.get(3)?,
        text: r.get(4)?,
        at: time(&r.get::<_, String>(5)?, &record)?,
    })
}

impl SqliteStore {
    /// Alert ledger rows (`item, alerts, at`) of `reader` that `sql` selects (`?1` the reader,
    /// `?2` the limit).
    fn ledger_entries(&self, sql: &str, reader: i64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params![reader, limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (item, alerts, at): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let record = || format!("alert ledger row {item} of reader {reader}");
            out.push(FeedEntry { alerts: serde_json::from_str(&alerts).map_err(|e| StoreError::corrupt(record(), e))?, at: time(&at, &record)?, item });
        }
        Ok(out)
    }

    fn alerts_where(&self, tail: &str, value: &dyn rusqlite::ToSql) -> Result<Vec<Alert>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("{ALERT} {tail}"))?;
        let mut rows = stmt.query([value])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(alert(r)?);
        }
        Ok(out)
    }
}

impl AlertStore for SqliteStore {
    fn create_alert(&mut self, reader: i64, name: &str, spec: &AlertSpec, now: DateTime<Utc>) -> Result<Option<Alert>, StoreError> {
        let seq: i64 = self.conn.query_row("SELECT coalesce(max(seq), 0) FROM papers", [], |r| r.get(0))?;
        let spec_json = serde_json::to_string(spec).expect("a spec serialises");
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO alerts (reader_id, name, spec, secret, seen_seq, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![reader, name, spec_json, random_token(), seq, now.to_rfc3339()],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let id = self.conn.last_insert_rowid();
        Ok(self.alerts_where("WHERE id = ?1", &id)?.pop())
    }

    fn update_alert(&mut self, reader: i64, id: i64, spec: &AlertSpec) -> Result<Option<Alert>, StoreError> {
        let spec_json = serde_json::to_string(spec).expect("a spec serialises");
        let n = self.conn.execute(
            "UPDATE alerts SET spec = ?3, webhook_failures = 0, webhook_disabled_at = NULL, webhook_error = NULL WHERE id = ?1 AND reader_id = ?2",
            params![id, reader, spec_json],
        )?;
        if n == 0 {
            return Ok(None);
        }
        Ok(self.alerts_where("WHERE id = ?1", &id)?.pop())
    }

    fn alerts_of(&self, reader: i64) -> Result<Vec<Alert>, StoreError> {
        self.alerts_where("WHERE reader_id = ?1 ORDER BY name, id", &reader)
    }

    fn all_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        self.alerts_where("WHERE 1 = ?1 ORDER BY id", &1)
    }

    fn delete_alert(&mut self, reader: i64, id: i64) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM webhook_deliveries WHERE alert_id = (SELECT id FROM alerts WHERE id = ?1 AND reader_id = ?2)", params![id, reader])?;
        let n = tx.execute("DELETE FROM alerts WHERE id = ?1 AND reader_id = ?2", params![id, reader])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn record_alert_run(&mut self, run: &Run, now: DateTime<Utc>) -> Result<Vec<(String, String)>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut recorded = Vec::new();
        {
            let mut ledger = tx.prepare_cached("INSERT OR IGNORE INTO alert_ledger (reader_id, item, output, alerts, at) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            let mut queue = tx.prepare_cached(
                "INSERT OR IGNORE INTO webhook_deliveries (alert_id, url, idempotency_key, content_type, headers, body, status, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?7)",
            )?;
            for d in &run.deliveries {
                let alerts = serde_json::to_string(&d.alerts).expect("names serialise");
                if ledger.execute(params![run.reader, d.item, d.output, alerts, now.to_rfc3339()])? == 0 {
                    continue;
                }
                if let Some(w) = &d.webhook {
                    let headers = serde_json::to_string(&w.headers).expect("headers serialise");
                    queue.execute(params![w.alert, w.url, w.idempotency_key, w.content_type, headers, w.body, now.to_rfc3339()])?;
                }
                recorded.push((d.item.clone(), d.output.clone()));
            }
            let mut seen = tx.prepare_cached("UPDATE alerts SET seen_seq = max(seen_seq, ?2), last_run_at = ?3 WHERE id = ?1")?;
            for (id, seq) in &run.seen {
                seen.execute(params![id, seq, now.to_rfc3339()])?;
            }
            let mut events = tx.prepare_cached("UPDATE watches SET seen_event = max(seen_event, ?3) WHERE reader_id = ?1 AND paper_id = ?2")?;
            for (paper, event) in &run.events_seen {
                events.execute(params![run.reader, paper.to_string(), event])?;
            }
        }
        tx.commit()?;
        Ok(recorded)
    }

    fn alert_feed(&self, reader: i64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        self.ledger_entries("SELECT item, alerts, at FROM alert_ledger WHERE reader_id = ?1 AND output = 'feed' ORDER BY at DESC, item LIMIT ?2", reader, limit)
    }

    fn alert_mail(&self, reader: i64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        self.ledger_entries(
            "SELECT item, alerts, at FROM alert_ledger a WHERE reader_id = ?1 AND output = 'email' AND mailed_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM digest_ledger d WHERE d.subscriber_id = a.reader_id AND d.paper_id = a.item)
             ORDER BY at, item LIMIT ?2",
            reader,
            limit,
        )
    }

    fn separate_alert_mail_readers(&self) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(crate::store::SEPARATE_ALERT_MAIL_READERS)?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn claim_webhooks(&mut self, now: DateTime<Utc>, limit: usize, lease: Duration) -> Result<Vec<WebhookJob>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut jobs = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT d.id, d.alert_id, d.url, d.idempotency_key, d.content_type, d.headers, d.body, d.attempts, a.secret
                 FROM webhook_deliveries d JOIN alerts a ON a.id = d.alert_id
                 WHERE d.status IN ('queued', 'sending') AND d.next_attempt_at <= ?1 AND a.webhook_disabled_at IS NULL
                 ORDER BY d.id LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![now.to_rfc3339(), limit as i64])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let headers: String = r.get(5)?;
                let attempts: u32 = r.get(7)?;
                jobs.push(WebhookJob {
                    id,
                    request: WebhookRequest {
                        alert: r.get(1)?,
                        url: r.get(2)?,
                        idempotency_key: r.get(3)?,
                        content_type: r.get(4)?,
                        headers: serde_json::from_str(&headers).map_err(|e| StoreError::corrupt(format!("webhook delivery {id}"), e))?,
                        body: r.get(6)?,
                    },
                    secret: r.get(8)?,
                    attempts: attempts + 1,
                });
            }
        }
        {
            let mut claim = tx.prepare_cached("UPDATE webhook_deliveries SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1")?;
            for job in &jobs {
                claim.execute(params![job.id, (now + lease).to_rfc3339()])?;
            }
        }
        tx.commit()?;
        Ok(jobs)
    }

    fn record_webhook(&mut self, id: i64, outcome: Result<(), String>, now: DateTime<Utc>) -> Result<WebhookState, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (alert, attempts): (i64, u32) = tx.query_row("SELECT alert_id, attempts FROM webhook_deliveries WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let state = match outcome {
            Ok(()) => {
                tx.execute("UPDATE webhook_deliveries SET status = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1", params![id, now.to_rfc3339()])?;
                tx.execute("UPDATE alerts SET webhook_failures = 0 WHERE id = ?1", [alert])?;
                WebhookState::Sent
            }
            Err(error) => {
                let state = if attempts >= WEBHOOK_ATTEMPTS { WebhookState::Failed } else { WebhookState::Queued };
                tx.execute(
                    "UPDATE webhook_deliveries SET status = ?2, last_error = ?3, next_attempt_at = ?4 WHERE id = ?1",
                    params![id, state.as_str(), error, (now + retry_after(attempts)).to_rfc3339()],
                )?;
                tx.execute(
                    "UPDATE alerts SET webhook_failures = webhook_failures + 1, webhook_error = ?2,
                         webhook_disabled_at = CASE WHEN webhook_failures + 1 >= ?3 THEN coalesce(webhook_disabled_at, ?4) ELSE webhook_disabled_at END
                     WHERE id = ?1",
                    params![alert, error, FAILURES_TO_DISABLE, now.to_rfc3339()],
                )?;
                state
            }
        };
        tx.commit()?;
        Ok(state)
    }

    fn watch_paper(&mut self, reader: i64, paper: &PaperId, watch: bool, now: DateTime<Utc>) -> Result<(), StoreError> {
        if watch {
            self.conn.execute(
                "INSERT OR IGNORE INTO watches (reader_id, paper_id, seen_event, since) VALUES (?1, ?2, (SELECT coalesce(max(id), 0) FROM paper_events), ?3)",
                params![reader, paper.to_string(), now.to_rfc3339()],
            )?;
        } else {
            self.conn.execute("DELETE FROM watches WHERE reader_id = ?1 AND paper_id = ?2", params![reader, paper.to_string()])?;
        }
        Ok(())
    }

    fn set_alert_settings(&mut self, reader: i64, settings: AlertSettings, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO alert_settings (reader_id, saved, email, webhook_alert, separate, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (reader_id) DO UPDATE SET saved = ?2, email = ?3, webhook_alert = ?4, separate = ?5",
            params![reader, settings.saved, settings.email, settings.webhook_alert, settings.separate, now.to_rfc3339()],
        )?;
        if settings.saved {
            tx.execute(
                "INSERT OR IGNORE INTO watches (reader_id, paper_id, seen_event, since)
                 SELECT DISTINCT ?1, i.paper_id, (SELECT coalesce(max(id), 0) FROM paper_events), ?2
                 FROM collection_items i JOIN collections c ON c.id = i.collection_id WHERE c.reader_id = ?1",
                params![reader, now.to_rfc3339()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn alert_settings(&self, reader: i64) -> Result<AlertSettings, StoreError> {
        let row: Option<AlertSettings> = self
            .conn
            .query_row("SELECT saved, email, webhook_alert, separate FROM alert_settings WHERE reader_id = ?1", [reader], |r| {
                Ok(AlertSettings { saved: r.get(0)?, email: r.get(1)?, webhook_alert: r.get(2)?, separate: r.get(3)? })
            })
            .optional()?;
        Ok(row.unwrap_or_default())
    }

    fn watched_papers(&self, reader: i64) -> Result<Vec<(PaperId, DateTime<Utc>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT paper_id, since FROM watches WHERE reader_id = ?1 ORDER BY since DESC, paper_id")?;
        let mut rows = stmt.query([reader])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (paper, since): (String, String) = (r.get(0)?, r.get(1)?);
            let record = || format!("watch of {paper} by reader {reader}");
            out.push((paper_id(&paper, &record)?, time(&since, &record)?));
        }
        Ok(out)
    }

    fn watch_events(&self, limit: usize) -> Result<Vec<(i64, PaperEvent)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.id, e.paper_id, e.kind, e.key, e.text, e.at, w.reader_id
             FROM watches w JOIN paper_events e ON e.paper_id = w.paper_id AND e.id > w.seen_event
             ORDER BY e.id, w.reader_id LIMIT ?1",
        )?;
        let mut rows = stmt.query([limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push((r.get(6)?, event(r)?));
        }
        Ok(out)
    }

    fn paper_events(&self, paper: &PaperId) -> Result<Vec<PaperEvent>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT id, paper_id, kind, key, text, at FROM paper_events WHERE paper_id = ?1 ORDER BY id")?;
        let mut rows = stmt.query([paper.to_string()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(event(r)?);
        }
        Ok(out)
    }

    fn webhook_delivery(&self, idempotency_key: &str) -> Result<Option<(WebhookState, u32)>, StoreError> {
        let row: Option<(i64, String, u32)> = self
            .conn
            .query_row("SELECT id, status, attempts FROM webhook_deliveries WHERE idempotency_key = ?1", [idempotency_key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        row.map(|(id, s, attempts)| Ok((state(&s, id)?, attempts))).transpose()
    }
}
