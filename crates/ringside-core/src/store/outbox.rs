//! The outbound webhooks' outbox: each message (a finished call, a missed call resolved or
//! done) is journaled in the transaction of the change that made it, with one delivery per
//! URL that wants it; the sender (`ringside-app`) posts them, retries with backoff, and an admin
//! can send one again.

use super::{parse_ts, ts, Writer};
use crate::model::Call;
use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use ts_rs::TS;

/// A URL and the events it wants (`[[hub.webhooks]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxTarget {
    pub url: String,
    pub events: Vec<String>,
}

/// One message to one URL, due to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub msg: i64,
    /// The message's id (`webhook-id`), the same for every attempt and URL.
    pub msg_id: String,
    pub url: String,
    pub payload: String,
    pub attempts: u32,
}

/// A message and how its deliveries went, for the admin (`GET /api/webhooks`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct OutboxMessage {
    #[ts(type = "number")]
    pub id: i64,
    pub msg_id: String,
    pub event: String,
    pub created_at: DateTime<Utc>,
    pub deliveries: Vec<OutboxDelivery>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct OutboxDelivery {
    pub url: String,
    pub attempts: u32,
    /// When it was received (a 2xx); null while it is not.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it is tried next; null once sent or given up.
    pub next_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// The body of a message: Standard Webhooks' `type`, `timestamp` and `data` (the call).
#[derive(Serialize)]
struct Payload<'a> {
    r#type: &'a str,
    timestamp: DateTime<Utc>,
    data: &'a Call,
}

/// Journal `event` about `call` for every target that wants it (nothing without one).
pub(super) fn enqueue(
    tx: &Connection,
    targets: &[OutboxTarget],
    event: &str,
    call: &Call,
    now: DateTime<Utc>,
) -> Result<()> {
    let wanted: Vec<&OutboxTarget> = targets
        .iter()
        .filter(|t| t.events.iter().any(|e| e == event))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let payload = serde_json::to_string(&Payload {
        r#type: event,
        timestamp: now,
        data: call,
    })?;
    let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    tx.prepare_cached(
        "INSERT INTO outbox (msg_id, event, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![msg_id, event, payload, ts(now)])?;
    let msg = tx.last_insert_rowid();
    let mut delivery = tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox_deliveries (msg, url, next_at) VALUES (?1, ?2, ?3)",
    )?;
    for t in wanted {
        delivery.execute(params![msg, t.url, ts(now)])?;
    }
    Ok(())
}

/// Deliveries due by `now`, oldest first, at most `limit`.
pub(super) fn due(conn: &Connection, now: DateTime<Utc>, limit: usize) -> Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.msg, o.msg_id, d.url, o.payload, d.attempts
         FROM outbox_deliveries d JOIN outbox o ON o.id = d.msg
         WHERE d.sent_at IS NULL AND d.next_at IS NOT NULL AND d.next_at <= ?1
         ORDER BY d.next_at LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![ts(now), limit as i64], |r| {
        Ok(Due {
            msg: r.get(0)?,
            msg_id: r.get(1)?,
            url: r.get(2)?,
            payload: r.get(3)?,
            attempts: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// When the next delivery falls due, if any does.
pub(super) fn next_due(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let at: Option<String> = conn
        .query_row(
            "SELECT min(next_at) FROM outbox_deliveries WHERE sent_at IS NULL",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    at.map(|a| parse_ts(&a)).transpose()
}

/// The newest messages, with their deliveries.
pub(super) fn list(conn: &Connection, limit: usize) -> Result<Vec<OutboxMessage>> {
    let mut msgs = conn.prepare_cached(
        "SELECT id, msg_id, event, created_at FROM outbox ORDER BY id DESC LIMIT ?1",
    )?;
    let mut deliveries = conn.prepare_cached(
        "SELECT url, attempts, sent_at, next_at, last_error FROM outbox_deliveries
         WHERE msg = ?1 ORDER BY url",
    )?;
    let time = |t: Option<String>| t.map(|t| parse_ts(&t)).transpose();
    let rows: Vec<(i64, String, String, String)> = msgs
        .query_map([limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(id, msg_id, event, created_at)| {
            let mut ds = deliveries.query([id])?;
            let mut list = Vec::new();
            while let Some(r) = ds.next()? {
                list.push(OutboxDelivery {
                    url: r.get(0)?,
                    attempts: r.get(1)?,
                    sent_at: time(r.get(2)?)?,
                    next_at: time(r.get(3)?)?,
                    last_error: r.get(4)?,
                });
            }
            Ok(OutboxMessage {
                id,
                msg_id,
                event,
                created_at: parse_ts(&created_at)?,
                deliveries: list,
            })
        })
        .collect()
}

impl Writer {
    /// Where finished calls are posted from now on (the settings changed).
    pub fn set_outbox(&mut self, targets: Vec<OutboxTarget>) {
        self.outbox = targets;
    }

    /// Message `msg` reached `url` at `now`.
    pub fn outbox_sent(&mut self, msg: i64, url: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE outbox_deliveries SET attempts = attempts + 1, sent_at = ?3,
                     next_at = NULL, last_error = NULL WHERE msg = ?1 AND url = ?2",
            )?
            .execute(params![msg, url, ts(now)])?;
        Ok(())
    }

    /// Message `msg` did not reach `url`: try again at `next` (None: give up).
    pub fn outbox_failed(
        &mut self,
        msg: i64,
        url: &str,
        error: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE outbox_deliveries SET attempts = attempts + 1, next_at = ?3,
                     last_error = ?4 WHERE msg = ?1 AND url = ?2",
            )?
            .execute(params![msg, url, next.map(ts), error])?;
        Ok(())
    }

    /// Send message `id` again to every URL it went to, at `now`; whether it exists.
    pub fn outbox_replay(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE outbox_deliveries SET sent_at = NULL, next_at = ?2, attempts = 0
                 WHERE msg = ?1",
            )?
            .execute(params![id, ts(now)])?;
        Ok(n > 0)
    }
}
