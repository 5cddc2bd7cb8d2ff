//! The call history, newest first: filtered by a [`CallQuery`] and searched by text.
//!
//! Each call's `search` column holds what `q` finds it by (its numbers' digits, who answered,
//! its contacts' names and companies, see [`search_text`]); a contentless trigram index,
//! `calls_fts`, holds those texts under keys that sort like the calls' starts, so the newest
//! matches come first and a search stops after a page.

use super::{parse_ts, ts, CallQuery};
use crate::model::*;
use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// Calls listed when a query does not say how many, and the most it may ask for.
const PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// Later than any time the store holds (times are RFC 3339 text).
const END_OF_TIME: &str = "9999";

/// The shortest text the trigram index can find.
const TRIGRAM: usize = 3;

/// The condition "one of the keys in the JSON array `?N` (or no array: anyone) may see the
/// call" on a query of `calls` (see [`crate::me::call_keys`]).
macro_rules! seen_by {
    ($n:literal) => {
        concat!(
            "(?",
            $n,
            " IS NULL OR EXISTS (SELECT 1 FROM call_keys k WHERE k.call_rowid = calls.rowid
                AND k.key IN (SELECT value FROM json_each(?",
            $n,
            "))))"
        )
    };
}
pub(super) use seen_by;

/// The newest-first listing of [`calls`] from `$from` (the table, with an index hint if
/// any), with `$text` as the search condition on `?8`, seen by the keys in `?9`.
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
               AND ",
            seen_by!("9"),
            "
             ORDER BY started_at DESC, id DESC LIMIT ?3"
        )
    };
}

/// Keys as the `seen_by!` condition takes them: a JSON array, or NULL for anyone.
pub(super) fn keys_param(keys: Option<&[String]>) -> Option<String> {
    keys.map(|k| serde_json::to_string(k).expect("strings serialize"))
}

/// The calls `q` asks for, newest first (see [`super::Queries::calls`]), looking for its text
/// the way `force` says if it says.
pub(super) fn calls(conn: &Connection, q: &CallQuery, force: Option<Search>) -> Result<Vec<Call>> {
    let needle = q.q.as_deref().map(search_needle).filter(|n| !n.is_empty());
    let how = match (&needle, force) {
        (None, _) => Search::All,
        (Some(_), Some(how)) => how,
        (Some(n), None) if n.chars().count() >= TRIGRAM => Search::Trigrams,
        (Some(_), None) => Search::Scan,
    };
    if let (Search::Trigrams, Some(n)) = (how, &needle) {
        return calls_by_trigrams(conn, q, n);
    }
    let sql = match how {
        // (?8, the text, is NULL here: named so that both variants take the same parameters.)
        Search::All => calls_sql!("calls", "?8 IS NULL"),
        _ => calls_sql!("calls INDEXED BY calls_by_start", "instr(search, ?8) > 0"),
    };
    let f = Filter::of(q);
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(
        params![
            f.before,
            f.state,
            f.limit as i64,
            f.before_id,
            f.direction,
            f.since,
            f.until,
            needle,
            keys_param(q.seen_by.as_deref()),
        ],
        |r| r.get::<_, String>(0),
    )?;
    rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
}

/// Calls whose search text holds `needle` (3 characters or more), newest first: the
/// trigram index yields the matches in the order of their start (to the second), each is
/// checked against the call as stored, and the walk stops once the page is full and the
/// matches are from an earlier second than its last call.
fn calls_by_trigrams(conn: &Connection, q: &CallQuery, needle: &str) -> Result<Vec<Call>> {
    let f = Filter::of(q);
    let upper = [q.before, q.until]
        .into_iter()
        .flatten()
        .map(|t| search_key(t.timestamp() + 1, 0))
        .min()
        .unwrap_or(i64::MAX);
    let lower = q.since.map_or(i64::MIN, |t| search_key(t.timestamp(), 0));
    let mut matches = conn.prepare_cached(
        "SELECT rowid FROM calls_fts WHERE calls_fts MATCH ?1 AND rowid >= ?2 AND rowid < ?3
         ORDER BY rowid DESC",
    )?;
    let mut call = conn.prepare_cached(concat!(
        "SELECT started_at, id, state, direction, search FROM calls WHERE rowid = ?1 AND ",
        seen_by!("2")
    ))?;
    let seen_by = keys_param(q.seen_by.as_deref());
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
            .query_row(params![rowid, seen_by], |r| {
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
    let mut data = conn.prepare_cached("SELECT data FROM calls WHERE rowid = ?1")?;
    hits.iter()
        .map(|(.., rowid)| {
            let d: String = data.query_row([rowid], |r| r.get(0))?;
            Ok(serde_json::from_str(&d)?)
        })
        .collect()
}

/// Bring the trigram index in step with the calls saved since the last flush: their old
/// entries out, their new ones in, unchanged ones left alone. Run before every commit that
/// saved calls.
pub(super) fn flush_search(tx: &Connection) -> Result<()> {
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

/// How [`calls`] looks for `q`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Search {
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
            limit: q.limit.unwrap_or(PAGE).min(MAX_PAGE),
            before: q.before.map(ts).unwrap_or_else(|| END_OF_TIME.into()),
            before_id: q.before_id.clone(),
            state: q.state.map(|s| s.as_str()),
            direction: q.direction.map(Direction::as_str),
            since: q.since.map(ts),
            until: q.until.map(ts),
        }
    }

    /// What the SQL of [`calls`] says, for one call.
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
pub(super) fn search_key(second: i64, rowid: i64) -> i64 {
    second * KEY_SECOND + rowid.rem_euclid(KEY_SECOND)
}

/// Values searched as numbers: digits with the punctuation people type around them.
pub(super) fn is_number(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().//".contains(c))
}

pub(super) fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// What a search text `q` is looked for as: a number by its digits whatever the punctuation
/// typed ("(415) 555-01" finds "+14155550123"), other text in lower case. Empty: no filter.
pub(super) fn search_needle(q: &str) -> String {
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
pub(super) fn search_text(fields: &[Option<&str>]) -> String {
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
pub(super) fn fts_phrase(needle: &str) -> String {
    format!("\"{}\"", needle.replace('"', "\"\""))
}
