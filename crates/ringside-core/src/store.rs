//! The durable store: one SQLite file (WAL) holding the raw event journal, the calls folded
//! from it and their timelines.
//!
//! A batch of deliveries is one transaction: each delivery's journal row, the calls it changes
//! and their timeline records commit together, so calls are always consistent with the journal
//! and [`Store::rebuild`] can fold the journal again from scratch. `synchronous=FULL` makes a
//! commit durable before it returns; batching many deliveries into one commit (see
//! [`crate::engine`]) keeps that affordable.

use crate::contacts::{self, LookupSettings};
use crate::correlate;
use crate::model::*;
use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS journal (
    seq          INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    dedupe_key   TEXT NOT NULL UNIQUE,
    received_at  TEXT NOT NULL,
    content_type TEXT,
    raw          BLOB NOT NULL,
    events       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    id          TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    state       TEXT NOT NULL,
    direction   TEXT NOT NULL,
    from_num    TEXT,
    to_num      TEXT,
    answered_by TEXT,
    done        INTEGER NOT NULL DEFAULT 0,
    data        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_by_start ON calls(started_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS calls_open ON calls(state) WHERE state IN ('ringing', 'answered');
CREATE INDEX IF NOT EXISTS calls_missed ON calls(started_at DESC) WHERE state = 'missed' AND done = 0;
CREATE TABLE IF NOT EXISTS timeline (
    id        INTEGER PRIMARY KEY,
    call_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    what      TEXT NOT NULL,
    detail    TEXT,
    event_seq INTEGER
);
CREATE INDEX IF NOT EXISTS timeline_by_call ON timeline(call_id, id);
-- A call's deliveries, to fold them again in order when one arrives out of order. Every
-- delivery holds the events of one call (see `store_one`).
CREATE INDEX IF NOT EXISTS journal_by_call ON journal(json_extract(events, '$[0].provider_call_id'));
PRAGMA user_version = 1;
"#;

/// One delivery to journal: the raw request and what its adapter made of it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The provider (or `ringside` for Ringside's own events).
    pub source: Provider,
    /// Unique per real event: the provider's delivery id, or a hash of the raw request.
    pub dedupe_key: String,
    pub received_at: DateTime<Utc>,
    pub content_type: Option<String>,
    pub raw: Vec<u8>,
    pub events: Vec<CallEvent>,
}

/// What storing one delivery did.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// Journaled as `seq`; `calls` are the calls it changed, as they are now.
    New { seq: i64, calls: Vec<Call> },
    /// The same event was stored before; nothing changed.
    Duplicate,
}

/// Which calls to list.
#[derive(Debug, Clone, Default)]
pub struct CallQuery {
    /// At most this many (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Only calls older than this one in the newest-first order (paging cursor: the last
    /// call's `started_at` and `id`; without an id, calls that started before the time).
    pub before: Option<DateTime<Utc>>,
    pub before_id: Option<String>,
    /// Only calls in this state.
    pub state: Option<CallState>,
    pub direction: Option<Direction>,
    /// Only calls that started at or after / before these times.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Text to find in the numbers or who answered; a number matches whatever its punctuation.
    pub q: Option<String>,
}

pub struct Store {
    pub(crate) conn: Connection,
    /// How calls find contacts (see [`crate::contacts`]).
    pub(crate) lookup: LookupSettings,
    /// The journaled events of recently seen calls, so the writer can tell whether an event
    /// comes in order without reading the journal back.
    histories: Histories,
}

/// Calls' journaled events, in arrival order, as committed; and what the batch being written
/// adds. Only a cache: a call not in it is read from the journal. Bounded: cleared when
/// [`Histories::MAX_CALLS`] are held.
#[derive(Default)]
struct Histories {
    committed: std::collections::HashMap<String, Vec<correlate::Journaled>>,
    /// Calls the current batch changed (their whole history), kept once the batch commits.
    batch: std::collections::HashMap<String, Vec<correlate::Journaled>>,
    /// What the delivery being stored changed, kept once its savepoint is released.
    delivery: Vec<(String, Vec<correlate::Journaled>)>,
}

impl Histories {
    const MAX_CALLS: usize = 1024;

    /// The history of call `id` known before the delivery being stored, if cached.
    fn get(&self, id: &str) -> Option<&Vec<correlate::Journaled>> {
        self.batch.get(id).or_else(|| self.committed.get(id))
    }

    /// The delivery being stored left call `id` with `history`.
    fn stage(&mut self, id: &str, history: Vec<correlate::Journaled>) {
        self.delivery.push((id.to_string(), history));
    }

    fn delivery_stored(&mut self) {
        for (id, history) in self.delivery.drain(..) {
            self.batch.insert(id, history);
        }
    }

    fn delivery_rolled_back(&mut self) {
        self.delivery.clear();
    }

    fn batch_committed(&mut self) {
        if self.committed.len() + self.batch.len() > Self::MAX_CALLS {
            self.committed.clear();
        }
        self.committed.extend(self.batch.drain());
    }

    fn forget(&mut self) {
        *self = Histories::default();
    }
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl Store {
    /// Open (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating data directory {}", dir.display()))?;
        }
        let conn =
            Connection::open(path).with_context(|| format!("opening store {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)
            .and_then(|()| conn.execute_batch(contacts::SCHEMA))
            .with_context(|| format!("creating schema in {}", path.display()))?;
        Ok(Store {
            conn,
            lookup: LookupSettings::default(),
            histories: Histories::default(),
        })
    }

    /// A second connection to the same file for reading while the writer writes (WAL).
    pub fn open_reader(path: &Path) -> Result<Store> {
        let conn =
            Connection::open(path).with_context(|| format!("opening store {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(Store {
            conn,
            lookup: LookupSettings::default(),
            histories: Histories::default(),
        })
    }

    /// Store `deliveries` in one transaction (one fsync). Each delivery is journaled and folded
    /// into its calls; a duplicate stores nothing. A delivery that fails is rolled back alone.
    /// Ringside's clock for each delivery is its `received_at`.
    pub fn store_batch(&mut self, deliveries: &[Delivery]) -> Result<Vec<Result<Stored>>> {
        let result = store_all(
            &mut self.conn,
            &mut self.histories,
            &self.lookup,
            deliveries,
        );
        match result {
            Ok(_) => self.histories.batch_committed(),
            Err(_) => self.histories.forget(),
        }
        result
    }

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
            tx.execute(
                "INSERT INTO timeline (call_id, at, what, detail, event_seq) VALUES (?1, ?2, ?3, NULL, NULL)",
                params![id, ts(now), if done { "done" } else { "undone" }],
            )?;
        }
        tx.commit()?;
        Ok(Some(call))
    }

    pub fn call(&self, id: &str) -> Result<Option<CallWithTimeline>> {
        let Some(call) = load_call(&self.conn, id)? else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
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

    /// Calls, newest first.
    pub fn calls(&self, q: &CallQuery) -> Result<Vec<Call>> {
        let limit = q.limit.unwrap_or(100).min(1000) as i64;
        let before = q.before.map(ts).unwrap_or_else(|| "9999".into());
        let pattern = q.q.as_deref().map(search_pattern);
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM calls
             WHERE (started_at < ?1 OR (started_at = ?1 AND ?4 IS NOT NULL AND id < ?4))
               AND (?2 IS NULL OR state = ?2)
               AND (?5 IS NULL OR direction = ?5)
               AND (?6 IS NULL OR started_at >= ?6)
               AND (?7 IS NULL OR started_at < ?7)
               AND (?8 IS NULL OR from_num LIKE ?8 ESCAPE '\\' OR to_num LIKE ?8 ESCAPE '\\'
                    OR answered_by LIKE ?8 ESCAPE '\\')
             ORDER BY started_at DESC, id DESC LIMIT ?3",
        )?;
        let direction = q.direction.map(|d| match d {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        });
        let rows = stmt.query_map(
            params![
                before,
                q.state.map(|s| s.as_str()),
                limit,
                q.before_id,
                direction,
                q.since.map(ts),
                q.until.map(ts),
                pattern
            ],
            |r| r.get::<_, String>(0),
        )?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Every missed call not yet done (for "mark all done").
    pub fn missed_ids(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM calls WHERE state = 'missed' AND done = 0")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Missed calls not yet marked done, newest first.
    pub fn missed(&self) -> Result<Vec<Call>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM calls WHERE state = 'missed' AND done = 0 ORDER BY started_at DESC, id DESC LIMIT 1000",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Calls still ringing or answered.
    pub fn open_calls(&self) -> Result<Vec<Call>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM calls WHERE state IN ('ringing', 'answered') ORDER BY started_at",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// How many deliveries the journal holds.
    pub fn journal_len(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM journal", [], |r| r.get(0))?)
    }

    /// Fold the whole journal again into calls and timelines, from scratch, keeping which
    /// missed calls were marked done. Returns how many calls there are.
    pub fn rebuild(&mut self, now: DateTime<Utc>) -> Result<usize> {
        self.histories.forget();
        let mut histories = Histories::default();
        let tx = self.conn.transaction()?;
        let done: Vec<String> = {
            let mut s = tx.prepare("SELECT id FROM calls WHERE done = 1")?;
            let rows = s.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        // What the CRM said about calls is not in the journal: keep it.
        let remote: Vec<(String, Vec<ContactMatch>)> = {
            let mut s = tx.prepare("SELECT data FROM calls WHERE data LIKE '%\"key\":\"crm:%'")?;
            let rows = s.query_map([], |r| r.get::<_, String>(0))?;
            let mut v = Vec::new();
            for r in rows {
                let c: Call = serde_json::from_str(&r?)?;
                let kept: Vec<ContactMatch> = c
                    .contacts
                    .into_iter()
                    .filter(|m| !m.key.starts_with("contact:"))
                    .collect();
                v.push((c.id, kept));
            }
            v
        };
        tx.execute_batch("DELETE FROM calls; DELETE FROM timeline;")?;
        {
            let mut s = tx.prepare("SELECT seq, received_at, events FROM journal ORDER BY seq")?;
            let mut rows = s.query([])?;
            while let Some(r) = rows.next()? {
                let seq: i64 = r.get(0)?;
                let received_at = parse_ts(&r.get::<_, String>(1)?)?;
                let events: Vec<CallEvent> = serde_json::from_str(&r.get::<_, String>(2)?)?;
                fold(&tx, &events, seq, received_at, &mut histories, &self.lookup)?;
                histories.delivery_stored();
                histories.batch_committed();
            }
        }
        for (id, kept) in remote {
            if let Some(mut c) = load_call(&tx, &id)? {
                c.contacts.extend(kept);
                self.lookup.sort(&mut c.contacts);
                save_call(&tx, &c)?;
            }
        }
        for id in &done {
            tx.execute("UPDATE calls SET done = 1 WHERE id = ?1", [id])?;
            if let Some(mut c) = load_call(&tx, id)? {
                c.done = true;
                save_call(&tx, &c)?;
            }
        }
        let n: i64 = tx.query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))?;
        tx.commit()?;
        let _ = now;
        Ok(n as usize)
    }
}

fn store_all(
    conn: &mut Connection,
    histories: &mut Histories,
    lookup: &LookupSettings,
    deliveries: &[Delivery],
) -> Result<Vec<Result<Stored>>> {
    let mut tx = conn.transaction()?;
    let mut out = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let sp = tx.savepoint()?;
        match store_one(&sp, d, histories, lookup) {
            Ok(stored) => {
                sp.commit()?;
                histories.delivery_stored();
                out.push(Ok(stored));
            }
            Err(e) => {
                drop(sp); // rolls back this delivery only
                histories.delivery_rolled_back();
                out.push(Err(e));
            }
        }
    }
    tx.commit().context("committing batch")?;
    Ok(out)
}

fn store_one(
    tx: &Connection,
    d: &Delivery,
    histories: &mut Histories,
    lookup: &LookupSettings,
) -> Result<Stored> {
    if let Some(first) = d.events.first() {
        anyhow::ensure!(
            d.events.iter().all(|e| same_call(e, first)),
            "a delivery holds the events of one call; this one names several"
        );
    }
    let events = serde_json::to_string(&d.events)?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO journal (source, dedupe_key, received_at, content_type, raw, events)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            d.source.as_str(),
            d.dedupe_key,
            ts(d.received_at),
            d.content_type,
            d.raw,
            events
        ],
    )?;
    if inserted == 0 {
        return Ok(Stored::Duplicate);
    }
    let seq = tx.last_insert_rowid();
    // As the journal keeps it (microseconds), so `rebuild` folds with the very same clock.
    let received_at = d.received_at.trunc_subsecs(6);
    let calls = fold(tx, &d.events, seq, received_at, histories, lookup)?;
    Ok(Stored::New { seq, calls })
}

/// Apply `events` (journal row `seq`, all of one call) to their call; returns the call if it
/// changed.
///
/// In the usual case the events come after everything the call has seen and are applied to
/// it. When they belong earlier (see [`correlate::arrange`]: a hangup arrived before the
/// answer, a retry came late), the call is folded again from its journaled events in the
/// order they happened and its timeline rewritten, so what a call becomes does not depend on
/// the order its events arrived in. `Store::rebuild` takes the same path, so it gives the same
/// calls.
fn fold(
    tx: &Connection,
    events: &[CallEvent],
    seq: i64,
    now: DateTime<Utc>,
    histories: &mut Histories,
    lookup: &LookupSettings,
) -> Result<Vec<Call>> {
    let Some(first) = events.first() else {
        return Ok(Vec::new());
    };
    if !events.iter().all(|e| same_call(e, first)) {
        // Only a journal from before deliveries were checked could hold this: apply each
        // event to its own call as it comes.
        let mut changed: Vec<Call> = Vec::new();
        histories.forget();
        for ev in events {
            let id = call_id(ev.provider, &ev.provider_call_id);
            let prev = load_call(tx, &id)?;
            for c in apply_in_order(tx, &id, prev, std::slice::from_ref(ev), seq, now, lookup)? {
                changed.retain(|x| x.id != c.id);
                changed.push(c);
            }
        }
        return Ok(changed);
    }
    let id = call_id(first.provider, &first.provider_call_id);
    let prev = load_call(tx, &id)?;
    let arrived = events.iter().map(|e| correlate::Journaled {
        seq,
        received_at: now,
        event: e.clone(),
    });
    let history = match (&prev, histories.get(&id)) {
        (None, _) => arrived.collect(),
        (Some(_), Some(known)) => known.iter().cloned().chain(arrived).collect(),
        (Some(_), None) => call_history(tx, first, seq)?,
    };
    let earlier = history.len().saturating_sub(events.len());
    if prev.is_none() || correlate::comes_last(&history, earlier, now) {
        histories.stage(&id, history);
        return apply_in_order(tx, &id, prev, events, seq, now, lookup);
    }
    let steps = correlate::arrange(&history);
    let Some((mut call, timeline)) = correlate::fold(&history, &steps) else {
        return Ok(Vec::new());
    };
    histories.stage(&id, history);
    let prev = prev.expect("out of order means the call exists");
    call.done = prev.done;
    call.updated_at = prev.updated_at;
    // Who the caller is was worked out on the call as it was; it holds unless a number changed.
    call.from_display = prev.from_display.clone();
    call.to_display = prev.to_display.clone();
    call.contacts = prev.contacts.clone();
    contacts::store::decorate(tx, Some(&prev), &mut call, lookup)?;
    let changed = call != prev;
    if changed {
        call.updated_at = now;
        save_call(tx, &call)?;
    }
    // Ringside's own records (marked done) are kept after the call's.
    let own: Vec<(String, String, Option<String>)> = tx
        .prepare_cached(
            "SELECT at, what, detail FROM timeline WHERE call_id = ?1 AND event_seq IS NULL ORDER BY id",
        )?
        .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    tx.execute("DELETE FROM timeline WHERE call_id = ?1", [&id])?;
    for e in &timeline {
        insert_timeline(
            tx,
            &id,
            &ts(e.at),
            &e.what,
            e.detail.as_deref(),
            e.event_seq,
        )?;
    }
    for (at, what, detail) in &own {
        insert_timeline(tx, &id, at, what, detail.as_deref(), None)?;
    }
    Ok(if changed { vec![call] } else { Vec::new() })
}

/// Apply `events` one after the other to `prev`, recording what they did.
fn apply_in_order(
    tx: &Connection,
    id: &str,
    mut call: Option<Call>,
    events: &[CallEvent],
    seq: i64,
    now: DateTime<Utc>,
    lookup: &LookupSettings,
) -> Result<Vec<Call>> {
    let before = call.clone();
    let mut changed = false;
    for ev in events {
        let applied = correlate::apply(call, ev, Some(seq), now);
        for e in &applied.timeline {
            insert_timeline(tx, id, &ts(e.at), &e.what, e.detail.as_deref(), e.event_seq)?;
        }
        changed |= applied.changed;
        call = Some(applied.call);
    }
    match call {
        Some(mut c) if changed => {
            contacts::store::decorate(tx, before.as_ref(), &mut c, lookup)?;
            save_call(tx, &c)?;
            Ok(vec![c])
        }
        _ => Ok(Vec::new()),
    }
}

/// The events of `ev`'s call journaled up to and including row `upto`, in arrival order.
fn call_history(tx: &Connection, ev: &CallEvent, upto: i64) -> Result<Vec<correlate::Journaled>> {
    let mut stmt = tx.prepare_cached(
        "SELECT seq, received_at, events FROM journal
         WHERE json_extract(events, '$[0].provider_call_id') = ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let mut rows = stmt.query(params![ev.provider_call_id, upto])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let received_at = parse_ts(&r.get::<_, String>(1)?)?;
        let events: Vec<CallEvent> = serde_json::from_str(&r.get::<_, String>(2)?)?;
        out.extend(
            events
                .into_iter()
                .filter(|e| e.provider == ev.provider)
                .map(|event| correlate::Journaled {
                    seq,
                    received_at,
                    event,
                }),
        );
    }
    Ok(out)
}

fn same_call(a: &CallEvent, b: &CallEvent) -> bool {
    a.provider == b.provider && a.provider_call_id == b.provider_call_id
}

fn insert_timeline(
    tx: &Connection,
    call_id: &str,
    at: &str,
    what: &str,
    detail: Option<&str>,
    event_seq: Option<i64>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO timeline (call_id, at, what, detail, event_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![call_id, at, what, detail, event_seq])?;
    Ok(())
}

pub(crate) fn load_call(conn: &Connection, id: &str) -> Result<Option<Call>> {
    let data: Option<String> = conn
        .prepare_cached("SELECT data FROM calls WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    data.map(|d| serde_json::from_str(&d).context("decoding stored call"))
        .transpose()
}

pub(crate) fn save_call(conn: &Connection, c: &Call) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO calls (id, started_at, updated_at, state, direction, from_num, to_num, answered_by, done, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(id) DO UPDATE SET started_at = ?2, updated_at = ?3, state = ?4, direction = ?5,
             from_num = ?6, to_num = ?7, answered_by = ?8, done = ?9, data = ?10",
    )?
    .execute(params![
        c.id,
        ts(c.started_at),
        ts(c.updated_at),
        c.state.as_str(),
        match c.direction {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        },
        c.from,
        c.to,
        c.answered_by,
        c.done,
        serde_json::to_string(c)?
    ])?;
    Ok(())
}

/// A LIKE pattern for a search: a number is matched by its digits whatever the punctuation
/// typed ("(415) 555-01" finds "+14155550123"); other text as typed. Wildcards are escaped.
fn search_pattern(q: &str) -> String {
    let q = q.trim();
    let looks_like_number = q.chars().any(|c| c.is_ascii_digit())
        && q.chars()
            .all(|c| c.is_ascii_digit() || " +-().//".contains(c));
    let needle: String = if looks_like_number {
        q.chars().filter(char::is_ascii_digit).collect()
    } else {
        q.to_string()
    };
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(s)
        .with_context(|| format!("bad stored timestamp {s}"))?
        .with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn delivery(key: &str, kind: EventKind, at: i64) -> Delivery {
        Delivery {
            source: Provider::Generic,
            dedupe_key: key.into(),
            received_at: t(at),
            content_type: None,
            raw: key.as_bytes().to_vec(),
            events: vec![CallEvent::new(Provider::Generic, "x1", kind).at(Some(t(at)))],
        }
    }

    #[test]
    fn batch_journals_folds_dedupes_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ringside.db");
        {
            let mut s = Store::open(&path).unwrap();
            let out = s
                .store_batch(&[
                    delivery(
                        "a",
                        EventKind::Ringing {
                            agent: Some("201".into()),
                        },
                        0,
                    ),
                    delivery("b", EventKind::Answered { by: None }, 3),
                    delivery(
                        "a",
                        EventKind::Ringing {
                            agent: Some("201".into()),
                        },
                        0,
                    ),
                ])
                .unwrap();
            assert!(matches!(out[0], Ok(Stored::New { seq: 1, .. })));
            assert!(matches!(out[2], Ok(Stored::Duplicate)));
        }
        let mut s = Store::open(&path).unwrap();
        let end = delivery(
            "c",
            EventKind::Ended {
                answered: None,
                reason: EndReason::Completed,
                duration_s: None,
            },
            10,
        );
        s.store_batch(&[end]).unwrap();
        let c = s.call("generic:x1").unwrap().unwrap();
        assert_eq!(c.call.state, CallState::Ended);
        assert_eq!(c.call.answered_by.as_deref(), Some("201"));
        let whats: Vec<_> = c.timeline.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(whats, ["ringing", "leg_ringing", "answered", "ended"]);
        assert_eq!(s.journal_len().unwrap(), 3);

        // Rebuilding from the journal gives the same call.
        let before = s.call("generic:x1").unwrap().unwrap();
        assert_eq!(s.rebuild(t(20)).unwrap(), 1);
        let after = s.call("generic:x1").unwrap().unwrap();
        assert_eq!(before.call.state, after.call.state);
        assert_eq!(before.timeline.len(), after.timeline.len());
    }

    #[test]
    fn missed_list_and_done() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("r.db")).unwrap();
        s.store_batch(&[
            delivery("a", EventKind::Ringing { agent: None }, 0),
            delivery(
                "b",
                EventKind::Ended {
                    answered: Some(false),
                    reason: EndReason::NoAnswer,
                    duration_s: None,
                },
                30,
            ),
        ])
        .unwrap();
        assert_eq!(s.missed().unwrap().len(), 1);
        let c = s.set_done("generic:x1", true, t(40)).unwrap().unwrap();
        assert!(c.done);
        assert!(s.missed().unwrap().is_empty());
        assert!(s.set_done("generic:nope", true, t(40)).unwrap().is_none());
        let search = |q: &str| {
            s.calls(&CallQuery {
                q: Some(q.into()),
                ..Default::default()
            })
            .unwrap()
            .len()
        };
        assert_eq!(search("201"), 0, "nobody answered");
        assert_eq!(search("%"), 0, "wildcards are literal");
        s.rebuild(t(50)).unwrap();
        assert!(s.missed().unwrap().is_empty(), "done survives a rebuild");
    }

    /// A timed call delivered in every order: each gives the call and timeline the in-order
    /// delivery gives, the live fold agrees with `rebuild`, and the call's deliveries are found
    /// through the index.
    #[test]
    fn out_of_order_deliveries_fold_like_in_order_ones() {
        let ev =
            |kind: EventKind, at: i64| CallEvent::new(Provider::Teltel, "o1", kind).at(Some(t(at)));
        let events = [
            ev(EventKind::Started, 0),
            ev(
                EventKind::Ringing {
                    agent: Some("201".into()),
                },
                1,
            ),
            ev(
                EventKind::Answered {
                    by: Some("201".into()),
                },
                5,
            ),
            ev(
                EventKind::Ended {
                    answered: None,
                    reason: EndReason::Completed,
                    duration_s: None,
                },
                65,
            ),
        ];
        // With the writer's cache of histories warm, and cold (reopened before every
        // delivery, so each history is read back from the journal).
        let run_with = |order: &[usize], cold: bool| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("r.db");
            let mut s = Store::open(&path).unwrap();
            for (arrival, &i) in order.iter().enumerate() {
                if cold {
                    s = Store::open(&path).unwrap();
                }
                let d = Delivery {
                    source: Provider::Teltel,
                    dedupe_key: format!("e{i}"),
                    received_at: t(100 + arrival as i64),
                    content_type: None,
                    raw: vec![],
                    events: vec![events[i].clone()],
                };
                assert!(matches!(
                    s.store_batch(&[d]).unwrap()[0],
                    Ok(Stored::New { .. })
                ));
            }
            let live = s.call("teltel:o1").unwrap().unwrap();
            s.rebuild(t(999)).unwrap();
            let rebuilt = s.call("teltel:o1").unwrap().unwrap();
            assert_eq!(live, rebuilt, "order {order:?}");
            live
        };
        let run = |order: &[usize]| {
            let warm = run_with(order, false);
            assert_eq!(
                warm,
                run_with(order, true),
                "order {order:?}: cache and journal agree"
            );
            warm
        };
        let mut want = run(&[0, 1, 2, 3]);
        want.call.updated_at = t(0);
        for order in [[3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2], [0, 3, 1, 2]] {
            let mut got = run(&order);
            got.call.updated_at = t(0);
            assert_eq!(got.call, want.call, "order {order:?}");
            let whats = |c: &CallWithTimeline| {
                c.timeline
                    .iter()
                    .map(|e| (e.at, e.what.clone(), e.detail.clone()))
                    .collect::<Vec<_>>()
            };
            let (mut a, mut b) = (whats(&got), whats(&want));
            a.sort();
            b.sort();
            assert_eq!(a, b, "order {order:?}");
        }
        assert_eq!(
            want.call.state,
            CallState::Ended,
            "a hangup first is no miss"
        );
        assert_eq!(want.call.duration_s, Some(60));

        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("r.db")).unwrap();
        let plan: String = s
            .conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT seq FROM journal
                 WHERE json_extract(events, '$[0].provider_call_id') = 'x' AND seq <= 9",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("journal_by_call"), "{plan}");
    }

    #[test]
    fn a_delivery_naming_two_calls_is_refused_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("r.db")).unwrap();
        let mut two = delivery("two", EventKind::Ringing { agent: None }, 0);
        two.events.push(CallEvent::new(
            Provider::Generic,
            "x2",
            EventKind::Ringing { agent: None },
        ));
        let out = s
            .store_batch(&[two, delivery("ok", EventKind::Ringing { agent: None }, 1)])
            .unwrap();
        assert!(out[0].is_err());
        assert!(matches!(out[1], Ok(Stored::New { seq: 1, .. })));
        assert_eq!(s.journal_len().unwrap(), 1);
    }
}
