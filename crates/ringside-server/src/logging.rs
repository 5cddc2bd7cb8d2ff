//! The process's log: stderr, filtered by `RINGSIDE_LOG` (an `EnvFilter`: `info`, `trace`,
//! `ringside_app=debug,warn` ...), and never a secret at any level. Ringside's own messages
//! never hold one; a dependency's that do are left out here, whatever the filter says.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Log to stderr as `RINGSIDE_LOG` says, else as `default` says. Call once, first thing.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_env("RINGSIDE_LOG").unwrap_or_else(|_| default.into());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter.and(filter_fn(holds_no_secret))),
        )
        .init();
}

/// Whether a message of this kind is free of secrets: tungstenite's client handshake logs
/// its whole request at TRACE, and the request's path is the Xelion websocket URL, which
/// lets whoever holds it connect as Ringside (the PBX gives one per connection).
fn holds_no_secret(meta: &Metadata<'_>) -> bool {
    !(meta.target() == "tungstenite::handshake::client" && *meta.level() == Level::TRACE)
}
