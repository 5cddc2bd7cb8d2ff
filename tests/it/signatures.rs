//! Signed webhooks through the real listener: Whippy with a `signing_secret` takes a Standard
//! Webhooks signature (fresh timestamps only) or a hex HMAC in `X-Whippy-Signature`; anything
//! else is a 401 that says what was wrong, and stores nothing.

use crate::support::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

/// The key is `whsec_` + base64 of these bytes.
const KEY: &[u8] = b"ringside-whippy-signing-key-0001";

fn mac(parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn started(id: &str) -> String {
    json!({"event": "call.started", "request_id": format!("req-{id}"),
           "data": {"id": id, "from": "+14155550123", "to": "+14244023931",
                    "direction": "INBOUND", "user_id": 201}})
    .to_string()
}

#[tokio::test]
async fn whippy_signatures_are_checked_on_the_raw_body() {
    let secret = format!("whsec_{}", B64.encode(KEY));
    let config = default_config().replace(
        "[providers.whippy]\n",
        &format!("[providers.whippy]\nsigning_secret = \"{secret}\"\n"),
    );
    let s = Server::start_with(&config).await;
    let send = |body: String, headers: Vec<(&'static str, String)>| {
        let mut req = s
            .http
            .post(s.hook_url("whippy"))
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let standard = |body: &str, id: &str, ts: i64| {
        let sig = mac(&[
            id.as_bytes(),
            b".",
            ts.to_string().as_bytes(),
            b".",
            body.as_bytes(),
        ]);
        vec![
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", format!("v1,{}", B64.encode(sig))),
        ]
    };
    let now = chrono::Utc::now().timestamp();

    let refused = [
        (
            "unsigned",
            started("u1"),
            vec![],
            "missing signature header `x-whippy-signature`",
        ),
        (
            "wrong hex",
            started("u2"),
            vec![("x-whippy-signature", "ab".repeat(32))],
            "does not match",
        ),
        (
            "hex of another body",
            started("u3"),
            vec![(
                "x-whippy-signature",
                hex(&mac(&[started("other").as_bytes()])),
            )],
            "does not match",
        ),
        (
            "stale",
            started("u4"),
            standard(&started("u4"), "msg_1", now - 301),
            "too old",
        ),
        (
            "from the future",
            started("u5"),
            standard(&started("u5"), "msg_2", now + 301),
            "too old",
        ),
        (
            "replayed under another id",
            started("u6"),
            {
                let mut h = standard(&started("u6"), "msg_3", now);
                h[0].1 = "msg_4".into();
                h
            },
            "does not match",
        ),
    ];
    for (what, body, headers, says) in refused {
        let (status, text) = send(body, headers).await;
        assert_eq!(status, 401, "{what}: {text}");
        assert!(text.contains(says), "{what}: {text}");
    }
    assert_eq!(s.journal_len(), 0, "refused deliveries store nothing");

    let body = started("ok-hex");
    let (status, text) = send(
        body.clone(),
        vec![("x-whippy-signature", hex(&mac(&[body.as_bytes()])))],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let body = started("ok-standard");
    let (status, text) = send(body.clone(), standard(&body, "msg_5", now - 10)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(s.journal_len(), 2);
    // The token is still required with a good signature.
    let res = s
        .http
        .post(format!("{}/hooks/whippy/wrong-token-0123456789", s.url))
        .header("content-type", "application/json")
        .header("x-whippy-signature", hex(&mac(&[body.as_bytes()])))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
