//! The local API: calls, missed calls, marking done, and the live stream. Every request needs
//! the API token (Bearer header; `?token=` too for the websocket, which browsers cannot give
//! headers) and a loopback Host header (no DNS rebinding from a web page).

use crate::app::AppState;
use crate::error::AppError;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use ringside_core::signature::secrets_equal;
use ringside_core::store::CallQuery;
use ringside_core::{Call, CallState, CallWithTimeline};
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Refuse requests without the token or naming a host that is not ours.
pub async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if let Err(e) = check(&st, req.headers(), req.uri().query()) {
        return e.into_response();
    }
    next.run(req).await
}

fn check(st: &AppState, headers: &HeaderMap, query: Option<&str>) -> Result<(), AppError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !host_allowed(host, &st.config.api.allowed_hosts) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "host_not_allowed",
            format!("Host `{host}` is not allowed; the API answers on loopback names only"),
        ));
    }
    let expected = st.config.api.token.as_deref().unwrap_or("");
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let from_query = query.and_then(form_urlencoded_token);
    let given = bearer.map(str::to_string).or(from_query);
    match given {
        Some(t) if !expected.is_empty() && secrets_equal(t.as_bytes(), expected.as_bytes()) => {
            Ok(())
        }
        Some(_) => Err(AppError::unauthorized("wrong API token")),
        None => Err(AppError::unauthorized(
            "missing API token: send `Authorization: Bearer <token>`",
        )),
    }
}

fn form_urlencoded_token(q: &str) -> Option<String> {
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Loopback names, with or without a port, plus the configured extra names.
pub fn host_allowed(host: &str, extra: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let name = name.to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
        || extra.iter().any(|e| e.eq_ignore_ascii_case(&name))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    limit: Option<usize>,
    before: Option<DateTime<Utc>>,
    before_id: Option<String>,
    state: Option<CallState>,
    #[allow(dead_code)]
    token: Option<String>,
}

/// `GET /api/calls`
pub async fn calls(
    State(st): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<Call>>, AppError> {
    let q = CallQuery {
        limit: p.limit,
        before: p.before,
        before_id: p.before_id,
        state: p.state,
    };
    Ok(Json(st.blocking_read(move |s| s.calls(&q)).await?))
}

/// `GET /api/calls/{id}`
pub async fn call(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CallWithTimeline>, AppError> {
    let found = {
        let id = id.clone();
        st.blocking_read(move |s| s.call(&id)).await?
    };
    found
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no call `{id}`")))
}

/// `GET /api/missed`
pub async fn missed(State(st): State<AppState>) -> Result<Json<Vec<Call>>, AppError> {
    Ok(Json(st.blocking_read(|s| s.missed()).await?))
}

/// `POST /api/calls/{id}/done`
pub async fn done(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Call>, AppError> {
    let now = (st.clock)();
    st.engine
        .set_done(&id, true, now)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no call `{id}`")))
}

/// `GET /api/live`: one `{"type":"call","call":{...}}` text frame per stored call change.
pub async fn live(State(st): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| stream(socket, st))
}

async fn stream(mut socket: WebSocket, st: AppState) {
    let mut frames = st.frames.subscribe();
    let mut ping = tokio::time::interval(std::time::Duration::from_secs(20));
    ping.tick().await;
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Ok(text) => {
                    if socket.send(Message::Text(text.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    // Too slow to keep up: tell the client to refetch rather than drop silently.
                    let msg = format!(r#"{{"type":"lagged","missed":{n}}}"#);
                    if socket.send(Message::Text(msg.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Serialize each call change once for every live client.
pub fn frame(call: &Call) -> Arc<str> {
    serde_json::json!({"type": "call", "call": call})
        .to_string()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_pass() {
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "127.3.4.5",
            "[::1]:99",
            "app.localhost",
        ] {
            assert!(host_allowed(ok, &[]), "{ok}");
        }
        for bad in [
            "evil.com",
            "evil.com:80",
            "10.0.0.1",
            "",
            "localhost.evil.com",
            "[::2]:1",
        ] {
            assert!(!host_allowed(bad, &[]), "{bad}");
        }
        assert!(host_allowed("hub.example:443", &["hub.example".into()]));
    }

    #[test]
    fn query_token_is_decoded() {
        assert_eq!(
            form_urlencoded_token("a=1&token=ab%2Bc").as_deref(),
            Some("ab+c")
        );
        assert_eq!(form_urlencoded_token("a=%"), None);
        assert_eq!(form_urlencoded_token("token=%zz").as_deref(), Some("%zz"));
    }
}
