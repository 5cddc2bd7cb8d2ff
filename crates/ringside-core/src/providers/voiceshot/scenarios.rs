//! VoiceShot scenarios: bare XML Call Events, POSTed one per request.
//!
//! VoiceShot's IVR answers every inbound call itself, so there is no ringing and no missed
//! event to simulate: answer is the screen-pop moment, hangup ends the call. Outbound campaigns
//! send keypress events only.

use crate::model::{CallState, Provider};
use crate::providers::scenario::{Run, Scenario, WireRequest};

/// VoiceShot's Content-Type is unconfirmed; the adapter parses the body regardless.
const CONTENT_TYPE: &str = "text/xml";
/// The inbound campaign (`menuid`) the simulated calls come in on.
const INBOUND_MENU: &str = super::DEMO_CAMPAIGN;
/// The outbound campaign of the keypress-only scenario.
const OUTBOUND_MENU: &str = "2-1";
const STEP_MS: u64 = 1500;

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "voiceshot-answered",
        provider: Provider::Voiceshot,
        description: "Inbound campaign call: the IVR answers (screen pop with the caller id), the \
                      caller keys 1234 at prompt 1, then hangs up. VoiceShot has no ringing \
                      event and cannot report a missed call: its IVR answers every call.",
        build: answered,
        sent: CallState::Ended,
        settled: CallState::Ended,
    },
    Scenario {
        name: "voiceshot-keypress-only",
        provider: Provider::Voiceshot,
        description: "Outbound campaign: the called person keys 1 at prompt 1. Outbound \
                      campaigns send keypress events only (no answer, no hangup, no number): \
                      the call shows as an outbound campaign call that was answered, with its \
                      keypress, and ends once [calls] quiet_s passed without another. No pop \
                      (nobody to name), never missed.",
        build: keypress_only,
        sent: CallState::Answered,
        settled: CallState::Ended,
    },
];

fn answered(run: &Run) -> Vec<WireRequest> {
    let callid = callid(run);
    vec![
        post(format!(
            r#"<campaign menuid="{}" callid="{}" action="4" callerid="{}"/>"#,
            attr(INBOUND_MENU),
            attr(&callid),
            attr(&run.caller)
        )),
        post(format!(
            r#"<prompt menuid="{}" callid="{}" promptid="1" keypress="1234"/>"#,
            attr(INBOUND_MENU),
            attr(&callid)
        ))
        .after(STEP_MS),
        post(format!(
            r#"<campaign menuid="{}" callid="{}" action="5" duration="{}"/>"#,
            attr(INBOUND_MENU),
            attr(&callid),
            2 * STEP_MS / 1000
        ))
        .after(STEP_MS),
    ]
}

fn keypress_only(run: &Run) -> Vec<WireRequest> {
    vec![post(format!(
        r#"<prompt menuid="{}" callid="{}" promptid="1" keypress="1"/>"#,
        attr(OUTBOUND_MENU),
        attr(&callid(run))
    ))]
}

fn post(xml: String) -> WireRequest {
    WireRequest::post(CONTENT_TYPE, xml)
}

/// VoiceShot call ids are up to 50 alphanumerics.
fn callid(run: &Run) -> String {
    let id: String = run
        .id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(50)
        .collect();
    if id.is_empty() {
        "1".to_string()
    } else {
        id
    }
}

/// Escape a value for a double-quoted XML attribute.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EndReason, EventKind};
    use crate::providers::scenario::check::{events, kinds, scenario};
    use chrono::{TimeZone, Utc};

    fn run() -> Run {
        Run {
            id: "0f8e2c4a-91b3-4d6e-a7f0-3c5b9d1e2f40".to_string(),
            now: Utc.with_ymd_and_hms(2024, 5, 2, 14, 31, 7).unwrap(),
            caller: "8182238964".to_string(),
            agents: vec!["201".to_string(), "202".to_string()],
        }
    }

    #[test]
    fn answered_is_answer_keypress_hangup_on_one_call() {
        let events = events(scenario("voiceshot-answered"), &run());
        assert_eq!(
            kinds(&events),
            vec![
                EventKind::Answered { by: None },
                EventKind::Keypress {
                    prompt: Some("1".into()),
                    digits: "1234".into()
                },
                EventKind::Ended {
                    answered: Some(true),
                    reason: EndReason::Completed,
                    duration_s: Some(3)
                },
            ]
        );
        assert!(events
            .iter()
            .all(|e| e.provider_call_id == "1-3:0f8e2c4a91b34d6ea7f03c5b9d1e2f40"));
        assert_eq!(events[0].facts.from.as_deref(), Some("8182238964"));
    }

    #[test]
    fn keypress_only_is_one_keypress() {
        let events = events(scenario("voiceshot-keypress-only"), &run());
        assert_eq!(
            kinds(&events),
            vec![EventKind::Keypress {
                prompt: Some("1".into()),
                digits: "1".into()
            }]
        );
    }

    #[test]
    fn every_run_is_a_new_call_and_odd_callers_stay_well_formed() {
        let mut other = run();
        other.id = "another".into();
        other.caller = "<\"&'>".into();
        let a = String::from_utf8(
            (scenario("voiceshot-answered").build)(&run())[0]
                .body
                .clone(),
        )
        .unwrap();
        let b = String::from_utf8(
            (scenario("voiceshot-answered").build)(&other)[0]
                .body
                .clone(),
        )
        .unwrap();
        assert_ne!(a, b);
        assert!(b.contains(r#"callerid="&lt;&quot;&amp;&apos;&gt;""#), "{b}");
    }
}
