use crate::support::*;
use serde_json::json;
use std::process::Command;

fn new_call(call_id: &str, from: &str) -> serde_json::Value {
    json!({"event": "newCall", "from": from, "to": "+14155550100", "direction": "in",
           "callId": call_id, "user": ["201"]})
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
async fn api_needs_the_token_and_a_loopback_host() {
    let s = Server::start().await;
    let url = format!("{}/api/calls", s.url);
    let none = s.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("token"));
    let wrong = s.http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = s
        .http
        .get(&url)
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().get("access-control-allow-origin").is_none());
    // A page on evil.example that resolves its name to 127.0.0.1 (DNS rebinding).
    let rebound = s
        .http
        .get(&url)
        .bearer_auth(API_TOKEN)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    for path in ["/api/missed", "/api/calls/x", "/api/live"] {
        let r = s.http.get(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let r = s
        .http
        .post(format!("{}/api/calls/x/done", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
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
    assert_eq!(post(format!("{}/hooks/generic/", s.url)).await, 404);
    assert_eq!(
        post(format!("{}/hooks/skype/{}", s.url, hook_token("skype"))).await,
        404
    );
    assert_eq!(
        post(format!("{}/hooks/exotel/{}", s.url, hook_token("exotel"))).await,
        404
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
        ("generic", "application/json", br#"{"event": "teleport", "callId": "x"}"#.to_vec(), 422),
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
