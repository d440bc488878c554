//! Copying a whole store from one backend to another (`paperboy migrate`): every table, a page
//! of rows at a time in key order (flat memory), inserted where missing (so a second run changes
//! nothing), then the rows of each table counted on both sides.
//!
//! Rows travel as [`Value`]s, typed by the table descriptions in [`TABLES`]; each backend turns
//! them into its own column types (SQLite keeps days and times as text, PostgreSQL as `date`
//! and `timestamptz`). Row ids are kept, so the outbox and the ledger still point at their
//! subscribers, and `seq` is kept, so derived indexes stay valid.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Store, StoreError};

/// A column's type, as both backends understand it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// 64-bit integer.
    Int,
    /// 32-bit integer (PostgreSQL `integer`).
    Int32,
    /// Text.
    Text,
    /// Bytes.
    Bytes,
    /// A calendar day.
    Day,
    /// A UTC time.
    Time,
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A day.
    Day(NaiveDate),
    /// A time.
    Time(DateTime<Utc>),
}

/// A table as the copy sees it.
#[derive(Debug)]
pub struct Table {
    /// Its name.
    pub name: &'static str,
    /// Its columns, in order.
    pub columns: &'static [(&'static str, Type)],
    /// How many leading columns make the key rows are paged by.
    pub key: usize,
    /// Whether its first column is a generated id (PostgreSQL's sequence is moved past the copied ids).
    pub serial: bool,
}

impl Table {
    /// The column names, comma-separated.
    pub fn column_list(&self) -> String {
        self.columns.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
    }

    /// The key column names, comma-separated.
    pub fn key_list(&self) -> String {
        self.columns[..self.key].iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
    }
}

use Type::*;

/// Every table, parents before children.
pub const TABLES: &[Table] = &[
    Table {
        name: "papers",
        columns: &[("seq", Int), ("id", Text), ("day", Day), ("primary_category", Text), ("hf_upvotes", Int), ("data", Text), ("first_seen", Time), ("changed_at", Time)],
        key: 1,
        serial: false,
    },
    Table {
        name: "ingest_runs",
        columns: &[
            ("id", Int),
            ("source", Text),
            ("input", Text),
            ("started_at", Time),
            ("finished_at", Time),
            ("new", Int),
            ("updated", Int),
            ("unchanged", Int),
            ("rejected", Int),
            ("first_errors", Text),
        ],
        key: 1,
        serial: true,
    },
    Table { name: "harvest_checkpoints", columns: &[("key", Text), ("datestamp", Day), ("updated_at", Time)], key: 1, serial: false },
    Table { name: "embeddings", columns: &[("model", Text), ("text_hash", Text), ("vector", Bytes)], key: 2, serial: false },
    Table {
        name: "subscribers",
        columns: &[
            ("id", Int),
            ("email", Text),
            ("email_key", Text),
            ("frequency", Text),
            ("interests", Text),
            ("status", Text),
            ("confirm_hash", Text),
            ("confirm_expires_at", Time),
            ("confirm_sent_at", Time),
            ("manage_key", Text),
            ("bounces", Int32),
            ("created_at", Time),
            ("confirmed_at", Time),
            ("unsubscribed_at", Time),
            ("last_digest_day", Day),
        ],
        key: 1,
        serial: true,
    },
    Table {
        name: "outbox",
        columns: &[
            ("id", Int),
            ("subscriber_id", Int),
            ("kind", Text),
            ("period", Text),
            ("message_id", Text),
            ("recipient", Text),
            ("subject", Text),
            ("html", Text),
            ("text", Text),
            ("unsubscribe_url", Text),
            ("status", Text),
            ("attempts", Int32),
            ("next_attempt_at", Time),
            ("last_error", Text),
            ("created_at", Time),
            ("sent_at", Time),
        ],
        key: 1,
        serial: true,
    },
    Table { name: "digest_ledger", columns: &[("subscriber_id", Int), ("paper_id", Text), ("outbox_id", Int)], key: 2, serial: false },
    Table { name: "leases", columns: &[("name", Text), ("holder", Text), ("expires_at", Time)], key: 1, serial: false },
    Table {
        name: "sign_in_links",
        columns: &[("token_hash", Text), ("reader_id", Int), ("created_at", Time), ("expires_at", Time), ("used_at", Time)],
        key: 1,
        serial: false,
    },
    Table { name: "sessions", columns: &[("token_hash", Text), ("reader_id", Int), ("created_at", Time), ("expires_at", Time)], key: 1, serial: false },
    Table {
        name: "api_tokens",
        columns: &[("id", Int), ("reader_id", Int), ("name", Text), ("token_hash", Text), ("created_at", Time), ("last_used_at", Time)],
        key: 1,
        serial: true,
    },
    Table { name: "votes", columns: &[("reader_id", Int), ("paper_id", Text), ("vote", Text), ("at", Time)], key: 2, serial: false },
    Table { name: "read_marks", columns: &[("reader_id", Int), ("paper_id", Text), ("at", Time)], key: 2, serial: false },
    Table {
        name: "collections",
        columns: &[("id", Int), ("reader_id", Int), ("name", Text), ("share_key", Text), ("created_at", Time)],
        key: 1,
        serial: true,
    },
    Table {
        name: "collection_items",
        columns: &[("collection_id", Int), ("paper_id", Text), ("note", Text), ("added_at", Time)],
        key: 2,
        serial: false,
    },
    Table { name: "follows", columns: &[("reader_id", Int), ("author_key", Text), ("name", Text), ("since", Time)], key: 2, serial: false },
    Table { name: "paper_authors", columns: &[("author_key", Text), ("paper_id", Text), ("day", Day)], key: 2, serial: false },
    Table { name: "paper_keys", columns: &[("key", Text), ("paper_id", Text)], key: 2, serial: false },
    Table { name: "feed_keys", columns: &[("reader_id", Int), ("key", Text)], key: 1, serial: false },
    Table {
        name: "alerts",
        columns: &[
            ("id", Int),
            ("reader_id", Int),
            ("name", Text),
            ("spec", Text),
            ("secret", Text),
            ("seen_seq", Int),
            ("webhook_failures", Int32),
            ("webhook_disabled_at", Time),
            ("webhook_error", Text),
            ("last_run_at", Time),
            ("created_at", Time),
        ],
        key: 1,
        serial: true,
    },
    Table { name: "alert_ledger", columns: &[("reader_id", Int), ("output", Text), ("item", Text), ("alerts", Text), ("at", Time), ("mailed_at", Time)], key: 3, serial: false },
    Table {
        name: "webhook_deliveries",
        columns: &[
            ("id", Int),
            ("alert_id", Int),
            ("url", Text),
            ("idempotency_key", Text),
            ("content_type", Text),
            ("headers", Text),
            ("body", Text),
            ("status", Text),
            ("attempts", Int32),
            ("next_attempt_at", Time),
            ("last_error", Text),
            ("created_at", Time),
            ("sent_at", Time),
        ],
        key: 1,
        serial: true,
    },
    Table { name: "paper_events", columns: &[("id", Int), ("paper_id", Text), ("kind", Text), ("key", Text), ("text", Text), ("at", Time)], key: 1, serial: true },
    Table { name: "watches", columns: &[("reader_id", Int), ("paper_id", Text), ("seen_event", Int), ("since", Time)], key: 2, serial: false },
    Table { name: "alert_settings", columns: &[("reader_id", Int), ("saved", Int32), ("email", Int32), ("webhook_alert", Int), ("separate", Int32), ("since", Time)], key: 1, serial: false },
];

/// Whole-table access for copying between backends.
pub trait Transfer {
    /// Up to `limit` rows of `table` in key order, after the row whose key is `after`.
    fn export_rows(&self, table: &Table, after: Option<&[Value]>, limit: usize) -> Result<Vec<Vec<Value>>, StoreError>;
    /// Inserts the rows that are not there yet (by any unique key); returns how many were new.
    fn import_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<u64, StoreError>;
    /// Rows in `table`.
    fn count_rows(&self, table: &Table) -> Result<u64, StoreError>;
}

/// What the copy did with one table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCopy {
    /// The table.
    pub table: &'static str,
    /// Rows read from the source.
    pub read: u64,
    /// Rows the target did not have yet.
    pub inserted: u64,
    /// Rows in the source afterwards.
    pub source_rows: u64,
    /// Rows in the target afterwards.
    pub target_rows: u64,
}

/// Rows per page.
const PAGE: usize = 2_000;

/// Copies every table of `from` into `to`, then checks the counts; `progress(table, rows so
/// far, rows in the table)` after each page. A table whose counts differ afterwards (the target
/// held other rows already) is an error naming it.
pub fn copy_all(from: &dyn Store, to: &mut dyn Store, progress: &mut dyn FnMut(&str, u64, u64)) -> Result<Vec<TableCopy>, StoreError> {
    let mut report = Vec::new();
    for table in TABLES {
        let total = from.count_rows(table)?;
        let (mut read, mut inserted) = (0u64, 0u64);
        let mut after: Option<Vec<Value>> = None;
        loop {
            let rows = from.export_rows(table, after.as_deref(), PAGE)?;
            let Some(last) = rows.last() else { break };
            after = Some(last[..table.key].to_vec());
            inserted += to.import_rows(table, &rows)?;
            read += rows.len() as u64;
            progress(table.name, read, total);
        }
        let copy = TableCopy { table: table.name, read, inserted, source_rows: from.count_rows(table)?, target_rows: to.count_rows(table)? };
        if copy.source_rows != copy.target_rows {
            return Err(StoreError::Location(format!(
                "table {}: {} rows in the source but {} in the target after the copy (did the target hold other data?)",
                table.name, copy.source_rows, copy.target_rows
            )));
        }
        report.push(copy);
    }
    Ok(report)
}
