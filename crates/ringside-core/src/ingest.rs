//! What Ringside journals for each way a call event reaches it (a webhook, a Xelion
//! notification, its own timeout): one [`Delivery`], built here, with its numbers normalized
//! and its dedupe key. The dedupe keys, unique per real event (the journal stores a key once;
//! the same key again is a duplicate):
//! - a webhook: `<provider>:id:<the provider's delivery id>` when it gives one, else
//!   `<provider>:sha256:<hash of the method, query and body>`;
//! - a Xelion notification: the notice's own key, `xelion:sha256:<hash of the notification>`
//!   (see [`Notice::dedupe_key`]);
//! - a timeout: `ringside:timeout:<call id>:<when the call last changed>`.

use crate::correlate::{self, Timeouts};
use crate::model::{Call, CallEvent, EventKind, Provider};
use crate::phone::{self, DefaultRegion};
use crate::providers::xelion::Notice;
use crate::providers::{Inbound, Parsed};
use crate::store::{ts, Delivery};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// A webhook request `req` for `provider` and what its adapter made of it, received at `now`.
/// `None`: it carries no call event.
pub fn webhook(
    provider: Provider,
    req: &Inbound<'_>,
    parsed: Parsed,
    region: DefaultRegion,
    now: DateTime<Utc>,
) -> Option<Delivery> {
    let dedupe_key = match &parsed.delivery_id {
        Some(id) => format!("{provider}:id:{id}"),
        None => format!("{provider}:sha256:{}", request_hash(req)),
    };
    delivery(
        provider,
        dedupe_key,
        req.content_type().map(str::to_string),
        raw_request(req),
        normalized(parsed.events, region),
        now,
    )
}

/// One Xelion notification out of websocket frame `frame`, received at `now`. `None`: it
/// carries no call event.
pub fn xelion(
    notice: Notice,
    frame: &[u8],
    region: DefaultRegion,
    now: DateTime<Utc>,
) -> Option<Delivery> {
    delivery(
        Provider::Xelion,
        notice.dedupe_key,
        Some("application/json".into()),
        frame.to_vec(),
        normalized(notice.events, region),
        now,
    )
}

/// The event that ends `call` at `now` if it has been silent longer than `limits` allow (see
/// [`correlate::timeout`]), as Ringside's own delivery.
pub fn timeout(call: &Call, now: DateTime<Utc>, limits: &Timeouts) -> Option<Delivery> {
    let event = correlate::timeout(call, now, limits)?;
    delivery(
        Provider::Ringside,
        format!("ringside:timeout:{}:{}", call.id, ts(call.updated_at)),
        None,
        Vec::new(),
        vec![event],
        now,
    )
}

fn delivery(
    source: Provider,
    dedupe_key: String,
    content_type: Option<String>,
    raw: Vec<u8>,
    events: Vec<CallEvent>,
    received_at: DateTime<Utc>,
) -> Option<Delivery> {
    (!events.is_empty()).then_some(Delivery {
        source,
        dedupe_key,
        received_at,
        content_type,
        raw,
        events,
    })
}

/// The most events one delivery carries into the store: a call keeps at most
/// [`correlate::MAX_LEGS`] legs, so a delivery naming more agents than that (one 64 KiB
/// request can name thousands) has nothing more to say, and journaling its every event
/// would cost the single writer and the disk for nothing. The raw request keeps them all.
pub const MAX_EVENTS: usize = correlate::MAX_LEGS + 8;

/// `events` with their numbers in E.164 (`region` for numbers without a country code), at
/// most [`MAX_EVENTS`] of them.
fn normalized(mut events: Vec<CallEvent>, region: DefaultRegion) -> Vec<CallEvent> {
    if events.len() > MAX_EVENTS {
        tracing::warn!(
            "a delivery of {} events for call {}: {MAX_EVENTS} are kept",
            events.len(),
            events[0].provider_call_id
        );
        // The agents' (and keypresses') first ones, then every event that moves the call,
        // the last ones if there are still too many.
        let mut per_agent = 0;
        events.retain(|e| match e.kind {
            EventKind::Ringing { .. }
            | EventKind::LegStopped { .. }
            | EventKind::Keypress { .. } => {
                per_agent += 1;
                per_agent <= correlate::MAX_LEGS
            }
            _ => true,
        });
        let extra = events.len().saturating_sub(MAX_EVENTS);
        events.drain(..extra);
    }
    for ev in &mut events {
        phone::normalize_event(ev, region);
    }
    events
}

/// A hash of everything that makes a delivery what it is: method, query and body.
fn request_hash(req: &Inbound<'_>) -> String {
    let mut h = Sha256::new();
    h.update(req.method.as_str().as_bytes());
    h.update([0]);
    h.update(req.query.unwrap_or("").as_bytes());
    h.update([0]);
    h.update(req.body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What the journal keeps of a request: the body, or for a GET the query string.
fn raw_request(req: &Inbound<'_>) -> Vec<u8> {
    if req.body.is_empty() {
        req.query.unwrap_or("").as_bytes().to_vec()
    } else {
        req.body.to_vec()
    }
}
