//! The OS side of the desktop: the main window, URIs handed to the OS, start at login.

use ringside_app::error::{Error, Invalid};
use ringside_core::links;
use tauri::{AppHandle, Manager};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_opener::OpenerExt;

/// Show the main window, unminimized and focused.
pub fn show_main_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// Hand `uri` to the OS, after the one check every opened URI passes.
pub fn open(app: &AppHandle, uri: &str) -> Result<(), Error> {
    if !links::openable(uri) {
        return Err(Error::invalid(
            Invalid::Request,
            format!("refusing to open `{uri}`: only http(s), tel, sip and callto links are opened"),
        ));
    }
    app.opener()
        .open_url(uri, None::<&str>)
        .map_err(|e| Error::Internal(anyhow::anyhow!("opening {uri}: {e}")))
}

/// Make "start at login" match the setting.
pub fn apply_autostart(app: &AppHandle, wanted: bool) {
    let launcher = app.autolaunch();
    let result = match (wanted, launcher.is_enabled().unwrap_or(false)) {
        (true, false) => launcher.enable(),
        (false, true) => launcher.disable(),
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!("start at login: {e}");
    }
}
