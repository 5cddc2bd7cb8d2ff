//! `/api/*`: the application's operations over HTTP, each a few lines that take the request
//! apart, call [`ringside_app`] with the [`Viewer`] the token named and answer JSON; and
//! `/api/live`, the live stream as a websocket. Authentication is [`crate::auth`]'s.

use crate::app::MAX_CONTACTS_FILE;
use crate::error::HttpError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ringside_app::agents::{self, IssuedToken, MeView, TeamMember};
use ringside_app::call_view::CallView;
use ringside_app::calls::{self, CallFilter, CallerContext, Dialled, WrapupInput};
use ringside_app::carddav::BookSync;
use ringside_app::contacts::{self, ContactFilter, ContactFormat, ImportResult};
use ringside_app::error::{Error, Invalid};
use ringside_app::setup::{self, SettingsView};
use ringside_app::simulate::{self, ScenarioInfo};
use ringside_app::status::Status;
use ringside_app::viewer::Viewer;
use ringside_app::webhooks;
use ringside_app::Ringside;
use ringside_core::agents::NewAgent;
use ringside_core::config::Config;
use ringside_core::contacts::{Contact, ContactInput};
use ringside_core::store::OutboxMessage;
use ringside_core::{CallWithTimeline, ContactMatch};
use serde::Deserialize;
use serde_json::{json, Value};

type Answer<T> = Result<Json<T>, HttpError>;

/// A request refused as it came, before the application saw it: a body, query or path that
/// does not parse (400, with the code of what it was meant to be).
fn refused(what: Invalid, message: String) -> HttpError {
    HttpError::from(Error::invalid(what, message)).with_status(StatusCode::BAD_REQUEST)
}

/// A JSON body refused: over the size limit (413, as every body over its limit), or not the
/// JSON it must be (400).
fn refused_body(what: Invalid, e: JsonRejection) -> HttpError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        crate::body::too_large(crate::body::JSON_BODY)
    } else {
        refused(what, e.body_text())
    }
}

/// `GET /api/calls`
pub async fn calls(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Query(f): Query<CallFilter>,
) -> Answer<Vec<CallView>> {
    Ok(Json(calls::list(&r, &v, f).await?))
}

/// `GET /api/calls.csv`: every call the filter finds, streamed.
pub async fn calls_csv(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Query(f): Query<CallFilter>,
) -> Result<Response, HttpError> {
    let export = calls::CsvExport::start(&r, &v, f)?;
    Ok(download(
        "text/csv; charset=utf-8",
        "ringside-calls.csv",
        export.into_stream(),
    ))
}

/// `GET /api/calls/{id}`
pub async fn call(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Answer<CallWithTimeline> {
    Ok(Json(calls::get(&r, &v, &id).await?))
}

/// `GET /api/missed`
pub async fn missed(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
) -> Answer<Vec<CallView>> {
    Ok(Json(calls::missed(&r, &v).await?))
}

/// `POST /api/calls/{id}/done`
pub async fn done(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Answer<CallView> {
    Ok(Json(calls::mark_done(&r, &v, &id).await?))
}

/// `POST /api/calls/{id}/claim`: "I am calling back"; 409 naming the holder when someone else
/// is.
pub async fn claim(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Answer<CallView> {
    Ok(Json(calls::claim(&r, &v, &id).await?))
}

/// `DELETE /api/calls/{id}/claim`: let go of one's claim.
pub async fn release(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Answer<CallView> {
    Ok(Json(calls::release(&r, &v, &id).await?))
}

/// `POST /api/missed/done`
pub async fn all_done(State(r): State<Ringside>, Extension(v): Extension<Viewer>) -> Answer<Value> {
    Ok(Json(json!({"marked": calls::mark_all_done(&r, &v).await?})))
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
    Extension(v): Extension<Viewer>,
    body: Result<Json<DoneBody>, JsonRejection>,
) -> Answer<Vec<CallView>> {
    let Json(b) = body.map_err(|e| refused_body(Invalid::Request, e))?;
    Ok(Json(calls::set_done(&r, &v, &b.ids, b.done).await?))
}

/// `POST /api/calls/{id}/callback`: dial the other party as `[callback]` says; a link
/// (`uri`) the browser opens itself, or a request the phone system took.
pub async fn callback(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Answer<Dialled> {
    Ok(Json(calls::call_back(&r, &v, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialBody {
    number: String,
}

/// `POST /api/dial` `{"number": "+14155550123"}`: call a number, as "Call back" does.
pub async fn dial(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    body: Result<Json<DialBody>, JsonRejection>,
) -> Answer<Dialled> {
    let Json(b) = body.map_err(|e| refused_body(Invalid::Request, e))?;
    Ok(Json(calls::dial(&r, &v, &b.number).await?))
}

/// `POST /api/calls/{id}/wrapup` `{"disposition": "Sale", "note": "..."}`: the call with it.
pub async fn wrapup(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    body: Result<Json<WrapupInput>, JsonRejection>,
) -> Answer<CallView> {
    let Json(b) = body.map_err(|e| refused_body(Invalid::Request, e))?;
    Ok(Json(calls::wrap_up(&r, &v, &id, b).await?))
}

/// `GET /api/calls/{id}/recording`: the call's recording, fetched from the provider.
pub async fn recording(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let (content_type, body) = calls::recording(&r, &v, &id).await?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// `GET /api/calls/{id}/context`: the caller's earlier calls and open missed calls.
pub async fn context(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Answer<CallerContext> {
    Ok(Json(calls::context(&r, &v, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    contact: Option<String>,
}

/// `GET /api/calls/{id}/record?contact=KEY`: the record URL for the caller as contact `KEY`
/// (one of the call's matches; default the best one), or null when there is none.
pub async fn record(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<RecordQuery>,
) -> Answer<Value> {
    let url = calls::record_url(&r, &v, &id, q.contact.as_deref()).await?;
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
        .map_err(|e| refused_body(Invalid::Contact, e))
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
    Extension(v): Extension<Viewer>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, HttpError> {
    oversee(&v, "deleting a contact")?;
    contacts::delete(&r, contact_id(id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/contacts/import?format=csv|vcard&column=field=Header...`: the file is the body
/// (read once the request is authenticated, up to [`MAX_CONTACTS_FILE`]).
pub async fn import_contacts(State(r): State<Ringside>, req: Request) -> Answer<ImportResult> {
    let (parts, body) = req.into_parts();
    let uri = parts.uri;
    let v = parts
        .extensions
        .get::<Viewer>()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no viewer: the import is outside the guard"))
        .map_err(Error::Internal)?;
    oversee(&v, "importing contacts")?;
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
            other => {
                return Err(refused(
                    Invalid::Request,
                    format!("unknown parameter `{other}`"),
                ))
            }
        }
    }
    let body = crate::body::read(&parts.headers, body, MAX_CONTACTS_FILE).await?;
    if body.is_empty() {
        return Err(refused(Invalid::File, "the file is empty".into()));
    }
    Ok(Json(
        contacts::import(&r, body.to_vec(), format, mapping).await?,
    ))
}

/// `GET /api/contacts.csv`: every contact, streamed.
pub async fn contacts_csv(State(r): State<Ringside>) -> Result<Response, HttpError> {
    let export = contacts::Export::start(&r, ContactFormat::Csv).await?;
    Ok(download(
        "text/csv; charset=utf-8",
        "ringside-contacts.csv",
        export.into_stream(),
    ))
}

/// `GET /api/contacts.vcf`: every contact, streamed.
pub async fn contacts_vcf(State(r): State<Ringside>) -> Result<Response, HttpError> {
    let export = contacts::Export::start(&r, ContactFormat::Vcard).await?;
    Ok(download(
        "text/vcard; charset=utf-8",
        "ringside-contacts.vcf",
        export.into_stream(),
    ))
}

/// A file to save, streamed part by part. A failure half-way is logged and cuts the
/// transfer short (the status was sent with the first part), so the client sees an
/// incomplete download rather than a complete-looking one.
fn download(
    content_type: &'static str,
    file: &'static str,
    parts: impl futures_util::Stream<Item = Result<String, Error>> + Send + 'static,
) -> Response {
    use futures_util::TryStreamExt;
    let parts = parts.inspect_err(|e| tracing::error!("export cut short: {e}"));
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        axum::body::Body::from_stream(parts),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupQuery {
    number: String,
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
pub async fn settings(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
) -> Answer<SettingsView> {
    admin(&v, "the settings")?;
    Ok(Json(setup::view(&r)))
}

/// `PUT /api/settings`
pub async fn save_settings(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    body: Result<Json<Config>, JsonRejection>,
) -> Answer<SettingsView> {
    admin(&v, "the settings")?;
    let Json(config) = body.map_err(|e| refused_body(Invalid::Settings, e))?;
    Ok(Json(setup::save(&r, config).await?))
}

/// `POST /api/contacts/sync`: sync the CardDAV address books now; `{"books": [...]}`, each
/// with its state, message and what the sync did.
pub async fn sync_contacts(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
) -> Answer<Value> {
    oversee(&v, "syncing the address books")?;
    let books: Vec<BookSync> = ringside_app::carddav::sync_now(&r).await;
    Ok(Json(json!({ "books": books })))
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
    Extension(v): Extension<Viewer>,
    body: Result<Json<SimulateBody>, JsonRejection>,
) -> Result<Response, HttpError> {
    admin(&v, "a test call")?;
    let Json(body) = body.map_err(|e| refused_body(Invalid::Request, e))?;
    simulate::test_call(&r, &body.scenario)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"started": body.scenario})),
    )
        .into_response())
}

/// The admin's alone (on a hub, the API token's; an agent gets 403).
fn admin(v: &Viewer, what: &str) -> Result<(), HttpError> {
    match v.who {
        ringside_app::viewer::Who::Admin => Ok(()),
        _ => Err(Error::Forbidden(format!("{what}: the admin's (the API token)")).into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    hub_url: String,
    token: String,
}

/// `PUT /api/team {"hub_url": ..., "token": ...}`: "Connect to your team" (the admin of this
/// app): the hub must take the token as an agent's; linked, saved and in force at once.
pub async fn connect_team(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    body: Result<Json<TeamBody>, JsonRejection>,
) -> Answer<SettingsView> {
    admin(&v, "the team link")?;
    let Json(b) = body.map_err(|e| refused(Invalid::Request, e.body_text()))?;
    Ok(Json(setup::connect_team(&r, &b.hub_url, &b.token).await?))
}

/// `DELETE /api/team`: this app leaves its team and works on its own again.
pub async fn disconnect_team(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
) -> Answer<SettingsView> {
    admin(&v, "the team link")?;
    Ok(Json(setup::disconnect_team(&r).await?))
}

/// The admin's and supervisors'.
fn oversee(v: &Viewer, what: &str) -> Result<(), HttpError> {
    if v.oversees() {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("{what}: a supervisor's or the admin's")).into())
    }
}

/// `GET /api/me`: who the token is.
pub async fn me(State(r): State<Ringside>, Extension(v): Extension<Viewer>) -> Answer<MeView> {
    Ok(Json(agents::me(&r, &v).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeChange {
    dnd: bool,
}

/// `PUT /api/me {"dnd": true}`: an agent's do-not-disturb.
pub async fn set_me(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    body: Result<Json<MeChange>, JsonRejection>,
) -> Answer<MeView> {
    let Json(change) = body.map_err(|e| refused(Invalid::Request, e.body_text()))?;
    Ok(Json(agents::set_dnd(&r, &v, change.dnd).await?))
}

/// `GET /api/agents`: every agent and whether they are online (supervisors, the admin).
pub async fn agents(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
) -> Answer<Vec<TeamMember>> {
    Ok(Json(agents::list(&r, &v).await?))
}

/// `POST /api/agents {name, identities, groups, supervisor}`: 201 with the agent and their
/// token, shown this once (the admin).
pub async fn add_agent(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    body: Result<Json<NewAgent>, JsonRejection>,
) -> Result<Response, HttpError> {
    let Json(new) = body.map_err(|e| refused(Invalid::Request, e.body_text()))?;
    let issued: IssuedToken = agents::add(&r, &v, new).await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// `DELETE /api/agents/{name}`: their token stops working, their connections close.
pub async fn remove_agent(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(name): Path<String>,
) -> Result<StatusCode, HttpError> {
    agents::remove(&r, &v, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/agents/{name}/token`: a new token; the old one and its connections end at once.
pub async fn new_token(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(name): Path<String>,
) -> Answer<IssuedToken> {
    Ok(Json(agents::new_token(&r, &v, &name).await?))
}

/// `GET /api/webhooks`: the outbound webhooks' newest messages and their deliveries.
pub async fn webhooks(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
) -> Answer<Vec<OutboxMessage>> {
    Ok(Json(webhooks::list(&r, &v).await?))
}

/// `POST /api/webhooks/{id}/replay`: send message `id` again.
pub async fn replay_webhook(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Result<StatusCode, HttpError> {
    webhooks::replay(&r, &v, id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// How often the live websocket is pinged, so proxies and NATs keep it open.
const LIVE_PING: std::time::Duration = std::time::Duration::from_secs(20);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveQuery {
    /// Replay every change after this one first.
    after: Option<u64>,
    #[serde(default)]
    #[allow(dead_code)]
    token: Option<String>,
}

/// How long one frame may take to be taken by a client: one that takes no more is closed (it
/// reconnects and reloads). Frames meanwhile wait in its bounded queue
/// ([`ringside_app::live::SUBSCRIBER_BYTES`]), then it is owed a `resync`.
const LIVE_SEND: std::time::Duration = std::time::Duration::from_secs(10);

/// `GET /api/live[?after=SEQ]`: one text frame per [`ringside_app::live::LiveFrame`] the
/// token's viewer may see: `{"type":"call","seq":N,"call":{...}}` for each stored call change,
/// `{"type":"resync","seq":N}` when this client fell behind (it reloads from the API). With
/// `after`, every change since SEQ comes first (each call once, as it is now), or a resync
/// when there are too many. An agent's connection counts as them online, and closes when
/// their token is replaced.
pub async fn live(
    State(r): State<Ringside>,
    Extension(v): Extension<Viewer>,
    q: Result<Query<LiveQuery>, QueryRejection>,
    ws: WebSocketUpgrade,
) -> Result<Response, HttpError> {
    let Query(q) = q.map_err(|e| refused(Invalid::Request, e.body_text()))?;
    let frames = match q.after {
        Some(after) => r.live.subscribe_after(&r, v, after).await?,
        None => r.live.subscribe(v),
    };
    Ok(ws.on_upgrade(move |socket| stream(socket, r, frames)))
}

async fn stream(mut socket: WebSocket, r: Ringside, mut frames: ringside_app::live::Subscriber) {
    let agent = frames.viewer().agent_id();
    let _online = agent.map(|id| r.presence.connect(id));
    let mut revoked = r.revocations();
    let mut ping = tokio::time::interval(LIVE_PING);
    ping.tick().await;
    loop {
        let message = tokio::select! {
            frame = frames.next() => match frame {
                Some(f) => Message::Text(f.json.as_ref().into()),
                None => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            gone = revoked.recv() => match gone {
                Ok(id) if Some(id) != agent => continue,
                // Their token was replaced or they were removed (or revocations were missed:
                // close to be safe; the app reconnects with a token that still works).
                _ if agent.is_some() => {
                    let _ = socket
                        .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                            code: 4001,
                            reason: "token revoked".into(),
                        })))
                        .await;
                    return;
                }
                _ => continue,
            },
            _ = ping.tick() => Message::Ping(Vec::new().into()),
        };
        match tokio::time::timeout(LIVE_SEND, socket.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::info!(
                    "a live client took no frame for {} s: closed",
                    LIVE_SEND.as_secs()
                );
                return;
            }
        }
    }
}
