use crate::support::*;
use serde_json::{json, Value};

/// A TelTel event for call `call` (ids are unique per test).
fn teltel(call: &str, id: &str, event: &str, extra: Value) -> Value {
    let mut v = json!({
        "id": format!("{call}-{id}"),
        "event": event,
        "call_id": call,
        "session_id": format!("s-{call}"),
        "timestamp": "2026-11-20T10:00:00Z",
        "direction": "inbound",
        "type": "standard",
        "from": "+37120000001",
        "to": "+37167000000",
    });
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

fn at(v: Value, ts: &str) -> Value {
    let mut v = v;
    v["timestamp"] = json!(ts);
    v
}

#[tokio::test]
async fn parallel_ringing_with_one_winner_is_one_answered_call() {
    let s = Server::start().await;
    let c = "par-1";
    let events = [
        teltel(c, "1", "START", json!({})),
        at(
            teltel(c, "2", "RING", json!({"to": "201", "phase": "didtosip"})),
            "2026-11-20T10:00:01Z",
        ),
        at(
            teltel(c, "3", "RING", json!({"to": "202", "phase": "didtosip"})),
            "2026-11-20T10:00:01Z",
        ),
        at(
            teltel(
                c,
                "4",
                "RINGRESULT",
                json!({"to": "201", "state": "ANSWER"}),
            ),
            "2026-11-20T10:00:05Z",
        ),
        at(
            teltel(
                c,
                "5",
                "RINGRESULT",
                json!({"to": "202", "state": "CANCEL"}),
            ),
            "2026-11-20T10:00:05Z",
        ),
        at(
            teltel(
                c,
                "6",
                "JOIN",
                json!({"subject_type": "sip", "subject": "201", "subject_user": "201"}),
            ),
            "2026-11-20T10:00:05Z",
        ),
        at(
            teltel(
                c,
                "7",
                "COMPLETED",
                json!({"is_answered": true, "audio_url": "https://rec.example/par-1.mp3", "hanged_by": "phone"}),
            ),
            "2026-11-20T10:01:05Z",
        ),
    ];
    for e in &events {
        assert_eq!(s.post_json("teltel", e).await, 200, "{e}");
    }
    let call = s.call("teltel:par-1").await;
    assert_eq!(call["state"], "ended");
    assert_eq!(call["answered_by"], "201");
    assert_eq!(call["recording_url"], "https://rec.example/par-1.mp3");
    assert_eq!(call["duration_s"], 60);
    assert_eq!(call["legs"].as_array().unwrap().len(), 2);
    let tl = timeline(&call);
    assert_eq!(tl.iter().filter(|w| *w == "answered").count(), 1);
    assert_eq!(tl.first().unwrap(), "ringing");
    assert_eq!(tl.last().unwrap(), "ended");
    assert!(!tl.contains(&"missed".to_string()));
    assert_eq!(s.calls().await.len(), 1, "one call, not one per leg");
}

#[tokio::test]
async fn nobody_answering_is_a_missed_call() {
    let s = Server::start().await;
    let c = "miss-1";
    for e in [
        teltel(c, "1", "START", json!({})),
        teltel(c, "2", "RING", json!({"to": "201"})),
        teltel(c, "3", "RING", json!({"to": "202"})),
        teltel(
            c,
            "4",
            "RINGRESULT",
            json!({"to": "201", "state": "NOANSWER"}),
        ),
    ] {
        assert_eq!(s.post_json("teltel", &e).await, 200);
    }
    // One leg's NOANSWER is not a miss: the call still rings on 202.
    assert_eq!(s.call("teltel:miss-1").await["state"], "ringing");
    for e in [
        teltel(
            c,
            "5",
            "RINGRESULT",
            json!({"to": "202", "state": "NOANSWER"}),
        ),
        teltel(c, "6", "COMPLETED", json!({"is_answered": false})),
    ] {
        assert_eq!(s.post_json("teltel", &e).await, 200);
    }
    let call = s.call("teltel:miss-1").await;
    assert_eq!(call["state"], "missed");
    assert_eq!(call["answered_by"], Value::Null);
    let (_, missed) = s.api("/api/missed").await;
    assert_eq!(missed[0]["id"], "teltel:miss-1");
}

#[tokio::test]
async fn sequential_attempts_under_one_exotel_call_sid() {
    let s = Server::start().await;
    let q = |event: &str, agent: &str, status: &str, t: &str| {
        format!(
            "CallSid=seq1&CallFrom=09876543210&CallTo=08044556678&Direction=outbound-dial\
             &Created=2026-11-20+10:00:00&From=09876543210&To=08044556678\
             &CurrentTime=2026-11-20+10:00:{t}&DialWhomNumber={agent}&Status={status}&EventType={event}"
        )
    };
    for query in [
        q("Dial", "09000000001", "busy", "01"),
        q("Ringing", "09000000001", "busy", "02"),
        q("Terminal", "09000000001", "free", "20"),
        q("Dial", "09000000002", "busy", "21"),
        q("Answered", "09000000002", "busy", "25"),
    ] {
        assert_eq!(s.get_hook("exotel", &query).await, 200, "{query}");
    }
    let call = s.call("exotel:seq1").await;
    assert_eq!(call["state"], "answered");
    assert_eq!(call["answered_by"], "+919000000002");
    assert_eq!(call["from"], "+919876543210");
    let legs = call["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 2);
    assert_eq!(legs[0]["state"], "stopped");
    assert_eq!(legs[1]["state"], "answered");
    let terminal = json!({
        "CallSid": "seq1", "EventType": "terminal", "Status": "completed",
        "Direction": "inbound", "From": "09876543210", "To": "08044556678",
        "EventTime": "2026-11-20 10:01:25", "ConversationDuration": 60,
        "Legs": [{"OnCallDuration": 80, "Status": "completed"}, {"OnCallDuration": 60, "Status": "completed"}]
    });
    assert_eq!(s.post_json("exotel", &terminal).await, 200);
    let call = s.call("exotel:seq1").await;
    assert_eq!(call["state"], "ended");
    assert_eq!(call["duration_s"], 60);
}

#[tokio::test]
async fn redeliveries_are_acknowledged_but_counted_once() {
    let s = Server::start().await;
    let start = teltel("dup-1", "1", "START", json!({}));
    let ring = teltel("dup-1", "2", "RING", json!({"to": "201"}));
    for e in [&start, &ring, &ring, &start, &ring] {
        assert_eq!(s.post_json("teltel", e).await, 200);
    }
    // Same event id, different bytes (a provider retry with a new timestamp format).
    let mut retry = ring.clone();
    retry["timestamp"] = json!("2026-11-20 10:00:00");
    assert_eq!(s.post_json("teltel", &retry).await, 200);
    let call = s.call("teltel:dup-1").await;
    assert_eq!(timeline(&call), ["ringing", "leg_ringing"]);

    // No event id: byte-identical bodies are the same delivery.
    let body = json!({"event": "newCall", "from": "+14155550123", "to": "+14155550100",
                      "direction": "in", "callId": "dup-2", "user": "201"})
    .to_string();
    for _ in 0..3 {
        assert_eq!(
            s.post("generic", "application/json", body.clone()).await,
            200
        );
    }
    assert_eq!(
        timeline(&s.call("generic:dup-2").await),
        ["ringing", "leg_ringing"]
    );
}

#[tokio::test]
async fn late_events_after_completed_do_not_reopen_the_call() {
    let s = Server::start().await;
    let c = "ooo-1";
    for e in [
        teltel(c, "1", "START", json!({})),
        at(
            teltel(c, "2", "RING", json!({"to": "201"})),
            "2026-11-20T10:00:01Z",
        ),
        at(
            teltel(c, "9", "COMPLETED", json!({"is_answered": false})),
            "2026-11-20T10:00:30Z",
        ),
        // Delivered late, though it happened earlier.
        at(
            teltel(
                c,
                "3",
                "RINGRESULT",
                json!({"to": "201", "state": "NOANSWER"}),
            ),
            "2026-11-20T10:00:20Z",
        ),
        at(
            teltel(c, "4", "RING", json!({"to": "202"})),
            "2026-11-20T10:00:02Z",
        ),
    ] {
        assert_eq!(s.post_json("teltel", &e).await, 200);
    }
    let call = s.call("teltel:ooo-1").await;
    assert_eq!(call["state"], "missed");
    assert_eq!(call["answered_by"], Value::Null);
    assert_eq!(timeline(&call).last().unwrap(), "missed");
    // The late RING (before COMPLETED in time) is a leg of the call, stopped by its end; no
    // RING after the end reopens it.
    let late = at(
        teltel(c, "10", "RING", json!({"to": "203"})),
        "2026-11-20T10:05:00Z",
    );
    assert_eq!(s.post_json("teltel", &late).await, 200);
    let call = s.call("teltel:ooo-1").await;
    assert_eq!(call["state"], "missed");
    assert!(call["legs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["state"] == "stopped"));
}

#[tokio::test]
async fn a_call_whose_final_event_never_comes_ends_by_timeout() {
    let config = default_config() + "\n[calls]\nringing_s = 1\nanswered_s = 3600\n";
    let s = Server::start_with(&config).await;
    let e = json!({"event": "newCall", "from": "+14155550123", "to": "+14155550100",
                   "direction": "in", "callId": "to-1", "user": "201"});
    assert_eq!(s.post_json("generic", &e).await, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let call = s.call("generic:to-1").await;
        if call["state"] == "missed" {
            assert_eq!(call["end_reason"], "timeout");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {call}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
