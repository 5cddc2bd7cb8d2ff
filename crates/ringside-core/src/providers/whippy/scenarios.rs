//! Whippy scenarios: JSON webhook envelopes `{data, event, request_id, api_version, created_at}`.
//!
//! Whippy calls have no ringing phase: `call.started` means connected. Like the published
//! examples, one `request_id` is reused across a call's events.

use crate::model::{CallState, Provider};
use crate::providers::scenario::{Run, Scenario, WireRequest};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

const CONTENT_TYPE: &str = "application/json";
/// The Whippy number (channel) the simulated calls come in on.
const LINE: &str = "+14244023931";
const CHANNEL_ID: &str = "be1ecaf2-9ce7-448c-8755-e5009ccc4345";
const AI_AGENT_ID: &str = "cd1c82f0-a276-4617-b272-ba08d83c83fd";
const STEP_MS: u64 = 1500;
const TRANSCRIPT: &str = "Agent: Hi, this is Charlie with Whippy, how can I help?\n\
                          User: I'm calling about my application.\n\
                          Agent: Thanks, a recruiter will call you back today.\n";

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "whippy-answered",
        provider: Provider::Whippy,
        description: "An inbound AI-agent call: call.started (connected at once, Whippy has no \
                      ringing phase: the pop comes now), call.ended with \
                      call_completed.user_hangup, then call.analyzed adding the transcript, \
                      recording and analysis.",
        build: answered,
        sent: CallState::Ended,
        settled: CallState::Ended,
    },
    Scenario {
        name: "whippy-missed",
        provider: Provider::Whippy,
        description: "A call that ends without having started: a call.ended whose \
                      delivery_status is not call_completed.* and no call.started (Whippy does \
                      not document a missed-call event; this is the best signal, and a call \
                      that started is never missed). The status value itself is invented, as \
                      Whippy's non-completed values are undocumented.",
        build: missed,
        sent: CallState::Missed,
        settled: CallState::Missed,
    },
];

fn answered(run: &Run) -> Vec<WireRequest> {
    let step = Duration::milliseconds(STEP_MS as i64);
    let recording = format!(
        "https://example.invalid/ringside-sim/calls/{}/recording.wav",
        run.id
    );
    let transcript = format!(
        "https://example.invalid/ringside-sim/calls/{}/transcript.json",
        run.id
    );
    let analysis = format!(
        "https://example.invalid/ringside-sim/calls/{}/analysis.json",
        run.id
    );
    vec![
        post(envelope(
            run,
            "call.started",
            run.now,
            call_data(run, run.now, "call_in_progress", None, json!([]), None),
        )),
        post(envelope(
            run,
            "call.ended",
            run.now + step,
            call_data(
                run,
                run.now + step,
                "call_completed.user_hangup",
                Some(TRANSCRIPT),
                json!([]),
                Some(STEP_MS / 1000),
            ),
        ))
        .after(STEP_MS),
        post(envelope(
            run,
            "call.analyzed",
            run.now + step * 2,
            call_data(
                run,
                run.now + step * 2,
                "call_completed.user_hangup",
                Some(TRANSCRIPT),
                json!([
                    {"content_type": "application/json", "agent_id": AI_AGENT_ID, "url": analysis},
                    {"content_type": "audio/x-wav", "agent_id": AI_AGENT_ID, "url": recording},
                    {"content_type": "application/json", "agent_id": AI_AGENT_ID, "url": transcript},
                ]),
                Some(STEP_MS / 1000),
            ),
        ))
        .after(STEP_MS),
    ]
}

fn missed(run: &Run) -> Vec<WireRequest> {
    let mut data = call_data(
        run,
        run.now,
        "call_failed.no_answer",
        None,
        json!([]),
        Some(0),
    );
    data["user_id"] = Value::Null;
    vec![post(envelope(run, "call.ended", run.now, data))]
}

fn post(body: Value) -> WireRequest {
    WireRequest::post(CONTENT_TYPE, body.to_string())
}

fn envelope(run: &Run, event: &str, at: DateTime<Utc>, data: Value) -> Value {
    json!({
        "data": data,
        "event": event,
        "request_id": format!("req-{}", run.id),
        "api_version": "v1",
        "created_at": timestamp(at),
    })
}

fn call_data(
    run: &Run,
    updated_at: DateTime<Utc>,
    delivery_status: &str,
    body: Option<&str>,
    attachments: Value,
    duration_s: Option<u64>,
) -> Value {
    json!({
        "id": run.id,
        "type": "call",
        "mode": "ai",
        "to": LINE,
        "body": body,
        "from": run.caller,
        "direction": "INBOUND",
        "channel_id": CHANNEL_ID,
        "contact_id": format!("contact-{}", run.id),
        "conversation_id": format!("conversation-{}", run.id),
        "created_at": timestamp(run.now),
        "updated_at": timestamp(updated_at),
        "attachments": attachments,
        "delivery_status": delivery_status,
        "user_id": user_id(run),
        "metadata": {"duration": duration_s, "analysis": null, "agent_id": AI_AGENT_ID},
    })
}

/// Whippy user ids are numbers; a configured identity that is not one is sent as text.
fn user_id(run: &Run) -> Value {
    match run.agents.first() {
        None => Value::Null,
        Some(a) => a
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(a)),
    }
}

/// ISO-8601 UTC with microseconds, as Whippy writes them.
fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EndReason, EventKind};
    use crate::providers::scenario::check::{kinds, scenario};
    use crate::providers::{ParseContext, Parsed};
    use chrono::TimeZone;

    fn run() -> Run {
        Run {
            id: "0f8e2c4a-91b3-4d6e-a7f0-3c5b9d1e2f40".to_string(),
            now: Utc.with_ymd_and_hms(2024, 5, 2, 14, 31, 7).unwrap(),
            caller: "+13105550142".to_string(),
            agents: vec!["42".to_string(), "43".to_string()],
        }
    }

    fn parsed(scenario: &Scenario) -> Vec<Parsed> {
        scenario.parse(&run(), &ParseContext::default()).unwrap()
    }

    #[test]
    fn answered_is_started_ended_analyzed_with_distinct_delivery_ids() {
        let parsed = parsed(scenario("whippy-answered"));
        let events: Vec<_> = parsed.iter().flat_map(|p| p.events.clone()).collect();
        assert_eq!(
            kinds(&events),
            vec![
                EventKind::Answered {
                    by: Some("42".into())
                },
                EventKind::Ended {
                    answered: Some(true),
                    reason: EndReason::Completed,
                    duration_s: Some(1)
                },
                EventKind::Details,
            ]
        );
        assert!(events.iter().all(|e| e.provider_call_id == run().id));
        let last = &events[2].facts;
        assert!(last
            .recording_url
            .as_deref()
            .unwrap()
            .ends_with("recording.wav"));
        assert_eq!(last.attachments.len(), 3);
        assert!(last.transcript.is_some());
        let ids: Vec<_> = parsed
            .iter()
            .map(|p| p.delivery_id.clone().unwrap())
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(ids[0] != ids[1] && ids[1] != ids[2]);
        assert!(events.windows(2).all(|w| w[0].at < w[1].at));
    }

    #[test]
    fn missed_is_one_unanswered_end() {
        let kinds: Vec<_> = parsed(scenario("whippy-missed"))
            .into_iter()
            .flat_map(|p| p.events)
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![EventKind::Ended {
                answered: None,
                reason: EndReason::NoAnswer,
                duration_s: Some(0)
            }]
        );
    }
}
