//! Exotel scenarios. The seed's two flows: a customer calls the virtual number and the Connect
//! applet dials agents, reported by the agent pass-through (GET) alone, as the seed's applet
//! flow has no StatusCallback; and the connect-two-numbers API, reported by the StatusCallback
//! (POST, multipart/form-data as Exotel sends it by default).
//!
//! Times are IST wall-clock strings (`YYYY-MM-DD HH:MM:SS`), as an Indian account sends them;
//! Ringside reads them with the configured local offset.

use super::config::{parse_offset, IST};
use crate::model::{CallState, Provider};
use crate::providers::scenario::{form, Run, Scenario, WireRequest};
use chrono::{Duration, FixedOffset};

/// The Exotel virtual number (ExoPhone) the simulated customer calls.
const VIRTUAL_NUMBER: &str = "08044556678";
/// Whole seconds: Exotel's times have no fractions.
const STEP_MS: u64 = 1000;
/// How long an agent's phone rings before they answer or the attempt ends.
const RING_MS: u64 = 3000;
/// How long the answering agent talks.
const TALK_MS: u64 = 6000;

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "exotel-answered",
        provider: Provider::Exotel,
        description: "Connect applet pass-through only: Dial, Ringing and Answered for the first \
                      agent, then that agent's Terminal (Status free) when they hang up, which \
                      ends the call with its talk time.",
        build: answered,
        sent: CallState::Ended,
        settled: CallState::Ended,
    },
    Scenario {
        name: "exotel-missed",
        provider: Provider::Exotel,
        description: "Connect applet pass-through only: two agents dialled one after the other, \
                      each Dial..Terminal unanswered. The applet says nothing after its last \
                      attempt: the call is missed once [calls] quiet_s passed without a next \
                      attempt.",
        build: missed,
        sent: CallState::Ringing,
        settled: CallState::Missed,
    },
    Scenario {
        name: "exotel-connect-api",
        provider: Provider::Exotel,
        description: "The connect-two-numbers API (outbound-api) with ringing, answered and \
                      terminal StatusCallbacks, shaped as the seed's: the agent's leg rings and \
                      answers first, then the customer's; the terminal callback gives the \
                      conversation's duration and the recording.",
        build: connect_api,
        sent: CallState::Ended,
        settled: CallState::Ended,
    },
];

fn answered(run: &Run) -> Vec<WireRequest> {
    let a1 = agent(run, 0);
    let mut call = Call::new(run);
    vec![
        call.pass_through(0, "Dial", "busy", a1),
        call.pass_through(STEP_MS, "Ringing", "busy", a1),
        call.pass_through(RING_MS, "Answered", "busy", a1),
        call.pass_through(TALK_MS, "Terminal", "free", a1),
    ]
}

fn missed(run: &Run) -> Vec<WireRequest> {
    let (a1, a2) = (agent(run, 0), agent(run, 1));
    let mut call = Call::new(run);
    vec![
        call.pass_through(0, "Dial", "busy", a1),
        call.pass_through(RING_MS, "Terminal", "free", a1),
        call.pass_through(STEP_MS, "Dial", "busy", a2),
        call.pass_through(RING_MS, "Terminal", "free", a2),
    ]
}

/// The seed's StatusCallback sequence for connecting an agent (`From`) to a customer (`To`).
fn connect_api(run: &Run) -> Vec<WireRequest> {
    let mut call = Call::new(run);
    let agent = agent(run, 0).to_string();
    let leg = |status: &str| format!(r#"{{"OnCallDuration":null,"Status":{status}}}"#);
    let (up, null) = (leg(r#""in-progress""#), leg("null"));
    let talk_s = TALK_MS / 1000;
    let mut requests = vec![
        call.callback(
            0,
            &agent,
            "ringing",
            "in-progress",
            &format!("[{up},{null}]"),
        ),
        call.callback(
            RING_MS,
            &agent,
            "answered",
            "in-progress",
            &format!("[{up},{null}]"),
        ),
        call.callback(
            STEP_MS,
            &agent,
            "ringing",
            "in-progress",
            &format!("[{up},{up}]"),
        ),
        call.callback(
            RING_MS,
            &agent,
            "answered",
            "in-progress",
            &format!("[{up},{up}]"),
        ),
    ];
    let legs = format!(
        r#"[{{"OnCallDuration":{},"RingingDuration":3,"Status":"completed"}},{{"OnCallDuration":{talk_s},"RingingDuration":3,"Status":"completed"}}]"#,
        talk_s + 5
    );
    let mut terminal = call.fields(TALK_MS, &agent, "terminal", "completed", &legs);
    terminal.push(("ConversationDuration", talk_s.to_string()));
    terminal.push((
        "RecordingUrl",
        format!(
            "https://recordings.example.invalid/exotel/{}.mp3",
            call.call_sid()
        ),
    ));
    requests.push(multipart(&terminal, &run.id).after(TALK_MS));
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

    /// A StatusCallback of the connect API (`From` the agent, `To` the customer),
    /// `delay_ms` after the last step.
    fn callback(
        &mut self,
        delay_ms: u64,
        agent: &str,
        event: &str,
        status: &str,
        legs: &str,
    ) -> WireRequest {
        let fields = self.fields(delay_ms, agent, event, status, legs);
        multipart(&fields, &self.run.id).after(delay_ms)
    }

    /// A StatusCallback's fields, `delay_ms` after the last step.
    fn fields(
        &mut self,
        delay_ms: u64,
        agent: &str,
        event: &str,
        status: &str,
        legs: &str,
    ) -> Vec<(&'static str, String)> {
        self.elapsed_ms += delay_ms;
        let now = self.ist(self.elapsed_ms);
        vec![
            ("CallSid", self.call_sid()),
            ("EventType", event.into()),
            ("DateCreated", self.ist(0)),
            ("DateUpdated", now.clone()),
            ("Status", status.into()),
            ("To", self.run.caller.clone()),
            ("From", agent.into()),
            ("PhoneNumberSid", VIRTUAL_NUMBER.into()),
            ("StartTime", self.ist(0)),
            (
                "EndTime",
                if event == "terminal" {
                    now.clone()
                } else {
                    "null".into()
                },
            ),
            ("EventTime", now),
            ("Direction", "outbound-api".into()),
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
    use crate::model::{CallEvent, Direction, EndReason, EventKind};
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

    #[test]
    fn answered_is_the_applet_flow_ending_with_the_answering_agents_terminal() {
        let events = events(scenario("exotel-answered"), &run());
        assert_eq!(
            kinds(&events),
            vec![
                ringing("09812345601"),
                ringing("09812345601"),
                EventKind::Answered {
                    by: Some("09812345601".into())
                },
                EventKind::AttemptEnded {
                    agent: "09812345601".into()
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
    }

    #[test]
    fn missed_dials_two_agents_in_turn_and_says_no_more() {
        let events = events(scenario("exotel-missed"), &run());
        let ended = |a: &str| EventKind::AttemptEnded { agent: a.into() };
        assert_eq!(
            kinds(&events),
            vec![
                ringing("09812345601"),
                ended("09812345601"),
                ringing("09812345602"),
                ended("09812345602"),
            ]
        );
    }

    #[test]
    fn connect_api_is_the_seeds_status_callbacks() {
        let events = events(scenario("exotel-connect-api"), &run());
        assert_eq!(
            kinds(&events),
            vec![
                EventKind::Ringing { agent: None },
                // The first leg (the agent) picking up is not the call being answered.
                EventKind::Details,
                EventKind::Ringing { agent: None },
                EventKind::Answered { by: None },
                EventKind::Ended {
                    answered: Some(true),
                    reason: EndReason::Completed,
                    duration_s: Some(6),
                },
            ]
        );
        assert!(events
            .iter()
            .all(|e| e.facts.direction == Some(Direction::Outbound)));
        assert_eq!(events[0].facts.to.as_deref(), Some("09876543210"));
        assert!(events[4].facts.recording_url.is_some());
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
            if s.name == "exotel-connect-api" {
                assert_eq!(b[0].facts.to.as_deref(), Some("+91 98765 43210 & co"));
                assert_eq!(b[0].facts.from.as_deref(), Some("09812345601"));
                continue;
            }
            assert_eq!(b[0].facts.from.as_deref(), Some("+91 98765 43210 & co"));
            assert_eq!(
                b[0].kind,
                ringing("09812345601"),
                "demo agents when none configured"
            );
        }
    }
}
