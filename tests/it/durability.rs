use crate::support::*;
use serde_json::json;

fn ring(call: &str) -> serde_json::Value {
    json!({"event": "newCall", "from": "+14155550123", "to": "+14155550100",
           "direction": "in", "callId": call, "user": "201"})
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_call_continues_it() {
    let mut s = Server::start().await;
    let tmp = s.take_dir().unwrap();
    assert_eq!(s.post_json("generic", &ring("mid-1")).await, 200);
    s.kill();
    let s = Server::start_in(tmp.path()).await;
    let answer = json!({"event": "answer", "callId": "mid-1", "user": "201",
                        "from": "+14155550123", "to": "+14155550100", "direction": "in"});
    let hangup = json!({"event": "hangup", "callId": "mid-1", "cause": "normalClearing",
                        "from": "+14155550123", "to": "+14155550100", "direction": "in"});
    assert_eq!(s.post_json("generic", &answer).await, 200);
    // The ring is redelivered after the restart: still one ringing record.
    assert_eq!(s.post_json("generic", &ring("mid-1")).await, 200);
    assert_eq!(s.post_json("generic", &hangup).await, 200);
    let call = s.call("generic:mid-1").await;
    assert_eq!(call["state"], "ended");
    assert_eq!(call["answered_by"], "201");
    assert_eq!(
        timeline(&call),
        ["ringing", "leg_ringing", "answered", "ended"]
    );
}
