//! The hub's outbound webhooks: each message the store journaled in its outbox (a finished
//! call, a missed call resolved or done) is posted to every `[[hub.webhooks]]` URL that wants
//! it, signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`), and tried again with backoff until a 2xx, for about a day. Messages
//! are journaled, so none is lost to a restart, and the admin can send one again.

use crate::error::{Error, Result};
use crate::ringside::Ringside;
use crate::viewer::{Viewer, Who};
use chrono::{DateTime, Utc};
use ringside_core::signature::sign_standard_webhooks;
use ringside_core::store::{Due, OutboxMessage, Queries};
use std::time::Duration;

/// How often the sender looks for deliveries due.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Deliveries taken at once.
const BATCH: usize = 32;
/// A receiver gets this long to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait after a failure, doubling up to [`LONGEST_WAIT`]; after [`ATTEMPTS`]
/// failures (about a day) the delivery is given up (an admin can send it again).
const FIRST_WAIT_S: i64 = 30;
const LONGEST_WAIT_S: i64 = 3600;
const ATTEMPTS: u32 = 30;

/// When to try again after `attempts` failures in all; `None`: give up.
pub fn retry_at(attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (attempts < ATTEMPTS).then(|| {
        let wait = FIRST_WAIT_S
            .saturating_mul(1 << attempts.saturating_sub(1).min(20))
            .min(LONGEST_WAIT_S);
        now + chrono::Duration::seconds(wait)
    })
}

/// Send what is due, for as long as Ringside runs. Call once, at start-up.
pub fn spawn(r: &Ringside) {
    let r = r.clone();
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Ringside/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(c) => c,
            Err(e) => return tracing::error!("outbound webhooks are off: {e}"),
        };
        loop {
            tokio::time::sleep(LOOK_EVERY).await;
            if r.settings().config.hub.is_none() {
                continue; // not a hub (yet): nothing is journaled to send
            }
            if let Err(e) = send_due(&r, &client).await {
                tracing::error!("outbound webhooks: {e:#}");
            }
        }
    });
}

/// Send every delivery due now; how many were tried.
pub async fn send_due(r: &Ringside, client: &reqwest::Client) -> anyhow::Result<usize> {
    let now = r.now();
    let due = r.read(move |s| s.outbox_due(now, BATCH)).await?;
    let n = due.len();
    for d in due {
        let result = post(r, client, &d).await;
        let now = r.now();
        let (msg, url) = (d.msg, d.url.clone());
        match result {
            Ok(()) => {
                r.engine
                    .write(move |w| Ok((w.outbox_sent(msg, &url, now)?, Vec::new())))
                    .await?
            }
            Err(why) => {
                let next = retry_at(d.attempts + 1, now);
                match next {
                    Some(at) => {
                        tracing::warn!("webhook {} to {}: {why}; again at {at}", d.msg_id, d.url)
                    }
                    None => tracing::error!("webhook {} to {}: {why}; given up", d.msg_id, d.url),
                }
                r.engine
                    .write(move |w| Ok((w.outbox_failed(msg, &url, &why, next)?, Vec::new())))
                    .await?
            }
        }
    }
    Ok(n)
}

/// Post `d` to its URL, signed with the URL's secret; `Err` says why it did not arrive.
async fn post(r: &Ringside, client: &reqwest::Client, d: &Due) -> std::result::Result<(), String> {
    let secret = r
        .settings()
        .config
        .hub
        .iter()
        .flat_map(|h| &h.webhooks)
        .find(|w| w.url == d.url)
        .map(|w| w.secret.clone())
        .ok_or("the URL is no longer in [[hub.webhooks]]")?;
    let timestamp = r.now().timestamp();
    let signature = sign_standard_webhooks(&secret, &d.msg_id, timestamp, d.payload.as_bytes())
        .map_err(|e| format!("signing: {e}"))?;
    let res = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &d.msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                format!("no answer within {} s", TIMEOUT.as_secs())
            } else {
                "could not connect".to_string()
            }
        })?;
    match res.status() {
        s if s.is_success() => Ok(()),
        s => Err(format!("answered {s}")),
    }
}

/// The newest messages and how their deliveries went (the admin's).
pub async fn list(r: &Ringside, v: &Viewer) -> Result<Vec<OutboxMessage>> {
    admin(v)?;
    Ok(r.read(|s| s.outbox(200)).await?)
}

/// Send message `id` again to every URL it went to.
pub async fn replay(r: &Ringside, v: &Viewer, id: i64) -> Result<()> {
    admin(v)?;
    let now = r.now();
    let found = r
        .engine
        .write(move |w| Ok((w.outbox_replay(id, now)?, Vec::new())))
        .await?;
    found
        .then_some(())
        .ok_or_else(|| Error::not_found(format!("no webhook message {id}")))
}

fn admin(v: &Viewer) -> Result<()> {
    match v.who {
        Who::Admin => Ok(()),
        Who::Agent { .. } => Err(Error::Forbidden(
            "the outbound webhooks are the admin's".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retries_double_to_an_hour_and_stop_after_about_a_day() {
        let now = Utc.timestamp_opt(0, 0).unwrap();
        let waits: Vec<i64> = (1..=8)
            .map(|a| (retry_at(a, now).unwrap() - now).num_seconds())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600]);
        let total: i64 = (1..ATTEMPTS)
            .map(|a| (retry_at(a, now).unwrap() - now).num_seconds())
            .sum();
        assert!((20 * 3600..=30 * 3600).contains(&total), "{total} s");
        assert_eq!(retry_at(ATTEMPTS, now), None);
    }
}
