//! Tauri commands: each takes the shared state, calls the same `ops` function the HTTP API
//! calls, and maps the error to `{code, message}`.

use crate::desktop::{apply_autostart, Shared};
use ringside_core::contacts::{Contact, ContactInput};
use ringside_core::links;
use ringside_core::{Call, CallWithTimeline, ContactMatch};
use ringside_server::contacts::{self, ContactFilter, ContactFormat, ImportResult};
use ringside_server::error::AppError;
use ringside_server::ops::{self, CallFilter, ScenarioInfo, SettingsView};
use tauri::{AppHandle, Manager};
use tauri_plugin_opener::OpenerExt;

type Result<T> = std::result::Result<T, AppError>;

#[tauri::command]
pub async fn list_calls(st: Shared<'_>, query: CallFilter) -> Result<Vec<Call>> {
    ops::list_calls(&st, query).await
}

#[tauri::command]
pub async fn get_call(st: Shared<'_>, id: String) -> Result<CallWithTimeline> {
    ops::get_call(&st, &id).await
}

#[tauri::command]
pub async fn list_missed(st: Shared<'_>) -> Result<Vec<Call>> {
    ops::missed(&st).await
}

#[tauri::command]
pub async fn mark_done(st: Shared<'_>, id: String) -> Result<Call> {
    ops::mark_done(&st, &id).await
}

#[tauri::command]
pub async fn mark_all_done(st: Shared<'_>) -> Result<usize> {
    ops::mark_all_done(&st).await
}

/// Build the call-back URI and hand it to the OS; returns the URI.
#[tauri::command]
pub async fn call_back(app: AppHandle, st: Shared<'_>, id: String) -> Result<String> {
    let uri = ops::callback_uri(&st, &id).await?;
    open(&app, &uri)?;
    Ok(uri)
}

/// Open the caller's record, as contact `contact` (one of the call's matches; default the
/// best); returns its URL, or None when there is no record to open.
#[tauri::command]
pub async fn open_record(
    app: AppHandle,
    st: Shared<'_>,
    id: String,
    contact: Option<String>,
) -> Result<Option<String>> {
    let url = ops::record_url(&st, &id, contact.as_deref()).await?;
    if let Some(url) = &url {
        open(&app, url)?;
    }
    Ok(url)
}

#[tauri::command]
pub fn get_settings(st: Shared<'_>) -> SettingsView {
    ops::settings_view(&st)
}

#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    st: Shared<'_>,
    config: ringside_core::config::Config,
) -> Result<SettingsView> {
    let view = ops::save_settings(&st, config).await?;
    apply_autostart(&app, view.config.app.autostart);
    Ok(view)
}

#[tauri::command]
pub fn list_scenarios() -> Vec<ScenarioInfo> {
    ops::scenarios()
}

#[tauri::command]
pub fn simulate(st: Shared<'_>, name: String) -> Result<()> {
    ops::simulate(&st, &name)
}

/// Save the calls as CSV in the Downloads folder; returns the file's path.
#[tauri::command]
pub async fn export_csv(app: AppHandle, st: Shared<'_>, query: CallFilter) -> Result<String> {
    let csv = ops::calls_csv(&st, query).await?;
    save_download(&app, &st, "ringside-calls", "csv", &csv)
}

/// Write `body` as `<stem>-<time>.<ext>` in the Downloads folder (else home); returns the path.
fn save_download(
    app: &AppHandle,
    st: &Shared<'_>,
    stem: &str,
    ext: &str,
    body: &str,
) -> Result<String> {
    let dir = app
        .path()
        .download_dir()
        .or_else(|_| app.path().home_dir())
        .map_err(|e| AppError::internal(anyhow::anyhow!("no folder to save to: {e}")))?;
    let name = format!("{stem}-{}.{ext}", (st.clock)().format("%Y%m%d-%H%M%S"));
    let path = dir.join(name);
    std::fs::write(&path, body)
        .map_err(|e| AppError::internal(anyhow::anyhow!("writing {}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

#[tauri::command]
pub async fn list_contacts(st: Shared<'_>, query: ContactFilter) -> Result<Vec<Contact>> {
    contacts::list(&st, query).await
}

#[tauri::command]
pub async fn create_contact(st: Shared<'_>, input: ContactInput) -> Result<Contact> {
    contacts::create(&st, input).await
}

#[tauri::command]
pub async fn update_contact(st: Shared<'_>, id: i64, input: ContactInput) -> Result<Contact> {
    contacts::update(&st, id, input).await
}

#[tauri::command]
pub async fn delete_contact(st: Shared<'_>, id: i64) -> Result<()> {
    contacts::delete(&st, id).await
}

/// Import a CSV or vCard file's text (`mapping`: CSV `field=Header` overrides).
#[tauri::command]
pub async fn import_contacts(
    st: Shared<'_>,
    text: String,
    format: Option<ContactFormat>,
    mapping: Vec<String>,
) -> Result<ImportResult> {
    contacts::import(&st, text.into_bytes(), format, mapping).await
}

/// Save every contact as a CSV or vCard file in the Downloads folder; returns its path.
#[tauri::command]
pub async fn export_contacts(
    app: AppHandle,
    st: Shared<'_>,
    format: ContactFormat,
) -> Result<String> {
    let body = contacts::export(&st, format).await?;
    let ext = match format {
        ContactFormat::Csv => "csv",
        ContactFormat::Vcard => "vcf",
    };
    save_download(&app, &st, "ringside-contacts", ext, &body)
}

/// Sync every CardDAV address book now; answers when they are done.
#[tauri::command]
pub async fn sync_contacts(st: Shared<'_>) -> Result<Vec<ringside_server::carddav::BookSync>> {
    Ok(ops::sync_contacts(&st).await)
}

#[tauri::command]
pub async fn lookup_number(st: Shared<'_>, number: String) -> Result<Vec<ContactMatch>> {
    contacts::lookup(&st, number).await
}

#[tauri::command]
pub fn status(st: Shared<'_>) -> ringside_server::status::Status {
    ringside_server::status::current(&st)
}

/// Hand `uri` to the OS, after the one check every opened URI passes.
pub fn open(app: &AppHandle, uri: &str) -> Result<()> {
    if !links::openable(uri) {
        return Err(AppError::bad_request(format!(
            "refusing to open `{uri}`: only http(s), tel, sip and callto links are opened"
        )));
    }
    app.opener()
        .open_url(uri, None::<&str>)
        .map_err(|e| AppError::internal(anyhow::anyhow!("opening {uri}: {e}")))
}
