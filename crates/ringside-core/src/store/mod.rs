//! The durable store: one SQLite file (WAL) holding the raw event journal, the calls folded
//! from it with their timelines, and the contacts.
//!
//! Three kinds of connection, one job each: the [`Writer`], the only one that writes (the
//! engine's writer thread owns it); [`Reader`]s, query-only; the [`Checkpointer`]. The writer
//! and the readers answer the same [`Queries`].
//!
//! A batch of deliveries is one transaction: each delivery's journal row, the calls it changes
//! and their timeline records commit together, so calls are always consistent with the journal
//! and [`Writer::rebuild`] can fold the journal again from scratch. `synchronous=FULL` makes a
//! commit durable before it returns, unless [`Writer::defer_sync`] hands that to a [`WalSync`]
//! (the engine's pipelined group commit, see [`crate::engine`]).
//!
//! By job: `schema` (tables, migrations and the SQL functions they use), `journal` (storing
//! deliveries and folding them into calls, in or out of order; rebuild), `calls` (a call, its
//! timeline, the short lists), `search` (the history listing and its trigram search),
//! `contacts` (the contact tables, the lookup, keeping calls' contacts in step).

mod agents;
mod calls;
mod contacts;
mod journal;
mod mirror;
mod outbox;
mod schema;
mod search;
#[cfg(test)]
mod tests;

pub use agents::Added;
pub use calls::Party;
pub use contacts::ContactEdit;
pub use outbox::{Due, OutboxDelivery, OutboxMessage, OutboxTarget};

use crate::agents::Agent;
use crate::contacts::{Contact, LookupSettings};
use crate::model::*;
use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// How long a connection waits for another's lock before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The WAL size (pages) at which the writer checkpoints itself: only when the checkpointer
/// falls this far behind (SQLite's default is 1000).
const WRITER_CHECKPOINT_PAGES: i64 = 16_000;

pub use crate::ingest::Delivery;

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
    /// Only calls one of these keys may see ([`crate::me::Me::keys`]); `None`: every call.
    pub seen_by: Option<Vec<String>>,
}

/// The store's one writing connection: stores deliveries, marks calls done, keeps contacts,
/// rebuilds. It answers the [`Queries`] too.
pub struct Writer {
    conn: Connection,
    /// How calls find contacts (see [`crate::contacts`]).
    lookup: LookupSettings,
    /// The journaled events of recently seen calls, so the writer can tell whether an event
    /// comes in order without reading the journal back.
    histories: journal::Histories,
    /// Where finished calls are posted (the hub's outbound webhooks).
    outbox: Vec<OutboxTarget>,
}

/// A query-only connection, for reading while the writer writes (WAL). It sorts contact
/// matches in the default order of sources ([`Writer::set_lookup`] reaches the writer only).
pub struct Reader {
    conn: Connection,
    lookup: LookupSettings,
}

/// A connection that only checkpoints: copies the WAL into the database file.
pub struct Checkpointer {
    conn: Connection,
}

/// Makes what a [`Writer::defer_sync`] writer committed durable.
pub struct WalSync {
    wal: std::fs::File,
}

/// The queries every connection answers, a [`Reader`]'s and the [`Writer`]'s alike.
pub trait Queries: connected::Connected {
    /// A call and its timeline.
    fn call(&self, id: &str) -> Result<Option<CallWithTimeline>> {
        calls::with_timeline(self.conn(), id)
    }

    /// Calls, newest first.
    ///
    /// `q` is looked for in the calls' search text (their numbers' digits, who answered, their
    /// contacts' names and companies): through the trigram index, newest match first, until
    /// the page is full; a text shorter than a trigram by walking the newest-first index,
    /// which holds the search text, until the page is full.
    fn calls(&self, q: &CallQuery) -> Result<Vec<Call>> {
        search::calls(self.conn(), q, None)
    }

    /// Every missed call not yet done that `seen_by` may see (for "mark all done").
    fn missed_ids(&self, seen_by: Option<&[String]>) -> Result<Vec<String>> {
        calls::missed_ids(self.conn(), seen_by)
    }

    /// Missed calls not yet marked done that `seen_by` may see (`None`: every one), newest
    /// first.
    fn missed(&self, seen_by: Option<&[String]>) -> Result<Vec<Call>> {
        calls::missed(self.conn(), seen_by)
    }

    /// The calls changed after change `seq`, oldest change first, at most `limit` (each once,
    /// as it is now).
    fn changed_after(&self, seq: u64, limit: usize) -> Result<Vec<Call>> {
        calls::changed_after(self.conn(), seq, limit)
    }

    /// The last change number given out (0 for none).
    fn last_seq(&self) -> Result<u64> {
        calls::last_seq(self.conn())
    }

    /// Calls still ringing or answered.
    fn open_calls(&self) -> Result<Vec<Call>> {
        calls::open(self.conn())
    }

    /// Whether a claim on a missed call lapsed by `now` (the sweeper then clears them on the
    /// writer; most sweeps find none and write nothing).
    fn any_lapsed_claim(&self, now: DateTime<Utc>) -> Result<bool> {
        Ok(calls::claimed(self.conn())?
            .iter()
            .any(|c| crate::inbox::lapsed(c, now)))
    }

    /// At most `limit` open calls silent for longer than `limits` allow at `now` (the ones
    /// the sweeper ends), read without the writer.
    fn stale_calls(
        &self,
        now: DateTime<Utc>,
        limits: &crate::correlate::Timeouts,
        limit: usize,
    ) -> Result<Vec<Call>> {
        calls::stale(self.conn(), now, limits, limit)
    }

    /// Call `id` as stored, without its timeline.
    fn stored_call(&self, id: &str) -> Result<Option<Call>> {
        calls::load_call(self.conn(), id)
    }

    /// The calls `number` (as stored: E.164 where it parses) was the other party of before
    /// `before`: how many, the newest `limit`, and how many of its missed calls are not done.
    fn party(&self, number: &str, before: DateTime<Utc>, limit: usize) -> Result<Party> {
        calls::party(self.conn(), number, before, limit)
    }

    /// How many deliveries the journal holds.
    fn journal_len(&self) -> Result<i64> {
        journal::len(self.conn())
    }

    /// The contacts `number` finds, best first.
    fn lookup(&self, number: &str) -> Result<Vec<ContactMatch>> {
        contacts::lookup(self.conn(), number, self.lookup_settings())
    }

    /// Contacts whose name, company or number contains `q` (all without `q`), by name.
    fn contacts(&self, q: Option<&str>, limit: usize) -> Result<Vec<Contact>> {
        contacts::list(self.conn(), q, limit)
    }

    /// Every contact a page at a time, by name: the `limit` after `after` (the previous
    /// page's last contact's name and id). For exports, which hold every contact.
    fn contacts_page(&self, after: Option<(&str, i64)>, limit: usize) -> Result<Vec<Contact>> {
        contacts::page(self.conn(), after, limit)
    }

    /// The most numbers one contact has.
    fn most_numbers(&self) -> Result<usize> {
        contacts::most_numbers(self.conn())
    }

    fn contact(&self, id: i64) -> Result<Option<Contact>> {
        contacts::contact(self.conn(), id)
    }

    /// How many contacts each source holds.
    fn contact_counts(&self) -> Result<Vec<(String, u64)>> {
        contacts::counts(self.conn())
    }

    /// `external id -> etag` of every contact of `source` (what a sync compares against).
    fn source_etags(&self, source: &str) -> Result<HashMap<String, Option<String>>> {
        contacts::source_etags(self.conn(), source)
    }

    /// The sync token a source last saved (CardDAV `sync-collection`), if any.
    fn sync_token(&self, source: &str) -> Result<Option<String>> {
        contacts::sync_token(self.conn(), source)
    }

    /// The hub's agents, by name.
    fn agents(&self) -> Result<Vec<Agent>> {
        agents::list(self.conn())
    }

    /// Agent `id` and the hash of their token.
    fn agent_with_hash(&self, id: i64) -> Result<Option<(Agent, Vec<u8>)>> {
        agents::with_hash(self.conn(), id)
    }

    fn agent_by_name(&self, name: &str) -> Result<Option<Agent>> {
        agents::by_name(self.conn(), name)
    }

    /// Outbound webhook deliveries due by `now`, at most `limit`.
    fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Due>> {
        outbox::due(self.conn(), now, limit)
    }

    /// When the next outbound webhook delivery falls due.
    fn outbox_next_due(&self) -> Result<Option<DateTime<Utc>>> {
        outbox::next_due(self.conn())
    }

    /// The newest outbound webhook messages and how their deliveries went.
    fn outbox(&self, limit: usize) -> Result<Vec<OutboxMessage>> {
        outbox::list(self.conn(), limit)
    }

    /// A small fact kept across restarts.
    fn meta(&self, key: &str) -> Result<Option<String>> {
        mirror::meta(self.conn(), key)
    }

    /// The calls that popped since `since`.
    fn popped_since(&self, since: DateTime<Utc>) -> Result<Vec<String>> {
        mirror::popped_since(self.conn(), since)
    }
}

/// What the [`Queries`] read through; only the store's connections have it.
mod connected {
    pub trait Connected {
        fn conn(&self) -> &rusqlite::Connection;
        fn lookup_settings(&self) -> &crate::contacts::LookupSettings;
    }
}

impl connected::Connected for Writer {
    fn conn(&self) -> &Connection {
        &self.conn
    }
    fn lookup_settings(&self) -> &LookupSettings {
        &self.lookup
    }
}

impl connected::Connected for Reader {
    fn conn(&self) -> &Connection {
        &self.conn
    }
    fn lookup_settings(&self) -> &LookupSettings {
        &self.lookup
    }
}

impl Queries for Writer {}
impl Queries for Reader {}

impl Writer {
    /// Open (creating if needed) the store at `path`, bringing its schema up to date.
    pub fn open(path: &Path) -> Result<Writer> {
        if let Some(dir) = path.parent() {
            crate::files::create_private_dir(dir)
                .with_context(|| format!("creating data directory {}", dir.display()))?;
        }
        make_private(path)?;
        let conn = connect(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoints are made by the `Checkpointer`, off the commit path; the writer makes
        // one itself only if those fall far behind.
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        schema::add_functions(&conn)?;
        schema::migrate(&conn).with_context(|| format!("creating schema in {}", path.display()))?;
        conn.execute_batch(schema::WRITER)?;
        Ok(Writer {
            conn,
            lookup: LookupSettings::default(),
            histories: journal::Histories::default(),
            outbox: Vec::new(),
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

    /// Write the one row that says nothing: whether the store takes writes.
    pub fn probe(&mut self) -> Result<()> {
        self.conn.execute(
            "INSERT INTO health (id, checked_at) VALUES (1, datetime('now'))
             ON CONFLICT(id) DO UPDATE SET checked_at = excluded.checked_at",
            [],
        )?;
        Ok(())
    }

    /// How calls find contacts from now on.
    pub fn set_lookup(&mut self, settings: LookupSettings) {
        self.lookup = settings;
    }
}

impl Reader {
    /// A connection to the store at `path` (made by a [`Writer`]) that can only read.
    pub fn open(path: &Path) -> Result<Reader> {
        let conn = connect(path)?;
        conn.pragma_update(None, "query_only", true)?;
        schema::add_functions(&conn)?;
        Ok(Reader {
            conn,
            lookup: LookupSettings::default(),
        })
    }
}

impl Checkpointer {
    pub fn open(path: &Path) -> Result<Checkpointer> {
        let conn = connect(path)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(Checkpointer { conn })
    }

    /// Copy what the WAL holds into the database file, as far as readers allow, without
    /// waiting for or blocking the writer (a passive checkpoint).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

impl WalSync {
    /// Every transaction committed before this call is on disk when it returns.
    pub fn sync(&self) -> std::io::Result<()> {
        self.wal.sync_data()
    }
}

/// Callers' numbers, names and transcripts are for the owner only. SQLite creates the
/// database 0644 (under the usual umask) and gives the WAL and shared-memory files the
/// database's mode: so the database is created owner-only before SQLite opens it, and those
/// an older Ringside left readable are narrowed.
fn make_private(path: &Path) -> Result<()> {
    crate::files::private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("creating store {}", path.display()))?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        if crate::files::narrow(&p).with_context(|| format!("making {} owner-only", p.display()))? {
            tracing::warn!(
                "{} was readable by other users: made owner-only",
                p.display()
            );
        }
    }
    Ok(())
}

fn connect(path: &Path) -> Result<Connection> {
    let conn =
        Connection::open(path).with_context(|| format!("opening store {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// A time as the store keeps it: RFC 3339 in UTC, to the microsecond (so it sorts as text).
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(s)
        .with_context(|| format!("bad stored timestamp {s}"))?
        .with_timezone(&Utc))
}
