//! Screen-pops as desktop notifications (notify-rust over D-Bus). What to show is decided by
//! `ringside_core::screenpop::decide`; this module only shows, replaces and closes, and reacts
//! to the notification's actions.

use crate::commands;
use crate::desktop::show_main_window;
use notify_rust::{Notification, NotificationHandle, NotificationResponse, Timeout};
use ringside_core::config::CrmOpen;
use ringside_core::screenpop::{self, Pop, PopAction, PopSettings};
use ringside_core::{links, phone};
use ringside_core::{Call, CallState};
use ringside_server::{ops, AppState};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tauri::{AppHandle, Emitter};
use tokio::sync::Mutex;

/// A pop on screen (or dismissed by the agent: then `handle` is None, so the same content is
/// not shown again).
struct Shown {
    pop: Pop,
    handle: Option<Arc<NotificationHandle>>,
}

#[derive(Clone)]
pub struct Pops {
    app: AppHandle,
    state: AppState,
    shown: Arc<Mutex<HashMap<String, Shown>>>,
    /// Calls whose CRM record was opened on answer already.
    opened: Arc<Mutex<HashSet<String>>>,
}

impl Pops {
    pub fn new(app: AppHandle, state: AppState) -> Pops {
        Pops {
            app,
            state,
            shown: Arc::default(),
            opened: Arc::default(),
        }
    }

    fn settings(&self) -> PopSettings {
        let s = self.state.settings();
        let region = s.config.region();
        PopSettings {
            identities: s
                .config
                .agent
                .identities
                .iter()
                .map(|i| phone::normalize(i, region))
                .collect(),
            supervisor: s.config.agent.supervisor,
            modes: s.config.screenpop.clone(),
            region,
        }
    }

    pub async fn on_change(&self, call: &Call) {
        let settings = self.settings();
        self.maybe_open_record(call, &settings).await;
        let mut shown = self.shown.lock().await;
        let action = screenpop::decide(shown.get(&call.id).map(|s| &s.pop), call, &settings);
        match action {
            PopAction::Nothing => {}
            PopAction::Show(pop) => {
                let handle = self.show(&pop, call, None).await;
                if pop.kind == screenpop::PopKind::Ringing
                    && self.state.settings().config.screenpop.raise_window
                {
                    show_main_window(&self.app);
                }
                shown.insert(call.id.clone(), Shown { pop, handle });
            }
            PopAction::Replace(pop) => {
                let old = shown.remove(&call.id).and_then(|s| s.handle);
                let handle = self.show(&pop, call, old.as_deref()).await;
                shown.insert(call.id.clone(), Shown { pop, handle });
            }
            PopAction::Close => {
                if let Some(Shown {
                    handle: Some(h), ..
                }) = shown.remove(&call.id)
                {
                    h.close_async().await;
                }
            }
        }
    }

    /// Show `pop` (replacing `old` in place when given) and listen for its actions: "Open
    /// record" for a known caller, "Open <name>" for each candidate when several contacts
    /// share the number, "Add contact" for an unknown one.
    async fn show(
        &self,
        pop: &Pop,
        call: &Call,
        old: Option<&NotificationHandle>,
    ) -> Option<Arc<NotificationHandle>> {
        let has_crm = self.state.settings().config.crm.url.is_some();
        let mut n = Notification::new();
        n.appname("Ringside")
            .summary(&pop.summary)
            .body(&pop.body)
            .icon("call-start")
            .timeout(match pop.kind {
                screenpop::PopKind::Missed => Timeout::Default,
                _ => Timeout::Never,
            })
            .action("default", "Show Ringside");
        match pop.matches.as_slice() {
            [] => {
                let known_number = links::other_party(call).is_some_and(|n| !phone::is_withheld(n));
                if pop.kind != screenpop::PopKind::Missed && known_number {
                    n.action("add-contact", "Add contact");
                }
                if has_crm {
                    n.action("open-record", "Open record");
                }
            }
            [_] => {
                if has_crm || call.contacts.iter().any(|m| m.record_url.is_some()) {
                    n.action("open-record", "Open record");
                }
            }
            many => {
                for (key, name) in many.iter().take(3) {
                    n.action(&format!("open:{key}"), &format!("Open {name}"));
                }
            }
        }
        n.action("dismiss", "Dismiss");
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
            this.on_action(&call_id, chosen, handle.id()).await;
        });
    }

    async fn on_action(&self, call_id: &str, response: Option<NotificationResponse>, id: u32) {
        match response {
            Some(NotificationResponse::Action(a)) if a == "open-record" => {
                self.open_record(call_id, None).await
            }
            Some(NotificationResponse::Action(a)) if a.starts_with("open:") => {
                self.open_record(call_id, Some(&a["open:".len()..])).await
            }
            Some(NotificationResponse::Action(a)) if a == "add-contact" => {
                self.add_contact(call_id).await
            }
            Some(NotificationResponse::Default) => show_main_window(&self.app),
            Some(NotificationResponse::Action(a)) if a == "default" => show_main_window(&self.app),
            _ => {}
        }
        // Dismissed or closed by the agent: remember it, so the same pop does not come back.
        let mut shown = self.shown.lock().await;
        if let Some(s) = shown.get_mut(call_id) {
            if s.handle.as_ref().is_some_and(|h| h.id() == id) {
                s.handle = None;
            }
        }
    }

    /// Bring the window forward on the new-contact form, the caller's number filled in.
    async fn add_contact(&self, call_id: &str) {
        let number = match ops::get_call(&self.state, call_id).await {
            Ok(c) => links::other_party(&c.call).unwrap_or("").to_string(),
            Err(e) => return tracing::warn!("{}", e.message),
        };
        show_main_window(&self.app);
        let _ = self.app.emit("add-contact", number);
    }

    async fn open_record(&self, call_id: &str, contact: Option<&str>) {
        match ops::record_url(&self.state, call_id, contact).await {
            Ok(Some(url)) => {
                if let Err(e) = commands::open(&self.app, &url) {
                    tracing::warn!("{}", e.message);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("{}", e.message),
        }
    }

    /// Open the CRM record automatically when I answer, if the agent chose that.
    async fn maybe_open_record(&self, call: &Call, s: &PopSettings) {
        let config = self.state.settings();
        if config.config.crm.open_on != CrmOpen::Answered || call.state != CallState::Answered {
            return;
        }
        let by_me = call
            .answered_by
            .as_deref()
            .is_some_and(|a| s.identities.iter().any(|i| i == a));
        if by_me && self.opened.lock().await.insert(call.id.clone()) {
            self.open_record(&call.id, None).await;
        }
    }
}
