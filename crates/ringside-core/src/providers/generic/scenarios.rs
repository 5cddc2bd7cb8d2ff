//! Generic CTI scenarios (the Zammad-style push format): `newCall`, `answer`, `hangup`.
//!
//! The answered call is sent as JSON, the missed one form-encoded with a repeated `user[]`
//! field, so both encodings the format allows are exercised.

use crate::model::{CallState, Provider};
use crate::providers::scenario::{form, Run, Scenario, WireRequest};
use serde_json::json;

/// The number the simulated calls are made to.
const LINE: &str = "4930777000000";
const STEP_MS: u64 = 1500;
/// A missed call rings a little longer, so the ringing pop is seen.
const RING_MS: u64 = 3000;

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "generic-answered",
        provider: Provider::Generic,
        description: "newCall ringing every agent at once (JSON), answer by the first agent, \
                      then hangup with cause normalClearing.",
        build: answered,
        sent: CallState::Ended,
        settled: CallState::Ended,
    },
    Scenario {
        name: "generic-missed",
        provider: Provider::Generic,
        description: "newCall ringing two agents at once (form-encoded, repeated user[]), then \
                      hangup with cause noAnswer: nobody picked up.",
        build: missed,
        sent: CallState::Missed,
        settled: CallState::Missed,
    },
];

fn answered(run: &Run) -> Vec<WireRequest> {
    let call_id = call_id(run);
    let first = run.agents.first();
    let mut new_call = json!({
        "event": "newCall",
        "from": run.caller,
        "to": LINE,
        "direction": "in",
        "callId": call_id,
        "user": run.agents,
    });
    let mut answer = json!({
        "event": "answer",
        "from": run.caller,
        "to": LINE,
        "direction": "in",
        "callId": call_id,
    });
    if let Some(agent) = first {
        answer["user"] = json!([agent]);
        answer["answeringNumber"] = json!(agent);
    }
    if run.agents.is_empty() {
        if let Some(obj) = new_call.as_object_mut() {
            obj.remove("user");
        }
    }
    let hangup = json!({
        "event": "hangup",
        "from": run.caller,
        "to": LINE,
        "direction": "in",
        "callId": call_id,
        "cause": "normalClearing",
        "answeringNumber": first,
    });
    vec![
        WireRequest::post("application/json", new_call.to_string()),
        WireRequest::post("application/json", answer.to_string()).after(STEP_MS),
        WireRequest::post("application/json", hangup.to_string()).after(STEP_MS),
    ]
}

fn missed(run: &Run) -> Vec<WireRequest> {
    let call_id = call_id(run);
    let common = [
        ("from", run.caller.as_str()),
        ("to", LINE),
        ("direction", "in"),
        ("callId", call_id.as_str()),
    ];
    let mut new_call = vec![("event", "newCall")];
    new_call.extend(common);
    // Zammad's form encoding: always `user[]`, once per user.
    new_call.extend(run.agents.iter().take(2).map(|a| ("user[]", a.as_str())));
    let mut hangup = vec![("event", "hangup")];
    hangup.extend(common);
    hangup.push(("cause", "noAnswer"));
    vec![
        WireRequest::post("application/x-www-form-urlencoded", form(&new_call)),
        WireRequest::post("application/x-www-form-urlencoded", form(&hangup)).after(RING_MS),
    ]
}

fn call_id(run: &Run) -> String {
    format!("sim-{}", run.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EndReason, EventKind};
    use crate::providers::scenario::check::{events, kinds, ringing, scenario};
    use chrono::{TimeZone, Utc};

    fn run() -> Run {
        Run {
            id: "0f8e2c4a-91b3-4d6e-a7f0-3c5b9d1e2f40".to_string(),
            now: Utc.with_ymd_and_hms(2024, 5, 2, 14, 31, 7).unwrap(),
            caller: "+49 30 5557 1600".to_string(),
            agents: vec!["Alice Smith".into(), "Bob & Co".into(), "Carol".into()],
        }
    }

    #[test]
    fn answered_rings_everyone_then_answers_then_ends() {
        let events = events(scenario("generic-answered"), &run());
        assert_eq!(
            kinds(&events),
            vec![
                ringing("Alice Smith"),
                ringing("Bob & Co"),
                ringing("Carol"),
                EventKind::Answered {
                    by: Some("Alice Smith".into())
                },
                EventKind::Ended {
                    answered: None,
                    reason: EndReason::Completed,
                    duration_s: None
                },
            ]
        );
        assert!(events
            .iter()
            .all(|e| e.provider_call_id == "sim-0f8e2c4a-91b3-4d6e-a7f0-3c5b9d1e2f40"));
        assert_eq!(events[0].facts.from.as_deref(), Some("+49 30 5557 1600"));
    }

    #[test]
    fn missed_rings_two_agents_then_no_answer() {
        let events = events(scenario("generic-missed"), &run());
        assert_eq!(
            kinds(&events),
            vec![
                ringing("Alice Smith"),
                ringing("Bob & Co"),
                EventKind::Ended {
                    answered: Some(false),
                    reason: EndReason::NoAnswer,
                    duration_s: None
                },
            ]
        );
        assert_eq!(events[0].facts.from.as_deref(), Some("+49 30 5557 1600"));
    }

    #[test]
    fn no_configured_agents_still_parse() {
        let mut lonely = run();
        lonely.agents.clear();
        for s in SCENARIOS {
            let kinds: Vec<_> = events(s, &lonely).into_iter().map(|e| e.kind).collect();
            assert_eq!(
                kinds.first(),
                Some(&EventKind::Ringing { agent: None }),
                "{}",
                s.name
            );
        }
    }
}
