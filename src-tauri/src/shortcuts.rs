//! Global shortcuts, from any app: `[app] shortcut_caller` brings up the current caller (the
//! window on the Live tab, the newest call for me in focus), `[app] shortcut_call_back` calls
//! back the newest missed call for me. What each does is the application layer's; this only
//! binds the keys.

use crate::window::{open, show_main_window};
use ringside_app::calls;
use ringside_app::Ringside;
use ringside_core::config::App;
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutEvent, ShortcutState};

/// The UI's event: show the Live tab with the current caller in focus.
const FOCUS_CALLER: &str = "focus-caller";
/// The UI's event: what a call back from the shortcut did (`Dialled`), or `null`: nothing to
/// call back.
const CALLED_BACK: &str = "called-back";

/// The keys bound now, and what each does.
#[derive(Default)]
struct Bound {
    caller: Option<Shortcut>,
    call_back: Option<Shortcut>,
}

/// Bind the shortcuts `app` names (again, when the settings change).
pub fn apply(handle: &AppHandle, app: &App) {
    let gs = handle.global_shortcut();
    let _ = gs.unregister_all();
    let parse = |s: &str| -> Option<Shortcut> {
        if s.is_empty() {
            return None;
        }
        match s.parse::<Shortcut>() {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!("shortcut `{s}`: {e}");
                None
            }
        }
    };
    let bound = Bound {
        caller: parse(&app.shortcut_caller),
        call_back: parse(&app.shortcut_call_back),
    };
    for k in [&bound.caller, &bound.call_back].into_iter().flatten() {
        if let Err(e) = gs.register(*k) {
            tracing::warn!("could not bind {k}: {e} (another app may hold it)");
        }
    }
    match handle.try_state::<std::sync::Mutex<Bound>>() {
        Some(state) => {
            if let Ok(mut b) = state.lock() {
                *b = bound;
            }
        }
        None => {
            handle.manage(std::sync::Mutex::new(bound));
        }
    }
}

/// A bound key went down.
pub fn pressed(handle: &AppHandle, key: &Shortcut, event: ShortcutEvent) {
    if event.state() != ShortcutState::Pressed {
        return;
    }
    let Some(bound) = handle.try_state::<std::sync::Mutex<Bound>>() else {
        return;
    };
    let (is_caller, is_call_back) = match bound.lock() {
        Ok(b) => (
            b.caller.as_ref() == Some(key),
            b.call_back.as_ref() == Some(key),
        ),
        Err(_) => return,
    };
    if is_caller {
        show_main_window(handle);
        let _ = handle.emit(FOCUS_CALLER, ());
    } else if is_call_back {
        let handle = handle.clone();
        tauri::async_runtime::spawn(async move { call_back_newest(&handle).await });
    }
}

/// Call back the newest missed call for me (the missed list, newest first, as the agent sees
/// it), and tell the window what happened.
async fn call_back_newest(handle: &AppHandle) {
    let r = handle.state::<Ringside>().inner().clone();
    let newest = match calls::missed(&r).await {
        Ok(missed) => {
            let me = r.settings().me.clone();
            missed.into_iter().find(|c| me.follows(&c.call))
        }
        Err(e) => return tracing::warn!("call back: {e}"),
    };
    let Some(call) = newest else {
        let _ = handle.emit(CALLED_BACK, ());
        return;
    };
    match calls::call_back(&r, &call.call.id).await {
        Ok(done) => {
            if let Some(uri) = &done.uri {
                if let Err(e) = open(handle, uri) {
                    tracing::warn!("{e}");
                }
            }
            let _ = handle.emit(CALLED_BACK, &done);
        }
        Err(e) => {
            tracing::warn!("call back: {e}");
            let _ = handle.emit("call-back-failed", &e);
        }
    }
}
