//! `ringside-server simulate`: the built-in call scenarios (`providers::scenario`, built in each
//! provider's real wire format) sent with the provider's authentication to a running Ringside.

use anyhow::{anyhow, bail, Context, Result};
use chrono::Utc;
use ringside_core::config::{Config, DEMO_IDENTITIES};
use ringside_core::providers::scenario::{self, Run, Scenario};
use std::path::PathBuf;
use std::time::Duration;

/// How long one request of a scenario may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// The leading characters of a fresh UUID that name a run: unique enough, and short enough
/// for every provider's call ids.
const RUN_ID_LEN: usize = 12;

pub fn print_list() {
    for s in scenario::all() {
        println!("{:<26} {}", s.name, s.description);
    }
    println!("{:<26} every scenario above, one after another", "all");
}

/// `ringside-server simulate`: send `name` (or every scenario for `all`) to the Ringside at
/// `base`, authenticating with the tokens in the config at `config_path` (default: the one
/// `serve` uses), printing each step.
pub async fn run(name: &str, base: &str, config_path: Option<&PathBuf>, fast: bool) -> Result<()> {
    let scenarios: Vec<_> = match name {
        "all" => scenario::all(),
        _ => vec![scenario::named(name).ok_or_else(|| {
            anyhow!("no scenario `{name}`; `ringside-server simulate --list` lists them")
        })?],
    };
    let (config, path) = crate::serve::load_config(config_path)?;
    send(&config, &scenarios, base, fast, |line| println!("{line}"))
        .await
        .with_context(|| format!("with the tokens in {}", path.display()))
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
            agents: if config.agent.identities.len() >= DEMO_IDENTITIES.len() {
                config.agent.identities.clone()
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
