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
//! Known limitation: the hangup of C -> A at the moment of transfer carries fC too, and a single
//! frame does not say that a transfer is under way, so it ends C's call in Ringside (answered by
//! A, duration of the C -> A part); the later C -> B hangup arrives after the terminal state and
//! changes nothing. Telling the two apart needs state across frames (for example holding an
//! Xelion `Ended` for a short grace period and dropping it if the same flow is still active),
//! which belongs in the engine, not in this stateless mapping.
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

use super::wire;
use super::{ParseContext, ParseError};
use crate::model::{CallEvent, CallFacts, Direction, EndReason, EventKind, LegOutcome, Provider};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};
use std::collections::VecDeque;

const PROVIDER: Provider = Provider::Xelion;

/// The notifications Ringside subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notification {
    NewCall,
    CallConnected,
    CallHungUp,
    MissedCall,
    ChannelHungUp,
}

impl Notification {
    fn from_wire(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "newcallevent" => Notification::NewCall,
            "callconnectedevent" => Notification::CallConnected,
            "callhungupevent" => Notification::CallHungUp,
            "missedcallevent" => Notification::MissedCall,
            "channelhungupevent" => Notification::ChannelHungUp,
            _ => return None,
        })
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

/// Parse one websocket text frame into call events (none for frames that are not call events).
pub fn parse_frame(frame: &[u8], _ctx: &ParseContext) -> Result<Vec<CallEvent>, ParseError> {
    let value: Value = wire::json(PROVIDER, frame)?;
    match &value {
        Value::Array(items) => {
            let mut events = Vec::new();
            for item in items {
                events.extend(notification(item)?);
            }
            Ok(events)
        }
        other => Ok(notification(other)?.into_iter().collect()),
    }
}

fn notification(frame: &Value) -> Result<Option<CallEvent>, ParseError> {
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
    if kind_name == Notification::ChannelHungUp && customer_flow.is_none() {
        // A channel's own callId would name a call nobody has seen and open a ghost call.
        return Ok(None);
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
            duration_s: call.duration.as_deref().and_then(seconds),
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

    Ok(Some(
        CallEvent::new(PROVIDER, call_id, kind)
            .at(call.date.as_deref().and_then(timestamp))
            .facts(facts),
    ))
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

/// Whole seconds from `"42"`, `"42.8"` or `"00:00:42"`.
fn seconds(v: &str) -> Option<u64> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(s);
    }
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then_some(s as u64);
    }
    let parts: Vec<u64> = v
        .split(':')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [m, s] => Some(m.checked_mul(60)?.checked_add(*s)?),
        [h, m, s] => h
            .checked_mul(3600)?
            .checked_add(m.checked_mul(60)?)?
            .checked_add(*s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The frames of one fixture: `tests/fixtures/xelion/NAME.jsonl`, one frame per line.
    fn frames(name: &str) -> Vec<String> {
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
    fn events(name: &str) -> Vec<(String, EventKind)> {
        frames(name)
            .iter()
            .flat_map(|f| {
                parse_frame(f.as_bytes(), &ParseContext::default())
                    .unwrap_or_else(|e| panic!("{name}: {e}\n{f}"))
            })
            .map(|e| (e.provider_call_id, e.kind))
            .collect()
    }

    fn ringing(agent: &str) -> EventKind {
        EventKind::Ringing {
            agent: Some(agent.to_string()),
        }
    }

    fn answered(by: &str) -> EventKind {
        EventKind::Answered {
            by: Some(by.to_string()),
        }
    }

    fn hung_up(duration: u64) -> EventKind {
        EventKind::Ended {
            answered: None,
            reason: EndReason::Completed,
            duration_s: Some(duration),
        }
    }

    fn id(s: &str) -> String {
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
                // The transfer: C -> A hangs up (ends C's call in Ringside: see module docs).
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
    fn dates_and_durations_parse_tolerantly() {
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
        assert_eq!(seconds("42"), Some(42));
        assert_eq!(seconds("42.9"), Some(42));
        assert_eq!(seconds("01:02"), Some(62));
        assert_eq!(seconds("1:00:05"), Some(3605));
        assert_eq!(seconds("-1"), None);
        assert_eq!(seconds("99999999999999999999:0"), None);
        assert_eq!(seconds(""), None);
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
