//! The contacts as stored: the contact tables, the number lookup, and keeping calls'
//! `contacts` in step when contacts change (and when an event gives a call a new other party,
//! [`decorate`], in that event's transaction).

use super::calls::{load_call, save_call};
use super::search::{digits, flush_search, is_number};
use super::{parse_ts, ts, Writer};
use crate::contacts::{
    number_keys, Contact, ContactInput, ContactNumber, ImportReport, LookupSettings, NumberKeys,
    SourcedContact, LOCAL,
};
use crate::links::other_party;
use crate::model::{Call, ContactMatch};
use crate::phone::{self, DefaultRegion};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::collections::{BTreeSet, HashMap};

/// The most contacts one listing gives.
const MAX_LISTED: usize = 5000;

/// The most stored contacts one number finds.
const MAX_MATCHES: usize = 20;

/// What an edit of one contact came to.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactEdit {
    /// Changed: the contact as it is now.
    Updated(Contact),
    /// No contact has that id.
    NotFound,
    /// The contact is synced from `source` (CardDAV): it is edited there, not here.
    ReadOnly { name: String, source: String },
}

impl Writer {
    /// Add a local contact; returns it and the calls that now show it.
    pub fn create_contact(
        &mut self,
        input: ContactInput,
        region: DefaultRegion,
        now: DateTime<Utc>,
    ) -> Result<(Contact, Vec<Call>)> {
        let input = input.cleaned()?;
        let tx = self.conn.transaction()?;
        let id = insert(&tx, LOCAL, None, None, &input, region, now)?;
        let touched = numbers_of(&tx, id)?;
        let c = contact(&tx, id)?.context("the new contact vanished")?;
        let calls = commit_touching(tx, &touched, &self.lookup, now)?;
        Ok((c, calls))
    }

    /// Change local contact `id`; returns what that came to and the calls that now show it
    /// differently. Synced contacts are refused: they are edited where they come from.
    pub fn update_contact(
        &mut self,
        id: i64,
        input: ContactInput,
        region: DefaultRegion,
        now: DateTime<Utc>,
    ) -> Result<(ContactEdit, Vec<Call>)> {
        let input = input.cleaned()?;
        let tx = self.conn.transaction()?;
        let Some(old) = contact(&tx, id)? else {
            return Ok((ContactEdit::NotFound, Vec::new()));
        };
        if old.source != LOCAL {
            return Ok((
                ContactEdit::ReadOnly {
                    name: old.name,
                    source: old.source,
                },
                Vec::new(),
            ));
        }
        let mut touched = numbers_of(&tx, id)?;
        update(&tx, id, None, &input, region, now)?;
        touched.extend(numbers_of(&tx, id)?);
        let c = contact(&tx, id)?.context("the contact vanished")?;
        let calls = commit_touching(tx, &touched, &self.lookup, now)?;
        Ok((ContactEdit::Updated(c), calls))
    }

    /// Delete contact `id` (a synced one comes back with the next sync unless it is deleted
    /// at its source too); returns it (`None`: no such contact) and the calls that showed it.
    pub fn delete_contact(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(Option<Contact>, Vec<Call>)> {
        let tx = self.conn.transaction()?;
        let Some(old) = contact(&tx, id)? else {
            return Ok((None, Vec::new()));
        };
        let touched = numbers_of(&tx, id)?;
        delete(&tx, id)?;
        let calls = commit_touching(tx, &touched, &self.lookup, now)?;
        Ok((Some(old), calls))
    }

    /// Add or update `items` of `source` by their external id, in one transaction.
    pub fn upsert_contacts(
        &mut self,
        source: &str,
        items: Vec<SourcedContact>,
        region: DefaultRegion,
        now: DateTime<Utc>,
    ) -> Result<(ImportReport, Vec<Call>)> {
        let tx = self.conn.transaction()?;
        let mut report = ImportReport::default();
        let mut touched = BTreeSet::new();
        let mut seen: BTreeSet<i64> = BTreeSet::new();
        for item in items {
            let label = item.input.name.clone();
            let input = match item.input.cleaned() {
                Ok(i) => i,
                Err(e) => {
                    report.skipped.push(format!("{label}: {e}"));
                    continue;
                }
            };
            let existing: Option<(i64, String)> = tx
                .prepare_cached(
                    "SELECT id, name || char(0) || ifnull(company, '') || char(0) || ifnull(record_url, '')
                        || char(0) || numbers || char(0) || ifnull(etag, '')
                     FROM contacts WHERE source = ?1 AND external_id = ?2",
                )?
                .query_row(params![source, item.external_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            // A local contact entered by hand, or imported under another key, is the same
            // person when name and company agree: update it rather than add a twin.
            let existing = match existing {
                None if source == LOCAL => adopt(&tx, &input, &item.external_id, &seen)?,
                e => e,
            };
            if let Some((id, _)) = &existing {
                seen.insert(*id);
            }
            match existing {
                None => {
                    let id = insert(
                        &tx,
                        source,
                        Some(&item.external_id),
                        item.etag.as_deref(),
                        &input,
                        region,
                        now,
                    )?;
                    touched.extend(numbers_of(&tx, id)?);
                    seen.insert(id);
                    report.added += 1;
                }
                Some((id, before)) => {
                    let numbers_before = numbers_of(&tx, id)?;
                    update(&tx, id, item.etag.as_deref(), &input, region, now)?;
                    let after: String = tx.query_row(
                        "SELECT name || char(0) || ifnull(company, '') || char(0) || ifnull(record_url, '')
                            || char(0) || numbers || char(0) || ifnull(etag, '')
                         FROM contacts WHERE id = ?1",
                        [id],
                        |r| r.get(0),
                    )?;
                    if after == before {
                        report.unchanged += 1;
                    } else {
                        touched.extend(numbers_before);
                        touched.extend(numbers_of(&tx, id)?);
                        report.updated += 1;
                    }
                }
            }
        }
        let calls = commit_touching(tx, &touched, &self.lookup, now)?;
        Ok((report, calls))
    }

    /// Remove the contacts of `source` with these external ids; returns how many went.
    pub fn remove_contacts(
        &mut self,
        source: &str,
        external_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<(usize, Vec<Call>)> {
        let tx = self.conn.transaction()?;
        let mut touched = BTreeSet::new();
        let mut n = 0;
        for ext in external_ids {
            let id: Option<i64> = tx
                .prepare_cached("SELECT id FROM contacts WHERE source = ?1 AND external_id = ?2")?
                .query_row(params![source, ext], |r| r.get(0))
                .optional()?;
            if let Some(id) = id {
                touched.extend(numbers_of(&tx, id)?);
                delete(&tx, id)?;
                n += 1;
            }
        }
        let calls = commit_touching(tx, &touched, &self.lookup, now)?;
        Ok((n, calls))
    }

    pub fn set_sync_token(
        &mut self,
        source: &str,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO contact_sources (source, sync_token, synced_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(source) DO UPDATE SET sync_token = ?2, synced_at = ?3",
            params![source, token, ts(now)],
        )?;
        Ok(())
    }

    /// Replace the matches `source` gave for call `id` (the CRM lookup answering late).
    /// Returns the call when that changed it.
    pub fn set_source_matches(
        &mut self,
        id: &str,
        source: &str,
        matches: Vec<ContactMatch>,
        now: DateTime<Utc>,
    ) -> Result<Option<Call>> {
        let tx = self.conn.transaction()?;
        let Some(mut call) = load_call(&tx, id)? else {
            return Ok(None);
        };
        let mut contacts: Vec<ContactMatch> = call
            .contacts
            .iter()
            .filter(|m| m.source != source)
            .cloned()
            .chain(matches)
            .collect();
        self.lookup.sort(&mut contacts);
        if contacts == call.contacts {
            return Ok(None);
        }
        call.contacts = contacts;
        call.updated_at = call.updated_at.max(now);
        save_call(&tx, &call)?;
        flush_search(&tx)?;
        tx.commit()?;
        Ok(Some(call))
    }
}

/// Contacts whose name, company or number contains `q` (all without `q`), by name.
pub(super) fn list(conn: &Connection, q: Option<&str>, limit: usize) -> Result<Vec<Contact>> {
    let limit = limit.clamp(1, MAX_LISTED) as i64;
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let text = q.map(|q| format!("%{}%", escape_like(q)));
    let rdigits = q
        .filter(|q| is_number(q))
        .map(|q| format!("%{}%", digits(q).chars().rev().collect::<String>()));
    let mut stmt = conn.prepare_cached(
        "SELECT id, source, name, company, record_url, numbers, updated_at FROM contacts c
         WHERE ?1 IS NULL
            OR name LIKE ?1 ESCAPE '\\' OR company LIKE ?1 ESCAPE '\\'
            OR (?2 IS NOT NULL AND EXISTS (SELECT 1 FROM contact_numbers n
                    WHERE n.contact_id = c.id AND n.rdigits LIKE ?2))
         ORDER BY name COLLATE NOCASE, id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![text, rdigits, limit], row_to_contact)?;
    rows.map(|r| r?).collect()
}

pub(super) fn counts(conn: &Connection) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn
        .prepare_cached("SELECT source, COUNT(*) FROM contacts GROUP BY source ORDER BY source")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn source_etags(
    conn: &Connection,
    source: &str,
) -> Result<HashMap<String, Option<String>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT external_id, etag FROM contacts WHERE source = ?1 AND external_id IS NOT NULL",
    )?;
    let rows = stmt.query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn sync_token(conn: &Connection, source: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT sync_token FROM contact_sources WHERE source = ?1")?
        .query_row([source], |r| r.get(0))
        .optional()?
        .flatten())
}

/// The local contact with `input`'s name and company not yet matched in this import, if
/// there is exactly one; it takes `external_id` from now on.
fn adopt(
    tx: &Connection,
    input: &ContactInput,
    external_id: &str,
    seen: &BTreeSet<i64>,
) -> Result<Option<(i64, String)>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, name || char(0) || ifnull(company, '') || char(0) || ifnull(record_url, '')
            || char(0) || numbers || char(0) || ifnull(etag, '')
         FROM contacts
         WHERE source = ?1 AND name = ?2 COLLATE NOCASE AND ifnull(company, '') = ?3 COLLATE NOCASE",
    )?;
    let found: Vec<(i64, String)> = stmt
        .query_map(
            params![LOCAL, input.name, input.company.as_deref().unwrap_or("")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|(id, _)| !seen.contains(id))
        .collect();
    let [one] = found.as_slice() else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE contacts SET external_id = ?2 WHERE id = ?1",
        params![one.0, external_id],
    )?;
    Ok(Some(one.clone()))
}

/// Fill in what a call shows about its parties after an event changed it: the numbers'
/// display forms, and the stored contacts of the other party when that number is new.
pub(super) fn decorate(
    conn: &Connection,
    prev: Option<&Call>,
    call: &mut Call,
    s: &LookupSettings,
) -> Result<()> {
    let region = DefaultRegion::default(); // numbers are E.164 by now; the region is moot
    if prev.is_none_or(|p| p.from != call.from) || call.from_display.is_none() {
        call.from_display = call.from.as_deref().map(|n| phone::display(n, region));
    }
    if prev.is_none_or(|p| p.to != call.to) || call.to_display.is_none() {
        call.to_display = call.to.as_deref().map(|n| phone::display(n, region));
    }
    let before = prev.and_then(other_party);
    let now_party = other_party(call);
    if prev.is_none() || before != now_party {
        let mut found = match now_party {
            Some(n) => lookup(conn, n, s)?,
            None => Vec::new(),
        };
        // Matches from elsewhere (the CRM) stay when the number did not change.
        if before == now_party {
            found.extend(call.contacts.iter().filter(|m| !is_stored(m)).cloned());
        }
        s.sort(&mut found);
        call.contacts = found;
    }
    Ok(())
}

/// Whether `m` is one of the stored contacts (rather than, say, the CRM's).
pub(super) fn is_stored(m: &ContactMatch) -> bool {
    m.key.starts_with("contact:")
}

/// The stored contacts `number` finds: by E.164, else by its last `tail_digits` digits (all
/// its digits when it has fewer).
pub(super) fn lookup(
    conn: &Connection,
    number: &str,
    s: &LookupSettings,
) -> Result<Vec<ContactMatch>> {
    let Some(keys) = number_keys(number, DefaultRegion::default()) else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<i64> = Vec::new();
    if let Some(e) = &keys.e164 {
        let mut stmt =
            conn.prepare_cached("SELECT DISTINCT contact_id FROM contact_numbers WHERE e164 = ?1")?;
        ids = stmt
            .query_map([e], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
    }
    if ids.is_empty() {
        let n = s.tail_digits.max(1);
        let mut stmt = if keys.rdigits.len() >= n {
            let prefix: String = keys.rdigits.chars().take(n).collect();
            let mut st = conn.prepare_cached(
                "SELECT DISTINCT contact_id FROM contact_numbers WHERE rdigits >= ?1 AND rdigits < ?1 || ':'",
            )?;
            let v: Vec<i64> = st
                .query_map([prefix], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids = v;
            None
        } else {
            Some(conn.prepare_cached(
                "SELECT DISTINCT contact_id FROM contact_numbers WHERE rdigits = ?1",
            )?)
        };
        if let Some(st) = stmt.as_mut() {
            ids = st
                .query_map([&keys.rdigits], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids.into_iter().take(MAX_MATCHES) {
        if let Some(c) = contact(conn, id)? {
            out.push(ContactMatch {
                key: format!("contact:{}", c.id),
                name: c.name,
                company: c.company,
                record_url: c.record_url,
                source: c.source,
            });
        }
    }
    s.sort(&mut out);
    Ok(out)
}

/// Look up again the calls a change to the `touched` numbers may concern (see [`relookup`]),
/// then commit; returns the calls that changed.
fn commit_touching(
    tx: Transaction<'_>,
    touched: &BTreeSet<String>,
    s: &LookupSettings,
    now: DateTime<Utc>,
) -> Result<Vec<Call>> {
    let calls = relookup(&tx, touched, s, now)?;
    flush_search(&tx)?;
    tx.commit()?;
    Ok(calls)
}

/// Look the calls that a change to these numbers may concern up again: calls whose other
/// party has one of them exactly, and every call still open or missed and not done (those
/// are on an agent's screen; an odd-format number may match them by its tail). Returns the
/// calls that changed.
fn relookup(
    tx: &Connection,
    numbers: &BTreeSet<String>,
    s: &LookupSettings,
    now: DateTime<Utc>,
) -> Result<Vec<Call>> {
    let mut ids: BTreeSet<String> = BTreeSet::new();
    {
        let mut by_number = tx.prepare_cached(
            "SELECT id FROM calls WHERE (direction = 'inbound' AND from_num = ?1)
                                     OR (direction = 'outbound' AND to_num = ?1)",
        )?;
        for n in numbers {
            for id in by_number.query_map([n], |r| r.get::<_, String>(0))? {
                ids.insert(id?);
            }
        }
        let mut on_screen = tx.prepare_cached(
            "SELECT id FROM calls WHERE state IN ('ringing', 'answered') OR (state = 'missed' AND done = 0)",
        )?;
        for id in on_screen.query_map([], |r| r.get::<_, String>(0))? {
            ids.insert(id?);
        }
    }
    let mut changed = Vec::new();
    for id in ids {
        let Some(mut call) = load_call(tx, &id)? else {
            continue;
        };
        let mut found = match other_party(&call) {
            Some(n) => lookup(tx, n, s)?,
            None => Vec::new(),
        };
        found.extend(call.contacts.iter().filter(|m| !is_stored(m)).cloned());
        s.sort(&mut found);
        if found != call.contacts {
            call.contacts = found;
            call.updated_at = call.updated_at.max(now);
            save_call(tx, &call)?;
            changed.push(call);
        }
    }
    Ok(changed)
}

fn row_to_contact(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Contact>> {
    let numbers: String = r.get(5)?;
    let updated_at: String = r.get(6)?;
    Ok((|| {
        Ok(Contact {
            id: r.get(0)?,
            source: r.get(1)?,
            name: r.get(2)?,
            company: r.get(3)?,
            record_url: r.get(4)?,
            numbers: serde_json::from_str(&numbers).context("decoding a contact's numbers")?,
            updated_at: parse_ts(&updated_at)?,
        })
    })())
}

pub(super) fn contact(conn: &Connection, id: i64) -> Result<Option<Contact>> {
    conn.prepare_cached(
        "SELECT id, source, name, company, record_url, numbers, updated_at FROM contacts WHERE id = ?1",
    )?
    .query_row([id], row_to_contact)
    .optional()?
    .transpose()
}

/// The E.164 numbers contact `id` has (what calls are matched by exactly).
fn numbers_of(conn: &Connection, id: i64) -> Result<BTreeSet<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e164 FROM contact_numbers WHERE contact_id = ?1 AND e164 IS NOT NULL",
    )?;
    let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn numbers_json(input: &ContactInput, region: DefaultRegion) -> Result<(String, Vec<NumberKeys>)> {
    let mut keys = Vec::new();
    let numbers: Vec<ContactNumber> = input
        .numbers
        .iter()
        .map(|n| {
            let k = number_keys(&n.number, region);
            let e164 = k.as_ref().and_then(|k| k.e164.clone());
            keys.extend(k);
            ContactNumber {
                label: n.label.clone(),
                number: n.number.clone(),
                e164,
                display: None,
            }
        })
        .collect();
    Ok((serde_json::to_string(&numbers)?, keys))
}

fn insert(
    tx: &Connection,
    source: &str,
    external_id: Option<&str>,
    etag: Option<&str>,
    input: &ContactInput,
    region: DefaultRegion,
    now: DateTime<Utc>,
) -> Result<i64> {
    let (numbers, keys) = numbers_json(input, region)?;
    tx.prepare_cached(
        "INSERT INTO contacts (source, external_id, etag, name, company, record_url, numbers, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        source,
        external_id,
        etag,
        input.name,
        input.company,
        input.record_url,
        numbers,
        ts(now)
    ])?;
    let id = tx.last_insert_rowid();
    index_numbers(tx, id, &keys)?;
    Ok(id)
}

fn update(
    tx: &Connection,
    id: i64,
    etag: Option<&str>,
    input: &ContactInput,
    region: DefaultRegion,
    now: DateTime<Utc>,
) -> Result<()> {
    let (numbers, keys) = numbers_json(input, region)?;
    tx.prepare_cached(
        "UPDATE contacts SET etag = ?2, name = ?3, company = ?4, record_url = ?5, numbers = ?6,
             updated_at = CASE WHEN name IS ?3 AND company IS ?4 AND record_url IS ?5 AND numbers IS ?6
                               THEN updated_at ELSE ?7 END
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        etag,
        input.name,
        input.company,
        input.record_url,
        numbers,
        ts(now)
    ])?;
    tx.prepare_cached("DELETE FROM contact_numbers WHERE contact_id = ?1")?
        .execute([id])?;
    index_numbers(tx, id, &keys)
}

fn delete(tx: &Connection, id: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM contact_numbers WHERE contact_id = ?1")?
        .execute([id])?;
    tx.prepare_cached("DELETE FROM contacts WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

fn index_numbers(tx: &Connection, id: i64, keys: &[NumberKeys]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO contact_numbers (contact_id, e164, rdigits) VALUES (?1, ?2, ?3)",
    )?;
    for k in keys {
        stmt.execute(params![id, k.e164, k.rdigits])?;
    }
    Ok(())
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
