//! Retries and reordering: every provider's real calls (the built-in scenarios, in each
//! provider's wire format) delivered with every event 1-3 times, shuffled within a window
//! (from "a retry arrives a little late" to "any order at all"), through the real listener.
//! Each must come out as exactly the call and timeline an in-order, once-only delivery gives,
//! and the live stream, folded through `screenpop::decide` with the default settings (pop on
//! ringing), must pop it once (or never, when the call was already answered or over by the
//! time Ringside first heard of it; for a provider that never reports ringing, when it was over
//! before Ringside heard it was connected). Xelion's frames are redelivered in order (its
//! websocket does not reorder). Ringside's own timeouts are kept out of the way
//! (`quiet_s = 3600`): the calls compared are as the providers left them.
//!
//! Quick in CI (6 trials per scenario); `RINGSIDE_FULL=1` runs 150. `RINGSIDE_SEED=<n>`
//! replays a run.

use crate::fake_xelion::{eventually, FakeXelion, PASSWORD};
use crate::support::*;
use chrono::TimeZone;
use futures_util::StreamExt;
use ringside_core::config::{Config, CrmOpen, ScreenPop};
use ringside_core::me::Me;
use ringside_core::phone::DefaultRegion;
use ringside_core::providers::scenario::{self, Run, Scenario, WireRequest};
use ringside_core::screenpop::{decide, Phrases, Pop, PopAction, PopSettings, Shown};
use ringside_core::{Call, CallState, EventKind, Provider};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Ringside's own timeouts out of the way of the comparisons.
pub const QUIET: &str = "\n[calls]\nquiet_s = 3600\n";

fn trials() -> usize {
    if full_mode() {
        150
    } else {
        6
    }
}

/// A scenario run whose ids all contain `id`; the same time, caller and agents every time.
pub fn run(id: &str) -> Run {
    Run {
        id: id.to_string(),
        now: chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .unwrap(),
        caller: "+14155550123".into(),
        agents: vec!["201".into(), "202".into()],
    }
}

/// Whether the provider dates its events (then times must match exactly).
fn timed(p: Provider) -> bool {
    !matches!(
        p,
        Provider::Generic | Provider::Voiceshot | Provider::Xelion
    )
}

/// The order to deliver `n` events in: each 1-3 times, each copy displaced by up to `window`
/// places. Returns event indices.
fn schedule(n: usize, window: f64, rng: &mut Rng) -> Vec<usize> {
    let mut keyed: Vec<(f64, usize)> = Vec::new();
    for i in 0..n {
        for _ in 0..1 + rng.below(3) {
            keyed.push((i as f64 + window * rng.unit(), i));
        }
    }
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// A call (with its timeline) as comparable across runs: the run's id replaced, Ringside's
/// own clock dropped; for providers that send no times, every time and computed duration
/// dropped too (they are arrival times) and the timeline compared by kind only.
pub fn comparable(call: &Value, run_id: &str, provider: Provider) -> Value {
    let text = call.to_string().replace(run_id, "RUN");
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["updated_at"] = Value::Null;
    // The change number counts the stored changes, which redeliveries add to.
    v["seq"] = Value::Null;
    // Whether a missed call is done is the agents' work, not the call's own events: every run
    // here calls from the same number, and another call reaching that caller also marks it
    // done (`store::calls::settle`), as the runs around it happen to come.
    v["done"] = Value::Null;
    for follow_up in [
        "done_at",
        "done_by",
        "resolved_by",
        "claimed_by",
        "claimed_until",
    ] {
        v.as_object_mut().unwrap().remove(follow_up);
    }
    let mut timeline: Vec<Value> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"] != "done")
        .map(|e| {
            if timed(provider) {
                serde_json::json!([e["at"], e["what"], e["detail"]])
            } else {
                e["what"].clone()
            }
        })
        .collect();
    timeline.sort_by_key(|e| e.to_string());
    v["timeline"] = Value::Array(timeline);
    if !timed(provider) {
        blank_times(&mut v);
        if provider != Provider::Voiceshot {
            // Generic CTI says no duration: it is the arrival times' difference.
            v["duration_s"] = Value::Null;
        }
    }
    v
}

fn blank_times(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == "at" || k.ends_with("_at") {
                    *x = Value::Null;
                } else {
                    blank_times(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(blank_times),
        _ => {}
    }
}

/// The events one request carries, as Ringside's adapter reads it.
fn kinds(config: &Config, provider: Provider, req: &WireRequest) -> Vec<EventKind> {
    let hook = config
        .hooks()
        .into_iter()
        .find(|h| h.provider == provider)
        .unwrap();
    req.parse(provider, &hook.parse)
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// The default screen-pop settings (pop on ringing), for both directions, in a supervisor's
/// view: every call is "mine".
fn pop_settings() -> PopSettings {
    let region = DefaultRegion::parse("US").unwrap();
    let inbound = ScreenPop::default().inbound;
    PopSettings {
        me: Me::new(&["201".into()], region, true),
        modes: ScreenPop {
            inbound,
            outbound: inbound,
            ..ScreenPop::default()
        },
        region,
        crm_template: false,
        crm_open: CrmOpen::Click,
        phrases: Phrases::default(),
    }
}

/// How many pops a call should get, from the order its events arrived in: one if Ringside
/// first heard of it ringing and not yet over; for a provider that never reports ringing, one
/// if it heard the call was connected before it heard it was over; else none.
fn expected_pops(provider: Provider, arrivals: &[Vec<EventKind>]) -> usize {
    let answered = |k: &[EventKind]| k.iter().any(|e| matches!(e, EventKind::Answered { .. }));
    let ended = |k: &[EventKind]| k.iter().any(|e| matches!(e, EventKind::Ended { .. }));
    let rings = ringside_core::providers::adapter(provider).is_none_or(|a| a.reports.ringing);
    let popped = if rings {
        arrivals.first().is_some_and(|k| !answered(k) && !ended(k))
    } else {
        arrivals
            .iter()
            .find(|k| answered(k) || ended(k))
            .is_some_and(|k| !ended(k))
    };
    usize::from(popped)
}

/// Pops for `frames` of one call (in stream order) through the desktop's decision, and the
/// pop left on screen at the end.
fn pops(frames: &[Call], settings: &PopSettings) -> (usize, Option<Pop>) {
    let mut shown = Shown::default();
    let mut shows = 0;
    for call in frames {
        match decide(&shown, call, settings).pop {
            PopAction::Show(p) => {
                shows += 1;
                shown.pop = Some(p);
            }
            PopAction::Replace(p) => shown.pop = Some(p),
            PopAction::Close => shown.pop = None,
            PopAction::Nothing => {}
        }
    }
    (shows, shown.pop)
}

/// Every `/api/live` frame, grouped by call, in stream order.
type Frames = Arc<Mutex<HashMap<String, Vec<Call>>>>;

async fn record_frames(s: &Server) -> Frames {
    let url = s.url.replace("http://", "ws://") + "/api/live?token=" + API_TOKEN;
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let frames: Frames = Arc::default();
    let out = frames.clone();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["type"], "call", "the live stream fell behind: {v}");
            let call: Call = serde_json::from_value(v["call"].clone()).unwrap();
            out.lock()
                .unwrap()
                .entry(call.id.clone())
                .or_default()
                .push(call);
        }
    });
    frames
}

/// The id and frames of the one call whose id contains `run_id`, once the stream has shown
/// it reach `state`.
async fn frames_of(frames: &Frames, run_id: &str, state: CallState) -> (String, Vec<Call>) {
    eventually(
        &format!("frames of {run_id}"),
        Duration::from_secs(10),
        || {
            let got: Vec<(String, Vec<Call>)> = frames
                .lock()
                .unwrap()
                .iter()
                .filter(|(id, _)| id.contains(run_id))
                .map(|(id, f)| (id.clone(), f.clone()))
                .collect();
            async move {
                assert!(got.len() <= 1, "more than one call for {run_id}: {got:?}");
                got.into_iter()
                    .next()
                    .filter(|(_, f)| f.last().is_some_and(|c| c.state == state))
            }
        },
    )
    .await
}

/// Deliver `order` (indices into `reqs`) to the scenario's webhook: every first copy is
/// stored, every later one acknowledged as a duplicate.
async fn deliver(s: &Server, scenario: &Scenario, reqs: &[WireRequest], order: &[usize]) {
    let mut seen = vec![false; reqs.len()];
    let url = s.hook_url(scenario.provider.as_str());
    for &i in order {
        let (status, body) = send_wire(&s.http, &url, &reqs[i]).await.unwrap();
        assert_eq!(status, 200, "{} step {i}: {body}", scenario.name);
        if scenario.provider != Provider::Voiceshot {
            let want = if seen[i] { "duplicate" } else { "stored" };
            assert!(body.contains(want), "{} step {i}: {body}", scenario.name);
        }
        seen[i] = true;
    }
}

#[tokio::test]
async fn redelivered_and_shuffled_events_make_one_call_one_timeline_one_pop() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let mut rng = Rng::from_env("retries");
    let s = Server::start_with(&(default_config() + QUIET)).await;
    let config = Config::load(&s.dir.join("config.toml")).unwrap();
    let frames = record_frames(&s).await;
    let (mut journal, mut calls) = (0, 0);
    let settings = pop_settings();
    for (n, scenario) in scenario::all().into_iter().enumerate() {
        let reference_id = format!("ref{n}x");
        let reqs = (scenario.build)(&run(&reference_id));
        let in_order: Vec<usize> = (0..reqs.len()).collect();
        deliver(&s, scenario, &reqs, &in_order).await;
        journal += reqs.len();
        calls += 1;
        let state = scenario.sent;
        let (id, _) = frames_of(&frames, &reference_id, state).await;
        let reference = s.call(&id).await;
        let want = comparable(&reference, &reference_id, scenario.provider);

        for trial in 0..trials() {
            let id = format!("t{n}x{trial}x");
            let reqs = (scenario.build)(&run(&id));
            let window = [1.5, 3.0, reqs.len() as f64][trial % 3];
            let order = schedule(reqs.len(), window, &mut rng);
            deliver(&s, scenario, &reqs, &order).await;
            journal += reqs.len();
            calls += 1;
            let (call_id, call_frames) = frames_of(&frames, &id, state).await;
            let got = s.call(&call_id).await;
            assert_eq!(
                comparable(&got, &id, scenario.provider),
                want,
                "{} delivered in the order {order:?}",
                scenario.name
            );

            let mut first_seen = Vec::new();
            for &i in &order {
                if !first_seen.contains(&i) {
                    first_seen.push(i);
                }
            }
            let arrivals: Vec<Vec<EventKind>> = first_seen
                .iter()
                .map(|&i| kinds(&config, scenario.provider, &reqs[i]))
                .collect();
            let (shows, left) = pops(&call_frames, &settings);
            assert_eq!(
                shows,
                expected_pops(scenario.provider, &arrivals),
                "{}: pops for the order {order:?}",
                scenario.name
            );
            if state == CallState::Ended {
                assert_eq!(left, None, "{}: a pop left after the end", scenario.name);
            }
        }
    }
    assert_eq!(
        s.journal_len() as usize,
        journal,
        "one journal row per real event"
    );
    assert_eq!(s.calls_all().await.len(), calls, "one call per real call");
}

#[tokio::test]
async fn redelivered_xelion_notifications_make_one_call_one_timeline_one_pop() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let mut rng = Rng::from_env("xelion retries");
    let fake = FakeXelion::start(true).await;
    // A long keep-alive: a reconnect would drop the notifications pushed meanwhile.
    let s = Server::start_with(&fake.ringside_config(PASSWORD, 10.0, "")).await;
    fake.until("subscribed", Duration::from_secs(10), |f| {
        f.subscriptions() >= 1
    })
    .await;
    let frames = record_frames(&s).await;
    let settings = pop_settings();
    for (fixture, flow) in [
        ("answered", "flow-c-1001"),
        ("missed", "flow-c-2001"),
        ("hunt_group", "flow-c-4001"),
    ] {
        let lines: Vec<String> =
            std::fs::read_to_string(fixtures_dir().join(format!("xelion/{fixture}.jsonl")))
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect();
        let mut want = None;
        for trial in 0..=trials() {
            // Trial 0 is the reference: each notification once.
            let tag = format!("x{trial}x");
            let mut pushed = 0;
            for line in &lines {
                let line = line
                    .replace("-1001", &format!("-1001{tag}"))
                    .replace("-2001", &format!("-2001{tag}"))
                    .replace("-4001", &format!("-4001{tag}"));
                let copies = if trial == 0 { 1 } else { 1 + rng.below(3) };
                for _ in 0..copies {
                    fake.push(&line);
                    pushed += 1;
                }
            }
            let state = if fixture == "missed" {
                CallState::Missed
            } else {
                CallState::Ended
            };
            let (id, call_frames) = frames_of(&frames, &format!("{flow}{tag}"), state).await;
            assert_eq!(id, format!("xelion:{flow}{tag}"));
            let got = comparable(&s.call(&id).await, &tag, Provider::Xelion);
            match &want {
                None => want = Some(got),
                Some(w) => assert_eq!(&got, w, "{fixture}: {pushed} notifications pushed"),
            }
            let (shows, _) = pops(&call_frames, &settings);
            assert_eq!(shows, 1, "{fixture} trial {trial}: pops");
        }
    }
}
