//! Calls and their timelines as stored: loading and saving one (with its change number and
//! who may see it), the short lists (open, missed), the missed-call inbox's writes (done,
//! claims, a caller reached since), wrap-ups, a caller's earlier calls.

use super::search::{flush_search, keys_param, seen_by};
use super::{outbox, parse_ts, ts, Writer};
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
                if what == "done" && call.state == CallState::Missed {
                    outbox::enqueue(&tx, &self.outbox, "missed.done", &call, now)?;
                }
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
            save_call(&tx, &mut call)?;
            insert_timeline(&tx, id, &ts(now), "wrapup", detail.as_deref(), None)?;
            if call.wrapup.is_some() {
                outbox::enqueue(&tx, &self.outbox, "call.wrapup", &call, now)?;
            }
        }
        flush_search(&tx)?;
        tx.commit()?;
        Ok(Some(call))
    }

    /// Mark done every missed call from `number` not done yet: agent `by` (None: the admin or
    /// the local app) called it back (`detail` says so on their timelines). Returns the calls
    /// marked.
    pub fn called_back(
        &mut self,
        number: &str,
        detail: &str,
        by: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Call>> {
        let tx = self.conn.transaction()?;
        let how = Reached {
            call: None,
            agent: by.map(str::to_string),
            detail: detail.to_string(),
            at: now,
        };
        let marked = resolve_missed(&tx, number, now, true, &how, now)?;
        for c in &marked {
            outbox::enqueue(&tx, &self.outbox, "missed.done", c, now)?;
        }
        flush_search(&tx)?;
        tx.commit()?;
        Ok(marked)
    }
}

/// How a caller was reached: by which later call (if by a call Ringside saw), by whom, when,
/// and what the missed calls' timelines say.
struct Reached {
    call: Option<String>,
    agent: Option<String>,
    detail: String,
    at: DateTime<Utc>,
}

/// Mark done the missed calls from `number` that started before `before` (strictly; at or
/// before with `inclusive`) and are not done yet, as `how` says: the caller was reached since.
/// A withheld number reaches nobody. Returns the calls marked.
fn resolve_missed(
    tx: &Connection,
    number: &str,
    before: DateTime<Utc>,
    inclusive: bool,
    how: &Reached,
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
        inbox::resolve(&mut c, how.call.as_deref(), how.agent.as_deref(), how.at);
        c.updated_at = now;
        save_call(tx, &mut c)?;
        insert_timeline(tx, &c.id, &ts(how.at), "done", Some(&how.detail), None)?;
        marked.push(c);
    }
    Ok(marked)
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
        if let Some(how) = reached_after(tx, &number, call.started_at)? {
            inbox::resolve(call, how.call.as_deref(), how.agent.as_deref(), how.at);
            insert_timeline(tx, &call.id, &ts(how.at), "done", Some(&how.detail), None)?;
        }
        return Ok(Vec::new());
    }
    let Some(answered_at) = call
        .answered_at
        .filter(|_| !was(|b| b.answered_at.is_some()))
    else {
        return Ok(Vec::new());
    };
    let how = Reached {
        call: Some(call.id.clone()),
        agent: call.answered_by.clone(),
        detail: reached_detail(call.direction, call.answered_by.as_deref()),
        at: answered_at,
    };
    let marked = resolve_missed(tx, &number, call.started_at, false, &how, now)?;
    Ok(marked.into_iter().filter(|c| c.id != call.id).collect())
}

/// When and how `number` was first reached by a call that started after `started`, if it was.
fn reached_after(tx: &Connection, number: &str, started: DateTime<Utc>) -> Result<Option<Reached>> {
    // The first answered call in each direction (each a seek in its partial index, however
    // many calls the number has: a busy switchboard's calls would else be read at every
    // missed call), then the earlier of the two.
    let mut first = None;
    for (party, direction) in [("from_num", "inbound"), ("to_num", "outbound")] {
        let found: Option<(String, String)> = tx
            .prepare_cached(&format!(
                "SELECT started_at, data FROM calls
                 WHERE {party} = ?1 AND direction = '{direction}'
                   AND json_extract(data, '$.answered_at') IS NOT NULL AND started_at > ?2
                 ORDER BY started_at LIMIT 1"
            ))?
            .query_row(params![number, ts(started)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        first = first.into_iter().chain(found).min();
    }
    let Some((_, data)) = first else {
        return Ok(None);
    };
    let later: Call = serde_json::from_str(&data)?;
    Ok(later.answered_at.map(|at| Reached {
        detail: reached_detail(later.direction, later.answered_by.as_deref()),
        call: Some(later.id.clone()),
        agent: later.answered_by.clone(),
        at,
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

/// Missed calls somebody claimed (lapsed or not).
pub(super) fn claimed(conn: &Connection) -> Result<Vec<Call>> {
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

/// At most `limit` open calls due to end by `now` ([`correlate::timeout`]: silent longer than
/// `limits` allow, a call its provider will say no more about after `quiet_s`). Read on a
/// reader: the writer looks at each again before it ends it. The partial index `calls_open`
/// holds the open calls only; SQLite uses a partial index only when the query repeats its
/// condition word for word (it cannot tell that the two `OR`ed states imply it), hence the
/// `IN` term.
pub(super) fn stale(
    conn: &Connection,
    now: DateTime<Utc>,
    limits: &crate::correlate::Timeouts,
    limit: usize,
) -> Result<Vec<Call>> {
    let before = |s: u64| now - chrono::Duration::seconds(s.min(i64::MAX as u64 / 1000) as i64);
    // Every open call silent for at least the shortest limit that may apply to it; the rule
    // itself (which limit a call has) is `correlate::timeout`'s.
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM calls INDEXED BY calls_open
         WHERE state IN ('ringing', 'answered')
           AND ((state = 'ringing' AND updated_at <= ?1) OR (state = 'answered' AND updated_at <= ?2))",
    )?;
    let mut rows = stmt.query(params![
        ts(before(limits.ringing_s.min(limits.quiet_s))),
        ts(before(limits.answered_s.min(limits.quiet_s))),
    ])?;
    let mut due = Vec::new();
    while due.len() < limit {
        let Some(row) = rows.next()? else { break };
        let call: Call = serde_json::from_str(&row.get::<_, String>(0)?)?;
        if crate::correlate::timeout(&call, now, limits).is_some() {
            due.push(call);
        }
    }
    Ok(due)
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
    let notes = c.wrapup.as_ref().map(|w| {
        [w.disposition.as_deref().unwrap_or(""), w.note.as_str()]
            .join("\n")
            .trim()
            .to_string()
    });
    let rowid: i64 = conn
        .prepare_cached(
            "INSERT INTO calls (id, started_at, updated_at, state, direction, from_num, to_num, answered_by, done, data, names, notes, search, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                     ringside_search(?6, ?7, ?8, nullif(concat_ws(char(10), ?11, ?12), '')), ?13)
             ON CONFLICT(id) DO UPDATE SET started_at = ?2, updated_at = ?3, state = ?4, direction = ?5,
                 from_num = ?6, to_num = ?7, answered_by = ?8, done = ?9, data = ?10, names = ?11,
                 notes = ?12, search = ringside_search(?6, ?7, ?8, nullif(concat_ws(char(10), ?11, ?12), '')),
                 seq = ?13
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
