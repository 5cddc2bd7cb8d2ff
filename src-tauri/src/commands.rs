//! Tauri commands: each takes the shared state, calls the same `ops` function the HTTP API
//! calls, and maps the error to `{code, message}`.

use crate::desktop::{apply_autostart, Shared};
use ringside_core::links;
use ringside_core::{Call, CallWithTimeline};
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

/// Open the caller's CRM record; returns its URL, or None without a CRM template.
#[tauri::command]
pub async fn open_record(app: AppHandle, st: Shared<'_>, id: String) -> Result<Option<String>> {
    let url = ops::record_url(&st, &id).await?;
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
pub fn save_settings(
    app: AppHandle,
    st: Shared<'_>,
    config: ringside_core::config::Config,
) -> Result<SettingsView> {
    let view = ops::save_settings(&st, config)?;
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
    let dir = app
        .path()
        .download_dir()
        .or_else(|_| app.path().home_dir())
        .map_err(|e| AppError::internal(anyhow::anyhow!("no folder to save to: {e}")))?;
    let name = format!(
        "ringside-calls-{}.csv",
        (st.clock)().format("%Y%m%d-%H%M%S")
    );
    let path = dir.join(name);
    std::fs::write(&path, csv)
        .map_err(|e| AppError::internal(anyhow::anyhow!("writing {}: {e}", path.display())))?;
    Ok(path.display().to_string())
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
