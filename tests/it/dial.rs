//! Call back that dials through the phone system: the generic HTTP template against a local
//! HTTP server standing in for a PBX, and Exotel's connect API against a local fake of it
//! (shaped from the seed; what the seed does not show is marked assumed where the fake
//! answers). Each sees exactly the request Ringside should send, encoded as it should be, and
//! the missed calls of the number called are dealt with.

use crate::support::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Router;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// One request the fake received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: HeaderMap,
    body: String,
}

/// An HTTP server on 127.0.0.1 that records every request and answers with what the test set.
#[derive(Clone)]
struct Fake {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Arc<Mutex<(u16, String)>>,
    url: String,
}

impl Fake {
    async fn start(status: u16, body: &str) -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Fake {
            seen: Arc::default(),
            answer: Arc::new(Mutex::new((status, body.to_string()))),
            url: format!("http://{}", listener.local_addr().unwrap()),
        };
        let app = Router::new().fallback(record).with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    fn answer(&self, status: u16, body: &str) {
        *self.answer.lock().unwrap() = (status, body.to_string());
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn record(
    State(f): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    f.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        uri: uri.to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let (status, body) = f.answer.lock().unwrap().clone();
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body,
    )
}

async fn missed(s: &Server, call: &str, from: &str) {
    for (event, extra) in [
        ("newCall", json!({})),
        ("hangup", json!({"cause": "noAnswer"})),
    ] {
        let mut body = json!({"event": event, "from": from, "to": "+14155550100",
                              "direction": "in", "callId": call, "user": "201"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        assert_eq!(s.post_json("generic", &body).await, 200, "{body}");
    }
}

async fn call_back(s: &Server, id: &str) -> (u16, Value) {
    s.api_send("POST", &format!("/api/calls/{id}/callback"), None)
        .await
}

#[tokio::test]
async fn the_dial_template_asks_the_pbx_with_every_value_encoded_for_where_it_stands() {
    let pbx = Fake::start(200, r#"{"status":"dialling"}"#).await;
    let config = format!(
        r#"{}
[callback]
via = "http"
agent = "201"

[callback.http]
method = "POST"
url = "{}/originate?from={{agent}}&to={{e164}}"
body = '{{"from": "{{agent}}", "to": "{{e164}}", "who": "{{name}}"}}'
headers = {{ Authorization = "Bearer pbx-secret-123" }}
"#,
        default_config(),
        pbx.url
    );
    let s = Server::start_with(&config).await;
    // A caller whose contact name would break a naive template: quotes, ampersands, a brace.
    let (status, _) = s
        .api_send(
            "POST",
            "/api/contacts",
            Some(&json!({"name": "Ann \"Q\" O'Neil & {Co}", "numbers": [{"number": "+14155550123"}]})),
        )
        .await;
    assert_eq!(status, 201);
    missed(&s, "d-1", "+14155550123").await;
    missed(&s, "d-2", "(415) 555-0123").await;

    let (status, v) = call_back(&s, "generic:d-2").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["via"], "http");
    assert_eq!(v["uri"], Value::Null, "nothing for the OS to open");
    assert_eq!(v["number"], "+14155550123");
    let mut resolved: Vec<String> = serde_json::from_value(v["resolved"].clone()).unwrap();
    resolved.sort();
    assert_eq!(
        resolved,
        ["generic:d-1", "generic:d-2"],
        "both missed calls dealt with"
    );
    let (_, still) = s.api("/api/missed").await;
    assert_eq!(still, json!([]));

    let seen = pbx.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let req = &seen[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.uri, "/originate?from=201&to=%2B14155550123");
    assert_eq!(req.headers["authorization"], "Bearer pbx-secret-123");
    assert_eq!(req.headers["content-type"], "application/json");
    let body: Value = serde_json::from_str(&req.body).expect("the body is JSON");
    assert_eq!(
        body,
        json!({"from": "201", "to": "+14155550123", "who": "Ann \"Q\" O'Neil & {Co}"})
    );

    // The settings page never shows the header's value.
    let (_, settings) = s.api("/api/settings").await;
    assert_eq!(
        settings["config"]["callback"]["http"]["headers"]["Authorization"],
        "********"
    );

    // The PBX refuses: the agent is told why (502, dial_failed), the missed call stays.
    missed(&s, "d-3", "+14155550124").await;
    pbx.answer(403, r#"{"error":"extension 201 is not logged in"}"#);
    let (status, v) = call_back(&s, "generic:d-3").await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"]["code"], "dial_failed");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("extension 201 is not logged in"),
        "{v}"
    );
    let (_, still) = s.api("/api/missed").await;
    assert_eq!(still.as_array().unwrap().len(), 1);

    // A caller id that is not a number is never sent anywhere: refused before any request.
    // (The request after it arriving first shows nothing was sent for it.)
    missed(&s, "d-evil", "+1555;rm -rf ~").await;
    let (status, v) = call_back(&s, "generic:d-evil").await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "not_callable");
    pbx.answer(200, "{}");
    let (status, _) = s
        .api_send(
            "POST",
            "/api/dial",
            Some(&json!({"number": "+1 (415) 555-0177"})),
        )
        .await;
    assert_eq!(status, 200);
    let seen = pbx.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[2].uri, "/originate?from=201&to=%2B14155550177");
}

#[tokio::test]
async fn exotel_click_to_dial_rings_the_agent_then_the_customer() {
    // Assumed (not in the seed): the answer's JSON, `{"Call": {"Sid", "Status"}}`.
    let exotel = Fake::start(
        200,
        r#"{"Call": {"Sid": "b6cfaf0ac9e4c1d3", "Status": "in-progress", "Direction": "outbound-api"}}"#,
    )
    .await;
    let config = format!(
        r#"{}
[callback]
via = "exotel"
agent = "+919876543210"

[callback.exotel]
account_sid = "acme1"
api_key = "key-123"
api_token = "token-0123456789abcdef"
caller_id = "08044556678"
api_url = "{}"
"#,
        default_config(),
        exotel.url
    );
    let s = Server::start_with(&config).await;
    missed(&s, "x-1", "+919812345678").await;
    let (status, v) = call_back(&s, "generic:x-1").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["via"], "exotel");
    assert_eq!(v["resolved"], json!(["generic:x-1"]));

    // The seed's request: a POST to .../Calls/connect.json with the key and token as Basic
    // credentials, From the agent and To the customer in the query; CallerId assumed.
    let seen = exotel.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.uri,
        "/v1/Accounts/acme1/Calls/connect.json?From=%2B919876543210&To=%2B919812345678&CallerId=08044556678"
    );
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("key-123:token-0123456789abcdef");
    assert_eq!(req.headers["authorization"], format!("Basic {basic}"));

    // Then Exotel reports the call as the seed shows (StatusCallback, outbound-api): ringing,
    // the agent answering, the customer answering, the end. Ringside shows it as it goes.
    let sid = "b6cfaf0ac9e4c1d3";
    let callback = |event: &str, legs: Value, status: &str| {
        json!({
            "CallSid": sid, "EventType": event, "DateCreated": "2026-11-29 10:44:40",
            "DateUpdated": "2026-11-29 10:44:46", "EventTime": "2026-11-29 10:44:46",
            "Status": status, "To": "09812345678", "From": "09876543210",
            "PhoneNumberSid": "08044556678", "StartTime": "2026-11-29 10:44:41",
            "EndTime": null, "Direction": "outbound-api", "RecordingUrl": null,
            "ConversationDuration": null, "Legs": legs,
        })
    };
    let leg = |s: &str| json!({"OnCallDuration": null, "Status": s});
    assert_eq!(
        s.post_json(
            "exotel",
            &callback(
                "ringing",
                json!([leg("in-progress"), leg("null")]),
                "in-progress"
            )
        )
        .await,
        200
    );
    assert_eq!(
        s.post_json(
            "exotel",
            &callback(
                "answered",
                json!([leg("in-progress"), leg("in-progress")]),
                "in-progress"
            )
        )
        .await,
        200
    );
    let call = s.call(&format!("exotel:{sid}")).await;
    assert_eq!(call["direction"], "outbound");
    assert_eq!(call["state"], "answered");
    assert_eq!(call["to"], "+919812345678");

    // Exotel refuses (a wrong token): the agent sees Exotel's reason.
    missed(&s, "x-2", "+919812345679").await;
    // Assumed: a refusal's body, `{"RestException": {"Message": ...}}`.
    exotel.answer(
        401,
        r#"{"RestException": {"Status": 401, "Message": "Authentication is required"}}"#,
    );
    let (status, v) = call_back(&s, "generic:x-2").await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"]["code"], "dial_failed");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Exotel answered 401: Authentication is required"),
        "{v}"
    );
    let (_, settings) = s.api("/api/settings").await;
    assert_eq!(
        settings["config"]["callback"]["exotel"]["api_token"],
        "********"
    );
}

/// The detail's player: Ringside fetches the recording from the provider's URL (the page's CSP
/// reaches no other host) and serves it with its audio type.
#[tokio::test]
async fn the_recording_is_fetched_from_the_provider_to_play_in_place() {
    let storage = Fake::start(200, "ID3-not-really-an-mp3").await;
    let s = Server::start().await;
    let completed = json!({
        "id": "ev-rec-1", "event": "COMPLETED", "timestamp": "2024-05-02 11:01:00",
        "call_id": "rec-1", "direction": "inbound", "from": "37120000000", "to": "37167000000",
        "is_answered": "true", "duration": "47",
        "audio_url": format!("{}/acc-77/rec-1.mp3", storage.url),
    });
    assert_eq!(s.post_json("teltel", &completed).await, 200);
    let res = s
        .http
        .get(format!("{}/api/calls/teltel:rec-1/recording", s.url))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ID3-not-really-an-mp3");
    assert_eq!(storage.seen()[0].uri, "/acc-77/rec-1.mp3");
    // Only with the token, like every API call.
    let res = s
        .http
        .get(format!("{}/api/calls/teltel:rec-1/recording", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // A call without a recording: 404.
    let (status, v) = s.api("/api/calls/teltel:nope/recording").await;
    assert_eq!(status, 404, "{v}");
}
