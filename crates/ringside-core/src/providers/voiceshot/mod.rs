//! VoiceShot IVR "Call Events": one bare XML element per HTTP POST.
//!
//! ```text
//! <campaign menuid="1-3" callid="213167" action="4" callerid="8182238964"/>   answer
//! <prompt menuid="1-3" callid="213167" promptid="2" keypress="10000000"/>     keypress
//! <campaign menuid="1-3" callid="213167" action="5" duration="24"/>           hangup
//! ```
//!
//! The IVR itself answers every inbound call, so there is no ringing and no missed event:
//! answer is the screen-pop moment and hangup ends the call (answered: by the IVR; VoiceShot
//! cannot report a missed call, and Ringside never makes one up). Outbound campaigns send
//! keypress events only: a call Ringside knows only by its keypresses is taken for an outbound
//! campaign's (assumed: an inbound call starts with its answer), which VoiceShot says no more
//! about, so it is over after `[calls] quiet_s` of silence. `callid` is unique only while the
//! call lives: the same `menuid`/`callid` after a call ended is a new call. An element or
//! `action` that is not a Call Event is journaled, logged and acknowledged, and changes
//! nothing. The Content-Type VoiceShot sends is unconfirmed, so the body is parsed as XML
//! whatever the header says. A document type declaration is refused outright: entities are
//! never declared, let alone expanded. The seed and what Ringside does with each attribute:
//! `docs/providers/voiceshot.md`.

use super::{wire, Adapter, Inbound, ParseContext, ParseError, Parsed, Reports};
use crate::model::{Call, CallEvent, CallFacts, Direction, EndReason, EventKind, Provider};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::BTreeMap;

mod config;
mod scenarios;

pub use config::Voiceshot;

const PROVIDER: Provider = Provider::Voiceshot;

/// The inbound campaign (`menuid`) of the built-in test calls, and of the demo config's
/// identities: VoiceShot names no agent, so a call is an agent's when its campaign is one of
/// their identities.
pub const DEMO_CAMPAIGN: &str = "1-3";

pub const ADAPTER: Adapter = Adapter {
    provider: PROVIDER,
    parse,
    scenarios: scenarios::SCENARIOS,
    reports: Reports {
        ringing: false,
        ids_reused: true,
        quiet,
    },
};

/// An outbound campaign's call (known only by its keypresses) gets no hangup.
fn quiet(call: &Call) -> bool {
    call.direction == Direction::Outbound && !call.state.is_terminal()
}

/// The root element of a Call Event: its name and attributes (names lower-cased, values
/// unescaped but otherwise as sent).
#[derive(Debug)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
}

impl Element {
    /// The attribute's trimmed value; `None` when absent or blank.
    fn attr(&self, name: &str) -> Option<String> {
        self.attrs
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
}

/// The events VoiceShot sends. Every other `action` number is a command sent *to* VoiceShot.
enum CallEventKind {
    Answer,
    Hangup,
    Keypress,
}

pub fn parse(req: &Inbound<'_>, _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    if req.method != http::Method::POST {
        return Err(ParseError::method(PROVIDER, req.method));
    }
    let body = std::str::from_utf8(req.body)
        .map_err(|_| ParseError::malformed(PROVIDER, "body is not valid UTF-8"))?;
    let root = root_element(body.strip_prefix('\u{feff}').unwrap_or(body))?;
    // An element that names no call is no VoiceShot Call Event, known or not.
    let callid = root.attr("callid").ok_or_else(|| {
        ParseError::malformed(PROVIDER, format!("<{}> without `callid`", root.name))
    })?;

    let kind = match root.name.as_str() {
        "campaign" => {
            let Some(action) = root.attr("action") else {
                return Ok(Parsed::ignored("<campaign> without `action`", None));
            };
            match action.as_str() {
                "4" => CallEventKind::Answer,
                "5" => CallEventKind::Hangup,
                other => {
                    return Ok(Parsed::ignored(
                        format!(
                        "<campaign> action `{other}` is not a Call Event (4 = answer, 5 = hangup)"
                    ),
                        None,
                    ))
                }
            }
        }
        "prompt" => CallEventKind::Keypress,
        other => {
            return Ok(Parsed::ignored(
                format!("<{other}> is not a VoiceShot Call Event"),
                None,
            ))
        }
    };

    let menuid = root.attr("menuid");
    // `callid` is unique per (menuid, callid) while the call lives, not on its own.
    let provider_call_id = match &menuid {
        Some(menu) => format!("{menu}:{callid}"),
        None => callid,
    };

    let mut facts = CallFacts {
        // Only the answer event carries `callerid`; the engine remembers it for the hangup.
        from: root.attr("callerid"),
        line: menuid,
        ..CallFacts::default()
    };

    let mut notes = Vec::new();
    let event = match kind {
        // Answer and hangup exist for inbound campaigns only.
        CallEventKind::Answer => {
            facts.direction = Some(Direction::Inbound);
            EventKind::Answered { by: None }
        }
        CallEventKind::Hangup => {
            facts.direction = Some(Direction::Inbound);
            let duration = root.attr("duration");
            let duration_s = duration.as_deref().and_then(wire::seconds);
            if let (Some(d), None) = (&duration, duration_s) {
                // A duration that does not read is dropped, not the hangup.
                notes.push(format!("`duration` is `{d}`, not seconds"));
            }
            EventKind::Ended {
                // The IVR answers every call: a hangup is never a missed call.
                answered: Some(true),
                reason: EndReason::Completed,
                duration_s,
            }
        }
        // The keypress does not say which campaign it is from. A call that starts with it is
        // an outbound campaign's (assumed: inbound calls start with their answer); when the
        // answer comes after all, it says inbound.
        CallEventKind::Keypress => {
            let Some(digits) = root.attrs.get("keypress").map(|d| d.trim().to_string()) else {
                return Ok(Parsed::ignored("<prompt> without `keypress`", None));
            };
            facts.direction = Some(Direction::Outbound);
            EventKind::Keypress {
                prompt: root.attr("promptid"),
                digits,
            }
        }
    };

    // No event id on the wire: Ringside deduplicates on the body's hash, within one call (the
    // `callid` is reused once a call is over).
    Ok(Parsed::events(
        vec![CallEvent::new(PROVIDER, provider_call_id, event).facts(facts)],
        None,
    )
    .with_notes(notes))
}

/// The one root element of the document. Refuses DTDs, a second root and stray text; an XML
/// declaration, comments and processing instructions around the root are tolerated. Content
/// inside the root (none is documented) is read for well-formedness and ignored.
fn root_element(body: &str) -> Result<Element, ParseError> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().trim_text(true);
    let mut root: Option<Element> = None;
    let mut depth = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| ParseError::malformed(PROVIDER, format!("invalid XML: {e}")))?;
        match event {
            Event::DocType(_) => {
                return Err(ParseError::malformed(
                    PROVIDER,
                    "document type declarations are refused",
                ))
            }
            Event::Start(e) => {
                if depth == 0 {
                    root = Some(first_root(root, &e)?);
                }
                depth += 1;
            }
            Event::Empty(e) => {
                if depth == 0 {
                    root = Some(first_root(root, &e)?);
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(_) | Event::CData(_) if depth == 0 => {
                return Err(ParseError::malformed(
                    PROVIDER,
                    "text outside the root element",
                ))
            }
            Event::Text(_)
            | Event::CData(_)
            | Event::Comment(_)
            | Event::Decl(_)
            | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if depth != 0 {
        return Err(ParseError::malformed(PROVIDER, "unclosed element"));
    }
    root.ok_or_else(|| ParseError::malformed(PROVIDER, "no XML element in the body"))
}

fn first_root(seen: Option<Element>, e: &BytesStart<'_>) -> Result<Element, ParseError> {
    if seen.is_some() {
        return Err(ParseError::malformed(
            PROVIDER,
            "more than one root element",
        ));
    }
    element(e)
}

fn element(e: &BytesStart<'_>) -> Result<Element, ParseError> {
    let name = String::from_utf8_lossy(e.local_name().as_ref()).to_ascii_lowercase();
    let mut attrs = BTreeMap::new();
    for attr in e.attributes() {
        let attr =
            attr.map_err(|e| ParseError::malformed(PROVIDER, format!("invalid attribute: {e}")))?;
        let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).to_ascii_lowercase();
        // Only the five predefined entities and character references are understood; any
        // other `&name;` is an error, never a lookup.
        let value = attr
            .unescape_value()
            .map_err(|e| ParseError::malformed(PROVIDER, format!("attribute `{key}`: {e}")))?;
        attrs.insert(key, value.into_owned());
    }
    Ok(Element { name, attrs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, Method};

    fn parse_body(body: &str) -> Result<Parsed, ParseError> {
        let headers = HeaderMap::new();
        let req = Inbound {
            method: &Method::POST,
            query: None,
            headers: &headers,
            body: body.as_bytes(),
        };
        parse(&req, &ParseContext::default())
    }

    fn one(body: &str) -> CallEvent {
        let mut p = parse_body(body).unwrap();
        assert_eq!(p.events.len(), 1);
        assert_eq!(p.delivery_id, None);
        p.events.remove(0)
    }

    #[test]
    fn answer_carries_the_caller_and_names_the_call_by_menu_and_callid() {
        let e = one(r#"<campaign menuid="1-3" callid="213167" action="4" callerid="8182238964"/>"#);
        assert_eq!(e.provider_call_id, "1-3:213167");
        assert_eq!(e.kind, EventKind::Answered { by: None });
        assert_eq!(e.facts.from.as_deref(), Some("8182238964"));
        assert_eq!(e.facts.line.as_deref(), Some("1-3"));
        assert_eq!(e.facts.direction, Some(Direction::Inbound));
        assert_eq!(e.at, None);
    }

    #[test]
    fn a_hangup_is_of_a_call_the_ivr_answered() {
        let e = one(r#"<campaign menuid="1-3" callid="213167" action="5" duration="24"/>"#);
        assert_eq!(
            e.kind,
            EventKind::Ended {
                answered: Some(true),
                reason: EndReason::Completed,
                duration_s: Some(24)
            }
        );
        assert_eq!(e.facts.from, None);
    }

    #[test]
    fn keypress_without_menu_uses_the_callid_alone() {
        let e = one(r#"<prompt callid="9" promptid="2" keypress="10000000"/>"#);
        assert_eq!(e.provider_call_id, "9");
        assert_eq!(
            e.kind,
            EventKind::Keypress {
                prompt: Some("2".into()),
                digits: "10000000".into()
            }
        );
        assert_eq!(e.facts.direction, Some(Direction::Outbound), "assumed");
    }

    #[test]
    fn same_callid_in_two_menus_is_two_calls() {
        let a = one(r#"<campaign menuid="1-3" callid="7" action="4"/>"#);
        let b = one(r#"<campaign menuid="2-1" callid="7" action="4"/>"#);
        assert_ne!(a.provider_call_id, b.provider_call_id);
    }

    #[test]
    fn explicit_open_and_close_tags_and_a_declaration_are_the_same_event() {
        let e = one(
            "<?xml version=\"1.0\"?>\n<campaign menuid=\"1-3\" callid=\"1\" action=\"5\" duration=\"3.6\"></campaign>\n",
        );
        assert!(matches!(
            e.kind,
            EventKind::Ended {
                duration_s: Some(4),
                ..
            }
        ));
    }

    #[test]
    fn dtds_and_entities_are_refused_not_expanded() {
        let laughs = r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
<campaign menuid="1-3" callid="&lol2;" action="4"/>"#;
        assert!(matches!(
            parse_body(laughs),
            Err(ParseError::Malformed { .. })
        ));
        // A DTD is refused on sight, even one the root never uses.
        let harmless = "<!DOCTYPE campaign>\n<campaign menuid=\"1-3\" callid=\"1\" action=\"4\"/>";
        match parse_body(harmless) {
            Err(ParseError::Malformed { message, .. }) => {
                assert!(message.contains("document type"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        // Without a DTD an unknown entity reference is an error, not an empty string.
        let undeclared = r#"<campaign menuid="1-3" callid="&lol;" action="4"/>"#;
        assert!(matches!(
            parse_body(undeclared),
            Err(ParseError::Malformed { .. })
        ));
        // The predefined ones are fine.
        let e = one(r#"<campaign menuid="a&amp;b" callid="1" action="4"/>"#);
        assert_eq!(e.facts.line.as_deref(), Some("a&b"));
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        for body in [
            "",
            "   ",
            "not xml",
            "<campaign",
            r#"<campaign callid="1" action="4">"#,
            r#"<campaign callid="1" action="4"/><campaign callid="1" action="5"/>"#,
            r#"<campaign callid="1" callid="2" action="4"/>"#,
            r#"<campaign menuid="1-3" action="4"/>"#,
            "<a></b>",
            "\u{feff}",
        ] {
            assert!(
                matches!(parse_body(body), Err(ParseError::Malformed { .. })),
                "{body:?}"
            );
        }
        for body in [
            r#"<campaign callid="1" action="1"/>"#,
            r#"<campaign callid="1" action="answer"/>"#,
            r#"<call callid="1"/>"#,
            r#"<campaign callid="1"/>"#,
            r#"<prompt callid="1" promptid="2"/>"#,
        ] {
            let p = parse_body(body).unwrap();
            assert!(p.events.is_empty() && p.notes.len() == 1, "{body:?}");
        }
        let headers = HeaderMap::new();
        let get = Inbound {
            method: &Method::GET,
            query: Some("callid=1"),
            headers: &headers,
            body: b"",
        };
        assert!(matches!(
            parse(&get, &ParseContext::default()),
            Err(ParseError::Method { .. })
        ));
        assert!(parse(
            &Inbound {
                method: &Method::POST,
                query: None,
                headers: &headers,
                body: b"\xff<campaign/>",
            },
            &ParseContext::default()
        )
        .is_err());
    }
}
