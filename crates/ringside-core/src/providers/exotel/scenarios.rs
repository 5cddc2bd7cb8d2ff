//! Exotel scenarios: a customer calls the virtual number and the Connect applet dials agents,
//! reported by the agent pass-through (GET), then the StatusCallback ends the call (POST).
//!
//! Times are IST wall-clock strings (`YYYY-MM-DD HH:MM:SS`), as an Indian account sends them;
//! Ringside reads them with the configured local offset.

use super::config::{parse_offset, IST};
use crate::model::Provider;
use crate::providers::scenario::{form, Run, Scenario, WireRequest};
use chrono::{Duration, FixedOffset};

/// The Exotel virtual number (ExoPhone) the simulated customer calls.
const VIRTUAL_NUMBER: &str = "08044556678";
const STEP_MS: u64 = 1500;
/// How long an agent's phone rings before they answer or the attempt ends.
const RING_MS: u64 = 3000;

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "exotel-answered",
        provider: Provider::Exotel,
        description: "Connect applet pass-through: Dial and Answered for the first agent; then \
                      the terminal StatusCallback (multipart/form-data), completed.",
        build: answered,
    },
    Scenario {
        name: "exotel-missed",
        provider: Provider::Exotel,
        description: "Connect applet pass-through: two agents dialled one after the other, each \
                      Dial..Terminal unanswered; then the terminal StatusCallback (urlencoded), \
                      no-answer.",
        build: missed,
    },
];

fn answered(run: &Run) -> Vec<WireRequest> {
    let a1 = agent(run, 0);
    let mut call = Call::new(run);
    let dial = call.pass_through(0, "Dial", "busy", a1);
    let answer = call.pass_through(RING_MS, "Answered", "busy", a1);
    let legs = r#"[{"OnCallDuration":31,"RingingDuration":0,"Status":"completed"},{"OnCallDuration":24,"RingingDuration":3,"Status":"completed"}]"#;
    let terminal = call.terminal(STEP_MS * 4, "completed", "24", legs, true);
    vec![
        dial,
        answer,
        multipart(&terminal, &run.id).after(STEP_MS * 4),
    ]
}

fn missed(run: &Run) -> Vec<WireRequest> {
    let (a1, a2) = (agent(run, 0), agent(run, 1));
    let mut call = Call::new(run);
    let legs = r#"[{"OnCallDuration":8,"RingingDuration":0,"Status":"completed"},{"OnCallDuration":0,"RingingDuration":3,"Status":"no-answer"}]"#;
    let mut requests = vec![
        call.pass_through(0, "Dial", "busy", a1),
        call.pass_through(RING_MS, "Terminal", "free", a1),
        call.pass_through(STEP_MS / 3, "Dial", "busy", a2),
        call.pass_through(RING_MS, "Terminal", "free", a2),
    ];
    let terminal = call.terminal(STEP_MS, "no-answer", "0", legs, false);
    requests.push(
        WireRequest::post("application/x-www-form-urlencoded", form(&terminal)).after(STEP_MS),
    );
    requests
}

/// The `i`th agent to dial; demo numbers when fewer are configured.
fn agent(run: &Run, i: usize) -> &str {
    run.agents
        .get(i)
        .map_or(["09812345601", "09812345602"][i.min(1)], String::as_str)
}

/// One simulated call: keeps the IST timestamps in step with the delays between requests.
struct Call<'a> {
    run: &'a Run,
    elapsed_ms: u64,
}

impl<'a> Call<'a> {
    fn new(run: &'a Run) -> Self {
        Call { run, elapsed_ms: 0 }
    }

    fn call_sid(&self) -> String {
        format!("sim{}", self.run.id)
    }

    /// IST wall-clock time `ms` after the call started.
    fn ist(&self, ms: u64) -> String {
        (self.run.now + Duration::milliseconds(ms as i64))
            .with_timezone(&ist())
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// The Connect applet telling us about the attempt to `agent`, `delay_ms` after the last step.
    fn pass_through(
        &mut self,
        delay_ms: u64,
        event: &str,
        status: &str,
        agent: &str,
    ) -> WireRequest {
        self.elapsed_ms += delay_ms;
        let (sid, created, now) = (self.call_sid(), self.ist(0), self.ist(self.elapsed_ms));
        let query = form(&[
            ("CallSid", sid.as_str()),
            ("CallFrom", self.run.caller.as_str()),
            ("CallTo", VIRTUAL_NUMBER),
            ("Direction", "outbound-dial"),
            ("Created", created.as_str()),
            ("From", self.run.caller.as_str()),
            ("To", VIRTUAL_NUMBER),
            ("CurrentTime", now.as_str()),
            ("DialWhomNumber", agent),
            ("Status", status),
            ("EventType", event),
        ]);
        WireRequest::get(format!("?{query}")).after(delay_ms)
    }

    /// The terminal StatusCallback's fields, `delay_ms` after the last step.
    fn terminal(
        &mut self,
        delay_ms: u64,
        status: &str,
        conversation_s: &str,
        legs: &str,
        recorded: bool,
    ) -> Vec<(&'static str, String)> {
        self.elapsed_ms += delay_ms;
        let end = self.ist(self.elapsed_ms);
        let recording = if recorded {
            format!(
                "https://recordings.example.invalid/exotel/{}.mp3",
                self.call_sid()
            )
        } else {
            "null".to_string()
        };
        vec![
            ("CallSid", self.call_sid()),
            ("EventType", "terminal".into()),
            ("DateCreated", self.ist(0)),
            ("DateUpdated", end.clone()),
            ("Status", status.into()),
            ("To", VIRTUAL_NUMBER.into()),
            ("From", self.run.caller.clone()),
            ("PhoneNumberSid", VIRTUAL_NUMBER.into()),
            ("StartTime", self.ist(0)),
            ("EndTime", end.clone()),
            ("EventTime", end),
            ("Direction", "inbound".into()),
            ("RecordingUrl", recording),
            ("ConversationDuration", conversation_s.into()),
            ("Legs", legs.into()),
        ]
    }
}

/// India Standard Time, the offset of the simulated account.
fn ist() -> FixedOffset {
    parse_offset(IST).expect("IST is an offset")
}

/// `multipart/form-data`, Exotel's default StatusCallback encoding.
fn multipart(fields: &[(&str, String)], run_id: &str) -> WireRequest {
    let boundary = format!("----RingsideSimulate{run_id}");
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    WireRequest::post(&format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallEvent, Direction, EndReason, EventKind, LegOutcome};
    use crate::providers::scenario::check::{kinds, ringing, scenario};
    use crate::providers::ParseContext;
    use chrono::{TimeZone, Utc};

    fn run() -> Run {
        Run {
            id: "9b2e4f60c7d1".to_string(),
            now: Utc.with_ymd_and_hms(2024, 5, 2, 9, 15, 0).unwrap(),
            caller: "09876543210".to_string(),
            agents: vec!["09812345601".into(), "09812345602".into()],
        }
    }

    fn events(scenario: &Scenario, run: &Run) -> Vec<CallEvent> {
        let ctx = ParseContext {
            local_offset: ist(),
        };
        let parsed = scenario.parse(run, &ctx).unwrap();
        parsed.into_iter().flat_map(|p| p.events).collect()
    }

    fn stopped(agent: &str) -> EventKind {
        EventKind::LegStopped {
            agent: agent.into(),
            outcome: LegOutcome::NoAnswer,
        }
    }

    #[test]
    fn answered_dials_the_first_agent_who_answers_then_the_call_completes() {
        let events = events(scenario("exotel-answered"), &run());
        assert_eq!(
            kinds(&events),
            vec![
                ringing("09812345601"),
                EventKind::Answered {
                    by: Some("09812345601".into())
                },
                EventKind::Ended {
                    answered: Some(true),
                    reason: EndReason::Completed,
                    duration_s: Some(24),
                },
            ]
        );
        assert!(events
            .iter()
            .all(|e| e.provider_call_id == "sim9b2e4f60c7d1"));
        assert!(events
            .iter()
            .all(|e| e.facts.direction == Some(Direction::Inbound)));
        assert_eq!(events[0].facts.from.as_deref(), Some("09876543210"));
        assert_eq!(events[0].facts.line.as_deref(), Some(VIRTUAL_NUMBER));
        assert!(events[2].facts.recording_url.is_some());
    }

    #[test]
    fn missed_dials_two_agents_in_turn_then_ends_unanswered() {
        let events = events(scenario("exotel-missed"), &run());
        assert_eq!(
            kinds(&events),
            vec![
                ringing("09812345601"),
                stopped("09812345601"),
                ringing("09812345602"),
                stopped("09812345602"),
                EventKind::Ended {
                    answered: Some(false),
                    reason: EndReason::NoAnswer,
                    duration_s: Some(0),
                },
            ]
        );
        assert_eq!(
            events[4].facts.recording_url, None,
            "\"null\" is no recording"
        );
    }

    #[test]
    fn ist_times_read_back_as_the_runs_instants() {
        for s in SCENARIOS {
            let events = events(s, &run());
            assert_eq!(events[0].at, Some(run().now), "{}", s.name);
            let elapsed: u64 = (s.build)(&run()).iter().map(|r| r.delay_ms).sum();
            assert_eq!(
                events.last().unwrap().at,
                Some(run().now + Duration::milliseconds(elapsed as i64)),
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn every_run_is_a_new_call_and_odd_values_stay_well_formed() {
        let odd = Run {
            id: "0000ffff1111".into(),
            now: run().now,
            caller: "+91 98765 43210 & co".into(),
            agents: Vec::new(),
        };
        for s in SCENARIOS {
            let a = events(s, &run());
            let b = events(s, &odd);
            assert_ne!(a[0].provider_call_id, b[0].provider_call_id);
            assert_eq!(b[0].facts.from.as_deref(), Some("+91 98765 43210 & co"));
            assert_eq!(
                b[0].kind,
                ringing("09812345601"),
                "demo agents when none configured"
            );
        }
    }
}
