use crate::support::*;
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ring(call: &str) -> serde_json::Value {
    json!({"event": "newCall", "from": "+14155550123", "to": "+14155550100",
           "direction": "in", "callId": call, "user": "201"})
}

/// Post distinct calls from several senders, SIGKILL the server mid-stream, restart it on the
/// same data directory: every call that got a 2xx is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_ingest_loses_no_acknowledged_event() {
    let mut s = Server::start().await;
    let tmp = s.take_dir().unwrap();
    for round in 0..3 {
        let acked = Arc::new(Mutex::new(HashSet::new()));
        let mut senders = Vec::new();
        for sender in 0..8 {
            let url = s.hook_url("generic");
            let acked = acked.clone();
            senders.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                for i in 0.. {
                    let id = format!("r{round}-s{sender}-{i}");
                    let res = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(ring(&id).to_string())
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status() == 200 => {
                            acked.lock().unwrap().insert(format!("generic:{id}"));
                        }
                        _ => return,
                    }
                }
            }));
        }
        // Kill at a different point each round, once ingest is well under way.
        let target = 40 + 35 * round;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while acked.lock().unwrap().len() < target && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // SIGKILL: no chance to flush anything.
        s.kill();
        for t in senders {
            let _ = t.await;
        }
        s = Server::start_in(tmp.path()).await;
        let stored: HashSet<String> = s
            .calls_all()
            .await
            .into_iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        let acked = acked.lock().unwrap();
        assert!(
            acked.len() >= target,
            "round {round}: only {} acknowledged",
            acked.len()
        );
        let lost: Vec<_> = acked.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "round {round}: lost {} acknowledged: {lost:?}",
            lost.len()
        );
    }
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
