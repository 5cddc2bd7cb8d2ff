//! The OS side of the desktop: the main window, the always-on-top mini window, URIs handed to
//! the OS, start at login.

use ringside_app::error::{Error, Invalid};
use ringside_core::links;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};
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

/// The mini window's label: the capability names it beside the main window.
pub const MINI: &str = "mini";
const MINI_SIZE: (f64, f64) = (380.0, 190.0);
/// Its title, for window managers (and tests) to tell it from the main window.
pub const MINI_TITLE: &str = "Ringside call";

/// Show or hide the mini window: a small always-on-top window with the call for me, for agents
/// whose notifications are hidden. It shows the same UI (`?view=mini`), and takes no focus.
pub fn set_mini_window(app: &AppHandle, visible: bool) {
    let existing = app.get_webview_window(MINI);
    match (existing, visible) {
        (Some(w), true) => {
            let _ = w.show();
        }
        (Some(w), false) => {
            let _ = w.hide();
        }
        (None, false) => {}
        (None, true) => {
            let built = WebviewWindowBuilder::new(
                app,
                MINI,
                WebviewUrl::App("index.html?view=mini".into()),
            )
            .title(MINI_TITLE)
            .inner_size(MINI_SIZE.0, MINI_SIZE.1)
            .resizable(false)
            .always_on_top(true)
            .skip_taskbar(true)
            .focused(false)
            .build();
            match built {
                Ok(w) => {
                    // At the right edge, a third of the way down: clear of where notifications
                    // show (top right, top centre, bottom right) and of a taskbar.
                    if let Ok(Some(m)) = w.current_monitor() {
                        let scale = m.scale_factor();
                        let width = m.size().width as f64 / scale;
                        let height = m.size().height as f64 / scale;
                        let _ = w.set_position(tauri::LogicalPosition::new(
                            (width - MINI_SIZE.0 - 24.0).max(0.0),
                            (height / 3.0).max(24.0),
                        ));
                    }
                }
                Err(e) => tracing::warn!("could not open the mini window: {e}"),
            }
        }
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
