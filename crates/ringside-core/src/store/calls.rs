//! Calls and their timelines as stored: loading and saving one (with its change number and
//! who may see it), the short lists (open, missed), and the missed-call inbox's writes: done,
//! claims, a customer reached by a later call.

use super::search::{flush_search, keys_param, seen_by};
use super::{parse_ts, ts, Writer};
use crate::inbox::{self, Refused};
use crate::model::*;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// The most missed calls listed.
const MAX_MISSED: i64 = 1000;

impl Writer {
    /// Mark a missed call done (or not), by agent `by` (None: an admin or the local app).
    /// Returns the call as it is now, `None` if unknown.
    pub fn set_done(
        &mut self,
        id: &str,
        done: bool,
        by: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Call>> {
        self.change_call(id, now, |call| {
            if call.done == done {
                return Ok(None);
            }
            inbox::set_done(call, done, by, now);
            let what = if done { "done" } else { "undone" };
            Ok(Some((what, by.map(|b| format!("by {b}")))))
        })
        .map(|r| r.map(|(call, _)| call))
    }

    /// `who` claims missed call `id` for `hold` ("I am calling back"): one holder at a time,
    /// decided here, on the one writer. `None` if there is no such call.
    pub fn claim(
        &mut self,
        id: &str,
        who: &str,
        hold: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Result<Call, Refused>>> {
        self.try_change(id, now, |call| {
            inbox::claim(call, who, now, hold)?;
            Ok(("claimed", Some(format!("{who} is calling back"))))
        })
    }

    /// `who` (None: an admin or supervisor) lets go of the claim on `id`.
    pub fn release(
        &mut self,
        id: &str,
        who: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Result<Call, Refused>>> {
        self.try_change(id, now, |call| {
            let holder = inbox::holder(call, now).map(str::to_string);
            inbox::release(call, who, now)?;
            Ok(("released", holder.map(|h| format!("{h} let go"))))
        })
    }

    /// Clear every claim that lapsed by `now`, so everyone sees those calls free again.
    pub fn clear_lapsed_claims(&mut self, now: DateTime<Utc>) -> Result<Vec<Call>> {
        let tx = self.conn.transaction()?;
        let mut changed = Vec::new();
        for mut call in claimed(&tx)? {
            if !inbox::lapsed(&call, now) {
                continue;
            }
            let who = call.follow_up.claimed_by.take();
            call.follow_up.claimed_until = None;
            call.updated_at = now;
            save_call(&tx, &mut call)?;
            let detail = who.map(|w| format!("{w}'s claim lapsed"));
            insert_timeline(
                &tx,
                &call.id,
                &ts(now),
                "claim_lapsed",
                detail.as_deref(),
                None,
            )?;
            changed.push(call);
        }
        flush_search(&tx)?;
        tx.commit()?;
        Ok(changed)
    }

    /// Apply `f` to call `id` in one transaction; when it changes the call, save it with a
    /// timeline record `(what, detail)`. `None` if there is no such call.
    fn change_call(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        f: impl FnOnce(&mut Call) -> Result<Option<(&'static str, Option<String>)>>,
    ) -> Result<Option<(Call, bool)>> {
        let tx = self.conn.transaction()?;
        let Some(mut call) = load_call(&tx, id)? else {
            return Ok(None);
        };
        let changed = match f(&mut call)? {
            Some((what, detail)) => {
                call.updated_at = now;
                save_call(&tx, &mut call)?;
                insert_timeline(&tx, id, &ts(now), what, detail.as_deref(), None)?;
                true
            }
            None => false,
        };
        flush_search(&tx)?;
        tx.commit()?;
        Ok(Some((call, changed)))
    }

    /// [`Writer::change_call`] for a change the inbox may refuse (then nothing is written).
    fn try_change(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        f: impl FnOnce(&mut Call) -> Result<(&'static str, Option<String>), Refused>,
    ) -> Result<Option<Result<Call, Refused>>> {
        let mut refused = None;
        let changed = self.change_call(id, now, |call| match f(call) {
            Ok(record) => Ok(Some(record)),
            Err(r) => {
                refused = Some(r);
                Ok(None)
            }
        })?;
        Ok(changed.map(|(call, _)| match refused {
            Some(r) => Err(r),
            None => Ok(call),
        }))
    }
}

/// The missed calls still waiting from the customer `number` that `by` just reached, resolved
/// by it (in the transaction that stored `by`'s answer); returns them.
pub(super) fn resolve_missed(
    tx: &Connection,
    number: &str,
    by: &Call,
    now: DateTime<Utc>,
) -> Result<Vec<Call>> {
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM calls WHERE from_num = ?1 AND state = 'missed' AND done = 0 AND id != ?2",
        )?
        .query_map(params![number, by.id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut resolved = Vec::new();
    for id in ids {
        let Some(mut call) = load_call(tx, &id)? else {
            continue;
        };
        if !inbox::open(&call) || call.started_at > by.started_at {
            continue;
        }
        inbox::resolve(&mut call, by, now);
        call.updated_at = now;
        save_call(tx, &mut call)?;
        let detail = format!("reached by {}", by.id);
        insert_timeline(tx, &id, &ts(now), "resolved", Some(&detail), None)?;
        resolved.push(call);
    }
    Ok(resolved)
}

/// Missed calls somebody claimed (lapsed or not).
fn claimed(conn: &Connection) -> Result<Vec<Call>> {
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM calls WHERE state = 'missed' AND done = 0
           AND json_extract(data, '$.claimed_by') IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
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

pub(super) fn missed_ids(conn: &Connection, seen_by: Option<&[String]>) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT id FROM calls WHERE state = 'missed' AND done = 0 AND ",
        seen_by!("1")
    ))?;
    let rows = stmt.query_map([keys_param(seen_by)], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn missed(conn: &Connection, seen_by: Option<&[String]>) -> Result<Vec<Call>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT data FROM calls WHERE state = 'missed' AND done = 0 AND ",
        seen_by!("2"),
        " ORDER BY started_at DESC, id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map(params![MAX_MISSED, keys_param(seen_by)], |r| {
        r.get::<_, String>(0)
    })?;
    rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
}

pub(super) fn open(conn: &Connection) -> Result<Vec<Call>> {
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM calls WHERE state IN ('ringing', 'answered') ORDER BY started_at",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
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

/// Insert or update `c`, giving it the next change number (`c.seq`) and keeping who may see
/// it. Its trigram index entry is brought in step by [`flush_search`] before the transaction
/// commits.
pub(super) fn save_call(conn: &Connection, c: &mut Call) -> Result<()> {
    // What the index has for the call, remembered once per transaction.
    conn.prepare_cached(
        "INSERT OR IGNORE INTO temp.search_pending (call_rowid, old_key, old_search)
         SELECT rowid, ringside_search_key(started_at, rowid), search FROM calls WHERE id = ?1",
    )?
    .execute([&c.id])?;
    c.seq = conn
        .prepare_cached("SELECT coalesce(max(seq), 0) + 1 FROM calls")?
        .query_row([], |r| r.get(0))?;
    let names = contact_names(c);
    let rowid: i64 = conn
        .prepare_cached(
            "INSERT INTO calls (id, started_at, updated_at, state, direction, from_num, to_num, answered_by, done, data, names, search, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ringside_search(?6, ?7, ?8, ?11), ?12)
             ON CONFLICT(id) DO UPDATE SET started_at = ?2, updated_at = ?3, state = ?4, direction = ?5,
                 from_num = ?6, to_num = ?7, answered_by = ?8, done = ?9, data = ?10, names = ?11,
                 search = ringside_search(?6, ?7, ?8, ?11), seq = ?12
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
                c.seq as i64,
            ],
            |r| r.get(0),
        )?;
    // A new call: the index has nothing for it.
    conn.prepare_cached("INSERT OR IGNORE INTO temp.search_pending (call_rowid) VALUES (?1)")?
        .execute([rowid])?;
    conn.prepare_cached("DELETE FROM call_keys WHERE call_rowid = ?1")?
        .execute([rowid])?;
    let mut insert =
        conn.prepare_cached("INSERT OR IGNORE INTO call_keys (key, call_rowid) VALUES (?1, ?2)")?;
    for key in crate::me::call_keys(c) {
        insert.execute(params![key, rowid])?;
    }
    Ok(())
}

/// Calls changed after change `seq`, oldest change first, at most `limit`.
pub(super) fn changed_after(conn: &Connection, seq: u64, limit: usize) -> Result<Vec<Call>> {
    let mut stmt =
        conn.prepare_cached("SELECT data FROM calls WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = stmt.query_map(params![seq as i64, limit as i64], |r| r.get::<_, String>(0))?;
    rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
}

/// The last change number given out.
pub(super) fn last_seq(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM calls", [], |r| r.get(0))?;
    Ok(n as u64)
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
