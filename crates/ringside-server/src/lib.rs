//! Headless Ringside: the HTTP listener (webhooks, API, live stream), the CLI's commands,
//! and `simulate`. The desktop shell embeds [`serve`] unchanged.

pub mod api;
pub mod app;
pub mod carddav;
pub mod contacts;
pub mod error;
pub mod hooks;
pub mod listener;
pub mod lookup;
pub mod ops;
pub mod secrets;
pub mod serve;
pub mod simulate;
pub mod status;
pub mod ui;
pub mod xelion;

pub use app::{app, AppState, Clock};
pub use serve::{serve, start, Running, ServeOptions};
