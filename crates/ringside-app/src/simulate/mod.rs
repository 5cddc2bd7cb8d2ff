//! Built-in call scenarios replayed in each provider's real wire format (method, content type,
//! auth) against a running Ringside: `ringside-server simulate`, and the settings page's
//! "Send test call".

use crate::ringside::Ringside;
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use ringside_core::config::Config;
use ringside_core::providers::{self, Inbound, ParseContext, ParseError, Parsed};
use ringside_core::Provider;
use serde::Serialize;
use std::time::Duration;
use ts_rs::TS;

mod exotel;
mod generic;
mod teltel;
mod voiceshot;
mod whippy;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ScenarioInfo {
    pub name: String,
    pub provider: String,
    pub description: String,
}

pub fn scenarios() -> Vec<ScenarioInfo> {
    all()
        .into_iter()
        .map(|s| ScenarioInfo {
            name: s.name.into(),
            provider: s.provider.to_string(),
            description: s.description.into(),
        })
        .collect()
}

/// Start scenario `name` against this very listener, in the background, at a watchable pace.
pub fn test_call(r: &Ringside, name: &str) -> crate::error::Result<()> {
    let scenario = all()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| crate::error::Error::not_found(format!("no scenario `{name}`")))?;
    let config = r.settings().config.clone();
    let base = r.listen_url.clone();
    tokio::spawn(async move {
        if let Err(e) = send(&config, &[scenario], &base, false, |_| {}).await {
            tracing::warn!("test call {}: {e:#}", scenario.name);
        }
    });
    Ok(())
}

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

    /// What Ringside's adapter for `provider` makes of this request, as its webhook would
    /// receive it.
    pub fn parse(&self, provider: Provider, ctx: &ParseContext) -> Result<Parsed, ParseError> {
        let method = http::Method::from_bytes(self.method.as_bytes()).unwrap_or(http::Method::POST);
        let mut headers = http::HeaderMap::new();
        if let Some(ct) = self.content_type.as_deref().and_then(|c| c.parse().ok()) {
            headers.insert(http::header::CONTENT_TYPE, ct);
        }
        let inbound = Inbound {
            method: &method,
            query: self.query.strip_prefix('?').filter(|q| !q.is_empty()),
            headers: &headers,
            body: &self.body,
        };
        providers::parse(provider, &inbound, ctx)
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

/// Every scenario, grouped by provider.
pub fn all() -> Vec<&'static Scenario> {
    [
        voiceshot::SCENARIOS,
        whippy::SCENARIOS,
        teltel::SCENARIOS,
        exotel::SCENARIOS,
        generic::SCENARIOS,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Send `scenarios` to `base` in each provider's wire format, with the tokens in `config`;
/// `report` hears about every step.
pub async fn send(
    config: &Config,
    scenarios: &[&Scenario],
    base: &str,
    fast: bool,
    report: impl Fn(String),
) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;
    let base = base.trim_end_matches('/');
    let hooks = config.hooks();
    for s in scenarios {
        let hook = hooks
            .iter()
            .find(|h| h.provider == s.provider && h.enabled)
            .ok_or_else(|| {
                anyhow!(
                    "{} is not enabled; add [providers.{}] with a token",
                    s.provider,
                    s.provider
                )
            })?;
        let run = Run {
            id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            now: Utc::now(),
            caller: format!("+1415555{:04}", rand_digits()),
            agents: if config.agent.identities.len() >= 2 {
                config.agent.identities.clone()
            } else {
                vec!["201".into(), "202".into()]
            },
        };
        report(format!("{}: {}", s.name, s.description));
        for (i, req) in (s.build)(&run).into_iter().enumerate() {
            if !fast && req.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(req.delay_ms)).await;
            }
            let (url, basic) = match (&hook.token, &hook.basic_auth) {
                (Some(t), _) => (
                    format!("{base}/hooks/{}/{t}{}", s.provider, req.query),
                    None,
                ),
                (None, Some(creds)) => (
                    format!("{base}/hooks/{}{}", s.provider, req.query),
                    Some(creds.clone()),
                ),
                (None, None) => bail!("{} has neither a token nor Basic credentials", s.provider),
            };
            let method: reqwest::Method = req.method.parse()?;
            let mut r = client.request(method, &url).body(req.body.clone());
            if let Some(ct) = &req.content_type {
                r = r.header(reqwest::header::CONTENT_TYPE, ct);
            }
            if let Some((u, p)) = basic {
                r = r.basic_auth(u, Some(p));
            }
            let res = r
                .send()
                .await
                .with_context(|| format!("sending step {} to {base}", i + 1))?;
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            report(format!("  step {}: {} -> {}", i + 1, req.method, status));
            if !status.is_success() {
                bail!("step {} was refused: {status} {text}", i + 1);
            }
        }
    }
    Ok(())
}

fn rand_digits() -> u16 {
    (uuid::Uuid::new_v4().as_u128() % 10_000) as u16
}
