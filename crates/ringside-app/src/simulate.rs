//! Test calls: the built-in scenarios (`ringside_core::providers::scenario`, each provider's
//! real wire format) sent with the provider's authentication to a running Ringside — the
//! settings page's "Send test call" against this very listener, and `ringside-server simulate`.

use crate::error::{Error, Result};
use crate::ringside::Ringside;
use anyhow::{anyhow, bail, Context};
use chrono::Utc;
use ringside_core::config::{Config, DEMO_IDENTITIES};
use ringside_core::providers::scenario::{self, Run, Scenario};
use serde::Serialize;
use std::time::Duration;
use ts_rs::TS;

/// How long one request of a scenario may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// The leading characters of a fresh UUID that name a run: unique enough, and short enough
/// for every provider's call ids.
const RUN_ID_LEN: usize = 12;

/// `GET /api/scenarios`: a built-in test call.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ScenarioInfo {
    pub name: String,
    pub provider: String,
    pub description: String,
}

pub fn scenarios() -> Vec<ScenarioInfo> {
    scenario::all()
        .into_iter()
        .map(|s| ScenarioInfo {
            name: s.name.into(),
            provider: s.provider.to_string(),
            description: s.description.into(),
        })
        .collect()
}

/// Start scenario `name` against this very listener, in the background, at a watchable pace.
pub fn test_call(r: &Ringside, name: &str) -> Result<()> {
    let scenario =
        scenario::named(name).ok_or_else(|| Error::not_found(format!("no scenario `{name}`")))?;
    let config = r.settings().config.clone();
    let base = r.listen_url.clone();
    tokio::spawn(async move {
        if let Err(e) = send(&config, &[scenario], &base, false, |_| {}).await {
            tracing::warn!("test call {}: {e:#}", scenario.name);
        }
    });
    Ok(())
}

/// Send `scenarios` to `base` in each provider's wire format, with the tokens in `config`;
/// `report` hears about every step.
pub async fn send(
    config: &Config,
    scenarios: &[&Scenario],
    base: &str,
    fast: bool,
    report: impl Fn(String),
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
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
            id: uuid::Uuid::new_v4().simple().to_string()[..RUN_ID_LEN].to_string(),
            now: Utc::now(),
            caller: format!("+1415555{:04}", rand_digits()),
            // Two agents to ring: the first configured identities (the demo config's are
            // followed by its VoiceShot campaign, which is no agent), or the demo ones.
            agents: if config.agent.identities.len() >= DEMO_IDENTITIES.len() {
                config.agent.identities[..DEMO_IDENTITIES.len()].to_vec()
            } else {
                DEMO_IDENTITIES.map(String::from).to_vec()
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
