//! The sweeper: ends the calls whose final event never came (a ringing call after
//! `[calls] ringing_s`, an answered one after `answered_s`, one its provider will say no more
//! about after `quiet_s`), checking a few times per shortest timeout, with the limits in force
//! at each look.

use crate::ringside::Ringside;
use std::time::Duration;

/// Looks per ringing timeout, and the longest wait between two looks.
const LOOKS_PER_TIMEOUT: u64 = 4;
const LONGEST_WAIT_S: u64 = 15;

/// End every call that has been silent too long, now; how many.
pub async fn sweep(r: &Ringside) -> anyhow::Result<usize> {
    let limits = r.settings().config.calls;
    r.engine.expire(r.now(), limits).await
}

/// Sweep for as long as Ringside runs. Call once, at start-up.
pub fn spawn(r: &Ringside) {
    let r = r.clone();
    tokio::spawn(async move {
        loop {
            let calls = r.settings().config.calls;
            let shortest = calls.ringing_s.min(calls.quiet_s);
            let wait = (shortest / LOOKS_PER_TIMEOUT).clamp(1, LONGEST_WAIT_S);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            match sweep(&r).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("ended {n} call(s) whose final event never came"),
                Err(e) => tracing::error!("ending silent calls: {e:#}"),
            }
        }
    });
}
