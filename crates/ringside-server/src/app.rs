//! The router and its shared state. `app(state)` is the whole HTTP surface, so tests can
//! drive it without a socket and the desktop shell can embed it unchanged.

use crate::{api, hooks};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use ringside_core::config::{Config, HookSettings};
use ringside_core::engine::Engine;
use ringside_core::store::Store;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Largest webhook body accepted; providers send a few KiB at most.
pub const MAX_BODY: usize = 64 * 1024;

/// Where "now" comes from: the system clock in production, a fixed one in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub config: Arc<Config>,
    pub hooks: Arc<Vec<HookSettings>>,
    pub clock: Clock,
    /// Serialized `/api/live` frames, one per call change.
    pub frames: broadcast::Sender<Arc<str>>,
}

impl AppState {
    /// State for `engine` and `config`; starts the task that turns call changes into frames.
    pub fn new(engine: Engine, config: Config, clock: Clock) -> AppState {
        let (frames, _) = broadcast::channel(4096);
        let mut changes = engine.subscribe();
        let tx = frames.clone();
        tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(call) => {
                        let _ = tx.send(api::frame(&call));
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("live stream fell behind by {n} changes");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        AppState {
            hooks: Arc::new(config.hooks()),
            config: Arc::new(config),
            engine,
            clock,
            frames,
        }
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
        .route("/api/calls/{id}", get(api::call))
        .route("/api/calls/{id}/done", post(api::done))
        .route("/api/missed", get(api::missed))
        .route("/api/live", get(api::live))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::guard,
        ));
    let hooks = Router::new()
        .route(
            "/hooks/{provider}/{token}",
            get(hooks::with_token).post(hooks::with_token),
        )
        .route("/hooks/{provider}", post(hooks::with_basic_auth))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .merge(api)
        .merge(hooks)
        .with_state(state)
}

async fn index() -> axum::response::Html<&'static str> {
    axum::response::Html(
        "<!doctype html><title>Ringside</title><h1>Ringside is running</h1>\
         <p>Webhooks go to <code>/hooks/&lt;provider&gt;/&lt;token&gt;</code>; \
         the API is under <code>/api</code> (see README.md).</p>",
    )
}
