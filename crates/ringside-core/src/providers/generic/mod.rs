//! Generic CTI: the push format Zammad popularised, sent by many PBXes. One HTTP POST per
//! event, JSON or form-encoded:
//!
//! ```text
//! event=newCall|answer|hangup  from  to  direction=in|out  callId
//! user (a string, a JSON array, or a repeated `user[]` form field)  queue (optional)
//! answeringNumber (answer, hangup)  cause (hangup)
//! ```
//!
//! The format has no timestamps and no event ids: `at` is left to the receive time and
//! deliveries are deduplicated on the body's hash (a `callId` is taken to be unique). Another
//! event name is journaled, logged and acknowledged and changes nothing; a hangup `cause` or
//! `direction` Ringside does not know is noted and left unknown. What Ringside does with each
//! field: `docs/providers/generic.md`.

use super::{wire, Adapter, Inbound, ParseContext, ParseError, Parsed, Reports};
use crate::model::{CallEvent, CallFacts, Direction, EndReason, EventKind, Provider};
use serde_json::Value;

mod scenarios;

const PROVIDER: Provider = Provider::Generic;

/// Its config section is a plain [`super::hook::Hook`].
pub const ADAPTER: Adapter = Adapter {
    provider: PROVIDER,
    parse,
    scenarios: scenarios::SCENARIOS,
    reports: Reports::FULL,
};

enum CtiEvent {
    NewCall,
    Answer,
    Hangup,
}

/// Hangup causes, as the format names them.
enum Cause {
    NormalClearing,
    Busy,
    Cancel,
    NoAnswer,
    Congestion,
    NotFound,
    Forwarded,
}

pub fn parse(req: &Inbound<'_>, _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    if req.method != http::Method::POST {
        return Err(ParseError::method(PROVIDER, req.method));
    }
    let fields = wire::fields(PROVIDER, req)?;
    let Some(event_name) = fields.text("event") else {
        if fields.text("callId").is_none() {
            return Err(ParseError::malformed(
                PROVIDER,
                "no `event` and no `callId`",
            ));
        }
        return Ok(Parsed::ignored(
            "no `event`: not a call event Ringside reads",
            None,
        ));
    };
    let event = match event_name.to_ascii_lowercase().as_str() {
        "newcall" => CtiEvent::NewCall,
        "answer" => CtiEvent::Answer,
        "hangup" => CtiEvent::Hangup,
        _ => {
            return Ok(Parsed::ignored(
                format!("event `{event_name}` is not newCall, answer or hangup"),
                None,
            ))
        }
    };
    let call_id = fields
        .text("callId")
        .ok_or_else(|| ParseError::malformed(PROVIDER, "missing `callId`"))?;
    let mut notes = Vec::new();
    let users = users(req, &fields, &mut notes);

    let facts = CallFacts {
        direction: fields.text("direction").and_then(|d| {
            let read = direction(&d);
            if read.is_none() {
                notes.push(format!("`direction` `{d}` is not in or out"));
            }
            read
        }),
        // Kept as sent, `anonymous` included; the engine normalizes numbers.
        from: fields.text("from"),
        to: fields.text("to"),
        line: fields.text("queue"),
        ..CallFacts::default()
    };

    let kinds: Vec<EventKind> = match event {
        // One leg per user: a group call rings several at once.
        CtiEvent::NewCall if users.is_empty() => vec![EventKind::Ringing { agent: None }],
        CtiEvent::NewCall => users
            .into_iter()
            .map(|u| EventKind::Ringing { agent: Some(u) })
            .collect(),
        CtiEvent::Answer => vec![EventKind::Answered {
            by: fields
                .text("answeringNumber")
                .or_else(|| users.into_iter().next()),
        }],
        CtiEvent::Hangup => {
            let (answered, reason) = match fields.text("cause").map(|c| (cause(&c), c)) {
                // Whether anyone answered is the engine's to say, from what it saw.
                None => (None, EndReason::Completed),
                Some((None, c)) => {
                    notes.push(format!("hangup cause `{c}` is not one Ringside reads"));
                    (None, EndReason::Completed)
                }
                Some((Some(c), _)) => match c {
                    Cause::NormalClearing | Cause::Forwarded => (None, EndReason::Completed),
                    Cause::Busy => (Some(false), EndReason::Busy),
                    Cause::Cancel | Cause::NoAnswer => (Some(false), EndReason::NoAnswer),
                    Cause::Congestion | Cause::NotFound => (Some(false), EndReason::Failed),
                },
            };
            vec![EventKind::Ended {
                answered,
                reason,
                duration_s: None,
            }]
        }
    };

    Ok(Parsed::events(
        kinds
            .into_iter()
            .map(|k| CallEvent::new(PROVIDER, call_id.clone(), k).facts(facts.clone()))
            .collect(),
        None,
    )
    .with_notes(notes))
}

fn cause(c: &str) -> Option<Cause> {
    Some(match c.to_ascii_lowercase().as_str() {
        "normalclearing" => Cause::NormalClearing,
        "busy" => Cause::Busy,
        "cancel" => Cause::Cancel,
        "noanswer" => Cause::NoAnswer,
        "congestion" => Cause::Congestion,
        "notfound" => Cause::NotFound,
        "forwarded" => Cause::Forwarded,
        _ => return None,
    })
}

fn direction(s: &str) -> Option<Direction> {
    match s.to_ascii_lowercase().as_str() {
        "in" => Some(Direction::Inbound),
        "out" => Some(Direction::Outbound),
        // Undocumented value: a fact, not a state, so drop it rather than the event.
        _ => None,
    }
}

/// The users involved, in order: `user` or `user[]` as a string, a JSON array (also as JSON
/// text in a form field) or a repeated form field (Zammad documents `user[]=A&user[]=B`).
fn users(req: &Inbound<'_>, fields: &wire::Fields, notes: &mut Vec<String>) -> Vec<String> {
    let value = fields.value("user").or_else(|| fields.value("user[]"));
    let out = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut users = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => users.push(s.trim().to_string()),
                    Value::Number(n) => users.push(n.to_string()),
                    Value::Null => {}
                    other => notes.push(format!("a `user` is `{other}`, not a name; left out")),
                }
            }
            users
        }
        Some(Value::String(s)) if is_form(req) => {
            let repeated = form_users(req.body);
            if repeated.len() > 1 {
                repeated
            } else {
                text_users(s)
            }
        }
        Some(Value::String(s)) => text_users(s),
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(other) => {
            notes.push(format!(
                "`user` is `{other}`, not a name or a list; left out"
            ));
            Vec::new()
        }
    };
    // Blank entries dropped, each user once, first mention first.
    let mut unique: Vec<String> = Vec::with_capacity(out.len());
    for u in out {
        if !u.is_empty() && !u.eq_ignore_ascii_case("null") && !unique.contains(&u) {
            unique.push(u);
        }
    }
    unique
}

/// One user, or a JSON array sent as text in a form field.
fn text_users(s: &str) -> Vec<String> {
    let s = s.trim();
    if s.starts_with('[') {
        if let Ok(list) = serde_json::from_str::<Vec<String>>(s) {
            return list.into_iter().map(|u| u.trim().to_string()).collect();
        }
    }
    vec![s.to_string()]
}

/// Whether [`wire::fields`] read the body as a urlencoded form (it keeps only the last value
/// of a repeated field, so the users are read again from the raw pairs).
fn is_form(req: &Inbound<'_>) -> bool {
    let ct = req.content_type().unwrap_or("").to_ascii_lowercase();
    let first = req.body.iter().find(|b| !b.is_ascii_whitespace());
    !ct.starts_with("multipart/") && !ct.contains("json") && first != Some(&b'{')
}

fn form_users(body: &[u8]) -> Vec<String> {
    form_urlencoded::parse(body)
        .filter(|(k, _)| k.eq_ignore_ascii_case("user") || k.eq_ignore_ascii_case("user[]"))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method};

    fn parse_as(content_type: &str, body: &str) -> Result<Parsed, ParseError> {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_str(content_type).unwrap());
        let req = Inbound {
            method: &Method::POST,
            query: None,
            headers: &headers,
            body: body.as_bytes(),
        };
        parse(&req, &ParseContext::default())
    }

    fn kinds(p: &Parsed) -> Vec<EventKind> {
        p.events.iter().map(|e| e.kind.clone()).collect()
    }

    fn ringing(agents: &[&str]) -> Vec<EventKind> {
        agents
            .iter()
            .map(|a| EventKind::Ringing {
                agent: Some(a.to_string()),
            })
            .collect()
    }

    #[test]
    fn new_call_rings_every_user_in_every_encoding() {
        let json = parse_as(
            "application/json",
            r#"{"event":"newCall","from":"493055571600","to":"4930777000","direction":"in","callId":"c1","user":["Alice","Bob"]}"#,
        )
        .unwrap();
        let form = parse_as(
            "application/x-www-form-urlencoded",
            "event=newCall&from=493055571600&to=4930777000&direction=in&callId=c1&user%5B%5D=Alice&user%5B%5D=Bob",
        )
        .unwrap();
        let form_text_array = parse_as(
            "application/x-www-form-urlencoded",
            "event=newCall&callId=c1&user=%5B%22Alice%22%2C%22Bob%22%5D",
        )
        .unwrap();
        assert_eq!(kinds(&json), ringing(&["Alice", "Bob"]));
        assert_eq!(kinds(&form), ringing(&["Alice", "Bob"]));
        assert_eq!(kinds(&form_text_array), ringing(&["Alice", "Bob"]));
        assert_eq!(json.events, form.events);
        let e = &json.events[1];
        assert_eq!(e.provider_call_id, "c1");
        assert_eq!(e.facts.direction, Some(Direction::Inbound));
        assert_eq!(e.facts.from.as_deref(), Some("493055571600"));
        assert_eq!(json.delivery_id, None);
    }

    #[test]
    fn new_call_without_user_rings_somewhere_unnamed() {
        let p = parse_as(
            "application/json",
            r#"{"event":"newCall","from":"anonymous","callId":"c1","user":[]}"#,
        )
        .unwrap();
        assert_eq!(kinds(&p), vec![EventKind::Ringing { agent: None }]);
        assert_eq!(p.events[0].facts.from.as_deref(), Some("anonymous"));
    }

    #[test]
    fn a_user_that_is_no_name_is_left_out_and_noted() {
        let p = parse_as(
            "application/json",
            r#"{"event":"newCall","callId":"c1","user":[{"a":1},"Bob"]}"#,
        )
        .unwrap();
        assert_eq!(kinds(&p), ringing(&["Bob"]));
        assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    }

    #[test]
    fn answer_prefers_the_answering_number() {
        let p = parse_as(
            "application/json",
            r#"{"event":"answer","callId":"c1","user":"Alice","answeringNumber":"201"}"#,
        )
        .unwrap();
        assert_eq!(
            kinds(&p),
            vec![EventKind::Answered {
                by: Some("201".into())
            }]
        );
        let p = parse_as(
            "application/json",
            r#"{"event":"answer","callId":"c1","user":"Alice"}"#,
        )
        .unwrap();
        assert_eq!(
            kinds(&p),
            vec![EventKind::Answered {
                by: Some("Alice".into())
            }]
        );
    }

    #[test]
    fn hangup_causes_map_to_end_reasons() {
        let end = |cause: Option<&str>| {
            let body = match cause {
                Some(c) => format!("event=hangup&callId=c1&cause={c}"),
                None => "event=hangup&callId=c1".to_string(),
            };
            match kinds(&parse_as("application/x-www-form-urlencoded", &body).unwrap()).as_slice() {
                [EventKind::Ended {
                    answered,
                    reason,
                    duration_s: None,
                }] => (*answered, *reason),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(end(None), (None, EndReason::Completed));
        assert_eq!(end(Some("normalClearing")), (None, EndReason::Completed));
        assert_eq!(end(Some("forwarded")), (None, EndReason::Completed));
        assert_eq!(end(Some("busy")), (Some(false), EndReason::Busy));
        assert_eq!(end(Some("cancel")), (Some(false), EndReason::NoAnswer));
        assert_eq!(end(Some("noAnswer")), (Some(false), EndReason::NoAnswer));
        assert_eq!(end(Some("congestion")), (Some(false), EndReason::Failed));
        assert_eq!(end(Some("notFound")), (Some(false), EndReason::Failed));
        assert_eq!(end(Some("exploded")), (None, EndReason::Completed), "noted");
    }

    #[test]
    fn errors_are_typed() {
        let other = parse_as("application/json", r#"{"event":"transfer","callId":"c1"}"#).unwrap();
        assert!(other.events.is_empty() && other.notes[0].contains("transfer"));
        let nameless = parse_as("application/json", r#"{"callId":"c1"}"#).unwrap();
        assert!(nameless.events.is_empty() && nameless.notes[0].contains("no `event`"));
        for (ct, body) in [
            ("application/json", r#"{"event":"answer"}"#),
            ("application/json", r#"{"event":"newCall","callId":"c1","#),
            ("application/json", "[1,2]"),
            ("application/x-www-form-urlencoded", ""),
            ("application/x-www-form-urlencoded", "[1,2]"),
        ] {
            assert!(
                matches!(parse_as(ct, body), Err(ParseError::Malformed { .. })),
                "{body}"
            );
        }
        let headers = HeaderMap::new();
        let req = Inbound {
            method: &Method::GET,
            query: Some("event=newCall&callId=c1"),
            headers: &headers,
            body: b"",
        };
        assert!(matches!(
            parse(&req, &ParseContext::default()),
            Err(ParseError::Method { .. })
        ));
    }
}
