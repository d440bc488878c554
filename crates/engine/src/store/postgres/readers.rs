//! Readers on PostgreSQL (rules in `crate::readers`).

use chrono::{DateTime, Duration, Utc};
use paperboy_core::{EmailAddress, PaperId};
use postgres::types::ToSql;
use postgres::Row;

use super::{paper_id, PgStore};
use crate::readers::{author_key, ApiToken, Collection, Follow, Marks, SavedPaper, SignInRequest, Vote, VoteRecord, SESSION_TTL, SIGN_INS_PER_HOUR, SIGN_IN_TTL};
use crate::store::{encode_interests, ReaderStore, StoreError};
use crate::subscriptions::{email_key, random_token, token_hash, Interests, Subscriber};

const COLLECTION: &str = "SELECT c.id, c.reader_id, c.name, c.share_key, c.created_at,
     (SELECT count(*) FROM collection_items i WHERE i.collection_id = c.id) FROM collections c";

fn collection(r: &Row) -> Result<Collection, StoreError> {
    Ok(Collection {
        id: r.try_get(0)?,
        reader: r.try_get(1)?,
        name: r.try_get(2)?,
        share_key: r.try_get(3)?,
        created_at: r.try_get(4)?,
        papers: super::uncount(r.try_get(5)?),
    })
}

fn vote(s: &str, record: &dyn Fn() -> String) -> Result<Vote, StoreError> {
    Vote::parse(s).ok_or_else(|| StoreError::corrupt(record(), format!("unknown vote {s:?}")))
}

impl PgStore {
    fn reader_of(&self, id: Option<i64>) -> Result<Option<Subscriber>, StoreError> {
        match id {
            Some(id) => self.subscriber_where("id = $1", &id),
            None => Ok(None),
        }
    }

    fn collections_where(&self, tail: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Collection>, StoreError> {
        self.conn().query(&format!("{COLLECTION} {tail}"), params)?.iter().map(collection).collect()
    }

    fn owns(&self, reader: i64, collection: i64) -> Result<bool, StoreError> {
        Ok(self.conn().query_opt("SELECT 1 FROM collections WHERE id = $1 AND reader_id = $2", &[&collection, &reader])?.is_some())
    }
}

impl ReaderStore for PgStore {
    fn request_sign_in(&mut self, email: &EmailAddress, now: DateTime<Utc>) -> Result<SignInRequest, StoreError> {
        let key = email_key(email);
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        // Requests for one address, from any node, are decided one at a time (as subscribing).
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
        let reader: i64 = match tx.query_opt("SELECT id FROM subscribers WHERE email_key = $1", &[&key])? {
            Some(row) => row.try_get(0)?,
            None => tx
                .query_one(
                    "INSERT INTO subscribers (email, email_key, frequency, interests, status, manage_key, created_at)
                     VALUES ($1, $2, 'daily', $3, 'none', $4, $5) RETURNING id",
                    &[&email.as_str(), &key, &encode_interests(&Interests::default()), &random_token(), &now],
                )?
                .try_get(0)?,
        };
        let recent: i64 = tx
            .query_one("SELECT count(*) FROM sign_in_links WHERE reader_id = $1 AND created_at > $2", &[&reader, &(now - Duration::hours(1))])?
            .try_get(0)?;
        if recent >= i64::from(SIGN_INS_PER_HOUR) {
            return Ok(SignInRequest::TooMany);
        }
        let token = random_token();
        tx.execute(
            "INSERT INTO sign_in_links (token_hash, reader_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&token_hash(&token), &reader, &now, &(now + SIGN_IN_TTL)],
        )?;
        tx.commit()?;
        Ok(SignInRequest::Send { reader, token })
    }

    fn redeem_sign_in(&mut self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        let row = self.conn().query_opt(
            "UPDATE sign_in_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at >= $2 RETURNING reader_id",
            &[&token_hash(token), &now],
        )?;
        self.reader_of(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn start_session(&mut self, reader: i64, now: DateTime<Utc>) -> Result<String, StoreError> {
        let token = random_token();
        self.conn().execute(
            "INSERT INTO sessions (token_hash, reader_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&token_hash(&token), &reader, &now, &(now + SESSION_TTL)],
        )?;
        Ok(token)
    }

    fn session_reader(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        let row = self.conn().query_opt("SELECT reader_id FROM sessions WHERE token_hash = $1 AND expires_at > $2", &[&token_hash(token), &now])?;
        self.reader_of(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn end_session(&mut self, token: &str) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash(token)])?;
        Ok(())
    }

    fn session_count(&self, reader: i64) -> Result<u64, StoreError> {
        let n: i64 = self.conn().query_one("SELECT count(*) FROM sessions WHERE reader_id = $1 AND expires_at > now()", &[&reader])?.try_get(0)?;
        Ok(super::uncount(n))
    }

    fn end_all_sessions(&mut self, reader: i64) -> Result<u64, StoreError> {
        Ok(self.conn().execute("DELETE FROM sessions WHERE reader_id = $1", &[&reader])?)
    }

    fn create_api_token(&mut self, reader: i64, name: &str, now: DateTime<Utc>) -> Result<(ApiToken, String), StoreError> {
        let secret = format!("pb_{}{}", random_token(), random_token());
        let row = self.conn().query_one(
            "INSERT INTO api_tokens (reader_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&reader, &name, &token_hash(&secret), &now],
        )?;
        Ok((ApiToken { id: row.try_get(0)?, name: name.to_owned(), created_at: now, last_used_at: None }, secret))
    }

    fn api_tokens(&self, reader: i64) -> Result<Vec<ApiToken>, StoreError> {
        let rows = self.conn().query("SELECT id, name, created_at, last_used_at FROM api_tokens WHERE reader_id = $1 ORDER BY id", &[&reader])?;
        rows.iter()
            .map(|r| Ok(ApiToken { id: r.try_get(0)?, name: r.try_get(1)?, created_at: r.try_get(2)?, last_used_at: r.try_get(3)? }))
            .collect()
    }

    fn revoke_api_token(&mut self, reader: i64, id: i64) -> Result<bool, StoreError> {
        Ok(self.conn().execute("DELETE FROM api_tokens WHERE id = $1 AND reader_id = $2", &[&id, &reader])? == 1)
    }

    fn api_token_reader(&mut self, token: &str, now: DateTime<Utc>) -> Result<Option<Subscriber>, StoreError> {
        let row = self.conn().query_opt("UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 RETURNING reader_id", &[&token_hash(token), &now])?;
        self.reader_of(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn set_vote(&mut self, reader: i64, paper: &PaperId, vote: Option<Vote>, now: DateTime<Utc>) -> Result<(), StoreError> {
        let paper = paper.to_string();
        match vote {
            Some(v) => self.conn().execute(
                "INSERT INTO votes (reader_id, paper_id, vote, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (reader_id, paper_id) DO UPDATE SET vote = excluded.vote, at = excluded.at",
                &[&reader, &paper, &v.as_str(), &now],
            )?,
            None => self.conn().execute("DELETE FROM votes WHERE reader_id = $1 AND paper_id = $2", &[&reader, &paper])?,
        };
        Ok(())
    }

    fn set_read(&mut self, reader: i64, paper: &PaperId, read: bool, now: DateTime<Utc>) -> Result<(), StoreError> {
        let paper = paper.to_string();
        if read {
            self.conn().execute("INSERT INTO read_marks (reader_id, paper_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", &[&reader, &paper, &now])?;
        } else {
            self.conn().execute("DELETE FROM read_marks WHERE reader_id = $1 AND paper_id = $2", &[&reader, &paper])?;
        }
        Ok(())
    }

    fn marks(&self, reader: i64, papers: &[PaperId]) -> Result<Marks, StoreError> {
        let keys: Vec<String> = papers.iter().map(|id| id.to_string()).collect();
        // One round trip: every mark of these papers, tagged by kind.
        let rows = self.conn().query(
            "SELECT 'vote', paper_id, vote FROM votes WHERE reader_id = $1 AND paper_id = ANY($2)
             UNION ALL SELECT 'read', paper_id, '' FROM read_marks WHERE reader_id = $1 AND paper_id = ANY($2)
             UNION ALL SELECT DISTINCT 'saved', i.paper_id, '' FROM collection_items i JOIN collections c ON c.id = i.collection_id
                 WHERE c.reader_id = $1 AND i.paper_id = ANY($2)",
            &[&reader, &keys],
        )?;
        let mut marks = Marks::default();
        for r in &rows {
            let (kind, paper, value): (String, String, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let record = || format!("{kind} of reader {reader} on {paper}");
            let id = paper_id(&paper, &record)?;
            match kind.as_str() {
                "vote" => {
                    marks.votes.insert(id, vote(&value, &record)?);
                }
                "read" => {
                    marks.read.insert(id);
                }
                _ => {
                    marks.saved.insert(id);
                }
            }
        }
        Ok(marks)
    }

    fn votes(&self, reader: i64) -> Result<Vec<VoteRecord>, StoreError> {
        let rows = self.conn().query("SELECT paper_id, vote, at FROM votes WHERE reader_id = $1 ORDER BY at DESC, paper_id", &[&reader])?;
        rows.iter()
            .map(|r| {
                let (paper, v): (String, String) = (r.try_get(0)?, r.try_get(1)?);
                let record = || format!("vote of reader {reader} on {paper}");
                Ok(VoteRecord { paper: paper_id(&paper, &record)?, vote: vote(&v, &record)?, at: r.try_get(2)? })
            })
            .collect()
    }

    fn read_papers(&self, reader: i64) -> Result<Vec<(PaperId, DateTime<Utc>)>, StoreError> {
        let rows = self.conn().query("SELECT paper_id, at FROM read_marks WHERE reader_id = $1 ORDER BY at DESC, paper_id", &[&reader])?;
        rows.iter()
            .map(|r| {
                let paper: String = r.try_get(0)?;
                Ok((paper_id(&paper, &|| format!("read mark of reader {reader} on {paper}"))?, r.try_get(1)?))
            })
            .collect()
    }

    fn create_collection(&mut self, reader: i64, name: &str, now: DateTime<Utc>) -> Result<Collection, StoreError> {
        self.conn().execute("INSERT INTO collections (reader_id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", &[&reader, &name, &now])?;
        self.collections_where("WHERE c.reader_id = $1 AND c.name = $2", &[&reader, &name])?
            .pop()
            .ok_or_else(|| StoreError::corrupt(format!("collection {name:?} of reader {reader}"), "gone right after it was made"))
    }

    fn collections(&self, reader: i64) -> Result<Vec<Collection>, StoreError> {
        self.collections_where("WHERE c.reader_id = $1 ORDER BY c.name, c.id", &[&reader])
    }

    fn collection(&self, id: i64) -> Result<Option<Collection>, StoreError> {
        Ok(self.collections_where("WHERE c.id = $1", &[&id])?.pop())
    }

    fn shared_collection(&self, share_key: &str) -> Result<Option<Collection>, StoreError> {
        Ok(self.collections_where("WHERE c.share_key = $1", &[&share_key])?.pop())
    }

    fn share_collection(&mut self, reader: i64, id: i64, share: bool) -> Result<Option<Collection>, StoreError> {
        let key = share.then(|| format!("{}{}", random_token(), random_token()));
        // Sharing again keeps the link that was given out.
        self.conn().execute(
            "UPDATE collections SET share_key = CASE WHEN $3::text IS NULL THEN NULL ELSE coalesce(share_key, $3) END WHERE id = $1 AND reader_id = $2",
            &[&id, &reader, &key],
        )?;
        Ok(self.collection(id)?.filter(|c| c.reader == reader))
    }

    fn rename_collection(&mut self, reader: i64, id: i64, name: &str) -> Result<Option<Collection>, StoreError> {
        // A name the reader already uses leaves the collection as it was.
        self.conn().execute(
            "UPDATE collections SET name = $3 WHERE id = $1 AND reader_id = $2
                 AND NOT EXISTS (SELECT 1 FROM collections WHERE reader_id = $2 AND name = $3)",
            &[&id, &reader, &name],
        )?;
        Ok(self.collection(id)?.filter(|c| c.reader == reader))
    }

    fn delete_collection(&mut self, reader: i64, id: i64) -> Result<bool, StoreError> {
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        tx.execute("DELETE FROM collection_items WHERE collection_id = (SELECT id FROM collections WHERE id = $1 AND reader_id = $2)", &[&id, &reader])?;
        let n = tx.execute("DELETE FROM collections WHERE id = $1 AND reader_id = $2", &[&id, &reader])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn save_paper(&mut self, reader: i64, collection: i64, paper: &PaperId, note: Option<&str>, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if !self.owns(reader, collection)? {
            return Ok(false);
        }
        self.conn().execute(
            "INSERT INTO collection_items (collection_id, paper_id, note, added_at) VALUES ($1, $2, coalesce($3, ''), $4)
             ON CONFLICT (collection_id, paper_id) DO UPDATE SET note = coalesce($3, collection_items.note)",
            &[&collection, &paper.to_string(), &note, &now],
        )?;
        self.conn().execute(
            "INSERT INTO watches (reader_id, paper_id, seen_event, since)
             SELECT $1::bigint, $2::text, (SELECT coalesce(max(id), 0) FROM paper_events), $3::timestamptz WHERE EXISTS (SELECT 1 FROM alert_settings WHERE reader_id = $1 AND saved = 1)
             ON CONFLICT DO NOTHING",
            &[&reader, &paper.to_string(), &now],
        )?;
        Ok(true)
    }

    fn unsave_paper(&mut self, reader: i64, collection: i64, paper: &PaperId) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "DELETE FROM collection_items WHERE collection_id = (SELECT id FROM collections WHERE id = $1 AND reader_id = $2) AND paper_id = $3",
            &[&collection, &reader, &paper.to_string()],
        )?;
        Ok(n == 1)
    }

    fn saved_papers(&self, collection: i64) -> Result<Vec<SavedPaper>, StoreError> {
        let rows = self.conn().query("SELECT paper_id, note, added_at FROM collection_items WHERE collection_id = $1 ORDER BY added_at DESC, paper_id", &[&collection])?;
        rows.iter()
            .map(|r| {
                let paper: String = r.try_get(0)?;
                Ok(SavedPaper { paper: paper_id(&paper, &|| format!("paper {paper} in collection {collection}"))?, note: r.try_get(1)?, added_at: r.try_get(2)? })
            })
            .collect()
    }

    fn collections_with(&self, reader: i64, paper: &PaperId) -> Result<Vec<i64>, StoreError> {
        let rows = self.conn().query(
            "SELECT c.id FROM collections c JOIN collection_items i ON i.collection_id = c.id WHERE c.reader_id = $1 AND i.paper_id = $2 ORDER BY c.id",
            &[&reader, &paper.to_string()],
        )?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    fn follow_author(&mut self, reader: i64, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let key = author_key(name);
        if !key.is_empty() {
            self.conn().execute(
                "INSERT INTO follows (reader_id, author_key, name, since) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&reader, &key, &name.trim(), &now],
            )?;
        }
        Ok(())
    }

    fn unfollow_author(&mut self, reader: i64, key: &str) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM follows WHERE reader_id = $1 AND author_key = $2", &[&reader, &key])?;
        Ok(())
    }

    fn follows(&self, reader: i64) -> Result<Vec<Follow>, StoreError> {
        let rows = self.conn().query("SELECT author_key, name, since FROM follows WHERE reader_id = $1 ORDER BY name, author_key", &[&reader])?;
        rows.iter().map(|r| Ok(Follow { key: r.try_get(0)?, name: r.try_get(1)?, since: r.try_get(2)? })).collect()
    }

    fn readers_with_marks(&self) -> Result<std::collections::HashSet<i64>, StoreError> {
        let rows = self.conn().query(
            "SELECT reader_id FROM votes UNION SELECT reader_id FROM follows
             UNION SELECT c.reader_id FROM collections c WHERE EXISTS (SELECT 1 FROM collection_items i WHERE i.collection_id = c.id)
             UNION SELECT reader_id FROM alert_ledger WHERE output = 'email'",
            &[],
        )?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    fn feed_key(&mut self, reader: i64) -> Result<String, StoreError> {
        let fresh = format!("{}{}", random_token(), random_token());
        self.conn().execute("INSERT INTO feed_keys (reader_id, key) VALUES ($1, $2) ON CONFLICT (reader_id) DO NOTHING", &[&reader, &fresh])?;
        Ok(self.conn().query_one("SELECT key FROM feed_keys WHERE reader_id = $1", &[&reader])?.try_get(0)?)
    }

    fn feed_reader(&self, key: &str) -> Result<Option<Subscriber>, StoreError> {
        let row = self.conn().query_opt("SELECT reader_id FROM feed_keys WHERE key = $1", &[&key])?;
        self.reader_of(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn delete_reader(&mut self, reader: i64) -> Result<bool, StoreError> {
        let mut client = self.conn();
        let mut tx = client.transaction()?;
        for sql in [
            "DELETE FROM sign_in_links WHERE reader_id = $1",
            "DELETE FROM sessions WHERE reader_id = $1",
            "DELETE FROM api_tokens WHERE reader_id = $1",
            "DELETE FROM votes WHERE reader_id = $1",
            "DELETE FROM read_marks WHERE reader_id = $1",
            "DELETE FROM collection_items WHERE collection_id IN (SELECT id FROM collections WHERE reader_id = $1)",
            "DELETE FROM collections WHERE reader_id = $1",
            "DELETE FROM follows WHERE reader_id = $1",
            "DELETE FROM feed_keys WHERE reader_id = $1",
            "DELETE FROM webhook_deliveries WHERE alert_id IN (SELECT id FROM alerts WHERE reader_id = $1)",
            "DELETE FROM alert_ledger WHERE reader_id = $1",
            "DELETE FROM watches WHERE reader_id = $1",
            "DELETE FROM alert_settings WHERE reader_id = $1",
            "DELETE FROM alerts WHERE reader_id = $1",
            "DELETE FROM digest_ledger WHERE subscriber_id = $1",
            "DELETE FROM outbox WHERE subscriber_id = $1",
        ] {
            tx.execute(sql, &[&reader])?;
        }
        let n = tx.execute("DELETE FROM subscribers WHERE id = $1", &[&reader])?;
        tx.commit()?;
        Ok(n == 1)
    }
}
