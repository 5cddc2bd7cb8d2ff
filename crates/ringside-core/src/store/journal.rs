//! Storing deliveries: each is journaled and folded into its call in the same transaction, a
//! batch of them per transaction; an event that arrives out of order folds its call again from
//! its journaled deliveries (see [`correlate::arrival`]). [`Writer::rebuild`] folds the whole
//! journal again the same way. The writer keeps recent calls' histories in memory
//! ([`Histories`]) so it need not read them back from the journal.

use super::calls::{insert_timeline, load_call, save_call, settle, wrapups};
use super::contacts::{decorate, is_stored};
use super::outbox::{self, OutboxTarget};
use super::search::flush_search;
use super::{parse_ts, ts, Delivery, Stored, Writer};
use crate::contacts::LookupSettings;
use crate::correlate::{self, Arrival, Journaled};
use crate::ingest;
use crate::model::*;
use crate::providers;
use anyhow::{Context, Result};
use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::{params, Connection};
use std::borrow::Cow;
use std::collections::HashMap;

impl Writer {
    /// Store `deliveries` in one transaction (one fsync). Each delivery is journaled and folded
    /// into its calls; a duplicate stores nothing. A delivery that fails is rolled back alone.
    /// Ringside's clock for each delivery is its `received_at`.
    pub fn store_batch(&mut self, deliveries: &[Delivery]) -> Result<Vec<Result<Stored>>> {
        let with = With {
            lookup: &self.lookup,
            outbox: &self.outbox,
        };
        let result = store_all(&mut self.conn, &mut self.histories, &with, deliveries);
        match result {
            Ok(_) => self.histories.batch_committed(),
            Err(_) => self.histories.forget(),
        }
        result
    }

    /// Fold the whole journal again into calls and timelines, from scratch, keeping what the
    /// team did with missed calls (done, claims) and the agents' wrap-ups. Posts no webhook
    /// again. Returns how many calls there are.
    pub fn rebuild(&mut self) -> Result<usize> {
        self.histories.forget();
        let mut histories = Histories::default();
        let tx = self.conn.transaction()?;
        let kept: Vec<(String, bool, FollowUp)> = {
            let mut s = tx
                .prepare("SELECT data FROM calls WHERE done = 1 OR data LIKE '%\"claimed_by\"%'")?;
            let rows = s.query_map([], |r| r.get::<_, String>(0))?;
            let mut v = Vec::new();
            for r in rows {
                let c: Call = serde_json::from_str(&r?)?;
                v.push((c.id, c.done, c.follow_up));
            }
            v
        };
        // What the CRM said about calls is not in the journal: keep it.
        let remote: Vec<(String, Vec<ContactMatch>)> = {
            let mut s = tx.prepare("SELECT data FROM calls WHERE data LIKE '%\"key\":\"crm:%'")?;
            let rows = s.query_map([], |r| r.get::<_, String>(0))?;
            let mut v = Vec::new();
            for r in rows {
                let c: Call = serde_json::from_str(&r?)?;
                let kept: Vec<ContactMatch> =
                    c.contacts.into_iter().filter(|m| !is_stored(m)).collect();
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
            let with = With {
                lookup: &self.lookup,
                outbox: &[],
            };
            while let Some(r) = rows.next()? {
                let (seq, received_at, events) = journal_row(r)?;
                fold(&tx, &events, seq, received_at, &mut histories, &with)?;
                histories.delivery_stored();
                histories.batch_committed();
            }
        }
        for (id, kept) in remote {
            if let Some(mut c) = load_call(&tx, &id)? {
                c.contacts.extend(kept);
                self.lookup.sort(&mut c.contacts);
                save_call(&tx, &mut c)?;
            }
        }
        for (id, w) in wrapups(&tx)? {
            if let Some(mut c) = load_call(&tx, &id)? {
                c.wrapup = Some(w);
                save_call(&tx, &mut c)?;
            }
        }
        for (id, done, follow_up) in kept {
            if let Some(mut c) = load_call(&tx, &id)? {
                c.done |= done;
                c.follow_up = follow_up;
                save_call(&tx, &mut c)?;
            }
        }
        flush_search(&tx)?;
        let n: i64 = tx.query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))?;
        tx.commit()?;
        Ok(n as usize)
    }
}

/// What the writer folds with: how calls find contacts, where finished calls are posted.
struct With<'a> {
    lookup: &'a LookupSettings,
    outbox: &'a [OutboxTarget],
}

pub(super) fn len(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM journal", [], |r| r.get(0))?)
}

/// Calls' journaled events, in arrival order, as committed; and what the batch being written
/// adds. Only a cache: a call not in it is read from the journal. Bounded: cleared when
/// [`Histories::MAX_CALLS`] are held.
#[derive(Default)]
pub(super) struct Histories {
    committed: HashMap<String, Vec<Journaled>>,
    /// Calls the current batch changed (their whole history), kept once the batch commits.
    batch: HashMap<String, Vec<Journaled>>,
    /// What the delivery being stored changed, kept once its savepoint is released.
    delivery: Vec<(String, Vec<Journaled>)>,
}

impl Histories {
    const MAX_CALLS: usize = 1024;

    /// The history of call `id` known before the delivery being stored, if cached.
    fn get(&self, id: &str) -> Option<&Vec<Journaled>> {
        self.batch.get(id).or_else(|| self.committed.get(id))
    }

    /// The delivery being stored left call `id` with `history`.
    fn stage(&mut self, id: &str, history: Vec<Journaled>) {
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

fn store_all(
    conn: &mut Connection,
    histories: &mut Histories,
    with: &With,
    deliveries: &[Delivery],
) -> Result<Vec<Result<Stored>>> {
    // Deliveries practically never fail, so first try the batch without a savepoint per
    // delivery (a savepoint costs a sub-journal per delivery).
    {
        let tx = conn.transaction()?;
        let mut out = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            match store_one(&tx, d, histories, with) {
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
        match store_one(&sp, d, histories, with) {
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
    with: &With,
) -> Result<Stored> {
    if let Some(first) = d.events.first() {
        anyhow::ensure!(
            d.events.iter().all(|e| same_call(e, first)),
            "a delivery holds the events of one call; this one names several"
        );
    }
    let Some(d) = of_which_call(tx, d)? else {
        return Ok(Stored::Duplicate);
    };
    let events = serde_json::to_string(&d.events)?;
    let notes = (!d.notes.is_empty())
        .then(|| serde_json::to_string(&d.notes))
        .transpose()?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO journal (source, dedupe_key, received_at, content_type, raw, events, notes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            d.source.as_str(),
            d.dedupe_key,
            ts(d.received_at),
            d.content_type,
            d.raw,
            events,
            notes
        ],
    )?;
    if inserted == 0 {
        return Ok(Stored::Duplicate);
    }
    let seq = tx.last_insert_rowid();
    // As the journal keeps it (microseconds), so `rebuild` folds with the very same clock.
    let received_at = d.received_at.trunc_subsecs(6);
    let calls = fold(tx, &d.events, seq, received_at, histories, with)?;
    Ok(Stored::New { seq, calls })
}

/// `d` as a delivery of the call it is of, for a provider whose call ids are unique only
/// while the call lives (the n-th call under the same ids, see [`ingest::call_of`]); `None`
/// for a redelivery of an event stored before. Any other delivery as it is.
fn of_which_call<'a>(tx: &Connection, d: &'a Delivery) -> Result<Option<Cow<'a, Delivery>>> {
    let Some(first) = d.events.first() else {
        return Ok(Some(Cow::Borrowed(d)));
    };
    if !providers::adapter(first.provider).is_some_and(|a| a.reports.ids_reused) {
        return Ok(Some(Cow::Borrowed(d)));
    }
    let nth = |n: u32| call_id(first.provider, &d.of_call(n).events[0].provider_call_id);
    let Some(mut last) = load_call(tx, &nth(1))? else {
        return Ok(Some(Cow::Borrowed(d)));
    };
    let mut n = 1;
    while let Some(next) = load_call(tx, &nth(n + 1))? {
        last = next;
        n += 1;
    }
    let mut stmt = tx.prepare_cached("SELECT 1 FROM journal WHERE dedupe_key = ?1")?;
    let mut stored = Vec::new();
    for k in 1..=n {
        let key = ingest::nth_key(&d.dedupe_key, k);
        if stmt.exists([&key])? {
            stored.push(key);
        }
    }
    let journaled = |key: &str| stored.iter().any(|k| k == key);
    let events: Vec<CallEvent> = history(tx, last.provider, &last.provider_call_id, i64::MAX)?
        .into_iter()
        .map(|j| j.event)
        .collect();
    Ok(
        ingest::call_of(d, &last, &events, n, journaled).map(|k| match k {
            1 => Cow::Borrowed(d),
            k => Cow::Owned(d.of_call(k)),
        }),
    )
}

/// Apply `events` (journal row `seq`, all of one call) to their call; returns the call if it
/// changed.
///
/// Where they fall in the call's course is [`correlate::arrival`]'s to say: in the usual case
/// they come after everything the call has seen and are applied to it; when they belong
/// earlier (a hangup arrived before the answer, a retry came late) the call is the one folded
/// again from its journaled events and its timeline is rewritten. [`Writer::rebuild`] takes the
/// same path, so it gives the same calls.
fn fold(
    tx: &Connection,
    events: &[CallEvent],
    seq: i64,
    now: DateTime<Utc>,
    histories: &mut Histories,
    with: &With,
) -> Result<Vec<Call>> {
    let lookup = with.lookup;
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
    let arrived = events.iter().map(|e| Journaled {
        seq,
        received_at: now,
        event: e.clone(),
    });
    let history: Vec<Journaled> = match (&prev, histories.get(&id)) {
        (None, _) => arrived.collect(),
        (Some(_), Some(known)) => known.iter().cloned().chain(arrived).collect(),
        (Some(_), None) => call_history(tx, first, seq)?,
    };
    let arrival = correlate::arrival(&history, events.len(), now);
    histories.stage(&id, history);
    let was_over = prev.as_ref().is_some_and(|p| p.state.is_terminal());
    let changed = match (arrival, prev) {
        (Arrival::OutOfOrder { call, timeline }, Some(prev)) => {
            refold(tx, &id, prev, *call, &timeline, now, lookup)?
        }
        // A new call has nothing to be out of order with.
        (_, prev) => apply_in_order(tx, &id, prev, events, seq, now, lookup)?,
    };
    // The call, and the missed calls it resolved (see `calls::settle`).
    for c in &changed {
        if c.id != id {
            outbox::enqueue(tx, with.outbox, "missed.resolved", c, now)?;
        } else if c.state.is_terminal() && !was_over {
            let event = match c.state {
                CallState::Missed => "call.missed",
                _ => "call.ended",
            };
            outbox::enqueue(tx, with.outbox, event, c, now)?;
        }
    }
    Ok(changed)
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
    call.follow_up = prev.follow_up.clone();
    call.seq = prev.seq;
    call.wrapup = prev.wrapup.clone();
    call.updated_at = prev.updated_at;
    // Who the caller is was worked out on the call as it was; it holds unless a number changed.
    call.from_display = prev.from_display.clone();
    call.to_display = prev.to_display.clone();
    call.contacts = prev.contacts.clone();
    decorate(tx, Some(&prev), &mut call, lookup)?;
    let mut settled = settle(tx, Some(&prev), &mut call, now)?;
    let changed = call != prev;
    if changed {
        call.updated_at = now;
        save_call(tx, &mut call)?;
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
    if changed {
        settled.insert(0, call);
        return Ok(settled);
    }
    Ok(settled)
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
            decorate(tx, before.as_ref(), &mut c, lookup)?;
            let settled = settle(tx, before.as_ref(), &mut c, now)?;
            save_call(tx, &mut c)?;
            Ok([c].into_iter().chain(settled).collect())
        }
        _ => Ok(Vec::new()),
    }
}

/// The events of `ev`'s call journaled up to and including row `upto`, in arrival order.
fn call_history(tx: &Connection, ev: &CallEvent, upto: i64) -> Result<Vec<Journaled>> {
    history(tx, ev.provider, &ev.provider_call_id, upto)
}

/// The events of `provider`'s call `provider_call_id` journaled up to and including row
/// `upto`, in arrival order.
fn history(
    tx: &Connection,
    provider: Provider,
    provider_call_id: &str,
    upto: i64,
) -> Result<Vec<Journaled>> {
    let mut stmt = tx.prepare_cached(
        "SELECT seq, received_at, events FROM journal
         WHERE json_extract(events, '$[0].provider_call_id') = ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let mut rows = stmt.query(params![provider_call_id, upto])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let (seq, received_at, events) = journal_row(r)?;
        out.extend(
            events
                .into_iter()
                .filter(|e| e.provider == provider)
                .map(|event| Journaled {
                    seq,
                    received_at,
                    event,
                }),
        );
    }
    Ok(out)
}

/// A journal row read as `seq, received_at, events`.
fn journal_row(r: &rusqlite::Row<'_>) -> Result<(i64, DateTime<Utc>, Vec<CallEvent>)> {
    let received_at = parse_ts(&r.get::<_, String>(1)?)?;
    let events = serde_json::from_str(&r.get::<_, String>(2)?)?;
    Ok((r.get(0)?, received_at, events))
}

fn same_call(a: &CallEvent, b: &CallEvent) -> bool {
    a.provider == b.provider && a.provider_call_id == b.provider_call_id
}
