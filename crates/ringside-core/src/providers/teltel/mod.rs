//! TelTel call events: one webhook per event, JSON (form bodies accepted too), POST.
//!
//! Every call session sends `START` first and `COMPLETED` last; `RING`, `RINGRESULT`, `READY`,
//! `JOIN` and `LEAVE` may come in between (or none of them). Several `RING`s in a row are
//! parallel ringing: each rung destination becomes a leg, and one leg's `NOANSWER`/`CANCEL` only
//! stops that leg (it is not a miss when another leg answered). Whether the call was answered at
//! all is `COMPLETED`'s `is_answered`, which the adapter passes on as the provider's word (the
//! verdict for a call Ringside did not see answered; an answer it saw is never undone).
//!
//! | TelTel                                   | Ringside                                  |
//! | ---------------------------------------- | ----------------------------------------- |
//! | `START`                                  | `Started`                                 |
//! | `RING`                                   | `Ringing { agent: destination }`          |
//! | `RINGRESULT` `ANSWER`                    | `Answered { by: destination }`            |
//! | `RINGRESULT` `NOANSWER`                  | `LegStopped { NoAnswer }`                 |
//! | `RINGRESULT` `BUSY`                      | `LegStopped { Busy }`                     |
//! | `RINGRESULT` `CANCEL`, `ABORT`           | `LegStopped { Cancelled }`                |
//! | `RINGRESULT` `CONGESTION`, `CHANUNAVAIL`, `DONTCALL`, `TORTURE`, `INVALIDARGS` | `LegStopped { Failed }` |
//! | `READY`, `LEAVE`, `JOIN` of a phone      | `Details`                                 |
//! | `JOIN` of a SIP device (an agent)        | `Answered { by: subject }`                |
//! | `COMPLETED`                              | `Ended { answered: is_answered, .. }`     |
//!
//! `COMPLETED`: `reason` is `Completed`, or `NoAnswer` when `is_answered` is false; `duration_s`
//! from a duration attribute if any (see below); the recording is `audio_url`. Without
//! `is_answered`, `answered` is `None` (Ringside uses what it saw) and the reason `Completed`.
//!
//! A `RINGRESULT` that names no destination: `ANSWER` is `Answered { by: None }` (the correlator
//! then credits the one ringing leg, if there is exactly one); the other states are `Details`,
//! since there is no leg to stop.
//!
//! Callback and autodialer calls (`leg` present): the system dials the contact (a phone) and the
//! operator (an agent's SIP device) one after the other and bridges them. Only the operator leg is
//! an agent: `leg = operator` events map as above, while `RING`/`RINGRESULT` on `leg = contact`
//! are `Details` (the customer's phone ringing or answering is not an agent picking up; the call's
//! outcome still comes from `COMPLETED`). Calls without `leg` (standard, transfer) map every
//! `RING`/`RINGRESULT` as above, whatever the destination is: on an outbound call that is the
//! customer's number, which is then who answered.
//!
//! # Unconfirmed wire details
//! TelTel's examples are images; the attribute list in the seed is text. Parsed tolerantly:
//! - The attribute naming the event is not in the text: `event`, `event_type` and `name` are
//!   accepted (in that order of preference), names and values in any case.
//! - Caller and callee attributes are not in the text either: `from`/`to`, `src`/`dst` and
//!   `caller`/`callee` are accepted; when none is present, callback calls fall back to
//!   `data.callback.leg_1_phone_number` (from) and `leg_2_phone_number` (to). That leg 1 is the
//!   calling side is an assumption.
//! - The destination a `RING`/`RINGRESULT` concerns: `subject` if present (documented only for
//!   `READY`/`JOIN`/`LEAVE`, but it names a party exactly), else `to`/`dst`/`callee`. Because on
//!   those events `to` is the leg being rung (an extension), not the number the customer dialled,
//!   only `START` and `COMPLETED` (which describe the whole session) set the call's from/to.
//! - The identity on an agent `JOIN` is `subject` (the SIP device, the same identity `RING` used
//!   for the leg, so the correlator can match them), falling back to `subject_user`.
//! - `is_answered` may be a JSON bool, 0/1 or `"true"`/`"false"`; absent (or anything else,
//!   noted) means "not said".
//! - No duration attribute is documented: `duration` (else `billsec`) in seconds is used if present.
//! - `timestamp` is UTC; RFC 3339, `YYYY-MM-DD HH:MM:SS`, Unix seconds or milliseconds. One that
//!   does not read is noted and Ringside uses its receive time, rather than refusing the event.
//! - An event name or `RINGRESULT` state Ringside does not know is journaled, logged and
//!   acknowledged, and changes nothing.
//! - HTTP method: POST only; content type JSON, urlencoded or multipart.
//! - `line` is the autodialer campaign (`data.campaign_id`) or, on an inbound `START`, the number
//!   dialled (`to`).

use super::wire::{self, Fields};
use super::{Adapter, Inbound, ParseContext, ParseError, Parsed, Reports};
use crate::model::{CallEvent, CallFacts, Direction, EndReason, EventKind, LegOutcome, Provider};
use serde_json::Value;

mod scenarios;

const PROVIDER: Provider = Provider::Teltel;

/// Its config section is a plain [`super::hook::Hook`].
pub const ADAPTER: Adapter = Adapter {
    provider: PROVIDER,
    parse,
    scenarios: scenarios::SCENARIOS,
    reports: Reports::FULL,
};

/// The event names TelTel sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Start,
    Ring,
    RingResult,
    Ready,
    Join,
    Leave,
    Completed,
}

impl Event {
    fn from_wire(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "START" => Event::Start,
            "RING" => Event::Ring,
            "RINGRESULT" => Event::RingResult,
            "READY" => Event::Ready,
            "JOIN" => Event::Join,
            "LEAVE" => Event::Leave,
            "COMPLETED" => Event::Completed,
            _ => return None,
        })
    }
}

/// `RINGRESULT.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RingState {
    Answer,
    Busy,
    NoAnswer,
    Cancel,
    Abort,
    Congestion,
    ChanUnavail,
    DontCall,
    Torture,
    InvalidArgs,
}

impl RingState {
    fn from_wire(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "ANSWER" => RingState::Answer,
            "BUSY" => RingState::Busy,
            "NOANSWER" => RingState::NoAnswer,
            "CANCEL" => RingState::Cancel,
            "ABORT" => RingState::Abort,
            "CONGESTION" => RingState::Congestion,
            "CHANUNAVAIL" => RingState::ChanUnavail,
            "DONTCALL" => RingState::DontCall,
            "TORTURE" => RingState::Torture,
            "INVALIDARGS" => RingState::InvalidArgs,
            _ => return None,
        })
    }

    /// How the leg ended, or `None` when it was answered.
    fn outcome(self) -> Option<LegOutcome> {
        match self {
            RingState::Answer => None,
            RingState::NoAnswer => Some(LegOutcome::NoAnswer),
            RingState::Busy => Some(LegOutcome::Busy),
            RingState::Cancel | RingState::Abort => Some(LegOutcome::Cancelled),
            RingState::Congestion
            | RingState::ChanUnavail
            | RingState::DontCall
            | RingState::Torture
            | RingState::InvalidArgs => Some(LegOutcome::Failed),
        }
    }
}

/// `leg` on callback and autodialer calls: which party the event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leg {
    /// The customer's phone.
    Contact,
    /// The agent's SIP device.
    Operator,
}

impl Leg {
    /// Unknown values are treated like an absent `leg` (a standard call).
    fn from_wire(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "contact" => Some(Leg::Contact),
            "operator" => Some(Leg::Operator),
            _ => None,
        }
    }
}

/// `subject_type` on `READY`/`JOIN`/`LEAVE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubjectType {
    Phone,
    Sip,
}

impl SubjectType {
    fn from_wire(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "phone" => Some(SubjectType::Phone),
            "sip" => Some(SubjectType::Sip),
            _ => None,
        }
    }
}

/// Parse one TelTel event delivery.
pub fn parse(req: &Inbound<'_>, _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    if req.method != http::Method::POST {
        return Err(ParseError::method(PROVIDER, req.method));
    }
    let f = wire::fields(PROVIDER, req)?;

    let delivery_id = f.text("id");
    let call = f.first_text(&["call_id", "session_id"]);
    let Some(name) = f.first_text(&["event", "event_type", "name"]) else {
        if call.is_none() {
            return Err(malformed("no event name and no `call_id` or `session_id`"));
        }
        // Perhaps TelTel names it otherwise: kept, and said, until Ringside reads it.
        return Ok(Parsed::ignored(
            "no event name (`event`, `event_type` or `name`)",
            delivery_id,
        ));
    };
    let Some(event) = Event::from_wire(&name) else {
        return Ok(Parsed::ignored(
            format!("TelTel event `{name}` is not one Ringside reads"),
            delivery_id,
        ));
    };
    let call_id = call.ok_or_else(|| malformed("no `call_id` or `session_id`"))?;
    let mut notes = Vec::new();
    let at = wire::time_field(
        "timestamp",
        f.text("timestamp").as_deref(),
        wire::utc(),
        &mut notes,
    );
    let direction = f
        .text("direction")
        .and_then(|d| match d.to_ascii_lowercase().as_str() {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => {
                notes.push(format!("`direction` `{d}` is not inbound or outbound"));
                None
            }
        });
    let leg = f.text("leg").and_then(|l| {
        let read = Leg::from_wire(&l);
        if read.is_none() {
            notes.push(format!(
                "`leg` `{l}` is not contact or operator; read as none"
            ));
        }
        read
    });
    // The party a RING/RINGRESULT is about: see the module docs.
    let destination = || f.first_text(&["subject", "to", "dst", "callee"]);

    let kind = match event {
        Event::Start => EventKind::Started,
        Event::Ring => match leg {
            Some(Leg::Contact) => EventKind::Details,
            Some(Leg::Operator) | None => EventKind::Ringing {
                agent: destination(),
            },
        },
        Event::RingResult => {
            let raw = f.text("state");
            match (raw.as_deref().and_then(RingState::from_wire), leg) {
                (None, _) => {
                    // The ring ended somehow: the leg is left to later events (COMPLETED).
                    notes.push(match raw {
                        Some(raw) => {
                            format!("RINGRESULT `state` `{raw}` is not one Ringside reads")
                        }
                        None => "RINGRESULT without `state`".into(),
                    });
                    EventKind::Details
                }
                (Some(_), Some(Leg::Contact)) => EventKind::Details,
                (Some(state), Some(Leg::Operator) | None) => {
                    match (state.outcome(), destination()) {
                        (None, by) => EventKind::Answered { by },
                        (Some(outcome), Some(agent)) => EventKind::LegStopped { agent, outcome },
                        (Some(_), None) => EventKind::Details,
                    }
                }
            }
        }
        Event::Ready | Event::Leave => EventKind::Details,
        Event::Join => match f.text("subject_type").and_then(|t| {
            let read = SubjectType::from_wire(&t);
            if read.is_none() {
                notes.push(format!("`subject_type` `{t}` is not phone or sip"));
            }
            read
        }) {
            Some(SubjectType::Sip) => EventKind::Answered {
                by: f.first_text(&["subject", "subject_user"]),
            },
            Some(SubjectType::Phone) | None => EventKind::Details,
        },
        Event::Completed => {
            let answered = f.text("is_answered").and_then(|v| {
                let answered = flag(&v);
                if answered.is_none() {
                    notes.push(format!(
                        "`is_answered` is `{v}`, not a boolean; Ringside goes by what it saw"
                    ));
                }
                answered
            });
            EventKind::Ended {
                answered,
                reason: match answered {
                    Some(false) => EndReason::NoAnswer,
                    Some(true) | None => EndReason::Completed,
                },
                duration_s: f
                    .first_text(&["duration", "billsec"])
                    .and_then(|d| wire::seconds(&d)),
            }
        }
    };

    let mut facts = CallFacts {
        direction,
        recording_url: f.text("audio_url"),
        line: data_text(&f, &["campaign_id"]),
        ..CallFacts::default()
    };
    if matches!(event, Event::Start | Event::Completed) {
        facts.from = f
            .first_text(&["from", "src", "caller"])
            .or_else(|| data_text(&f, &["callback", "leg_1_phone_number"]));
        facts.to = f
            .first_text(&["to", "dst", "callee"])
            .or_else(|| data_text(&f, &["callback", "leg_2_phone_number"]));
        if event == Event::Start && direction == Some(Direction::Inbound) && facts.line.is_none() {
            facts.line = facts.to.clone();
        }
    }

    Ok(Parsed::events(
        vec![CallEvent::new(PROVIDER, call_id, kind).at(at).facts(facts)],
        delivery_id,
    )
    .with_notes(notes))
}

fn malformed(message: impl Into<String>) -> ParseError {
    ParseError::malformed(PROVIDER, message)
}

/// A text value under `data` (a JSON object, or JSON text in a form body), following `path`.
fn data_text(f: &Fields, path: &[&str]) -> Option<String> {
    let parsed;
    let mut v = match f.value("data")? {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok()?;
            &parsed
        }
        other => other,
    };
    for key in path {
        v = v.get(key)?;
    }
    match v {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && !s.eq_ignore_ascii_case("null")).then(|| s.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn flag(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method};

    fn parse_json(body: &str) -> Result<Parsed, ParseError> {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        let req = Inbound {
            method: &Method::POST,
            query: None,
            headers: &h,
            body: body.as_bytes(),
        };
        parse(&req, &ParseContext::default())
    }

    #[test]
    fn every_prefix_of_a_delivery_is_an_error_or_events_never_a_panic() {
        let body = r#"{"id":"e1","event":"COMPLETED","call_id":"c1","timestamp":"2024-05-02 09:15:00","direction":"inbound","from":"37120000000","to":"37167000000","is_answered":1,"duration":"31","audio_url":"https://x/a.mp3","data":{"callback":{"leg_1_phone_number":"1"}}}"#;
        assert!(parse_json(body).is_ok());
        for end in 0..body.len() {
            let _ = parse_json(&body[..end]);
        }
    }

    #[test]
    fn data_given_as_json_text_in_a_form_is_read() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let body = "event=START&call_id=c9&type=callback&data=%7B%22callback%22%3A%7B%22leg_1_phone_number%22%3A%22201%22%2C%22leg_2_phone_number%22%3A%2237120000000%22%7D%7D";
        let req = Inbound {
            method: &Method::POST,
            query: None,
            headers: &h,
            body: body.as_bytes(),
        };
        let p = parse(&req, &ParseContext::default()).unwrap();
        assert_eq!(p.events[0].facts.from.as_deref(), Some("201"));
        assert_eq!(p.events[0].facts.to.as_deref(), Some("37120000000"));
    }
}
