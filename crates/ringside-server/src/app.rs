//! The router and its shared state. `app(state)` is the whole HTTP surface, so tests can
//! drive it without a socket and the desktop shell can embed it unchanged.

use crate::{api, hooks, ui};
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use ringside_core::config::Config;
use ringside_core::engine::Engine;
use ringside_core::providers::HookSettings;
use ringside_core::store::Store;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::sync::broadcast;

/// Largest webhook body accepted; providers send a few KiB at most.
pub const MAX_BODY: usize = 64 * 1024;

/// Largest contacts file the API imports (tens of thousands of contacts).
pub const MAX_CONTACTS_FILE: usize = 32 * 1024 * 1024;

/// Where "now" comes from: the system clock in production, a fixed one in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// The settings in force: the config and what is derived from it. Replaced whole when the
/// settings page saves, so a request sees one consistent version.
#[derive(Debug)]
pub struct Settings {
    pub config: Config,
    pub hooks: Vec<HookSettings>,
    /// The file the config came from and is saved to.
    pub path: PathBuf,
}

impl Settings {
    pub fn new(config: Config, path: PathBuf) -> Settings {
        Settings {
            hooks: config.hooks(),
            config,
            path,
        }
    }
}

/// What a background task (the Xelion client, the CardDAV syncs) wants from the settings,
/// followed: the settings page replaces them whole at any time, so they are looked at every
/// second.
pub struct FollowSettings<W> {
    state: AppState,
    tick: tokio::time::Interval,
    last: Option<W>,
}

impl<W: PartialEq + Clone> FollowSettings<W> {
    pub fn new(state: &AppState) -> FollowSettings<W> {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        FollowSettings {
            state: state.clone(),
            tick,
            last: None,
        }
    }

    /// What `want` makes of the settings in force: at once the first time, then as soon as
    /// it differs from the last answer.
    pub async fn changed(&mut self, want: impl Fn(&Config) -> W) -> W {
        loop {
            self.tick.tick().await;
            let now = want(&self.state.settings().config);
            if self.last.as_ref() != Some(&now) {
                self.last = Some(now.clone());
                return now;
            }
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    settings: Arc<RwLock<Arc<Settings>>>,
    pub clock: Clock,
    /// Serialized `/api/live` frames, one per call change.
    pub frames: broadcast::Sender<Arc<str>>,
    /// `http://HOST:PORT` of this listener.
    pub listen_url: String,
    /// Connection state of the sources Ringside connects to (the Xelion websocket, CardDAV
    /// address books).
    pub sources: crate::status::Sources,
    /// The CardDAV address books being synced, for "sync now".
    pub carddav: crate::carddav::Books,
}

impl AppState {
    /// State for `engine` and `settings`; starts the task that turns call changes into frames.
    pub fn new(engine: Engine, settings: Settings, listen_url: String, clock: Clock) -> AppState {
        let (frames, _) = broadcast::channel(4096);
        let mut changes = engine.subscribe();
        let tx = frames.clone();
        tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    // Serialized once for every client, and not at all without one.
                    Ok(call) if tx.receiver_count() > 0 => {
                        let _ = tx.send(api::frame(&call));
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("live stream fell behind by {n} changes");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        AppState {
            settings: Arc::new(RwLock::new(Arc::new(settings))),
            engine,
            clock,
            frames,
            listen_url,
            sources: crate::status::Sources::default(),
            carddav: crate::carddav::Books::default(),
        }
    }

    /// The settings in force now.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Put new settings in force (already checked and saved).
    pub fn replace_settings(&self, new: Settings) {
        *self
            .settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(new);
    }

    /// Run a read on the store off the async threads.
    pub async fn blocking_read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.read(f)).await?
    }
}

pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/calls", get(api::calls))
        .route("/api/calls.csv", get(api::calls_csv))
        .route("/api/calls/{id}", get(api::call))
        .route("/api/calls/{id}/done", post(api::done))
        .route("/api/calls/{id}/callback", post(api::callback))
        .route("/api/calls/{id}/record", get(api::record))
        .route("/api/missed", get(api::missed))
        .route("/api/missed/done", post(api::all_done))
        .route("/api/settings", get(api::settings).put(api::save_settings))
        .route("/api/scenarios", get(api::scenarios))
        .route("/api/simulate", post(api::simulate))
        .route("/api/live", get(api::live))
        .route("/api/status", get(crate::status::status))
        .route(
            "/api/contacts",
            get(api::contacts).post(api::create_contact),
        )
        .route(
            "/api/contacts/{id}",
            get(api::contact)
                .put(api::update_contact)
                .delete(api::delete_contact),
        )
        .route(
            "/api/contacts/import",
            post(api::import_contacts).layer(DefaultBodyLimit::max(MAX_CONTACTS_FILE)),
        )
        .route("/api/contacts.csv", get(api::contacts_csv))
        .route("/api/contacts.vcf", get(api::contacts_vcf))
        .route("/api/lookup", get(api::lookup))
        .route("/api/contacts/sync", post(api::sync_contacts))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::guard,
        ));
    // Every method reaches the hook: the adapter says which its provider uses, so another one
    // gets the same JSON 405 as any refusal (after authentication, which comes first).
    let hooks = Router::new()
        .route("/hooks/{provider}/{token}", any(hooks::with_token))
        .route("/hooks/{provider}", any(hooks::with_basic_auth))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(api)
        .merge(hooks)
        .merge(ui::router())
        .with_state(state)
}
