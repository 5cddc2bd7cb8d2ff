//! Calls and their timelines as stored: loading and saving one, the short lists (open, missed),
//! marking a missed call done.

use super::search::flush_search;
use super::{parse_ts, ts, Writer};
use crate::model::*;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// The most missed calls listed.
const MAX_MISSED: i64 = 1000;

impl Writer {
    /// Mark a missed call done (or not). Returns the call as it is now, `None` if unknown.
    pub fn set_done(&mut self, id: &str, done: bool, now: DateTime<Utc>) -> Result<Option<Call>> {
        let tx = self.conn.transaction()?;
        let Some(mut call) = load_call(&tx, id)? else {
            return Ok(None);
        };
        if call.done != done {
            call.done = done;
            call.updated_at = now;
            save_call(&tx, &call)?;
            insert_timeline(
                &tx,
                id,
                &ts(now),
                if done { "done" } else { "undone" },
                None,
                None,
            )?;
        }
        flush_search(&tx)?;
        tx.commit()?;
        Ok(Some(call))
    }
}

pub(super) fn with_timeline(conn: &Connection, id: &str) -> Result<Option<CallWithTimeline>> {
    let Some(call) = load_call(conn, id)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT at, what, detail, event_seq FROM timeline WHERE call_id = ?1 ORDER BY id",
    )?;
    let timeline = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .map(|r| {
            let (at, what, detail, event_seq) = r?;
            Ok(TimelineEntry {
                at: parse_ts(&at)?,
                what,
                detail,
                event_seq,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(CallWithTimeline { call, timeline }))
}

pub(super) fn missed_ids(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM calls WHERE state = 'missed' AND done = 0")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn missed(conn: &Connection) -> Result<Vec<Call>> {
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM calls WHERE state = 'missed' AND done = 0 ORDER BY started_at DESC, id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([MAX_MISSED], |r| r.get::<_, String>(0))?;
    rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
}

pub(super) fn open(conn: &Connection) -> Result<Vec<Call>> {
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM calls WHERE state IN ('ringing', 'answered') ORDER BY started_at",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
}

/// At most `limit` open calls unchanged since before the cutoffs: ringing ones since
/// `ringing_before`, answered ones since `answered_before` (the ones a timeout may end).
/// The partial index `calls_open` holds the open calls only; SQLite uses a partial index
/// only when the query repeats its condition word for word (it cannot tell that the two
/// `OR`ed states imply it), hence the `IN` term.
pub(super) fn stale(
    conn: &Connection,
    ringing_before: DateTime<Utc>,
    answered_before: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Call>> {
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM calls INDEXED BY calls_open
         WHERE state IN ('ringing', 'answered')
           AND ((state = 'ringing' AND updated_at <= ?1) OR (state = 'answered' AND updated_at <= ?2))
         LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![ts(ringing_before), ts(answered_before), limit as i64],
        |r| r.get::<_, String>(0),
    )?;
    rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
}

pub(super) fn load_call(conn: &Connection, id: &str) -> Result<Option<Call>> {
    let data: Option<String> = conn
        .prepare_cached("SELECT data FROM calls WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    data.map(|d| serde_json::from_str(&d).context("decoding stored call"))
        .transpose()
}

/// Insert or update `c`. Its trigram index entry is brought in step by [`flush_search`] before
/// the transaction commits.
pub(super) fn save_call(conn: &Connection, c: &Call) -> Result<()> {
    // What the index has for the call, remembered once per transaction.
    conn.prepare_cached(
        "INSERT OR IGNORE INTO temp.search_pending (call_rowid, old_key, old_search)
         SELECT rowid, ringside_search_key(started_at, rowid), search FROM calls WHERE id = ?1",
    )?
    .execute([&c.id])?;
    let names = contact_names(c);
    let rowid: i64 = conn
        .prepare_cached(
            "INSERT INTO calls (id, started_at, updated_at, state, direction, from_num, to_num, answered_by, done, data, names, search)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ringside_search(?6, ?7, ?8, ?11))
             ON CONFLICT(id) DO UPDATE SET started_at = ?2, updated_at = ?3, state = ?4, direction = ?5,
                 from_num = ?6, to_num = ?7, answered_by = ?8, done = ?9, data = ?10, names = ?11,
                 search = ringside_search(?6, ?7, ?8, ?11)
             RETURNING rowid",
        )?
        .query_row(
            params![
                c.id,
                ts(c.started_at),
                ts(c.updated_at),
                c.state.as_str(),
                c.direction.as_str(),
                c.from,
                c.to,
                c.answered_by,
                c.done,
                serde_json::to_string(c)?,
                names,
            ],
            |r| r.get(0),
        )?;
    // A new call: the index has nothing for it.
    conn.prepare_cached("INSERT OR IGNORE INTO temp.search_pending (call_rowid) VALUES (?1)")?
        .execute([rowid])?;
    Ok(())
}

/// The names and companies of the contacts matched for `c`'s other party, space separated.
fn contact_names(c: &Call) -> Option<String> {
    let names: Vec<&str> = c
        .contacts
        .iter()
        .flat_map(|m| [Some(m.name.as_str()), m.company.as_deref()])
        .flatten()
        .filter(|n| !n.trim().is_empty())
        .collect();
    (!names.is_empty()).then(|| names.join(" "))
}

pub(super) fn insert_timeline(
    conn: &Connection,
    call_id: &str,
    at: &str,
    what: &str,
    detail: Option<&str>,
    event_seq: Option<i64>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO timeline (call_id, at, what, detail, event_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![call_id, at, what, detail, event_seq])?;
    Ok(())
}
