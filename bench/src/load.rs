//! Webhook traffic for the measurements: distinct generic CTI events (JSON, the format any PBX
//! script can send), so nothing is dropped as a duplicate.

use anyhow::{bail, Result};
use std::time::Duration;

/// Where and how to send webhooks.
#[derive(Clone)]
pub struct Target {
    pub http: reqwest::Client,
    /// `http://HOST:PORT/hooks/generic/TOKEN`
    pub hook_url: String,
}

/// An HTTP client for the measurements (keep-alive, many connections).
pub fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?)
}

impl Target {
    pub fn new(http: reqwest::Client, base: &str, hook_token: &str) -> Target {
        Target {
            http,
            hook_url: format!("{}/hooks/generic/{hook_token}", base.trim_end_matches('/')),
        }
    }

    /// Send one event; fails unless it is answered 2xx.
    pub async fn send(&self, body: String) -> Result<()> {
        let res = self
            .http
            .post(&self.hook_url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        if !res.status().is_success() {
            let status = res.status();
            bail!(
                "webhook answered {status}: {}",
                res.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }
}

/// A ringing call `call_id` from a number derived from `n`: one new call, one `/api/live` frame.
pub fn new_call(call_id: &str, n: u64) -> String {
    event(call_id, n, 0)
}

/// Event `k` of run `nonce`: call `k / 3`, which rings (newCall), is answered, then hangs up.
pub fn lifecycle(nonce: &str, k: u64) -> String {
    event(&format!("{nonce}-{}", k / 3), k / 3, (k % 3) as u8)
}

fn event(call_id: &str, n: u64, step: u8) -> String {
    let from = format!("+1415{:07}", n % 10_000_000);
    let (event, extra) = match step {
        0 => ("newCall", r#""user":["201","202"]"#),
        1 => ("answer", r#""user":["201"],"answeringNumber":"201""#),
        _ => (
            "hangup",
            r#""cause":"normalClearing","answeringNumber":"201""#,
        ),
    };
    format!(
        r#"{{"event":"{event}","from":"{from}","to":"4930777000000","direction":"in","callId":"{call_id}",{extra}}}"#
    )
}

/// Send `calls` whole calls (3 events each) from `concurrency` senders as fast as they are
/// answered. Returns the events per second.
pub async fn flood(target: &Target, calls: u64, concurrency: usize) -> Result<f64> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let nonce = format!("flood-{}", chrono::Utc::now().timestamp_micros());
    let next = Arc::new(AtomicU64::new(0));
    let total = calls * 3;
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, next, nonce) = (target.clone(), next.clone(), nonce.clone());
            tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= total {
                        return Ok::<_, anyhow::Error>(());
                    }
                    target.send(lifecycle(&nonce, k)).await?;
                }
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
