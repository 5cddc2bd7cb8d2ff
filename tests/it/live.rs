use crate::support::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(
    url: &str,
    bearer: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = url.into_client_request().unwrap();
    if let Some(t) = bearer {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
            .expect("stream open")
            .expect("valid frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

#[tokio::test]
async fn every_stored_change_is_one_frame_for_every_client() {
    let s = Server::start().await;
    let ws_url = s.url.replace("http://", "ws://") + "/api/live";
    let mut by_query = connect(&format!("{ws_url}?token={API_TOKEN}"), None)
        .await
        .unwrap();
    let mut by_header = connect(&ws_url, Some(API_TOKEN)).await.unwrap();

    let ring = json!({"event": "newCall", "from": "+14155550123", "to": "+14155550100",
                      "direction": "in", "callId": "live-1", "user": "201"});
    assert_eq!(s.post_json("generic", &ring).await, 200);
    for ws in [&mut by_query, &mut by_header] {
        let f = next_frame(ws).await;
        assert_eq!(f["type"], "call");
        assert_eq!(f["call"]["id"], "generic:live-1");
        assert_eq!(f["call"]["state"], "ringing");
        assert_eq!(f["call"]["from"], "+14155550123");
    }
    // The frame is sent after the change is stored: it is readable at once.
    let answer = json!({"event": "answer", "callId": "live-1", "user": "201",
                        "from": "+14155550123", "to": "+14155550100", "direction": "in"});
    assert_eq!(s.post_json("generic", &answer).await, 200);
    let f = next_frame(&mut by_query).await;
    assert_eq!(f["call"]["state"], "answered");
    assert_eq!(s.call("generic:live-1").await["state"], "answered");
    // A duplicate delivery changes nothing and sends nothing.
    assert_eq!(s.post_json("generic", &answer).await, 200);
    let hangup = json!({"event": "hangup", "callId": "live-1", "cause": "normalClearing",
                        "from": "+14155550123", "to": "+14155550100", "direction": "in"});
    assert_eq!(s.post_json("generic", &hangup).await, 200);
    let f = next_frame(&mut by_query).await;
    assert_eq!(
        f["call"]["state"], "ended",
        "the duplicate answer sent no frame"
    );
}

#[tokio::test]
async fn live_refuses_without_the_token() {
    let s = Server::start().await;
    let ws_url = s.url.replace("http://", "ws://") + "/api/live";
    assert!(connect(&ws_url, None).await.is_err());
    assert!(connect(&format!("{ws_url}?token=wrong"), None)
        .await
        .is_err());
    assert!(connect(&ws_url, Some("wrong")).await.is_err());
}
