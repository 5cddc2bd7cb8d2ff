//! What Ringside journals for each way a call event reaches it (a webhook, a Xelion
//! notification, its own timeout): one [`Delivery`], built here, with its numbers normalized
//! and its dedupe key. The dedupe keys, unique per delivery of one event of one call (the
//! journal stores a key once; the same key again is a duplicate):
//! - a webhook: `<provider>:id:<the provider's delivery id>` when it gives one (each adapter
//!   says what it builds it from: TelTel's event `id`; Whippy's call id, event name and
//!   `updated_at`), else `<provider>:sha256:<hash of the method, query and body>`;
//! - a Xelion notification: the notice's own key, `xelion:sha256:<hash of the notification>`
//!   (see [`Notice::dedupe_key`]);
//! - a timeout: `ringside:timeout:<call id>:<when the call last changed>`;
//! - a provider whose call ids are unique only while the call lives (VoiceShot): the n-th call
//!   under the same ids has `~n` after its call id and its key ([`Delivery::of_call`]), so the
//!   same bytes are a new event of a new call ([`call_of`] says which call a delivery is of).
//!
//! A delivery that carries no call event is journaled all the same when its adapter says why
//! (an event type Ringside does not read): it is acknowledged and changes no call. Its notes,
//! and those of a delivery with a field Ringside could not read, are journaled with it.

use crate::correlate::{self, Timeouts};
use crate::model::{Call, CallEvent, EventKind, Provider};
use crate::phone::{self, DefaultRegion};
use crate::providers::xelion::Notice;
use crate::providers::{wire, Inbound, Parsed};
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

/// One delivery to journal: the raw request and what its adapter made of it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The provider (or `ringside` for Ringside's own events).
    pub source: Provider,
    /// Unique per delivery of one event of one call (see the module docs).
    pub dedupe_key: String,
    pub received_at: DateTime<Utc>,
    pub content_type: Option<String>,
    pub raw: Vec<u8>,
    /// The events, all of one call; none for a delivery Ringside does not read (`notes` says
    /// why).
    pub events: Vec<CallEvent>,
    /// What Ringside could not read in it.
    pub notes: Vec<String>,
}

/// How long after a call ended the same answer, byte for byte, is taken for that call's answer
/// redelivered rather than a new call under the reused ids (see [`call_of`]).
pub const ANSWER_REDELIVERED_WITHIN_S: i64 = 120;

impl Delivery {
    /// This delivery as one of the `n`-th call under its call ids (n from 1), for a provider
    /// that reuses them once a call is over: call ids and dedupe key get `~n` from the second
    /// call on.
    pub fn of_call(&self, n: u32) -> Delivery {
        let mut d = self.clone();
        if n > 1 {
            for e in &mut d.events {
                e.provider_call_id = format!("{}~{n}", e.provider_call_id);
            }
            d.dedupe_key = nth_key(&self.dedupe_key, n);
        }
        d
    }
}

/// The dedupe key of delivery key `key` as one of the `n`-th call under reused ids.
pub fn nth_key(key: &str, n: u32) -> String {
    if n > 1 {
        format!("{key}~{n}")
    } else {
        key.to_string()
    }
}

/// Which call a delivery `d` of a provider that reuses its call ids is of, given `last`, the
/// `n`-th and latest call under those ids, its `events`, and `journaled`, whether a dedupe key
/// was stored before: `Some(k)` for the k-th call (`n + 1`: a new call), `None` for a
/// redelivery of an event stored before. An event that opens a call after `last` is over
/// ([`correlate::starts_again`]) is a new call, unless it is `last`'s own answer again, byte
/// for byte, within [`ANSWER_REDELIVERED_WITHIN_S`] of its end. Anything else is of `last`,
/// unless it was stored for an earlier call.
pub fn call_of(
    d: &Delivery,
    last: &Call,
    events: &[CallEvent],
    n: u32,
    journaled: impl Fn(&str) -> bool,
) -> Option<u32> {
    let first = d.events.first()?;
    if correlate::starts_again(last, events, first) {
        let again = journaled(&nth_key(&d.dedupe_key, n))
            && (d.received_at - last.updated_at).num_seconds() < ANSWER_REDELIVERED_WITHIN_S;
        return (!again).then_some(n + 1);
    }
    let stored_before = (1..=n).any(|k| journaled(&nth_key(&d.dedupe_key, k)));
    (!stored_before).then_some(n)
}

/// A webhook request `req` for `provider` and what its adapter made of it, received at `now`.
pub fn webhook(
    provider: Provider,
    req: &Inbound<'_>,
    parsed: Parsed,
    region: DefaultRegion,
    now: DateTime<Utc>,
) -> Delivery {
    let dedupe_key = match &parsed.delivery_id {
        Some(id) => format!("{provider}:id:{id}"),
        None => format!("{provider}:sha256:{}", request_hash(req)),
    };
    delivery(
        provider,
        dedupe_key,
        req.content_type().map(str::to_string),
        raw_request(req),
        (parsed.events, parsed.notes),
        region,
        now,
    )
}

/// One Xelion notification out of websocket frame `frame`, received at `now`. `None`: it
/// carries no call event and nothing to say about one.
pub fn xelion(
    notice: Notice,
    frame: &[u8],
    region: DefaultRegion,
    now: DateTime<Utc>,
) -> Option<Delivery> {
    (!notice.events.is_empty() || !notice.notes.is_empty()).then(|| {
        delivery(
            Provider::Xelion,
            notice.dedupe_key,
            Some("application/json".into()),
            frame.to_vec(),
            (notice.events, notice.notes),
            region,
            now,
        )
    })
}

/// The event that ends `call` at `now` if it has been silent longer than `limits` allow (see
/// [`correlate::timeout`]), as Ringside's own delivery.
pub fn timeout(call: &Call, now: DateTime<Utc>, limits: &Timeouts) -> Option<Delivery> {
    let event = correlate::timeout(call, now, limits)?;
    Some(Delivery {
        source: Provider::Ringside,
        dedupe_key: format!(
            "ringside:timeout:{}:{}",
            call.id,
            call.updated_at.to_rfc3339_opts(SecondsFormat::Micros, true)
        ),
        received_at: now,
        content_type: None,
        raw: Vec::new(),
        events: vec![event],
        notes: Vec::new(),
    })
}

fn delivery(
    source: Provider,
    dedupe_key: String,
    content_type: Option<String>,
    raw: Vec<u8>,
    (mut events, mut notes): (Vec<CallEvent>, Vec<String>),
    region: DefaultRegion,
    received_at: DateTime<Utc>,
) -> Delivery {
    if events.len() > MAX_EVENTS {
        notes.push(format!(
            "{} events for call {}: the first {MAX_EVENTS} that matter are kept",
            events.len(),
            events[0].provider_call_id
        ));
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
        // No time a provider could mean: the receive time is used instead.
        if let Some(at) = ev.at.filter(|t| !wire::plausible(t)) {
            notes.push(format!(
                "event time {at} is no time a provider means; ignored"
            ));
            ev.at = None;
        }
    }
    Delivery {
        source,
        dedupe_key,
        received_at,
        content_type,
        raw,
        events,
        notes,
    }
}

/// The most events one delivery carries into the store: a call keeps at most
/// [`correlate::MAX_LEGS`] legs, so a delivery naming more agents than that (one 64 KiB
/// request can name thousands) has nothing more to say, and journaling its every event
/// would cost the single writer and the disk for nothing. The raw request keeps them all.
pub const MAX_EVENTS: usize = correlate::MAX_LEGS + 8;

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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use http::{HeaderMap, Method};

    #[test]
    fn a_time_no_provider_means_is_dropped_and_noted_never_stored() {
        let far = Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let parsed = Parsed::events(
            vec![CallEvent::new(Provider::Generic, "c1", EventKind::Started).at(Some(far))],
            None,
        );
        let headers = HeaderMap::new();
        let req = Inbound {
            method: &Method::POST,
            query: None,
            headers: &headers,
            body: b"{}",
        };
        let d = webhook(
            Provider::Generic,
            &req,
            parsed,
            DefaultRegion::parse("US").unwrap(),
            now,
        );
        assert_eq!(d.events[0].at, None);
        assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
    }

    #[test]
    fn an_answer_after_its_call_is_a_new_call_unless_it_is_that_calls_own_redelivered() {
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        let answer = CallEvent::new(
            Provider::Voiceshot,
            "1-3:7",
            EventKind::Answered { by: None },
        );
        let hangup = CallEvent::new(
            Provider::Voiceshot,
            "1-3:7",
            EventKind::Ended {
                answered: Some(true),
                reason: crate::model::EndReason::Completed,
                duration_s: Some(9),
            },
        );
        let mut last = None;
        for (e, at) in [(&answer, 0), (&hangup, 10)] {
            last = Some(correlate::apply(last, e, None, t(at)).call);
        }
        let last = last.unwrap();
        let events = [answer.clone(), hangup.clone()];
        let delivery = |e: &CallEvent, at| Delivery {
            source: Provider::Voiceshot,
            dedupe_key: "voiceshot:sha256:x".into(),
            received_at: t(at),
            content_type: None,
            raw: Vec::new(),
            events: vec![e.clone()],
            notes: Vec::new(),
        };
        let stored = |k: &str| k == "voiceshot:sha256:x";
        let fresh = |_: &str| false;
        // The same bytes soon after: that call's answer again.
        assert_eq!(
            call_of(&delivery(&answer, 30), &last, &events, 1, stored),
            None
        );
        // Long after, or other bytes: a new call.
        assert_eq!(
            call_of(&delivery(&answer, 500), &last, &events, 1, stored),
            Some(2)
        );
        assert_eq!(
            call_of(&delivery(&answer, 30), &last, &events, 1, fresh),
            Some(2)
        );
        // Anything else is of the last call, unless stored before.
        assert_eq!(
            call_of(&delivery(&hangup, 30), &last, &events, 1, fresh),
            Some(1)
        );
        assert_eq!(
            call_of(&delivery(&hangup, 30), &last, &events, 1, stored),
            None
        );
        // A call whose own answer never came: a late answer is its own.
        assert_eq!(
            call_of(&delivery(&answer, 30), &last, &events[1..], 1, fresh),
            Some(1)
        );
        assert_eq!(
            delivery(&answer, 0).of_call(2).events[0].provider_call_id,
            "1-3:7~2"
        );
        assert_eq!(
            delivery(&answer, 0).of_call(2).dedupe_key,
            "voiceshot:sha256:x~2"
        );
    }
}
