//! Whippy call webhooks: a JSON envelope `{data, event, request_id, api_version?, created_at?}`
//! per HTTP POST, with `event` one of `call.started`, `call.ended`, `call.analyzed`.
//!
//! Whippy calls are mostly AI-agent calls: `call.started` means connected (there is no ringing
//! phase), `call.ended` ends the call and `call.analyzed` later adds the transcript, recording
//! and analysis. A missed call is not documented; a `call.ended` whose `delivery_status` is not
//! `call_completed.*` is the best signal there is.

use super::{wire, Adapter, Inbound, ParseContext, ParseError, Parsed};
use crate::model::{Attachment, CallEvent, CallFacts, Direction, EndReason, EventKind, Provider};
use serde::Deserialize;
use serde_json::Value;

mod config;
mod scenarios;
mod signature;

pub use config::Whippy;

const PROVIDER: Provider = Provider::Whippy;

pub const ADAPTER: Adapter = Adapter {
    provider: PROVIDER,
    parse,
    scenarios: scenarios::SCENARIOS,
};

/// The envelope. `data` stays raw until the event name is known, so that a well-formed event
/// of another kind (`message.created`, ...) is reported as unsupported rather than malformed.
#[derive(Deserialize)]
struct Envelope {
    event: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    request_id: Option<String>,
    /// Newer payloads only.
    #[serde(default)]
    created_at: Option<String>,
}

#[derive(Deserialize)]
struct CallData {
    /// The call: stable across its three events.
    id: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    /// `INBOUND` / `OUTBOUND`.
    #[serde(default)]
    direction: Option<String>,
    /// `call_in_progress`, `call_completed.user_hangup`, `call_completed.agent_hangup`, others
    /// undocumented.
    #[serde(default)]
    delivery_status: Option<String>,
    /// The transcript (`Agent: ...\nUser: ...`) or null.
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    attachments: Option<Vec<WireAttachment>>,
    /// A number in the published examples; may be null.
    #[serde(default)]
    user_id: Option<Value>,
    #[serde(default)]
    updated_at: Option<String>,
    /// Newer payloads only.
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct WireAttachment {
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    /// Seconds; the type is unconfirmed, so a number or a numeric string is accepted.
    #[serde(default)]
    duration: Option<Value>,
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
    let event = match envelope.event.trim().to_ascii_lowercase().as_str() {
        "call.started" => WhippyEvent::Started,
        "call.ended" => WhippyEvent::Ended,
        "call.analyzed" => WhippyEvent::Analyzed,
        other => {
            return Err(ParseError::unsupported(
                PROVIDER,
                format!("event `{other}`"),
            ))
        }
    };
    let data: CallData = match envelope.data {
        Some(v @ Value::Object(_)) => serde_json::from_value(v)
            .map_err(|e| ParseError::malformed(PROVIDER, format!("data: {e}")))?,
        _ => {
            return Err(ParseError::malformed(
                PROVIDER,
                "`data` is missing or not an object",
            ))
        }
    };
    if data.id.trim().is_empty() {
        return Err(ParseError::malformed(PROVIDER, "`data.id` is empty"));
    }

    let kind = match event {
        WhippyEvent::Started => EventKind::Answered {
            by: data.user_id.as_ref().and_then(id_text),
        },
        WhippyEvent::Ended => {
            let duration_s = data
                .metadata
                .as_ref()
                .and_then(|m| m.duration.as_ref())
                .and_then(seconds);
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
                Some(_) => EventKind::Ended {
                    answered: Some(false),
                    reason: EndReason::NoAnswer,
                    duration_s,
                },
            }
        }
        WhippyEvent::Analyzed => EventKind::Details,
    };

    let attachments: Vec<Attachment> = data
        .attachments
        .unwrap_or_default()
        .into_iter()
        .filter_map(attachment)
        .collect();
    let facts = CallFacts {
        direction: data.direction.as_deref().and_then(direction),
        from: non_empty(data.from),
        to: non_empty(data.to),
        line: None,
        recording_url: attachments
            .iter()
            .find(|a| a.kind == "recording")
            .map(|a| a.url.clone()),
        transcript: data.body.filter(|b| !b.trim().is_empty()),
        attachments,
    };
    let at = data
        .updated_at
        .as_deref()
        .or(envelope.created_at.as_deref())
        .and_then(|s| wire::timestamp(s, wire::utc()));

    Ok(Parsed {
        events: vec![CallEvent::new(PROVIDER, data.id.trim(), kind)
            .at(at)
            .facts(facts)],
        // The published examples reuse one request_id for all three events of a call, so the
        // event name is part of the key.
        delivery_id: non_empty(envelope.request_id).map(|id| format!("{id}:{}", envelope.event)),
    })
}

fn direction(s: &str) -> Option<Direction> {
    match s.trim().to_ascii_uppercase().as_str() {
        "INBOUND" => Some(Direction::Inbound),
        "OUTBOUND" => Some(Direction::Outbound),
        // Undocumented value: a fact, not a state, so drop it rather than the event.
        _ => None,
    }
}

fn attachment(a: WireAttachment) -> Option<Attachment> {
    let url = non_empty(a.url)?;
    let content_type = non_empty(a.content_type);
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
        Value::String(s) => non_empty(Some(s.clone())),
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
        assert_eq!(p.delivery_id, None);
        p.events[0].kind.clone()
    }

    #[test]
    fn call_ended_reads_missed_from_the_delivery_status() {
        assert_eq!(
            ended(Some("call_completed.agent_hangup")),
            EventKind::Ended {
                answered: Some(true),
                reason: EndReason::Completed,
                duration_s: Some(61)
            }
        );
        assert_eq!(
            ended(Some("call_no_answer")),
            EventKind::Ended {
                answered: Some(false),
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
    fn one_request_id_across_events_gives_distinct_delivery_ids() {
        let ids: Vec<_> = ["call.started", "call.ended", "call.analyzed"]
            .into_iter()
            .map(|ev| {
                parse_json(&json!({"event": ev, "request_id": "r1", "data": {"id": "c1"}}))
                    .unwrap()
                    .delivery_id
                    .unwrap()
            })
            .collect();
        assert_eq!(
            ids,
            ["r1:call.started", "r1:call.ended", "r1:call.analyzed"]
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
    fn errors_are_typed() {
        let unsupported = json!({"event": "message.created", "data": {"body": "hi"}});
        assert!(matches!(
            parse_json(&unsupported),
            Err(ParseError::Unsupported { .. })
        ));
        for bad in [
            json!({"event": "call.ended"}),
            json!({"event": "call.ended", "data": null}),
            json!({"event": "call.ended", "data": {"from": "+1"}}),
            json!({"event": "call.ended", "data": {"id": ""}}),
            json!({"event": "call.ended", "data": {"id": 5}}),
            json!({"data": {"id": "c1"}}),
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
