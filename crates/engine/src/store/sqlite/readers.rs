//! Readers on SQLite (rules in `crate::readers`).

use chrono::{DateTime, Utc};
use paperboy_core::{EmailAddress, PaperId};
use rusqlite::{params, OptionalExtension};

use super::{paper_id, time, SqliteStore};
use crate::readers::{author_key, ApiToken, Collection, Follow, Marks, SavedPaper, SignInRequest, Vote, VoteRecord, SESSION_TTL, SIGN_INS_PER_HOUR, SIGN_IN_TTL};
use crate::store::{encode_interests, ReaderStore, StoreError};
use crate::subscriptions::{email_key, random_token, token_hash, Interests, Subscriber};

const COLLECTION: &str = "SELECT c.id, c.reader_id, c.name, c.share_key, c.created_at,
     (SELECT count(*) FROM collection_items i WHERE i.collection_id = c.id) FROM collections c";

fn collection(r: &rusqlite::Row<'_>) -> Result<Collection, StoreError> {
    let id: i64 = r.get(0)?;
    Ok(Collection {
        id,
        reader: r.get(1)?,
        name: r.get(2)?,
        share_key: r.get(3)?,
        created_at: time(&r.get::<_, String>(4)?, &|| format!("collection {id}"))?,
        papers: r.get(5)?,
    })
}

impl SqliteStore {
    fn reader_where(&self, sql: &str, value: &dyn rusqlite::ToSql) -> Result<Option<Subscriber>, StoreError> {
        let id: Option<i64> = self.conn.prepare_cached(sql)?.query_row([value], |r| r.get(0)).optional()?;
        match id {
            Some(id) => self.subscriber_where("id = ?1", &id),
            None => Ok(None),
        }
    }

    fn collections_where(&self, tail: &str, value: &dyn rusqlite::ToSql) -> Result<Vec<Collection>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("{COLLECTION} {tail}"))?;
        let mut rows = stmt.query([value])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(collection(r)?);
        }
        Ok(out)
    }

    fn owns(&self, reader: i64, collection: i64) -> Result<bool, StoreError> {
        Ok(self.conn.prepare_cached("SELECT 1 FROM collections WHERE id = ?1 AND reader_id = ?2")?.exists(params![collection, reader])?)
    }
}

impl ReaderStore for SqliteStore {
    fn request_sign_in(&mut self, email: &EmailAddress, now: DateTime<Utc>) -> Result<SignInRequest, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let key = email_key(email);
        let existing: Option<i64> = tx.query_row("SELECT id FROM subscribers WHERE email_key = ?1", [&key], |r| r.get(0)).optional()?;
        let reader = match existing {
            Some(id) => id,
            None => {
                tx.execute(
                    "INSERT INTO subscribers (email, email_key, frequency, interests, status, manage_key, created_at)
                     VALUES (?1, ?2, 'daily', ?3, 'none', ?4, ?5)",
                    params![email.as_str(), key, encode_interests(&Interests::default()), random_token(), now.to_rfc3339()],
                )?;
                tx.last_insert_rowid()
            }
        };
        let recent: u32 = tx.query_row(
            "SELECT count(*) FROM sign_in_links WHERE reader_id = ?1 AND created_at > ?2",
            params![reader, (now - chrono::Duration::hours(1)).to_rfc3339()],
            |r| r.get(0),
        )?;
        if recent >= SIGN_INS_PER_HOUR {
            return Ok(SignInRequest::TooMany);
        }
        let token = random_token();
        tx.execute(
            "INSERT INTO sign_in_links (token_hash, reader_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash(&token), reader, now.to_rfc3339(), (now + SIGN_IN_TTL).to_rfc3339()],
        )?;
        tx.commit()?;
        Ok(SignInRequest::Send { reader, token })
    }

    fn redeem_sign_in(&mut self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        let n = self.conn.execute(
            "UPDATE sign_in_links SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL AND expires_at >= ?2",
            params![token_hash(token), now.to_rfc3339()],
        )?;
        if n == 0 {
            return Ok(None);
        }
        self.reader_where("SELECT reader_id FROM sign_in_links WHERE token_hash = ?1", &token_hash(token))
    }

    fn start_session(&mut self, reader: i64, now: DateTime<Utc>) -> Result<String, StoreError> {
        let token = random_token();
        self.conn.execute(
            "INSERT INTO sessions (token_hash, reader_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash(&token), reader, now.to_rfc3339(), (now + SESSION_TTL).to_rfc3339()],
        )?;
        Ok(token)
    }

    fn session_reader(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT reader_id FROM sessions WHERE token_hash = ?1 AND expires_at > ?2")?
            .query_row(params![token_hash(token), now.to_rfc3339()], |r| r.get(0))
            .optional()?;
        match id {
            Some(id) => self.subscriber_where("id = ?1", &id),
            None => Ok(None),
        }
    }

    fn end_session(&mut self, token: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash(token)])?;
        Ok(())
    }

    fn session_count(&self, reader: i64) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT count(*) FROM sessions WHERE reader_id = ?1 AND expires_at > ?2", params![reader, Utc::now().to_rfc3339()], |r| r.get(0))?)
    }

    fn end_all_sessions(&mut self, reader: i64) -> Result<u64, StoreError> {
        Ok(self.conn.execute("DELETE FROM sessions WHERE reader_id = ?1", [reader])? as u64)
    }

    fn create_api_token(&mut self, reader: i64, name: &str, now: DateTime<Utc>) -> Result<(ApiToken, String), StoreError> {
        let secret = format!("pb_{}{}", random_token(), random_token());
        self.conn.execute(
            "INSERT INTO api_tokens (reader_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![reader, name, token_hash(&secret), now.to_rfc3339()],
        )?;
        Ok((ApiToken { id: self.conn.last_insert_rowid(), name: name.to_owned(), created_at: now, last_used_at: None }, secret))
    }

    fn api_tokens(&self, reader: i64) -> Result<Vec<ApiToken>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT id, name, created_at, last_used_at FROM api_tokens WHERE reader_id = ?1 ORDER BY id")?;
        let mut rows = stmt.query([reader])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let record = || format!("API token {id}");
            out.push(ApiToken {
                id,
                name: r.get(1)?,
                created_at: time(&r.get::<_, String>(2)?, &record)?,
                last_used_at: r.get::<_, Option<String>>(3)?.map(|t| time(&t, &record)).transpose()?,
            });
        }
        Ok(out)
    }

    fn revoke_api_token(&mut self, reader: i64, id: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM api_tokens WHERE id = ?1 AND reader_id = ?2", params![id, reader])? == 1)
    }

    fn api_token_reader(&mut self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        let hash = token_hash(token);
        self.conn.execute("UPDATE api_tokens SET last_used_at = ?2 WHERE token_hash = ?1", params![hash, now.to_rfc3339()])?;
        self.reader_where("SELECT reader_id FROM api_tokens WHERE token_hash = ?1", &hash)
    }

    fn set_vote(&mut self, reader: i64, paper: &PaperId, vote: Option<Vote>, now: DateTime<Utc>) -> Result<(), StoreError> {
        match vote {
            Some(v) => self.conn.execute(
                "INSERT INTO votes (reader_id, paper_id, vote, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (reader_id, paper_id) DO UPDATE SET vote = excluded.vote, at = excluded.at",
                params![reader, paper.to_string(), v.as_str(), now.to_rfc3339()],
            )?,
            None => self.conn.execute("DELETE FROM votes WHERE reader_id = ?1 AND paper_id = ?2", params![reader, paper.to_string()])?,
        };
        Ok(())
    }

    fn set_read(&mut self, reader: i64, paper: &PaperId, read: bool, now: DateTime<Utc>) -> Result<(), StoreError> {
        if read {
            self.conn.execute("INSERT OR IGNORE INTO read_marks (reader_id, paper_id, at) VALUES (?1, ?2, ?3)", params![reader, paper.to_string(), now.to_rfc3339()])?;
        } else {
            self.conn.execute("DELETE FROM read_marks WHERE reader_id = ?1 AND paper_id = ?2", params![reader, paper.to_string()])?;
        }
        Ok(())
    }

    fn marks(&self, reader: i64, papers: &[PaperId]) -> Result<Marks, StoreError> {
        let mut marks = Marks::default();
        let mut vote = self.conn.prepare_cached("SELECT vote FROM votes WHERE reader_id = ?1 AND paper_id = ?2")?;
        let mut read = self.conn.prepare_cached("SELECT 1 FROM read_marks WHERE reader_id = ?1 AND paper_id = ?2")?;
        let mut saved = self.conn.prepare_cached(
            "SELECT 1 FROM collection_items i JOIN collections c ON c.id = i.collection_id WHERE c.reader_id = ?1 AND i.paper_id = ?2",
        )?;
        for id in papers {
            let key = id.to_string();
            if let Some(v) = vote.query_row(params![reader, key], |r| r.get::<_, String>(0)).optional()? {
                let v = Vote::parse(&v).ok_or_else(|| StoreError::corrupt(format!("vote of reader {reader} on {key}"), format!("unknown vote {v:?}")))?;
                marks.votes.insert(id.clone(), v);
            }
            if read.exists(params![reader, key])? {
                marks.read.insert(id.clone());
            }
            if saved.exists(params![reader, key])? {
                marks.saved.insert(id.clone());
            }
        }
        Ok(marks)
    }

    fn votes(&self, reader: i64) -> Result<Vec<VoteRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT paper_id, vote, at FROM votes WHERE reader_id = ?1 ORDER BY at DESC, paper_id")?;
        let mut rows = stmt.query([reader])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (paper, vote, at): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let record = || format!("vote of reader {reader} on {paper}");
            out.push(VoteRecord {
                paper: paper_id(&paper, &record)?,
                vote: Vote::parse(&vote).ok_or_else(|| StoreError::corrupt(record(), format!("unknown vote {vote:?}")))?,
                at: time(&at, &record)?,
            });
        }
        Ok(out)
    }

    fn read_papers(&self, reader: i64) -> Result<Vec<(PaperId, DateTime<Utc>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT paper_id, at FROM read_marks WHERE reader_id = ?1 ORDER BY at DESC, paper_id")?;
        let mut rows = stmt.query([reader])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (paper, at): (String, String) = (r.get(0)?, r.get(1)?);
            let record = || format!("read mark of reader {reader} on {paper}");
            out.push((paper_id(&paper, &record)?, time(&at, &record)?));
        }
        Ok(out)
    }

    fn create_collection(&mut self, reader: i64, name: &str, now: DateTime<Utc>) -> Result<Collection, StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO collections (reader_id, name, created_at) VALUES (?1, ?2, ?3)",
            params![reader, name, now.to_rfc3339()],
        )?;
        let id: i64 = self.conn.query_row("SELECT id FROM collections WHERE reader_id = ?1 AND name = ?2", params![reader, name], |r| r.get(0))?;
        self.collection(id)?.ok_or_else(|| StoreError::corrupt(format!("collection {id}"), "gone right after it was made"))
    }

    fn collections(&self, reader: i64) -> Result<Vec<Collection>, StoreError> {
        self.collections_where("WHERE c.reader_id = ?1 ORDER BY c.name, c.id", &reader)
    }

    fn collection(&self, id: i64) -> Result<Option<Collection>, StoreError> {
        Ok(self.collections_where("WHERE c.id = ?1", &id)?.pop())
    }

    fn shared_collection(&self, share_key: &str) -> Result<Option<Collection>, StoreError> {
        Ok(self.collections_where("WHERE c.share_key = ?1", &share_key)?.pop())
    }

    fn share_collection(&mut self, reader: i64, id: i64, share: bool) -> Result<Option<Collection>, StoreError> {
        let key = share.then(|| format!("{}{}", random_token(), random_token()));
        // Sharing again keeps the link that was given out.
        self.conn.execute(
            "UPDATE collections SET share_key = CASE WHEN ?3 IS NULL THEN NULL ELSE coalesce(share_key, ?3) END WHERE id = ?1 AND reader_id = ?2",
            params![id, reader, key],
        )?;
        Ok(self.collection(id)?.filter(|c| c.reader == reader))
    }

    fn rename_collection(&mut self, reader: i64, id: i64, name: &str) -> Result<Option<Collection>, StoreError> {
        self.conn.execute("UPDATE OR IGNORE collections SET name = ?3 WHERE id = ?1 AND reader_id = ?2", params![id, reader, name])?;
        Ok(self.collection(id)?.filter(|c| c.reader == reader))
    }

    fn delete_collection(&mut self, reader: i64, id: i64) -> Result<bool, StoreError> {
        if !self.owns(reader, id)? {
            return Ok(false);
        }
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM collection_items WHERE collection_id = ?1", [id])?;
        tx.execute("DELETE FROM collections WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(true)
    }

    fn save_paper(&mut self, reader: i64, collection: i64, paper: &PaperId, note: Option<&str>, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if !self.owns(reader, collection)? {
            return Ok(false);
        }
        self.conn.execute(
            "INSERT INTO collection_items (collection_id, paper_id, note, added_at) VALUES (?1, ?2, coalesce(?3, ''), ?4)
             ON CONFLICT (collection_id, paper_id) DO UPDATE SET note = coalesce(?3, note)",
            params![collection, paper.to_string(), note, now.to_rfc3339()],
        )?;
        self.conn.execute(
            "INSERT OR IGNORE INTO watches (reader_id, paper_id, seen_event, since)
             SELECT ?1, ?2, (SELECT coalesce(max(id), 0) FROM paper_events), ?3 WHERE EXISTS (SELECT 1 FROM alert_settings WHERE reader_id = ?1 AND saved = 1)",
            params![reader, paper.to_string(), now.to_rfc3339()],
        )?;
        Ok(true)
    }

    fn unsave_paper(&mut self, reader: i64, collection: i64, paper: &PaperId) -> Result<bool, StoreError> {
        if !self.owns(reader, collection)? {
            return Ok(false);
        }
        Ok(self.conn.execute("DELETE FROM collection_items WHERE collection_id = ?1 AND paper_id = ?2", params![collection, paper.to_string()])? == 1)
    }

    fn saved_papers(&self, collection: i64) -> Result<Vec<SavedPaper>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT paper_id, note, added_at FROM collection_items WHERE collection_id = ?1 ORDER BY added_at DESC, paper_id")?;
        let mut rows = stmt.query([collection])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (paper, note, at): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let record = || format!("paper {paper} in collection {collection}");
            out.push(SavedPaper { paper: paper_id(&paper, &record)?, note, added_at: time(&at, &record)? });
        }
        Ok(out)
    }

    fn collections_with(&self, reader: i64, paper: &PaperId) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id FROM collections c JOIN collection_items i ON i.collection_id = c.id WHERE c.reader_id = ?1 AND i.paper_id = ?2 ORDER BY c.id",
        )?;
        let rows = stmt.query_map(params![reader, paper.to_string()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn follow_author(&mut self, reader: i64, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let key = author_key(name);
        if !key.is_empty() {
            self.conn.execute("INSERT OR IGNORE INTO follows (reader_id, author_key, name, since) VALUES (?1, ?2, ?3, ?4)", params![reader, key, name.trim(), now.to_rfc3339()])?;
        }
        Ok(())
    }

    fn unfollow_author(&mut self, reader: i64, key: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM follows WHERE reader_id = ?1 AND author_key = ?2", params![reader, key])?;
        Ok(())
    }

    fn follows(&self, reader: i64) -> Result<Vec<Follow>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT author_key, name, since FROM follows WHERE reader_id = ?1 ORDER BY name, author_key")?;
        let mut rows = stmt.query([reader])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (key, name, since): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let since = time(&since, &|| format!("follow of {key} by reader {reader}"))?;
            out.push(Follow { key, name, since });
        }
        Ok(out)
    }

    fn readers_with_marks(&self) -> Result<std::collections::HashSet<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT reader_id FROM votes UNION SELECT reader_id FROM follows
             UNION SELECT c.reader_id FROM collections c WHERE EXISTS (SELECT 1 FROM collection_items i WHERE i.collection_id = c.id)
             UNION SELECT reader_id FROM alert_ledger WHERE output = 'email'",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn feed_key(&mut self, reader: i64) -> Result<String, StoreError> {
        self.conn.execute("INSERT OR IGNORE INTO feed_keys (reader_id, key) VALUES (?1, ?2)", params![reader, format!("{}{}", random_token(), random_token())])?;
        Ok(self.conn.query_row("SELECT key FROM feed_keys WHERE reader_id = ?1", [reader], |r| r.get(0))?)
    }

    fn feed_reader(&self, key: &str) -> Result<Option<Subscriber>, StoreError> {
        self.reader_where("SELECT reader_id FROM feed_keys WHERE key = ?1", &key)
    }

    fn delete_reader(&mut self, reader: i64) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        for sql in [
            "DELETE FROM sign_in_links WHERE reader_id = ?1",
            "DELETE FROM sessions WHERE reader_id = ?1",
            "DELETE FROM api_tokens WHERE reader_id = ?1",
            "DELETE FROM votes WHERE reader_id = ?1",
            "DELETE FROM read_marks WHERE reader_id = ?1",
            "DELETE FROM collection_items WHERE collection_id IN (SELECT id FROM collections WHERE reader_id = ?1)",
            "DELETE FROM collections WHERE reader_id = ?1",
            "DELETE FROM follows WHERE reader_id = ?1",
            "DELETE FROM feed_keys WHERE reader_id = ?1",
            "DELETE FROM webhook_deliveries WHERE alert_id IN (SELECT id FROM alerts WHERE reader_id = ?1)",
            "DELETE FROM alert_ledger WHERE reader_id = ?1",
            "DELETE FROM watches WHERE reader_id = ?1",
            "DELETE FROM alert_settings WHERE reader_id = ?1",
            "DELETE FROM alerts WHERE reader_id = ?1",
            "DELETE FROM digest_ledger WHERE subscriber_id = ?1",
            "DELETE FROM outbox WHERE subscriber_id = ?1",
        ] {
            tx.execute(sql, [reader])?;
        }
        let n = tx.execute("DELETE FROM subscribers WHERE id = ?1", [reader])?;
        tx.commit()?;
        Ok(n == 1)
    }
}
