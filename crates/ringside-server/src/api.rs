//! The local API: calls, missed calls, marking done, and the live stream. Every request needs
//! the API token (Bearer header; `?token=` too for the websocket, which browsers cannot give
//! headers) and a loopback Host header (no DNS rebinding from a web page).

use crate::app::AppState;
use crate::error::AppError;
use crate::ops::{self, CallFilter, ScenarioInfo, SettingsView};
use axum::extract::rejection::JsonRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ringside_core::config::Config;
use ringside_core::signature::secrets_equal;
use ringside_core::{Call, CallWithTimeline};
use serde::Deserialize;
use serde_json::{json, Value};
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
    let settings = st.settings();
    if !host_allowed(host, &settings.config.api.allowed_hosts) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "host_not_allowed",
            format!("Host `{host}` is not allowed; the API answers on loopback names only"),
        ));
    }
    let expected = settings.config.api.token.as_deref().unwrap_or("");
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

/// `GET /api/calls`
pub async fn calls(
    State(st): State<AppState>,
    Query(f): Query<CallFilter>,
) -> Result<Json<Vec<Call>>, AppError> {
    Ok(Json(ops::list_calls(&st, f).await?))
}

/// `GET /api/calls.csv`
pub async fn calls_csv(
    State(st): State<AppState>,
    Query(f): Query<CallFilter>,
) -> Result<Response, AppError> {
    let csv = ops::calls_csv(&st, f).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"ringside-calls.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// `GET /api/calls/{id}`
pub async fn call(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CallWithTimeline>, AppError> {
    Ok(Json(ops::get_call(&st, &id).await?))
}

/// `GET /api/missed`
pub async fn missed(State(st): State<AppState>) -> Result<Json<Vec<Call>>, AppError> {
    Ok(Json(ops::missed(&st).await?))
}

/// `POST /api/calls/{id}/done`
pub async fn done(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Call>, AppError> {
    Ok(Json(ops::mark_done(&st, &id).await?))
}

/// `POST /api/missed/done`
pub async fn all_done(State(st): State<AppState>) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({"marked": ops::mark_all_done(&st).await?})))
}

/// `POST /api/calls/{id}/callback`: the URI to hand to the OS; the browser opens it itself.
pub async fn callback(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({"uri": ops::callback_uri(&st, &id).await?})))
}

/// `GET /api/calls/{id}/record`: the CRM record URL, or null without a CRM template.
pub async fn record(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({"url": ops::record_url(&st, &id).await?})))
}

/// `GET /api/settings`
pub async fn settings(State(st): State<AppState>) -> Json<SettingsView> {
    Json(ops::settings_view(&st))
}

/// `PUT /api/settings`
pub async fn save_settings(
    State(st): State<AppState>,
    body: Result<Json<Config>, JsonRejection>,
) -> Result<Json<SettingsView>, AppError> {
    let Json(config) = body
        .map_err(|e| AppError::new(StatusCode::BAD_REQUEST, "invalid_settings", e.body_text()))?;
    Ok(Json(ops::save_settings(&st, config)?))
}

/// `GET /api/scenarios`
pub async fn scenarios() -> Json<Vec<ScenarioInfo>> {
    Json(ops::scenarios())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulateBody {
    scenario: String,
}

/// `POST /api/simulate`: start a test call; 202 at once, the call follows on `/api/live`.
pub async fn simulate(
    State(st): State<AppState>,
    body: Result<Json<SimulateBody>, JsonRejection>,
) -> Result<Response, AppError> {
    let Json(body) = body.map_err(|e| AppError::bad_request(e.body_text()))?;
    ops::simulate(&st, &body.scenario)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"started": body.scenario})),
    )
        .into_response())
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
    #[derive(serde::Serialize)]
    struct Frame<'a> {
        r#type: &'static str,
        call: &'a Call,
    }
    serde_json::to_string(&Frame {
        r#type: "call",
        call,
    })
    .expect("a call serializes")
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
