//! The schema: the tables, each version's migration (by `PRAGMA user_version`), and the SQL
//! functions they use.

use super::parse_ts;
use super::search::{search_key, search_text};
use anyhow::{Context, Result};
use rusqlite::Connection;

pub(super) const SCHEMA: &str = r#"
-- One row, written to learn whether the store takes writes again after a failure.
CREATE TABLE IF NOT EXISTS health (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL
);
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
-- delivery holds the events of one call (see `journal::store_one`).
CREATE INDEX IF NOT EXISTS journal_by_call ON journal(json_extract(events, '$[0].provider_call_id'));
"#;

/// What each schema version adds to [`SCHEMA`] (which is version 1 and made idempotently on
/// every open), in order; `PRAGMA user_version` says how many a file has. An older store runs
/// those it lacks, each in one transaction.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 3: wrap-up. What agents note after a call is theirs, not the providers': `wrapups`
    // keeps it apart from the journal (a rebuild folds the journal and puts these back); the
    // call's `wrapup` holds a copy for reading, and `notes` its text, which the search finds
    // (`search` is `ringside_search(from_num, to_num, answered_by, names || notes)`, see
    // `calls::save_call`).
    r#"
CREATE TABLE wrapups (
    call_id TEXT PRIMARY KEY,
    data    TEXT NOT NULL
);
ALTER TABLE calls ADD COLUMN notes TEXT;
"#,
    // 4: the team hub. `seq` numbers every stored change of a call (the live stream's frames,
    // and what a client that reconnects asks to replay), kept in the call's `data` too.
    // `call_keys` holds who may see each call (`me::call_keys`: its owners and its lines), so
    // an agent's view is an index lookup. `agents`: the hub's agents, their tokens hashed.
    // `outbox`: the outbound webhooks' messages, journaled with the change that made them, and
    // their deliveries to each URL. `meta`: small facts kept across restarts (an agent's app:
    // the hub's last change it has). `popped`: the calls that popped, so a restart pops none
    // again.
    r#"
ALTER TABLE calls ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE calls SET seq = rowid, data = json_set(data, '$.seq', rowid);
CREATE INDEX calls_by_seq ON calls(seq);
CREATE TABLE call_keys (
    key        TEXT NOT NULL,
    call_rowid INTEGER NOT NULL,
    PRIMARY KEY (key, call_rowid)
) WITHOUT ROWID;
CREATE INDEX call_keys_by_call ON call_keys(call_rowid);
INSERT OR IGNORE INTO call_keys (key, call_rowid)
    SELECT k.value, calls.rowid FROM calls, json_each(ringside_call_keys(calls.data)) AS k;
CREATE TABLE agents (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    token_hash  BLOB NOT NULL,
    identities  TEXT NOT NULL,
    groups      TEXT NOT NULL,
    supervisor  INTEGER NOT NULL DEFAULT 0,
    dnd         INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    token_at    TEXT NOT NULL
);
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    msg_id     TEXT NOT NULL UNIQUE,
    event      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE outbox_deliveries (
    msg        INTEGER NOT NULL,
    url        TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    TEXT,
    sent_at    TEXT,
    last_error TEXT,
    PRIMARY KEY (msg, url)
);
CREATE INDEX outbox_due ON outbox_deliveries(next_at) WHERE sent_at IS NULL;
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE popped (
    call_id TEXT PRIMARY KEY,
    at      TEXT NOT NULL
);
"#,
    // 5: a number's missed calls not done, and its answered calls, each by start: what
    // `calls::settle` looks up at every missed or answered call. Without them it read every
    // call the number ever had (a switchboard's thousands), each time, on the writer.
    r#"
CREATE INDEX calls_missed_from ON calls(from_num, started_at) WHERE state = 'missed' AND done = 0;
CREATE INDEX calls_answered_from ON calls(from_num, started_at)
    WHERE direction = 'inbound' AND json_extract(data, '$.answered_at') IS NOT NULL;
CREATE INDEX calls_answered_to ON calls(to_num, started_at)
    WHERE direction = 'outbound' AND json_extract(data, '$.answered_at') IS NOT NULL;
"#,
    // 6: what Ringside could not read in a delivery (a JSON array of sentences; NULL: nothing).
    // A delivery with no events and notes is one Ringside journaled without reading it.
    "ALTER TABLE journal ADD COLUMN notes TEXT;",
];

/// The contact tables (also version 1).
pub(super) const CONTACTS: &str = r#"
CREATE TABLE IF NOT EXISTS contacts (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    external_id TEXT,
    etag        TEXT,
    name        TEXT NOT NULL,
    company     TEXT,
    record_url  TEXT,
    numbers     TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX IF NOT EXISTS contacts_by_name ON contacts(name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS contact_numbers (
    contact_id INTEGER NOT NULL,
    e164       TEXT,
    rdigits    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contact_numbers_by_e164 ON contact_numbers(e164) WHERE e164 IS NOT NULL;
CREATE INDEX IF NOT EXISTS contact_numbers_by_rdigits ON contact_numbers(rdigits);
CREATE INDEX IF NOT EXISTS contact_numbers_by_contact ON contact_numbers(contact_id);
CREATE TABLE IF NOT EXISTS contact_sources (
    source     TEXT PRIMARY KEY,
    sync_token TEXT,
    synced_at  TEXT
);
CREATE INDEX IF NOT EXISTS calls_by_from ON calls(from_num);
CREATE INDEX IF NOT EXISTS calls_by_to ON calls(to_num);
"#;

/// The calls saved in the current transaction, with what the trigram index had for them
/// before: [`super::search::flush_search`] brings the index in step once per transaction. (Kept by triggers,
/// statement by statement, the index would flush its pending terms at every statement's
/// savepoint: a small segment, then merges, per call.)
pub(super) const WRITER: &str = "
PRAGMA temp_store = MEMORY;
CREATE TEMP TABLE IF NOT EXISTS search_pending (
    call_rowid INTEGER PRIMARY KEY,
    old_key    INTEGER,
    old_search TEXT
);
";

/// SQL functions the schema uses: `ringside_search(from, to, answered_by, names)`,
/// `ringside_search_key(started_at, rowid)` and `ringside_call_keys(data)` (a stored call's
/// [`crate::me::call_keys`], as a JSON array).
pub(super) fn add_functions(conn: &Connection) -> Result<()> {
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
    conn.create_scalar_function(
        "ringside_call_keys",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let data: String = ctx.get(0)?;
            let call: crate::model::Call = serde_json::from_str(&data)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
            Ok(serde_json::to_string(&crate::me::call_keys(&call)).unwrap_or_default())
        },
    )?;
    Ok(())
}

/// Make the version 1 schema where it is missing, then bring it to the latest version, one
/// transaction per missing migration.
pub(super) fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(CONTACTS)?;
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
