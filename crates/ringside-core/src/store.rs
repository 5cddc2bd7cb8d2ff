//! The durable store: one SQLite file (WAL) holding the raw event journal, the calls folded
//! from it and their timelines.
//!
//! A batch of deliveries is one transaction: each delivery's journal row, the calls it changes
//! and their timeline records commit together, so calls are always consistent with the journal
//! and [`Store::rebuild`] can fold the journal again from scratch. `synchronous=FULL` makes a
//! commit durable before it returns, unless [`Store::defer_sync`] hands that to a
//! [`WalSync`] (the engine's pipelined group commit, see [`crate::engine`]).
//!
//! History search: each call's `search` column holds what `q` finds it by (its numbers' digits,
//! who answered, its contacts' names and companies, see [`search_text`]); a contentless trigram
//! index, `calls_fts`, holds those texts under keys that sort like the calls' starts, so the
//! newest matches come first and a search stops after a page.

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
"#;

/// What each schema version adds to [`SCHEMA`] (which is version 1 and made idempotently on
/// every open), in order; `PRAGMA user_version` says how many a file has. An older store runs
/// those it lacks, each in one transaction.
const MIGRATIONS: &[&str] = &[
    // 1: SCHEMA itself.
    "",
    // 2: history search. `names` holds the names and companies of the contacts matched for the
    // call's other party (filled by `save_call` from the call's `contacts`). `search` is what
    // `q` finds, always `ringside_search(from_num, to_num, answered_by, names)` (see
    // `search_text`). The trigram index `calls_fts` holds each call's search text under a key
    // that sorts like the call's start, `ringside_search_key(started_at, rowid)`; texts shorter
    // than a trigram walk `calls_by_start`, which holds the search text too. After deleting
    // calls or a VACUUM by hand, refill calls_fts:
    // `DELETE FROM calls_fts; INSERT INTO calls_fts(rowid, search)
    //  SELECT ringside_search_key(started_at, rowid), search FROM calls`.
    r#"
ALTER TABLE calls ADD COLUMN names TEXT;
ALTER TABLE calls ADD COLUMN search TEXT NOT NULL DEFAULT '';
UPDATE calls SET names = (
    SELECT group_concat(concat_ws(' ', json_extract(value, '$.name'), json_extract(value, '$.company')), ' ')
    FROM json_each(calls.data, '$.contacts'));
UPDATE calls SET search = ringside_search(from_num, to_num, answered_by, names);
DROP INDEX calls_by_start;
CREATE INDEX calls_by_start ON calls(started_at DESC, id DESC, search);
CREATE VIRTUAL TABLE calls_fts USING fts5(
    search, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1'
);
INSERT INTO calls_fts(rowid, search)
    SELECT ringside_search_key(started_at, rowid), search FROM calls;
"#,
];

/// The calls saved in the current transaction, with what the trigram index had for them
/// before: [`flush_search`] brings the index in step once per transaction. (Kept by triggers,
/// statement by statement, the index would flush its pending terms at every statement's
/// savepoint: a small segment, then merges, per call.)
const WRITER_SCHEMA: &str = "
PRAGMA temp_store = MEMORY;
CREATE TEMP TABLE IF NOT EXISTS search_pending (
    call_rowid INTEGER PRIMARY KEY,
    old_key    INTEGER,
    old_search TEXT
);
";

/// The WAL size (pages) at which the writer checkpoints itself: only when the checkpointer
/// falls this far behind (SQLite's default is 1000).
const WRITER_CHECKPOINT_PAGES: i64 = 16_000;

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
    /// Text to find in the numbers, who answered or the caller's contact names (any case); a
    /// number matches whatever its punctuation.
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

    /// The batch being written was rolled back: nothing it staged holds.
    fn batch_rolled_back(&mut self) {
        self.batch.clear();
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

/// Makes what a [`Store::defer_sync`] store committed durable.
pub struct WalSync {
    wal: std::fs::File,
}

impl WalSync {
    /// Every transaction committed before this call is on disk when it returns.
    pub fn sync(&self) -> std::io::Result<()> {
        self.wal.sync_data()
    }
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The newest-first listing of [`Store::calls`] from `$from` (the table, with an index hint if
/// any), with `$text` as the search condition on `?8`.
macro_rules! calls_sql {
    ($from:literal, $text:literal) => {
        concat!(
            "SELECT data FROM ",
            $from,
            "
             WHERE (started_at < ?1 OR (started_at = ?1 AND ?4 IS NOT NULL AND id < ?4))
               AND started_at <= ?1
               AND (?2 IS NULL OR state = ?2)
               AND (?5 IS NULL OR direction = ?5)
               AND started_at >= coalesce(?6, '')
               AND started_at < coalesce(?7, '9999')
               AND ",
            $text,
            "
             ORDER BY started_at DESC, id DESC LIMIT ?3"
        )
    };
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
        // Checkpoints are made by `checkpoint()` on another connection, off the commit path;
        // the writer makes one itself only if those fall far behind.
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        add_functions(&conn)?;
        migrate(&conn).with_context(|| format!("creating schema in {}", path.display()))?;
        conn.execute_batch(WRITER_SCHEMA)?;
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
        add_functions(&conn)?;
        Ok(Store {
            conn,
            lookup: LookupSettings::default(),
            histories: Histories::default(),
        })
    }

    /// Commit without waiting for the disk (`synchronous=NORMAL`): transactions still commit
    /// atomically and in order, and survive the process being killed, but survive a power
    /// loss or an OS crash only once [`WalSync::sync`] returned after their commit. For a
    /// pipelined group commit: the next transaction is built while the last ones are synced.
    /// (Checkpoints still sync the WAL before copying it and the database file after.)
    pub fn defer_sync(&mut self) -> Result<WalSync> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let path = self
            .conn
            .path()
            .map(|p| format!("{p}-wal"))
            .context("the store has no file")?;
        // SQLite creates the WAL when a WAL-mode database is opened and keeps it (the same
        // file: reset in place, never deleted) while a connection is open.
        let wal = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
        Ok(WalSync { wal })
    }

    /// A connection for [`Store::checkpoint`].
    pub fn open_checkpointer(path: &Path) -> Result<Store> {
        let conn =
            Connection::open(path).with_context(|| format!("opening store {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(Store {
            conn,
            lookup: LookupSettings::default(),
            histories: Histories::default(),
        })
    }

    /// Copy what the WAL holds into the database file, as far as readers allow, without
    /// waiting for or blocking the writer (a passive checkpoint).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
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
        flush_search(&tx)?;
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
    ///
    /// `q` is looked for in the calls' search text (see [`search_text`]): through the trigram
    /// index, newest match first, until the page is full; a text shorter than a trigram by
    /// walking the newest-first index, which holds the search text, until the page is full.
    pub fn calls(&self, q: &CallQuery) -> Result<Vec<Call>> {
        self.calls_by(q, None)
    }

    /// [`Store::calls`], looking for `q` the way `force` says if it says.
    fn calls_by(&self, q: &CallQuery, force: Option<Search>) -> Result<Vec<Call>> {
        let needle = q.q.as_deref().map(search_needle).filter(|n| !n.is_empty());
        let how = match (&needle, force) {
            (None, _) => Search::All,
            (Some(_), Some(how)) => how,
            (Some(n), None) if n.chars().count() >= 3 => Search::Trigrams,
            (Some(_), None) => Search::Scan,
        };
        if let (Search::Trigrams, Some(n)) = (how, &needle) {
            return self.calls_by_trigrams(q, n);
        }
        let sql = match how {
            // (?8, the text, is NULL here: named so that both variants take the same parameters.)
            Search::All => calls_sql!("calls", "?8 IS NULL"),
            _ => calls_sql!("calls INDEXED BY calls_by_start", "instr(search, ?8) > 0"),
        };
        let f = Filter::of(q);
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(
            params![
                f.before,
                f.state,
                f.limit as i64,
                f.before_id,
                f.direction,
                f.since,
                f.until,
                needle
            ],
            |r| r.get::<_, String>(0),
        )?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Calls whose search text holds `needle` (3 characters or more), newest first: the
    /// trigram index yields the matches in the order of their start (to the second), each is
    /// checked against the call as stored, and the walk stops once the page is full and the
    /// matches are from an earlier second than its last call.
    fn calls_by_trigrams(&self, q: &CallQuery, needle: &str) -> Result<Vec<Call>> {
        let f = Filter::of(q);
        let upper = [q.before, q.until]
            .into_iter()
            .flatten()
            .map(|t| search_key(t.timestamp() + 1, 0))
            .min()
            .unwrap_or(i64::MAX);
        let lower = q.since.map_or(i64::MIN, |t| search_key(t.timestamp(), 0));
        let mut matches = self.conn.prepare_cached(
            "SELECT rowid FROM calls_fts WHERE calls_fts MATCH ?1 AND rowid >= ?2 AND rowid < ?3
             ORDER BY rowid DESC",
        )?;
        let mut call = self.conn.prepare_cached(
            "SELECT started_at, id, state, direction, search FROM calls WHERE rowid = ?1",
        )?;
        let mut hits: Vec<(String, String, i64)> = Vec::new();
        let mut last_second = None;
        let mut keys = matches.query(params![fts_phrase(needle), lower, upper])?;
        while let Some(r) = keys.next()? {
            let key: i64 = r.get(0)?;
            let (second, rowid) = (key.div_euclid(KEY_SECOND), key.rem_euclid(KEY_SECOND));
            if last_second.is_some_and(|last| second < last) {
                break;
            }
            let Some((started_at, id, state, direction, search)) = call
                .query_row([rowid], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .optional()?
            else {
                continue;
            };
            // The index only proposes: the call as stored decides.
            let indexed_as = parse_ts(&started_at).map(|t| search_key(t.timestamp(), rowid));
            if indexed_as.ok() != Some(key)
                || !search.contains(needle)
                || !f.passes(&started_at, &id, &state, &direction)
            {
                continue;
            }
            hits.push((started_at, id, rowid));
            if hits.len() == f.limit {
                last_second = Some(second);
            }
        }
        hits.sort_by(|a, b| (&b.0, &b.1).cmp(&(&a.0, &a.1)));
        hits.truncate(f.limit);
        let mut data = self
            .conn
            .prepare_cached("SELECT data FROM calls WHERE rowid = ?1")?;
        hits.iter()
            .map(|(.., rowid)| {
                let d: String = data.query_row([rowid], |r| r.get(0))?;
                Ok(serde_json::from_str(&d)?)
            })
            .collect()
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
        tx.execute_batch(
            "DELETE FROM calls; DELETE FROM timeline; DELETE FROM temp.search_pending;
             INSERT INTO calls_fts(calls_fts) VALUES ('delete-all');",
        )?;
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
        flush_search(&tx)?;
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
    // Deliveries practically never fail, so first try the batch without a savepoint per
    // delivery (a savepoint costs a sub-journal per delivery).
    {
        let tx = conn.transaction()?;
        let mut out = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            match store_one(&tx, d, histories, lookup) {
                Ok(stored) => {
                    histories.delivery_stored();
                    out.push(Ok(stored));
                }
                Err(_) => break,
            }
        }
        if out.len() == deliveries.len() {
            flush_search(&tx)?;
            tx.commit().context("committing batch")?;
            return Ok(out);
        }
    } // one failed: the transaction rolls back; again with a savepoint per delivery
    histories.batch_rolled_back();
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
    flush_search(&tx)?;
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
/// Where they fall in the call's course is [`correlate::arrival`]'s to say: in the usual case
/// they come after everything the call has seen and are applied to it; when they belong
/// earlier (a hangup arrived before the answer, a retry came late) the call is the one folded
/// again from its journaled events and its timeline is rewritten. `Store::rebuild` takes the
/// same path, so it gives the same calls.
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
    let history: Vec<correlate::Journaled> = match (&prev, histories.get(&id)) {
        (None, _) => arrived.collect(),
        (Some(_), Some(known)) => known.iter().cloned().chain(arrived).collect(),
        (Some(_), None) => call_history(tx, first, seq)?,
    };
    let arrival = correlate::arrival(&history, events.len(), now);
    histories.stage(&id, history);
    match (arrival, prev) {
        (correlate::Arrival::OutOfOrder { call, timeline }, Some(prev)) => {
            refold(tx, &id, prev, *call, &timeline, now, lookup)
        }
        // A new call has nothing to be out of order with.
        (_, prev) => apply_in_order(tx, &id, prev, events, seq, now, lookup),
    }
}

/// Replace call `id`, `prev` as stored, by `call` folded again from its history, and its
/// timeline by `timeline`; returns the call if it changed.
fn refold(
    tx: &Connection,
    id: &str,
    prev: Call,
    mut call: Call,
    timeline: &[TimelineEntry],
    now: DateTime<Utc>,
    lookup: &LookupSettings,
) -> Result<Vec<Call>> {
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
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    tx.execute("DELETE FROM timeline WHERE call_id = ?1", [id])?;
    for e in timeline {
        insert_timeline(tx, id, &ts(e.at), &e.what, e.detail.as_deref(), e.event_seq)?;
    }
    for (at, what, detail) in &own {
        insert_timeline(tx, id, at, what, detail.as_deref(), None)?;
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

/// Insert or update `c`. Its trigram index entry is brought in step by [`flush_search`] before
/// the transaction commits.
pub(crate) fn save_call(conn: &Connection, c: &Call) -> Result<()> {
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
                match c.direction {
                    Direction::Inbound => "inbound",
                    Direction::Outbound => "outbound",
                },
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

/// Bring the trigram index in step with the calls saved since the last flush: their old
/// entries out, their new ones in, unchanged ones left alone. Run before every commit that
/// saved calls.
pub(crate) fn flush_search(tx: &Connection) -> Result<()> {
    // One call at a time by key: FTS5 finds a rowid given by `=` directly, but would scan
    // the whole index for `rowid IN (SELECT ...)`.
    let changed: Vec<(Option<i64>, i64, String)> = tx
        .prepare_cached(
            "SELECT p.old_key, ringside_search_key(c.started_at, c.rowid), c.search
             FROM temp.search_pending p JOIN calls c ON c.rowid = p.call_rowid
             WHERE p.old_key IS NULL
                OR p.old_key != ringside_search_key(c.started_at, c.rowid) OR p.old_search != c.search",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (old_key, key, search) in changed {
        if let Some(old) = old_key {
            tx.prepare_cached("DELETE FROM calls_fts WHERE rowid = ?1")?
                .execute([old])?;
        }
        tx.prepare_cached("INSERT INTO calls_fts (rowid, search) VALUES (?1, ?2)")?
            .execute(params![key, search])?;
    }
    tx.prepare_cached("DELETE FROM temp.search_pending")?
        .execute([])?;
    Ok(())
}

/// How [`Store::calls`] looks for `q`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Search {
    /// No text to find.
    All,
    /// Through the trigram index, newest match first.
    Trigrams,
    /// Walking the newest-first index: a text shorter than a trigram.
    Scan,
}

/// A [`CallQuery`]'s filters as the store compares them (timestamps as stored, RFC 3339 text).
struct Filter {
    limit: usize,
    before: String,
    before_id: Option<String>,
    state: Option<&'static str>,
    direction: Option<&'static str>,
    since: Option<String>,
    until: Option<String>,
}

impl Filter {
    fn of(q: &CallQuery) -> Filter {
        Filter {
            limit: q.limit.unwrap_or(100).min(1000),
            before: q.before.map(ts).unwrap_or_else(|| "9999".into()),
            before_id: q.before_id.clone(),
            state: q.state.map(|s| s.as_str()),
            direction: q.direction.map(|d| match d {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            }),
            since: q.since.map(ts),
            until: q.until.map(ts),
        }
    }

    /// What the SQL of [`Store::calls`] says, for one call.
    fn passes(&self, started_at: &str, id: &str, state: &str, direction: &str) -> bool {
        let before = started_at < self.before.as_str()
            || (started_at == self.before && self.before_id.as_deref().is_some_and(|b| id < b));
        before
            && self.state.is_none_or(|s| s == state)
            && self.direction.is_none_or(|d| d == direction)
            && self.since.as_deref().is_none_or(|t| started_at >= t)
            && self.until.as_deref().is_none_or(|t| started_at < t)
    }
}

/// Keys in the trigram index: `second * KEY_SECOND + rowid` (rowids stay below 2^32).
const KEY_SECOND: i64 = 1 << 32;

/// The trigram index's key for the call with `rowid` that started at `second` (Unix time):
/// keys sort like the calls' starts, to the second.
fn search_key(second: i64, rowid: i64) -> i64 {
    second * KEY_SECOND + rowid.rem_euclid(KEY_SECOND)
}

/// Values searched as numbers: digits with the punctuation people type around them.
fn is_number(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().//".contains(c))
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// What a search text `q` is looked for as: a number by its digits whatever the punctuation
/// typed ("(415) 555-01" finds "+14155550123"), other text in lower case. Empty: no filter.
fn search_needle(q: &str) -> String {
    let q = q.trim();
    if is_number(q) {
        digits(q)
    } else {
        q.to_lowercase()
    }
}

/// What `q` finds a call by (the `search` column): for each of the numbers, who answered and
/// the contact names, its digits (when it has any) and, unless it is a plain number, its
/// lower-cased text; one line each. `search_needle(q)` is a substring of it exactly when the
/// call matches.
pub fn search_text(fields: &[Option<&str>]) -> String {
    let mut out = String::new();
    for v in fields.iter().flatten() {
        let d = digits(v);
        if !d.is_empty() {
            out.push_str(&d);
            out.push('\n');
        }
        if !is_number(v) {
            out.push_str(&v.trim().to_lowercase());
            out.push('\n');
        }
    }
    out
}

/// `needle` as an FTS5 phrase (a substring, with the trigram tokenizer).
fn fts_phrase(needle: &str) -> String {
    format!("\"{}\"", needle.replace('"', "\"\""))
}

/// SQL functions the schema uses: `ringside_search(from, to, answered_by, names)` and
/// `ringside_search_key(started_at, rowid)`.
fn add_functions(conn: &Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "ringside_search",
        4,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let fields = (0..4)
                .map(|i| ctx.get::<Option<String>>(i))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let fields: Vec<Option<&str>> = fields.iter().map(Option::as_deref).collect();
            Ok(search_text(&fields))
        },
    )?;
    conn.create_scalar_function(
        "ringside_search_key",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let started_at: String = ctx.get(0)?;
            let second = parse_ts(&started_at)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?
                .timestamp();
            Ok(search_key(second, ctx.get(1)?))
        },
    )?;
    Ok(())
}

/// Make the version 1 schema where it is missing, then bring it to the latest version, one
/// transaction per missing migration.
fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(contacts::SCHEMA)?;
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        anyhow::bail!(
            "the store has schema version {version}, newer than this Ringside ({}): \
             use a newer Ringside or another --data-dir",
            MIGRATIONS.len()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)
            .with_context(|| format!("migrating to schema version {}", i + 1))?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
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

    /// Give calls a contact (name, company) as the CRM lookup would, or none.
    /// A contact as the CRM names it: name, company.
    type Who<'a> = Option<(&'a str, Option<&'a str>)>;

    fn set_names(s: &mut Store, names: &[(&str, Who)]) {
        let tx = s.conn.transaction().unwrap();
        for (id, who) in names {
            let mut c = load_call(&tx, id).unwrap().expect("a stored call");
            c.contacts = who
                .iter()
                .map(|(name, company)| ContactMatch {
                    key: "crm:0".into(),
                    name: name.to_string(),
                    company: company.map(str::to_string),
                    record_url: None,
                    source: "crm".into(),
                })
                .collect();
            save_call(&tx, &c).unwrap();
        }
        flush_search(&tx).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn a_failing_delivery_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("r.db")).unwrap();
        // A stored call that cannot be decoded any more makes its next delivery fail.
        s.conn
            .execute(
                "INSERT INTO calls (id, started_at, updated_at, state, direction, data)
                 VALUES ('generic:x1', 'x', 'x', 'ringing', 'inbound', 'not json')",
                [],
            )
            .unwrap();
        let mut other = delivery("c", EventKind::Ringing { agent: None }, 2);
        other.events[0].provider_call_id = "x2".into();
        let mut first = other.clone();
        first.dedupe_key = "a".into();
        first.events[0].provider_call_id = "x0".into();
        let out = s
            .store_batch(&[
                first,
                delivery("b", EventKind::Answered { by: None }, 1),
                other,
            ])
            .unwrap();
        assert!(matches!(out[0], Ok(Stored::New { seq: 1, .. })), "{out:?}");
        assert!(out[1].is_err(), "{out:?}");
        assert!(matches!(out[2], Ok(Stored::New { .. })), "{out:?}");
        assert_eq!(
            s.journal_len().unwrap(),
            2,
            "the failed delivery left no journal row"
        );
        assert!(s.call("generic:x0").unwrap().is_some());
        assert!(s.call("generic:x2").unwrap().is_some());
    }

    fn call_event(id: &str, kind: EventKind, at: i64, from: &str) -> Delivery {
        let facts = CallFacts {
            direction: Some(Direction::Inbound),
            from: Some(from.into()),
            to: Some("+14155550100".into()),
            ..Default::default()
        };
        Delivery {
            source: Provider::Generic,
            dedupe_key: format!("{id}:{at}"),
            received_at: t(at),
            content_type: None,
            raw: id.as_bytes().to_vec(),
            events: vec![CallEvent::new(Provider::Generic, id, kind)
                .at(Some(t(at)))
                .facts(facts)],
        }
    }

    /// Three calls: a number stored as received with punctuation, an E.164 one answered by
    /// 201, and an anonymous one; two with contact names.
    fn search_store(dir: &Path) -> Store {
        let mut s = Store::open(&dir.join("r.db")).unwrap();
        s.store_batch(&[
            call_event("a", EventKind::Ringing { agent: None }, 0, "(415) 555-0123"),
            call_event("b", EventKind::Ringing { agent: None }, 1, "+442079460018"),
            call_event(
                "b",
                EventKind::Answered {
                    by: Some("Sip:201@PBX".into()),
                },
                2,
                "+442079460018",
            ),
            call_event("c", EventKind::Ringing { agent: None }, 3, "anonymous"),
        ])
        .unwrap();
        set_names(
            &mut s,
            &[
                ("generic:a", Some(("Zoë Ångström", None))),
                ("generic:b", Some(("Bob O'Brien", Some("Acme")))),
            ],
        );
        s
    }

    /// The trigram index holds exactly one entry per call, under the call's key, with the
    /// call's search text.
    fn assert_index_in_step(s: &Store) {
        let calls: Vec<(i64, String, String)> = s
            .conn
            .prepare("SELECT rowid, started_at, search FROM calls")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = |rowid: i64, at: &str| search_key(parse_ts(at).unwrap().timestamp(), rowid);
        let mut want: Vec<i64> = calls.iter().map(|(r, at, _)| key(*r, at)).collect();
        want.sort();
        let keys: Vec<i64> = s
            .conn
            .prepare("SELECT rowid FROM calls_fts ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(keys, want, "one entry per call, under its key");
        for (rowid, at, search) in &calls {
            let key = key(*rowid, at);
            for line in search.lines().filter(|l| l.chars().count() >= 3) {
                let n: i64 = s
                    .conn
                    .query_row(
                        "SELECT count(*) FROM calls_fts WHERE calls_fts MATCH ?1 AND rowid = ?2",
                        params![fts_phrase(line), key],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(n, 1, "{line:?} is indexed under {key}");
            }
        }
        s.conn
            .execute(
                "INSERT INTO calls_fts(calls_fts) VALUES ('integrity-check')",
                [],
            )
            .expect("calls_fts is consistent");
    }

    fn found(s: &Store, q: &str, force: Option<Search>) -> Vec<String> {
        let query = CallQuery {
            q: Some(q.into()),
            ..Default::default()
        };
        s.calls_by(&query, force)
            .unwrap()
            .into_iter()
            .map(|c| c.provider_call_id)
            .collect()
    }

    #[test]
    fn search_finds_numbers_by_digits_names_and_who_answered_any_case() {
        let dir = tempfile::tempdir().unwrap();
        let s = search_store(dir.path());
        let cases: &[(&str, &[&str])] = &[
            ("415-555-0123", &["a"]),
            ("(415)5550123", &["a"]),
            ("4155550123", &["a"]),
            ("20 7946 0018", &["b"]),
            ("0018", &["b"]),
            ("5550100", &["c", "b", "a"]), // the number called
            ("sip:201", &["b"]),
            ("201@pbx", &["b"]),
            ("201", &["b"]),
            ("zoë", &["a"]),
            ("ZOË ÅNG", &["a"]),
            ("ångström", &["a"]),
            ("o'brien", &["b"]),
            ("ACME", &["b"]),
            ("Anonymous", &["c"]),
            ("nobody", &[]),
            ("%", &[]),
            ("_", &[]),
            ("\"", &[]),
            ("zz\"z", &[]),
            ("bo", &["b"]),
            ("5", &["c", "b", "a"]),
        ];
        for (q, want) in cases {
            for force in [None, Some(Search::Trigrams), Some(Search::Scan)] {
                if force == Some(Search::Trigrams) && search_needle(q).chars().count() < 3 {
                    continue; // shorter than a trigram: always a scan
                }
                assert_eq!(&found(&s, q, force), want, "q={q:?} via {force:?}");
            }
        }
        assert_eq!(found(&s, "  ", None), ["c", "b", "a"], "blank: no filter");
    }

    #[test]
    fn search_follows_name_changes_filters_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = search_store(dir.path());
        set_names(
            &mut s,
            &[
                ("generic:a", Some(("Carol Díaz", None))),
                ("generic:b", None),
            ],
        );
        for force in [None, Some(Search::Trigrams), Some(Search::Scan)] {
            assert!(found(&s, "zoë", force).is_empty(), "{force:?}");
            assert!(found(&s, "acme", force).is_empty(), "{force:?}");
            assert_eq!(found(&s, "DÍAZ", force), ["a"], "{force:?}");
        }
        // An update of the call keeps its names searchable.
        s.store_batch(&[call_event(
            "a",
            EventKind::Answered {
                by: Some("202".into()),
            },
            5,
            "(415) 555-0123",
        )])
        .unwrap();
        assert_eq!(found(&s, "carol", None), ["a"]);
        assert_eq!(found(&s, "202", None), ["a"]);
        // Filters and the paging cursor apply to a search.
        let page = |before: Option<(i64, &str)>, state: Option<CallState>| {
            s.calls(&CallQuery {
                q: Some("4155550100".into()),
                limit: Some(2),
                before: before.map(|(at, _)| t(at)),
                before_id: before.map(|(_, id)| id.to_string()),
                state,
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|c| c.provider_call_id)
            .collect::<Vec<_>>()
        };
        assert_eq!(page(None, None), ["c", "b"]);
        assert_eq!(page(Some((1, "generic:b")), None), ["a"]);
        assert_eq!(page(None, Some(CallState::Answered)), ["b", "a"]);
        assert_index_in_step(&s);
        s.set_done("generic:c", true, t(8)).unwrap();
        assert_index_in_step(&s);
        // The CRM's names survive a rebuild from the journal.
        s.rebuild(t(9)).unwrap();
        assert_eq!(found(&s, "carol", None), ["a"]);
        assert_eq!(found(&s, "202", None), ["a"]);
        assert_index_in_step(&s);
    }

    #[test]
    fn trigram_search_pages_in_the_newest_first_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("r.db")).unwrap();
        // 60 calls over 13 seconds, inserted out of order, several per second (ties go by id).
        let batch: Vec<Delivery> = (0..60)
            .map(|i| {
                call_event(
                    &format!("p{i:02}"),
                    EventKind::Ringing { agent: None },
                    (i * 7 % 13) as i64,
                    "+14155550123",
                )
            })
            .collect();
        s.store_batch(&batch).unwrap();
        let mut want: Vec<(i64, String)> = (0..60)
            .map(|i| ((i * 7 % 13) as i64, format!("generic:p{i:02}")))
            .collect();
        want.sort_by(|a, b| b.cmp(a));
        let want: Vec<String> = want.into_iter().map(|(_, id)| id).collect();
        for force in [Some(Search::Trigrams), Some(Search::Scan)] {
            let mut got = Vec::new();
            let mut cursor: Option<Call> = None;
            loop {
                let page = s
                    .calls_by(
                        &CallQuery {
                            q: Some("555-0123".into()),
                            limit: Some(7),
                            before: cursor.as_ref().map(|c| c.started_at),
                            before_id: cursor.as_ref().map(|c| c.id.clone()),
                            ..Default::default()
                        },
                        force,
                    )
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                got.extend(page.iter().map(|c| c.id.clone()));
                cursor = page.last().cloned();
            }
            assert_eq!(got, want, "{force:?}");
            let window = s
                .calls_by(
                    &CallQuery {
                        q: Some("555-0123".into()),
                        since: Some(t(3)),
                        until: Some(t(5)),
                        ..Default::default()
                    },
                    force,
                )
                .unwrap();
            let in_window = (0..60).filter(|i| (3..5).contains(&(i * 7 % 13))).count();
            assert_eq!(window.len(), in_window, "seconds 3 and 4: {force:?}");
        }
        assert_index_in_step(&s);
    }

    #[test]
    fn a_version_1_store_is_migrated_and_searchable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // A store as Ringside 0.1 wrote it: schema 1, one call in it.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute_batch(contacts::SCHEMA).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            let d = call_event("old", EventKind::Ringing { agent: None }, 0, "+14155550123");
            let applied = correlate::apply(None, &d.events[0], Some(1), t(0));
            let c = applied.call;
            conn.execute(
                "INSERT INTO calls (id, started_at, updated_at, state, direction, from_num, to_num, answered_by, done, data)
                 VALUES (?1, ?2, ?3, 'ringing', 'inbound', ?4, ?5, NULL, 0, ?6)",
                params![c.id, ts(c.started_at), ts(c.updated_at), c.from, c.to, serde_json::to_string(&c).unwrap()],
            )
            .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        let version: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        for force in [None, Some(Search::Trigrams), Some(Search::Scan)] {
            assert_eq!(found(&s, "(415) 555-0123", force), ["old"], "{force:?}");
        }
        set_names(&mut s, &[("generic:old", Some(("Dana Scully", None)))]);
        assert_eq!(found(&s, "scully", None), ["old"]);
        drop(s);
        // Opening again changes nothing; a newer schema is refused, not damaged.
        let s = Store::open(&path).unwrap();
        assert_eq!(found(&s, "dana", None), ["old"]);
        s.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        let err = Store::open(&path).err().expect("a newer schema is refused");
        assert!(format!("{err:#}").contains("schema version 99"), "{err:#}");
    }
}
