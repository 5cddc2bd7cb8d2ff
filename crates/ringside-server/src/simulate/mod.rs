//! `ringside-server simulate`: built-in call scenarios replayed in each provider's real wire
//! format (method, content type, auth) against a running Ringside.

use chrono::{DateTime, Utc};
use ringside_core::Provider;

mod exotel;
mod generic;
mod teltel;
mod voiceshot;
mod whippy;

/// One HTTP request of a scenario, relative to the provider's webhook URL.
#[derive(Debug, Clone)]
pub struct WireRequest {
    pub method: &'static str,
    /// Appended to the webhook URL, e.g. `?CallSid=...` for a GET; usually empty.
    pub query: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Pause before sending this request, so a person watching sees each state.
    pub delay_ms: u64,
}

impl WireRequest {
    pub fn post(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        WireRequest {
            method: "POST",
            query: String::new(),
            content_type: Some(content_type.to_string()),
            body: body.into(),
            delay_ms: 0,
        }
    }
    pub fn get(query: String) -> Self {
        WireRequest {
            method: "GET",
            query,
            content_type: None,
            body: Vec::new(),
            delay_ms: 0,
        }
    }
    pub fn after(mut self, delay_ms: u64) -> Self {
        self.delay_ms = delay_ms;
        self
    }
}

/// What varies between runs of one scenario, so that every run is a new call.
#[derive(Debug, Clone)]
pub struct Run {
    /// A fresh unique id, usable as (part of) the provider's call id and event ids.
    pub id: String,
    pub now: DateTime<Utc>,
    /// The caller's number as the provider would send it.
    pub caller: String,
    /// Agents to ring: the configured identities, or demo ones.
    pub agents: Vec<String>,
}

pub struct Scenario {
    pub name: &'static str,
    pub provider: Provider,
    pub description: &'static str,
    pub build: fn(&Run) -> Vec<WireRequest>,
}
