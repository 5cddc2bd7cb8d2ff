//! The desktop app: start the embedded listener, then the window, tray and screen-pops, all
//! fed by the same live frames the browser gets.

use crate::window::{apply_autostart, show_main_window};
use crate::{commands, pops, shortcuts, tray};
use anyhow::{Context, Result};
use ringside_app::live::LiveFrame;
use ringside_server::ServeOptions;
use tauri::{Emitter, Manager, WindowEvent};

/// The window's event carrying every [`LiveFrame`].
const LIVE_EVENT: &str = "live";

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
    let ringside = running.ringside.clone();
    // Subscribed before anything is served, so no change slips by.
    let mut frames = ringside.live.subscribe();
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
        .plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(shortcuts::pressed)
                .build(),
        )
        .manage(ringside.clone())
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
            commands::set_done,
            commands::dial,
            commands::wrap_up,
            commands::caller_context,
            commands::recording,
            commands::set_phrases,
            commands::show_main,
            commands::hide_mini,
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
            apply_autostart(&handle, ringside.settings().config.app.autostart);
            shortcuts::apply(&handle, &ringside.settings().config.app);
            let tray = tray::build(&handle)?;
            let pops = pops::Pops::new(handle.clone(), ringside.clone());
            app.manage(pops.clone());
            let r = ringside.clone();
            tauri::async_runtime::spawn(async move {
                // Calls that rang before the window was up pop too.
                pops.resync().await;
                tray.refresh(&r, &pops.phrases()).await;
                while let Some(f) = frames.next().await {
                    let _ = handle.emit(LIVE_EVENT, &f.frame);
                    match &f.frame {
                        LiveFrame::Call { call, .. } => pops.on_change(&call.call).await,
                        LiveFrame::Resync { .. } => pops.resync().await,
                    }
                    tray.refresh(&r, &pops.phrases()).await;
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!())
        .context("running the desktop app")
}
