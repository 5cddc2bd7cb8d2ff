//! Who is calling: contacts through the API and the CLI, calls that carry their caller's
//! names from the first frame, and a CRM asked over HTTP (a fake one, served here) that answers
//! late, slowly or not at all without ever holding up a webhook.

use crate::fake_xelion::eventually;
use crate::support::*;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn ring(s: &Server, call: &str, from: &str) {
    let body = json!({"event": "newCall", "from": from, "to": "+14155550100",
                      "direction": "in", "callId": call, "user": "201"});
    assert_eq!(s.post_json("generic", &body).await, 200, "{body}");
}

fn names(call: &Value) -> Vec<String> {
    call["contacts"]
        .as_array()
        .unwrap_or_else(|| panic!("no contacts in {call}"))
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

fn contact(name: &str, numbers: &[&str]) -> Value {
    json!({"name": name, "numbers": numbers.iter().map(|n| json!({"number": n})).collect::<Vec<_>>()})
}

#[tokio::test]
async fn adding_editing_and_deleting_a_contact_names_the_calls_live() {
    let s = Server::start().await;
    let mut live = s.live().await;
    ring(&s, "c-1", "+14155550123").await;
    let first = live.next_for("generic:c-1").await;
    assert_eq!(first["contacts"], json!([]));
    assert_eq!(first["from_display"], "+1 415-555-0123");

    // "Add contact" from the panel: the ringing call is named at once.
    let (status, alice) = s
        .api_send(
            "POST",
            "/api/contacts",
            Some(&contact("Alice Smith", &["(415) 555-0123"])),
        )
        .await;
    assert_eq!(status, 201, "{alice}");
    assert_eq!(alice["source"], "local");
    assert_eq!(alice["numbers"][0]["e164"], "+14155550123");
    let named = live.next_for("generic:c-1").await;
    assert_eq!(names(&named), ["Alice Smith"]);
    assert_eq!(named["contacts"][0]["source"], "local");

    // A new call from her carries her name in its very first frame.
    ring(&s, "c-2", "415.555.0123").await;
    assert_eq!(names(&live.next_for("generic:c-2").await), ["Alice Smith"]);

    let id = alice["id"].as_i64().unwrap();
    let (status, v) = s
        .api_send(
            "PUT",
            &format!("/api/contacts/{id}"),
            Some(&contact("Alice Jones", &["+1 415 555 0123"])),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(names(&live.next_for("generic:c-1").await), ["Alice Jones"]);
    let (status, _) = s
        .api_send("DELETE", &format!("/api/contacts/{id}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(live.next_for("generic:c-1").await["contacts"], json!([]));

    // Bad input: a clear 4xx, nothing stored.
    for (method, path, body, want, code) in [
        (
            "POST",
            "/api/contacts",
            Some(contact("No Number", &[])),
            422,
            "invalid_contact",
        ),
        (
            "POST",
            "/api/contacts",
            Some(json!({"name": "X", "numbers": "no"})),
            400,
            "invalid_contact",
        ),
        (
            "POST",
            "/api/contacts",
            Some(json!({"name": "X", "numbers": [], "nick": 1})),
            400,
            "invalid_contact",
        ),
        (
            "PUT",
            "/api/contacts/999",
            Some(contact("Nobody", &["+14155550100"])),
            404,
            "not_found",
        ),
        ("GET", "/api/contacts/abc", None, 404, "not_found"),
        ("DELETE", "/api/contacts/999", None, 404, "not_found"),
    ] {
        let (status, v) = s.api_send(method, path, body.as_ref()).await;
        assert_eq!(status, want, "{method} {path}: {v}");
        assert_eq!(v["error"]["code"], code, "{method} {path}: {v}");
    }
    let (_, all) = s.api("/api/contacts").await;
    assert_eq!(all, json!([]));
}

#[tokio::test]
async fn many_contacts_for_one_number_are_all_on_the_call_each_with_its_record() {
    let s = Server::start().await;
    for (name, url) in [
        ("Bob Jones", "https://crm.example.com/c/1"),
        ("Bea Jones", "https://crm.example.com/c/2"),
    ] {
        let mut c = contact(name, &["+44 20 7946 0018"]);
        c["company"] = json!("Jones & Co");
        c["record_url"] = json!(url);
        assert_eq!(s.api_send("POST", "/api/contacts", Some(&c)).await.0, 201);
    }
    ring(&s, "m-1", "+442079460018").await;
    let call = s.call("generic:m-1").await;
    assert_eq!(names(&call), ["Bea Jones", "Bob Jones"]);
    for m in call["contacts"].as_array().unwrap() {
        let key = m["key"].as_str().unwrap();
        let (status, v) = s
            .api(&format!("/api/calls/generic:m-1/record?contact={key}"))
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["url"], m["record_url"]);
    }
    let (status, _) = s
        .api("/api/calls/generic:m-1/record?contact=contact:999")
        .await;
    assert_eq!(status, 404);
    // The lookup finds both exactly, and by the last nine digits a number written the
    // British way (which does not parse with region US).
    for q in ["%2B44%2020%207946%200018", "020%207946%200018"] {
        let (_, found) = s.api(&format!("/api/lookup?number={q}")).await;
        assert_eq!(found.as_array().unwrap().len(), 2, "{q}: {found}");
    }
    let (_, found) = s.api("/api/lookup?number=%2B44%2020%207946%200019").await;
    assert_eq!(found, json!([]));
}

const CSV: &str = "Full Name,Company,Mobile Phone,Business Phone\n\
    Carol White,Acme,(415) 555-0111,\n\
    Dan Black,,,+1 415 555 0122\n\
    Nobody,,,\n";

#[tokio::test]
async fn import_by_cli_and_api_and_export_round_trip() {
    let mut s = Server::start().await;
    let csv = s.dir.join("people.csv");
    std::fs::write(&csv, CSV).unwrap();
    // A call from Carol is on screen before the import.
    let mut live = s.live().await;
    ring(&s, "before-1", "+14155550111").await;
    assert_eq!(
        names(&live.next_for("generic:before-1").await),
        Vec::<String>::new()
    );
    let dir = s.dir.clone();
    let import = || {
        let out = std::process::Command::new(bin())
            .arg("import-contacts")
            .arg(&csv)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--config")
            .arg(dir.join("config.toml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    // Through the server that runs on the data directory: the call on screen is named at once.
    let (out, err) = import();
    assert!(
        out.ends_with("added 2, updated 0, unchanged 0, skipped 1\n"),
        "{out}"
    );
    assert!(
        err.contains(&format!(
            "importing through the Ringside running at {}",
            s.url
        )),
        "{err}"
    );
    assert_eq!(
        names(&live.next_for("generic:before-1").await),
        ["Carol White"]
    );
    assert!(
        err.contains(
            "columns: name=Full Name, company=Company, phone=Mobile Phone, phone=Business Phone"
        ),
        "{err}"
    );
    assert!(err.contains("row 4"), "{err}");
    let (out, _) = import();
    assert!(
        out.ends_with("added 0, updated 0, unchanged 2, skipped 1\n"),
        "the same file again: {out}"
    );
    ring(&s, "i-1", "+14155550122").await;
    assert_eq!(names(&s.call("generic:i-1").await), ["Dan Black"]);
    // With no server running, straight into the store; the server finds them after.
    s.kill();
    let (out, err) = import();
    assert!(
        out.ends_with("added 0, updated 0, unchanged 2, skipped 1\n"),
        "{out}"
    );
    assert!(!err.contains("importing through"), "{err}");
    let s = Server::start_in(&dir).await;

    // A vCard through the API.
    let vcf = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:e-1\r\nFN:Erin Green\r\nTEL;TYPE=CELL:+44 7400 123456\r\nEND:VCARD\r\n";
    let r = s
        .http
        .post(format!("{}/api/contacts/import", s.url))
        .bearer_auth(API_TOKEN)
        .body(vcf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["format"].as_str(), v["added"].as_u64()),
        (Some("vcard"), Some(1)),
        "{v}"
    );
    // A file that is neither.
    let r = s
        .http
        .post(format!("{}/api/contacts/import?format=csv", s.url))
        .bearer_auth(API_TOKEN)
        .body("just,some,words\n1,2,3\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no name column"),
        "{v}"
    );

    // Export both ways and import each into a fresh Ringside: the same contacts.
    let (_, before) = s.api("/api/contacts").await;
    let strip = |v: &Value| -> Vec<(Value, Value, Vec<Value>)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let numbers = c["numbers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n["e164"].clone())
                    .collect();
                (c["name"].clone(), c["company"].clone(), numbers)
            })
            .collect()
    };
    for ext in ["vcf", "csv"] {
        let file = s
            .http
            .get(format!("{}/api/contacts.{ext}", s.url))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let other = Server::start().await;
        let r = other
            .http
            .post(format!("{}/api/contacts/import", other.url))
            .bearer_auth(API_TOKEN)
            .body(file)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{ext}");
        let (_, after) = other.api("/api/contacts").await;
        assert_eq!(strip(&before), strip(&after), "{ext} round trip");
    }
}

/// A CRM that knows some numbers, is slow for one and broken for another, and counts. It
/// answers for +14155550111 only when the test lets it (`release`), and notes which requests
/// finished: a webhook answered while the CRM is still busy did not wait for it.
#[derive(Clone)]
struct FakeCrm {
    asked: Arc<Mutex<HashMap<String, usize>>>,
    finished: Arc<Mutex<Vec<String>>>,
    auth: Arc<Mutex<Vec<String>>>,
    gate: Arc<tokio::sync::Semaphore>,
}

impl FakeCrm {
    fn new() -> FakeCrm {
        FakeCrm {
            asked: Arc::default(),
            finished: Arc::default(),
            auth: Arc::default(),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
        }
    }
    fn release(&self) {
        self.gate.add_permits(1);
    }
    fn finished(&self, phone: &str) -> bool {
        self.finished.lock().unwrap().iter().any(|p| p == phone)
    }
}

async fn crm_lookup(
    State(crm): State<FakeCrm>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> axum::response::Response {
    let phone = q.get("phone").cloned().unwrap_or_default();
    *crm.asked.lock().unwrap().entry(phone.clone()).or_default() += 1;
    crm.auth.lock().unwrap().push(
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    );
    let answer = match phone.as_str() {
        "+14155550111" => {
            crm.gate.acquire().await.unwrap().forget();
            Json(
                json!({"data": [{"name": "Carol White", "company": {"name": "Acme"},
                                   "url": "https://crm.example.com/contacts/7"}]}),
            )
            .into_response()
        }
        "+14155550222" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Json(json!({"data": [{"name": "Too Late"}]})).into_response()
        }
        "+14155550333" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        _ => Json(json!({"data": []})).into_response(),
    };
    crm.finished.lock().unwrap().push(phone);
    answer
}

async fn crm_source(s: &Server) -> Value {
    let (_, st) = s.api("/api/status").await;
    st["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "crm")
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_crm_names_the_caller_late_and_a_slow_or_broken_crm_never_holds_up_a_webhook() {
    let crm = FakeCrm::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route("/lookup", get(crm_lookup))
        .with_state(crm.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let config = format!(
        r#"{}
[contacts.crm]
url = "http://127.0.0.1:{port}/lookup?phone={{e164}}"
headers = {{ Authorization = "Bearer crm-secret-token" }}
timeout_ms = 500
cache_s = 300
results = "/data"
name = "/name"
company = "/company/name"
record_url = "/url"
"#,
        default_config()
    );
    let s = Server::start_with(&config).await;
    let mut live = s.live().await;

    // Known: the webhook is answered and the call shown with its number while the CRM is
    // still thinking; the name follows when it answers.
    ring(&s, "k-1", "(415) 555-0111").await;
    assert_eq!(live.next_for("generic:k-1").await["contacts"], json!([]));
    assert!(
        !crm.finished("+14155550111"),
        "the webhook did not wait for the CRM"
    );
    crm.release();
    let named = live.next_for("generic:k-1").await;
    assert_eq!(names(&named), ["Carol White"]);
    assert_eq!(named["contacts"][0]["source"], "crm");
    assert_eq!(named["contacts"][0]["company"], "Acme");
    let (_, rec) = s.api("/api/calls/generic:k-1/record").await;
    assert_eq!(rec["url"], "https://crm.example.com/contacts/7");
    assert_eq!(crm.auth.lock().unwrap()[0], "Bearer crm-secret-token");
    let src = crm_source(&s).await;
    assert_eq!(src["state"], "connected", "{src}");

    // The same caller again: answered from the cache, the CRM is not asked twice.
    ring(&s, "k-2", "+14155550111").await;
    live.next_for("generic:k-2").await;
    assert_eq!(names(&live.next_for("generic:k-2").await), ["Carol White"]);
    assert_eq!(crm.asked.lock().unwrap()["+14155550111"], 1);

    // Slow: the webhook is answered while the CRM sleeps; the lookup gives up after its
    // timeout and says so.
    ring(&s, "slow-1", "+14155550222").await;
    assert!(!crm.finished("+14155550222"));
    live.next_for("generic:slow-1").await;
    let src = eventually("the lookup to give up", Duration::from_secs(10), || async {
        let src = crm_source(&s).await;
        (src["state"] == "reconnecting").then_some(src)
    })
    .await;
    assert!(
        src["message"]
            .as_str()
            .unwrap()
            .contains("no answer within 500 ms"),
        "{src}"
    );
    // Meanwhile other webhooks flow as usual; the call that gave up was not named late (its
    // frame would come before this one).
    ring(&s, "during", "+14155550999").await;
    let next = live.next_of(&["generic:slow-1", "generic:during"]).await;
    assert_eq!(next["id"], "generic:during", "no late name: {next}");
    assert!(!crm.finished("+14155550222"), "still sleeping");

    // Broken: reported, nothing stored, and it recovers with the next good answer.
    ring(&s, "err-1", "+14155550333").await;
    let mut msg = String::new();
    for _ in 0..40 {
        msg = crm_source(&s).await["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if msg.contains("500") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(msg.contains("the CRM answered 500"), "{msg}");
    assert_eq!(s.call("generic:err-1").await["contacts"], json!([]));
    ring(&s, "k-3", "+14155550444").await;
    for _ in 0..40 {
        if crm_source(&s).await["state"] == "connected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(crm_source(&s).await["state"], "connected");

    // The settings page never shows the CRM's credentials.
    let (_, settings) = s.api("/api/settings").await;
    assert_eq!(
        settings["config"]["contacts"]["crm"]["headers"]["Authorization"],
        "********"
    );
}
