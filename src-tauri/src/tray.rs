//! The tray icon: missed-call count, open the window, quit.

use crate::window::show_main_window;
use ringside_app::Ringside;
use ringside_core::store::Queries;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};

pub struct Tray {
    icon: TrayIcon,
    missed: MenuItem<Wry>,
    app: AppHandle,
}

pub fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let open = MenuItem::with_id(app, "open", "Open Ringside", true, None::<&str>)?;
    let missed = MenuItem::with_id(app, "missed", "No missed calls", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Ringside", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &missed, &quit])?;
    let mut builder = TrayIconBuilder::with_id("ringside")
        .tooltip("Ringside")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" | "missed" => show_main_window(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                ..
            } = event
            {
                show_main_window(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    Ok(Tray {
        icon: builder.build(app)?,
        missed,
        app: app.clone(),
    })
}

impl Tray {
    /// Show the missed-call count in the tray and the window title.
    pub async fn refresh(&self, r: &Ringside) {
        let count = r
            .read(|s| s.missed(None).map(|m| m.len()))
            .await
            .unwrap_or(0);
        let text = match count {
            0 => "No missed calls".to_string(),
            1 => "1 missed call".to_string(),
            n => format!("{n} missed calls"),
        };
        let _ = self.missed.set_text(&text);
        let _ = self.icon.set_tooltip(Some(format!("Ringside — {text}")));
        if let Some(w) = self.app.get_webview_window("main") {
            let title = if count == 0 {
                "Ringside".to_string()
            } else {
                format!("Ringside ({count} missed)")
            };
            let _ = w.set_title(&title);
        }
    }
}
