//! `/api/*`: the application's operations over HTTP, each a few lines that take the request
//! apart, call [`ringside_app`] and answer JSON; and `/api/live`, the live stream as a
//! websocket. Authentication is [`crate::auth`]'s.

use crate::error::HttpError;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ringside_app::call_view::CallView;
use ringside_app::calls::{self, CallFilter, CallerContext, Dialled, WrapupInput};
use ringside_app::carddav::BookSync;
use ringside_app::contacts::{self, ContactFilter, ContactFormat, ImportResult};
use ringside_app::error::{Error, Invalid};
use ringside_app::setup::{self, SettingsView};
use ringside_app::simulate::{self, ScenarioInfo};
use ringside_app::status::Status;
use ringside_app::Ringside;
use ringside_core::config::Config;
use ringside_core::contacts::{Contact, ContactInput};
use ringside_core::{CallWithTimeline, ContactMatch};
use serde::Deserialize;
use serde_json::{json, Value};

type Answer<T> = Result<Json<T>, HttpError>;

/// A request refused as it came, before the application saw it: a body, query or path that
/// does not parse (400, with the code of what it was meant to be).
fn refused(what: Invalid, message: String) -> HttpError {
    HttpError::from(Error::invalid(what, message)).with_status(StatusCode::BAD_REQUEST)
}

/// `GET /api/calls`
pub async fn calls(
    State(r): State<Ringside>,
    Query(f): Query<CallFilter>,
) -> Answer<Vec<CallView>> {
    Ok(Json(calls::list(&r, f).await?))
}

/// `GET /api/calls.csv`
pub async fn calls_csv(
    State(r): State<Ringside>,
    Query(f): Query<CallFilter>,
) -> Result<Response, HttpError> {
    Ok(download(
        "text/csv; charset=utf-8",
        "ringside-calls.csv",
        calls::csv(&r, f).await?,
    ))
}

/// `GET /api/calls/{id}`
pub async fn call(State(r): State<Ringside>, Path(id): Path<String>) -> Answer<CallWithTimeline> {
    Ok(Json(calls::get(&r, &id).await?))
}

/// `GET /api/missed`
pub async fn missed(State(r): State<Ringside>) -> Answer<Vec<CallView>> {
    Ok(Json(calls::missed(&r).await?))
}

/// `POST /api/calls/{id}/done`
pub async fn done(State(r): State<Ringside>, Path(id): Path<String>) -> Answer<CallView> {
    Ok(Json(calls::mark_done(&r, &id).await?))
}

/// `POST /api/missed/done`
pub async fn all_done(State(r): State<Ringside>) -> Answer<Value> {
    Ok(Json(json!({"marked": calls::mark_all_done(&r).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoneBody {
    ids: Vec<String>,
    #[serde(default = "yes")]
    done: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/calls/done` `{"ids": [...], "done": true|false}`: mark those calls done, or
/// not done again (undo); the calls as they are now.
pub async fn done_many(
    State(r): State<Ringside>,
    body: Result<Json<DoneBody>, JsonRejection>,
) -> Answer<Vec<CallView>> {
    let Json(b) = body.map_err(|e| refused(Invalid::Request, e.body_text()))?;
    Ok(Json(calls::set_done(&r, &b.ids, b.done).await?))
}

/// `POST /api/calls/{id}/callback`: dial the other party as `[callback]` says; a link
/// (`uri`) the browser opens itself, or a request the phone system took.
pub async fn callback(State(r): State<Ringside>, Path(id): Path<String>) -> Answer<Dialled> {
    Ok(Json(calls::call_back(&r, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialBody {
    number: String,
}

/// `POST /api/dial` `{"number": "+14155550123"}`: call a number, as "Call back" does.
pub async fn dial(
    State(r): State<Ringside>,
    body: Result<Json<DialBody>, JsonRejection>,
) -> Answer<Dialled> {
    let Json(b) = body.map_err(|e| refused(Invalid::Request, e.body_text()))?;
    Ok(Json(calls::dial(&r, &b.number).await?))
}

/// `POST /api/calls/{id}/wrapup` `{"disposition": "Sale", "note": "..."}`: the call with it.
pub async fn wrapup(
    State(r): State<Ringside>,
    Path(id): Path<String>,
    body: Result<Json<WrapupInput>, JsonRejection>,
) -> Answer<CallView> {
    let Json(b) = body.map_err(|e| refused(Invalid::Request, e.body_text()))?;
    Ok(Json(calls::wrap_up(&r, &id, b).await?))
}

/// `GET /api/calls/{id}/recording`: the call's recording, fetched from the provider.
pub async fn recording(
    State(r): State<Ringside>,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let (content_type, body) = calls::recording(&r, &id).await?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// `GET /api/calls/{id}/context`: the caller's earlier calls and open missed calls.
pub async fn context(State(r): State<Ringside>, Path(id): Path<String>) -> Answer<CallerContext> {
    Ok(Json(calls::context(&r, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    contact: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    token: Option<String>,
}

/// `GET /api/calls/{id}/record?contact=KEY`: the record URL for the caller as contact `KEY`
/// (one of the call's matches; default the best one), or null when there is none.
pub async fn record(
    State(r): State<Ringside>,
    Path(id): Path<String>,
    Query(q): Query<RecordQuery>,
) -> Answer<Value> {
    let url = calls::record_url(&r, &id, q.contact.as_deref()).await?;
    Ok(Json(json!({ "url": url })))
}

/// `GET /api/contacts`
pub async fn contacts(
    State(r): State<Ringside>,
    Query(f): Query<ContactFilter>,
) -> Answer<Vec<Contact>> {
    Ok(Json(contacts::list(&r, f).await?))
}

fn contact_id(id: Result<Path<i64>, PathRejection>) -> Result<i64, HttpError> {
    id.map(|Path(id)| id)
        .map_err(|_| Error::not_found("contact ids are numbers").into())
}

fn contact_body(
    body: Result<Json<ContactInput>, JsonRejection>,
) -> Result<ContactInput, HttpError> {
    body.map(|Json(b)| b)
        .map_err(|e| refused(Invalid::Contact, e.body_text()))
}

/// `GET /api/contacts/{id}`
pub async fn contact(
    State(r): State<Ringside>,
    id: Result<Path<i64>, PathRejection>,
) -> Answer<Contact> {
    Ok(Json(contacts::get(&r, contact_id(id)?).await?))
}

/// `POST /api/contacts`: 201 with the contact.
pub async fn create_contact(
    State(r): State<Ringside>,
    body: Result<Json<ContactInput>, JsonRejection>,
) -> Result<Response, HttpError> {
    let c = contacts::create(&r, contact_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// `PUT /api/contacts/{id}`
pub async fn update_contact(
    State(r): State<Ringside>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<ContactInput>, JsonRejection>,
) -> Answer<Contact> {
    let id = contact_id(id)?;
    Ok(Json(contacts::update(&r, id, contact_body(body)?).await?))
}

/// `DELETE /api/contacts/{id}`: 204.
pub async fn delete_contact(
    State(r): State<Ringside>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, HttpError> {
    contacts::delete(&r, contact_id(id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/contacts/import?format=csv|vcard&column=field=Header...`: the file is the body.
pub async fn import_contacts(
    State(r): State<Ringside>,
    uri: Uri,
    body: Bytes,
) -> Answer<ImportResult> {
    let mut format = None;
    let mut mapping = Vec::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "format" => {
                format = Some(match v.as_ref() {
                    "csv" => ContactFormat::Csv,
                    "vcard" | "vcf" => ContactFormat::Vcard,
                    other => {
                        return Err(refused(
                            Invalid::Request,
                            format!("format `{other}`: use csv or vcard"),
                        ))
                    }
                })
            }
            "column" => mapping.push(v.into_owned()),
            "token" => {}
            other => {
                return Err(refused(
                    Invalid::Request,
                    format!("unknown parameter `{other}`"),
                ))
            }
        }
    }
    if body.is_empty() {
        return Err(refused(Invalid::File, "the file is empty".into()));
    }
    Ok(Json(
        contacts::import(&r, body.to_vec(), format, mapping).await?,
    ))
}

/// `GET /api/contacts.csv`
pub async fn contacts_csv(State(r): State<Ringside>) -> Result<Response, HttpError> {
    let body = contacts::export(&r, ContactFormat::Csv).await?;
    Ok(download(
        "text/csv; charset=utf-8",
        "ringside-contacts.csv",
        body,
    ))
}

/// `GET /api/contacts.vcf`
pub async fn contacts_vcf(State(r): State<Ringside>) -> Result<Response, HttpError> {
    let body = contacts::export(&r, ContactFormat::Vcard).await?;
    Ok(download(
        "text/vcard; charset=utf-8",
        "ringside-contacts.vcf",
        body,
    ))
}

/// `body` as a file to save.
fn download(content_type: &'static str, file: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response()
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
    State(r): State<Ringside>,
    q: Result<Query<LookupQuery>, QueryRejection>,
) -> Answer<Vec<ContactMatch>> {
    let Query(q) = q.map_err(|e| refused(Invalid::Request, e.body_text()))?;
    Ok(Json(contacts::lookup(&r, q.number).await?))
}

/// `GET /api/settings`
pub async fn settings(State(r): State<Ringside>) -> Json<SettingsView> {
    Json(setup::view(&r))
}

/// `PUT /api/settings`
pub async fn save_settings(
    State(r): State<Ringside>,
    body: Result<Json<Config>, JsonRejection>,
) -> Answer<SettingsView> {
    let Json(config) = body.map_err(|e| refused(Invalid::Settings, e.body_text()))?;
    Ok(Json(setup::save(&r, config).await?))
}

/// `POST /api/contacts/sync`: sync the CardDAV address books now; `{"books": [...]}`, each
/// with its state, message and what the sync did.
pub async fn sync_contacts(State(r): State<Ringside>) -> Json<Value> {
    let books: Vec<BookSync> = ringside_app::carddav::sync_now(&r).await;
    Json(json!({ "books": books }))
}

/// `GET /api/status`: `{"version": "...", "sources": [...]}`.
pub async fn status(State(r): State<Ringside>) -> Json<Status> {
    Json(r.status())
}

/// `GET /api/scenarios`
pub async fn scenarios() -> Json<Vec<ScenarioInfo>> {
    Json(simulate::scenarios())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulateBody {
    scenario: String,
}

/// `POST /api/simulate`: start a test call; 202 at once, the call follows on `/api/live`.
pub async fn simulate(
    State(r): State<Ringside>,
    body: Result<Json<SimulateBody>, JsonRejection>,
) -> Result<Response, HttpError> {
    let Json(body) = body.map_err(|e| refused(Invalid::Request, e.body_text()))?;
    simulate::test_call(&r, &body.scenario)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"started": body.scenario})),
    )
        .into_response())
}

/// How often the live websocket is pinged, so proxies and NATs keep it open.
const LIVE_PING: std::time::Duration = std::time::Duration::from_secs(20);

/// `GET /api/live`: one text frame per [`ringside_app::live::LiveFrame`]: `{"type":"call",
/// "seq":N,"call":{...}}` for each stored call change, `{"type":"resync","seq":N}` when this
/// client fell behind (it reloads from the API).
pub async fn live(State(r): State<Ringside>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| stream(socket, r))
}

async fn stream(mut socket: WebSocket, r: Ringside) {
    let mut frames = r.live.subscribe();
    let mut ping = tokio::time::interval(LIVE_PING);
    ping.tick().await;
    loop {
        tokio::select! {
            frame = frames.next() => match frame {
                Some(f) => {
                    if socket.send(Message::Text(f.json.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                None => return,
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
