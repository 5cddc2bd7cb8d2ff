//! Ringside's call engine, free of any UI toolkit: the call model, provider adapters, call
//! correlation and the durable store. `ringside-server` and the desktop shell both embed it.

pub mod config;
pub mod contacts;
pub mod correlate;
pub mod dial;
pub mod engine;
pub mod files;
pub mod ingest;
pub mod links;
pub mod me;
pub mod model;
pub mod phone;
pub mod providers;
pub mod screenpop;
pub mod signature;
pub mod spreadsheet;
pub mod store;

pub use model::*;
