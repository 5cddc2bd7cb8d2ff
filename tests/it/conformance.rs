//! The rows of the conformance tables (`docs/providers/<provider>.md`) that decide a call's
//! state, parties, answerer, duration or pop, through the real listener: the seed-shaped
//! fixtures (`tests/fixtures/<provider>/`) sent in order, each call as `GET /api/calls` lists
//! it, and its pop as the desktop decides it with the agent's own settings (the defaults:
//! pop on ringing for inbound calls). Xelion's rows are in `xelion.rs`, against a fake PBX.

use crate::fake_xelion::eventually;
use crate::support::*;
use ringside_app::settings::Settings;
use ringside_core::config::Config;
use ringside_core::screenpop::{decide, PopAction, PopKind, PopSettings, Shown};
use ringside_core::Call;
use serde_json::{json, Value};
use std::time::Duration;

/// A server whose agent has `identities`, default screen-pop settings, and `extra` config.
async fn server(identities: &[&str], extra: &str) -> Server {
    let config = default_config().replace(
        r#"identities = ["201", "202"]"#,
        &format!("identities = {}", json!(identities)),
    ) + extra;
    Server::start_with(&config).await
}

/// Send the fixtures `names` of `provider`, in order; each is stored (not a duplicate).
async fn send(s: &Server, provider: &str, names: &[&str]) {
    for n in names {
        let path = fixtures_dir().join(provider).join(format!("{n}.http"));
        let journal = s.journal_len();
        let (status, answer) = s.send_fixture_answer(provider, &path).await;
        assert_eq!(status, 200, "{provider}/{n}: {answer}");
        assert_eq!(
            s.journal_len(),
            journal + 1,
            "{provider}/{n} stored: {answer}"
        );
    }
}

/// Send a fixture again: acknowledged, not stored.
async fn send_again(s: &Server, provider: &str, name: &str) {
    let path = fixtures_dir().join(provider).join(format!("{name}.http"));
    let journal = s.journal_len();
    let (status, answer) = s.send_fixture_answer(provider, &path).await;
    assert_eq!(status, 200, "{provider}/{name}: {answer}");
    assert_eq!(
        s.journal_len(),
        journal,
        "{provider}/{name} is a redelivery"
    );
}

/// The call `id` as `GET /api/calls` lists it.
async fn listed(s: &Server, id: &str) -> Value {
    s.calls()
        .await
        .into_iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not listed"))
}

/// Every field `want` names is as in `got` (objects field by field and arrays item by item,
/// recursively).
fn check(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                check(g, w, &format!("{at}[{i}]"))
            }
        }
        (Value::Object(g), Value::Object(w)) => {
            for (k, v) in w {
                check(g.get(k).unwrap_or(&Value::Null), v, &format!("{at}.{k}"))
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

/// The call `id`, listed, with the fields of `want`.
async fn expect(s: &Server, id: &str, want: Value) -> Value {
    let c = listed(s, id).await;
    check(&c, &want, id);
    c
}

/// The agent's desktop: what the pop does at each look at a call, as the window carries out
/// `screenpop::decide` with the agent's settings.
struct Desk {
    settings: PopSettings,
    shown: Shown,
}

impl Desk {
    fn of(s: &Server) -> Desk {
        let path = s.dir.join("config.toml");
        let config = Config::load(&path).unwrap();
        let settings = Settings::new(config, path);
        Desk {
            settings: settings.pops,
            shown: Shown::default(),
        }
    }

    /// What the pop does about call `id` as it is listed now: `show` (a ringing pop,
    /// `show-answered` an answered one), `replace`, `close` or `none`.
    async fn look(&mut self, s: &Server, id: &str) -> &'static str {
        let call: Call = serde_json::from_value(listed(s, id).await).unwrap();
        match decide(&self.shown, &call, &self.settings).pop {
            PopAction::Show(p) => {
                let what = match p.kind {
                    PopKind::Ringing => "show",
                    PopKind::Answered => "show-answered",
                    PopKind::Missed => "show-missed",
                };
                self.shown.pop = Some(p);
                what
            }
            PopAction::Replace(p) => {
                self.shown.pop = Some(p);
                "replace"
            }
            PopAction::Close => {
                self.shown.pop = None;
                "close"
            }
            PopAction::Nothing => "none",
        }
    }
}

/// Send `provider`'s fixtures `names` one by one, and after each, what the desk does.
async fn pops(
    s: &Server,
    desk: &mut Desk,
    provider: &str,
    id: &str,
    names: &[&str],
) -> Vec<&'static str> {
    let mut out = Vec::new();
    for n in names {
        send(s, provider, &[n]).await;
        out.push(desk.look(s, id).await);
    }
    out
}

/// The journal's last row: its events and notes (read beside the running server).
fn last_journaled(s: &Server) -> (Value, Value) {
    let db = rusqlite::Connection::open_with_flags(
        s.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row(
        "SELECT events, notes FROM journal ORDER BY seq DESC LIMIT 1",
        [],
        |r| {
            let events: String = r.get(0)?;
            let notes: Option<String> = r.get(1)?;
            Ok((
                serde_json::from_str(&events).unwrap(),
                notes.map_or(Value::Null, |n| serde_json::from_str(&n).unwrap()),
            ))
        },
    )
    .unwrap()
}

// ---- VoiceShot ----

#[tokio::test]
async fn voiceshot_pops_at_the_ivrs_answer_and_ends_the_call_with_its_duration() {
    // Menu 1-3 is the agent's campaign: VoiceShot names no agent.
    let s = server(&["201", "1-3"], "").await;
    let id = "voiceshot:1-3:217356";
    let mut desk = Desk::of(&s);
    let seen = pops(
        &s,
        &mut desk,
        "voiceshot",
        id,
        &[
            "seed-4a-exchange-answer",
            "seed-4b-exchange-keypress",
            "seed-4c-exchange-hangup",
        ],
    )
    .await;
    assert_eq!(
        seen,
        ["show", "none", "close"],
        "popped on the default settings"
    );
    let c = expect(
        &s,
        id,
        json!({"state": "ended", "direction": "inbound", "from": "+18182238964", "line": "1-3",
               "answered_by": null, "duration_s": 53, "end_reason": "completed", "mine": true,
               "keypresses": [{"prompt": "1", "digits": "1234"}]}),
    )
    .await;
    assert!(!c["answered_at"].is_null());
}

#[tokio::test]
async fn voiceshot_never_makes_a_missed_call() {
    let s = server(&["201", "1-3"], "\n[calls]\nquiet_s = 1\n").await;
    // A hangup whose answer was lost: over, not missed.
    send(&s, "voiceshot", &["seed-3-hangup"]).await;
    expect(
        &s,
        "voiceshot:1-3:213167",
        json!({"state": "ended", "direction": "inbound", "duration_s": 24, "end_reason": "completed"}),
    )
    .await;
    // Its answer after all: the same call, now with its caller.
    send(&s, "voiceshot", &["seed-1-connect"]).await;
    expect(
        &s,
        "voiceshot:1-3:213167",
        json!({"state": "ended", "from": "+18182238964", "duration_s": 24}),
    )
    .await;
    // An outbound campaign's keypress (all such a campaign sends): answered, no pop, no
    // ringing; over once `quiet_s` passed.
    let mut desk = Desk::of(&s);
    send(&s, "voiceshot", &["outbound-keypress-no-menuid"]).await;
    expect(
        &s,
        "voiceshot:OUT77",
        json!({"state": "answered", "direction": "outbound", "from": null, "to": null,
               "keypresses": [{"prompt": "1", "digits": "9"}]}),
    )
    .await;
    assert_eq!(desk.look(&s, "voiceshot:OUT77").await, "none");
    let c = eventually(
        "the keypress-only call ends",
        Duration::from_secs(10),
        || async {
            let c = listed(&s, "voiceshot:OUT77").await;
            (c["state"] != "answered").then_some(c)
        },
    )
    .await;
    check(
        &c,
        &json!({"state": "ended", "end_reason": "timeout"}),
        "OUT77",
    );
    assert!(s.calls().await.iter().all(|c| c["state"] != "missed"));
}

#[tokio::test]
async fn voiceshot_a_callid_used_again_after_its_call_ended_is_a_new_call() {
    let s = server(&["201"], "").await;
    send(&s, "voiceshot", &["reuse-1-answer", "reuse-2-hangup"]).await;
    send(&s, "voiceshot", &["reuse-3-answer-another-caller"]).await;
    // Redeliveries of either call's events are recognised as such.
    send_again(&s, "voiceshot", "reuse-2-hangup").await;
    send_again(&s, "voiceshot", "reuse-3-answer-another-caller").await;
    send_again(&s, "voiceshot", "reuse-1-answer").await;
    send(&s, "voiceshot", &["reuse-4-hangup"]).await;
    expect(
        &s,
        "voiceshot:1-3:R77",
        json!({"state": "ended", "from": "+18182238964", "duration_s": 31}),
    )
    .await;
    expect(
        &s,
        "voiceshot:1-3:R77~2",
        json!({"state": "ended", "from": "+13105550142", "duration_s": 12}),
    )
    .await;
    assert_eq!(s.calls().await.len(), 2);
}

// ---- Whippy ----

#[tokio::test]
async fn whippy_pops_at_call_started_and_the_seed_call_ends_answered_with_its_analysis() {
    // The seed's user_id 42 is the agent.
    let s = server(&["201", "42"], "").await;
    let id = "whippy:5e09c7cc-27e8-4d91-89ee-4ea5bafaaa15";
    let mut desk = Desk::of(&s);
    let seen = pops(
        &s,
        &mut desk,
        "whippy",
        id,
        &[
            "seed-1-call-started",
            "seed-2-call-ended",
            "seed-3-call-analyzed",
        ],
    )
    .await;
    assert_eq!(
        seen,
        ["show", "close", "none"],
        "popped on the default settings"
    );
    let c = expect(
        &s,
        id,
        json!({"state": "ended", "direction": "inbound", "from": "+12183925232",
               "to": "+14244023931", "answered_by": "42", "end_reason": "completed",
               "mine": true}),
    )
    .await;
    assert!(c["recording_url"]
        .as_str()
        .unwrap()
        .ends_with("recording.wav"));
    assert!(c["transcript"].as_str().unwrap().starts_with("Agent: Hey"));
    assert_eq!(c["attachments"].as_array().unwrap().len(), 3);
    assert!(c["duration_s"].is_u64(), "{c}");
}

#[tokio::test]
async fn whippy_calls_sharing_a_request_id_stay_apart_and_a_started_call_is_never_missed() {
    let s = server(&["201"], "").await;
    send(&s, "whippy", &["seed-1-call-started"]).await;
    send(
        &s,
        "whippy",
        &[
            "second-call-1-started-same-request-id",
            "second-call-2-ended-not-completed",
        ],
    )
    .await;
    send(&s, "whippy", &["seed-2-call-ended"]).await;
    send_again(&s, "whippy", "seed-1-call-started").await;
    expect(
        &s,
        "whippy:8c4f2a17-6b3e-4d9a-b1c5-2e7f9a0d3b64",
        json!({"state": "ended", "from": "+13105550142", "answered_by": "42",
               "end_reason": "completed"}),
    )
    .await;
    expect(
        &s,
        "whippy:5e09c7cc-27e8-4d91-89ee-4ea5bafaaa15",
        json!({"state": "ended", "from": "+12183925232"}),
    )
    .await;
    assert_eq!(s.calls().await.len(), 2);
}

#[tokio::test]
async fn whippy_a_call_that_ends_without_starting_is_missed_and_can_be_called_back() {
    let s = server(&["201"], "").await;
    send(&s, "whippy", &["missed-call-ended-not-completed"]).await;
    let id = "whippy:9b1f3c52-0d7e-4a51-8f0e-2c6d1e7a4b90";
    let c = expect(
        &s,
        id,
        json!({"state": "missed", "end_reason": "no_answer"}),
    )
    .await;
    assert!(c["from"].as_str().unwrap().starts_with('+'));
    let (status, v) = s
        .api_send("POST", &format!("/api/calls/{id}/callback"), None)
        .await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn an_event_type_ringside_does_not_read_is_acknowledged_journaled_and_changes_no_call() {
    let s = server(&["201"], "").await;
    for (provider, name, says) in [
        ("whippy", "ignored-event-message-created", "message.created"),
        ("teltel", "ignored-unknown-event", "HOLD"),
        ("exotel", "ignored-unknown-eventtype", "recording-ready"),
        ("exotel", "passthru-ignored-unknown-eventtype", "Transfer"),
        ("generic", "ignored-unknown-event", "transfer"),
        (
            "voiceshot",
            "ignored-action-is-a-call-command",
            "action `2`",
        ),
    ] {
        send(&s, provider, &[name]).await;
        let (events, notes) = last_journaled(&s);
        assert_eq!(events, json!([]), "{provider}/{name}");
        assert!(notes[0].as_str().unwrap().contains(says), "{notes}");
        send_again(&s, provider, name).await;
    }
    assert!(s.calls().await.is_empty());
    // A field that does not read is noted, and the call goes on without it.
    send(&s, "teltel", &["noted-is-answered-not-a-boolean"]).await;
    let (_, notes) = last_journaled(&s);
    assert!(
        notes[0].as_str().unwrap().contains("is_answered"),
        "{notes}"
    );
    assert_eq!(s.calls().await.len(), 1);
}

// ---- TelTel ----

#[tokio::test]
async fn teltel_parallel_ringing_pops_for_the_agent_rung_and_the_join_names_who_answered() {
    let s = server(&["201"], "").await;
    let id = "teltel:c-1001";
    let mut desk = Desk::of(&s);
    let names = [
        "inbound-01-start",
        "inbound-02-ring-201",
        "inbound-03-ring-202",
        "inbound-04-ringresult-answer-201",
        "inbound-05-ringresult-cancel-202",
        "inbound-06-ready-sip-201",
        "inbound-07-join-phone-customer",
        "inbound-08-join-sip-201",
        "inbound-09-leave-phone-customer",
        "inbound-10-completed-answered",
    ];
    let seen = pops(&s, &mut desk, "teltel", id, &names).await;
    assert_eq!(
        seen,
        ["none", "show", "replace", "close", "none", "none", "none", "none", "none", "none"],
        "shown when 201 rings, closed when answered"
    );
    let c = expect(
        &s,
        id,
        json!({"state": "ended", "direction": "inbound", "from": "+37120000000",
               "to": "+37167000000", "answered_by": "201", "end_reason": "completed",
               "recording_url": "https://rec.teltel.example/acc-77/c-1001.mp3",
               "duration_s": 92, "mine": true}),
    )
    .await;
    let legs: Vec<(String, String)> = c["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["agent"].as_str().unwrap().into(),
                l["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        legs,
        [
            ("201".into(), "answered".into()),
            ("202".into(), "stopped".into())
        ]
    );
}

#[tokio::test]
async fn teltel_completed_unanswered_is_missed_and_the_pop_says_so() {
    let s = server(&["201"], "").await;
    let id = "teltel:c-2001";
    let mut desk = Desk::of(&s);
    let seen = pops(
        &s,
        &mut desk,
        "teltel",
        id,
        &[
            "missed-01-start",
            "missed-02-ring-201",
            "missed-03-ringresult-noanswer-201",
            "missed-04-completed-unanswered",
        ],
    )
    .await;
    assert_eq!(seen, ["none", "show", "close", "none"]);
    expect(
        &s,
        id,
        json!({"state": "missed", "answered_by": null, "end_reason": "no_answer"}),
    )
    .await;
}

#[tokio::test]
async fn teltel_callback_calls_are_outbound_and_the_operator_is_who_answered() {
    let s = server(&["201"], "").await;
    send(
        &s,
        "teltel",
        &[
            "callback-01-start",
            "callback-02-ring-operator",
            "callback-03-ringresult-answer-operator",
            "callback-04-ring-contact",
            "callback-05-ringresult-answer-contact",
            "callback-06-ringresult-busy-contact",
            "callback-07-completed-answered",
        ],
    )
    .await;
    let c = s.calls().await.remove(0);
    check(
        &c,
        &json!({"state": "ended", "direction": "outbound", "end_reason": "completed"}),
        "callback",
    );
    assert!(!c["answered_by"].is_null(), "{c}");
}

#[tokio::test]
async fn teltel_times_in_unix_milliseconds_read_and_an_unreadable_one_never_costs_the_call() {
    let s = server(&["201"], "").await;
    send(
        &s,
        "teltel",
        &["unix-ms-1-start", "unix-ms-2-ring", "unix-ms-3-completed"],
    )
    .await;
    expect(
        &s,
        "teltel:c-ms-1",
        json!({"state": "missed", "started_at": "2024-05-02T09:15:00Z",
               "ended_at": "2024-05-02T09:15:21Z"}),
    )
    .await;
    // `timestamp: "not a time"`: stored, noted, the receive time used.
    send(&s, "teltel", &["variant-completed-without-is-answered"]).await;
    let (_, notes) = last_journaled(&s);
    assert!(notes[0].as_str().unwrap().contains("timestamp"), "{notes}");
    assert_eq!(s.calls().await.len(), 2);
}

// ---- Exotel ----

#[tokio::test]
async fn exotel_applet_the_answering_agents_terminal_ends_the_call_with_its_talk_time() {
    let s = server(&["+919812345602"], "").await;
    let id = "exotel:b6cfaf0f8d5c4a1e9f2f1c8d7e6a1646";
    let mut desk = Desk::of(&s);
    let seen = pops(
        &s,
        &mut desk,
        "exotel",
        id,
        &[
            "passthru-01-agent1-dial-leading-space",
            "passthru-02-agent1-ringing",
            "passthru-03-agent1-terminal",
            "passthru-04-agent2-dial-lowercase-callfrom",
            "passthru-05-agent2-answered",
            "passthru-06-agent2-terminal-after-answer",
        ],
    )
    .await;
    assert_eq!(seen, ["none", "none", "none", "show", "close", "none"]);
    expect(
        &s,
        id,
        json!({"state": "ended", "direction": "inbound", "from": "+919876543210",
               "to": "+918044556678", "line": "+918044556678",
               "answered_by": "+919812345602", "duration_s": 92,
               "end_reason": "completed", "ended_at": "2024-05-02T09:17:10Z"}),
    )
    .await;
    // The inbound StatusCallback after it (assumed shape) agrees and adds the recording.
    send(&s, "exotel", &["status-terminal-inbound-answered"]).await;
    let c = expect(&s, id, json!({"state": "ended", "duration_s": 92})).await;
    assert!(c["recording_url"].as_str().unwrap().ends_with(".mp3"));
}

#[tokio::test]
async fn exotel_applet_an_attempt_nobody_answers_is_a_missed_call_within_seconds() {
    let s = server(&["+919812345601"], "\n[calls]\nquiet_s = 1\n").await;
    let id = "exotel:d41d8cd98f00b204e9800998ecf8427e";
    let mut desk = Desk::of(&s);
    let seen = pops(
        &s,
        &mut desk,
        "exotel",
        id,
        &[
            "passthru-missed-1-dial",
            "passthru-missed-2-ringing",
            "passthru-missed-3-terminal",
        ],
    )
    .await;
    assert_eq!(seen, ["show", "none", "close"], "the agent's phone stopped");
    expect(&s, id, json!({"state": "ringing"})).await;
    let c = eventually("missed after quiet_s", Duration::from_secs(10), || async {
        let c = listed(&s, id).await;
        (c["state"] == "missed").then_some(c)
    })
    .await;
    check(
        &c,
        &json!({"end_reason": "timeout", "answered_by": null, "from": "+919876543210"}),
        id,
    );
    let (_, missed) = s.api("/api/missed").await;
    assert_eq!(missed[0]["id"], id);
}

#[tokio::test]
async fn exotel_status_callbacks_decide_the_end_and_a_zero_talk_time_is_no_verdict() {
    let s = server(&["201"], "").await;
    // The seed's terminal callback (connect API, outbound).
    send(&s, "exotel", &["status-seed-5-terminal-completed"]).await;
    expect(
        &s,
        "exotel:054cfcd8910389ff64882d8e25211646",
        json!({"state": "ended", "direction": "outbound", "from": "+917874762218",
               "to": "+918780296135", "duration_s": 6, "end_reason": "completed"}),
    )
    .await;
    // The seed's "first leg answered" (the agent's own phone) is no answer of the call. The
    // seed prints these two callbacks' CallSids redacted, as runs of X: they are its ids.
    send(&s, "exotel", &["status-seed-1-answered-first-leg"]).await;
    expect(
        &s,
        "exotel:XXXXXXXXXXXXXXXX",
        json!({"state": "ringing", "answered_at": null}),
    )
    .await;
    send(&s, "exotel", &["status-seed-2-answered-second-leg"]).await;
    expect(
        &s,
        "exotel:XXXXXXXXXXXXXXXXXXXXX",
        json!({"state": "answered"}),
    )
    .await;
    // Inbound, nobody talked: missed.
    send(&s, "exotel", &["status-terminal-inbound-no-answer-missed"]).await;
    let missed = s
        .calls()
        .await
        .into_iter()
        .filter(|c| c["state"] == "missed")
        .count();
    assert_eq!(missed, 1);
}

// ---- Generic CTI ----

#[tokio::test]
async fn generic_new_call_answer_hangup_and_an_unanswered_hangup() {
    let s = server(&["201"], "").await;
    send(
        &s,
        "generic",
        &[
            "1-newcall-two-users-parallel-ringing",
            "2-answer",
            "3-hangup-normal-clearing",
            "hangup-no-answer",
        ],
    )
    .await;
    let calls = s.calls().await;
    let ended: Vec<&Value> = calls.iter().filter(|c| c["state"] == "ended").collect();
    let missed: Vec<&Value> = calls.iter().filter(|c| c["state"] == "missed").collect();
    assert_eq!((ended.len(), missed.len()), (1, 1), "{calls:#?}");
    assert!(!ended[0]["answered_by"].is_null());
}

// ---- Every value of the fields that decide a state ----

/// A TelTel event of call `call`, shaped as the fixtures are.
fn teltel(call: &str, n: u32, event: &str, ts: &str, extra: Value) -> Value {
    let mut v = json!({"id": format!("{call}-{n}"), "event": event, "timestamp": ts,
        "accountcode": "acc-77", "session_id": format!("s-{call}"), "call_id": call,
        "direction": "inbound", "type": "standard", "participants": 0, "phase": "didtosip"});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    v
}

#[tokio::test]
async fn teltel_every_ringresult_state_answers_or_stops_the_leg_it_names() {
    let s = server(&["201"], "").await;
    for (state, leg_outcome) in [
        ("ANSWER", None),
        ("BUSY", Some("busy")),
        ("NOANSWER", Some("no_answer")),
        ("CANCEL", Some("cancelled")),
        ("ABORT", Some("cancelled")),
        ("CONGESTION", Some("failed")),
        ("CHANUNAVAIL", Some("failed")),
        ("DONTCALL", Some("failed")),
        ("TORTURE", Some("failed")),
        ("INVALIDARGS", Some("failed")),
    ] {
        let call = format!("rr-{}", state.to_lowercase());
        let id = format!("teltel:{call}");
        let mut desk = Desk::of(&s);
        let events = [
            teltel(
                &call,
                1,
                "START",
                "2024-05-02 09:15:00",
                json!({"from": "37120000000", "to": "37167000000"}),
            ),
            teltel(
                &call,
                2,
                "RING",
                "2024-05-02 09:15:01",
                json!({"to": "201"}),
            ),
            teltel(
                &call,
                3,
                "RINGRESULT",
                "2024-05-02 09:15:09",
                json!({"to": "201", "state": state}),
            ),
        ];
        let mut seen = Vec::new();
        for e in &events {
            assert_eq!(s.post_json("teltel", e).await, 200, "{e}");
            seen.push(desk.look(&s, &id).await);
        }
        assert_eq!(seen, ["none", "show", "close"], "{state}");
        let c = listed(&s, &id).await;
        match leg_outcome {
            None => check(
                &c,
                &json!({"state": "answered", "answered_by": "201",
                                       "legs": [{"agent": "201", "state": "answered"}]}),
                state,
            ),
            Some(o) => check(
                &c,
                &json!({"state": "ringing",
                                          "legs": [{"agent": "201", "state": "stopped", "outcome": o}]}),
                state,
            ),
        }
        let completed = teltel(
            &call,
            4,
            "COMPLETED",
            "2024-05-02 09:16:00",
            json!({"is_answered": leg_outcome.is_none(), "hanged_by": "phone"}),
        );
        assert_eq!(s.post_json("teltel", &completed).await, 200);
        let want = if leg_outcome.is_none() {
            "ended"
        } else {
            "missed"
        };
        check(&listed(&s, &id).await, &json!({"state": want}), state);
    }
}

#[tokio::test]
async fn teltel_ready_join_and_leave_change_only_what_a_sip_join_says() {
    let s = server(&["201"], "").await;
    let (call, id) = ("rjl-1", "teltel:rjl-1");
    let sip = json!({"subject_type": "sip", "subject": "201", "subject_user": "u-201"});
    let phone = json!({"subject_type": "phone", "subject": "37120000000"});
    // Each event, and the call after it.
    let steps = [
        (
            "START",
            json!({"from": "37120000000", "to": "37167000000"}),
            "ringing",
            None,
        ),
        ("RING", json!({"to": "201"}), "ringing", None),
        ("READY", phone.clone(), "ringing", None),
        ("JOIN", phone, "ringing", None),
        ("READY", sip.clone(), "ringing", None),
        ("JOIN", sip.clone(), "answered", Some("201")),
        ("LEAVE", sip, "answered", Some("201")),
    ];
    for (n, (event, extra, state, by)) in steps.into_iter().enumerate() {
        let e = teltel(
            call,
            n as u32,
            event,
            &format!("2024-05-02 09:15:0{n}"),
            extra,
        );
        assert_eq!(s.post_json("teltel", &e).await, 200);
        let want = json!({"state": state, "answered_by": by});
        check(&listed(&s, id).await, &want, &format!("after {event} #{n}"));
    }
}

#[tokio::test]
async fn generic_every_hangup_cause_before_and_after_an_answer() {
    let s = server(&["201"], "").await;
    for (cause, unanswered, reason) in [
        ("normalClearing", "missed", "no_answer"),
        ("forwarded", "missed", "no_answer"),
        ("busy", "missed", "busy"),
        ("cancel", "missed", "no_answer"),
        ("noAnswer", "missed", "no_answer"),
        ("congestion", "missed", "failed"),
        ("notFound", "missed", "failed"),
        ("somethingElse", "missed", "no_answer"),
    ] {
        for answered in [false, true] {
            let call = format!("cause-{cause}-{answered}");
            let base = json!({"from": "+14155550123", "to": "+14155550100", "direction": "in",
                              "callId": call, "user": "201"});
            let with = |event: &str, extra: Value| {
                let mut v = base.clone();
                v["event"] = json!(event);
                v.as_object_mut()
                    .unwrap()
                    .extend(extra.as_object().unwrap().clone());
                v
            };
            assert_eq!(
                s.post_json("generic", &with("newCall", json!({}))).await,
                200
            );
            if answered {
                let a = with("answer", json!({"answeringNumber": "201"}));
                assert_eq!(s.post_json("generic", &a).await, 200);
            }
            let h = with("hangup", json!({"cause": cause}));
            assert_eq!(s.post_json("generic", &h).await, 200);
            let c = listed(&s, &format!("generic:{call}")).await;
            // An answer Ringside saw is never undone; without one, every cause is a miss.
            let want = if answered {
                json!({"state": "ended", "end_reason": "completed"})
            } else {
                json!({"state": unanswered, "end_reason": reason})
            };
            check(&c, &want, &call);
        }
    }
}

#[tokio::test]
async fn exotel_every_terminal_status_on_an_inbound_call() {
    let s = server(&["201"], "").await;
    for (status, reason) in [
        ("completed", "no_answer"),
        ("no-answer", "no_answer"),
        ("busy", "busy"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("in-progress", "no_answer"),
        ("queued", "no_answer"),
    ] {
        for talked in [0, 42] {
            let sid = format!("st-{status}-{talked}");
            let terminal = json!({"CallSid": sid, "EventType": "terminal", "Status": status,
                "Direction": "inbound", "From": "09876543210", "To": "08044556678",
                "EventTime": "2024-05-02 14:47:10", "ConversationDuration": talked,
                "Legs": [{"OnCallDuration": talked + 10, "Status": "completed"},
                         {"OnCallDuration": talked, "Status": "completed"}]});
            assert_eq!(s.post_json("exotel", &terminal).await, 200);
            let c = listed(&s, &format!("exotel:{sid}")).await;
            let want = if talked > 0 {
                json!({"state": "ended", "end_reason": "completed", "duration_s": talked})
            } else {
                json!({"state": "missed", "end_reason": reason})
            };
            check(&c, &want, &sid);
        }
    }
}
