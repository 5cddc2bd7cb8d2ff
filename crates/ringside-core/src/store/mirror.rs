//! What an agent's app keeps of its hub: the calls as the hub sends them (so history and missed
//! calls read offline), small facts across restarts (the hub's last change it has), and the
//! calls that popped (so none pops twice, even across a restart).

use super::calls::{load_call, save_call};
use super::search::flush_search;
use super::{parse_ts, ts, Writer};
use crate::model::Call;
use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// How long the calls that popped are remembered.
const POPPED_DAYS: i64 = 2;

impl Writer {
    /// Keep `call` as the hub sent it; returns it as stored here (with this store's change
    /// number), or `None` when it is what is kept already.
    pub fn mirror(&mut self, mut call: Call) -> Result<Option<Call>> {
        let tx = self.conn.transaction()?;
        if let Some(old) = load_call(&tx, &call.id)? {
            call.seq = old.seq;
            if old == call {
                return Ok(None);
            }
        }
        save_call(&tx, &mut call)?;
        flush_search(&tx)?;
        tx.commit()?;
        Ok(Some(call))
    }

    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }

    /// Call `id` popped at `now` (and forget what popped long ago).
    pub fn popped(&mut self, id: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO popped (call_id, at) VALUES (?1, ?2)",
            params![id, ts(now)],
        )?;
        self.conn.execute(
            "DELETE FROM popped WHERE at < ?1",
            [ts(now - chrono::Duration::days(POPPED_DAYS))],
        )?;
        Ok(())
    }
}

pub(super) fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// The calls that popped since `since`.
pub(super) fn popped_since(conn: &Connection, since: DateTime<Utc>) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT call_id, at FROM popped WHERE at >= ?1")?;
    let rows = stmt.query_map([ts(since)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (id, at) = r?;
        if parse_ts(&at)? >= since {
            out.push(id);
        }
    }
    Ok(out)
}
