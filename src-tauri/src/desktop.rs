//! The desktop app: start the embedded listener, then the window, tray and screen-pops.

use crate::{commands, pops, tray};
use anyhow::{Context, Result};
use ringside_server::{AppState, ServeOptions};
use tauri::{Emitter, Manager, WindowEvent};
use tauri_plugin_autostart::ManagerExt as _;

/// Whether there is a display to open a window on.
pub fn has_display() -> bool {
    if cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd"
    )) {
        std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
            || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
    } else {
        true
    }
}

pub fn run(opts: ServeOptions) -> Result<()> {
    // The engine and listener are the same as `ringside-server serve`; they run on Tauri's
    // Tokio runtime so commands and HTTP share one engine.
    let running = tauri::async_runtime::block_on(ringside_server::start(opts))?;
    let state = running.state.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = running.serve(std::future::pending()).await {
            tracing::error!("the listener stopped: {e}");
        }
    });

    tauri::Builder::default()
        // First, so a second launch only focuses the first one.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show_main_window(app);
        }))
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .manage(state.clone())
        .invoke_handler(tauri::generate_handler![
            commands::list_calls,
            commands::get_call,
            commands::list_missed,
            commands::mark_done,
            commands::mark_all_done,
            commands::call_back,
            commands::open_record,
            commands::get_settings,
            commands::save_settings,
            commands::list_scenarios,
            commands::simulate,
            commands::export_csv,
            commands::status,
            commands::list_contacts,
            commands::create_contact,
            commands::update_contact,
            commands::delete_contact,
            commands::import_contacts,
            commands::export_contacts,
            commands::lookup_number,
            commands::sync_contacts,
        ])
        .on_window_event(|window, event| {
            // Closing the window keeps Ringside running in the tray.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .setup(move |app| {
            let handle = app.handle().clone();
            apply_autostart(&handle, state.settings().config.app.autostart);
            let tray = tray::build(&handle)?;
            // Every stored call change: to the window, to the tray's missed count, to the pops.
            let mut changes = state.engine.subscribe();
            let pops = pops::Pops::new(handle.clone(), state.clone());
            let st = state.clone();
            tauri::async_runtime::spawn(async move {
                tray.refresh(&st).await;
                loop {
                    match changes.recv().await {
                        Ok(call) => {
                            let _ = handle.emit("call", &*call);
                            pops.on_change(&call).await;
                            tray.refresh(&st).await;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!("desktop fell behind by {n} call changes");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!())
        .context("running the desktop app")
}

pub fn show_main_window(app: &tauri::AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// Make "start at login" match the setting.
pub fn apply_autostart(app: &tauri::AppHandle, wanted: bool) {
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

/// The state the commands share.
pub type Shared<'a> = tauri::State<'a, AppState>;
