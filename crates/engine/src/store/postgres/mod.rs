//! PostgreSQL implementation of the store, for several web and worker processes on one
//! database.
//!
//! The tables mirror SQLite's with PostgreSQL's own types (`date`, `timestamptz`, `bytea`) and
//! `COLLATE "C"` on text keys, so both backends order alike. Migrations are versioned in
//! `paperboy_schema` and applied under an advisory lock, so nodes starting together migrate
//! once. A batch upsert takes a transaction-scoped advisory lock before it reads the largest
//! `seq`: changes become visible in `seq` order, so a node that follows the change sequence
//! never skips one. The outbox is claimed with `FOR UPDATE SKIP LOCKED`.
//!
//! The client is the synchronous `postgres` crate (the store is called from blocking threads,
//! like rusqlite); one connection per store, as with SQLite, and callers hold a few stores for
//! parallel reads.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{NaiveDate, Utc};
use paperboy_core::{Paper, PaperId, Source};
use postgres::{Client, GenericClient, NoTls, Statement};

use super::{decode_paper, encode_paper, merged, vector_bytes, vector_from_bytes, EmbeddingCache, PaperStore, Stats, Store, StoreError, UpsertCounts};
use crate::ingest::IngestReport;

mod alerts;
mod outbox;
mod readers;
mod subscribers;
mod transfer;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

/// Advisory lock keys (one number space per database).
const MIGRATION_LOCK: i64 = 0x7061_7065_7262_0001;
const SEQ_LOCK: i64 = 0x7061_7065_7262_0002;

/// Schema migrations; migration `i` brings the database to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: everything SQLite's migrations 1-5 hold.
    r#"CREATE TABLE papers (
        id TEXT COLLATE "C" PRIMARY KEY,
        seq BIGINT NOT NULL UNIQUE,
        day DATE,
        primary_category TEXT COLLATE "C",
        hf_upvotes BIGINT,
        data TEXT NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        changed_at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX papers_by_day ON papers (day, (coalesce(hf_upvotes, 0)) DESC, id);
    CREATE INDEX papers_by_category ON papers (primary_category, day DESC, id);
    CREATE TABLE ingest_runs (
        id BIGSERIAL PRIMARY KEY,
        source TEXT NOT NULL,
        input TEXT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ NOT NULL,
        new BIGINT NOT NULL,
        updated BIGINT NOT NULL,
        unchanged BIGINT NOT NULL,
        rejected BIGINT NOT NULL,
        first_errors TEXT NOT NULL
    );
    CREATE TABLE harvest_checkpoints (
        key TEXT COLLATE "C" PRIMARY KEY,
        datestamp DATE NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE embeddings (
        model TEXT COLLATE "C" NOT NULL,
        text_hash TEXT COLLATE "C" NOT NULL,
        vector BYTEA NOT NULL,
        PRIMARY KEY (model, text_hash)
    );
    CREATE TABLE subscribers (
        id BIGSERIAL PRIMARY KEY,
        email TEXT NOT NULL,
        email_key TEXT COLLATE "C" NOT NULL UNIQUE,
        frequency TEXT NOT NULL,
        interests TEXT NOT NULL,
        status TEXT NOT NULL,
        confirm_hash TEXT COLLATE "C" UNIQUE,
        confirm_expires_at TIMESTAMPTZ,
        confirm_sent_at TIMESTAMPTZ,
        manage_key TEXT COLLATE "C" NOT NULL UNIQUE,
        bounces INTEGER NOT NULL DEFAULT 0,
        created_at TIMESTAMPTZ NOT NULL,
        confirmed_at TIMESTAMPTZ,
        unsubscribed_at TIMESTAMPTZ,
        last_digest_day DATE
    );
    CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        subscriber_id BIGINT NOT NULL REFERENCES subscribers (id),
        kind TEXT NOT NULL,
        period TEXT COLLATE "C" NOT NULL,
        message_id TEXT COLLATE "C" NOT NULL UNIQUE,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        unsubscribe_url TEXT,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TIMESTAMPTZ NOT NULL,
        last_error TEXT,
        created_at TIMESTAMPTZ NOT NULL,
        sent_at TIMESTAMPTZ,
        UNIQUE (subscriber_id, kind, period)
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE TABLE digest_ledger (
        subscriber_id BIGINT NOT NULL REFERENCES subscribers (id),
        paper_id TEXT COLLATE "C" NOT NULL,
        outbox_id BIGINT NOT NULL REFERENCES outbox (id),
        PRIMARY KEY (subscriber_id, paper_id)
    );
    CREATE TABLE leases (
        name TEXT COLLATE "C" PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );"#,
    // 2: readers (SQLite's migration 6), filled with papers' authors by `backfill_authors`.
    r#"CREATE TABLE sign_in_links (
        token_hash TEXT COLLATE "C" PRIMARY KEY,
        reader_id BIGINT NOT NULL REFERENCES subscribers (id),
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL,
        used_at TIMESTAMPTZ
    );
    CREATE INDEX sign_in_links_by_reader ON sign_in_links (reader_id, created_at);
    CREATE TABLE sessions (
        token_hash TEXT COLLATE "C" PRIMARY KEY,
        reader_id BIGINT NOT NULL REFERENCES subscribers (id),
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX sessions_by_reader ON sessions (reader_id);
    CREATE TABLE api_tokens (
        id BIGSERIAL PRIMARY KEY,
        reader_id BIGINT NOT NULL REFERENCES subscribers (id),
        name TEXT NOT NULL,
        token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
        created_at TIMESTAMPTZ NOT NULL,
        last_used_at TIMESTAMPTZ
    );
    CREATE TABLE votes (
        reader_id BIGINT NOT NULL REFERENCES subscribers (id),
        paper_id TEXT COLLATE "C" NOT NULL,
        vote TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (reader_id, paper_id)
    );
    CREATE INDEX votes_by_paper ON votes (paper_id, vote);
    CREATE TABLE read_marks (
        reader_id BIGINT NOT NULL REFERENCES subscribers (id),
        paper_id TEXT COLLATE "C" NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (reader_id, paper_id)
    );
    CREATE TABLE collections (
        id BIGSERIAL PRIMARY KEY,
        reader_id BIGINT NOT NULL REFERENCES subscribers (id),
        name TEXT COLLATE "C" NOT NULL,
        share_key TEXT COLLATE "C" UNIQUE,
        created_at TIMESTAMPTZ NOT NULL,
        UNIQUE (reader_id, name)
    );
    CREATE TABLE collection_items (
        collection_id BIGINT NOT NULL REFERENCES collections (id),
        paper_id TEXT COLLATE "C" NOT NULL,
        note TEXT NOT NULL,
        added_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (collection_id, paper_id)
    );
    CREATE TABLE follows (
        reader_id BIGINT NOT NULL REFERENCES subscribers (id),
        author_key TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        since TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (reader_id, author_key)
    );
    CREATE TABLE paper_authors (
        author_key TEXT COLLATE "C" NOT NULL,
        paper_id TEXT COLLATE "C" NOT NULL REFERENCES papers (id),
        day DATE,
        PRIMARY KEY (author_key, paper_id)
    );
    CREATE INDEX paper_authors_by_paper ON paper_authors (paper_id);
    CREATE TABLE paper_keys (
        key TEXT COLLATE "C" NOT NULL,
        paper_id TEXT COLLATE "C" NOT NULL REFERENCES papers (id),
        PRIMARY KEY (key, paper_id)
    );
    CREATE INDEX paper_keys_by_paper ON paper_keys (paper_id);
    CREATE TABLE feed_keys (
        reader_id BIGINT PRIMARY KEY REFERENCES subscribers (id),
        key TEXT COLLATE "C" NOT NULL UNIQUE
    );"#,
    // 3: alerts (SQLite's migration 7).
    r#"CREATE TABLE alerts (
        id BIGSERIAL PRIMARY KEY,
        reader_id BIGINT NOT NULL REFERENCES subscribers (id),
        name TEXT COLLATE "C" NOT NULL,
        spec TEXT NOT NULL,
        secret TEXT NOT NULL,
        seen_seq BIGINT NOT NULL,
        webhook_failures INTEGER NOT NULL DEFAULT 0,
        webhook_disabled_at TIMESTAMPTZ,
        webhook_error TEXT,
        last_run_at TIMESTAMPTZ,
        created_at TIMESTAMPTZ NOT NULL,
        UNIQUE (reader_id, name)
    );
    CREATE TABLE alert_ledger (
        reader_id BIGINT NOT NULL REFERENCES subscribers (id),
        item TEXT COLLATE "C" NOT NULL,
        output TEXT COLLATE "C" NOT NULL,
        alerts TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        mailed_at TIMESTAMPTZ,
        PRIMARY KEY (reader_id, output, item)
    );
    CREATE INDEX alert_ledger_unmailed ON alert_ledger (reader_id) WHERE output = 'email' AND mailed_at IS NULL;
    CREATE TABLE webhook_deliveries (
        id BIGSERIAL PRIMARY KEY,
        alert_id BIGINT NOT NULL REFERENCES alerts (id),
        url TEXT NOT NULL,
        idempotency_key TEXT COLLATE "C" NOT NULL UNIQUE,
        content_type TEXT NOT NULL,
        headers TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TIMESTAMPTZ NOT NULL,
        last_error TEXT,
        created_at TIMESTAMPTZ NOT NULL,
        sent_at TIMESTAMPTZ
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
    CREATE TABLE paper_events (
        id BIGSERIAL PRIMARY KEY,
        paper_id TEXT COLLATE "C" NOT NULL,
        kind TEXT NOT NULL,
        key TEXT COLLATE "C" NOT NULL UNIQUE,
        text TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX paper_events_by_paper ON paper_events (paper_id, id);
    CREATE TABLE watches (
        reader_id BIGINT NOT NULL REFERENCES subscribers (id),
        paper_id TEXT COLLATE "C" NOT NULL,
        seen_event BIGINT NOT NULL,
        since TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (reader_id, paper_id)
    );
    CREATE TABLE alert_settings (
        reader_id BIGINT PRIMARY KEY REFERENCES subscribers (id),
        saved INTEGER NOT NULL,
        email INTEGER NOT NULL,
        webhook_alert BIGINT,
        separate INTEGER NOT NULL DEFAULT 0,
        since TIMESTAMPTZ NOT NULL
    );"#,
];

/// The migration after which `paper_authors` is filled from the stored papers.
const AUTHORS_MIGRATION: usize = 1;

/// The PostgreSQL store: one connection.
pub struct PgStore {
    client: Mutex<Client>,
    /// The hot paths' statements, prepared once per connection (an unprepared query costs a
    /// second round trip: parse, then execute).
    statements: Mutex<HashMap<&'static str, Statement>>,
}

impl PgStore {
    /// Connects (`postgres://user:password@host:port/database`, or the key=value form) and
    /// brings the schema up to date.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::init(Self::client(url)?, None)
    }

    /// Connects and keeps every table in `schema` (created if missing), so several paperboys,
    /// or tests, can share one database.
    pub fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        if schema.is_empty() || !schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(StoreError::Location(format!("schema name {schema:?}: use lowercase letters, digits and _")));
        }
        Self::init(Self::client(url)?, Some(schema))
    }

    /// Drops `schema` with everything in it (for tests that made one).
    pub fn drop_schema(url: &str, schema: &str) -> Result<(), StoreError> {
        let mut client = Self::client(url)?;
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", schema.replace('"', "")))?;
        Ok(())
    }

    fn client(url: &str) -> Result<Client, StoreError> {
        let config: postgres::Config = url.parse().map_err(|e| StoreError::Location(format!("PostgreSQL URL: {e}")))?;
        config.connect(NoTls).map_err(|e| {
            // The client's own message ("error connecting to server") leaves the reason to its
            // source: say both, since this error carries text only.
            let reason = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
            StoreError::Location(format!("cannot connect to PostgreSQL at {}: {e}{reason}", super::redact(url)))
        })
    }

    fn init(mut client: Client, schema: Option<&str>) -> Result<Self, StoreError> {
        if let Some(schema) = schema {
            client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"))?;
        }
        client.batch_execute("SET TIME ZONE 'UTC'")?;
        let store = PgStore { client: Mutex::new(client), statements: Mutex::default() };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS paperboy_schema (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")?;
        let version: i64 = tx.query_one("SELECT coalesce(max(version), 0) FROM paperboy_schema", &[])?.try_get(0)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql)?;
            if i == AUTHORS_MIGRATION {
                backfill_authors(&mut tx)?;
            }
            tx.execute("INSERT INTO paperboy_schema (version) VALUES ($1)", &[&(i as i64 + 1)])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn().query_one("SELECT coalesce(max(version), 0) FROM paperboy_schema", &[])?.try_get(0)?)
    }

    /// The connection; a panic elsewhere while it was held leaves it usable (every statement
    /// is its own transaction or runs in one that rolls back on drop).
    fn conn(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `sql` prepared on this connection (once; later calls take it from the cache). `client`
    /// is this store's connection or a transaction on it.
    fn statement(&self, client: &mut impl GenericClient, sql: &'static str) -> Result<Statement, StoreError> {
        let mut statements = self.statements.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(statement) = statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql)?;
        statements.insert(sql, statement.clone());
        Ok(statement)
    }

    fn papers_where(&self, tail: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Vec<Paper>, StoreError> {
        let rows = self.conn().query(&format!("SELECT id, data FROM papers {tail}"), params)?;
        rows.iter().map(|r| decode_paper(&r.try_get::<_, String>(0)?, &r.try_get::<_, String>(1)?)).collect()
    }
}

/// Fills `paper_authors` from every stored paper (a page at a time).
fn backfill_authors(tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
    let mut after = String::new();
    loop {
        let rows = tx.query("SELECT id, data FROM papers WHERE id > $1 ORDER BY id LIMIT 2000", &[&after])?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = last.try_get(0)?;
        let papers = rows.iter().map(|r| decode_paper(&r.try_get::<_, String>(0)?, &r.try_get::<_, String>(1)?)).collect::<Result<Vec<_>, _>>()?;
        write_authors(tx, &papers.iter().collect::<Vec<_>>())?;
    }
}

/// Replaces the `paper_authors` and `paper_keys` rows of these papers, in four statements.
fn write_authors(tx: &mut postgres::Transaction<'_>, papers: &[&Paper]) -> Result<(), StoreError> {
    let ids: Vec<String> = papers.iter().map(|p| p.id.to_string()).collect();
    tx.execute("DELETE FROM paper_authors WHERE paper_id = ANY($1)", &[&ids])?;
    tx.execute("DELETE FROM paper_keys WHERE paper_id = ANY($1)", &[&ids])?;
    let (mut keys, mut paper_ids) = (Vec::new(), Vec::new());
    for (p, id) in papers.iter().zip(&ids) {
        for key in crate::library::lookup_keys(p) {
            keys.push(key);
            paper_ids.push(id.as_str());
        }
    }
    tx.execute("INSERT INTO paper_keys (key, paper_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING", &[&keys, &paper_ids])?;
    let (mut keys, mut paper_ids, mut days) = (Vec::new(), Vec::new(), Vec::new());
    for (p, id) in papers.iter().zip(&ids) {
        for key in super::author_keys(p) {
            keys.push(key);
            paper_ids.push(id.as_str());
            days.push(p.day());
        }
    }
    tx.execute(
        "INSERT INTO paper_authors (author_key, paper_id, day) SELECT * FROM unnest($1::text[], $2::text[], $3::date[]) ON CONFLICT DO NOTHING",
        &[&keys, &paper_ids, &days],
    )?;
    Ok(())
}

/// One paper to write in a batch.
struct Write {
    id: String,
    seq: i64,
    paper: Paper,
    is_new: bool,
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Paper ids are stored as their text form.
fn paper_id(s: &str, record: &dyn Fn() -> String) -> Result<PaperId, StoreError> {
    s.parse().map_err(|e| StoreError::corrupt(record(), format!("paper id {s:?}: {e}")))
}

pub(super) fn uncount(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl PaperStore for PgStore {
    fn upsert_papers(&mut self, papers: Vec<Paper>) -> Result<UpsertCounts, StoreError> {
        let mut counts = UpsertCounts::default();
        if papers.is_empty() {
            return Ok(counts);
        }
        let client = self.client.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SEQ_LOCK])?;
        let ids: Vec<String> = papers.iter().map(|p| p.id.to_string()).collect();
        let mut stored: HashMap<String, String> = HashMap::with_capacity(ids.len());
        for row in tx.query("SELECT id, data FROM papers WHERE id = ANY($1)", &[&ids])? {
            stored.insert(row.try_get(0)?, row.try_get(1)?);
        }
        let mut next_seq: i64 = tx.query_one("SELECT coalesce(max(seq), 0) + 1 FROM papers", &[])?.try_get(0)?;
        let mut writes: Vec<Write> = Vec::new();
        let mut pending: HashMap<String, usize> = HashMap::new();
        let mut events: Vec<(String, crate::alerts::NewEvent)> = Vec::new();
        for (incoming, id) in papers.into_iter().zip(ids) {
            // A paper seen twice in one batch merges onto its first write, as if stored.
            let current = match pending.get(&id) {
                Some(&i) => Some(encode_paper(&writes[i].paper)),
                None => stored.get(&id).cloned(),
            };
            let Some((paper, is_new, found)) = merged(&id, current.as_deref(), incoming)? else {
                counts.unchanged += 1;
                continue;
            };
            events.extend(found.into_iter().map(|e| (id.clone(), e)));
            if is_new {
                counts.new += 1;
            } else {
                counts.updated += 1;
            }
            match pending.get(&id) {
                Some(&i) => writes[i].paper = paper,
                None => {
                    pending.insert(id.clone(), writes.len());
                    writes.push(Write { id, seq: next_seq, paper, is_new });
                    next_seq += 1;
                }
            }
        }
        let now = Utc::now();
        for is_new in [true, false] {
            let batch: Vec<&Write> = writes.iter().filter(|w| w.is_new == is_new).collect();
            if batch.is_empty() {
                continue;
            }
            let ids: Vec<&str> = batch.iter().map(|w| w.id.as_str()).collect();
            let seqs: Vec<i64> = batch.iter().map(|w| w.seq).collect();
            let days: Vec<Option<NaiveDate>> = batch.iter().map(|w| w.paper.day()).collect();
            let categories: Vec<Option<String>> = batch.iter().map(|w| w.paper.primary_category().map(|c| c.to_string())).collect();
            let upvotes: Vec<Option<i64>> = batch.iter().map(|w| w.paper.signals.hf_upvotes.map(i64::from)).collect();
            let data: Vec<String> = batch.iter().map(|w| encode_paper(&w.paper)).collect();
            let sql = if is_new {
                "INSERT INTO papers (id, seq, day, primary_category, hf_upvotes, data, first_seen, changed_at)
                 SELECT id, seq, day, category, upvotes, data, $7, $7
                 FROM unnest($1::text[], $2::bigint[], $3::date[], $4::text[], $5::bigint[], $6::text[]) AS t(id, seq, day, category, upvotes, data)"
            } else {
                "UPDATE papers p SET seq = t.seq, day = t.day, primary_category = t.category, hf_upvotes = t.upvotes, data = t.data, changed_at = $7
                 FROM unnest($1::text[], $2::bigint[], $3::date[], $4::text[], $5::bigint[], $6::text[]) AS t(id, seq, day, category, upvotes, data)
                 WHERE p.id = t.id"
            };
            tx.execute(sql, &[&ids, &seqs, &days, &categories, &upvotes, &data, &now])?;
        }
        write_authors(&mut tx, &writes.iter().map(|w| &w.paper).collect::<Vec<_>>())?;
        if !events.is_empty() {
            let papers: Vec<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
            let kinds: Vec<&str> = events.iter().map(|(_, e)| e.kind).collect();
            let keys: Vec<&str> = events.iter().map(|(_, e)| e.key.as_str()).collect();
            let texts: Vec<&str> = events.iter().map(|(_, e)| e.text.as_str()).collect();
            tx.execute(
                "INSERT INTO paper_events (paper_id, kind, key, text, at)
                 SELECT paper_id, kind, key, text, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(paper_id, kind, key, text, n)
                 ORDER BY n ON CONFLICT (key) DO NOTHING",
                &[&papers, &kinds, &keys, &texts, &now],
            )?;
        }
        tx.commit()?;
        Ok(counts)
    }

    fn paper(&self, id: &PaperId) -> Result<Option<Paper>, StoreError> {
        let id = id.to_string();
        Ok(self.papers_where("WHERE id = $1", &[&id])?.pop())
    }

    fn papers(&self, ids: &[PaperId]) -> Result<Vec<Paper>, StoreError> {
        let keys: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let mut found: HashMap<PaperId, Paper> = self.papers_where("WHERE id = ANY($1)", &[&keys])?.into_iter().map(|p| (p.id.clone(), p)).collect();
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    fn papers_on(&self, day: NaiveDate) -> Result<Vec<Paper>, StoreError> {
        self.papers_where("WHERE day = $1 ORDER BY coalesce(hf_upvotes, 0) DESC, id", &[&day])
    }

    fn latest_day(&self) -> Result<Option<NaiveDate>, StoreError> {
        Ok(self.conn().query_one("SELECT max(day) FROM papers", &[])?.try_get(0)?)
    }

    fn papers_between(&self, from: NaiveDate, to: NaiveDate, limit: usize) -> Result<Vec<Paper>, StoreError> {
        self.papers_where("WHERE day BETWEEN $1 AND $2 ORDER BY coalesce(hf_upvotes, 0) DESC, id LIMIT $3", &[&from, &to, &(limit as i64)])
    }

    fn neighbour_days(&self, day: NaiveDate) -> Result<(Option<NaiveDate>, Option<NaiveDate>), StoreError> {
        let row = self.conn().query_one("SELECT (SELECT max(day) FROM papers WHERE day < $1), (SELECT min(day) FROM papers WHERE day > $1)", &[&day])?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    fn papers_in_category(&self, category: &str, offset: usize, limit: usize) -> Result<Vec<Paper>, StoreError> {
        self.papers_where("WHERE primary_category = $1 ORDER BY day DESC NULLS LAST, id LIMIT $2 OFFSET $3", &[&category, &(limit as i64), &(offset as i64)])
    }

    fn category_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = self.conn().query(
            "SELECT primary_category, count(*) FROM papers WHERE primary_category IS NOT NULL
             GROUP BY primary_category ORDER BY count(*) DESC, primary_category",
            &[],
        )?;
        rows.iter().map(|r| Ok((r.try_get(0)?, uncount(r.try_get(1)?)))).collect()
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        let row = self.conn().query_one(
            "SELECT count(*), count(*) FILTER (WHERE id ~ '^[a-z].*:'), count(DISTINCT day), (SELECT count(*) FROM ingest_runs) FROM papers",
            &[],
        )?;
        let (papers, external) = (uncount(row.try_get(0)?), uncount(row.try_get(1)?));
        Ok(Stats { papers, arxiv_papers: papers - external, days: uncount(row.try_get(2)?), latest_day: self.latest_day()?, ingest_runs: uncount(row.try_get(3)?) })
    }

    fn record_ingest_run(&mut self, report: &IngestReport) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO ingest_runs (source, input, started_at, finished_at, new, updated, unchanged, rejected, first_errors)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &report.source.as_str(),
                &report.input,
                &report.started,
                &report.finished,
                &count(report.new),
                &count(report.updated),
                &count(report.unchanged),
                &count(report.rejected),
                &serde_json::to_string(&report.first_errors).expect("strings serialise"),
            ],
        )?;
        Ok(())
    }

    fn ingest_runs(&self, limit: usize) -> Result<Vec<IngestReport>, StoreError> {
        let rows = self.conn().query(
            "SELECT source, input, started_at, finished_at, new, updated, unchanged, rejected, first_errors
             FROM ingest_runs ORDER BY id DESC LIMIT $1",
            &[&(limit as i64)],
        )?;
        rows.iter()
            .map(|r| {
                let source: String = r.try_get(0)?;
                let input: String = r.try_get(1)?;
                let record = || format!("ingest run of {input}");
                let errors: String = r.try_get(8)?;
                Ok(IngestReport {
                    source: Source::parse(&source).ok_or_else(|| StoreError::corrupt(record(), format!("unknown source {source:?}")))?,
                    started: r.try_get(2)?,
                    finished: r.try_get(3)?,
                    new: uncount(r.try_get(4)?),
                    updated: uncount(r.try_get(5)?),
                    unchanged: uncount(r.try_get(6)?),
                    rejected: uncount(r.try_get(7)?),
                    first_errors: serde_json::from_str(&errors).map_err(|e| StoreError::corrupt(record(), e))?,
                    input,
                })
            })
            .collect()
    }

    fn harvest_checkpoint(&self, key: &str) -> Result<Option<NaiveDate>, StoreError> {
        let row = self.conn().query_opt("SELECT datestamp FROM harvest_checkpoints WHERE key = $1", &[&key])?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn set_harvest_checkpoint(&mut self, key: &str, datestamp: NaiveDate) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO harvest_checkpoints (key, datestamp, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET datestamp = greatest(harvest_checkpoints.datestamp, excluded.datestamp), updated_at = excluded.updated_at",
            &[&key, &datestamp, &Utc::now()],
        )?;
        Ok(())
    }

    fn papers_changed_since(&self, seq: i64, limit: usize) -> Result<Vec<(i64, Paper)>, StoreError> {
        let rows = self.conn().query("SELECT seq, id, data FROM papers WHERE seq > $1 ORDER BY seq LIMIT $2", &[&seq, &(limit as i64)])?;
        rows.iter().map(|r| Ok((r.try_get(0)?, decode_paper(&r.try_get::<_, String>(1)?, &r.try_get::<_, String>(2)?)?))).collect()
    }

    fn last_seq(&self) -> Result<i64, StoreError> {
        Ok(self.conn().query_one("SELECT coalesce(max(seq), 0) FROM papers", &[])?.try_get(0)?)
    }

    fn local_upvotes(&self, papers: &[PaperId]) -> Result<HashMap<PaperId, u32>, StoreError> {
        let keys: Vec<String> = papers.iter().map(|id| id.to_string()).collect();
        let rows = self.conn().query("SELECT paper_id, count(*) FROM votes WHERE paper_id = ANY($1) AND vote = 'up' GROUP BY paper_id", &[&keys])?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let n: i64 = r.try_get(1)?;
                let id = id.parse().map_err(|e| StoreError::corrupt(format!("votes on {id}"), e))?;
                Ok((id, u32::try_from(n).unwrap_or(u32::MAX)))
            })
            .collect()
    }

    fn papers_by_keys(&self, keys: &[String]) -> Result<Vec<(String, PaperId)>, StoreError> {
        let rows = self.conn().query("SELECT key, paper_id FROM paper_keys WHERE key = ANY($1) ORDER BY key, paper_id", &[&keys])?;
        rows.iter()
            .map(|r| {
                let (key, id): (String, String) = (r.try_get(0)?, r.try_get(1)?);
                let id = id.parse().map_err(|e| StoreError::corrupt(format!("paper key {key}"), e))?;
                Ok((key, id))
            })
            .collect()
    }

    fn papers_by_authors(&self, authors: &[String], since: Option<NaiveDate>, offset: usize, limit: usize) -> Result<Vec<Paper>, StoreError> {
        if authors.is_empty() {
            return Ok(vec![]);
        }
        self.papers_where(
            "WHERE id IN (SELECT paper_id FROM paper_authors WHERE author_key = ANY($1)) AND ($2::date IS NULL OR day >= $2)
             ORDER BY day DESC NULLS LAST, id LIMIT $3 OFFSET $4",
            &[&authors, &since, &(limit as i64), &(offset as i64)],
        )
    }
}

impl EmbeddingCache for PgStore {
    fn cached_embeddings(&self, model: &str, text_hashes: &[String]) -> Result<HashMap<String, Vec<f32>>, StoreError> {
        let rows = self.conn().query("SELECT text_hash, vector FROM embeddings WHERE model = $1 AND text_hash = ANY($2)", &[&model, &text_hashes])?;
        rows.iter().map(|r| Ok((r.try_get(0)?, vector_from_bytes(r.try_get(1)?)))).collect()
    }

    fn cache_embeddings(&mut self, model: &str, vectors: &[(String, Vec<f32>)]) -> Result<(), StoreError> {
        // One row per hash (the last wins), as a statement may not touch a row twice.
        let mut unique: HashMap<&str, &[f32]> = HashMap::with_capacity(vectors.len());
        for (h, v) in vectors {
            unique.insert(h, v);
        }
        let (hashes, blobs): (Vec<&str>, Vec<Vec<u8>>) = unique.into_iter().map(|(h, v)| (h, vector_bytes(v))).unzip();
        self.conn().execute(
            "INSERT INTO embeddings (model, text_hash, vector) SELECT $1, h, v FROM unnest($2::text[], $3::bytea[]) AS t(h, v)
             ON CONFLICT (model, text_hash) DO UPDATE SET vector = excluded.vector",
            &[&model, &hashes, &blobs],
        )?;
        Ok(())
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
}

