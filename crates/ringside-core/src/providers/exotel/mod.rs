//! Exotel: the Connect applet's agent pass-through (GET) and the StatusCallback (POST).
//!
//! # Connect applet pass-through (GET, query string)
//! A customer calls the virtual number `CallTo`; the Connect applet dials agents one after
//! another (or as a group), several `Dial`..`Terminal` attempts under one `CallSid`, each naming
//! the agent in `DialWhomNumber`. Exotel labels these `Direction=outbound-dial` (its legs to the
//! agents), but the call Ringside shows is the customer's: inbound, from `CallFrom`, to and on the
//! line `CallTo`.
//!
//! | `EventType` (any case, stray spaces trimmed) | Ringside                              |
//! | -------------------------------------------- | ------------------------------------- |
//! | `Dial`, `Ringing`                            | `Ringing { agent: DialWhomNumber }`   |
//! | `Answered`                                   | `Answered { by: DialWhomNumber }`     |
//! | `Terminal` (`Status=free`)                   | `LegStopped { DialWhomNumber, NoAnswer }` |
//!
//! `Terminal` ends one agent's attempt, never the call; after that agent answered it is the end
//! of their conversation, and the correlator ignores a stop for an answered leg. The pass-through
//! does not say why an attempt ended, so every stop is `NoAnswer`. Without `EventType` (accounts
//! where the answered event is not enabled send only `Status`), `busy` is a dial and `free` a
//! terminal. `at` is `CurrentTime` in the account's local time.
//!
//! # StatusCallback (POST: multipart/form-data by default, urlencoded, or JSON)
//! | `EventType`          | Ringside                                                     |
//! | -------------------- | ------------------------------------------------------------ |
//! | `ringing`            | `Ringing { agent: None }`                                    |
//! | `answered`           | `Answered { by: None }` (or `Details`, see below)            |
//! | `terminal`, or absent with a `Status` (older callbacks) | `Ended { answered, reason, duration_s: ConversationDuration }` |
//!
//! `Direction`: `inbound` and `outbound-dial` (a Connect applet flow, see above) are inbound,
//! `outbound-api` (the connect-two-numbers API) is outbound. `at` is `EventTime`, else
//! `DateUpdated`, in local time. `delivery_id` is `None`: Exotel sends no delivery id, so the
//! engine deduplicates on the body's hash.
//!
//! ## Legs
//! `Legs` (a JSON array; JSON text in form bodies; `Legs[0][Status]`-style form fields are also
//! read) follows the seed's shape: `Legs[0]` is the party the call started with (the agent Exotel
//! dials first on `outbound-api`, the caller on an inbound flow), who is up before anyone else is
//! dialled; later legs are the parties dialled to talk to them. So only a *later* leg shows that
//! someone answered. An `answered` callback while no later leg is up (`Status` in-progress or
//! completed) is the first party picking up their own phone (the seed's "first leg is answered":
//! the agent, while the customer has not answered yet) and is `Details`, not an answer.
//!
//! ## Whether a terminal call was answered
//! In this order, the first that applies:
//! 1. `ConversationDuration` is a number: answered iff it is > 0 (Exotel's own measure of talk
//!    time between the two parties; 0 on an inbound call means no agent ever talked: missed).
//! 2. `Status` is `no-answer`, `busy`, `failed` or `canceled`: not answered.
//! 3. `Legs` has two or more legs: answered iff a leg after the first is connected (`Status`
//!    completed or in-progress with `OnCallDuration` > 0). A single leg that is not connected:
//!    not answered.
//! 4. Otherwise (`completed` with no durations and no legs) `None`: Ringside uses what it saw
//!    (the pass-through's `Answered`, or an `answered` callback).
//!
//! `reason` follows `Status`: completed -> `Completed` (but `NoAnswer` when step 1-3 found nobody
//! answered: the caller hung up in the IVR or while agents rang), no-answer -> `NoAnswer`, busy ->
//! `Busy`, failed and canceled -> `Failed`; a terminal `in-progress` (contradictory, but the call
//! is over) is treated like completed.

use super::wire::{self, Fields};
use super::{Adapter, Inbound, ParseContext, ParseError, Parsed};
use crate::model::{CallEvent, CallFacts, Direction, EndReason, EventKind, LegOutcome, Provider};
use chrono::{DateTime, FixedOffset, Utc};
use http::Method;
use serde_json::Value;

mod config;
pub mod dial;
mod scenarios;

pub use config::Exotel;

const PROVIDER: Provider = Provider::Exotel;

pub const ADAPTER: Adapter = Adapter {
    provider: PROVIDER,
    parse,
    scenarios: scenarios::SCENARIOS,
};

/// Form bodies may spell `Legs` out as `Legs[i][Field]`; more legs than this are not looked for.
const MAX_FORM_LEGS: usize = 32;

/// The pass-through's `EventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DialEvent {
    Dial,
    Ringing,
    Answered,
    Terminal,
}

/// The StatusCallback's `EventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallbackEvent {
    Ringing,
    Answered,
    Terminal,
}

/// The StatusCallback's call `Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Completed,
    Failed,
    Busy,
    NoAnswer,
    InProgress,
    Canceled,
}

impl Status {
    fn from_wire(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            "busy" => Status::Busy,
            "no-answer" => Status::NoAnswer,
            "in-progress" => Status::InProgress,
            "canceled" | "cancelled" => Status::Canceled,
            _ => return None,
        })
    }
}

/// `Direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WireDirection {
    Inbound,
    OutboundDial,
    OutboundApi,
}

impl WireDirection {
    fn from_wire(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "inbound" | "incoming" => Some(WireDirection::Inbound),
            "outbound-dial" => Some(WireDirection::OutboundDial),
            "outbound-api" => Some(WireDirection::OutboundApi),
            _ => None,
        }
    }

    fn direction(self) -> Direction {
        match self {
            WireDirection::Inbound | WireDirection::OutboundDial => Direction::Inbound,
            WireDirection::OutboundApi => Direction::Outbound,
        }
    }
}

/// One element of `Legs`.
#[derive(Debug, Clone, Default, PartialEq)]
struct WireLeg {
    status: Option<String>,
    on_call_duration: Option<u64>,
}

impl WireLeg {
    /// On the line now or earlier in this call (the status alone, for intermediate callbacks).
    fn is_up(&self) -> bool {
        self.status
            .as_deref()
            .and_then(Status::from_wire)
            .is_some_and(|s| matches!(s, Status::Completed | Status::InProgress))
    }

    /// Was connected for a measurable time (for terminal callbacks).
    fn talked(&self) -> bool {
        self.is_up() && self.on_call_duration.is_some_and(|d| d > 0)
    }
}

/// Parse one Exotel delivery: GET is the Connect applet pass-through, POST the StatusCallback.
pub fn parse(req: &Inbound<'_>, ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let event = if req.method == Method::GET {
        pass_through(&wire::fields(PROVIDER, req)?, ctx)?
    } else if req.method == Method::POST {
        status_callback(&wire::fields(PROVIDER, req)?, ctx)?
    } else {
        return Err(ParseError::method(PROVIDER, req.method));
    };
    Ok(Parsed {
        events: vec![event],
        delivery_id: None,
    })
}

fn pass_through(f: &Fields, ctx: &ParseContext) -> Result<CallEvent, ParseError> {
    let call_sid = call_sid(f)?;
    let event = match f.text("EventType") {
        Some(t) => match t.to_ascii_lowercase().as_str() {
            "dial" => DialEvent::Dial,
            "ringing" => DialEvent::Ringing,
            "answered" => DialEvent::Answered,
            "terminal" => DialEvent::Terminal,
            _ => return Err(unsupported(format!("pass-through EventType `{t}`"))),
        },
        None => match f.text("Status") {
            Some(s) if s.eq_ignore_ascii_case("busy") => DialEvent::Dial,
            Some(s) if s.eq_ignore_ascii_case("free") => DialEvent::Terminal,
            Some(s) => return Err(unsupported(format!("pass-through Status `{s}`"))),
            None => return Err(malformed("pass-through without EventType or Status")),
        },
    };
    let agent = f.text("DialWhomNumber");
    let kind = match event {
        DialEvent::Dial | DialEvent::Ringing => EventKind::Ringing { agent },
        DialEvent::Answered => EventKind::Answered { by: agent },
        DialEvent::Terminal => match agent {
            Some(agent) => EventKind::LegStopped {
                agent,
                outcome: LegOutcome::NoAnswer,
            },
            None => EventKind::Details,
        },
    };
    let to = f.first_text(&["CallTo", "To"]);
    let facts = CallFacts {
        // The pass-through only exists in Connect applet flows: the customer called in.
        direction: Some(
            f.text("Direction")
                .and_then(|d| WireDirection::from_wire(&d))
                .map_or(Direction::Inbound, WireDirection::direction),
        ),
        from: f.first_text(&["CallFrom", "From"]),
        line: to.clone(),
        to,
        ..CallFacts::default()
    };
    Ok(CallEvent::new(PROVIDER, call_sid, kind)
        .at(local_time(f, &["CurrentTime"], ctx.local_offset))
        .facts(facts))
}

fn status_callback(f: &Fields, ctx: &ParseContext) -> Result<CallEvent, ParseError> {
    let call_sid = call_sid(f)?;
    let status = f.text("Status");
    let event = match f.text("EventType") {
        Some(t) => match t.to_ascii_lowercase().as_str() {
            "ringing" => CallbackEvent::Ringing,
            "answered" => CallbackEvent::Answered,
            "terminal" => CallbackEvent::Terminal,
            _ => return Err(unsupported(format!("StatusCallback EventType `{t}`"))),
        },
        // Callbacks from before EventType existed were sent only at the end of the call.
        None if status.is_some() => CallbackEvent::Terminal,
        None => return Err(malformed("StatusCallback without EventType or Status")),
    };
    let direction = f
        .text("Direction")
        .and_then(|d| WireDirection::from_wire(&d));
    let legs = legs(f)?;

    let kind = match event {
        CallbackEvent::Ringing => EventKind::Ringing { agent: None },
        CallbackEvent::Answered => match legs.as_deref() {
            Some([_, later @ ..]) if !later.is_empty() && !later.iter().any(WireLeg::is_up) => {
                EventKind::Details
            }
            _ => EventKind::Answered { by: None },
        },
        CallbackEvent::Terminal => {
            let raw = status.ok_or_else(|| malformed("terminal StatusCallback without Status"))?;
            let status = Status::from_wire(&raw)
                .ok_or_else(|| unsupported(format!("StatusCallback Status `{raw}`")))?;
            let conversation = number(f, "ConversationDuration")?;
            let answered = answered(status, conversation, legs.as_deref());
            let reason = match status {
                Status::Completed | Status::InProgress => match answered {
                    Some(false) => EndReason::NoAnswer,
                    Some(true) | None => EndReason::Completed,
                },
                Status::NoAnswer => EndReason::NoAnswer,
                Status::Busy => EndReason::Busy,
                Status::Failed | Status::Canceled => EndReason::Failed,
            };
            EventKind::Ended {
                answered,
                reason,
                duration_s: conversation,
            }
        }
    };

    let to = f.first_text(&["To", "CallTo"]);
    let line = match direction {
        Some(WireDirection::OutboundApi) => f.text("PhoneNumberSid"),
        Some(WireDirection::Inbound | WireDirection::OutboundDial) => {
            to.clone().or_else(|| f.text("PhoneNumberSid"))
        }
        None => f.text("PhoneNumberSid"),
    };
    let facts = CallFacts {
        direction: direction.map(WireDirection::direction),
        from: f.first_text(&["From", "CallFrom"]),
        to,
        line,
        recording_url: f.text("RecordingUrl"),
        ..CallFacts::default()
    };
    Ok(CallEvent::new(PROVIDER, call_sid, kind)
        .at(local_time(
            f,
            &["EventTime", "DateUpdated"],
            ctx.local_offset,
        ))
        .facts(facts))
}

/// Whether anyone answered, from a terminal callback: see the module docs for the rules.
fn answered(status: Status, conversation: Option<u64>, legs: Option<&[WireLeg]>) -> Option<bool> {
    if let Some(talk) = conversation {
        return Some(talk > 0);
    }
    match status {
        Status::NoAnswer | Status::Busy | Status::Failed | Status::Canceled => return Some(false),
        Status::Completed | Status::InProgress => {}
    }
    match legs? {
        [] => None,
        [only] => (!only.talked()).then_some(false),
        [_, later @ ..] => Some(later.iter().any(WireLeg::talked)),
    }
}

fn call_sid(f: &Fields) -> Result<String, ParseError> {
    f.text("CallSid").ok_or_else(|| malformed("no CallSid"))
}

fn local_time(f: &Fields, names: &[&str], offset: FixedOffset) -> Option<DateTime<Utc>> {
    names
        .iter()
        .find_map(|n| f.text(n).and_then(|t| wire::timestamp(&t, offset)))
}

/// A duration ([`wire::seconds`]); absent or `"null"` is `None`, anything else is malformed.
fn number(f: &Fields, name: &str) -> Result<Option<u64>, ParseError> {
    f.text(name)
        .map(|t| {
            wire::seconds(&t).ok_or_else(|| malformed(format!("{name} is `{t}`, not seconds")))
        })
        .transpose()
}

/// `Legs` as a JSON array, as JSON text (urlencoded bodies), or as `Legs[i][Field]` form fields.
fn legs(f: &Fields) -> Result<Option<Vec<WireLeg>>, ParseError> {
    let parsed;
    let items = match f.value("Legs") {
        None | Some(Value::Null) => return Ok(form_legs(f)),
        Some(Value::Array(items)) => items,
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() || s.eq_ignore_ascii_case("null") {
                return Ok(None);
            }
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|e| malformed(format!("Legs is not JSON: {e}")))?;
            match &parsed {
                Value::Array(items) => items,
                _ => return Err(malformed("Legs is not an array")),
            }
        }
        Some(_) => return Err(malformed("Legs is not an array")),
    };
    items
        .iter()
        .map(|item| {
            let Value::Object(obj) = item else {
                return Err(malformed("a Legs element is not an object"));
            };
            let get = |name: &str| {
                obj.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| value_text(v))
            };
            let on_call_duration = match get("OnCallDuration") {
                None => None,
                Some(t) => Some(wire::seconds(&t).ok_or_else(|| {
                    malformed(format!("Legs OnCallDuration is `{t}`, not seconds"))
                })?),
            };
            Ok(WireLeg {
                status: get("Status"),
                on_call_duration,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `Legs[0][Status]=completed&Legs[0][OnCallDuration]=12&...`, if the form spells it that way.
fn form_legs(f: &Fields) -> Option<Vec<WireLeg>> {
    let legs: Vec<WireLeg> = (0..MAX_FORM_LEGS)
        .map_while(|i| {
            let status = f.text(&format!("Legs[{i}][Status]"));
            let duration = f.text(&format!("Legs[{i}][OnCallDuration]"));
            (status.is_some() || duration.is_some()).then(|| WireLeg {
                status,
                on_call_duration: duration.as_deref().and_then(wire::seconds),
            })
        })
        .collect();
    (!legs.is_empty()).then_some(legs)
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && !s.eq_ignore_ascii_case("null")).then(|| s.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn malformed(message: impl Into<String>) -> ParseError {
    ParseError::malformed(PROVIDER, message)
}

fn unsupported(message: impl Into<String>) -> ParseError {
    ParseError::unsupported(PROVIDER, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(status: &str, on_call: Option<u64>) -> WireLeg {
        WireLeg {
            status: Some(status.to_string()),
            on_call_duration: on_call,
        }
    }

    #[test]
    fn conversation_duration_decides_first() {
        let both = [leg("completed", Some(12)), leg("completed", Some(6))];
        assert_eq!(
            answered(Status::Completed, Some(6), Some(&both)),
            Some(true)
        );
        assert_eq!(
            answered(Status::Completed, Some(0), Some(&both)),
            Some(false)
        );
        assert_eq!(answered(Status::NoAnswer, Some(3), None), Some(true));
    }

    #[test]
    fn without_conversation_duration_status_then_later_legs_decide() {
        let caller_only = [leg("completed", Some(40)), leg("no-answer", None)];
        let agent_talked = [leg("completed", Some(40)), leg("completed", Some(30))];
        assert_eq!(
            answered(Status::NoAnswer, None, Some(&agent_talked)),
            Some(false)
        );
        assert_eq!(
            answered(Status::Completed, None, Some(&caller_only)),
            Some(false)
        );
        assert_eq!(
            answered(Status::Completed, None, Some(&agent_talked)),
            Some(true)
        );
        assert_eq!(
            answered(Status::Completed, None, Some(&[leg("no-answer", None)])),
            Some(false)
        );
        assert_eq!(
            answered(Status::Completed, None, Some(&[leg("completed", Some(9))])),
            None
        );
        assert_eq!(answered(Status::Completed, None, None), None);
    }

    #[test]
    fn every_prefix_of_a_delivery_is_an_error_or_events_never_a_panic() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "content-type",
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let ctx = ParseContext::default();
        let req = |method, query, body: &'static str| {
            let parsed = parse(
                &Inbound {
                    method,
                    query,
                    headers: &h,
                    body: body.as_bytes(),
                },
                &ctx,
            );
            parsed.map(|p| p.events.len())
        };
        let callback = "CallSid=s1&EventType=terminal&Status=completed&ConversationDuration=6&Direction=inbound&Legs=%5B%7B%22OnCallDuration%22%3A12%2C%22Status%22%3A%22completed%22%7D%5D&EventTime=2022-04-06%2010%3A48%3A16";
        let pass_through = "CallSid=s1&CallFrom=0987&CallTo=0804&DialWhomNumber=0981&Status=busy&EventType=%20Dial&CurrentTime=2024-05-02%2014%3A45%3A01";
        assert_eq!(req(&Method::POST, None, callback), Ok(1));
        assert_eq!(req(&Method::GET, Some(pass_through), ""), Ok(1));
        for end in 0..callback.len() {
            let _ = req(&Method::POST, None, &callback[..end]);
        }
        for end in 0..pass_through.len() {
            let _ = req(&Method::GET, Some(&pass_through[..end]), "");
        }
    }
}
