use crate::support::*;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

fn new_call(call_id: &str, from: &str) -> serde_json::Value {
    json!({"event": "newCall", "from": from, "to": "+14155550100", "direction": "in",
           "callId": call_id, "user": ["201"]})
}

/// `serve --listen ADDR` in a fresh directory: the listening line and stderr up to the
/// `try it` line.
fn serve_reading(listen: &str) -> (std::process::Child, String, String, tempfile::TempDir) {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("config.toml"), default_config()).unwrap();
    let mut child = Command::new(bin())
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(tmp.path().join("data"))
        .arg("--config")
        .arg(tmp.path().join("config.toml"))
        .env("RINGSIDE_LOG", "error")
        .env("RINGSIDE_UI_DIR", tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut stderr = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    while !stderr.contains("try it:") {
        let mut l = String::new();
        if err.read_line(&mut l).unwrap() == 0 {
            break;
        }
        stderr.push_str(&l);
    }
    (child, line, stderr, tmp)
}

#[tokio::test]
async fn listen_takes_a_host_name_and_every_printed_url_works() {
    for listen in ["localhost:0", "0.0.0.0:0"] {
        let (mut child, line, stderr, _tmp) =
            tokio::task::spawn_blocking(move || serve_reading(listen))
                .await
                .unwrap();
        // A loopback URL, even when listening on every address: the API answers loopback
        // names only, so any other would open a page whose every call is refused.
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{listen}: {line:?} {stderr}"))
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{listen}: {url}");
        // Not a terminal: the addresses, never a token (the settings page has them).
        assert!(stderr.contains(&format!("open:   {url}/ ")), "{stderr}");
        assert!(
            stderr.contains(&format!("{url}/hooks/generic/<token>")),
            "{stderr}"
        );
        assert!(!stderr.contains(API_TOKEN), "{stderr}");
        assert!(!stderr.contains(&hook_token("generic")), "{stderr}");
        // The hint names this very binary, which the quick start does not put on PATH.
        let hint = stderr.lines().find(|l| l.starts_with("try it:")).unwrap();
        assert!(
            hint.contains(&format!("{} simulate teltel-answered", bin())),
            "{hint}"
        );
        let res = reqwest::Client::new()
            .get(format!("{url}/api/status"))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{listen}");
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = Command::new(bin())
        .args(["serve", "--listen", "no-such-host.invalid:80"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-host.invalid:80"));
}

#[tokio::test]
async fn prints_one_listening_line_on_loopback() {
    let s = Server::start().await;
    assert!(s.url.starts_with("http://127.0.0.1:"), "{}", s.url);
    let port: u16 = s.url.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
    let res = s
        .http
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_refuses_to_start() {
    let s = Server::start().await;
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(s.dir.join("data"))
        .arg("--config")
        .arg(s.dir.join("config.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "is in use by another Ringside (process {}, listening on {})",
            s.pid(),
            s.url
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "it never listened");
    // The first one serves on.
    assert_eq!(
        s.post_json("generic", &new_call("after-1", "+14155550123"))
            .await,
        200
    );
}

/// Every API route, with a method it answers to.
const API_ROUTES: [(&str, &str); 14] = [
    ("GET", "/api/calls"),
    ("GET", "/api/calls.csv"),
    ("GET", "/api/calls/generic:x"),
    ("POST", "/api/calls/generic:x/done"),
    ("POST", "/api/calls/generic:x/callback"),
    ("GET", "/api/calls/generic:x/record"),
    ("GET", "/api/missed"),
    ("POST", "/api/missed/done"),
    ("GET", "/api/settings"),
    ("PUT", "/api/settings"),
    ("GET", "/api/scenarios"),
    ("POST", "/api/simulate"),
    ("GET", "/api/status"),
    ("GET", "/api/live"),
];

/// A websocket upgrade request for `/api/live`, raw, so any Host can be named.
fn live_upgrade(host: &str, query: &str) -> Vec<u8> {
    format!(
        "GET /api/live{query} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn api_needs_the_token_and_a_loopback_host() {
    let s = Server::start().await;
    let url = format!("{}/api/calls", s.url);
    let none = s.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("token"));
    let ok = s
        .http
        .get(&url)
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().get("access-control-allow-origin").is_none());
    let port = s.url.rsplit(':').next().unwrap().to_string();
    // Each route probed as its own client (a proxy on loopback names it), so the probes stay
    // under the failed-authentication limit per client.
    let mut client = 0;
    let mut request = |method: &str, path: &str| {
        client += 1;
        s.http
            .request(method.parse().unwrap(), format!("{}{path}", s.url))
            .header("content-type", "application/json")
            .header("x-forwarded-for", format!("192.0.2.{client}"))
            .body("{}")
    };
    for (method, path) in API_ROUTES {
        // No token, a wrong one, the token in a form a browser page could make up.
        let r = request(method, path).send().await.unwrap();
        assert_eq!(r.status(), 401, "{method} {path} without a token");
        let r = request(method, path)
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path} with a wrong token");
        let r = request(method, path)
            .basic_auth(API_TOKEN, Some(""))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path} with the token as Basic");
        // A page on evil.example that resolves its name to 127.0.0.1 (DNS rebinding): the
        // token does not help it.
        for host in [
            "evil.example",
            "evil.example:80",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "0.0.0.0",
            "[::2]",
            "10.0.0.1",
        ] {
            let r = request(method, path)
                .bearer_auth(API_TOKEN)
                .header("host", host)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{method} {path} with Host {host}");
        }
        let r = request(method, path)
            .bearer_auth(API_TOKEN)
            .header("host", format!("localhost:{port}"))
            .send()
            .await
            .unwrap();
        assert!(
            ![401, 403].contains(&r.status().as_u16()),
            "{method} {path} with the token and Host localhost: {}",
            r.status()
        );
    }
    // No Host header at all (HTTP/1.0).
    let req = format!("GET /api/calls HTTP/1.0\r\nAuthorization: Bearer {API_TOKEN}\r\n\r\n");
    let (status, _) = raw_exchange(&s.addr(), req.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(status, Some(403));
    // The live stream: upgraded only with the token and a loopback Host.
    let token = format!("?token={API_TOKEN}");
    for (host, query, want) in [
        (format!("127.0.0.1:{port}"), token.as_str(), 101),
        (format!("localhost:{port}"), "", 401),
        (format!("localhost:{port}"), "?token=wrong", 401),
        ("evil.example".to_string(), token.as_str(), 403),
        (format!("evil.example:{port}"), token.as_str(), 403),
    ] {
        let (status, raw) = raw_exchange(
            &s.addr(),
            &live_upgrade(&host, query),
            Duration::from_millis(500),
        )
        .await;
        assert_eq!(
            status,
            Some(want),
            "/api/live{query} with Host {host}: {}",
            String::from_utf8_lossy(&raw)
        );
    }
}

#[tokio::test]
async fn no_cross_origin_access_is_granted() {
    let s = Server::start().await;
    let evil = "https://evil.example";
    for path in [
        "/api/calls".to_string(),
        "/api/live".to_string(),
        "/api/settings".to_string(),
        format!("/hooks/generic/{}", hook_token("generic")),
        "/".to_string(),
    ] {
        let preflight = s
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", s.url))
            .header("origin", evil)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(
            !preflight.status().is_success(),
            "preflight {path}: {}",
            preflight.status()
        );
        for (name, _) in preflight.headers() {
            assert!(
                !name.as_str().starts_with("access-control-"),
                "preflight {path} answered {name}"
            );
        }
    }
    let res = s
        .http
        .get(format!("{}/api/calls", s.url))
        .bearer_auth(API_TOKEN)
        .header("origin", evil)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res
        .headers()
        .keys()
        .all(|k| !k.as_str().starts_with("access-control-")));
}

/// The directives of a Content-Security-Policy.
fn csp_directives(csp: &str) -> std::collections::HashMap<String, Vec<String>> {
    csp.split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.map(str::to_string).collect()))
        })
        .collect()
}

/// A CSP that allows nothing but the app itself: scripts from its own origin only (no inline
/// scripts, no eval), no plugins, no framing, no base or form hijacking, no wildcard or
/// scheme-wide sources; `connect` is the exact list the page may talk to.
fn assert_strict_csp(csp: &str, connect: &[&str]) {
    let d = csp_directives(csp);
    let get = |name: &str| d.get(name).unwrap_or_else(|| panic!("no {name} in {csp}"));
    assert_eq!(get("default-src"), &["'self'"], "{csp}");
    assert_eq!(get("script-src"), &["'self'"], "{csp}");
    assert_eq!(get("object-src"), &["'none'"], "{csp}");
    assert_eq!(get("frame-ancestors"), &["'none'"], "{csp}");
    assert_eq!(get("base-uri"), &["'none'"], "{csp}");
    assert_eq!(get("connect-src"), connect, "{csp}");
    for (name, sources) in &d {
        for src in sources {
            assert!(
                !src.contains("unsafe-eval") && !src.contains("unsafe-hashes") && src != "*",
                "{name} {src} in {csp}"
            );
            // A recording plays from a blob the page made of bytes it fetched itself (the
            // server or the shell fetched them from the provider): blob: for media only.
            let own_blob = name == "media-src" && src == "blob:";
            assert!(
                own_blob || !matches!(src.as_str(), "http:" | "https:" | "ws:" | "wss:" | "blob:"),
                "{name} allows a whole scheme: {src}"
            );
            if name != "style-src" {
                assert_ne!(src, "'unsafe-inline'", "{name} in {csp}");
            }
        }
    }
}

#[tokio::test]
async fn the_served_ui_has_a_strict_csp() {
    let s = Server::start().await;
    for path in ["/", "/index.html", "/missed", "/favicon.svg"] {
        let res = s.http.get(format!("{}{path}", s.url)).send().await.unwrap();
        let h = res.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path} has no CSP"))
            .to_str()
            .unwrap();
        assert_eq!(csp, ringside_server::ui::CSP, "{path}");
        assert_strict_csp(csp, &["'self'", "ws://127.0.0.1:*", "ws://localhost:*"]);
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
}

/// What the UI calls of Tauri's JavaScript API, by module and function, and the permissions
/// each needs (the app's own commands, through `invoke`, need none).
const TAURI_API_PERMISSIONS: [(&str, &str, &[&str]); 4] = [
    ("core", "invoke", &[]),
    (
        "event",
        "listen",
        &["core:event:allow-listen", "core:event:allow-unlisten"],
    ),
    (
        "event",
        "once",
        &["core:event:allow-listen", "core:event:allow-unlisten"],
    ),
    ("event", "emit", &["core:event:allow-emit"]),
];

/// The UI's imports from `@tauri-apps/api/<module>`: (module, name).
fn tauri_imports(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("bindings") {
                tauri_imports(&path, out);
            }
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for stmt in text.split("import ").skip(1) {
            let Some((names, rest)) = stmt.split_once(" from ") else {
                continue;
            };
            let Some(module) = rest
                .trim_start()
                .strip_prefix("\"@tauri-apps/api/")
                .and_then(|r| r.split('"').next())
            else {
                continue;
            };
            for name in names.trim_matches(|c| "{} ".contains(c)).split(',') {
                let name = name.trim();
                if !name.is_empty() && !name.starts_with("type ") {
                    out.push((module.to_string(), name.to_string()));
                }
            }
        }
    }
}

#[test]
fn the_desktop_window_has_a_strict_csp_and_only_the_permissions_it_uses() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let conf: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("src-tauri/tauri.conf.json")).unwrap(),
    )
    .unwrap();
    let app = &conf["app"];
    let security = &app["security"];
    assert_strict_csp(
        security["csp"].as_str().expect("a CSP for the window"),
        &["ipc:", "http://ipc.localhost"],
    );
    assert!(security.get("devCsp").is_none(), "{security}");
    for dangerous in [
        "dangerousDisableAssetCspModification",
        "dangerousRemoteDomainIpcAccess",
    ] {
        assert!(security.get(dangerous).is_none(), "{dangerous}");
    }
    assert_ne!(
        app["withGlobalTauri"], true,
        "no Tauri API as a page global"
    );
    assert_eq!(security["capabilities"], json!(["main"]));
    let windows: Vec<&str> = app["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["label"].as_str().unwrap())
        .collect();
    assert_eq!(windows, ["main"]);

    let cap: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("src-tauri/capabilities/main.json")).unwrap(),
    )
    .unwrap();
    // The main window, and the mini window the shell opens with the same UI.
    assert_eq!(cap["windows"], json!(["main", "mini"]));
    assert!(
        cap.get("remote").is_none(),
        "no remote page gets IPC: {cap}"
    );
    assert!(cap.get("webviews").is_none(), "{cap}");
    let granted: std::collections::BTreeSet<&str> = cap["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().expect("permissions by name, without scopes"))
        .collect();

    let mut imports = Vec::new();
    tauri_imports(&root.join("ui/src"), &mut imports);
    assert!(!imports.is_empty(), "the UI's Tauri backend was not found");
    let mut needed = std::collections::BTreeSet::new();
    for (module, name) in &imports {
        let (_, _, perms) = TAURI_API_PERMISSIONS
            .iter()
            .find(|(m, n, _)| m == module && n == name)
            .unwrap_or_else(|| {
                panic!("the UI uses {module}.{name}: add what it needs to TAURI_API_PERMISSIONS")
            });
        needed.extend(perms.iter().copied());
    }
    assert_eq!(
        granted, needed,
        "the window's capability must grant exactly what the UI uses"
    );
}

#[tokio::test]
async fn webhook_auth_failures_store_nothing() {
    // Exotel is left out of this config: its hook does not exist.
    let config = default_config().replace("[providers.exotel]", "[providers.exotel_off]");
    let config = config.replace(
        "[providers.exotel_off]\ntoken = \"exotel-token-0123456789\"\n",
        "",
    );
    let s = Server::start_with(&config).await;
    let body = new_call("auth-1", "+14155550111").to_string();
    let post = |url: String| {
        let body = body.clone();
        let http = s.http.clone();
        async move {
            http.post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        post(format!("{}/hooks/generic/wrong-token", s.url)).await,
        401
    );
    // No token: no webhook there. Unknown, not enabled: the same refusal as a wrong token,
    // which tells nothing of the config.
    assert_eq!(post(format!("{}/hooks/generic/", s.url)).await, 404);
    assert_eq!(
        post(format!("{}/hooks/skype/{}", s.url, hook_token("skype"))).await,
        401
    );
    assert_eq!(
        post(format!("{}/hooks/exotel/{}", s.url, hook_token("exotel"))).await,
        401
    );
    // Another provider's token does not open this one.
    assert_eq!(
        post(format!("{}/hooks/generic/{}", s.url, hook_token("teltel"))).await,
        401
    );
    assert!(s.calls().await.is_empty());
    assert_eq!(post(s.hook_url("generic")).await, 200);
    assert_eq!(s.calls().await.len(), 1);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_stores_nothing_and_the_server_keeps_serving() {
    let s = Server::start().await;
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        ("generic", "application/json", b"{\"event\": \"newCall\",".to_vec(), 400),
        ("whippy", "application/json", b"[1, 2".to_vec(), 400),
        ("teltel", "application/json", b"\xff\xfe\x00garbage".to_vec(), 400),
        ("voiceshot", "text/xml", b"<campaign callid=\"1\" action=\"4\"".to_vec(), 400),
        (
            "voiceshot",
            "text/xml",
            br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><campaign menuid="1" callid="x" action="4" callerid="&lol2;"/>"#.to_vec(),
            400,
        ),
        (
            "voiceshot",
            "text/xml",
            br#"<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><campaign menuid="1" callid="x" action="4" callerid="&xxe;"/>"#.to_vec(),
            400,
        ),
        ("generic", "application/json", vec![b' '; 64 * 1024 + 1], 413),
    ];
    for (provider, ct, body, want) in cases {
        let res = s
            .http
            .post(s.hook_url(provider))
            .header("content-type", ct)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(
            status,
            want,
            "{provider} {:?}: {text}",
            String::from_utf8_lossy(&body[..body.len().min(60)])
        );
        if want != 413 {
            assert!(text.contains("message"), "{text}");
        }
    }
    assert!(s.calls().await.is_empty());
    // Still serving.
    assert_eq!(
        s.post_json("generic", &new_call("after-bad", "4155550123"))
            .await,
        200
    );
    assert_eq!(s.calls().await.len(), 1);
}

#[tokio::test]
async fn calls_api_serves_the_normalized_call() {
    let s = Server::start().await;
    assert_eq!(
        s.post_json("generic", &new_call("api-1", "(415) 555-0199"))
            .await,
        200
    );
    let calls = s.calls().await;
    let c = &calls[0];
    assert_eq!(c["id"], "generic:api-1");
    assert_eq!(c["provider"], "generic");
    assert_eq!(c["provider_call_id"], "api-1");
    assert_eq!(c["direction"], "inbound");
    assert_eq!(c["state"], "ringing");
    assert_eq!(c["from"], "+14155550199");
    assert_eq!(c["to"], "+14155550100");
    assert_eq!(c["answered_by"], serde_json::Value::Null);
    assert!(c["started_at"].as_str().unwrap().ends_with('Z'));
    for key in [
        "answered_at",
        "ended_at",
        "duration_s",
        "recording_url",
        "transcript",
    ] {
        assert!(c.get(key).is_some(), "{key} missing");
    }
    let one = s.call("generic:api-1").await;
    assert_eq!(timeline(&one), ["ringing", "leg_ringing"]);
    assert_eq!(s.api("/api/calls/generic:nope").await.0, 404);
    assert_eq!(s.api("/api/calls?state=flying").await.0, 400);
}

#[tokio::test]
async fn missed_calls_are_listed_until_marked_done() {
    let s = Server::start().await;
    assert_eq!(
        s.post_json("generic", &new_call("m-1", "+14155550123"))
            .await,
        200
    );
    let hangup = json!({"event": "hangup", "callId": "m-1", "cause": "noAnswer",
                        "from": "+14155550123", "to": "+14155550100", "direction": "in"});
    assert_eq!(s.post_json("generic", &hangup).await, 200);
    let (_, missed) = s.api("/api/missed").await;
    assert_eq!(missed.as_array().unwrap().len(), 1);
    assert_eq!(missed[0]["state"], "missed");
    let res = s
        .http
        .post(format!("{}/api/calls/generic:m-1/done", s.url))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, missed) = s.api("/api/missed").await;
    assert!(missed.as_array().unwrap().is_empty());
    let res = s
        .http
        .post(format!("{}/api/calls/generic:unknown/done", s.url))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn voiceshot_basic_auth_and_empty_reply() {
    let s = Server::start().await;
    let url = format!("{}/hooks/voiceshot", s.url);
    let body = r#"<campaign menuid="1-3" callid="213167" action="4" callerid="8182238964"/>"#;
    let no_auth = s.http.post(&url).body(body).send().await.unwrap();
    assert_eq!(no_auth.status(), 401);
    assert!(no_auth.headers().get("www-authenticate").is_some());
    let wrong = s
        .http
        .post(&url)
        .basic_auth("voiceshot", Some("wrong"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = s
        .http
        .post(&url)
        .basic_auth("voiceshot", Some("voiceshot-password-123"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "");
    let c = &s.calls().await[0];
    assert_eq!(c["state"], "answered");
    assert_eq!(c["from"], "+18182238964");
}

#[test]
fn bad_config_names_the_file_and_key_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    for (text, key) in [
        (
            format!("[api]\ntoken = \"{API_TOKEN}\"\n[agent]\nregion = \"Narnia\""),
            "agent.region",
        ),
        (
            format!("[api]\ntoken = \"{API_TOKEN}\"\nlisten_everywhere = true"),
            "listen_everywhere",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&path)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.toml") && err.contains(key), "{err}");
        assert!(out.stdout.is_empty());
    }
}
