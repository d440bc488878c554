//! Whole-table copy on PostgreSQL (see `store::transfer`).

use chrono::{DateTime, NaiveDate, Utc};
use postgres::types::ToSql;
use postgres::Row;

use super::{uncount, PgStore};
use crate::store::transfer::{Table, Transfer, Type, Value};
use crate::store::StoreError;

/// A value as a parameter of the column's own type (a NULL too is typed).
fn param(ty: Type, v: &Value) -> Box<dyn ToSql + Sync> {
    match (ty, v) {
        (Type::Int, Value::Int(i)) => Box::new(*i),
        (Type::Int32, Value::Int(i)) => Box::new(i32::try_from(*i).unwrap_or(i32::MAX)),
        (Type::Text, Value::Text(s)) => Box::new(s.clone()),
        (Type::Bytes, Value::Bytes(b)) => Box::new(b.clone()),
        (Type::Day, Value::Day(d)) => Box::new(*d),
        (Type::Time, Value::Time(t)) => Box::new(*t),
        (Type::Int, _) => Box::new(None::<i64>),
        (Type::Int32, _) => Box::new(None::<i32>),
        (Type::Text, _) => Box::new(None::<String>),
        (Type::Bytes, _) => Box::new(None::<Vec<u8>>),
        (Type::Day, _) => Box::new(None::<NaiveDate>),
        (Type::Time, _) => Box::new(None::<DateTime<Utc>>),
    }
}

fn value(table: &Table, r: &Row, i: usize) -> Result<Value, StoreError> {
    fn or_null<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
        v.map_or(Value::Null, f)
    }
    Ok(match table.columns[i].1 {
        Type::Int => or_null(r.try_get::<_, Option<i64>>(i)?, Value::Int),
        Type::Int32 => or_null(r.try_get::<_, Option<i32>>(i)?, |v| Value::Int(v.into())),
        Type::Text => or_null(r.try_get::<_, Option<String>>(i)?, Value::Text),
        Type::Bytes => or_null(r.try_get::<_, Option<Vec<u8>>>(i)?, Value::Bytes),
        Type::Day => or_null(r.try_get::<_, Option<NaiveDate>>(i)?, Value::Day),
        Type::Time => or_null(r.try_get::<_, Option<DateTime<Utc>>>(i)?, Value::Time),
    })
}

impl Transfer for PgStore {
    fn export_rows(&self, table: &Table, after: Option<&[Value]>, limit: usize) -> Result<Vec<Vec<Value>>, StoreError> {
        let keys = table.key_list();
        let marks: Vec<String> = (1..=table.key).map(|i| format!("${i}")).collect();
        let filter = if after.is_some() { format!("WHERE ({keys}) > ({})", marks.join(", ")) } else { String::new() };
        let sql = format!("SELECT {} FROM {} {filter} ORDER BY {keys} LIMIT {limit}", table.column_list(), table.name);
        let params: Vec<Box<dyn ToSql + Sync>> = after.unwrap_or(&[]).iter().zip(table.columns).map(|(v, (_, ty))| param(*ty, v)).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        let rows = self.conn().query(&sql, &refs)?;
        rows.iter().map(|r| (0..table.columns.len()).map(|i| value(table, r, i)).collect()).collect()
    }

    fn import_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<u64, StoreError> {
        let marks: Vec<String> = (1..=table.columns.len()).map(|i| format!("${i}")).collect();
        let sql = format!("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING", table.name, table.column_list(), marks.join(", "));
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        let stmt = tx.prepare(&sql)?;
        let mut inserted = 0;
        for row in rows {
            let params: Vec<Box<dyn ToSql + Sync>> = row.iter().zip(table.columns).map(|(v, (_, ty))| param(*ty, v)).collect();
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
            inserted += tx.execute(&stmt, &refs)?;
        }
        if table.serial {
            // New rows get ids after the copied ones.
            tx.execute(&format!("SELECT setval(pg_get_serial_sequence('{0}', 'id'), coalesce((SELECT max(id) FROM {0}), 0) + 1, false)", table.name), &[])?;
        }
        tx.commit()?;
        Ok(inserted)
    }

    fn count_rows(&self, table: &Table) -> Result<u64, StoreError> {
        Ok(uncount(self.conn().query_one(&format!("SELECT count(*) FROM {}", table.name), &[])?.try_get(0)?))
    }
}
