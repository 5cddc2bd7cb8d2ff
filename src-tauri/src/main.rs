//! `ringside`: the desktop app. A thin shell over the engine and the very router
//! `ringside-server` runs: window, tray, notifications, OS integration. Without a display it
//! runs headless, exactly like `ringside-server serve`.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod desktop;
mod pops;
mod shortcuts;
mod tray;
mod window;

use clap::Parser;
use ringside_server::ServeOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Screen-pops for call-centre agents.
#[derive(Parser, Debug)]
#[command(name = "ringside", version)]
struct Cli {
    /// Address to listen on for webhooks and the API, HOST:PORT (`localhost:9000` too);
    /// 127.0.0.1:0 picks a free port.
    #[arg(long, default_value = ringside_server::serve::DEFAULT_LISTEN, value_parser = ringside_server::serve::listen_addr)]
    listen: SocketAddr,
    /// Where the store lives (default: the XDG data directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Configuration file (default: the XDG config file, created on first run).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run without a window even when a display is available.
    #[arg(long)]
    headless: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RINGSIDE_LOG").unwrap_or_else(|_| {
                "ringside=info,ringside_server=info,ringside_core=info,warn".into()
            }),
        )
        .init();
    let cli = Cli::parse();
    let opts = ServeOptions {
        listen: Some(cli.listen),
        data_dir: cli.data_dir,
        config: cli.config,
        ..ServeOptions::default()
    };
    let result = if cli.headless || !desktop::has_display() {
        if !cli.headless {
            eprintln!("No display found: running headless. Open the URL below in a browser.");
        }
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(ringside_server::serve(opts)))
    } else {
        desktop::run(opts)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
