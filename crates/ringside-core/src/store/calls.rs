//! Calls and their timelines as stored: loading and saving one, the short lists (open, missed),
//! marking a missed call done (by hand, or because the caller was reached since), wrap-ups, a
//! caller's earlier calls.

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

    /// Set (or clear, with `None`) what the agent noted after call `id`. Returns the call as
    /// it is now, `None` if unknown.
    pub fn set_wrapup(
        &mut self,
        id: &str,
        wrapup: Option<Wrapup>,
        now: DateTime<Utc>,
    ) -> Result<Option<Call>> {
        let tx = self.conn.transaction()?;
        let Some(mut call) = load_call(&tx, id)? else {
            return Ok(None);
        };
        if call.wrapup != wrapup {
            match &wrapup {
                Some(w) => tx.execute(
                    "INSERT INTO wrapups (call_id, data) VALUES (?1, ?2)
                     ON CONFLICT(call_id) DO UPDATE SET data = ?2",
                    params![id, serde_json::to_string(w)?],
                )?,
                None => tx.execute("DELETE FROM wrapups WHERE call_id = ?1", [id])?,
            };
            let detail = wrapup.as_ref().map(|w| {
                [w.disposition.as_deref(), Some(w.note.as_str())]
                    .into_iter()
                    .flatten()
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
                    .join(": ")
            });
            call.wrapup = wrapup;
            call.updated_at = now;
            save_call(&tx, &call)?;
            insert_timeline(&tx, id, &ts(now), "wrapup", detail.as_deref(), None)?;
        }
        flush_search(&tx)?;
        tx.commit()?;
        Ok(Some(call))
    }

    /// Mark done every missed call from `number` not done yet: the agent called it back
    /// (`detail` says so on their timelines). Returns the calls marked.
    pub fn called_back(
        &mut self,
        number: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Call>> {
        let tx = self.conn.transaction()?;
        let marked = resolve_called_back(&tx, number, detail, now)?;
        flush_search(&tx)?;
        tx.commit()?;
        Ok(marked)
    }
}

/// Mark done the missed calls from `number` that started before `before` (strictly; at or
/// before with `inclusive`) and are not done yet, with `detail` on their timelines at `at`:
/// the caller was reached since. A withheld number reaches nobody. Returns the calls marked.
fn resolve_missed(
    tx: &Connection,
    number: &str,
    before: DateTime<Utc>,
    inclusive: bool,
    detail: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Call>> {
    if crate::phone::is_withheld(number) {
        return Ok(Vec::new());
    }
    let mut stmt = tx.prepare_cached(
        "SELECT data FROM calls WHERE from_num = ?1 AND state = 'missed' AND done = 0
         AND direction = 'inbound' AND (started_at < ?2 OR (?3 AND started_at = ?2))",
    )?;
    let calls = stmt
        .query_map(params![number, ts(before), inclusive], |r| {
            r.get::<_, String>(0)
        })?
        .map(|r| Ok(serde_json::from_str::<Call>(&r?)?))
        .collect::<Result<Vec<_>>>()?;
    let mut marked = Vec::new();
    for mut c in calls {
        c.done = true;
        c.updated_at = now;
        save_call(tx, &c)?;
        insert_timeline(tx, &c.id, &ts(at), "done", Some(detail), None)?;
        marked.push(c);
    }
    Ok(marked)
}

/// Mark done every missed call from `number` up to `now`: the agent called it back.
fn resolve_called_back(
    tx: &Connection,
    number: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Call>> {
    resolve_missed(tx, number, now, true, detail, now, now)
}

/// The one rule of when a missed call is dealt with without the agent marking it: its caller
/// was reached by a call that started after it and was answered (they rang again and got
/// through, or the agent reached them). Carried out whichever of the two calls is stored
/// last, so the outcome does not depend on the order they arrive in; calls that started at
/// the same moment settle nothing (which came first is not known). The timeline says so at
/// the time the later call was answered.
///
/// `call` is about to be saved, `before` is how it was: newly missed, it is marked done
/// (here) when such a later call exists; newly answered, the earlier missed calls from its
/// other party are marked done and returned.
pub(super) fn settle(
    tx: &Connection,
    before: Option<&Call>,
    call: &mut Call,
    now: DateTime<Utc>,
) -> Result<Vec<Call>> {
    let Some(number) = crate::links::other_party(call)
        .filter(|n| !crate::phone::is_withheld(n))
        .map(str::to_string)
    else {
        return Ok(Vec::new());
    };
    let was = |f: fn(&Call) -> bool| before.is_some_and(f);
    if call.state == CallState::Missed && !call.done && !was(|b| b.state == CallState::Missed) {
        if let Some((at, detail)) = reached_after(tx, &number, call.started_at)? {
            call.done = true;
            insert_timeline(tx, &call.id, &ts(at), "done", Some(&detail), None)?;
        }
        return Ok(Vec::new());
    }
    let Some(answered_at) = call
        .answered_at
        .filter(|_| !was(|b| b.answered_at.is_some()))
    else {
        return Ok(Vec::new());
    };
    let detail = reached_detail(call.direction, call.answered_by.as_deref());
    let marked = resolve_missed(
        tx,
        &number,
        call.started_at,
        false,
        &detail,
        answered_at,
        now,
    )?;
    Ok(marked.into_iter().filter(|c| c.id != call.id).collect())
}

/// When and how `number` was first reached by a call that started after `started`, if it was.
fn reached_after(
    tx: &Connection,
    number: &str,
    started: DateTime<Utc>,
) -> Result<Option<(DateTime<Utc>, String)>> {
    let found: Option<String> = tx
        .prepare_cached(
            "SELECT data FROM calls
             WHERE ((from_num = ?1 AND direction = 'inbound') OR (to_num = ?1 AND direction = 'outbound'))
               AND started_at > ?2 AND json_extract(data, '$.answered_at') IS NOT NULL
             ORDER BY started_at LIMIT 1",
        )?
        .query_row(params![number, ts(started)], |r| r.get(0))
        .optional()?;
    let Some(data) = found else {
        return Ok(None);
    };
    let later: Call = serde_json::from_str(&data)?;
    Ok(later.answered_at.map(|at| {
        (
            at,
            reached_detail(later.direction, later.answered_by.as_deref()),
        )
    }))
}

fn reached_detail(direction: Direction, answered_by: Option<&str>) -> String {
    match (direction, answered_by) {
        (Direction::Outbound, _) => "reached by a later call".to_string(),
        (Direction::Inbound, Some(by)) => format!("called again, answered by {by}"),
        (Direction::Inbound, None) => "called again, answered".to_string(),
    }
}

/// The wrap-ups kept apart from the journal, by call id.
pub(super) fn wrapups(conn: &Connection) -> Result<Vec<(String, Wrapup)>> {
    let mut stmt = conn.prepare("SELECT call_id, data FROM wrapups")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    rows.map(|r| {
        let (id, data) = r?;
        Ok((id, serde_json::from_str(&data)?))
    })
    .collect()
}

/// What Ringside knows of `number` as a call's other party: how many calls it had that
/// started before `before`, the newest `limit` of those, and how many of its missed calls are
/// not done (whenever they were).
pub(super) fn party(
    conn: &Connection,
    number: &str,
    before: DateTime<Utc>,
    limit: usize,
) -> Result<Party> {
    let before = ts(before);
    let count: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM calls WHERE (from_num = ?1 OR to_num = ?1) AND started_at < ?2",
        )?
        .query_row(params![number, before], |r| r.get(0))?;
    let open_missed: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM calls WHERE from_num = ?1 AND state = 'missed' AND done = 0",
        )?
        .query_row([number], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM calls WHERE (from_num = ?1 OR to_num = ?1) AND started_at < ?2
         ORDER BY started_at DESC, id DESC LIMIT ?3",
    )?;
    let calls = stmt
        .query_map(params![number, before, limit as i64], |r| {
            r.get::<_, String>(0)
        })?
        .map(|r| Ok(serde_json::from_str(&r?)?))
        .collect::<Result<Vec<Call>>>()?;
    Ok(Party {
        calls: count as u64,
        open_missed: open_missed as u64,
        newest: calls,
    })
}

/// A number's calls, as [`party`] finds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    pub calls: u64,
    pub open_missed: u64,
    /// Newest first.
    pub newest: Vec<Call>,
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
    let notes = c.wrapup.as_ref().map(|w| {
        [w.disposition.as_deref().unwrap_or(""), w.note.as_str()]
            .join("\n")
            .trim()
            .to_string()
    });
    let rowid: i64 = conn
        .prepare_cached(
            "INSERT INTO calls (id, started_at, updated_at, state, direction, from_num, to_num, answered_by, done, data, names, notes, search)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                     ringside_search(?6, ?7, ?8, nullif(concat_ws(char(10), ?11, ?12), '')))
             ON CONFLICT(id) DO UPDATE SET started_at = ?2, updated_at = ?3, state = ?4, direction = ?5,
                 from_num = ?6, to_num = ?7, answered_by = ?8, done = ?9, data = ?10, names = ?11,
                 notes = ?12, search = ringside_search(?6, ?7, ?8, nullif(concat_ws(char(10), ?11, ?12), ''))
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
                notes,
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
