//! The router driven without a socket (`app(ringside)` with `tower::ServiceExt::oneshot`) and
//! with a clock the test moves: the sweeper's timeouts (and the Exotel applet's grace for a
//! next attempt), a VoiceShot callid used again once its redelivery window passed, and the CRM
//! lookup's cache in fake time, and the live stream's resync when a subscriber falls behind.

use crate::fake_xelion::eventually;
use crate::support::*;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::Router;
use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use futures_util::StreamExt;
use http::{Request, StatusCode};
use ringside_app::clock::ManualClock;
use ringside_app::live::LiveFrame;
use ringside_app::lock::DataLock;
use ringside_app::settings::Settings;
use ringside_app::viewer::Viewer;
use ringside_app::Ringside;
use ringside_core::config::Config;
use ringside_server::app;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// A Ringside on a fresh data directory with `config`, its clock standing at [`t0`].
async fn ringside(config: &str) -> (Ringside, ManualClock, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(t0());
    let lock = DataLock::acquire(&tmp.path().join("data")).unwrap();
    let settings = Settings::new(
        Config::parse(config).unwrap(),
        tmp.path().join("config.toml"),
    );
    let r = Ringside::open(lock, settings, "http://127.0.0.1:0".into(), clock.clock())
        .await
        .unwrap();
    (r, clock, tmp)
}

/// One request through the router; the status and the JSON body (Null when there is none).
async fn send(
    router: &Router,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {API_TOKEN}"));
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn ring(router: &Router, call: &str, from: &str) {
    let hook = format!("/hooks/generic/{}", hook_token("generic"));
    let body = json!({"event": "newCall", "from": from, "to": "+14155550100",
                      "direction": "in", "callId": call, "user": "201"});
    let (status, v) = send(router, "POST", &hook, Some(body)).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn the_sweeper_ends_silent_calls_at_the_timeout_in_fake_time() {
    let (r, clock, _tmp) = ringside(&default_config()).await;
    let router = app(r.clone());
    ring(&router, "quiet-1", "+14155550123").await;

    clock.advance(Span::minutes(9));
    assert_eq!(
        ringside_app::sweeper::sweep(&r).await.unwrap(),
        0,
        "not yet"
    );
    let (_, c) = send(&router, "GET", "/api/calls/generic:quiet-1", None).await;
    assert_eq!(c["state"], "ringing");

    clock.advance(Span::minutes(2));
    assert_eq!(ringside_app::sweeper::sweep(&r).await.unwrap(), 1);
    let (_, c) = send(&router, "GET", "/api/calls/generic:quiet-1", None).await;
    assert_eq!(c["state"], "missed", "{c}");
    assert_eq!(c["end_reason"], "timeout");
    let ended: DateTime<Utc> = c["ended_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(ended, t0() + Span::minutes(11), "ended at the fake time");
    let (_, missed) = send(&router, "GET", "/api/missed", None).await;
    assert_eq!(missed[0]["id"], "generic:quiet-1");
    assert_eq!(missed[0]["mine"], true, "201 is one of my identities");
}

/// A CRM that names every number it is asked about, and counts the questions.
async fn counting_crm() -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    type Asked = Arc<Mutex<HashMap<String, u32>>>;
    let asked: Asked = Arc::default();
    let router = Router::new()
        .route(
            "/lookup",
            axum::routing::get(
                |State(asked): State<Asked>, Query(q): Query<HashMap<String, String>>| async move {
                    let phone = q.get("phone").cloned().unwrap_or_default();
                    *asked.lock().unwrap().entry(phone.clone()).or_default() += 1;
                    axum::Json(json!([{ "name": format!("Caller {phone}") }]))
                },
            ),
        )
        .with_state(asked.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/lookup?phone={{e164}}",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, asked)
}

#[tokio::test]
async fn the_crm_lookup_caches_answers_for_cache_s_in_fake_time() {
    let (crm, asked) = counting_crm().await;
    let config = format!(
        "{}\n[contacts.crm]\nurl = \"{crm}\"\ncache_s = 60\n",
        default_config()
    );
    let (r, clock, _tmp) = ringside(&config).await;
    ringside_app::crm::spawn(&r);
    let router = app(r.clone());
    let named = |id: &'static str| {
        let router = router.clone();
        async move {
            eventually(id, Duration::from_secs(10), || async {
                let (_, c) = send(&router, "GET", &format!("/api/calls/{id}"), None).await;
                (c["contacts"][0]["name"] == "Caller +14155550111").then_some(())
            })
            .await
        }
    };
    let times = || asked.lock().unwrap().get("+14155550111").copied();

    ring(&router, "c-1", "+14155550111").await;
    named("generic:c-1").await;
    assert_eq!(times(), Some(1));

    // Within cache_s: named from the cache, the CRM is not asked again.
    clock.advance(Span::seconds(30));
    ring(&router, "c-2", "+14155550111").await;
    named("generic:c-2").await;
    assert_eq!(times(), Some(1));

    // Past it: asked again.
    clock.advance(Span::seconds(61));
    ring(&router, "c-3", "+14155550111").await;
    named("generic:c-3").await;
    assert_eq!(times(), Some(2));
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_gets_a_resync_frame_not_silence() {
    let (r, _clock, _tmp) = ringside(&default_config()).await;
    let router = app(r.clone());
    let mut slow = r.live.subscribe(Viewer::admin(&r));
    let mut fast = r.live.subscribe(Viewer::admin(&r));
    // More changes than a subscriber may fall behind by, with `slow` not reading: concurrent
    // webhooks, so they commit in groups.
    let calls = 4200;
    let mut seen = 0;
    let mut sent = futures_util::stream::iter(0..calls)
        .map(|i| {
            let router = router.clone();
            async move { ring(&router, &format!("lag-{i}"), "+14155550123").await }
        })
        .buffer_unordered(64);
    // A reader that keeps up, meanwhile.
    loop {
        tokio::select! {
            done = sent.next() => if done.is_none() { break },
            f = fast.next() => if matches!(f.unwrap().frame, LiveFrame::Call { .. }) { seen += 1 },
        }
    }
    while seen < calls {
        if matches!(fast.next().await.unwrap().frame, LiveFrame::Call { .. }) {
            seen += 1;
        }
    }
    let LiveFrame::Resync { seq } = slow.next().await.unwrap().frame.clone() else {
        panic!("the slow subscriber is told to resync");
    };
    assert!(
        seq >= calls as u64,
        "every change so far is covered by the reload: {seq}"
    );
    // After it, the slow subscriber goes on with what comes next.
    ring(&router, "after", "+14155550123").await;
    match &slow.next().await.unwrap().frame {
        LiveFrame::Call { seq: n, call } => {
            assert_eq!(*n, seq + 1);
            assert_eq!(call.call.id, "generic:after");
        }
        other => panic!("{other:?}"),
    }
}

/// A receiver of outbound webhooks: answers `fail_first` times 503, then 200; keeps what it
/// received, with its three Standard Webhooks headers.
async fn receiver(
    fail_first: usize,
) -> (String, Arc<Mutex<Vec<(String, String, String, String)>>>) {
    type Got = Arc<Mutex<Vec<(String, String, String, String)>>>;
    let got: Got = Arc::default();
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(fail_first));
    let router = Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State((got, failures)): State<(Got, Arc<std::sync::atomic::AtomicUsize>)>,
                 headers: http::HeaderMap,
                 body: String| async move {
                    let h = |n: &str| headers[n].to_str().unwrap().to_string();
                    got.lock().unwrap().push((
                        h("webhook-id"),
                        h("webhook-timestamp"),
                        h("webhook-signature"),
                        body,
                    ));
                    let left = failures.load(std::sync::atomic::Ordering::SeqCst);
                    if left > 0 {
                        failures.store(left - 1, std::sync::atomic::Ordering::SeqCst);
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        )
        .with_state((got.clone(), failures));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn finished_calls_are_posted_signed_and_retried_with_backoff_in_fake_time() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (url, got) = receiver(1).await;
    let config = format!(
        "{}\n[hub]\n[[hub.webhooks]]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\nevents = [\"call.missed\", \"call.ended\"]\n",
        default_config()
    );
    let (r, clock, _tmp) = ringside(&config).await;
    let router = app(r.clone());
    let client = reqwest::Client::new();
    ring(&router, "w-1", "+14155550123").await;
    let hook = format!("/hooks/generic/{}", hook_token("generic"));
    let hangup = json!({"event": "hangup", "callId": "w-1", "cause": "noAnswer",
                        "from": "+14155550123", "to": "+14155550100", "direction": "in"});
    let (status, _) = send(&router, "POST", &hook, Some(hangup)).await;
    assert_eq!(status, 200);
    // Sent at once; the receiver fails it.
    assert_eq!(
        ringside_app::webhooks::send_due(&r, &client).await.unwrap(),
        1
    );
    assert_eq!(got.lock().unwrap().len(), 1);
    // Not again before its time; again at it.
    clock.advance(Span::seconds(29));
    assert_eq!(
        ringside_app::webhooks::send_due(&r, &client).await.unwrap(),
        0
    );
    clock.advance(Span::seconds(1));
    assert_eq!(
        ringside_app::webhooks::send_due(&r, &client).await.unwrap(),
        1
    );
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let (id, ts, sig, body) = &got[1];
    assert_eq!(id, &got[0].0, "the same message id on every attempt");
    ringside_core::signature::verify_standard_webhooks(
        SECRET,
        Some(id),
        Some(ts),
        Some(sig),
        body.as_bytes(),
        clock.now().timestamp(),
        300,
    )
    .expect("signed the Standard Webhooks way");
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["type"], "call.missed");
    assert_eq!(body["data"]["id"], "generic:w-1");
    // The admin sees how it went, and can send it again.
    let (status, list) = send(&router, "GET", "/api/webhooks", None).await;
    assert_eq!(status, 200, "{list}");
    let d = &list[0]["deliveries"][0];
    assert_eq!(
        (d["attempts"].as_u64(), d["next_at"].is_null()),
        (Some(2), true)
    );
    assert!(d["sent_at"].is_string());
    let msg = list[0]["id"].as_i64().unwrap();
    let (status, _) = send(
        &router,
        "POST",
        &format!("/api/webhooks/{msg}/replay"),
        None,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        ringside_app::webhooks::send_due(&r, &client).await.unwrap(),
        1
    );
}

/// A Connect applet pass-through request (GET) for call `sid` at `at` (IST wall clock).
async fn applet(router: &Router, sid: &str, event: &str, agent: &str, at: DateTime<Utc>) {
    let ist = chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
    let now = at.with_timezone(&ist).format("%Y-%m-%d+%H:%M:%S");
    let status = if event == "Terminal" { "free" } else { "busy" };
    let query = format!(
        "CallSid={sid}&CallFrom=09876543210&CallTo=08044556678&Direction=outbound-dial\
         &From=09876543210&To=08044556678&CurrentTime={now}&DialWhomNumber={agent}\
         &Status={status}&EventType={event}"
    );
    let hook = format!("/hooks/exotel/{}?{query}", hook_token("exotel"));
    let (status, v) = send(router, "GET", &hook, None).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn an_exotel_applet_call_is_missed_once_the_grace_for_a_next_attempt_passed() {
    let (r, clock, _tmp) = ringside(&default_config()).await;
    let router = app(r.clone());
    let state = |id: &'static str| {
        let router = router.clone();
        async move {
            let (_, c) = send(&router, "GET", &format!("/api/calls/exotel:{id}"), None).await;
            c["state"].as_str().unwrap().to_string()
        }
    };
    let grace = Span::seconds(ringside_core::correlate::Timeouts::default().quiet_s as i64);

    // Agent 1 does not answer; agent 2 is dialled within the grace and does not answer either.
    applet(&router, "g1", "Dial", "09812345601", t0()).await;
    clock.advance(Span::seconds(30));
    applet(&router, "g1", "Terminal", "09812345601", clock.now()).await;
    clock.advance(grace - Span::seconds(1));
    assert_eq!(ringside_app::sweeper::sweep(&r).await.unwrap(), 0);
    applet(&router, "g1", "Dial", "09812345602", clock.now()).await;
    clock.advance(Span::seconds(30));
    assert_eq!(ringside_app::sweeper::sweep(&r).await.unwrap(), 0, "rings");
    assert_eq!(state("g1").await, "ringing");
    applet(&router, "g1", "Terminal", "09812345602", clock.now()).await;
    let last = clock.now();

    // Within the grace it may still go on; after it, missed at that moment.
    clock.advance(grace - Span::seconds(1));
    assert_eq!(ringside_app::sweeper::sweep(&r).await.unwrap(), 0);
    assert_eq!(state("g1").await, "ringing");
    clock.advance(Span::seconds(1));
    assert_eq!(ringside_app::sweeper::sweep(&r).await.unwrap(), 1);
    let (_, c) = send(&router, "GET", "/api/calls/exotel:g1", None).await;
    assert_eq!(c["state"], "missed", "{c}");
    assert_eq!(c["end_reason"], "timeout");
    let ended: DateTime<Utc> = c["ended_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(ended, last + grace);

    // An answered call is not: the answering agent's Terminal ends it.
    applet(&router, "g2", "Dial", "09812345601", clock.now()).await;
    clock.advance(Span::seconds(5));
    applet(&router, "g2", "Answered", "09812345601", clock.now()).await;
    clock.advance(Span::hours(1));
    assert_eq!(ringside_app::sweeper::sweep(&r).await.unwrap(), 0);
    assert_eq!(state("g2").await, "answered");
    applet(&router, "g2", "Terminal", "09812345601", clock.now()).await;
    let (_, c) = send(&router, "GET", "/api/calls/exotel:g2", None).await;
    assert_eq!(c["state"], "ended");
    assert_eq!(c["duration_s"], 3600);
}

/// A VoiceShot Call Event, as VoiceShot posts it.
async fn voiceshot(router: &Router, xml: &str) {
    let req = Request::builder()
        .method("POST")
        .uri(format!("/hooks/voiceshot/{}", hook_token("voiceshot")))
        .header("host", "127.0.0.1")
        .header("content-type", "text/xml")
        .body(Body::from(xml.to_string()))
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_voiceshot_callid_used_again_by_the_same_caller_is_a_new_call_once_the_first_is_over() {
    let (r, clock, _tmp) = ringside(&default_config()).await;
    let router = app(r.clone());
    let answer = r#"<campaign menuid="1-3" callid="213167" action="4" callerid="8182238964"/>"#;
    let hangup = r#"<campaign menuid="1-3" callid="213167" action="5" duration="24"/>"#;
    voiceshot(&router, answer).await;
    clock.advance(Span::seconds(24));
    voiceshot(&router, hangup).await;
    // The same answer again at once: a redelivery, not a call.
    clock.advance(Span::seconds(5));
    voiceshot(&router, answer).await;
    let (_, calls) = send(&router, "GET", "/api/calls", None).await;
    assert_eq!(calls.as_array().unwrap().len(), 1, "{calls}");
    // The same bytes once the redelivery window is long past: the caller called again.
    let window = ringside_core::ingest::ANSWER_REDELIVERED_WITHIN_S;
    clock.advance(Span::seconds(window));
    voiceshot(&router, answer).await;
    let (_, c) = send(&router, "GET", "/api/calls/voiceshot:1-3:213167~2", None).await;
    assert_eq!(c["state"], "answered", "{c}");
    assert_eq!(c["from"], "+18182238964");
    let (_, first) = send(&router, "GET", "/api/calls/voiceshot:1-3:213167", None).await;
    assert_eq!(first["state"], "ended");
    assert_eq!(first["duration_s"], 24);
}
