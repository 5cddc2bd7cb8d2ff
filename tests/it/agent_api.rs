use crate::support::*;
use serde_json::{json, Value};

async fn send(s: &Server, event: &str, call: &str, from: &str, extra: Value) {
    let mut body = json!({"event": event, "from": from, "to": "+14155550100",
                          "direction": "in", "callId": call, "user": "201"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    assert_eq!(s.post_json("generic", &body).await, 200, "{body}");
}

async fn missed_call(s: &Server, call: &str, from: &str) {
    send(s, "newCall", call, from, json!({})).await;
    send(s, "hangup", call, from, json!({"cause": "noAnswer"})).await;
}

async fn api_post(s: &Server, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = s
        .http
        .post(format!("{}{path}", s.url))
        .bearer_auth(API_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn call_back_builds_a_clean_uri_or_refuses() {
    let s = Server::start().await;
    missed_call(&s, "cb-1", "(415) 555-0123").await;
    let (status, v) = api_post(&s, "/api/calls/generic:cb-1/callback", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["uri"], "tel:+14155550123");

    // Caller ids that try to smuggle a command or a second parameter.
    for (i, evil) in ["+1555;rm -rf ~", "123&x=1", "$(reboot)", "anonymous"]
        .iter()
        .enumerate()
    {
        let id = format!("cb-evil-{i}");
        missed_call(&s, &id, evil).await;
        let (status, v) = api_post(&s, &format!("/api/calls/generic:{id}/callback"), None).await;
        match status {
            422 => assert_eq!(v["error"]["code"], "not_callable", "{v}"),
            200 => {
                let uri = v["uri"].as_str().unwrap();
                let rest = uri.strip_prefix("tel:").unwrap();
                assert!(
                    rest.chars().all(|c| c == '+' || c.is_ascii_digit()),
                    "{evil} -> {uri}"
                );
            }
            other => panic!("{evil}: {other} {v}"),
        }
    }
    let (status, _) = api_post(&s, "/api/calls/generic:nope/callback", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn settings_are_checked_saved_and_applied_at_once() {
    let s = Server::start().await;
    let (status, view) = s.api("/api/settings").await;
    assert_eq!(status, 200);
    let generic = view["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["provider"] == "generic")
        .unwrap();
    assert_eq!(generic["url"], s.hook_url("generic"));
    assert!(view["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["auth"] == "basic"));

    // A bad value is refused with the key named, and nothing changes.
    let mut bad = view["config"].clone();
    bad["agent"]["region"] = json!("Atlantis");
    let res = s
        .http
        .put(format!("{}/api/settings", s.url))
        .bearer_auth(API_TOKEN)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("agent.region"),
        "{err}"
    );
    let mut unsafe_crm = view["config"].clone();
    unsafe_crm["crm"]["url"] = json!("https://{name}.evil.example/");
    let res = s
        .http
        .put(format!("{}/api/settings", s.url))
        .bearer_auth(API_TOKEN)
        .json(&unsafe_crm)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // A good change: a new generic token and a CRM template.
    let mut good = view["config"].clone();
    good["providers"]["generic"]["token"] = json!("a-brand-new-generic-token");
    good["crm"]["url"] = json!("https://crm.example.com/search?phone={e164}&agent={agent}");
    let res = s
        .http
        .put(format!("{}/api/settings", s.url))
        .bearer_auth(API_TOKEN)
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let saved = std::fs::read_to_string(s.dir.join("config.toml")).unwrap();
    assert!(saved.contains("a-brand-new-generic-token"), "{saved}");
    // Passwords are never shown, and sending the mask back keeps the stored one.
    assert_eq!(
        view["config"]["providers"]["voiceshot"]["password"],
        "********"
    );
    assert!(
        saved.contains("voiceshot-password-123") && !saved.contains("********"),
        "{saved}"
    );
    let old = s
        .post_json(
            "generic",
            &json!({"event": "newCall", "callId": "x", "from": "1"}),
        )
        .await;
    assert_eq!(old, 401, "the old token stopped working");
    let new = s
        .http
        .post(format!("{}/hooks/generic/a-brand-new-generic-token", s.url))
        .json(
            &json!({"event": "newCall", "callId": "crm-1", "from": "+14155550123",
                      "to": "+14155550100", "direction": "in", "user": "201"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(new.status(), 200);
    let (_, rec) = s.api("/api/calls/generic:crm-1/record").await;
    assert_eq!(
        rec["url"],
        "https://crm.example.com/search?phone=%2B14155550123&agent="
    );
}

#[tokio::test]
async fn history_search_filters_and_csv_export() {
    let s = Server::start().await;
    missed_call(&s, "h-1", "+14155550123").await;
    send(&s, "newCall", "h-2", "+442079460018", json!({})).await;
    send(&s, "answer", "h-2", "+442079460018", json!({})).await;
    missed_call(&s, "h-3", "=cmd|' /C calc'!A0").await;

    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["provider_call_id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, v) = s.api("/api/calls?q=(415)%20555-0123").await;
    assert_eq!(ids(&v), ["h-1"]);
    let (_, v) = s.api("/api/calls?q=2079").await;
    assert_eq!(ids(&v), ["h-2"]);
    let (_, v) = s.api("/api/calls?state=missed").await;
    assert_eq!(ids(&v), ["h-3", "h-1"]);
    let (_, v) = s.api("/api/calls?direction=outbound").await;
    assert!(ids(&v).is_empty());
    let (_, v) = s.api("/api/calls?since=2999-01-01T00:00:00Z").await;
    assert!(ids(&v).is_empty());

    let res = s
        .http
        .get(format!("{}/api/calls.csv?state=missed", s.url))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("id,provider,direction,state,from,to"),
        "{csv}"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(csv.contains("+14155550123"));
    assert!(csv.contains("'=cmd"), "formula defused: {csv}");
}

#[tokio::test]
async fn mark_all_done_and_send_test_call() {
    let s = Server::start().await;
    missed_call(&s, "a-1", "+14155550123").await;
    missed_call(&s, "a-2", "+14155550124").await;
    let (status, v) = api_post(&s, "/api/missed/done", None).await;
    assert_eq!((status, v["marked"].as_u64()), (200, Some(2)));
    assert!(s.api("/api/missed").await.1.as_array().unwrap().is_empty());

    let (_, scenarios) = s.api("/api/scenarios").await;
    assert!(scenarios
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "generic-answered"));
    let (status, _) = api_post(
        &s,
        "/api/simulate",
        Some(json!({"scenario": "teltel-answered"})),
    )
    .await;
    assert_eq!(status, 202);
    let (status, _) = api_post(&s, "/api/simulate", Some(json!({"scenario": "nope"}))).await;
    assert_eq!(status, 404);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if s.calls().await.iter().any(|c| c["provider"] == "teltel") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the test call never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
