//! Headless Ringside: the HTTP listener (webhooks, API, live stream), the CLI's commands,
//! and `simulate`. The desktop shell embeds [`serve`] unchanged.

pub mod api;
pub mod app;
pub mod error;
pub mod hooks;
pub mod ops;
pub mod serve;
pub mod simulate;
pub mod ui;

pub use app::{app, AppState, Clock};
pub use serve::{serve, ServeOptions};
