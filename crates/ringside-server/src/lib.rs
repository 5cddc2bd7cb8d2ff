//! Headless Ringside over HTTP: the listener (webhooks, the API, the live stream, the UI), the
//! CLI's commands and `simulate`. Every operation is [`ringside_app`]'s; this crate only
//! speaks HTTP. The desktop shell embeds [`start`] unchanged.

pub mod agents_cli;
pub mod api;
pub mod app;
pub mod auth;
pub mod body;
pub mod error;
pub mod hooks;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod serve;
pub mod simulate;
pub mod ui;

pub use app::app;
pub use serve::{serve, start, Running, ServeOptions};
