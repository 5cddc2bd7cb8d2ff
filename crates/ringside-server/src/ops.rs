//! What the agent can do, once: the HTTP handlers in `api.rs` and the desktop shell's Tauri
//! commands are both thin wrappers over these functions.

use crate::app::{AppState, Settings};
use crate::error::AppError;
use crate::simulate;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ringside_core::config::Config;
use ringside_core::links::{self, RecordValues, Template};
use ringside_core::phone;
use ringside_core::providers::scenario;
use ringside_core::spreadsheet::defuse_formula;
use ringside_core::store::CallQuery;
use ringside_core::{Call, CallState, CallWithTimeline, Direction};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Which calls to list (`GET /api/calls` query, the `list_calls` command's argument).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct CallFilter {
    /// Number (any punctuation) or text to find.
    pub q: Option<String>,
    pub state: Option<CallState>,
    pub direction: Option<Direction>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<usize>,
    /// Paging: the last call of the previous page.
    pub before: Option<DateTime<Utc>>,
    pub before_id: Option<String>,
    /// The API token, when the browser sends it in the query; not a filter.
    #[serde(default)]
    #[ts(skip)]
    pub token: Option<String>,
}

impl From<CallFilter> for CallQuery {
    fn from(f: CallFilter) -> Self {
        CallQuery {
            limit: f.limit,
            before: f.before,
            before_id: f.before_id,
            state: f.state,
            direction: f.direction,
            since: f.since,
            until: f.until,
            q: f.q.filter(|q| !q.trim().is_empty()),
        }
    }
}

/// A webhook to paste into a provider's console.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Webhook {
    pub provider: String,
    /// `/hooks/<provider>/<token>` (or `/hooks/voiceshot` with Basic auth).
    pub path: String,
    /// This listener's URL plus the path; behind a proxy, use the proxy's host instead.
    pub url: String,
    pub enabled: bool,
    /// `token` or `basic`.
    pub auth: String,
}

/// What `GET /api/settings` shows instead of a stored password or signing secret; sending it
/// back unchanged keeps the stored one.
pub const KEPT_SECRET: &str = "********";

/// The settings page's view: the config plus what follows from it. Passwords and signing
/// secrets read [`KEPT_SECRET`]; tokens are shown, as they are part of the webhook URLs.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SettingsView {
    pub config: Config,
    pub config_path: String,
    pub listen_url: String,
    /// `[agent] identities` as calls name them (numbers in E.164).
    pub identities: Vec<String>,
    pub webhooks: Vec<Webhook>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ScenarioInfo {
    pub name: String,
    pub provider: String,
    pub description: String,
}

pub async fn list_calls(st: &AppState, filter: CallFilter) -> Result<Vec<Call>, AppError> {
    let q: CallQuery = filter.into();
    Ok(st.blocking_read(move |s| s.calls(&q)).await?)
}

pub async fn get_call(st: &AppState, id: &str) -> Result<CallWithTimeline, AppError> {
    let key = id.to_string();
    st.blocking_read(move |s| s.call(&key))
        .await?
        .ok_or_else(|| AppError::not_found(format!("no call `{id}`")))
}

pub async fn missed(st: &AppState) -> Result<Vec<Call>, AppError> {
    Ok(st.blocking_read(|s| s.missed()).await?)
}

pub async fn mark_done(st: &AppState, id: &str) -> Result<Call, AppError> {
    st.engine
        .set_done(id, true, (st.clock)())
        .await?
        .ok_or_else(|| AppError::not_found(format!("no call `{id}`")))
}

/// Mark every missed call done; returns how many.
pub async fn mark_all_done(st: &AppState) -> Result<usize, AppError> {
    let ids = st.blocking_read(|s| s.missed_ids()).await?;
    let now = (st.clock)();
    for id in &ids {
        st.engine.set_done(id, true, now).await?;
    }
    Ok(ids.len())
}

/// The URI that calls the other party of call `id` back.
pub async fn callback_uri(st: &AppState, id: &str) -> Result<String, AppError> {
    let call = get_call(st, id).await?.call;
    let settings = st.settings();
    let number = links::other_party(&call).ok_or_else(|| not_callable("the call has no number"))?;
    links::callback_uri(number, &settings.config.callback, settings.config.region())
        .map_err(|e| not_callable(e.0))
}

fn not_callable(message: impl Into<String>) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_callable", message)
}

/// The record URL for call `id`'s other party as contact `key` (one of the call's matches;
/// default the best one): that contact's own record URL when it has one, else the `[crm] url`
/// template filled in; `None` when there is neither.
pub async fn record_url(
    st: &AppState,
    id: &str,
    key: Option<&str>,
) -> Result<Option<String>, AppError> {
    let call = get_call(st, id).await?.call;
    let chosen = match key {
        Some(k) => Some(
            call.contacts
                .iter()
                .find(|m| m.key == k)
                .ok_or_else(|| AppError::not_found(format!("call `{id}` has no contact `{k}`")))?,
        ),
        None => call.contacts.first(),
    };
    if let Some(url) = chosen.and_then(|m| m.record_url.clone()) {
        if links::openable(&url) {
            return Ok(Some(url));
        }
    }
    let settings = st.settings();
    let Some(template) = &settings.config.crm.url else {
        return Ok(None);
    };
    let template = Template::parse(template).map_err(AppError::bad_request)?;
    Ok(Some(template.fill(&RecordValues::for_match(
        &call,
        chosen,
        settings.config.region(),
    ))))
}

pub fn settings_view(st: &AppState) -> SettingsView {
    let s = st.settings();
    let region = s.config.region();
    let webhooks = s
        .hooks
        .iter()
        .flat_map(|h| {
            let token = h.token.as_ref().map(|t| {
                let path = format!("/hooks/{}/{t}", h.provider);
                (path, "token")
            });
            let basic = h
                .basic_auth
                .as_ref()
                .map(|_| (format!("/hooks/{}", h.provider), "basic"));
            [token, basic]
                .into_iter()
                .flatten()
                .map(|(path, auth)| Webhook {
                    provider: h.provider.to_string(),
                    url: format!("{}{path}", st.listen_url),
                    path,
                    enabled: h.enabled,
                    auth: auth.into(),
                })
        })
        .collect();
    SettingsView {
        identities: s
            .config
            .agent
            .identities
            .iter()
            .map(|i| phone::normalize(i, region))
            .collect(),
        config: redacted(&s.config),
        config_path: s.path.display().to_string(),
        listen_url: st.listen_url.clone(),
        webhooks,
    }
}

/// Every secret in `c`, by a stable name: passwords, signing secrets, CRM header values. A
/// CardDAV password is named by its book's name and URL, so it never goes to another server.
fn secrets(c: &mut Config) -> Vec<(String, &mut String)> {
    let mut v: Vec<(String, &mut String)> = Vec::new();
    let p = &mut c.providers;
    if let Some(s) = p.voiceshot.as_mut().and_then(|x| x.password.as_mut()) {
        v.push(("providers.voiceshot.password".into(), s));
    }
    if let Some(s) = p.whippy.as_mut().and_then(|x| x.signing_secret.as_mut()) {
        v.push(("providers.whippy.signing_secret".into(), s));
    }
    if let Some(s) = p.xelion.as_mut().and_then(|x| x.password.as_mut()) {
        v.push(("providers.xelion.password".into(), s));
    }
    for b in &mut c.contacts.carddav {
        if let Some(s) = b.password.as_mut() {
            v.push((
                format!("contacts.carddav `{}` password for {}", b.name, b.url),
                s,
            ));
        }
    }
    if let Some(crm) = c.contacts.crm.as_mut() {
        for (k, val) in crm.headers.iter_mut() {
            v.push((format!("contacts.crm.headers.{k}"), val));
        }
    }
    v
}

fn redacted(c: &Config) -> Config {
    let mut c = c.clone();
    for (_, s) in secrets(&mut c) {
        *s = KEPT_SECRET.to_string();
    }
    c
}

/// Put back the stored secrets where the settings page sent [`KEPT_SECRET`]. A kept secret
/// with nothing stored under its name (a new entry, or a changed URL) must be typed again.
fn keep_secrets(new: &mut Config, old: &Config) -> Result<(), AppError> {
    let mut old = old.clone();
    let stored: std::collections::HashMap<String, String> = secrets(&mut old)
        .into_iter()
        .map(|(k, v)| (k, v.clone()))
        .collect();
    for (name, slot) in secrets(new) {
        if slot == KEPT_SECRET {
            match stored.get(&name) {
                Some(v) => *slot = v.clone(),
                None => {
                    return Err(AppError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_settings",
                        format!("{name}: nothing is stored to keep; type the secret"),
                    ))
                }
            }
        }
    }
    Ok(())
}

/// Check, save and apply new settings. Nothing changes when they are refused.
pub async fn save_settings(st: &AppState, mut config: Config) -> Result<SettingsView, AppError> {
    keep_secrets(&mut config, &st.settings().config)?;
    config.check().map_err(|e| {
        AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid_settings",
            format!("{e:#}"),
        )
    })?;
    let path = st.settings().path.clone();
    config
        .save(&path)
        .map_err(|e| AppError::internal(e.context(format!("saving {}", path.display()))))?;
    let lookup = config.contacts.lookup_settings();
    st.replace_settings(Settings::new(config, path));
    st.engine.set_lookup(lookup).await?;
    tracing::info!("settings saved");
    Ok(settings_view(st))
}

/// Sync every CardDAV address book now; how each went.
pub async fn sync_contacts(st: &AppState) -> Vec<crate::carddav::BookSync> {
    crate::carddav::sync_now(st).await
}

pub fn scenarios() -> Vec<ScenarioInfo> {
    scenario::all()
        .into_iter()
        .map(|s| ScenarioInfo {
            name: s.name.into(),
            provider: s.provider.to_string(),
            description: s.description.into(),
        })
        .collect()
}

/// Start scenario `name` against this very listener, in the background, at a watchable pace.
pub fn simulate(st: &AppState, name: &str) -> Result<(), AppError> {
    let scenario = scenario::named(name)
        .ok_or_else(|| AppError::not_found(format!("no scenario `{name}`")))?;
    let config = st.settings().config.clone();
    let base = st.listen_url.clone();
    tokio::spawn(async move {
        if let Err(e) = simulate::send(&config, &[scenario], &base, false, |_| {}).await {
            tracing::warn!("test call {}: {e:#}", scenario.name);
        }
    });
    Ok(())
}

/// Calls as CSV, for a spreadsheet. Cells that a spreadsheet would run as a formula are
/// prefixed with `'`.
pub async fn calls_csv(st: &AppState, filter: CallFilter) -> Result<String, AppError> {
    let mut filter = filter;
    filter.limit = Some(filter.limit.unwrap_or(1000));
    let calls = list_calls(st, filter).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "provider",
        "direction",
        "state",
        "from",
        "to",
        "answered_by",
        "started_at",
        "answered_at",
        "ended_at",
        "duration_s",
        "end_reason",
        "recording_url",
    ];
    w.write_record(header).map_err(anyhow::Error::from)?;
    let t = |d: Option<DateTime<Utc>>| d.map(|d| d.to_rfc3339()).unwrap_or_default();
    for c in calls {
        let row = [
            c.id.clone(),
            c.provider.to_string(),
            serde_plain(&c.direction),
            c.state.as_str().to_string(),
            c.from.clone().unwrap_or_default(),
            c.to.clone().unwrap_or_default(),
            c.answered_by.clone().unwrap_or_default(),
            c.started_at.to_rfc3339(),
            t(c.answered_at),
            t(c.ended_at),
            c.duration_s.map(|d| d.to_string()).unwrap_or_default(),
            c.end_reason.as_ref().map(serde_plain).unwrap_or_default(),
            c.recording_url.clone().unwrap_or_default(),
        ];
        w.write_record(row.iter().map(|v| defuse_formula(v)))
            .map_err(anyhow::Error::from)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(String::from_utf8(bytes).map_err(anyhow::Error::from)?)
}

fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
