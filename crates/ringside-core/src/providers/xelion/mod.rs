//! Xelion PBX CallEvent notifications, one websocket text frame at a time.
//!
//! | notification         | Ringside                                                          |
//! | -------------------- | ----------------------------------------------------------------- |
//! | `newCallEvent`       | `Ringing { agent: calleeUser or calleePhoneNumber }`              |
//! | `callConnectedEvent` | `Answered { by: calleeUser or calleePhoneNumber }`                |
//! | `missedCallEvent`    | `Ended { answered: Some(false), reason: NoAnswer }`               |
//! | `callHungUpEvent`    | `Ended { answered: None, reason: Completed, duration_s: duration }` |
//! | `channelHungUpEvent` | `LegStopped { agent: the filled side, outcome: Cancelled }`       |
//!
//! Agents are named by their user object id when Xelion gives one, else by phone number, and
//! the same preference is used everywhere so a leg's `Ringing`, `Answered` and `LegStopped`
//! match. `channelHungUpEvent` fills only one side (the other side of the channel is gone):
//! that side is the agent whose channel stopped ringing, typically because someone else in a
//! hunt group picked up; it stops that leg, never the call. Without the customer's flow id it
//! yields nothing: keyed by the channel's own `callId` it would open a call of its own.
//!
//! Facts: `from` = `callerPhoneNumber`, `to` = `calleePhoneNumber`, `direction` from
//! `initiation` (its values are undocumented: `incoming`/`inbound`/`in` and
//! `outgoing`/`outbound`/`out` are read, `internal` and anything else give no direction). `at`
//! is `date`: RFC 3339, `YYYY-MM-DD HH:MM:SS[.fff][+hh[:]mm]`, `DD-MM-YYYY HH:MM:SS`, or Unix
//! seconds/milliseconds; without a zone it is read as UTC.
//!
//! # Which id names the call
//! Xelion gives every call leg its own `callId`, and each side a flow id (`callerFlowId`,
//! `calleeFlowId`) that "follows the flow of the call and is the same during the whole call flow
//! (transfer, fall back, etc)". Ringside wants one call per customer conversation, so
//! `provider_call_id` is the *customer's* flow id: `callerFlowId` on incoming calls (and when
//! `initiation` is missing, internal or unknown), `calleeFlowId` on outgoing ones; `callId` only
//! when that flow id is missing.
//!
//! Attended transfer, customer C, agents A and B (the seed's sequence):
//! - C -> A: flows (fC, fA). Ringing and Answered on call `fC`.
//! - A -> B, the consult call: flows (fA', fB). C is no party to it, so fC never appears on it:
//!   it becomes a separate (internal) call keyed by A's flow and cannot end C's call. Its hangup,
//!   which Xelion sends twice with the same `callId`, ends only that consult call (the second
//!   copy is dropped by the engine's dedupe and terminal rules, not here).
//! - C -> B after the transfer keeps caller flow fC, so it stays C's call.
//!
//! The alternatives are worse: keyed by `callId`, a transfer splits C's conversation into two
//! calls; keyed by the callee's flow on an inbound call, the consult and the transferred call
//! may share B's flow (the flow "follows the call" on B's side too), so the consult's hangup could
//! end the customer's call.
//!
//! The hangup of C -> A at the moment of transfer carries fC too, and that one frame does not say
//! that a transfer is under way: on its own it would end C's call. [`Transfers`]
//! (`transfers.rs`) tells the two apart with state across frames.
//!
//! Times: `date` is when the call was initiated, so only `newCallEvent` and `missedCallEvent`
//! (the one event a non-admin account gets, which then opens the call) take their `at` from it;
//! the others happened when they arrive and carry no `at` (Ringside's receive time is used).
//!
//! `missedCallEvent` is taken to be about the call, not about one user of a hunt group (which
//! `channelHungUpEvent` covers); that is the seed's reading but is unconfirmed.
//!
//! # Unconfirmed wrapper
//! The key names of the server-to-client wrapper are not documented. The notification type is
//! any string in the frame (at any depth, shallowest first) equal to one of the five names above,
//! in any case (it sits in a field like `notificationType`, `type` or `messageType`); the
//! CallEvent is the shallowest object with a `callId` field. A frame with no such object is not a
//! call event (the `{"messageType":"test"}` echo, subscription acknowledgements, which may list
//! the notification names) and yields no events. A frame with a CallEvent but none of the five
//! names is unsupported. A top-level JSON array is read as several notifications.
//!
//! The answer to the subscription request is read by [`subscription_answer`]
//! (`subscription.rs`); the `[providers.xelion]` section is [`Xelion`] (`config.rs`).

use super::{wire, Adapter, Inbound, ParseContext, ParseError, Parsed};
use crate::model::{CallEvent, CallFacts, Direction, EndReason, EventKind, LegOutcome, Provider};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;

mod config;
mod subscription;
mod transfers;

pub use config::Xelion;
pub use subscription::{subscription_answer, Subscription};
pub use transfers::{Transfers, TRANSFER_GRACE_S};

const PROVIDER: Provider = Provider::Xelion;

/// Not a webhook: the websocket client (in the server) feeds frames to [`notices`]. Over
/// HTTP a body is read as one frame (tests, fuzzing).
pub const ADAPTER: Adapter = Adapter {
    provider: PROVIDER,
    parse,
    scenarios: &[],
};

/// Every notification Ringside can subscribe to, as Xelion names them.
pub const NOTIFICATIONS: [&str; 5] = [
    "newCallEvent",
    "callConnectedEvent",
    "callHungUpEvent",
    "missedCallEvent",
    "channelHungUpEvent",
];

/// The notifications only an administrator account receives (all but `missedCallEvent`).
pub const ADMIN_ONLY: [&str; 4] = [
    "newCallEvent",
    "callConnectedEvent",
    "callHungUpEvent",
    "channelHungUpEvent",
];

/// The notifications Ringside subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notification {
    NewCall,
    CallConnected,
    CallHungUp,
    MissedCall,
    ChannelHungUp,
}

impl Notification {
    /// The notification named `s` (any case).
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "newcallevent" => Notification::NewCall,
            "callconnectedevent" => Notification::CallConnected,
            "callhungupevent" => Notification::CallHungUp,
            "missedcallevent" => Notification::MissedCall,
            "channelhungupevent" => Notification::ChannelHungUp,
            _ => return None,
        })
    }

    /// Xelion's name for it.
    pub fn wire(self) -> &'static str {
        match self {
            Notification::NewCall => "newCallEvent",
            Notification::CallConnected => "callConnectedEvent",
            Notification::CallHungUp => "callHungUpEvent",
            Notification::MissedCall => "missedCallEvent",
            Notification::ChannelHungUp => "channelHungUpEvent",
        }
    }
}

/// `initiation`. Its values are not documented; these are the plausible spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Initiation {
    Incoming,
    Outgoing,
    Internal,
}

impl Initiation {
    fn from_wire(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "incoming" | "inbound" | "in" => Some(Initiation::Incoming),
            "outgoing" | "outbound" | "out" => Some(Initiation::Outgoing),
            "internal" => Some(Initiation::Internal),
            _ => None,
        }
    }
}

/// The CallEvent fields Ringside reads.
#[derive(Debug, Clone, Default)]
struct WireCallEvent {
    call_id: Option<String>,
    date: Option<String>,
    initiation: Option<String>,
    caller_flow_id: Option<String>,
    callee_flow_id: Option<String>,
    caller_user: Option<String>,
    callee_user: Option<String>,
    caller_phone_number: Option<String>,
    callee_phone_number: Option<String>,
    duration: Option<String>,
}

impl WireCallEvent {
    fn from_object(obj: &Map<String, Value>) -> Self {
        let get = |name: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| text(v))
        };
        WireCallEvent {
            call_id: get("callId"),
            date: get("date"),
            initiation: get("initiation"),
            caller_flow_id: get("callerFlowId"),
            callee_flow_id: get("calleeFlowId"),
            caller_user: get("callerUser"),
            callee_user: get("calleeUser"),
            caller_phone_number: get("callerPhoneNumber"),
            callee_phone_number: get("calleePhoneNumber"),
            duration: get("duration"),
        }
    }

    fn callee(&self) -> Option<String> {
        self.callee_user
            .clone()
            .or_else(|| self.callee_phone_number.clone())
    }

    fn caller(&self) -> Option<String> {
        self.caller_user
            .clone()
            .or_else(|| self.caller_phone_number.clone())
    }
}

/// One notification of a frame: what it is, the key that recognises it when it comes again,
/// and the events it maps to.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub notification: Notification,
    /// `xelion:sha256:<hash of the notification type and the CallEvent object>`: the same
    /// event delivered again (after a reconnect, or the duplicate hangup of an attended
    /// transfer) has the same key, whatever its wrapper or key order.
    pub dedupe_key: String,
    /// Zero or one event (a channel hangup without the customer's flow yields none).
    pub events: Vec<CallEvent>,
    leg: LegFacts,
}

/// What [`Transfers`] needs to know about the call leg a notice is about.
#[derive(Debug, Clone, PartialEq, Default)]
struct LegFacts {
    /// Xelion's `callId`: one leg (C -> A, A -> B, C -> B).
    call_id: Option<String>,
    /// Ringside's call: the customer's flow id.
    flow: String,
    caller: Option<String>,
    callee: Option<String>,
    /// The agent's side of the leg: the callee on incoming calls, the caller on outgoing ones.
    agent: Option<String>,
}

/// A request's body as one frame.
fn parse(req: &Inbound<'_>, ctx: &ParseContext) -> Result<Parsed, ParseError> {
    parse_frame(req.body, ctx).map(|events| Parsed {
        events,
        delivery_id: None,
    })
}

/// Parse one websocket text frame into call events (none for frames that are not call events).
pub fn parse_frame(frame: &[u8], _ctx: &ParseContext) -> Result<Vec<CallEvent>, ParseError> {
    Ok(notices(frame)?.into_iter().flat_map(|n| n.events).collect())
}

/// Parse one websocket text frame into its notifications: none for frames that are not call
/// events, several for a top-level array.
pub fn notices(frame: &[u8]) -> Result<Vec<Notice>, ParseError> {
    let value: Value = wire::json(PROVIDER, frame)?;
    match &value {
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(notice(item)?);
            }
            Ok(out)
        }
        other => Ok(notice(other)?.into_iter().collect()),
    }
}

fn notice(frame: &Value) -> Result<Option<Notice>, ParseError> {
    let Some(obj) = shallowest(frame, |v| match v {
        Value::Object(o) => o
            .keys()
            .any(|k| k.eq_ignore_ascii_case("callId"))
            .then_some(o),
        _ => None,
    }) else {
        return Ok(None);
    };
    let Some(kind_name) = shallowest(frame, |v| match v {
        Value::String(s) => Notification::from_wire(s.trim()),
        _ => None,
    }) else {
        return Err(ParseError::unsupported(
            PROVIDER,
            format!(
                "call event frame with no known notification type (type: {})",
                type_hint(frame).unwrap_or("none")
            ),
        ));
    };
    let call = WireCallEvent::from_object(obj);

    let initiation = call.initiation.as_deref().and_then(Initiation::from_wire);
    let customer_flow = match initiation {
        Some(Initiation::Outgoing) => &call.callee_flow_id,
        Some(Initiation::Incoming | Initiation::Internal) | None => &call.caller_flow_id,
    };
    let dedupe_key = dedupe_key(kind_name, obj);
    if kind_name == Notification::ChannelHungUp && customer_flow.is_none() {
        // A channel's own callId would name a call nobody has seen and open a ghost call.
        return Ok(Some(Notice {
            notification: kind_name,
            dedupe_key,
            events: Vec::new(),
            leg: LegFacts::default(),
        }));
    }
    let call_id = customer_flow
        .clone()
        .or_else(|| call.call_id.clone())
        .ok_or_else(|| ParseError::malformed(PROVIDER, "CallEvent with an empty callId"))?;

    let kind = match kind_name {
        Notification::NewCall => EventKind::Ringing {
            agent: call.callee(),
        },
        Notification::CallConnected => EventKind::Answered { by: call.callee() },
        Notification::MissedCall => EventKind::Ended {
            answered: Some(false),
            reason: EndReason::NoAnswer,
            duration_s: None,
        },
        Notification::CallHungUp => EventKind::Ended {
            answered: None,
            reason: EndReason::Completed,
            duration_s: call.duration.as_deref().and_then(wire::seconds),
        },
        Notification::ChannelHungUp => match call.callee().or_else(|| call.caller()) {
            Some(agent) => EventKind::LegStopped {
                agent,
                outcome: LegOutcome::Cancelled,
            },
            None => EventKind::Details,
        },
    };

    let mut facts = CallFacts {
        direction: initiation.and_then(|i| match i {
            Initiation::Incoming => Some(Direction::Inbound),
            Initiation::Outgoing => Some(Direction::Outbound),
            Initiation::Internal => None,
        }),
        ..CallFacts::default()
    };
    // A channel hangup has one side only; its numbers would blank out nothing but also say
    // nothing about the call as a whole.
    if kind_name != Notification::ChannelHungUp {
        facts.from = call.caller_phone_number.clone();
        facts.to = call.callee_phone_number.clone();
    }
    // `date` is when the call was initiated: the moment of a new (or, for a non-admin account,
    // a missed) call, not of its answer or hangup.
    let at = match kind_name {
        Notification::NewCall | Notification::MissedCall => {
            call.date.as_deref().and_then(timestamp)
        }
        Notification::CallConnected | Notification::CallHungUp | Notification::ChannelHungUp => {
            None
        }
    };

    let leg = LegFacts {
        call_id: call.call_id.clone(),
        flow: call_id.clone(),
        caller: call.caller(),
        callee: call.callee(),
        agent: match initiation {
            Some(Initiation::Outgoing) => call.caller(),
            _ => call.callee(),
        },
    };
    Ok(Some(Notice {
        notification: kind_name,
        dedupe_key,
        events: vec![CallEvent::new(PROVIDER, call_id, kind).at(at).facts(facts)],
        leg,
    }))
}

/// `xelion:sha256:` and the hash of the notification type and the CallEvent object, with keys
/// in a canonical order.
fn dedupe_key(kind: Notification, obj: &Map<String, Value>) -> String {
    fn canonical(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                out.push(b'{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend(Value::String(k.clone()).to_string().as_bytes());
                    out.push(b':');
                    if let Some(v) = o.get(k) {
                        canonical(v, out);
                    }
                }
                out.push(b'}');
            }
            Value::Array(a) => {
                out.push(b'[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    canonical(v, out);
                }
                out.push(b']');
            }
            other => out.extend(other.to_string().as_bytes()),
        }
    }
    let mut bytes = kind.wire().as_bytes().to_vec();
    bytes.push(0);
    canonical(&Value::Object(obj.clone()), &mut bytes);
    let hash = Sha256::digest(&bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("{PROVIDER}:sha256:{hex}")
}

/// Breadth-first search of `root` for the first value `pick` accepts.
fn shallowest<'a, T>(root: &'a Value, pick: impl Fn(&'a Value) -> Option<T>) -> Option<T> {
    let mut queue = VecDeque::from([root]);
    while let Some(v) = queue.pop_front() {
        if let Some(found) = pick(v) {
            return Some(found);
        }
        match v {
            Value::Object(o) => queue.extend(o.values()),
            Value::Array(a) => queue.extend(a.iter()),
            _ => {}
        }
    }
    None
}

/// The frame's type-like field, for the error message on an unknown notification.
fn type_hint(frame: &Value) -> Option<&str> {
    const KEYS: [&str; 5] = [
        "notificationType",
        "type",
        "messageType",
        "eventType",
        "event",
    ];
    shallowest(frame, |v| match v {
        Value::Object(o) => o
            .iter()
            .find(|(k, v)| KEYS.iter().any(|n| k.eq_ignore_ascii_case(n)) && v.is_string())
            .and_then(|(_, v)| v.as_str()),
        _ => None,
    })
}

/// A field's text: strings (trimmed; empty and `"null"` are absent), numbers, or an object
/// reference's `oid`/`id`/`commonName` (in case a user arrives as an object).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && !s.eq_ignore_ascii_case("null")).then(|| s.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => ["oid", "id", "commonName"]
            .iter()
            .find_map(|k| o.get(*k).and_then(text)),
        _ => None,
    }
}

fn timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        // Milliseconds once the number is too large to be seconds of this era.
        return if n.abs() >= 100_000_000_000 {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        };
    }
    if let Some(t) = wire::timestamp(s, wire::utc()) {
        return Some(t);
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    NaiveDateTime::parse_from_str(s, "%d-%m-%Y %H:%M:%S")
        .ok()
        .map(|n| Utc.from_utc_datetime(&n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The frames of one fixture: `tests/fixtures/xelion/NAME.jsonl`, one frame per line.
    pub(super) fn frames(name: &str) -> Vec<String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/xelion")
            .join(format!("{name}.jsonl"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Every event of every frame, as (provider_call_id, kind).
    pub(super) fn events(name: &str) -> Vec<(String, EventKind)> {
        frames(name)
            .iter()
            .flat_map(|f| {
                parse_frame(f.as_bytes(), &ParseContext::default())
                    .unwrap_or_else(|e| panic!("{name}: {e}\n{f}"))
            })
            .map(|e| (e.provider_call_id, e.kind))
            .collect()
    }

    pub(super) fn ringing(agent: &str) -> EventKind {
        EventKind::Ringing {
            agent: Some(agent.to_string()),
        }
    }

    pub(super) fn answered(by: &str) -> EventKind {
        EventKind::Answered {
            by: Some(by.to_string()),
        }
    }

    pub(super) fn hung_up(duration: u64) -> EventKind {
        EventKind::Ended {
            answered: None,
            reason: EndReason::Completed,
            duration_s: Some(duration),
        }
    }

    pub(super) fn id(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn answered_call_rings_connects_and_hangs_up() {
        assert_eq!(
            events("answered"),
            vec![
                (id("flow-c-1001"), ringing("user-a")),
                (id("flow-c-1001"), answered("user-a")),
                (id("flow-c-1001"), hung_up(95)),
            ]
        );
        let first = parse_frame(frames("answered")[0].as_bytes(), &ParseContext::default())
            .unwrap()
            .remove(0);
        assert_eq!(first.provider, Provider::Xelion);
        assert_eq!(
            first.at.unwrap().to_rfc3339(),
            "2024-03-05T09:30:00+00:00",
            "a date without a zone is UTC"
        );
        assert_eq!(
            first.facts,
            CallFacts {
                direction: Some(Direction::Inbound),
                from: Some(id("+31201234567")),
                to: Some(id("+31858889999")),
                ..CallFacts::default()
            }
        );
    }

    #[test]
    fn missed_call_ends_unanswered() {
        assert_eq!(
            events("missed"),
            vec![
                (id("flow-c-2001"), ringing("user-a")),
                (
                    id("flow-c-2001"),
                    EventKind::Ended {
                        answered: Some(false),
                        reason: EndReason::NoAnswer,
                        duration_s: None,
                    }
                ),
                // Xelion may also hang the call up; the engine drops it (already terminal).
                (id("flow-c-2001"), hung_up(0)),
            ]
        );
    }

    #[test]
    fn attended_transfer_keeps_the_customer_call_apart_from_the_consult_call() {
        assert_eq!(
            events("attended_transfer"),
            vec![
                // C -> A
                (id("flow-c-3001"), ringing("user-a")),
                (id("flow-c-3001"), answered("user-a")),
                // A -> B consult: its own call, keyed by A's flow, never the customer's.
                (id("flow-a-3002"), ringing("user-b")),
                (id("flow-a-3002"), answered("user-b")),
                // The transfer: C -> A hangs up (on its own it ends C's call; `Transfers` fixes that).
                (id("flow-c-3001"), hung_up(62)),
                // A -> B hangs up twice with the same callId: only the consult call.
                (id("flow-a-3002"), hung_up(20)),
                (id("flow-a-3002"), hung_up(20)),
                // C -> B ends: still C's flow.
                (id("flow-c-3001"), hung_up(140)),
            ]
        );
        let frames = frames("attended_transfer");
        let dup: Vec<_> = frames[5..7]
            .iter()
            .map(|f| parse_frame(f.as_bytes(), &ParseContext::default()).unwrap())
            .collect();
        assert_eq!(
            dup[0], dup[1],
            "the duplicate hangup maps to the same event"
        );
    }

    #[test]
    fn hunt_group_stops_the_losing_channel_without_ending_the_call() {
        assert_eq!(
            events("hunt_group"),
            vec![
                (id("flow-c-4001"), ringing("user-a")),
                (id("flow-c-4001"), ringing("user-b")),
                (id("flow-c-4001"), answered("user-b")),
                (
                    id("flow-c-4001"),
                    EventKind::LegStopped {
                        agent: id("user-a"),
                        outcome: LegOutcome::Cancelled,
                    }
                ),
                (id("flow-c-4001"), hung_up(48)),
            ]
        );
    }

    #[test]
    fn outgoing_calls_are_keyed_by_the_customers_flow() {
        assert_eq!(
            events("outgoing"),
            vec![
                (id("flow-x-5001"), ringing("+31612345678")),
                (id("flow-x-5001"), answered("+31612345678")),
                (id("flow-x-5001"), hung_up(33)),
            ]
        );
    }

    #[test]
    fn wrappers_are_found_wherever_they_sit_and_other_frames_are_ignored() {
        let ctx = ParseContext::default();
        let frames = frames("wrappers");
        let got: Vec<Result<Vec<EventKind>, &'static str>> = frames
            .iter()
            .map(|f| match parse_frame(f.as_bytes(), &ctx) {
                Ok(events) => Ok(events.into_iter().map(|e| e.kind).collect()),
                Err(ParseError::Malformed { .. }) => Err("malformed"),
                Err(ParseError::Unsupported { .. }) => Err("unsupported"),
                Err(ParseError::Method { .. }) => Err("method"),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                // Flat: type and CallEvent fields side by side.
                Ok(vec![ringing("user-a")]),
                // Nested under `notification` / `object`.
                Ok(vec![answered("user-a")]),
                // Type named `messageType`, CallEvent under `data.callEvent`, type in any case.
                Ok(vec![hung_up(7)]),
                // A batch (top-level array) of two notifications.
                Ok(vec![ringing("user-a"), ringing("user-b")]),
                // The `test` echo, a subscription acknowledgement listing the names, an empty
                // object: not call events.
                Ok(vec![]),
                Ok(vec![]),
                Ok(vec![]),
                // A CallEvent under a notification type Ringside does not know.
                Err("unsupported"),
                // Not JSON.
                Err("malformed"),
            ]
        );
    }

    #[test]
    fn dates_parse_tolerantly() {
        let t = |s| timestamp(s).map(|t| t.to_rfc3339());
        let utc = Some("2024-03-05T09:30:00+00:00".to_string());
        assert_eq!(t("2024-03-05 09:30:00"), utc);
        assert_eq!(t("2024-03-05T09:30:00"), utc);
        assert_eq!(t("2024-03-05T10:30:00+01:00"), utc);
        assert_eq!(t("2024-03-05 10:30:00.000+0100"), utc);
        assert_eq!(t("1709631000"), utc);
        assert_eq!(t("1709631000000"), utc);
        assert_eq!(t("05-03-2024 09:30:00"), utc);
        assert_eq!(t("yesterday"), None);
    }

    #[test]
    fn only_new_and_missed_calls_take_their_time_from_date() {
        let f = frames("missed");
        let ev = |i: usize| parse_frame(f[i].as_bytes(), &ParseContext::default()).unwrap();
        assert!(ev(0)[0].at.is_some());
        assert!(
            ev(1)[0].at.is_some(),
            "a missed call opens the call for non-admins"
        );
        assert_eq!(ev(2)[0].at, None, "a hangup happened when it arrives");
    }

    #[test]
    fn the_same_event_in_another_wrapper_or_key_order_has_the_same_dedupe_key() {
        let key = |f: &str| notices(f.as_bytes()).unwrap().remove(0).dedupe_key;
        let a = key(
            r#"{"notificationType":"newCallEvent","object":{"callId":"1","callerFlowId":"f","calleeUser":"u"}}"#,
        );
        let b = key(
            r#"{"type":"newCallEvent","data":{"calleeUser":"u","callerFlowId":"f","callId":"1"}}"#,
        );
        let c = key(
            r#"{"notificationType":"callConnectedEvent","object":{"callId":"1","callerFlowId":"f","calleeUser":"u"}}"#,
        );
        let d = key(
            r#"{"notificationType":"newCallEvent","object":{"callId":"2","callerFlowId":"f","calleeUser":"u"}}"#,
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert!(a.starts_with("xelion:sha256:"));
    }

    #[test]
    fn every_prefix_of_a_frame_is_an_error_or_events_never_a_panic() {
        let ctx = ParseContext::default();
        for name in ["attended_transfer", "wrappers"] {
            for frame in frames(name) {
                for end in 0..frame.len() {
                    let _ = parse_frame(&frame.as_bytes()[..end], &ctx);
                }
            }
        }
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(parse_frame(deep.as_bytes(), &ctx).is_err());
    }
}
