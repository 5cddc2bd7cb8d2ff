//! Whippy call webhooks: a JSON envelope `{data, event, request_id, api_version?, created_at?}`
//! per HTTP POST, with `event` one of `call.started`, `call.ended`, `call.analyzed`.
//!
//! Whippy calls are mostly AI-agent calls: `call.started` means connected (there is no ringing
//! phase), `call.ended` ends the call and `call.analyzed` later adds the transcript, recording
//! and analysis. A missed call is not documented: a call that was connected (`call.started`) is
//! never missed, whatever `call.ended` says; one that ends without having started is missed
//! when its `delivery_status` is not `call_completed.*`. Another event name (`message.created`,
//! ...) is journaled, logged and acknowledged, and changes nothing. The seed and what Ringside
//! does with each field: `docs/providers/whippy.md`.
//!
//! Dedupe: the seed's three events of one call share one `request_id`, and two calls' events
//! may too, so a delivery is named by what Whippy keeps stable per call and event: `data.id`,
//! the event name and `data.updated_at`.

use super::{wire, Adapter, Inbound, ParseContext, ParseError, Parsed, Reports};
use crate::model::{Attachment, CallEvent, CallFacts, Direction, EndReason, EventKind, Provider};
use serde::Deserialize;
use serde_json::{Map, Value};

mod config;
mod scenarios;
mod signature;

pub use config::Whippy;

const PROVIDER: Provider = Provider::Whippy;

pub const ADAPTER: Adapter = Adapter {
    provider: PROVIDER,
    parse,
    scenarios: scenarios::SCENARIOS,
    reports: Reports {
        ringing: false,
        ..Reports::FULL
    },
};

/// The envelope. `data` stays raw until the event name is known, so that a well-formed event
/// of another kind (`message.created`, ...) is ignored rather than refused as malformed.
/// `request_id` is not read: a call's events share it (see the module docs).
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    /// Newer payloads only.
    #[serde(default)]
    created_at: Option<Value>,
}

/// `data`, read field by field: a field of another type than Whippy's is noted and left out,
/// never the event.
struct CallData {
    /// The call: stable across its three events.
    id: String,
    from: Option<String>,
    to: Option<String>,
    /// `INBOUND` / `OUTBOUND`.
    direction: Option<String>,
    /// `call_in_progress`, `call_completed.user_hangup`, `call_completed.agent_hangup`, others
    /// undocumented.
    delivery_status: Option<String>,
    /// The transcript (`Agent: ...\nUser: ...`) or null.
    body: Option<String>,
    attachments: Vec<Attachment>,
    /// A number in the published examples; may be null.
    user_id: Option<String>,
    /// When the call's record last changed: part of a delivery's id, not the event's time.
    updated_at: Option<String>,
    /// Newer payloads only: `metadata.duration`, seconds as a number or a numeric string.
    duration: Option<Value>,
}

impl CallData {
    fn read(data: &Map<String, Value>, notes: &mut Vec<String>) -> Result<CallData, ParseError> {
        let id = data
            .get("id")
            .and_then(id_text)
            .ok_or_else(|| ParseError::malformed(PROVIDER, "`data.id` is missing or empty"))?;
        let mut text = |key: &str| match data.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => non_empty(Some(s.clone())),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                notes.push(format!("`data.{key}` is `{other}`, not text; not read"));
                None
            }
        };
        let (from, to, direction) = (text("from"), text("to"), text("direction"));
        let (delivery_status, body, updated_at) =
            (text("delivery_status"), text("body"), text("updated_at"));
        let user_id = match data.get("user_id") {
            None | Some(Value::Null) => None,
            Some(v) => id_text(v).or_else(|| {
                notes.push(format!("`data.user_id` is `{v}`, not an id; not read"));
                None
            }),
        };
        let attachments = match data.get("attachments") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().filter_map(attachment).collect(),
            Some(other) => {
                notes.push(format!(
                    "`data.attachments` is `{other}`, not a list; not read"
                ));
                Vec::new()
            }
        };
        let duration = match data.get("metadata") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => m.get("duration").filter(|d| !d.is_null()).cloned(),
            Some(other) => {
                notes.push(format!(
                    "`data.metadata` is `{other}`, not an object; not read"
                ));
                None
            }
        };
        Ok(CallData {
            id,
            from,
            to,
            direction,
            delivery_status,
            body,
            attachments,
            user_id,
            updated_at,
            duration,
        })
    }
}

enum WhippyEvent {
    Started,
    Ended,
    Analyzed,
}

pub fn parse(req: &Inbound<'_>, _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    if req.method != http::Method::POST {
        return Err(ParseError::method(PROVIDER, req.method));
    }
    let envelope: Envelope = wire::json(PROVIDER, req.body)?;
    let name = envelope.event.as_deref().unwrap_or("").trim();
    let event = match name.to_ascii_lowercase().as_str() {
        "call.started" => WhippyEvent::Started,
        "call.ended" => WhippyEvent::Ended,
        "call.analyzed" => WhippyEvent::Analyzed,
        other => {
            let data = envelope.data.as_ref();
            let id = data.and_then(|d| d.get("id")).and_then(id_text);
            let updated = data
                .and_then(|d| d.get("updated_at"))
                .and_then(Value::as_str);
            let reason = match (other, &id) {
                // Neither an event nor a call named: not Whippy's envelope.
                ("", None) => {
                    return Err(ParseError::malformed(
                        PROVIDER,
                        "no `event` and no `data.id`",
                    ))
                }
                ("", Some(_)) => "no `event` name: not a call event Ringside reads".to_string(),
                (other, _) => format!("Whippy event `{other}` is not a call event Ringside reads"),
            };
            return Ok(Parsed::ignored(
                reason,
                id.map(|id| delivery_id(&id, other, updated)),
            ));
        }
    };
    let mut notes = Vec::new();
    let data = match &envelope.data {
        Some(Value::Object(obj)) => CallData::read(obj, &mut notes)?,
        _ => {
            return Err(ParseError::malformed(
                PROVIDER,
                "`data` is missing or not an object",
            ))
        }
    };

    let kind = match event {
        WhippyEvent::Started => EventKind::Answered {
            by: data.user_id.clone(),
        },
        WhippyEvent::Ended => {
            let duration_s = data.duration.as_ref().and_then(seconds);
            match data.delivery_status.as_deref().map(str::trim) {
                // Absent: nothing said either way; the engine uses what it saw.
                None | Some("") => EventKind::Ended {
                    answered: None,
                    reason: EndReason::Completed,
                    duration_s,
                },
                Some(s) if s.to_ascii_lowercase().starts_with("call_completed") => {
                    EventKind::Ended {
                        answered: Some(true),
                        reason: EndReason::Completed,
                        duration_s,
                    }
                }
                // Not completed: missed, unless the call was connected (`call.started`).
                Some(_) => EventKind::Ended {
                    answered: None,
                    reason: EndReason::NoAnswer,
                    duration_s,
                },
            }
        }
        WhippyEvent::Analyzed => EventKind::Details,
    };

    let attachments = data.attachments;
    let facts = CallFacts {
        direction: data.direction.as_deref().and_then(|d| {
            let read = direction(d);
            if read.is_none() {
                notes.push(format!("`direction` `{d}` is not INBOUND or OUTBOUND"));
            }
            read
        }),
        from: data.from,
        to: data.to,
        line: None,
        recording_url: attachments
            .iter()
            .find(|a| a.kind == "recording")
            .map(|a| a.url.clone()),
        transcript: data.body,
        attachments,
    };
    // The envelope's `created_at` is when the event happened (newer payloads). `data.updated_at`
    // is not: the seed's three events of one call carry the same one, so a call would last
    // no time at all. Without the envelope's, Ringside's receive time is the event's.
    let created = envelope.created_at.as_ref().map(|t| match t {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let at = wire::time_field("created_at", created.as_deref(), wire::utc(), &mut notes);
    if let Some(d) = data.duration.as_ref().filter(|d| seconds(d).is_none()) {
        notes.push(format!("`metadata.duration` is `{d}`, not seconds"));
    }

    Ok(Parsed::events(
        vec![CallEvent::new(PROVIDER, data.id.clone(), kind)
            .at(at)
            .facts(facts)],
        Some(delivery_id(&data.id, name, data.updated_at.as_deref())),
    )
    .with_notes(notes))
}

/// One delivery of one event of one call: the call, the event name, and the call's
/// `updated_at` (a new version of the same event, such as a second analysis, is new).
fn delivery_id(call: &str, event: &str, updated_at: Option<&str>) -> String {
    format!(
        "{call}:{}:{}",
        event.to_ascii_lowercase(),
        updated_at.unwrap_or("").trim()
    )
}

fn direction(s: &str) -> Option<Direction> {
    match s.trim().to_ascii_uppercase().as_str() {
        "INBOUND" => Some(Direction::Inbound),
        "OUTBOUND" => Some(Direction::Outbound),
        // Undocumented value: a fact, not a state, so drop it rather than the event.
        _ => None,
    }
}

/// One of `data.attachments`: an object with a `url` (and maybe a `content_type`).
fn attachment(a: &Value) -> Option<Attachment> {
    let field = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
    let url = non_empty(field("url"))?;
    let content_type = non_empty(field("content_type"));
    let is_audio = content_type
        .as_deref()
        .is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("audio/"));
    let lower = url.to_ascii_lowercase();
    let kind = if is_audio {
        "recording"
    } else if lower.contains("transcript") {
        "transcript"
    } else if lower.contains("analysis") {
        "analysis"
    } else {
        "other"
    };
    Some(Attachment {
        kind: kind.to_string(),
        url,
        content_type,
    })
}

/// An id sent as a JSON string or number.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => non_empty(Some(s.trim().to_string())),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `metadata.duration`, a JSON number or numeric string.
fn seconds(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => wire::seconds(&n.to_string()),
        Value::String(s) => wire::seconds(s),
        _ => None,
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, Method};
    use serde_json::json;

    fn parse_json(v: &Value) -> Result<Parsed, ParseError> {
        let body = serde_json::to_vec(v).unwrap();
        let headers = HeaderMap::new();
        let req = Inbound {
            method: &Method::POST,
            query: None,
            headers: &headers,
            body: &body,
        };
        parse(&req, &ParseContext::default())
    }

    fn ended(status: Option<&str>) -> EventKind {
        let mut data = json!({"id": "c1", "metadata": {"duration": 61.4}});
        if let Some(s) = status {
            data["delivery_status"] = json!(s);
        }
        let p = parse_json(&json!({"event": "call.ended", "data": data})).unwrap();
        assert_eq!(p.delivery_id.as_deref(), Some("c1:call.ended:"));
        p.events[0].kind.clone()
    }

    #[test]
    fn call_ended_says_answered_when_completed_and_leaves_the_rest_to_what_was_seen() {
        assert_eq!(
            ended(Some("call_completed.agent_hangup")),
            EventKind::Ended {
                answered: Some(true),
                reason: EndReason::Completed,
                duration_s: Some(61)
            }
        );
        // Missed only if the call never started: not the adapter's to say.
        assert_eq!(
            ended(Some("call_no_answer")),
            EventKind::Ended {
                answered: None,
                reason: EndReason::NoAnswer,
                duration_s: Some(61)
            }
        );
        assert!(matches!(
            ended(None),
            EventKind::Ended {
                answered: None,
                reason: EndReason::Completed,
                ..
            }
        ));
    }

    #[test]
    fn a_delivery_is_named_by_call_event_and_version_never_by_request_id() {
        let id = |ev: &str, call: &str, updated: &str| {
            parse_json(&json!({"event": ev, "request_id": "r1",
                "data": {"id": call, "updated_at": updated}}))
            .unwrap()
            .delivery_id
            .unwrap()
        };
        let t = "2023-08-24T10:05:18.432652Z";
        assert_eq!(id("call.started", "c1", t), format!("c1:call.started:{t}"));
        assert_ne!(id("call.started", "c1", t), id("call.ended", "c1", t));
        assert_ne!(id("call.started", "c1", t), id("call.started", "c2", t));
        assert_ne!(
            id("call.analyzed", "c1", t),
            id("call.analyzed", "c1", "2023-08-24T10:09:00Z")
        );
    }

    #[test]
    fn attachments_are_classified_and_the_audio_is_the_recording() {
        let p = parse_json(&json!({"event": "call.analyzed", "data": {
            "id": "c1",
            "direction": "outbound",
            "body": "  ",
            "user_id": null,
            "attachments": [
                {"content_type": "application/json", "url": "https://x/calls/1/analysis.json"},
                {"content_type": "AUDIO/x-wav", "url": "https://x/calls/1/recording.wav"},
                {"content_type": "application/json", "url": "https://x/calls/1/Transcript.json"},
                {"content_type": null, "url": "https://x/calls/1/other.bin"},
                {"content_type": "audio/wav"}
            ]
        }}))
        .unwrap();
        let e = &p.events[0];
        assert_eq!(e.kind, EventKind::Details);
        let kinds: Vec<_> = e
            .facts
            .attachments
            .iter()
            .map(|a| a.kind.as_str())
            .collect();
        assert_eq!(kinds, ["analysis", "recording", "transcript", "other"]);
        assert_eq!(
            e.facts.recording_url.as_deref(),
            Some("https://x/calls/1/recording.wav")
        );
        assert_eq!(e.facts.transcript, None);
        assert_eq!(e.facts.direction, Some(Direction::Outbound));
    }

    #[test]
    fn started_is_answered_by_the_user_id_as_text() {
        let p = parse_json(
            &json!({"event": "call.started", "created_at": "2024-01-02T03:04:05Z",
            "data": {"id": "c1", "user_id": 42}}),
        )
        .unwrap();
        assert_eq!(
            p.events[0].kind,
            EventKind::Answered {
                by: Some("42".into())
            }
        );
        assert_eq!(
            p.events[0].at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-01-02T03:04:05+00:00")
        );
    }

    #[test]
    fn other_events_are_ignored_and_broken_ones_refused() {
        let other =
            parse_json(&json!({"event": "message.created", "data": {"id": "m1", "body": "hi"}}))
                .unwrap();
        assert!(other.events.is_empty());
        assert_eq!(other.delivery_id.as_deref(), Some("m1:message.created:"));
        assert!(
            other.notes[0].contains("message.created"),
            "{:?}",
            other.notes
        );
        // No event name: journaled, not read.
        let nameless = parse_json(&json!({"data": {"id": "c1"}})).unwrap();
        assert!(nameless.events.is_empty() && nameless.notes[0].contains("no `event`"));
        // A field of another type is noted and left out, never the event.
        let odd = parse_json(&json!({"event": "call.ended", "data": {
            "id": 5, "from": 12183925232u64, "body": {"x": 1}, "attachments": "none",
            "user_id": [42], "metadata": 3, "delivery_status": "call_completed.user_hangup"}}))
        .unwrap();
        assert_eq!(odd.events[0].provider_call_id, "5");
        assert_eq!(odd.events[0].facts.from.as_deref(), Some("12183925232"));
        assert_eq!(odd.notes.len(), 4, "{:?}", odd.notes);
        assert!(matches!(
            odd.events[0].kind,
            EventKind::Ended {
                answered: Some(true),
                ..
            }
        ));
        // No call to file it under: refused.
        for bad in [
            json!({"event": "call.ended"}),
            json!({"event": "call.ended", "data": null}),
            json!({"event": "call.ended", "data": {"from": "+1"}}),
            json!({"event": "call.ended", "data": {"id": ""}}),
            json!({"event": "call.ended", "data": {"id": true}}),
            json!({"a": {"a": 1}}),
            json!([1, 2]),
        ] {
            assert!(
                matches!(parse_json(&bad), Err(ParseError::Malformed { .. })),
                "{bad}"
            );
        }
        let headers = HeaderMap::new();
        let trailing_comma = br#"{"event": "call.ended", "data": {"id": "c1",}}"#;
        let req = Inbound {
            method: &Method::POST,
            query: None,
            headers: &headers,
            body: trailing_comma,
        };
        assert!(matches!(
            parse(&req, &ParseContext::default()),
            Err(ParseError::Malformed { .. })
        ));
    }
}
