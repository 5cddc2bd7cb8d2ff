//! SIGKILL at random points while six senders deliver real calls of every provider, 20 times:
//! nothing acknowledged is lost, no call disagrees with its journal, and every call ends up
//! as an uninterrupted delivery makes it once the providers retry.

use crate::retries::{comparable, run};
use crate::support::*;
use ringside_core::providers::scenario::{self, Scenario, WireRequest};
use ringside_core::store::{Queries, Writer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One call a sender delivers: a built-in scenario's requests, how many were sent and how
/// many answered 2xx.
struct Delivery {
    scenario: &'static Scenario,
    run_id: String,
    requests: Vec<WireRequest>,
    sent: usize,
    acked: usize,
}

/// What the journal keeps of a request: the body, or for a GET its query.
fn raw_of(req: &WireRequest) -> Vec<u8> {
    if req.body.is_empty() {
        req.query.trim_start_matches('?').as_bytes().to_vec()
    } else {
        req.body.clone()
    }
}

/// Every call with its timeline, read straight from a store, by id.
fn calls_in(store: &Writer, conn: &rusqlite::Connection) -> BTreeMap<String, Value> {
    let mut stmt = conn.prepare("SELECT id FROM calls").unwrap();
    let ids: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    ids.into_iter()
        .map(|id| {
            let c = store.call(&id).unwrap().unwrap();
            let mut v = serde_json::to_value(c).unwrap();
            // The change number says when the stored call last changed, not what it is: a
            // rebuild numbers its calls again after every change before it.
            v["seq"] = Value::Null;
            (id, v)
        })
        .collect()
}

/// A copy of the store files a killed server left: every acknowledged delivery is in its
/// journal, byte for byte, and every call and timeline is exactly what folding the journal
/// again from scratch (`Writer::rebuild`) gives.
fn check_store(data: &Path, acked: &[Vec<u8>], round: usize) -> usize {
    let copy = tempfile::tempdir().unwrap();
    for name in ["ringside.db", "ringside.db-wal"] {
        if data.join(name).exists() {
            std::fs::copy(data.join(name), copy.path().join(name)).unwrap();
        }
    }
    let path = copy.path().join("ringside.db");
    let mut store = Writer::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut present = conn
        .prepare("SELECT COUNT(*) FROM journal WHERE raw = ?1")
        .unwrap();
    for raw in acked {
        let n: i64 = present.query_row([raw], |r| r.get(0)).unwrap();
        assert_eq!(
            n,
            1,
            "round {round}: an acknowledged delivery is not in the journal: {}",
            String::from_utf8_lossy(raw)
        );
    }
    let live = calls_in(&store, &conn);
    store.rebuild().unwrap();
    let rebuilt = calls_in(&store, &conn);
    assert_eq!(live.len(), rebuilt.len(), "round {round}");
    for (id, call) in &live {
        assert_eq!(
            Some(call),
            rebuilt.get(id),
            "round {round}: {id} differs from its journal"
        );
    }
    live.len()
}

/// SIGKILL the server at a random point while six senders deliver real calls of every
/// provider concurrently, 20 times (`RINGSIDE_FULL=1`: 100). After each kill: every delivery
/// that got a 2xx is in the journal byte for byte, and every call and timeline equals what
/// `Writer::rebuild` folds from the journal. Then the server restarts on the same data, the
/// providers "retry" what was not acknowledged, and every call ends up exactly as an
/// uninterrupted delivery makes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_ingest_loses_nothing_and_corrupts_nothing() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    const SENDERS: usize = 6;
    let rounds = if full_mode() { 100 } else { 20 };
    let mut rng = Rng::from_env("crash");
    // Ringside's own timeouts out of the way of the comparisons.
    let mut s = Server::start_with(&(default_config() + crate::retries::QUIET)).await;
    let tmp = s.take_dir().unwrap();
    let scenarios = scenario::all();

    // What each scenario looks like delivered without a crash.
    let mut reference = Vec::new();
    for (n, scenario) in scenarios.iter().enumerate() {
        let id = format!("ref{n}x");
        let url = s.hook_url(scenario.provider.as_str());
        for req in (scenario.build)(&run(&id)) {
            assert_eq!(send_wire(&s.http, &url, &req).await.unwrap().0, 200);
        }
        reference.push(id);
    }
    let calls = s.calls_all().await;
    let mut want = Vec::new();
    for (id, sc) in reference.iter().zip(&scenarios) {
        let c = calls
            .iter()
            .find(|c| c["id"].as_str().unwrap().contains(id.as_str()))
            .unwrap_or_else(|| panic!("no call for {id}"));
        want.push(comparable(
            &s.call(c["id"].as_str().unwrap()).await,
            id,
            sc.provider,
        ));
    }
    let reference = want;
    let mut acked_raw: Vec<Vec<u8>> = Vec::new();
    let mut total_calls = scenarios.len();
    let (mut kill_points, mut cut_calls) = (Vec::new(), 0);

    for round in 0..rounds {
        // Each sender goes through its own calls, one request after the other.
        let mut plans: Vec<Arc<Mutex<Vec<Delivery>>>> = Vec::new();
        for sender in 0..SENDERS {
            let calls = (0..40)
                .map(|k| {
                    let scenario = scenarios[rng.below(scenarios.len())];
                    let run_id = format!("r{round}s{sender}c{k}x");
                    let requests = (scenario.build)(&run(&run_id));
                    Delivery {
                        scenario,
                        run_id,
                        requests,
                        sent: 0,
                        acked: 0,
                    }
                })
                .collect();
            plans.push(Arc::new(Mutex::new(calls)));
        }
        let acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut senders = Vec::new();
        for plan in &plans {
            let (plan, acks, base) = (plan.clone(), acks.clone(), s.url.clone());
            senders.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                let n = plan.lock().unwrap().len();
                for c in 0..n {
                    let (provider, requests) = {
                        let p = plan.lock().unwrap();
                        (p[c].scenario.provider, p[c].requests.clone())
                    };
                    let url = format!("{base}/hooks/{provider}/{}", hook_token(provider.as_str()));
                    for req in &requests {
                        plan.lock().unwrap()[c].sent += 1;
                        match send_wire(&http, &url, req).await {
                            Ok((200, _)) => {
                                plan.lock().unwrap()[c].acked += 1;
                                acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Ok((status, body)) => panic!("{status}: {body}"),
                            // The server is gone.
                            Err(_) => return,
                        }
                    }
                }
            }));
        }
        // Kill at a random point once ingest is under way: after 5 to 80 acknowledgements,
        // plus up to 3 ms, so the kill lands anywhere in a request or a group commit.
        let target = 5 + rng.below(76);
        let deadline = Instant::now() + Duration::from_secs(30);
        while acks.load(std::sync::atomic::Ordering::SeqCst) < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_micros(rng.below(3000) as u64)).await;
        s.kill();
        for t in senders {
            t.await.unwrap();
        }
        kill_points.push(acks.load(std::sync::atomic::Ordering::SeqCst));

        let plans: Vec<Vec<Delivery>> = plans
            .into_iter()
            .map(|p| std::mem::take(&mut *p.lock().unwrap()))
            .collect();
        // A call whose first request was in flight may be stored or not: it is retried too.
        let started: Vec<&Delivery> = plans.iter().flatten().filter(|d| d.sent > 0).collect();
        for d in &started {
            acked_raw.extend(d.requests[..d.acked].iter().map(raw_of));
        }
        check_store(&tmp.path().join("data"), &acked_raw, round);

        // Restart; the providers retry what was not acknowledged, and go on.
        s = Server::start_in(tmp.path()).await;
        let mut retrying = tokio::task::JoinSet::new();
        for d in &started {
            if d.acked < d.requests.len() {
                cut_calls += 1;
            }
            let url = s.hook_url(d.scenario.provider.as_str());
            let (http, rest, id) = (
                s.http.clone(),
                d.requests[d.acked..].to_vec(),
                d.run_id.clone(),
            );
            acked_raw.extend(rest.iter().map(raw_of));
            retrying.spawn(async move {
                for req in &rest {
                    let (status, body) = send_wire(&http, &url, req).await.unwrap();
                    assert_eq!(status, 200, "round {round}: retry {id}: {body}");
                }
            });
        }
        while let Some(done) = retrying.join_next().await {
            done.unwrap();
        }
        total_calls += started.len();
        let calls = s.calls_all().await;
        assert_eq!(
            calls.len(),
            total_calls,
            "round {round}: one call per call sent"
        );
        for d in &started {
            let c = calls
                .iter()
                .find(|c| c["id"].as_str().unwrap().contains(d.run_id.as_str()))
                .unwrap_or_else(|| panic!("round {round}: no call for {}", d.run_id));
            let index = scenarios
                .iter()
                .position(|sc| std::ptr::eq(*sc, d.scenario))
                .unwrap();
            assert_eq!(
                comparable(
                    &s.call(c["id"].as_str().unwrap()).await,
                    &d.run_id,
                    d.scenario.provider
                ),
                reference[index],
                "round {round}: {} after the crash and the retries",
                d.run_id
            );
        }
    }
    s.kill();
    let calls = check_store(&tmp.path().join("data"), &acked_raw, rounds);
    assert_eq!(calls, total_calls);
    eprintln!(
        "{rounds} kills after {kill_points:?} acknowledgements; {cut_calls} calls cut mid-way \
         and completed by retries; {total_calls} calls, {} deliveries checked",
        acked_raw.len()
    );
}
