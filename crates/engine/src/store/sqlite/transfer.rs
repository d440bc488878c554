//! Whole-table copy on SQLite (see `store::transfer`).

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::Value as Sql;

use super::SqliteStore;
use crate::store::transfer::{Table, Transfer, Type, Value};
use crate::store::StoreError;

fn to_sql(v: &Value) -> Sql {
    match v {
        Value::Null => Sql::Null,
        Value::Int(i) => Sql::Integer(*i),
        Value::Text(s) => Sql::Text(s.clone()),
        Value::Bytes(b) => Sql::Blob(b.clone()),
        Value::Day(d) => Sql::Text(d.to_string()),
        Value::Time(t) => Sql::Text(t.to_rfc3339()),
    }
}

fn from_sql(table: &Table, column: usize, v: Sql) -> Result<Value, StoreError> {
    let (name, ty) = table.columns[column];
    let bad = |what: &str| StoreError::corrupt(format!("{} row", table.name), format!("column {name}: {what}"));
    Ok(match (ty, v) {
        (_, Sql::Null) => Value::Null,
        (Type::Int | Type::Int32, Sql::Integer(i)) => Value::Int(i),
        (Type::Text, Sql::Text(s)) => Value::Text(s),
        (Type::Bytes, Sql::Blob(b)) => Value::Bytes(b),
        (Type::Day, Sql::Text(s)) => Value::Day(s.parse::<NaiveDate>().map_err(|e| bad(&format!("day {s:?}: {e}")))?),
        (Type::Time, Sql::Text(s)) => Value::Time(DateTime::parse_from_rfc3339(&s).map_err(|e| bad(&format!("time {s:?}: {e}")))?.with_timezone(&Utc)),
        (ty, other) => return Err(bad(&format!("expected {ty:?}, found {:?}", other.data_type()))),
    })
}

impl Transfer for SqliteStore {
    fn export_rows(&self, table: &Table, after: Option<&[Value]>, limit: usize) -> Result<Vec<Vec<Value>>, StoreError> {
        let keys = table.key_list();
        let marks = vec!["?"; table.key].join(", ");
        let filter = if after.is_some() { format!("WHERE ({keys}) > ({marks})") } else { String::new() };
        let sql = format!("SELECT {} FROM {} {filter} ORDER BY {keys} LIMIT {limit}", table.column_list(), table.name);
        let mut stmt = self.conn.prepare(&sql)?;
        let params: Vec<Sql> = after.unwrap_or(&[]).iter().map(to_sql).collect();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let row = (0..table.columns.len()).map(|i| from_sql(table, i, r.get::<_, Sql>(i)?)).collect::<Result<Vec<_>, StoreError>>()?;
            out.push(row);
        }
        Ok(out)
    }

    fn import_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<u64, StoreError> {
        let marks = vec!["?"; table.columns.len()].join(", ");
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut inserted = 0;
        {
            let mut stmt = tx.prepare(&format!("INSERT OR IGNORE INTO {} ({}) VALUES ({marks})", table.name, table.column_list()))?;
            for row in rows {
                inserted += stmt.execute(rusqlite::params_from_iter(row.iter().map(to_sql)))? as u64;
            }
        }
        tx.commit()?;
        Ok(inserted)
    }

    fn count_rows(&self, table: &Table) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(&format!("SELECT count(*) FROM {}", table.name), [], |r| r.get(0))?)
    }
}
