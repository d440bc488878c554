//! Alerts, their ledger and the webhook outbox on PostgreSQL (rules in `crate::alerts`).

use chrono::{DateTime, Duration, Utc};
use paperboy_core::PaperId;
use postgres::Row;

use super::{paper_id, PgStore};
use crate::alerts::{retry_after, Alert, AlertSpec, FeedEntry, PaperEvent, Run, AlertSettings, WebhookJob, WebhookRequest, WebhookState, FAILURES_TO_DISABLE, WEBHOOK_ATTEMPTS};
use crate::store::{AlertStore, StoreError};
use crate::subscriptions::random_token;

const ALERT: &str = "SELECT id, reader_id, name, spec, secret, seen_seq, webhook_failures, webhook_disabled_at, webhook_error, last_run_at, created_at FROM alerts";

fn alert(r: &Row) -> Result<Alert, StoreError> {
    let id: i64 = r.try_get(0)?;
    let spec: String = r.try_get(3)?;
    let failures: i32 = r.try_get(6)?;
    let disabled: Option<DateTime<Utc>> = r.try_get(7)?;
    Ok(Alert {
        id,
        reader: r.try_get(1)?,
        name: r.try_get(2)?,
        spec: serde_json::from_str(&spec).map_err(|e| StoreError::corrupt(format!("alert {id}"), e))?,
        secret: r.try_get(4)?,
        seen_seq: r.try_get(5)?,
        webhook_failures: u32::try_from(failures).unwrap_or(0),
        webhook_disabled: disabled.map(|d| Ok::<_, StoreError>((d, r.try_get::<_, Option<String>>(8)?.unwrap_or_default()))).transpose()?,
        last_run_at: r.try_get(9)?,
        created_at: r.try_get(10)?,
    })
}

fn event(r: &Row) -> Result<PaperEvent, StoreError> {
    let id: i64 = r.try_get(0)?;
    let paper: String = r.try_get(1)?;
    Ok(PaperEvent {
        id,
        paper: paper_id(&paper, &|| format!("paper event {id}"))?,
        kind: r.try_get(2)?,
        key: r.try_get(3)?,
        text: r.try_get(4)?,
        at: r.try_get(5)?,
    })
}

impl PgStore {
    /// Alert ledger rows (`item, alerts, at`) of `reader` that `sql` selects (`$1` the reader,
    /// `$2` the limit).
    fn ledger_entries(&self, sql: &str, reader: i64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        let rows = self.conn().query(sql, &[&reader, &(limit as i64)])?;
        rows.iter()
            .map(|r| {
                let (item, alerts): (String, String) = (r.try_get(0)?, r.try_get(1)?);
                let alerts = serde_json::from_str(&alerts).map_err(|e| StoreError::corrupt(format!("alert ledger row {item} of reader {reader}"), e))?;
                Ok(FeedEntry { item, alerts, at: r.try_get(2)? })
            })
            .collect()
    }

    fn alerts_where(&self, tail: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Vec<Alert>, StoreError> {
        self.conn().query(&format!("{ALERT} {tail}"), params)?.iter().map(alert).collect()
    }
}

impl AlertStore for PgStore {
    fn create_alert(&mut self, reader: i64, name: &str, spec: &AlertSpec, now: DateTime<Utc>) -> Result<Option<Alert>, StoreError> {
        let spec_json = serde_json::to_string(spec).expect("a spec serialises");
        let row = self.conn().query_opt(
            "INSERT INTO alerts (reader_id, name, spec, secret, seen_seq, created_at)
             VALUES ($1, $2, $3, $4, (SELECT coalesce(max(seq), 0) FROM papers), $5)
             ON CONFLICT (reader_id, name) DO NOTHING RETURNING id",
            &[&reader, &name, &spec_json, &random_token(), &now],
        )?;
        match row {
            Some(row) => Ok(self.alerts_where("WHERE id = $1", &[&row.try_get::<_, i64>(0)?])?.pop()),
            None => Ok(None),
        }
    }

    fn update_alert(&mut self, reader: i64, id: i64, spec: &AlertSpec) -> Result<Option<Alert>, StoreError> {
        let spec_json = serde_json::to_string(spec).expect("a spec serialises");
        let n = self.conn().execute(
            "UPDATE alerts SET spec = $3, webhook_failures = 0, webhook_disabled_at = NULL, webhook_error = NULL WHERE id = $1 AND reader_id = $2",
            &[&id, &reader, &spec_json],
        )?;
        if n == 0 {
            return Ok(None);
        }
        Ok(self.alerts_where("WHERE id = $1", &[&id])?.pop())
    }

    fn alerts_of(&self, reader: i64) -> Result<Vec<Alert>, StoreError> {
        self.alerts_where("WHERE reader_id = $1 ORDER BY name, id", &[&reader])
    }

    fn all_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        self.alerts_where("ORDER BY id", &[])
    }

    fn delete_alert(&mut self, reader: i64, id: i64) -> Result<bool, StoreError> {
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        tx.execute("DELETE FROM webhook_deliveries WHERE alert_id IN (SELECT id FROM alerts WHERE id = $1 AND reader_id = $2)", &[&id, &reader])?;
        let n = tx.execute("DELETE FROM alerts WHERE id = $1 AND reader_id = $2", &[&id, &reader])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn record_alert_run(&mut self, run: &Run, now: DateTime<Utc>) -> Result<Vec<(String, String)>, StoreError> {
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        let mut recorded = Vec::new();
        for d in &run.deliveries {
            let alerts = serde_json::to_string(&d.alerts).expect("names serialise");
            let n = tx.execute(
                "INSERT INTO alert_ledger (reader_id, item, output, alerts, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[&run.reader, &d.item, &d.output, &alerts, &now],
            )?;
            if n == 0 {
                continue;
            }
            if let Some(w) = &d.webhook {
                let headers = serde_json::to_string(&w.headers).expect("headers serialise");
                tx.execute(
                    "INSERT INTO webhook_deliveries (alert_id, url, idempotency_key, content_type, headers, body, status, next_attempt_at, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7) ON CONFLICT (idempotency_key) DO NOTHING",
                    &[&w.alert, &w.url, &w.idempotency_key, &w.content_type, &headers, &w.body, &now],
                )?;
            }
            recorded.push((d.item.clone(), d.output.clone()));
        }
        for (id, seq) in &run.seen {
            tx.execute("UPDATE alerts SET seen_seq = greatest(seen_seq, $2), last_run_at = $3 WHERE id = $1", &[id, seq, &now])?;
        }
        for (paper, event) in &run.events_seen {
            tx.execute("UPDATE watches SET seen_event = greatest(seen_event, $3) WHERE reader_id = $1 AND paper_id = $2", &[&run.reader, &paper.to_string(), event])?;
        }
        tx.commit()?;
        Ok(recorded)
    }

    fn alert_feed(&self, reader: i64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        self.ledger_entries("SELECT item, alerts, at FROM alert_ledger WHERE reader_id = $1 AND output = 'feed' ORDER BY at DESC, item LIMIT $2", reader, limit)
    }

    fn alert_mail(&self, reader: i64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        self.ledger_entries(
            "SELECT item, alerts, at FROM alert_ledger a WHERE reader_id = $1 AND output = 'email' AND mailed_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM digest_ledger d WHERE d.subscriber_id = a.reader_id AND d.paper_id = a.item)
             ORDER BY at, item LIMIT $2",
            reader,
            limit,
        )
    }

    fn separate_alert_mail_readers(&self) -> Result<Vec<i64>, StoreError> {
        let rows = self.conn().query(crate::store::SEPARATE_ALERT_MAIL_READERS, &[])?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    fn claim_webhooks(&mut self, now: DateTime<Utc>, limit: usize, lease: Duration) -> Result<Vec<WebhookJob>, StoreError> {
        let rows = self.conn().query(
            "WITH due AS (
                 SELECT d.id FROM webhook_deliveries d JOIN alerts a ON a.id = d.alert_id
                 WHERE d.status IN ('queued', 'sending') AND d.next_attempt_at <= $1 AND a.webhook_disabled_at IS NULL
                 ORDER BY d.id LIMIT $2
                 FOR UPDATE OF d SKIP LOCKED
             )
             UPDATE webhook_deliveries w SET status = 'sending', attempts = w.attempts + 1, next_attempt_at = $3
             FROM due, alerts a WHERE w.id = due.id AND a.id = w.alert_id
             RETURNING w.id, w.alert_id, w.url, w.idempotency_key, w.content_type, w.headers, w.body, w.attempts, a.secret",
            &[&now, &(limit as i64), &(now + lease)],
        )?;
        let mut jobs = rows
            .iter()
            .map(|r| {
                let id: i64 = r.try_get(0)?;
                let headers: String = r.try_get(5)?;
                let attempts: i32 = r.try_get(7)?;
                Ok(WebhookJob {
                    id,
                    request: WebhookRequest {
                        alert: r.try_get(1)?,
                        url: r.try_get(2)?,
                        idempotency_key: r.try_get(3)?,
                        content_type: r.try_get(4)?,
                        headers: serde_json::from_str(&headers).map_err(|e| StoreError::corrupt(format!("webhook delivery {id}"), e))?,
                        body: r.try_get(6)?,
                    },
                    secret: r.try_get(8)?,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    fn record_webhook(&mut self, id: i64, outcome: Result<(), String>, now: DateTime<Utc>) -> Result<WebhookState, StoreError> {
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        let row = tx.query_one("SELECT alert_id, attempts FROM webhook_deliveries WHERE id = $1 FOR UPDATE", &[&id])?;
        let (alert, attempts): (i64, i32) = (row.try_get(0)?, row.try_get(1)?);
        let attempts = u32::try_from(attempts).unwrap_or(0);
        let state = match outcome {
            Ok(()) => {
                tx.execute("UPDATE webhook_deliveries SET status = 'sent', sent_at = $2, last_error = NULL WHERE id = $1", &[&id, &now])?;
                tx.execute("UPDATE alerts SET webhook_failures = 0 WHERE id = $1", &[&alert])?;
                WebhookState::Sent
            }
            Err(error) => {
                let state = if attempts >= WEBHOOK_ATTEMPTS { WebhookState::Failed } else { WebhookState::Queued };
                tx.execute(
                    "UPDATE webhook_deliveries SET status = $2, last_error = $3, next_attempt_at = $4 WHERE id = $1",
                    &[&id, &state.as_str(), &error, &(now + retry_after(attempts))],
                )?;
                tx.execute(
                    "UPDATE alerts SET webhook_failures = webhook_failures + 1, webhook_error = $2,
                         webhook_disabled_at = CASE WHEN webhook_failures + 1 >= $3 THEN coalesce(webhook_disabled_at, $4) ELSE webhook_disabled_at END
                     WHERE id = $1",
                    &[&alert, &error, &(FAILURES_TO_DISABLE as i32), &now],
                )?;
                state
            }
        };
        tx.commit()?;
        Ok(state)
    }

    fn watch_paper(&mut self, reader: i64, paper: &PaperId, watch: bool, now: DateTime<Utc>) -> Result<(), StoreError> {
        let paper = paper.to_string();
        if watch {
            self.conn().execute(
                "INSERT INTO watches (reader_id, paper_id, seen_event, since) VALUES ($1, $2, (SELECT coalesce(max(id), 0) FROM paper_events), $3) ON CONFLICT DO NOTHING",
                &[&reader, &paper, &now],
            )?;
        } else {
            self.conn().execute("DELETE FROM watches WHERE reader_id = $1 AND paper_id = $2", &[&reader, &paper])?;
        }
        Ok(())
    }

    fn set_alert_settings(&mut self, reader: i64, settings: AlertSettings, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        let (saved, email, separate) = (i32::from(settings.saved), i32::from(settings.email), i32::from(settings.separate));
        tx.execute(
            "INSERT INTO alert_settings (reader_id, saved, email, webhook_alert, separate, since) VALUES ($1, $2, $3, $4, $6, $5)
             ON CONFLICT (reader_id) DO UPDATE SET saved = $2, email = $3, webhook_alert = $4, separate = $6",
            &[&reader, &saved, &email, &settings.webhook_alert, &now, &separate],
        )?;
        if settings.saved {
            tx.execute(
                "INSERT INTO watches (reader_id, paper_id, seen_event, since)
                 SELECT DISTINCT $1::bigint, i.paper_id, (SELECT coalesce(max(id), 0) FROM paper_events), $2::timestamptz
                 FROM collection_items i JOIN collections c ON c.id = i.collection_id WHERE c.reader_id = $1
                 ON CONFLICT DO NOTHING",
                &[&reader, &now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn alert_settings(&self, reader: i64) -> Result<AlertSettings, StoreError> {
        let row = self.conn().query_opt("SELECT saved, email, webhook_alert, separate FROM alert_settings WHERE reader_id = $1", &[&reader])?;
        Ok(match row {
            Some(r) => AlertSettings {
                saved: r.try_get::<_, i32>(0)? != 0,
                email: r.try_get::<_, i32>(1)? != 0,
                webhook_alert: r.try_get(2)?,
                separate: r.try_get::<_, i32>(3)? != 0,
            },
            None => AlertSettings::default(),
        })
    }

    fn watched_papers(&self, reader: i64) -> Result<Vec<(PaperId, DateTime<Utc>)>, StoreError> {
        let rows = self.conn().query("SELECT paper_id, since FROM watches WHERE reader_id = $1 ORDER BY since DESC, paper_id", &[&reader])?;
        rows.iter()
            .map(|r| {
                let paper: String = r.try_get(0)?;
                let id = paper_id(&paper, &|| format!("watch of {paper} by reader {reader}"))?;
                Ok((id, r.try_get(1)?))
            })
            .collect()
    }

    fn watch_events(&self, limit: usize) -> Result<Vec<(i64, PaperEvent)>, StoreError> {
        let rows = self.conn().query(
            "SELECT e.id, e.paper_id, e.kind, e.key, e.text, e.at, w.reader_id
             FROM watches w JOIN paper_events e ON e.paper_id = w.paper_id AND e.id > w.seen_event
             ORDER BY e.id, w.reader_id LIMIT $1",
            &[&(limit as i64)],
        )?;
        rows.iter().map(|r| Ok((r.try_get(6)?, event(r)?))).collect()
    }

    fn paper_events(&self, paper: &PaperId) -> Result<Vec<PaperEvent>, StoreError> {
        let rows = self.conn().query("SELECT id, paper_id, kind, key, text, at FROM paper_events WHERE paper_id = $1 ORDER BY id", &[&paper.to_string()])?;
        rows.iter().map(event).collect()
    }

    fn webhook_delivery(&self, idempotency_key: &str) -> Result<Option<(WebhookState, u32)>, StoreError> {
        let row = self.conn().query_opt("SELECT id, status, attempts FROM webhook_deliveries WHERE idempotency_key = $1", &[&idempotency_key])?;
        row.map(|r| {
            let (id, s, attempts): (i64, String, i32) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let state = WebhookState::parse(&s).ok_or_else(|| StoreError::corrupt(format!("webhook delivery {id}"), format!("state {s:?}")))?;
            Ok((state, u32::try_from(attempts).unwrap_or(0)))
        })
        .transpose()
    }
}
