//! Hostile input against the real server process: XML entities, deeply nested JSON, invalid
//! UTF-8, huge headers, slow headers and bodies, ten thousand idle connections. Each is
//! refused (a 4xx, or the connection closed), stores nothing, and a normal webhook keeps
//! getting its 200 quickly while it goes on.

use crate::fake_xelion::eventually;
use crate::support::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How fast a normal webhook must be answered while an attack goes on. Generous: the machine
/// running the tests is shared, and what is checked is "served", not "fast".
const RESPONSIVE: Duration = Duration::from_secs(3);

fn ring(id: &str) -> Value {
    json!({"event": "newCall", "from": "+14155550123", "to": "+14155550100",
           "direction": "in", "callId": id, "user": "201"})
}

/// A normal webhook on a connection of its own gets its 200 within [`RESPONSIVE`].
async fn webhook_ok(s: &Server, id: &str) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let send = http.post(s.hook_url("generic")).json(&ring(id)).send();
    let res = tokio::time::timeout(RESPONSIVE, send)
        .await
        .unwrap_or_else(|_| panic!("webhook {id}: no answer within {RESPONSIVE:?}"))
        .unwrap();
    assert_eq!(res.status(), 200, "webhook {id}");
}

fn path(provider: &str) -> String {
    format!("/hooks/{provider}/{}", hook_token(provider))
}

/// POST `body` raw; the status, or None when the server closed without answering.
async fn post_raw(s: &Server, provider: &str, content_type: &str, body: &[u8]) -> Option<u16> {
    let req = raw_post(&s.addr(), &path(provider), content_type, "", body);
    raw_exchange(&s.addr(), &req, Duration::from_secs(10))
        .await
        .0
}

#[tokio::test]
async fn xml_entities_are_never_expanded_or_fetched() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let s = Server::start().await;
    // Anything Ringside fetched would connect here.
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_url = format!("http://{}/x.dtd", trap.local_addr().unwrap());
    let mut laughs =
        String::from("<?xml version=\"1.0\"?><!DOCTYPE campaign [<!ENTITY l0 \"lol\">");
    for i in 1..=9 {
        let prev = format!("&l{};", i - 1);
        laughs += &format!("<!ENTITY l{i} \"{}\">", prev.repeat(10));
    }
    laughs += "]><campaign menuid=\"1\" callid=\"bl\" action=\"4\" callerid=\"&l9;\"/>";
    let campaign = |callerid: &str| {
        format!(r#"<campaign menuid="1" callid="x1" action="4" callerid="{callerid}"/>"#)
    };
    let cases = [
        ("billion laughs", laughs),
        (
            "external entity",
            format!(
                "<!DOCTYPE campaign [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
                campaign("&xxe;")
            ),
        ),
        (
            "external entity over HTTP",
            format!(
                "<!DOCTYPE campaign [<!ENTITY xxe SYSTEM \"{trap_url}\">]>{}",
                campaign("&xxe;")
            ),
        ),
        (
            "external DTD",
            format!("<!DOCTYPE campaign SYSTEM \"{trap_url}\">{}", campaign("1")),
        ),
        (
            "parameter entity",
            format!(
                "<!DOCTYPE campaign [<!ENTITY % p SYSTEM \"{trap_url}\"> %p;]>{}",
                campaign("1")
            ),
        ),
        ("undeclared entity", campaign("&l9;")),
    ];
    for (what, body) in &cases {
        let start = Instant::now();
        let (status, text) = s.post_text("voiceshot", "text/xml", body.clone()).await;
        assert_eq!(status, 400, "{what}: {text}");
        assert!(text.contains("message"), "{what}: {text}");
        assert!(
            start.elapsed() < RESPONSIVE,
            "{what} took {:?}",
            start.elapsed()
        );
    }
    let fetched = tokio::time::timeout(Duration::from_millis(300), trap.accept()).await;
    assert!(fetched.is_err(), "Ringside fetched an external entity");
    assert_eq!(s.journal_len(), 0, "refused input stores nothing");
    webhook_ok(&s, "after-xml").await;
}

#[tokio::test]
async fn deeply_nested_json_and_xml_are_refused_without_a_stack_overflow() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let mut s = Server::start().await;
    let arrays = "[".repeat(60_000);
    let objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let nested_data = format!(
        r#"{{"event":"call.started","request_id":"r","data":{{"id":"x","body":{}}}}}"#,
        "[".repeat(20_000) + &"]".repeat(20_000)
    );
    for provider in ["generic", "whippy", "teltel", "exotel"] {
        for (what, body) in [
            ("arrays", &arrays),
            ("objects", &objects),
            ("data", &nested_data),
        ] {
            let status = post_raw(&s, provider, "application/json", body.as_bytes()).await;
            assert_eq!(status, Some(400), "{provider} {what}");
        }
    }
    let elements = "<a>".repeat(9_000) + &"</a>".repeat(9_000);
    let status = post_raw(&s, "voiceshot", "text/xml", elements.as_bytes()).await;
    assert_eq!(status, Some(400), "names no call");
    // The API's JSON bodies too (with the token: the body is what is hostile).
    for (method, api) in [("PUT", "/api/settings"), ("POST", "/api/simulate")] {
        let res = s
            .http
            .request(method.parse().unwrap(), format!("{}{api}", s.url))
            .bearer_auth(API_TOKEN)
            .header("content-type", "application/json")
            .body(arrays.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{api}");
    }
    assert!(s.alive());
    assert_eq!(s.journal_len(), 0);
    webhook_ok(&s, "after-nesting").await;
}

#[tokio::test]
async fn invalid_utf8_anywhere_is_a_4xx() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let s = Server::start().await;
    let garbage = b"\xff\xfe\xfd\x80 invalid \xc3\x28";
    for (provider, ct) in [
        ("generic", "application/json"),
        ("generic", "application/x-www-form-urlencoded"),
        ("whippy", "application/json"),
        ("teltel", "application/json"),
        ("teltel", "text/plain"),
        ("exotel", "application/x-www-form-urlencoded"),
        ("voiceshot", "text/xml"),
    ] {
        assert_eq!(
            post_raw(&s, provider, ct, garbage).await,
            Some(400),
            "{provider} {ct}"
        );
    }
    // Percent-escapes that decode to invalid UTF-8: a form, a query, a multipart field.
    let form = b"event=newCall&callId=%FF%FE&from=%2B14155550123";
    assert_eq!(
        post_raw(&s, "generic", "application/x-www-form-urlencoded", form).await,
        Some(400)
    );
    assert_eq!(
        s.get_hook("exotel", "CallSid=%C3%28&EventType=Dial").await,
        400
    );
    let multipart =
        b"--b\r\nContent-Disposition: form-data; name=\"CallSid\"\r\n\r\n\xff\xfe\r\n--b--\r\n";
    let ct = "multipart/form-data; boundary=b";
    assert_eq!(post_raw(&s, "exotel", ct, multipart).await, Some(400));
    // In the path (the token), raw in the request line, in credentials.
    let (status, _) = raw_exchange(
        &s.addr(),
        &raw_post(
            &s.addr(),
            "/hooks/generic/%FF%FE",
            "application/json",
            "",
            b"{}",
        ),
        Duration::from_secs(5),
    )
    .await;
    assert!(matches!(status, Some(400 | 401 | 404)), "{status:?}");
    let mut raw_line = b"POST /hooks/generic/\xff\xfe HTTP/1.1\r\nHost: x\r\n".to_vec();
    raw_line.extend_from_slice(b"Content-Length: 2\r\nConnection: close\r\n\r\n{}");
    let (status, _) = raw_exchange(&s.addr(), &raw_line, Duration::from_secs(5)).await;
    assert_eq!(status, Some(400));
    let basic = "Authorization: Basic /////w==\r\n";
    let req = raw_post(
        &s.addr(),
        "/hooks/voiceshot",
        "text/xml",
        basic,
        b"<campaign/>",
    );
    assert_eq!(
        raw_exchange(&s.addr(), &req, Duration::from_secs(5))
            .await
            .0,
        Some(401)
    );
    let mut api =
        b"GET /api/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \xff\xfe\r\n"
            .to_vec();
    api.extend_from_slice(b"Connection: close\r\n\r\n");
    assert_eq!(
        raw_exchange(&s.addr(), &api, Duration::from_secs(5))
            .await
            .0,
        Some(401)
    );
    assert_eq!(s.journal_len(), 0);
    webhook_ok(&s, "after-utf8").await;
}

#[tokio::test]
async fn huge_headers_are_refused_and_the_server_goes_on() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let s = Server::start().await;
    let body = ring("huge-1").to_string();
    let one_big = format!("X-Big: {}\r\n", "a".repeat(20 * 1024));
    let many: String = (0..150).map(|i| format!("X-Many-{i}: v\r\n")).collect();
    let enormous = format!("X-Enormous: {}\r\n", "b".repeat(1024 * 1024));
    for (what, extra) in [
        ("one 20 KiB header", &one_big),
        ("150 headers", &many),
        ("1 MiB", &enormous),
    ] {
        let req = raw_post(
            &s.addr(),
            &path("generic"),
            "application/json",
            extra,
            body.as_bytes(),
        );
        let (status, _) = raw_exchange(&s.addr(), &req, Duration::from_secs(5)).await;
        // 431, or (when the rest of an oversized head is still arriving) a closed connection.
        assert!(matches!(status, Some(431) | None), "{what}: {status:?}");
        if what != "1 MiB" {
            assert_eq!(status, Some(431), "{what}");
        }
    }
    // Just under the limit is fine.
    let fits = format!("X-Fits: {}\r\n", "c".repeat(12 * 1024));
    let req = raw_post(
        &s.addr(),
        &path("generic"),
        "application/json",
        &fits,
        body.as_bytes(),
    );
    assert_eq!(
        raw_exchange(&s.addr(), &req, Duration::from_secs(5))
            .await
            .0,
        Some(200)
    );
    assert_eq!(s.journal_len(), 1, "only the request that fits is stored");
    webhook_ok(&s, "after-headers").await;
}

/// Open a connection and send the first bytes of a request head; the rest never comes fast.
async fn slow_head(addr: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let head = format!("POST {} HTTP/1.1\r\nHost: {addr}\r\n", path("generic"));
    c.write_all(head.as_bytes()).await.unwrap();
    c
}

/// Trickle `bytes` one at a time every `every` until the server closes the connection;
/// returns how long that took (None: still open after `limit`).
async fn trickle_until_closed(
    mut c: TcpStream,
    bytes: &[u8],
    every: Duration,
    limit: Duration,
) -> (Option<Duration>, Vec<u8>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for b in bytes.iter().cycle() {
        if start.elapsed() > limit {
            return (None, got);
        }
        if c.write_all(std::slice::from_ref(b)).await.is_err() {
            return (Some(start.elapsed()), got);
        }
        match tokio::time::timeout(every, c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (Some(start.elapsed()), got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    unreachable!("cycle never ends")
}

#[tokio::test]
async fn slow_headers_are_cut_off_at_the_header_timeout() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let s = Server::start_with_args(&default_config(), &["--header-timeout", "1"]).await;
    let addr = s.addr();
    let mut slow = Vec::new();
    for _ in 0..50 {
        let c = slow_head(&addr).await;
        slow.push(tokio::spawn(trickle_until_closed(
            c,
            b"X-Slow: 1\r\n",
            Duration::from_millis(100),
            Duration::from_secs(8),
        )));
    }
    let answers = cut_off_while_serving(
        &s,
        "slow headers",
        slow,
        Duration::from_millis(800)..Duration::from_secs(4),
    )
    .await;
    for got in answers {
        assert!(
            !got.starts_with(b"HTTP/1.1 2"),
            "{}",
            String::from_utf8_lossy(&got)
        );
    }
}

#[tokio::test]
async fn slow_bodies_get_408_at_the_request_timeout() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let s = Server::start_with_args(&default_config(), &["--request-timeout", "1.5"]).await;
    let addr = s.addr();
    let body = ring("slow-body").to_string().into_bytes();
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            path("generic"),
            body.len()
        );
        c.write_all(head.as_bytes()).await.unwrap();
        let body = body.clone();
        slow.push(tokio::spawn(async move {
            trickle_until_closed(c, &body, Duration::from_millis(100), Duration::from_secs(8)).await
        }));
    }
    let answers = cut_off_while_serving(
        &s,
        "slow bodies",
        slow,
        Duration::from_millis(1300)..Duration::from_secs(5),
    )
    .await;
    for got in answers {
        assert_eq!(
            status_of(&got),
            Some(408),
            "{}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// While the `slow` connections trickle, normal webhooks keep getting their 200; each slow one
/// is cut off within `when` of its start. Returns what each slow one received.
async fn cut_off_while_serving(
    s: &Server,
    what: &str,
    slow: Vec<tokio::task::JoinHandle<(Option<Duration>, Vec<u8>)>>,
    when: std::ops::Range<Duration>,
) -> Vec<Vec<u8>> {
    for i in 0..5 {
        webhook_ok(s, &format!("during-{what}-{i}").replace(' ', "-")).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut answers = Vec::new();
    for t in slow {
        let (closed, got) = t.await.unwrap();
        let took = closed.unwrap_or_else(|| panic!("{what}: a connection was not cut off"));
        assert!(when.contains(&took), "{what}: closed after {took:?}");
        answers.push(got);
    }
    assert_eq!(
        s.journal_len(),
        5,
        "{what}: only the normal webhooks are stored"
    );
    answers
}

/// Let this test process open `wanted` sockets; returns how many it may.
fn raise_own_fd_limit(wanted: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    limit.rlim_cur
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn ten_thousand_idle_connections_do_not_starve_a_webhook() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    const MAX: usize = 256;
    let s = Server::start_with_args(
        &default_config(),
        &[
            "--max-connections",
            &MAX.to_string(),
            "--header-timeout",
            "3",
        ],
    )
    .await;
    // 10,000 sockets here (the server keeps at most MAX of them).
    let allowed = raise_own_fd_limit(10_600);
    let n = 10_000usize.min(allowed.saturating_sub(600) as usize);
    assert!(
        n >= 20 * MAX,
        "this machine allows {allowed} open files; the test needs about 10,600"
    );
    let addr = s.addr();
    let mut idle: Vec<TcpStream> = Vec::with_capacity(n);
    let mut worst = Duration::ZERO;
    while idle.len() < n {
        let batch = 250.min(n - idle.len());
        let mut opening = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let addr = addr.clone();
            opening.spawn(async move { TcpStream::connect(addr).await });
        }
        while let Some(c) = opening.join_next().await {
            idle.push(c.unwrap().expect("connect"));
        }
        let start = Instant::now();
        webhook_ok(&s, &format!("idle-{}", idle.len())).await;
        worst = worst.max(start.elapsed());
    }
    eprintln!(
        "{n} idle connections opened; slowest webhook meanwhile {worst:?}; server holds {} fds",
        open_fds(s.pid())
    );
    // The server holds at most MAX connections (plus its store, listener, runtime).
    assert!(open_fds(s.pid()) < MAX + 100, "{} fds", open_fds(s.pid()));
    // The connections it let go are closed, the rest at the header timeout.
    eventually("idle connections closed", Duration::from_secs(15), || {
        let mut buf = [0u8; 1];
        let open = idle
            .iter()
            .filter(|c| {
                matches!(c.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            })
            .count();
        async move { (open == 0).then_some(()) }
    })
    .await;
    webhook_ok(&s, "after-idle").await;
    let stored = s.journal_len() as usize;
    assert_eq!(stored, n.div_ceil(250) + 1, "one stored per normal webhook");
}
