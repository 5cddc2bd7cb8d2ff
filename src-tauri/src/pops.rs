//! Screen-pops as desktop notifications (notify-rust over D-Bus). What each call's pop is,
//! which buttons it has, whether the window comes forward and whether the record opens is
//! decided by `ringside_core::screenpop::decide`; this module only carries it out and reacts
//! to the buttons.

use crate::window::{open, set_mini_window, show_main_window};
use notify_rust::{Notification, NotificationHandle, NotificationResponse, Timeout};
use ringside_app::calls;
use ringside_app::Ringside;
use ringside_core::screenpop::{self, Phrases, Pop, PopAction, PopButton, PopSettings, Shown};
use ringside_core::store::Queries;
use ringside_core::Call;
use std::collections::HashMap;
use std::sync::Arc;
use tauri::{AppHandle, Emitter};
use tokio::sync::Mutex;

/// What is on screen for one call: the decision's memory, and the notification (None once
/// the agent dismissed it, so the same pop is not shown again).
#[derive(Default)]
struct OnScreen {
    shown: Shown,
    handle: Option<Arc<NotificationHandle>>,
}

#[derive(Clone)]
pub struct Pops {
    app: AppHandle,
    ringside: Ringside,
    calls: Arc<Mutex<HashMap<String, OnScreen>>>,
    /// The words of the pops and the tray, in the agent's language (the UI sends them).
    phrases: Arc<std::sync::RwLock<Phrases>>,
}

impl Pops {
    pub fn new(app: AppHandle, ringside: Ringside) -> Pops {
        Pops {
            app,
            ringside,
            calls: Arc::default(),
            phrases: Arc::default(),
        }
    }

    fn settings(&self) -> PopSettings {
        let mut s = self.ringside.settings().pops.clone();
        s.phrases = self.phrases();
        s
    }

    pub fn phrases(&self) -> Phrases {
        self.phrases.read().map(|p| p.clone()).unwrap_or_default()
    }

    /// The agent's language changed: the pops and the tray speak it from now on.
    pub fn set_phrases(&self, phrases: Phrases) {
        if let Ok(mut p) = self.phrases.write() {
            *p = phrases;
        }
    }

    /// Carry out what `call`'s change means for its pop.
    pub async fn on_change(&self, call: &Call) {
        let settings = self.settings();
        let mut calls = self.calls.lock().await;
        let mut entry = calls.remove(&call.id).unwrap_or_default();
        let d = screenpop::decide(&entry.shown, call, &settings);
        if d.open_record {
            entry.shown.record_opened = true;
            let this = self.clone();
            let id = call.id.clone();
            tauri::async_runtime::spawn(async move { this.open_record(&id, None).await });
        }
        if d.raise_window {
            show_main_window(&self.app);
        }
        match d.pop {
            PopAction::Nothing => {}
            PopAction::Show(pop) => {
                entry.handle = self.show(&pop, None).await;
                entry.shown.pop = Some(pop);
            }
            PopAction::Replace(pop) => {
                let old = entry.handle.take();
                entry.handle = self.show(&pop, old.as_deref()).await;
                entry.shown.pop = Some(pop);
            }
            PopAction::Close => {
                if let Some(h) = entry.handle.take() {
                    h.close_async().await;
                }
                entry.shown.pop = None;
            }
        }
        // Keep only what the next decision needs.
        let over = call.state.is_terminal() && entry.shown.pop.is_none();
        if !over && entry.shown != Shown::default() {
            calls.insert(call.id.clone(), entry);
        }
        let on_screen: Vec<&Pop> = calls
            .values()
            .filter_map(|e| e.shown.pop.as_ref())
            .collect();
        set_mini_window(&self.app, screenpop::mini_window(on_screen, &settings));
    }

    /// Changes may have been missed: decide again for every open call and every call with
    /// something on screen, as they are now.
    pub async fn resync(&self) {
        let open = match self.ringside.read(|s| s.open_calls()).await {
            Ok(open) => open,
            Err(e) => return tracing::warn!("screen-pops: reading the open calls: {e:#}"),
        };
        let on_screen: Vec<String> = self.calls.lock().await.keys().cloned().collect();
        for call in &open {
            self.on_change(call).await;
        }
        for id in on_screen
            .iter()
            .filter(|id| !open.iter().any(|c| &c.id == *id))
        {
            if let Ok(c) = calls::get(&self.ringside, id).await {
                self.on_change(&c.call).await;
            }
        }
    }

    /// Show `pop` (replacing `old` in place when given) and listen for its buttons.
    async fn show(
        &self,
        pop: &Pop,
        old: Option<&NotificationHandle>,
    ) -> Option<Arc<NotificationHandle>> {
        // What is known of the caller, on a pop for a call that rings or is answered.
        let mut body = pop.body.clone();
        if pop.kind != screenpop::PopKind::Missed {
            if let Ok(ctx) = calls::context(&self.ringside, &pop.call_id).await {
                let open_missed = ctx.open_missed;
                if let Some(line) = self.phrases().caller_context(ctx.earlier, open_missed) {
                    body = format!("{line}\n{body}");
                }
            }
        }
        let mut n = Notification::new();
        n.appname("Ringside")
            .summary(&pop.summary)
            .body(&body)
            .icon("call-start")
            .timeout(if pop.sticky() {
                Timeout::Never
            } else {
                Timeout::Default
            });
        for (button, label) in &pop.buttons {
            n.action(&button.id(), label);
        }
        if let Some(old) = old {
            n.id(old.id());
        }
        match n.show_async().await {
            Ok(handle) => {
                let handle = Arc::new(handle);
                self.listen(pop.call_id.clone(), handle.clone());
                Some(handle)
            }
            Err(e) => {
                tracing::warn!("could not show a notification: {e}");
                None
            }
        }
    }

    fn listen(&self, call_id: String, handle: Arc<NotificationHandle>) {
        let this = self.clone();
        tauri::async_runtime::spawn(async move {
            let mut chosen = None;
            handle
                .wait_for_action_async(|response| chosen = Some(response.clone()))
                .await;
            this.on_button(&call_id, chosen, handle.id()).await;
        });
    }

    async fn on_button(&self, call_id: &str, response: Option<NotificationResponse>, id: u32) {
        let button = match response {
            Some(NotificationResponse::Default) => Some(PopButton::ShowWindow),
            Some(NotificationResponse::Action(a)) => PopButton::from_id(&a),
            _ => None,
        };
        match button {
            Some(PopButton::OpenRecord(key)) => self.open_record(call_id, key.as_deref()).await,
            Some(PopButton::AddContact) => self.add_contact(call_id).await,
            Some(PopButton::ShowWindow) => show_main_window(&self.app),
            Some(PopButton::Dismiss) | None => {}
        }
        // Dismissed or closed by the agent: remember it, so the same pop does not come back.
        let mut calls = self.calls.lock().await;
        if let Some(e) = calls.get_mut(call_id) {
            if e.handle.as_ref().is_some_and(|h| h.id() == id) {
                e.handle = None;
            }
        }
    }

    /// Bring the window forward on the new-contact form, the caller's number filled in.
    async fn add_contact(&self, call_id: &str) {
        match calls::other_party(&self.ringside, call_id).await {
            Ok(number) => {
                show_main_window(&self.app);
                let _ = self.app.emit("add-contact", number.unwrap_or_default());
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }

    async fn open_record(&self, call_id: &str, contact: Option<&str>) {
        match calls::record_url(&self.ringside, call_id, contact).await {
            Ok(Some(url)) => {
                if let Err(e) = open(&self.app, &url) {
                    tracing::warn!("{e}");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}"),
        }
    }
}
