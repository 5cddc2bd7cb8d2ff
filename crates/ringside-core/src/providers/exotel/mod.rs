//! Exotel: the Connect applet's agent pass-through (GET) and the StatusCallback (POST).
//! The seed and what Ringside does with each field: `docs/providers/exotel.md`.
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
//! | `Terminal` (`Status=free`)                   | `AttemptEnded { DialWhomNumber }`     |
//! | anything else                                | nothing (journaled and logged)        |
//!
//! `Terminal` ends one agent's attempt: an attempt nobody answered stops that agent's leg
//! (the next attempt may follow); the answering agent's `Terminal` is the end of their
//! conversation, which ends the call with its talk time. The applet sends nothing after its
//! last attempt (the StatusCallback is a separate setting): a call whose every attempt ended
//! unanswered is over, missed, after `[calls] quiet_s` (the grace for a next attempt; see
//! [`quiet`]). Without `EventType` (the older form, from before the answered event existed)
//! `busy` is a dial and `free` the end of an attempt; such an account never says who answered,
//! so its calls are missed unless a StatusCallback says otherwise. `at` is `CurrentTime` in the
//! account's local time.
//!
//! # StatusCallback (POST: multipart/form-data by default, urlencoded, or JSON)
//! | `EventType`          | Ringside                                                     |
//! | -------------------- | ------------------------------------------------------------ |
//! | `ringing`            | `Ringing { agent: None }`                                    |
//! | `answered`           | `Answered { by: None }` (or `Details`, see below)            |
//! | `terminal`, or absent with a `Status` (older callbacks) | `Ended { answered, reason, duration_s: ConversationDuration }` |
//! | anything else        | nothing (journaled and logged)                               |
//!
//! `Direction`: `inbound` and `outbound-dial` (a Connect applet flow, see above) are inbound,
//! `outbound-api` (the connect-two-numbers API) is outbound. `at` is `EventTime`, else
//! `DateUpdated`, in local time. `delivery_id` is `None`: Exotel sends no delivery id, so the
//! engine deduplicates on the request's hash.
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
//! `answered` is `Some(true)` when the callback shows talk time: `ConversationDuration` > 0, or,
//! without a `ConversationDuration`, a leg after the first that was connected (`Status`
//! completed or in-progress with `OnCallDuration` > 0). Otherwise it is `None`: the call is
//! missed unless Ringside saw someone answer (the pass-through's `Answered`, an `answered`
//! callback), since an answered call is never shown as missed.
//!
//! `reason` follows `Status`: completed -> `Completed` (`NoAnswer` once the call turns out
//! missed: the caller hung up in the IVR or while agents rang), no-answer -> `NoAnswer`, busy ->
//! `Busy`, failed and canceled -> `Failed`; a terminal `in-progress` (contradictory, but the call
//! is over) and a `Status` Ringside does not know (noted) are treated like completed.
//!
//! A value that does not read (a time, `ConversationDuration`, `Legs`) is noted and left
//! unknown; the delivery is never refused for it.

use super::wire::{self, Fields};
use super::{Adapter, Inbound, ParseContext, ParseError, Parsed, Reports};
use crate::model::{
    Call, CallEvent, CallFacts, CallState, Direction, EndReason, EventKind, LegState, Provider,
};
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
    reports: Reports {
        ringing: true,
        ids_reused: false,
        quiet,
    },
};

/// The Connect applet says nothing after its last attempt: a call still ringing whose every
/// attempt has ended will hear no more (unless a StatusCallback comes, which still replaces
/// Ringside's verdict).
fn quiet(call: &Call) -> bool {
    call.state == CallState::Ringing
        && !call.legs.is_empty()
        && call.legs.iter().all(|l| l.state == LegState::Stopped)
}

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
    let mut notes = Vec::new();
    let event = if req.method == Method::GET {
        pass_through(&wire::fields(PROVIDER, req)?, ctx, &mut notes)?
    } else if req.method == Method::POST {
        status_callback(&wire::fields(PROVIDER, req)?, ctx, &mut notes)?
    } else {
        return Err(ParseError::method(PROVIDER, req.method));
    };
    Ok(match event {
        Some(event) => Parsed::events(vec![event], None).with_notes(notes),
        None => Parsed::ignored(notes.join("; "), None),
    })
}

/// One pass-through request's event; `None` (and why, in `notes`) for one Ringside does not
/// read.
fn pass_through(
    f: &Fields,
    ctx: &ParseContext,
    notes: &mut Vec<String>,
) -> Result<Option<CallEvent>, ParseError> {
    let call_sid = call_sid(f)?;
    let event = match f.text("EventType") {
        Some(t) => match t.to_ascii_lowercase().as_str() {
            "dial" => DialEvent::Dial,
            "ringing" => DialEvent::Ringing,
            "answered" => DialEvent::Answered,
            "terminal" => DialEvent::Terminal,
            _ => {
                notes.push(format!(
                    "pass-through EventType `{t}` is not one Ringside reads"
                ));
                return Ok(None);
            }
        },
        None => match f.text("Status") {
            Some(s) if s.eq_ignore_ascii_case("busy") => DialEvent::Dial,
            Some(s) if s.eq_ignore_ascii_case("free") => DialEvent::Terminal,
            Some(s) => {
                notes.push(format!("pass-through Status `{s}` is not busy or free"));
                return Ok(None);
            }
            None => {
                notes.push("pass-through without EventType or Status".into());
                return Ok(None);
            }
        },
    };
    let agent = f.text("DialWhomNumber");
    let kind = match event {
        DialEvent::Dial | DialEvent::Ringing => EventKind::Ringing { agent },
        DialEvent::Answered => EventKind::Answered { by: agent },
        DialEvent::Terminal => match agent {
            Some(agent) => EventKind::AttemptEnded { agent },
            None => EventKind::Details,
        },
    };
    let to = f.first_text(&["CallTo", "To"]);
    let facts = CallFacts {
        // The pass-through only exists in Connect applet flows: the customer called in.
        direction: Some(
            f.text("Direction")
                .and_then(|d| {
                    let read = WireDirection::from_wire(&d);
                    if read.is_none() {
                        notes.push(format!("`Direction` `{d}` is not one Ringside reads"));
                    }
                    read
                })
                .map_or(Direction::Inbound, WireDirection::direction),
        ),
        from: f.first_text(&["CallFrom", "From"]),
        line: to.clone(),
        to,
        ..CallFacts::default()
    };
    Ok(Some(
        CallEvent::new(PROVIDER, call_sid, kind)
            .at(local_time(f, &["CurrentTime"], ctx.local_offset, notes))
            .facts(facts),
    ))
}

/// One StatusCallback's event; `None` (and why, in `notes`) for one Ringside does not read.
fn status_callback(
    f: &Fields,
    ctx: &ParseContext,
    notes: &mut Vec<String>,
) -> Result<Option<CallEvent>, ParseError> {
    let call_sid = call_sid(f)?;
    let status = f.text("Status");
    let event = match f.text("EventType") {
        Some(t) => match t.to_ascii_lowercase().as_str() {
            "ringing" => CallbackEvent::Ringing,
            "answered" => CallbackEvent::Answered,
            "terminal" => CallbackEvent::Terminal,
            _ => {
                notes.push(format!(
                    "StatusCallback EventType `{t}` is not one Ringside reads"
                ));
                return Ok(None);
            }
        },
        // Callbacks from before EventType existed were sent only at the end of the call.
        None if status.is_some() => CallbackEvent::Terminal,
        None => {
            notes.push("StatusCallback without EventType or Status".into());
            return Ok(None);
        }
    };
    let direction = f.text("Direction").and_then(|d| {
        let read = WireDirection::from_wire(&d);
        if read.is_none() {
            notes.push(format!("`Direction` `{d}` is not one Ringside reads"));
        }
        read
    });
    let legs = legs(f, notes);

    let kind = match event {
        CallbackEvent::Ringing => EventKind::Ringing { agent: None },
        CallbackEvent::Answered => match legs.as_deref() {
            Some([_, later @ ..]) if !later.is_empty() && !later.iter().any(WireLeg::is_up) => {
                EventKind::Details
            }
            _ => EventKind::Answered { by: None },
        },
        CallbackEvent::Terminal => {
            let status = match status {
                Some(raw) => {
                    let read = Status::from_wire(&raw);
                    if read.is_none() {
                        notes.push(format!(
                            "StatusCallback Status `{raw}` is not one Ringside reads; read as completed"
                        ));
                    }
                    read
                }
                None => {
                    notes.push("terminal StatusCallback without Status; read as completed".into());
                    None
                }
            };
            let conversation = number(f, "ConversationDuration", notes);
            let answered = answered(conversation, legs.as_deref());
            let reason = match status {
                None | Some(Status::Completed | Status::InProgress) => EndReason::Completed,
                Some(Status::NoAnswer) => EndReason::NoAnswer,
                Some(Status::Busy) => EndReason::Busy,
                Some(Status::Failed | Status::Canceled) => EndReason::Failed,
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
    Ok(Some(
        CallEvent::new(PROVIDER, call_sid, kind)
            .at(local_time(
                f,
                &["EventTime", "DateUpdated"],
                ctx.local_offset,
                notes,
            ))
            .facts(facts),
    ))
}

/// Whether a terminal callback shows that someone answered: `Some(true)` when it shows talk
/// time, else `None` (see the module docs).
fn answered(conversation: Option<u64>, legs: Option<&[WireLeg]>) -> Option<bool> {
    let talked = match (conversation, legs) {
        (Some(talk), _) => talk > 0,
        (None, Some([_, later @ ..])) => later.iter().any(WireLeg::talked),
        (None, _) => false,
    };
    talked.then_some(true)
}

fn call_sid(f: &Fields) -> Result<String, ParseError> {
    f.text("CallSid").ok_or_else(|| malformed("no CallSid"))
}

/// The first of the time fields `names` that is there, read in the account's local time
/// (noted when it does not read).
fn local_time(
    f: &Fields,
    names: &[&str],
    offset: FixedOffset,
    notes: &mut Vec<String>,
) -> Option<DateTime<Utc>> {
    let name = names.iter().find(|n| f.text(n).is_some())?;
    wire::time_field(name, f.text(name).as_deref(), offset, notes)
}

/// A duration ([`wire::seconds`]); absent or `"null"` is `None`, and so (noted) is anything
/// that is not seconds.
fn number(f: &Fields, name: &str, notes: &mut Vec<String>) -> Option<u64> {
    let t = f.text(name)?;
    let s = wire::seconds(&t);
    if s.is_none() {
        notes.push(format!("`{name}` is `{t}`, not seconds"));
    }
    s
}

/// `Legs` as a JSON array, as JSON text (urlencoded bodies), or as `Legs[i][Field]` form
/// fields; `None` when absent, and (noted) when it does not read.
fn legs(f: &Fields, notes: &mut Vec<String>) -> Option<Vec<WireLeg>> {
    let parsed;
    let items = match f.value("Legs") {
        None | Some(Value::Null) => return form_legs(f),
        Some(Value::Array(items)) => items,
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() || s.eq_ignore_ascii_case("null") {
                return None;
            }
            match serde_json::from_str::<Value>(s) {
                Ok(v @ Value::Array(_)) => {
                    parsed = v;
                    parsed.as_array().expect("an array")
                }
                _ => {
                    notes.push("`Legs` is not a JSON array; it is not read".into());
                    return None;
                }
            }
        }
        Some(_) => {
            notes.push("`Legs` is not an array; it is not read".into());
            return None;
        }
    };
    let mut legs = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(obj) = item else {
            notes.push("a `Legs` element is not an object; `Legs` is not read".into());
            return None;
        };
        let get = |name: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| value_text(v))
        };
        let on_call_duration = get("OnCallDuration").and_then(|t| {
            let s = wire::seconds(&t);
            if s.is_none() {
                notes.push(format!("a leg's `OnCallDuration` is `{t}`, not seconds"));
            }
            s
        });
        legs.push(WireLeg {
            status: get("Status"),
            on_call_duration,
        });
    }
    Some(legs)
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
    fn talk_time_says_answered_and_nothing_else_says_missed() {
        let both = [leg("completed", Some(12)), leg("completed", Some(6))];
        assert_eq!(answered(Some(6), Some(&both)), Some(true));
        // Exotel's own measure says nobody talked: not a verdict against an answer Ringside saw.
        assert_eq!(answered(Some(0), Some(&both)), None);
        let caller_only = [leg("completed", Some(40)), leg("no-answer", None)];
        assert_eq!(answered(None, Some(&both)), Some(true));
        assert_eq!(answered(None, Some(&caller_only)), None);
        assert_eq!(answered(None, Some(&[leg("completed", Some(9))])), None);
        assert_eq!(answered(None, None), None);
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
