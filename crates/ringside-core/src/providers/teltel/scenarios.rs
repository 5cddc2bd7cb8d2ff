//! TelTel scenarios: JSON call events, `START` first and `COMPLETED` last, with two agents'
//! extensions rung in parallel (several `RING`s in a row).
//!
//! The event name goes in `event` and the numbers in `from`/`to`, the names the adapter looks
//! for first (TelTel's own names for them are unconfirmed; see the adapter, `mod.rs`).

use crate::model::{CallState, Provider};
use crate::providers::scenario::{Run, Scenario, WireRequest};
use chrono::Duration;
use serde_json::{json, Value};

/// The DID the simulated customer calls.
const LINE: &str = "37167000000";
const STEP_MS: u64 = 1500;
/// How long the agents' phones ring before the result, so the ringing pop is seen.
const RING_MS: u64 = 3000;

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "teltel-answered",
        provider: Provider::Teltel,
        description: "START, RING on two agents in parallel, RINGRESULT ANSWER on the first and \
                      CANCEL on the second, JOIN, then COMPLETED answered with a recording.",
        build: answered,
        sent: CallState::Ended,
        settled: CallState::Ended,
    },
    Scenario {
        name: "teltel-missed",
        provider: Provider::Teltel,
        description: "START, RING on two agents in parallel, RINGRESULT NOANSWER on both, then \
                      COMPLETED with is_answered false.",
        build: missed,
        sent: CallState::Missed,
        settled: CallState::Missed,
    },
];

fn answered(run: &Run) -> Vec<WireRequest> {
    let (a1, a2) = agents(run);
    let mut call = Call::new(run);
    vec![
        call.event(0, "START", json!({})),
        call.event(STEP_MS, "RING", ring(a1)),
        call.event(0, "RING", ring(a2)),
        call.event(RING_MS, "RINGRESULT", ring_result(a1, "ANSWER")),
        call.event(0, "RINGRESULT", ring_result(a2, "CANCEL")),
        call.event(
            STEP_MS,
            "JOIN",
            json!({"subject_type": "sip", "subject": a1, "participants": 2}),
        ),
        call.event(
            RING_MS,
            "COMPLETED",
            json!({
                "hanged_by": "phone",
                "hanged_value": run.caller,
                "is_answered": true,
                "duration": 6,
                "audio_url": format!("https://recordings.example.invalid/teltel/{}.mp3", run.id),
            }),
        ),
    ]
}

fn missed(run: &Run) -> Vec<WireRequest> {
    let (a1, a2) = agents(run);
    let mut call = Call::new(run);
    vec![
        call.event(0, "START", json!({})),
        call.event(STEP_MS, "RING", ring(a1)),
        call.event(0, "RING", ring(a2)),
        call.event(RING_MS, "RINGRESULT", ring_result(a1, "NOANSWER")),
        call.event(0, "RINGRESULT", ring_result(a2, "NOANSWER")),
        call.event(
            STEP_MS,
            "COMPLETED",
            json!({
                "hanged_by": "phone",
                "hanged_value": run.caller,
                "is_answered": false,
            }),
        ),
    ]
}

/// The two agents to ring; demo extensions when fewer are configured.
fn agents(run: &Run) -> (&str, &str) {
    (
        run.agents.first().map_or("201", String::as_str),
        run.agents.get(1).map_or("202", String::as_str),
    )
}

/// `RING` of one agent's extension: on an inbound call `to` is the destination being rung.
fn ring(agent: &str) -> Value {
    json!({"phase": "didtosip", "to": agent})
}

fn ring_result(agent: &str, state: &str) -> Value {
    json!({"phase": "didtosip", "to": agent, "state": state})
}

/// One simulated call: numbers its events and keeps their timestamps in step with the delays.
struct Call<'a> {
    run: &'a Run,
    seq: u32,
    elapsed_ms: u64,
}

impl<'a> Call<'a> {
    fn new(run: &'a Run) -> Self {
        Call {
            run,
            seq: 0,
            elapsed_ms: 0,
        }
    }

    /// The event `name` sent `delay_ms` after the previous one, with the common attributes
    /// plus `extra` (whose `to`, if any, replaces the call's).
    fn event(&mut self, delay_ms: u64, name: &str, extra: Value) -> WireRequest {
        self.seq += 1;
        self.elapsed_ms += delay_ms;
        let at = self.run.now + Duration::milliseconds(self.elapsed_ms as i64);
        let mut body = json!({
            "id": format!("sim-{}-{}", self.run.id, self.seq),
            "event": name,
            "timestamp": at.format("%Y-%m-%d %H:%M:%S").to_string(),
            "accountcode": "sim",
            "session_id": format!("sim-session-{}", self.run.id),
            "call_id": format!("sim-{}", self.run.id),
            "direction": "inbound",
            "type": "standard",
            "from": self.run.caller,
            "to": LINE,
        });
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        WireRequest::post("application/json", body.to_string()).after(delay_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallEvent, EndReason, EventKind, LegOutcome};
    use crate::providers::scenario::check::{kinds, ringing, scenario};
    use crate::providers::ParseContext;
    use chrono::{TimeZone, Utc};

    fn run() -> Run {
        Run {
            id: "5c1d7e93a0b4".to_string(),
            now: Utc.with_ymd_and_hms(2024, 5, 2, 9, 15, 0).unwrap(),
            caller: "+37120000000".to_string(),
            agents: vec!["201".into(), "202".into(), "203".into()],
        }
    }

    fn events(scenario: &Scenario, run: &Run) -> Vec<CallEvent> {
        let parsed = scenario.parse(run, &ParseContext::default()).unwrap();
        assert!(
            parsed.iter().all(|p| p.delivery_id.is_some()),
            "TelTel events carry an id"
        );
        parsed.into_iter().flat_map(|p| p.events).collect()
    }

    fn stopped(agent: &str, outcome: LegOutcome) -> EventKind {
        EventKind::LegStopped {
            agent: agent.into(),
            outcome,
        }
    }

    #[test]
    fn answered_rings_two_agents_one_answers_then_completes() {
        let events = events(scenario("teltel-answered"), &run());
        assert_eq!(
            kinds(&events),
            vec![
                EventKind::Started,
                ringing("201"),
                ringing("202"),
                EventKind::Answered {
                    by: Some("201".into())
                },
                stopped("202", LegOutcome::Cancelled),
                EventKind::Answered {
                    by: Some("201".into())
                },
                EventKind::Ended {
                    answered: Some(true),
                    reason: EndReason::Completed,
                    duration_s: Some(6),
                },
            ]
        );
        assert!(events
            .iter()
            .all(|e| e.provider_call_id == "sim-5c1d7e93a0b4"));
        assert_eq!(events[0].at, Some(run().now));
        assert_eq!(events[0].facts.from.as_deref(), Some("+37120000000"));
        assert_eq!(events[0].facts.to.as_deref(), Some(LINE));
        assert!(events.last().unwrap().facts.recording_url.is_some());
    }

    #[test]
    fn missed_rings_two_agents_nobody_answers() {
        let events = events(scenario("teltel-missed"), &run());
        assert_eq!(
            kinds(&events),
            vec![
                EventKind::Started,
                ringing("201"),
                ringing("202"),
                stopped("201", LegOutcome::NoAnswer),
                stopped("202", LegOutcome::NoAnswer),
                EventKind::Ended {
                    answered: Some(false),
                    reason: EndReason::NoAnswer,
                    duration_s: None,
                },
            ]
        );
    }

    #[test]
    fn every_run_is_a_new_call_with_timestamps_following_the_delays() {
        let mut other = run();
        other.id = "77aa00bb11cc".into();
        other.agents.clear();
        for s in SCENARIOS {
            let first = events(s, &run());
            let second = events(s, &other);
            assert_ne!(first[0].provider_call_id, second[0].provider_call_id);
            assert_eq!(
                second[1].kind,
                ringing("201"),
                "demo agents when none configured"
            );
            let elapsed: u64 = (s.build)(&run()).iter().map(|r| r.delay_ms).sum();
            assert_eq!(
                first.last().unwrap().at,
                Some(run().now + Duration::milliseconds(elapsed as i64)),
                "{}",
                s.name
            );
        }
    }
}
