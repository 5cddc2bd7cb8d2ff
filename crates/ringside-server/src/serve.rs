//! `serve`: load the config (writing a demo one on first run), open the engine, listen, print
//! `listening on http://HOST:PORT` once ready, and end silent calls on a timer.

use crate::app::{app, system_clock, AppState, Clock, Settings};
use crate::listener::Limits;
use anyhow::{Context, Result};
use ringside_core::config::{Config, Paths};
use ringside_core::engine::Engine;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Default 127.0.0.1:8089.
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// Timeouts and the connection limit of the listener.
    pub limits: Limits,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8089";

/// The config to run with: `--config FILE` (which must exist), else the default file, which is
/// created with a demo configuration when there is none yet.
pub fn load_config(path: Option<&PathBuf>) -> Result<(Config, PathBuf)> {
    match path {
        Some(p) => Ok((Config::load(p)?, p.clone())),
        None => {
            let p = Paths::config_file();
            if !p.exists() {
                Config::demo()
                    .save(&p)
                    .with_context(|| format!("writing a first configuration to {}", p.display()))?;
                eprintln!("No configuration yet: wrote a demo one to {}", p.display());
            }
            Ok((Config::load(&p)?, p))
        }
    }
}

/// Run the server until Ctrl-C or SIGTERM.
pub async fn serve(opts: ServeOptions) -> Result<()> {
    start(opts).await?.serve(shutdown()).await
}

/// A listener bound and announced, with its state ready to serve.
pub struct Running {
    pub listener: tokio::net::TcpListener,
    pub state: AppState,
    pub limits: Limits,
}

impl Running {
    /// Serve `app(state)` on the listener, within the limits, until `shutdown` completes.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        crate::listener::serve(self.listener, app(self.state), self.limits, shutdown).await?;
        Ok(())
    }
}

/// Load the config, open the engine, bind the listener, start the background tasks and print
/// `listening on http://HOST:PORT`. The caller serves `app(state)` on the listener; the desktop
/// app does exactly what `serve` does.
pub async fn start(opts: ServeOptions) -> Result<Running> {
    // Numbering metadata loads lazily and slowly: start loading it while we set up.
    std::thread::spawn(ringside_core::phone::warm_up);
    let (config, config_path) = load_config(opts.config.as_ref())?;
    let data_dir = opts.data_dir.clone().unwrap_or_else(Paths::data_dir);
    let engine = Engine::open(&data_dir)?;
    engine.set_lookup(config.contacts.lookup_settings()).await?;
    let listen = opts
        .listen
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default address"));
    let listener =
        crate::listener::bind(listen).with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!("listening on {addr}, reachable from other machines");
    }
    let clock = system_clock();
    let listen_url = format!("http://{addr}");
    let state = AppState::new(
        engine.clone(),
        Settings::new(config.clone(), config_path.clone()),
        listen_url.clone(),
        clock.clone(),
    );
    spawn_timeouts(engine, config.calls, clock);
    // The Xelion websocket client, whenever the settings configure one.
    crate::xelion::spawn(&state, &data_dir);
    // The CRM lookup, whenever the settings configure one.
    crate::lookup::spawn(&state);
    // The CardDAV address books' syncs, for those the settings configure.
    crate::carddav::spawn(&state);

    println!("listening on {listen_url}");
    std::io::stdout().flush()?;
    eprintln!("config: {}", config_path.display());
    eprintln!("data:   {}", data_dir.display());
    if crate::ui::ui_dir().is_some() {
        eprintln!(
            "open:   {listen_url}/#token={}",
            config.api.token.as_deref().unwrap_or_default()
        );
    }
    for h in state.settings().hooks.iter().filter(|h| h.enabled) {
        if let Some(t) = &h.token {
            eprintln!(
                "webhook {:<9} http://{addr}/hooks/{}/{t}",
                h.provider.as_str(),
                h.provider
            );
        }
    }
    eprintln!(
        "try it:  ringside-server simulate --list; ringside-server simulate teltel-answered --to http://{addr}"
    );
    Ok(Running {
        listener,
        state,
        limits: opts.limits,
    })
}

/// End calls whose final event never came, checking a few times per timeout period.
fn spawn_timeouts(engine: Engine, limits: ringside_core::correlate::Timeouts, clock: Clock) {
    let every = Duration::from_secs((limits.ringing_s / 4).clamp(1, 15));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match engine.expire(clock(), limits).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("ended {n} call(s) whose final event never came"),
                Err(e) => tracing::error!("ending silent calls: {e:#}"),
            }
        }
    });
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
