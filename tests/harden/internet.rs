//! The listener on the open internet: each attack of issue 15 through the real server
//! process, bounded in time. Quick sizes in CI; `RINGSIDE_FULL=1` runs the sizes the attacks
//! were found with.

use crate::fake_xelion::eventually;
use crate::support::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A normal webhook must be answered within this while an attack goes on: "in milliseconds",
/// with room for a debug build on a shared two-core machine.
const FAST: Duration = Duration::from_millis(750);

fn ring(id: &str, users: Value) -> Value {
    json!({"event": "newCall", "from": "+14155550123", "to": "+14155550100",
           "direction": "in", "callId": id, "user": users})
}

/// One TelTel RING (another provider than the floods' generic one) on a connection of its
/// own: its status and how long it took.
async fn timed_webhook(s: &Server, id: &str) -> (u16, Duration) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let ring = json!({"id": id, "event": "RING", "timestamp": "2024-05-02T12:00:00Z",
                      "call_id": id, "direction": "inbound", "from": "+14155550123",
                      "to": "201"});
    let start = Instant::now();
    let res = tokio::time::timeout(
        Duration::from_secs(10),
        http.post(s.hook_url("teltel")).json(&ring).send(),
    )
    .await
    .unwrap_or_else(|_| panic!("webhook {id}: no answer within 10 s"))
    .unwrap();
    (res.status().as_u16(), start.elapsed())
}

/// Median and worst of `d`.
fn median_max(mut d: Vec<Duration>) -> (Duration, Duration) {
    d.sort();
    (d[d.len() / 2], *d.last().unwrap())
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn raise_fd_limit(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = wanted.min(limit.rlim_max);
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

/// A request head announcing `length` bytes of body that never come.
fn stalled_head(addr: &str, path: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

#[tokio::test]
async fn a_slow_body_flood_without_a_token_never_keeps_a_provider_waiting() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    const MAX: usize = 256;
    let attackers = if full_mode() { 1100 } else { 600 };
    raise_fd_limit(4096);
    let s =
        Server::start_with_args(&default_config(), &["--max-connections", &MAX.to_string()]).await;
    let addr = s.addr();
    // 200 at a time: before the fix each held its connection for 30 s, so the first 256
    // locked everyone out; now each is refused at once and lets go.
    let at_once = std::sync::Arc::new(tokio::sync::Semaphore::new(200));
    let flood = {
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut answered = Vec::new();
            for i in 0..attackers {
                let addr = addr.clone();
                let permit = at_once.clone().acquire_owned().await.unwrap();
                answered.push(tokio::spawn(async move {
                    let _permit = permit;
                    let start = Instant::now();
                    let mut c = TcpStream::connect(&addr).await.ok()?;
                    let head =
                        stalled_head(&addr, &format!("/hooks/generic/wrong-token-{i:06}"), 60_000);
                    c.write_all(head.as_bytes()).await.ok()?;
                    let mut got = Vec::new();
                    let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut got))
                        .await;
                    Some((status_of(&got), start.elapsed()))
                }));
            }
            let mut out = Vec::new();
            for a in answered {
                out.push(a.await.unwrap());
            }
            out
        })
    };
    let mut latencies = Vec::new();
    for i in 0..20 {
        let (status, took) = timed_webhook(&s, &format!("during-flood-{i}")).await;
        assert_eq!(status, 200);
        latencies.push(took);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = flood.await.unwrap();
    let (median, worst) = median_max(latencies);
    eprintln!("{attackers} stalled bodies without a token: provider webhooks median {median:?}, worst {worst:?}");
    assert!(worst < FAST, "a provider's webhook waited {worst:?}");
    // Each was refused at once, without its body: 401, connection closed.
    for r in refused.iter().flatten() {
        assert_eq!(r.0, Some(401), "{r:?}");
        assert!(r.1 < Duration::from_secs(5), "refused after {:?}", r.1);
    }
    assert_eq!(
        s.journal_len(),
        20,
        "only the provider's webhooks are stored"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_at_once_and_slow_ones_go_first() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    const MAX: usize = 32;
    let s = Server::start_with_args(
        &default_config(),
        &["--max-connections", &MAX.to_string(), "--body-timeout", "3"],
    )
    .await;
    let addr = s.addr();
    let hook = format!("/hooks/generic/{}", hook_token("generic"));
    // Announced over 64 KiB: 413 as JSON before a byte of it is sent.
    let mut c = TcpStream::connect(&addr).await.unwrap();
    c.write_all(stalled_head(&addr, &hook, 10_000_000).as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), c.read_to_end(&mut got))
        .await
        .expect("answered without the body")
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    assert_eq!(status_of(&got), Some(413), "{text}");
    assert!(text.contains(r#""code":"too_large""#), "{text}");
    // A chunked body that goes over: 413 too.
    let mut req = format!(
        "POST {hook} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..80 {
        req.extend_from_slice(format!("400\r\n{}\r\n", "a".repeat(1024)).as_bytes());
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (status, raw) = raw_exchange(&addr, &req, Duration::from_secs(5)).await;
    assert_eq!(status, Some(413), "{}", String::from_utf8_lossy(&raw));
    // Twice the connection cap of authenticated requests whose bodies never come: when the
    // cap is reached the slowest go, and a provider's webhook is answered all the same.
    let mut stalled = Vec::new();
    for _ in 0..2 * MAX {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(stalled_head(&addr, &hook, 500).as_bytes())
            .await
            .unwrap();
        stalled.push(c);
    }
    for i in 0..5 {
        let (status, took) = timed_webhook(&s, &format!("past-slow-{i}")).await;
        assert_eq!(status, 200);
        assert!(took < FAST, "{took:?}");
    }
    // The rest get 408 at the body timeout, or were closed to make room.
    let start = Instant::now();
    for mut c in stalled {
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(8), c.read_to_end(&mut got)).await;
        assert!(
            matches!(status_of(&got), Some(408) | None),
            "{}",
            String::from_utf8_lossy(&got)
        );
    }
    assert!(start.elapsed() < Duration::from_secs(8));
    assert_eq!(s.journal_len(), 5);
}

/// A live client that reads every frame until one of a call whose id starts with `until`
/// comes (`seen` says when): the bytes and frames the stream carried to it.
async fn read_live(
    s: &Server,
    until: &'static str,
    seen: tokio::sync::watch::Sender<bool>,
) -> tokio::task::JoinHandle<(usize, usize)> {
    use futures_util::StreamExt;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "{}/api/live?token={API_TOKEN}",
        s.url.replace("http://", "ws://")
    ))
    .await
    .unwrap();
    tokio::spawn(async move {
        let (mut bytes, mut frames) = (0, 0);
        while let Some(m) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = m.unwrap() {
                bytes += t.len();
                frames += 1;
                if t.contains(until) {
                    let _ = seen.send(true);
                    break;
                }
            }
        }
        (bytes, frames)
    })
}

#[tokio::test]
async fn a_fan_out_flood_with_a_stalled_subscriber_stays_within_its_memory() {
    use futures_util::StreamExt;
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let s = Server::start().await;
    // A live client that never reads, and one that reads everything.
    let (mut stalled, _) = tokio_tungstenite::connect_async(format!(
        "{}/api/live?token={API_TOKEN}",
        s.url.replace("http://", "ws://")
    ))
    .await
    .unwrap();
    let (seen, mut over) = tokio::sync::watch::channel(false);
    let reader = read_live(&s, "generic:fan-out-over", seen).await;
    let before = rss_kib(s.pid(), "VmRSS:");
    // About 64 KiB each: thousands of agents rung at once.
    let agents: Vec<String> = (0..9000).map(|i| format!("{:04}", i)).collect();
    let per_sender = if full_mode() { 200 } else { 40 };
    let senders: Vec<_> = (0..2)
        .map(|n| {
            let url = s.hook_url("generic");
            let agents = agents.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                for i in 0..per_sender {
                    let body = ring(&format!("fan-{n}-{i}"), json!(agents)).to_string();
                    assert!(body.len() < 64 * 1024, "{}", body.len());
                    let res = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 200);
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    while senders.iter().any(|t| !t.is_finished()) {
        let (status, took) = timed_webhook(&s, &format!("beside-{}", latencies.len())).await;
        assert_eq!(status, 200);
        latencies.push(took);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for t in senders {
        t.await.unwrap();
    }
    // The caller gets a name, then another, and another: each change sends every one of
    // those calls again, with all its legs (more than the kernel's socket buffers hold).
    let contact = json!({"name": "Flood 0", "company": null, "record_url": null,
                         "numbers": [{"label": null, "number": "+14155550123"}]});
    let (status, created) = s.api_send("POST", "/api/contacts", Some(&contact)).await;
    assert_eq!(status, 201, "{created}");
    for i in 1..10 {
        let renamed = json!({"name": format!("Flood {i}"), "company": null, "record_url": null,
                             "numbers": [{"label": null, "number": "+14155550123"}]});
        let path = format!("/api/contacts/{}", created["id"]);
        let (status, v) = s.api_send("PUT", &path, Some(&renamed)).await;
        assert_eq!(status, 200, "{v}");
    }
    // A last call, until the reading client gets its frame (a frame that came while the
    // client was owed a resync is covered by the reload and not sent: hence a few).
    for k in 0.. {
        assert!(k < 30, "the reading client never got the last call");
        let last = json!({"event": "newCall", "from": "+14155550999", "to": "+14155550100",
                          "direction": "in", "callId": format!("fan-out-over-{k}"), "user": "201"});
        assert_eq!(s.post_json("generic", &last).await, 200);
        if tokio::time::timeout(Duration::from_secs(2), over.wait_for(|v| *v))
            .await
            .is_ok()
        {
            break;
        }
    }
    let (streamed, frames) = reader.await.unwrap();
    let after = rss_kib(s.pid(), "VmRSS:");
    let peak = rss_kib(s.pid(), "VmHWM:");
    let (median, worst) = median_max(latencies);
    eprintln!(
        "{} fan-out events of 9,000 agents, {frames} frames of {} KiB in all, with a stalled \
         subscriber: RSS {before} -> {after} KiB (peak {peak}); another provider's webhooks \
         median {median:?}, worst {worst:?}",
        2 * per_sender,
        streamed / 1024
    );
    // The stream carried more than the stalled client's queue (1 MiB) and its socket could
    // hold (each rename sends some hundred calls of 128 legs, about 1.5 MiB, again), so it
    // was told to reload (or closed) and its backlog dropped: it never gets the last call.
    let cut_off = loop {
        match tokio::time::timeout(Duration::from_secs(15), stalled.next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                if t.contains(r#""type":"resync""#) {
                    break "resync";
                }
                assert!(
                    !t.contains("generic:fan-out-over"),
                    "the stalled client got every frame"
                );
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_))) | Ok(None) => break "closed",
            Err(_) => panic!("the stalled client got neither a resync nor its last frame"),
        }
    };
    eprintln!("the stalled client: {cut_off}");
    // The bound: the stalled client's queue (1 MiB), what its socket holds, the store's and
    // the writer's caches, the allocator's arenas (about 30 MiB in a debug build); the
    // ~1 MiB per event it was would be 80 MiB in the quick run.
    assert!(
        after < before + 64 * 1024,
        "memory grew from {before} to {after} KiB"
    );
    assert!(worst < FAST, "another provider's webhook waited {worst:?}");
    let call = s.call("generic:fan-0-0").await;
    assert_eq!(call["legs"].as_array().unwrap().len(), 128);
}

#[tokio::test]
async fn a_large_contact_import_never_stalls_webhooks() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let s = Server::start().await;
    let n = if full_mode() { 200_000 } else { 20_000 };
    let mut file = String::from("Name,Company,Phone\n");
    for i in 0..n {
        file += &format!("Person {i},Company {},+1415{:07}\n", i % 97, i);
    }
    let import = {
        let url = format!("{}/api/contacts/import?format=csv", s.url);
        let http = s.http.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let res = http
                .post(url)
                .bearer_auth(API_TOKEN)
                .body(file)
                .send()
                .await
                .unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap(),
                started.elapsed(),
            )
        })
    };
    let mut latencies = Vec::new();
    while !import.is_finished() {
        let (status, took) = timed_webhook(&s, &format!("beside-import-{}", latencies.len())).await;
        assert_eq!(status, 200);
        latencies.push(took);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, report, took) = import.await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["added"], n, "{report}");
    let (median, worst) = median_max(latencies.clone());
    eprintln!(
        "import of {n} contacts took {took:?}; {} webhooks meanwhile: median {median:?}, worst {worst:?}",
        latencies.len()
    );
    assert!(worst < FAST, "a webhook waited {worst:?} behind the import");
    // The export holds every one of them (it used to stop at 5,000).
    let res = s
        .http
        .get(format!("{}/api/contacts.csv", s.url))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert_eq!(text.lines().count(), n + 1);
}

/// Calls in the store file at `db` whose id starts with `prefix` and are in `state`.
fn count_calls(db: &Path, prefix: &str, state: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(
        "SELECT count(*) FROM calls WHERE state = ?1 AND substr(id, 1, length(?2)) = ?2",
        rusqlite::params![state, prefix],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test]
async fn thousands_of_silent_calls_end_after_a_restart_while_webhooks_stay_fast() {
    use ringside_core::model::{CallEvent, EventKind, Provider};
    use ringside_core::store::{Delivery, Writer};
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    // What a Ringside stopped for a while leaves: calls that rang and never heard of again
    // (due to end), and answered calls still going (looked at on every sweep).
    let (silent, going) = if full_mode() {
        (76_000, 60_000)
    } else {
        (10_000, 10_000)
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = default_config() + "\n[calls]\nringing_s = 8\nanswered_s = 3600\n";
    std::fs::write(tmp.path().join("config.toml"), config).unwrap();
    let db = tmp.path().join("data").join("ringside.db");
    let made = Instant::now();
    {
        let mut w = Writer::open(&db).unwrap();
        let now = chrono::Utc::now();
        let hour_ago = now - chrono::Duration::hours(1);
        let delivery = |key: String, at, events| Delivery {
            source: Provider::Generic,
            dedupe_key: key.clone(),
            received_at: at,
            content_type: None,
            raw: key.into_bytes(),
            events,
            notes: Vec::new(),
        };
        let ringing = |id: &str, at| {
            let mut e = CallEvent::new(
                Provider::Generic,
                id,
                EventKind::Ringing {
                    agent: Some("201".into()),
                },
            )
            .at(Some(at));
            e.facts.from = Some("+14155550123".into());
            e
        };
        let all: Vec<Delivery> = (0..silent)
            .map(|i| {
                let id = format!("stale-{i}");
                delivery(format!("r-{id}"), hour_ago, vec![ringing(&id, hour_ago)])
            })
            .chain((0..going).map(|i| {
                let id = format!("going-{i}");
                let answered = CallEvent::new(
                    Provider::Generic,
                    id.as_str(),
                    EventKind::Answered {
                        by: Some("201".into()),
                    },
                )
                .at(Some(now));
                delivery(format!("a-{id}"), now, vec![ringing(&id, now), answered])
            }))
            .collect();
        for batch in all.chunks(2000) {
            for r in w.store_batch(batch).unwrap() {
                r.unwrap();
            }
        }
    }
    eprintln!(
        "{silent} silent and {going} answered calls stored in {:?}",
        made.elapsed()
    );
    assert_eq!(count_calls(&db, "generic:stale-", "ringing"), silent);
    let s = Server::start_in(tmp.path()).await;
    // Webhooks from the start, while the sweeper ends the silent calls, and on until a call
    // rung after they were all ended was ended too: a later sweep, over the answered calls.
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut all_ended: Option<String> = None;
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "{} silent calls still ringing after 3 minutes",
            count_calls(&db, "generic:stale-", "ringing")
        );
        let id = format!("after-restart-{}", latencies.len());
        let (status, took) = timed_webhook(&s, &id).await;
        assert_eq!(status, 200);
        latencies.push(took);
        match &all_ended {
            None if count_calls(&db, "generic:stale-", "ringing") == 0 => {
                eprintln!(
                    "all {silent} silent calls ended after {:?}",
                    started.elapsed()
                );
                all_ended = Some(format!("teltel:{id}"));
            }
            Some(marker) if count_calls(&db, marker, "missed") == 1 => break,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (median, worst) = median_max(latencies.clone());
    eprintln!(
        "{} webhooks meanwhile: median {median:?}, worst {worst:?}",
        latencies.len()
    );
    assert!(
        worst < FAST,
        "a webhook waited {worst:?} behind the sweeper"
    );
    assert_eq!(count_calls(&db, "generic:stale-", "missed"), silent);
    assert_eq!(count_calls(&db, "generic:going-", "answered"), going);
}

/// The API token where it is taken in a query (the live stream), and the settings page, which
/// gives the secrets back masked (or, for tokens, to their owner).
async fn live_and_settings(url: &str, api: &str) {
    let (live, _) = tokio_tungstenite::connect_async(format!(
        "{}/api/live?token={api}",
        url.replace("http://", "ws://")
    ))
    .await
    .unwrap();
    drop(live);
    let res = reqwest::Client::new()
        .get(format!("{url}/api/settings"))
        .bearer_auth(api)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Run `ringside-server serve` with `args` and `env`, its stderr into `log`.
fn spawn_logged(args: &[&str], env: &[(&str, &Path)], log: &Path) -> std::process::Child {
    let mut cmd = Command::new(bin());
    cmd.arg("serve")
        .args(args)
        .env("RINGSIDE_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

fn listening(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn no_secret_reaches_the_log_at_trace_level_and_first_run_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let log = tmp.path().join("stderr.log");
    // A first run, under the usual umask, with no config and no data directory yet.
    // SAFETY: umask only sets this process's file-creation mask.
    let old = unsafe { libc::umask(0o022) };
    let mut child = spawn_logged(
        &["--listen", "127.0.0.1:0"],
        &[
            ("HOME", &home),
            ("XDG_CONFIG_HOME", &home.join(".config")),
            ("XDG_DATA_HOME", &home.join(".local/share")),
        ],
        &log,
    );
    unsafe { libc::umask(old) };
    let url = listening(&mut child);
    let config_dir = home.join(".config/ringside");
    let data_dir = home.join(".local/share/ringside");
    let config = ringside_core::config::Config::load(&config_dir.join("config.toml")).unwrap();
    let api = config.api.token.clone().unwrap();
    let http = reqwest::Client::new();
    // Every way a secret could be logged: a good webhook, wrong ones, 404s under a token
    // path, the token in a query, the live stream.
    let secrets: Vec<String> = std::iter::once(api.clone())
        .chain(config.hooks().iter().filter_map(|h| h.token.clone()))
        .collect();
    let generic = config
        .hooks()
        .into_iter()
        .find(|h| h.provider.as_str() == "generic")
        .unwrap()
        .token
        .unwrap();
    let ok = http
        .post(format!("{url}/hooks/generic/{generic}"))
        .json(&ring("log-1", json!("201")))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for path in [
        format!("/hooks/generic/{generic}/extra"),
        format!("/hooks/teltel/{generic}"),
        format!("/hooks/nothing/{generic}"),
        format!("/api/calls?token={api}"),
        format!("/api/nothing?token={api}"),
    ] {
        let res = http
            .post(format!("{url}{path}"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{path}");
    }
    live_and_settings(&url, &api).await;
    // The files of the first run: owner-only from the start.
    for (path, want) in [
        (config_dir.clone(), 0o700),
        (config_dir.join("config.toml"), 0o600),
        (data_dir.clone(), 0o700),
        (data_dir.join("ringside.db"), 0o600),
        (data_dir.join("ringside.db-wal"), 0o600),
        (data_dir.join("ringside.db-shm"), 0o600),
    ] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, want, "{} is {mode:o}", path.display());
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("TRACE"), "a trace log: {text}");
    for secret in &secrets {
        for line in text.lines() {
            assert!(
                !line.contains(secret.as_str()),
                "a secret in the log: {line}"
            );
        }
    }
}

/// A CRM that answers every lookup with no match, and records the secret header it got.
async fn crm_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route(
            "/lookup",
            axum::routing::get(
                |axum::extract::State(seen): axum::extract::State<
                    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
                >,
                 headers: axum::http::HeaderMap| async move {
                    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
                    seen.lock().unwrap().push(key.unwrap_or("").to_string());
                    axum::Json(json!([]))
                },
            ),
        )
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, seen)
}

#[tokio::test]
async fn no_secret_of_any_source_reaches_the_log_at_trace_level() {
    use crate::fake_xelion::{FakeXelion, PASSWORD};
    use base64::Engine as _;
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    const CRM_KEY: &str = "crm-header-secret-4242";
    const VOICESHOT_PASSWORD: &str = "voiceshot-password-123";
    const WHIPPY_SECRET: &str = "whippy-signing-secret-9876";
    const DIAL_KEY: &str = "dial-query-secret-5150";
    const DIAL_HEADER: &str = "dial-header-secret-6160";
    let xelion = FakeXelion::start(true).await;
    // A phone system that is not there: dialling through it fails, and says so in the log.
    let dial_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (crm_port, crm_seen) = crm_server().await;
    // Every kind of secret Ringside holds: the API token, webhook tokens, HTTP Basic
    // credentials, a signing secret, the Xelion password (and the sessions and websocket
    // URLs the PBX hands out), a CRM's secret header, a phone system's key in its dial URL
    // and header.
    let config = format!(
        r#"{}
[providers.voiceshot]
token = "{voiceshot}"
username = "voiceshot"
password = "{VOICESHOT_PASSWORD}"

[providers.whippy]
token = "{whippy}"
signing_secret = "{WHIPPY_SECRET}"

[providers.generic]
token = "{generic}"

[contacts.crm]
url = "http://127.0.0.1:{crm_port}/lookup?phone={{e164}}"
headers = {{ X-Api-Key = "{CRM_KEY}" }}

[callback]
via = "http"
agent = "201"

[callback.http]
method = "GET"
url = "http://127.0.0.1:{dial_port}/originate?key={DIAL_KEY}&to={{e164}}"
headers = {{ Authorization = "Bearer {DIAL_HEADER}" }}
"#,
        xelion.ringside_config(PASSWORD, 1.0, ""),
        voiceshot = hook_token("voiceshot"),
        whippy = hook_token("whippy"),
        generic = hook_token("generic"),
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("config.toml"), &config).unwrap();
    let log = tmp.path().join("stderr.log");
    let data = tmp.path().join("data");
    let mut child = spawn_logged(
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--config",
            tmp.path().join("config.toml").to_str().unwrap(),
        ],
        &[],
        &log,
    );
    let url = listening(&mut child);
    let http = reqwest::Client::new();
    // Xelion: logged in, a websocket opened and subscribed, a session renewed.
    xelion
        .until("subscribed", Duration::from_secs(20), |x| {
            x.subscriptions() >= 1
        })
        .await;
    // A call rings: the CRM is asked, with its secret header.
    let generic = format!("{url}/hooks/generic/{}", hook_token("generic"));
    let res = http
        .post(&generic)
        .json(&ring("log-crm", json!("201")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    eventually("the CRM asked", Duration::from_secs(10), || {
        let seen = crm_seen.lock().unwrap().clone();
        async move { seen.first().cloned() }
    })
    .await;
    assert_eq!(crm_seen.lock().unwrap()[0], CRM_KEY);
    // HTTP Basic: wrong and right credentials (the right ones with a body it cannot read).
    for (user, pass) in [
        ("voiceshot", "not-the-password"),
        ("voiceshot", VOICESHOT_PASSWORD),
    ] {
        let res = http
            .post(format!("{url}/hooks/voiceshot"))
            .basic_auth(user, Some(pass))
            .body("not a voiceshot body")
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error());
    }
    // A delivery signed with the wrong secret, and one with a wrong token.
    let res = http
        .post(format!("{url}/hooks/whippy/{}", hook_token("whippy")))
        .header("webhook-id", "msg_1")
        .header(
            "webhook-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header("webhook-signature", "v1,bm90IHRoZSBzaWduYXR1cmU=")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = http
        .post(format!("{url}/hooks/whippy/{WHIPPY_SECRET}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The API token in a query where it is refused, and where it is taken.
    let res = http
        .get(format!("{url}/api/calls?token={API_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Dialling through the phone system that is not there: 502, logged without its URL.
    let res = http
        .post(format!("{url}/api/dial"))
        .bearer_auth(API_TOKEN)
        .json(&json!({"number": "+14155550123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502, "{}", res.text().await.unwrap());
    live_and_settings(&url, API_TOKEN).await;
    let _ = child.kill();
    let _ = child.wait();

    let basic = |user: &str, pass: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    };
    let mut secrets = vec![
        API_TOKEN.to_string(),
        hook_token("voiceshot"),
        hook_token("whippy"),
        hook_token("generic"),
        VOICESHOT_PASSWORD.to_string(),
        basic("voiceshot", VOICESHOT_PASSWORD),
        WHIPPY_SECRET.to_string(),
        PASSWORD.to_string(),
        CRM_KEY.to_string(),
        DIAL_KEY.to_string(),
        DIAL_HEADER.to_string(),
    ];
    let issued = xelion.issued_secrets();
    assert!(
        issued.len() >= 3,
        "a session, its renewal token, a websocket: {issued:?}"
    );
    secrets.extend(issued);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("TRACE"), "a trace log: {text}");
    let leaks: Vec<_> = text
        .lines()
        .filter_map(|line| {
            let s = secrets.iter().find(|s| line.contains(s.as_str()))?;
            Some(format!("{s}: {line}"))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "secrets in the log:\n{}",
        leaks.join("\n")
    );
}

#[tokio::test]
async fn readiness_turns_unavailable_on_a_full_disk_and_back() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    // A small file system of the server's own: a private mount namespace with a tmpfs.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("config.toml"), default_config()).unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=96m tmpfs {data} && exec {bin} serve --listen 127.0.0.1:0 \
         --data-dir {data} --config {config}",
        data = data.display(),
        bin = bin(),
        config = tmp.path().join("config.toml").display()
    );
    let mut child = Command::new("unshare")
        .args(["-rm", "--propagation", "private", "sh", "-c", &script])
        .env("RINGSIDE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("unshare");
    let url = listening(&mut child);
    let http = reqwest::Client::new();
    let health = |http: reqwest::Client, url: String| async move {
        let res = http
            .get(format!("{url}/healthz"))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    let (status, h) = health(http.clone(), url.clone()).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["status"], "ready", "{h}");
    // Fill the file system as the server sees it.
    let filler = format!("/proc/{}/root{}/filler", child.id(), data.display());
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let (status, h) = health(http.clone(), url.clone()).await;
    assert_eq!(status, 503, "{h}");
    assert_eq!(h["store"]["state"], "disk_full", "{h}");
    // Without the token: the status only.
    let res = http.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "unavailable"})
    );
    // A webhook is not acknowledged.
    let res = http
        .post(format!("{url}/hooks/generic/{}", hook_token("generic")))
        .json(&ring("full-1", json!("201")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    // Room again: ready again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    eventually("ready again", Duration::from_secs(10), || {
        let (http, url) = (http.clone(), url.clone());
        async move { (health(http, url).await.0 == 200).then_some(()) }
    })
    .await;
    let res = http
        .post(format!("{url}/hooks/generic/{}", hook_token("generic")))
        .json(&ring("full-2", json!("201")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn formula_payloads_are_text_in_every_export() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let s = Server::start().await;
    let payloads = [
        "-2+3+cmd|' /C calc'!A0",
        "+1+HYPERLINK(\"http://evil.example\")",
        "=cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
    ];
    for (i, p) in payloads.iter().enumerate() {
        let body = json!({"event": "newCall", "from": p, "to": p, "direction": "in",
                          "callId": format!("formula-{i}"), "user": p});
        assert_eq!(s.post_json("generic", &body).await, 200);
        let contact = json!({"name": p, "company": p, "numbers": [{"label": p, "number": "+14155550100"}],
                             "record_url": null});
        let (status, v) = s.api_send("POST", "/api/contacts", Some(&contact)).await;
        assert_eq!(status, 201, "{v}");
        // What the agent notes after the call is exported with it.
        let path = format!("/api/calls/generic:formula-{i}/wrapup");
        let (status, v) = s.api_send("POST", &path, Some(&json!({"note": p}))).await;
        assert_eq!(status, 200, "{v}");
    }
    for export in ["/api/calls.csv", "/api/contacts.csv"] {
        let text = s
            .http
            .get(format!("{}{export}", s.url))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let mut seen = 0;
        for row in r.records() {
            for cell in row.unwrap().iter() {
                let risky = cell
                    .trim_start()
                    .starts_with(['=', '+', '-', '@', '\t', '\r']);
                let number = cell
                    .trim_start_matches(['+', '-'])
                    .chars()
                    .all(|c| c.is_ascii_digit());
                assert!(
                    !risky || number,
                    "{export}: {cell:?} would run in a spreadsheet"
                );
                seen += payloads.iter().filter(|p| cell.contains(*p)).count();
            }
        }
        assert!(
            seen >= payloads.len(),
            "{export}: the payloads are there, as text: {text}"
        );
    }
}

#[tokio::test]
async fn a_query_token_opens_only_the_live_stream_and_only_for_its_own_origin() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let s = Server::start().await;
    let addr = s.addr();
    for (method, path) in [
        ("GET", "/api/calls"),
        ("POST", "/api/missed/done"),
        ("GET", "/api/settings"),
        ("POST", "/api/dial"),
        ("POST", "/api/calls/done"),
        ("POST", "/api/calls/generic:x/wrapup"),
        ("GET", "/api/calls/generic:x/context"),
        ("GET", "/api/calls/generic:x/recording"),
    ] {
        let res = s
            .http
            .request(
                method.parse().unwrap(),
                format!("{}{path}?token={API_TOKEN}", s.url),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
    }
    let upgrade = |origin: &str| {
        format!(
            "GET /api/live?token={API_TOKEN} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{origin}\r\n"
        )
    };
    for (origin, want) in [
        (format!("Origin: http://{addr}\r\n"), 101),
        (String::new(), 101),
        ("Origin: https://evil.example\r\n".to_string(), 403),
        ("Origin: null\r\n".to_string(), 403),
    ] {
        let (status, raw) = raw_exchange(
            &addr,
            upgrade(&origin).as_bytes(),
            Duration::from_millis(500),
        )
        .await;
        assert_eq!(
            status,
            Some(want),
            "{origin:?}: {}",
            String::from_utf8_lossy(&raw)
        );
    }
    // Every route that takes a body: refused before a byte of it comes, without the token
    // (401) and, with it, when its announced length is over the limit (413 as JSON).
    for path in [
        "/api/dial",
        "/api/calls/done",
        "/api/calls/generic:x/wrapup",
        "/api/contacts",
        "/api/contacts/import",
        "/api/simulate",
    ] {
        let head = stalled_head(&addr, path, 60_000);
        let (status, raw) = raw_exchange(&addr, head.as_bytes(), Duration::from_secs(2)).await;
        assert_eq!(
            status,
            Some(401),
            "{path}: {}",
            String::from_utf8_lossy(&raw)
        );
        let authed = head.replacen(
            "\r\n",
            &format!("\r\nAuthorization: Bearer {API_TOKEN}\r\n"),
            1,
        );
        let too_long = authed.replace("Content-Length: 60000", "Content-Length: 40000000");
        let (status, raw) = raw_exchange(&addr, too_long.as_bytes(), Duration::from_secs(2)).await;
        let text = String::from_utf8_lossy(&raw);
        assert_eq!(status, Some(413), "{path}: {text}");
        assert!(text.contains(r#""code":"too_large""#), "{path}: {text}");
    }
    // Minor: NUL in ids and numbers, a NUL in a search.
    let nul = json!({"event": "newCall", "from": "+1415\u{0}5550123", "to": "+14155550100",
                     "direction": "in", "callId": "nul-1", "user": "201"});
    assert_eq!(s.post_json("generic", &nul).await, 400);
    let nul_id = json!({"event": "newCall", "from": "+14155550123", "callId": "a\u{0}b"});
    assert_eq!(s.post_json("generic", &nul_id).await, 400);
    let (status, v) = s.api("/api/calls?q=a%00b").await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = s
        .api_send(
            "POST",
            "/api/dial",
            Some(&json!({"number": "+1415\u{0}5550123"})),
        )
        .await;
    assert!((400..500).contains(&status), "{status} {v}");
    assert_eq!(s.journal_len(), 0);
}
