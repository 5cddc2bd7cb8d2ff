//! Xelion PBX CallEvent notifications, one websocket text frame at a time.
//!
//! | notification         | Ringside                                                          |
//! | -------------------- | ----------------------------------------------------------------- |
//! | `newCallEvent`       | `Ringing { agent: calleeUser or calleePhoneNumber }`              |
//! | `callConnectedEvent` | `Answered { by: calleeUser or calleePhoneNumber }`                |
//! | `missedCallEvent`    | `Missed { agent: calleeUser or calleePhoneNumber }`               |
//! | `callHungUpEvent`    | `Ended { answered: None, reason: Completed, duration_s: duration }` |
//! | `channelHungUpEvent` | `LegStopped { agent: the filled side, outcome: Cancelled }`       |
//! | another notification type with a CallEvent | nothing (journaled and logged)       |
//!
//! The seed and what Ringside does with each field: `docs/providers/xelion.md`.
//!
//! Agents are named by their user object id when Xelion gives one, else by phone number, and
//! the same preference is used everywhere so a leg's `Ringing`, `Answered` and `LegStopped`
//! match. `channelHungUpEvent` fills only one side (the other side of the channel is gone):
//! that side is the agent whose channel stopped ringing, typically because someone else in a
//! hunt group picked up; it stops that leg, never the call. It may lack the customer's flow id
//! (only the callee's fields are filled): then the notice carries no event and [`Transfers`]
//! finds the customer's call by the leg's `callId`; keyed by the channel's own `callId` it
//! would open a call of its own.
//!
//! `missedCallEvent` is about one user who did not pick up: that leg stops, and a call someone
//! else answered goes on; its `callHungUpEvent` says how it ended. Only when it is the first
//! Ringside hears of the call (an account without admin rights gets nothing else) is it the
//! end of the call, missed.
//!
//! Facts: `from` = `callerPhoneNumber`, `to` = `calleePhoneNumber`, `direction` from
//! `initiation` (its values are undocumented: `incoming`/`inbound`/`in` and
//! `outgoing`/`outbound`/`out` are read, `internal` gives no direction). Without a recognised
//! `initiation` the users tell: a `callerUser` with no `calleeUser` is an agent calling out, a
//! `calleeUser` with no `callerUser` a call coming in, both an internal call. `at` is `date`:
//! RFC 3339, `YYYY-MM-DD HH:MM:SS[.fff][+hh[:]mm]`, `DD-MM-YYYY HH:MM:SS`, or Unix
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
//! # Unconfirmed wrapper
//! The key names of the server-to-client wrapper are not documented. The notification type is
//! any string in the frame (at any depth, shallowest first) equal to one of the five names above,
//! in any case (it sits in a field like `notificationType`, `type` or `messageType`); the
//! CallEvent is the shallowest object with a `callId` field. A frame with no such object is not a
//! call event (the `{"messageType":"test"}` echo, subscription acknowledgements, which may list
//! the notification names) and yields no notices. A CallEvent under none of the five names is a
//! notice with no events and a note. A top-level JSON array is read as several notifications.
//!
//! The answer to the subscription request is read by [`subscription_answer`]
//! (`subscription.rs`); the `[providers.xelion]` section is [`Xelion`] (`config.rs`).

use super::{wire, Adapter, Inbound, ParseContext, ParseError, Parsed, Reports};
use crate::model::{CallEvent, CallFacts, Direction, EndReason, EventKind, LegOutcome, Provider};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;

mod config;
mod subscription;
mod transfers;

pub use config::Xelion;
pub use subscription::{subscription_answer, Subscription};
pub use transfers::{Transfers, BLIND_GRACE_S, TRANSFER_GRACE_S};

const PROVIDER: Provider = Provider::Xelion;

/// Not a webhook: the websocket client (in the server) feeds frames to [`notices`]. Over
/// HTTP a body is read as one frame (tests, fuzzing).
pub const ADAPTER: Adapter = Adapter {
    provider: PROVIDER,
    parse,
    scenarios: &[],
    reports: Reports::FULL,
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

    /// How the call was initiated: `initiation` when Xelion names a value Ringside knows,
    /// else what the users on either side say (see the module docs).
    fn initiation(&self) -> Option<Initiation> {
        if let Some(i) = self.initiation.as_deref().and_then(Initiation::from_wire) {
            return Some(i);
        }
        match (&self.caller_user, &self.callee_user) {
            (Some(_), None) => Some(Initiation::Outgoing),
            (None, Some(_)) => Some(Initiation::Incoming),
            (Some(_), Some(_)) => Some(Initiation::Internal),
            (None, None) => None,
        }
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
    /// Zero or one event (none for a channel hangup without the customer's flow, which
    /// [`Transfers`] may still place, or a notification type Ringside does not read).
    pub events: Vec<CallEvent>,
    /// What Ringside could not read, journaled with the notice and logged.
    pub notes: Vec<String>,
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
fn parse(req: &Inbound<'_>, _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let notices = notices(req.body)?;
    if notices.is_empty() {
        return Ok(Parsed::ignored("not a call event", None));
    }
    let mut notes: Vec<String> = notices.iter().flat_map(|n| n.notes.clone()).collect();
    let events: Vec<CallEvent> = notices.into_iter().flat_map(|n| n.events).collect();
    if events.is_empty() && notes.is_empty() {
        notes.push("a channel hang-up that names no customer call: placed only by the websocket client's tracker".into());
    }
    Ok(Parsed::events(events, None).with_notes(notes))
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
    let call = WireCallEvent::from_object(obj);
    let Some(kind_name) = shallowest(frame, |v| match v {
        Value::String(s) => Notification::from_wire(s.trim()),
        _ => None,
    }) else {
        let hint = type_hint(frame).unwrap_or("none");
        return Ok(Some(Notice {
            // Named as what it is not, for the key only: it carries no event.
            notification: Notification::ChannelHungUp,
            dedupe_key: dedupe_key(hint, obj),
            events: Vec::new(),
            notes: vec![format!(
                "a CallEvent under notification type `{hint}`, not one Ringside reads"
            )],
            leg: LegFacts::default(),
        }));
    };

    let initiation = call.initiation();
    let customer_flow = match initiation {
        Some(Initiation::Outgoing) => &call.callee_flow_id,
        Some(Initiation::Incoming | Initiation::Internal) | None => &call.caller_flow_id,
    };
    let dedupe_key = dedupe_key(kind_name.wire(), obj);
    if kind_name == Notification::ChannelHungUp && customer_flow.is_none() {
        // A channel's own callId would name a call nobody has seen and open a ghost call:
        // the tracker finds the customer's call by the leg, if it saw it ring.
        return Ok(Some(Notice {
            notification: kind_name,
            dedupe_key,
            events: Vec::new(),
            notes: Vec::new(),
            leg: LegFacts {
                call_id: call.call_id.clone(),
                agent: call.callee().or_else(|| call.caller()),
                ..LegFacts::default()
            },
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
        Notification::MissedCall => EventKind::Missed {
            agent: call.callee(),
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
    let mut notes = Vec::new();
    let at = match kind_name {
        Notification::NewCall | Notification::MissedCall => {
            wire::time_field("date", call.date.as_deref(), wire::utc(), &mut notes)
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
        notes,
        leg,
    }))
}

/// `xelion:sha256:` and the hash of the notification type and the CallEvent object, with keys
/// in a canonical order.
fn dedupe_key(kind: &str, obj: &Map<String, Value>) -> String {
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
    let mut bytes = kind.as_bytes().to_vec();
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
    fn missed_call_event_is_about_one_user() {
        assert_eq!(
            events("missed"),
            vec![
                (id("flow-c-2001"), ringing("user-a")),
                (
                    id("flow-c-2001"),
                    EventKind::Missed {
                        agent: Some(id("user-a"))
                    }
                ),
                // Xelion hangs the call up: nobody answered, so it is missed.
                (id("flow-c-2001"), hung_up(0)),
            ]
        );
        assert_eq!(
            events("missed_by_one")[3],
            (
                id("flow-c-7001"),
                EventKind::Missed {
                    agent: Some(id("user-a"))
                }
            )
        );
    }

    #[test]
    fn without_a_known_initiation_the_users_tell_the_direction() {
        let f = frames("outgoing_without_initiation");
        let first = parse_frame(f[0].as_bytes(), &ParseContext::default())
            .unwrap()
            .remove(0);
        assert_eq!(first.facts.direction, Some(Direction::Outbound));
        assert_eq!(first.provider_call_id, "flow-x-8001", "the customer's flow");
        assert_eq!(first.kind, ringing("+31612345678"));
        let incoming = parse_frame(
            br#"{"notificationType":"newCallEvent","object":{"callId":"1","callerFlowId":"fc","calleeFlowId":"fa","calleeUser":"user-a","initiation":"something-new"}}"#,
            &ParseContext::default(),
        )
        .unwrap()
        .remove(0);
        assert_eq!(incoming.facts.direction, Some(Direction::Inbound));
        assert_eq!(incoming.provider_call_id, "fc");
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
    fn hunt_group_channel_hangup_without_the_customer_flow_is_left_to_the_tracker() {
        assert_eq!(
            events("hunt_group"),
            vec![
                (id("flow-c-4001"), ringing("user-a")),
                (id("flow-c-4001"), ringing("user-b")),
                (id("flow-c-4001"), answered("user-b")),
                // The seed's channel hangup fills only the callee's side: see transfers.rs.
                (id("flow-c-4001"), hung_up(48)),
            ]
        );
        let channel = notices(frames("hunt_group")[3].as_bytes())
            .unwrap()
            .remove(0);
        assert_eq!(channel.notification, Notification::ChannelHungUp);
        assert!(channel.events.is_empty());
        assert_eq!(channel.leg.call_id.as_deref(), Some("call-4001a"));
        assert_eq!(channel.leg.agent.as_deref(), Some("user-a"));
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
                // A CallEvent under a notification type Ringside does not know: nothing.
                Ok(vec![]),
                // Not JSON.
                Err("malformed"),
            ]
        );
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
