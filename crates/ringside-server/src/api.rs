//! The local API: calls, missed calls, marking done, and the live stream. Every request needs
//! the API token (Bearer header; `?token=` too for the websocket, which browsers cannot give
//! headers) and a loopback Host header (no DNS rebinding from a web page).

use crate::app::AppState;
use crate::contacts::{self, ContactFilter, ContactFormat, ImportResult};
use crate::error::AppError;
use crate::ops::{self, CallFilter, ScenarioInfo, SettingsView};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ringside_core::config::Config;
use ringside_core::contacts::{Contact, ContactInput};
use ringside_core::signature::secrets_equal;
use ringside_core::{Call, CallWithTimeline, ContactMatch};
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

/// `GET /api/calls/{id}/record?contact=KEY`: the record URL for the caller as contact `KEY`
/// (one of the call's matches; default the best one), or null when there is none.
pub async fn record(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RecordQuery>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(
        json!({"url": ops::record_url(&st, &id, q.contact.as_deref()).await?}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    contact: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    token: Option<String>,
}

/// `GET /api/contacts`
pub async fn contacts(
    State(st): State<AppState>,
    Query(f): Query<ContactFilter>,
) -> Result<Json<Vec<Contact>>, AppError> {
    Ok(Json(contacts::list(&st, f).await?))
}

/// `GET /api/contacts/{id}`
pub async fn contact(
    State(st): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Contact>, AppError> {
    Ok(Json(contacts::get(&st, contact_id(id)?).await?))
}

fn contact_id(id: Result<Path<i64>, PathRejection>) -> Result<i64, AppError> {
    id.map(|Path(id)| id)
        .map_err(|_| AppError::not_found("contact ids are numbers"))
}

fn contact_body(body: Result<Json<ContactInput>, JsonRejection>) -> Result<ContactInput, AppError> {
    body.map(|Json(b)| b)
        .map_err(|e| AppError::new(StatusCode::BAD_REQUEST, "invalid_contact", e.body_text()))
}

/// `POST /api/contacts`: 201 with the contact.
pub async fn create_contact(
    State(st): State<AppState>,
    body: Result<Json<ContactInput>, JsonRejection>,
) -> Result<Response, AppError> {
    let c = contacts::create(&st, contact_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// `PUT /api/contacts/{id}`
pub async fn update_contact(
    State(st): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<ContactInput>, JsonRejection>,
) -> Result<Json<Contact>, AppError> {
    let id = contact_id(id)?;
    Ok(Json(contacts::update(&st, id, contact_body(body)?).await?))
}

/// `DELETE /api/contacts/{id}`: 204.
pub async fn delete_contact(
    State(st): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, AppError> {
    contacts::delete(&st, contact_id(id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/contacts/import?format=csv|vcard&column=field=Header...`: the file is the body.
pub async fn import_contacts(
    State(st): State<AppState>,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Result<Json<ImportResult>, AppError> {
    let mut format = None;
    let mut mapping = Vec::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "format" => {
                format = Some(match v.as_ref() {
                    "csv" => ContactFormat::Csv,
                    "vcard" | "vcf" => ContactFormat::Vcard,
                    other => {
                        return Err(AppError::bad_request(format!(
                            "format `{other}`: use csv or vcard"
                        )))
                    }
                })
            }
            "column" => mapping.push(v.into_owned()),
            "token" => {}
            other => {
                return Err(AppError::bad_request(format!(
                    "unknown parameter `{other}`"
                )))
            }
        }
    }
    if body.is_empty() {
        return Err(AppError::bad_request("the file is empty"));
    }
    Ok(Json(
        contacts::import(&st, body.to_vec(), format, mapping).await?,
    ))
}

/// `GET /api/contacts.csv`
pub async fn contacts_csv(State(st): State<AppState>) -> Result<Response, AppError> {
    export(
        &st,
        ContactFormat::Csv,
        "text/csv; charset=utf-8",
        "ringside-contacts.csv",
    )
    .await
}

/// `GET /api/contacts.vcf`
pub async fn contacts_vcf(State(st): State<AppState>) -> Result<Response, AppError> {
    export(
        &st,
        ContactFormat::Vcard,
        "text/vcard; charset=utf-8",
        "ringside-contacts.vcf",
    )
    .await
}

async fn export(
    st: &AppState,
    format: ContactFormat,
    content_type: &'static str,
    file: &'static str,
) -> Result<Response, AppError> {
    let body = contacts::export(st, format).await?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupQuery {
    number: String,
    #[serde(default)]
    #[allow(dead_code)]
    token: Option<String>,
}

/// `GET /api/lookup?number=...`: the stored contacts a number finds.
pub async fn lookup(
    State(st): State<AppState>,
    q: Result<Query<LookupQuery>, QueryRejection>,
) -> Result<Json<Vec<ContactMatch>>, AppError> {
    let Query(q) = q.map_err(|e| AppError::bad_request(e.body_text()))?;
    Ok(Json(contacts::lookup(&st, q.number).await?))
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
    Ok(Json(ops::save_settings(&st, config).await?))
}

/// `POST /api/contacts/sync`: sync the CardDAV address books now; `{"books": [...]}`, each
/// with its state, message and what the sync did.
pub async fn sync_contacts(State(st): State<AppState>) -> Json<Value> {
    Json(json!({"books": ops::sync_contacts(&st).await}))
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
