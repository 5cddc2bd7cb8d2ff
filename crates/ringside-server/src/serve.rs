//! `serve`: load the config (writing a demo one on first run), lock and open the data
//! directory, listen, start the background tasks, print `listening on http://HOST:PORT` once
//! ready, and serve until asked to stop.

use crate::app::app;
use crate::listener::Limits;
use anyhow::{Context, Result};
use ringside_app::clock::{system_clock, Clock};
use ringside_app::lock::DataLock;
use ringside_app::settings::{load_config, Settings};
use ringside_app::Ringside;
use ringside_core::config::Paths;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

#[derive(Clone, Default)]
pub struct ServeOptions {
    /// Default 127.0.0.1:8089.
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// Timeouts and the connection limit of the listener.
    pub limits: Limits,
    /// Where "now" comes from; default the system clock.
    pub clock: Option<Clock>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8089";

/// Run the server until Ctrl-C or SIGTERM.
pub async fn serve(opts: ServeOptions) -> Result<()> {
    start(opts).await?.serve(shutdown()).await
}

/// A listener bound and announced, with its Ringside ready to serve.
pub struct Running {
    pub listener: tokio::net::TcpListener,
    pub ringside: Ringside,
    pub limits: Limits,
}

impl Running {
    /// Serve `app(ringside)` on the listener, within the limits, until `shutdown` completes.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        crate::listener::serve(self.listener, app(self.ringside), self.limits, shutdown).await?;
        Ok(())
    }
}

/// Load the config, lock and open the data directory, bind the listener, start the
/// background tasks and print `listening on http://HOST:PORT`. The caller serves
/// `app(ringside)` on the listener; the desktop app does exactly what `serve` does.
pub async fn start(opts: ServeOptions) -> Result<Running> {
    // The phone-number metadata loads slowly (a second under load in a debug build): load it
    // while we set up, and have it ready before any task needs a number, so none stalls an
    // async thread waiting for it.
    let warm = std::thread::spawn(ringside_core::phone::warm_up);
    let loaded = load_config(opts.config.as_deref())?;
    if loaded.created {
        eprintln!(
            "No configuration yet: wrote a demo one to {}",
            loaded.path.display()
        );
    }
    let data_dir = opts.data_dir.clone().unwrap_or_else(Paths::data_dir);
    let mut lock = DataLock::acquire(&data_dir)?;
    let listen = opts
        .listen
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default address"));
    let listener =
        crate::listener::bind(listen).with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!("listening on {addr}, reachable from other machines");
    }
    let listen_url = local_url(addr);
    lock.announce(&listen_url)
        .with_context(|| format!("writing to {}", data_dir.display()))?;
    let config = loaded.config;
    let _ = warm.join();
    let ringside = Ringside::open(
        lock,
        Settings::new(config.clone(), loaded.path.clone()),
        listen_url.clone(),
        opts.clock.clone().unwrap_or_else(system_clock),
    )
    .await?;
    ringside_app::start::spawn_tasks(&ringside);

    println!("listening on {listen_url}");
    std::io::stdout().flush()?;
    eprintln!("config: {}", loaded.path.display());
    eprintln!("data:   {}", data_dir.display());
    if crate::ui::ui_dir().is_some() {
        eprintln!(
            "open:   {listen_url}/#token={}",
            config.api.token.as_deref().unwrap_or_default()
        );
    }
    for h in ringside.settings().hooks.iter().filter(|h| h.enabled) {
        if let Some(t) = &h.token {
            eprintln!(
                "webhook {:<9} {listen_url}/hooks/{}/{t}",
                h.provider.as_str(),
                h.provider
            );
        }
    }
    eprintln!("try it:  {}", try_it());
    Ok(Running {
        listener,
        ringside,
        limits: opts.limits,
    })
}

/// `--listen`: `HOST:PORT`, the host a name (`localhost`) or an address; a name is looked up,
/// and a loopback address preferred among its addresses.
pub fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("`{s}` is not HOST:PORT ({e})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4() && a.ip().is_loopback())
        .or_else(|| addrs.iter().find(|a| a.ip().is_loopback()))
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("`{s}` names no address"))
}

/// The URL this machine reaches the listener at: a loopback one when it listens on every
/// address (the API answers loopback names only, so the printed URL must be one).
pub fn local_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// How to send a test call from a terminal, as this install can run it: this binary's path
/// when it is `ringside-server`, the one next to it else; without one, the window's button.
fn try_it() -> String {
    let exe = std::env::current_exe().ok();
    let server = exe.as_ref().and_then(|e| {
        let name = e.file_stem()?.to_str()?;
        if name == "ringside-server" {
            return Some(e.clone());
        }
        let sibling = e.with_file_name(format!("ringside-server{}", std::env::consts::EXE_SUFFIX));
        sibling.exists().then_some(sibling)
    });
    let on_path = |p: &std::path::Path| {
        std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|d| d.join("ringside-server") == p)
        })
    };
    match server {
        Some(p) if on_path(&p) => {
            "ringside-server simulate teltel-answered   (or: Settings → Send test call)".into()
        }
        Some(p) => format!(
            "{} simulate teltel-answered   (or: Settings → Send test call)",
            p.display()
        ),
        None => "Settings → Send test call".into(),
    }
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
