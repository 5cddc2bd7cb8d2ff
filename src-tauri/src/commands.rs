//! Tauri commands: each takes the shared [`Ringside`], calls the same `ringside_app` function
//! the HTTP API calls, and sends its error as it serializes (`{code, message, field}`).

use crate::pops::Pops;
use crate::window::{apply_autostart, open, set_mini_window, show_main_window};
use ringside_app::call_view::CallView;
use ringside_app::calls::{self, CallFilter, CallerContext, Dialled, WrapupInput};
use ringside_app::carddav::BookSync;
use ringside_app::contacts::{self, ContactFilter, ContactFormat, ImportResult};
use ringside_app::error::Error;
use ringside_app::setup::{self, SettingsView};
use ringside_app::simulate::{self, ScenarioInfo};
use ringside_app::status::Status;
use ringside_app::Ringside;
use ringside_core::contacts::{Contact, ContactInput};
use ringside_core::screenpop::Phrases;
use ringside_core::{CallWithTimeline, ContactMatch};
use tauri::{AppHandle, Manager};

type Result<T> = std::result::Result<T, Error>;

/// The state the commands share.
type Shared<'a> = tauri::State<'a, Ringside>;

#[tauri::command]
pub async fn list_calls(r: Shared<'_>, query: CallFilter) -> Result<Vec<CallView>> {
    calls::list(&r, query).await
}

#[tauri::command]
pub async fn get_call(r: Shared<'_>, id: String) -> Result<CallWithTimeline> {
    calls::get(&r, &id).await
}

#[tauri::command]
pub async fn list_missed(r: Shared<'_>) -> Result<Vec<CallView>> {
    calls::missed(&r).await
}

#[tauri::command]
pub async fn mark_done(r: Shared<'_>, id: String) -> Result<CallView> {
    calls::mark_done(&r, &id).await
}

#[tauri::command]
pub async fn mark_all_done(r: Shared<'_>) -> Result<usize> {
    calls::mark_all_done(&r).await
}

/// Call the other party back as `[callback]` says: a link handed to the OS, or a request the
/// phone system took.
#[tauri::command]
pub async fn call_back(app: AppHandle, r: Shared<'_>, id: String) -> Result<Dialled> {
    let done = calls::call_back(&r, &id).await?;
    if let Some(uri) = &done.uri {
        open(&app, uri)?;
    }
    Ok(done)
}

/// Call a number (from a contact, the history), as "Call back" does.
#[tauri::command]
pub async fn dial(app: AppHandle, r: Shared<'_>, number: String) -> Result<Dialled> {
    let done = calls::dial(&r, &number).await?;
    if let Some(uri) = &done.uri {
        open(&app, uri)?;
    }
    Ok(done)
}

/// Mark calls done, or not done again (undo).
#[tauri::command]
pub async fn set_done(r: Shared<'_>, ids: Vec<String>, done: bool) -> Result<Vec<CallView>> {
    calls::set_done(&r, &ids, done).await
}

#[tauri::command]
pub async fn wrap_up(r: Shared<'_>, id: String, input: WrapupInput) -> Result<CallView> {
    calls::wrap_up(&r, &id, input).await
}

/// The call's recording, fetched from the provider, as bytes for the window to play.
#[tauri::command]
pub async fn recording(r: Shared<'_>, id: String) -> Result<tauri::ipc::Response> {
    let (_, body) = calls::recording(&r, &id).await?;
    Ok(tauri::ipc::Response::new(body))
}

#[tauri::command]
pub async fn caller_context(r: Shared<'_>, id: String) -> Result<CallerContext> {
    calls::context(&r, &id).await
}

/// The words of the pops and the tray, in the language the UI speaks.
#[tauri::command]
pub fn set_phrases(pops: tauri::State<'_, Pops>, phrases: Phrases) {
    pops.set_phrases(phrases);
}

/// Bring the main window forward (the mini window's "Show Ringside").
#[tauri::command]
pub fn show_main(app: AppHandle) {
    show_main_window(&app);
}

/// Put the mini window away until the next call.
#[tauri::command]
pub fn hide_mini(app: AppHandle) {
    set_mini_window(&app, false);
}

/// Open the caller's record, as contact `contact` (one of the call's matches; default the
/// best); returns its URL, or None when there is no record to open.
#[tauri::command]
pub async fn open_record(
    app: AppHandle,
    r: Shared<'_>,
    id: String,
    contact: Option<String>,
) -> Result<Option<String>> {
    let url = calls::record_url(&r, &id, contact.as_deref()).await?;
    if let Some(url) = &url {
        open(&app, url)?;
    }
    Ok(url)
}

#[tauri::command]
pub fn get_settings(r: Shared<'_>) -> SettingsView {
    setup::view(&r)
}

#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    r: Shared<'_>,
    config: ringside_core::config::Config,
) -> Result<SettingsView> {
    let view = setup::save(&r, config).await?;
    apply_autostart(&app, view.config.app.autostart);
    crate::shortcuts::apply(&app, &view.config.app);
    Ok(view)
}

#[tauri::command]
pub fn list_scenarios() -> Vec<ScenarioInfo> {
    simulate::scenarios()
}

#[tauri::command]
pub fn simulate(r: Shared<'_>, name: String) -> Result<()> {
    simulate::test_call(&r, &name)
}

/// Save the calls as CSV in the Downloads folder; returns the file's path.
#[tauri::command]
pub async fn export_csv(app: AppHandle, r: Shared<'_>, query: CallFilter) -> Result<String> {
    let csv = calls::csv(&r, query).await?;
    save_download(&app, &r, "ringside-calls", "csv", &csv)
}

/// Write `body` as `<stem>-<time>.<ext>` in the Downloads folder (else home); returns the path.
fn save_download(
    app: &AppHandle,
    r: &Ringside,
    stem: &str,
    ext: &str,
    body: &str,
) -> Result<String> {
    let dir = app
        .path()
        .download_dir()
        .or_else(|_| app.path().home_dir())
        .map_err(|e| Error::Internal(anyhow::anyhow!("no folder to save to: {e}")))?;
    let name = format!("{stem}-{}.{ext}", r.now().format("%Y%m%d-%H%M%S"));
    let path = dir.join(name);
    std::fs::write(&path, body)
        .map_err(|e| Error::Internal(anyhow::anyhow!("writing {}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

#[tauri::command]
pub async fn list_contacts(r: Shared<'_>, query: ContactFilter) -> Result<Vec<Contact>> {
    contacts::list(&r, query).await
}

#[tauri::command]
pub async fn create_contact(r: Shared<'_>, input: ContactInput) -> Result<Contact> {
    contacts::create(&r, input).await
}

#[tauri::command]
pub async fn update_contact(r: Shared<'_>, id: i64, input: ContactInput) -> Result<Contact> {
    contacts::update(&r, id, input).await
}

#[tauri::command]
pub async fn delete_contact(r: Shared<'_>, id: i64) -> Result<()> {
    contacts::delete(&r, id).await
}

/// Import a CSV or vCard file's text (`mapping`: CSV `field=Header` overrides).
#[tauri::command]
pub async fn import_contacts(
    r: Shared<'_>,
    text: String,
    format: Option<ContactFormat>,
    mapping: Vec<String>,
) -> Result<ImportResult> {
    contacts::import(&r, text.into_bytes(), format, mapping).await
}

/// Save every contact as a CSV or vCard file in the Downloads folder; returns its path.
#[tauri::command]
pub async fn export_contacts(
    app: AppHandle,
    r: Shared<'_>,
    format: ContactFormat,
) -> Result<String> {
    let body = contacts::export(&r, format).await?;
    let ext = match format {
        ContactFormat::Csv => "csv",
        ContactFormat::Vcard => "vcf",
    };
    save_download(&app, &r, "ringside-contacts", ext, &body)
}

/// Sync every CardDAV address book now; answers when they are done.
#[tauri::command]
pub async fn sync_contacts(r: Shared<'_>) -> Result<Vec<BookSync>> {
    Ok(ringside_app::carddav::sync_now(&r).await)
}

#[tauri::command]
pub async fn lookup_number(r: Shared<'_>, number: String) -> Result<Vec<ContactMatch>> {
    contacts::lookup(&r, number).await
}

#[tauri::command]
pub fn status(r: Shared<'_>) -> Status {
    r.status()
}
