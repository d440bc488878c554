//! SQLite implementation of the store: one file, WAL journal, schema migrations keyed by
//! `PRAGMA user_version`.
//!
//! A paper is one row: the whole [`Paper`] as JSON in `data`, plus the columns queries need
//! (`day`, `primary_category`, `hf_upvotes`). `seq` grows with every insert or change, so
//! derived indexes can catch up from the last `seq` they saw.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{Paper, PaperId, Source};
use rusqlite::{params, Connection, OptionalExtension};

use super::{decode_paper, encode_paper, merged, vector_bytes, vector_from_bytes, EmbeddingCache, PaperStore, Stats, Store, StoreError, UpsertCounts};
use crate::ingest::IngestReport;

mod alerts;
mod outbox;
mod readers;
mod subscribers;
mod transfer;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

/// Schema migrations; migration `i` brings the database to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: papers, ingest runs, harvest checkpoints.
    "CREATE TABLE papers (
        id TEXT PRIMARY KEY NOT NULL,
        seq INTEGER NOT NULL,
        day TEXT,
        primary_category TEXT,
        hf_upvotes INTEGER,
        data TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        changed_at TEXT NOT NULL
    );
    CREATE INDEX papers_by_day ON papers(day, hf_upvotes DESC);
    CREATE UNIQUE INDEX papers_by_seq ON papers(seq);
    CREATE TABLE ingest_runs (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        input TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        new INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        first_errors TEXT NOT NULL
    );
    CREATE TABLE harvest_checkpoints (
        key TEXT PRIMARY KEY NOT NULL,
        datestamp TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );",
    // 2: the embedding cache: one vector per model and text, little-endian f32.
    "CREATE TABLE embeddings (
        model TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model, text_hash)
    ) WITHOUT ROWID;",
    // 3: digest subscribers (double opt-in; see subscriptions.rs).
    "CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL UNIQUE,
        frequency TEXT NOT NULL,
        interests TEXT NOT NULL,
        status TEXT NOT NULL,
        confirm_hash TEXT UNIQUE,
        confirm_expires_at TEXT,
        confirm_sent_at TEXT,
        manage_key TEXT NOT NULL UNIQUE,
        bounces INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        confirmed_at TEXT,
        unsubscribed_at TEXT
    );",
    // 4: the outbox and the digest ledger (see outbox.rs).
    "ALTER TABLE subscribers ADD COLUMN last_digest_day TEXT;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
        kind TEXT NOT NULL,
        period TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        unsubscribe_url TEXT,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (subscriber_id, kind, period)
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    CREATE TABLE digest_ledger (
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
        paper_id TEXT NOT NULL,
        outbox_id INTEGER NOT NULL REFERENCES outbox(id),
        PRIMARY KEY (subscriber_id, paper_id)
    ) WITHOUT ROWID;",
    // 5: leases (one node of many runs a job) and the category listing's index.
    "CREATE TABLE leases (
        name TEXT PRIMARY KEY NOT NULL,
        holder TEXT NOT NULL,
        expires_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX papers_by_category ON papers(primary_category, day DESC, id);",
    // 6: readers (see readers.rs): sign-in links, sessions, API tokens, votes, read marks,
    // collections, follows, and papers by author (filled from the papers by `backfill_authors`).
    "CREATE TABLE sign_in_links (
        token_hash TEXT PRIMARY KEY NOT NULL,
        reader_id INTEGER NOT NULL REFERENCES subscribers(id),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
    );
    CREATE INDEX sign_in_links_by_reader ON sign_in_links(reader_id, created_at);
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY NOT NULL,
        reader_id INTEGER NOT NULL REFERENCES subscribers(id),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX sessions_by_reader ON sessions(reader_id);
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        reader_id INTEGER NOT NULL REFERENCES subscribers(id),
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        last_used_at TEXT
    );
    CREATE TABLE votes (
        reader_id INTEGER NOT NULL REFERENCES subscribers(id),
        paper_id TEXT NOT NULL,
        vote TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (reader_id, paper_id)
    ) WITHOUT ROWID;
    CREATE INDEX votes_by_paper ON votes(paper_id, vote);
    CREATE TABLE read_marks (
        reader_id INTEGER NOT NULL REFERENCES subscribers(id),
        paper_id TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (reader_id, paper_id)
    ) WITHOUT ROWID;
    CREATE TABLE collections (
        id INTEGER PRIMARY KEY,
        reader_id INTEGER NOT NULL REFERENCES subscribers(id),
        name TEXT NOT NULL,
        share_key TEXT UNIQUE,
        created_at TEXT NOT NULL,
        UNIQUE (reader_id, name)
    );
    CREATE TABLE collection_items (
        collection_id INTEGER NOT NULL REFERENCES collections(id),
        paper_id TEXT NOT NULL,
        note TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (collection_id, paper_id)
    ) WITHOUT ROWID;
    CREATE TABLE follows (
        reader_id INTEGER NOT NULL REFERENCES subscribers(id),
        author_key TEXT NOT NULL,
        name TEXT NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (reader_id, author_key)
    ) WITHOUT ROWID;
    CREATE TABLE paper_authors (
        author_key TEXT NOT NULL,
        paper_id TEXT NOT NULL REFERENCES papers(id),
        day TEXT,
        PRIMARY KEY (author_key, paper_id)
    ) WITHOUT ROWID;
    CREATE INDEX paper_authors_by_paper ON paper_authors(paper_id);
    CREATE TABLE paper_keys (
        key TEXT NOT NULL,
        paper_id TEXT NOT NULL REFERENCES papers(id),
        PRIMARY KEY (key, paper_id)
    ) WITHOUT ROWID;
    CREATE INDEX paper_keys_by_paper ON paper_keys(paper_id);
    CREATE TABLE feed_keys (
        reader_id INTEGER PRIMARY KEY NOT NULL REFERENCES subscribers(id),
        key TEXT NOT NULL UNIQUE
    );",
    // 7: alerts (see alerts.rs): saved searches, their ledger (an item once per reader and
    // output), the webhook outbox, and watched papers with the events their watchers hear of.
    "CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        reader_id INTEGER NOT NULL REFERENCES subscribers(id),
        name TEXT NOT NULL,
        spec TEXT NOT NULL,
        secret TEXT NOT NULL,
        seen_seq INTEGER NOT NULL,
        webhook_failures INTEGER NOT NULL DEFAULT 0,
        webhook_disabled_at TEXT,
        webhook_error TEXT,
        last_run_at TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (reader_id, name)
    );
    CREATE TABLE alert_ledger (
        reader_id INTEGER NOT NULL REFERENCES subscribers(id),
        item TEXT NOT NULL,
        output TEXT NOT NULL,
        alerts TEXT NOT NULL,
        at TEXT NOT NULL,
        mailed_at TEXT,
        PRIMARY KEY (reader_id, output, item)
    ) WITHOUT ROWID;
    CREATE INDEX alert_ledger_unmailed ON alert_ledger(reader_id) WHERE output = 'email' AND mailed_at IS NULL;
    CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        url TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        content_type TEXT NOT NULL,
        headers TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
    CREATE TABLE paper_events (
        id INTEGER PRIMARY KEY,
        paper_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL UNIQUE,
        text TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX paper_events_by_paper ON paper_events(paper_id, id);
    CREATE TABLE watches (
        reader_id INTEGER NOT NULL REFERENCES subscribers(id),
        paper_id TEXT NOT NULL,
        seen_event INTEGER NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (reader_id, paper_id)
    ) WITHOUT ROWID;
    CREATE TABLE alert_settings (
        reader_id INTEGER PRIMARY KEY NOT NULL REFERENCES subscribers(id),
        saved INTEGER NOT NULL,
        email INTEGER NOT NULL,
        webhook_alert INTEGER,
        separate INTEGER NOT NULL DEFAULT 0,
        since TEXT NOT NULL
    );",
];

/// The migration after which `paper_authors` is filled from the stored papers.
const AUTHORS_MIGRATION: usize = 5;

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 32 MiB of page cache: upserts touch the primary-key and day indexes all over.
        conn.pragma_update(None, "cache_size", -32_000)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mut store = SqliteStore { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            if i == AUTHORS_MIGRATION {
                backfill_authors(&tx)?;
            }
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

/// Fills `paper_authors` from every stored paper (a page at a time).
fn backfill_authors(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    let mut after = String::new();
    loop {
        let page: Vec<(String, String)> = {
            let mut stmt = tx.prepare("SELECT id, data FROM papers WHERE id > ?1 ORDER BY id LIMIT 2000")?;
            let rows = stmt.query_map([&after], id_and_data)?;
            rows.collect::<Result<_, _>>()?
        };
        let Some((last, _)) = page.last() else { return Ok(()) };
        after = last.clone();
        for (id, data) in &page {
            write_authors(tx, id, &decode_paper(id, data)?)?;
        }
    }
}

/// Replaces the `paper_authors` and `paper_keys` rows of one paper.
fn write_authors(conn: &Connection, id: &str, paper: &Paper) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM paper_authors WHERE paper_id = ?1")?.execute([id])?;
    conn.prepare_cached("DELETE FROM paper_keys WHERE paper_id = ?1")?.execute([id])?;
    let mut insert = conn.prepare_cached("INSERT OR IGNORE INTO paper_authors (author_key, paper_id, day) VALUES (?1, ?2, ?3)")?;
    let day = paper.day().map(|d| d.to_string());
    for key in super::author_keys(paper) {
        insert.execute(params![key, id, day])?;
    }
    let mut insert = conn.prepare_cached("INSERT OR IGNORE INTO paper_keys (key, paper_id) VALUES (?1, ?2)")?;
    for key in crate::library::lookup_keys(paper) {
        insert.execute(params![key, id])?;
    }
    Ok(())
}

fn id_and_data(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

fn decode_rows(rows: impl Iterator<Item = rusqlite::Result<(String, String)>>) -> Result<Vec<Paper>, StoreError> {
    rows.map(|row| {
        let (id, data) = row?;
        decode_paper(&id, &data)
    })
    .collect()
}

impl PaperStore for SqliteStore {
    fn upsert_papers(&mut self, papers: Vec<Paper>) -> Result<UpsertCounts, StoreError> {
        let now = Utc::now().to_rfc3339();
        // Immediate: the write lock is taken before `seq` is read, so two processes writing at
        // once never pick the same numbers.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut counts = UpsertCounts::default();
        {
            let mut next_seq: i64 = tx.query_row("SELECT coalesce(max(seq), 0) + 1 FROM papers", [], |r| r.get(0))?;
            let mut select = tx.prepare_cached("SELECT data FROM papers WHERE id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO papers (id, seq, day, primary_category, hf_upvotes, data, first_seen, changed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE papers SET seq = ?2, day = ?3, primary_category = ?4, hf_upvotes = ?5, data = ?6, changed_at = ?7
                 WHERE id = ?1",
            )?;
            for incoming in papers {
                let id = incoming.id.to_string();
                let existing: Option<String> = select.query_row([&id], |r| r.get(0)).optional()?;
                let Some((paper, is_new, events)) = merged(&id, existing.as_deref(), incoming)? else {
                    counts.unchanged += 1;
                    continue;
                };
                for e in events {
                    tx.prepare_cached("INSERT OR IGNORE INTO paper_events (paper_id, kind, key, text, at) VALUES (?1, ?2, ?3, ?4, ?5)")?
                        .execute(params![id, e.kind, e.key, e.text, now])?;
                }
                let day = paper.day().map(|d| d.to_string());
                let category = paper.primary_category().map(|c| c.to_string());
                let upvotes = paper.signals.hf_upvotes;
                let stmt = if is_new { &mut insert } else { &mut update };
                stmt.execute(params![id, next_seq, day, category, upvotes, encode_paper(&paper), now])?;
                write_authors(&tx, &id, &paper)?;
                next_seq += 1;
                if is_new {
                    counts.new += 1;
                } else {
                    counts.updated += 1;
                }
            }
        }
        tx.commit()?;
        Ok(counts)
    }

    fn paper(&self, id: &PaperId) -> Result<Option<Paper>, StoreError> {
        let id = id.to_string();
        let data: Option<String> =
            self.conn.prepare_cached("SELECT data FROM papers WHERE id = ?1")?.query_row([&id], |r| r.get(0)).optional()?;
        data.map(|d| decode_paper(&id, &d)).transpose()
    }

    fn papers(&self, ids: &[PaperId]) -> Result<Vec<Paper>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT data FROM papers WHERE id = ?1")?;
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        let mut papers = Vec::with_capacity(ids.len());
        for id in ids.iter().filter(|id| seen.insert(*id)) {
            let id = id.to_string();
            if let Some(data) = stmt.query_row([&id], |r| r.get::<_, String>(0)).optional()? {
                papers.push(decode_paper(&id, &data)?);
            }
        }
        Ok(papers)
    }

    fn papers_on(&self, day: NaiveDate) -> Result<Vec<Paper>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, data FROM papers WHERE day = ?1 ORDER BY coalesce(hf_upvotes, 0) DESC, id")?;
        let rows = stmt.query_map([day.to_string()], id_and_data)?;
        decode_rows(rows)
    }

    fn papers_between(&self, from: NaiveDate, to: NaiveDate, limit: usize) -> Result<Vec<Paper>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, data FROM papers WHERE day BETWEEN ?1 AND ?2 ORDER BY coalesce(hf_upvotes, 0) DESC, id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![from.to_string(), to.to_string(), limit as i64], id_and_data)?;
        decode_rows(rows)
    }

    fn neighbour_days(&self, day: NaiveDate) -> Result<(Option<NaiveDate>, Option<NaiveDate>), StoreError> {
        let (before, after): (Option<String>, Option<String>) = self.conn.query_row(
            "SELECT (SELECT max(day) FROM papers WHERE day < ?1), (SELECT min(day) FROM papers WHERE day > ?1)",
            [day.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((before.and_then(|d| d.parse().ok()), after.and_then(|d| d.parse().ok())))
    }

    fn papers_in_category(&self, category: &str, offset: usize, limit: usize) -> Result<Vec<Paper>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, data FROM papers WHERE primary_category = ?1 ORDER BY day DESC, id LIMIT ?2 OFFSET ?3",
        )?;
        let rows = stmt.query_map(params![category, limit as i64, offset as i64], id_and_data)?;
        decode_rows(rows)
    }

    fn category_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT primary_category, count(*) FROM papers WHERE primary_category IS NOT NULL
             GROUP BY primary_category ORDER BY count(*) DESC, primary_category",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn latest_day(&self) -> Result<Option<NaiveDate>, StoreError> {
        let day: Option<String> = self.conn.query_row("SELECT max(day) FROM papers", [], |r| r.get(0))?;
        Ok(day.and_then(|d| d.parse().ok()))
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        let (papers, external, days): (u64, u64, u64) = self.conn.query_row(
            "SELECT count(*), count(*) FILTER (WHERE id GLOB '[a-z]*:*'), count(DISTINCT day) FROM papers",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let ingest_runs: u64 = self.conn.query_row("SELECT count(*) FROM ingest_runs", [], |r| r.get(0))?;
        Ok(Stats { papers, arxiv_papers: papers - external, days, latest_day: self.latest_day()?, ingest_runs })
    }

    fn record_ingest_run(&mut self, report: &IngestReport) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO ingest_runs (source, input, started_at, finished_at, new, updated, unchanged, rejected, first_errors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                report.source.as_str(),
                report.input,
                report.started.to_rfc3339(),
                report.finished.to_rfc3339(),
                report.new,
                report.updated,
                report.unchanged,
                report.rejected,
                serde_json::to_string(&report.first_errors).expect("strings serialise"),
            ],
        )?;
        Ok(())
    }

    fn ingest_runs(&self, limit: usize) -> Result<Vec<IngestReport>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT source, input, started_at, finished_at, new, updated, unchanged, rejected, first_errors
             FROM ingest_runs ORDER BY id DESC LIMIT ?1",
        )?;
        let mut rows = stmt.query([limit as i64])?;
        let mut runs = Vec::new();
        while let Some(r) = rows.next()? {
            let source: String = r.get(0)?;
            let errors: String = r.get(8)?;
            let record = || format!("ingest run of {}", r.get::<_, String>(1).unwrap_or_default());
            runs.push(IngestReport {
                source: Source::parse(&source).ok_or_else(|| StoreError::corrupt(record(), format!("unknown source {source:?}")))?,
                input: r.get(1)?,
                started: time(&r.get::<_, String>(2)?, &record)?,
                finished: time(&r.get::<_, String>(3)?, &record)?,
                new: r.get(4)?,
                updated: r.get(5)?,
                unchanged: r.get(6)?,
                rejected: r.get(7)?,
                first_errors: serde_json::from_str(&errors).map_err(|e| StoreError::corrupt(record(), e))?,
            });
        }
        Ok(runs)
    }

    fn papers_changed_since(&self, seq: i64, limit: usize) -> Result<Vec<(i64, Paper)>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT seq, id, data FROM papers WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let rows = stmt.query_map(params![seq, limit as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
        rows.map(|row| {
            let (seq, id, data) = row?;
            Ok((seq, decode_paper(&id, &data)?))
        })
        .collect()
    }

    fn harvest_checkpoint(&self, key: &str) -> Result<Option<NaiveDate>, StoreError> {
        let stamp: Option<String> = self
            .conn
            .query_row("SELECT datestamp FROM harvest_checkpoints WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        Ok(stamp.and_then(|s| s.parse().ok()))
    }

    fn set_harvest_checkpoint(&mut self, key: &str, datestamp: NaiveDate) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO harvest_checkpoints (key, datestamp, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET datestamp = max(datestamp, excluded.datestamp), updated_at = excluded.updated_at",
            params![key, datestamp.to_string(), Utc::now().to_rfc3339()],
        )?;
        Ok(())
    }

    fn last_seq(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT coalesce(max(seq), 0) FROM papers", [], |r| r.get(0))?)
    }

    fn local_upvotes(&self, papers: &[PaperId]) -> Result<HashMap<PaperId, u32>, StoreError> {
        if papers.is_empty() {
            return Ok(HashMap::new());
        }
        // One statement for any number of papers (a month's ranking asks for thousands).
        let ids = serde_json::to_string(&papers.iter().map(|p| p.to_string()).collect::<Vec<_>>()).expect("strings serialise");
        let mut stmt = self.conn.prepare_cached(
            "SELECT paper_id, count(*) FROM votes WHERE vote = 'up' AND paper_id IN (SELECT value FROM json_each(?1)) GROUP BY paper_id",
        )?;
        let rows = stmt.query_map([ids], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
        rows.map(|row| {
            let (id, n) = row?;
            Ok((id.parse().map_err(|e| StoreError::corrupt(format!("votes on {id}"), e))?, n))
        })
        .collect()
    }

    fn papers_by_keys(&self, keys: &[String]) -> Result<Vec<(String, PaperId)>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT paper_id FROM paper_keys WHERE key = ?1 ORDER BY paper_id")?;
        let mut out = Vec::new();
        for key in keys {
            let ids: Vec<String> = stmt.query_map([key], |r| r.get(0))?.collect::<Result<_, _>>()?;
            for id in ids {
                out.push((key.clone(), id.parse().map_err(|e| StoreError::corrupt(format!("paper key {key}"), e))?));
            }
        }
        Ok(out)
    }

    fn papers_by_authors(&self, authors: &[String], since: Option<NaiveDate>, offset: usize, limit: usize) -> Result<Vec<Paper>, StoreError> {
        if authors.is_empty() {
            return Ok(vec![]);
        }
        let keys = serde_json::to_string(authors).expect("strings serialise");
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id, p.data FROM papers p
             WHERE p.id IN (SELECT paper_id FROM paper_authors WHERE author_key IN (SELECT value FROM json_each(?1)))
               AND (?2 IS NULL OR p.day >= ?2)
             ORDER BY p.day DESC, p.id LIMIT ?3 OFFSET ?4",
        )?;
        let rows = stmt.query_map(params![keys, since.map(|d| d.to_string()), limit as i64, offset as i64], id_and_data)?;
        decode_rows(rows)
    }
}

impl EmbeddingCache for SqliteStore {
    fn cached_embeddings(&self, model: &str, text_hashes: &[String]) -> Result<HashMap<String, Vec<f32>>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT vector FROM embeddings WHERE model = ?1 AND text_hash = ?2")?;
        let mut out = HashMap::new();
        for h in text_hashes {
            let blob: Option<Vec<u8>> = stmt.query_row(params![model, h], |r| r.get(0)).optional()?;
            if let Some(blob) = blob {
                out.insert(h.clone(), vector_from_bytes(&blob));
            }
        }
        Ok(out)
    }

    fn cache_embeddings(&mut self, model: &str, vectors: &[(String, Vec<f32>)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("INSERT OR REPLACE INTO embeddings (model, text_hash, vector) VALUES (?1, ?2, ?3)")?;
            for (h, v) in vectors {
                stmt.execute(params![model, h, vector_bytes(v)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

/// Times are stored as RFC 3339 text.
fn time(s: &str, record: &dyn Fn() -> String) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).map_err(|e| StoreError::corrupt(record(), format!("time {s:?}: {e}")))
}

/// Paper ids are stored as their text form.
fn paper_id(s: &str, record: &dyn Fn() -> String) -> Result<PaperId, StoreError> {
    s.parse().map_err(|e| StoreError::corrupt(record(), format!("paper id {s:?}: {e}")))
}

/// Days are stored as `YYYY-MM-DD` text.
fn day(s: &str, record: &dyn Fn() -> String) -> Result<NaiveDate, StoreError> {
    s.parse().map_err(|e| StoreError::corrupt(record(), format!("day {s:?}: {e}")))
}
