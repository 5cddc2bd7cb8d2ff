//! The tray icon: missed-call count, open the window, quit.

use crate::window::show_main_window;
use ringside_app::Ringside;
use ringside_core::screenpop::Phrases;
use ringside_core::store::Queries;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};

pub struct Tray {
    icon: TrayIcon,
    open: MenuItem<Wry>,
    missed: MenuItem<Wry>,
    quit: MenuItem<Wry>,
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
        open,
        missed,
        quit,
        app: app.clone(),
    })
}

impl Tray {
    /// Show the missed-call count in the tray and the window title, in the agent's language.
    pub async fn refresh(&self, r: &Ringside, phrases: &Phrases) {
        let count = r.read(|s| s.missed().map(|m| m.len())).await.unwrap_or(0);
        let text = phrases.missed_count(count);
        let _ = self.open.set_text(&phrases.tray_open);
        let _ = self.quit.set_text(&phrases.tray_quit);
        let _ = self.missed.set_text(&text);
        let _ = self.icon.set_tooltip(Some(format!("Ringside — {text}")));
        if let Some(w) = self.app.get_webview_window("main") {
            let title = if count == 0 {
                "Ringside".to_string()
            } else {
                format!("Ringside ({text})")
            };
            let _ = w.set_title(&title);
        }
    }
}
