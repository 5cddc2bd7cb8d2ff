//! The sweeper: ends the calls whose final event never came (a ringing call after
//! `[calls] ringing_s`, an answered one after `answered_s`, one its provider will say no more
//! about after `quiet_s`), checking a few times per shortest timeout, with the limits in force
//! at each look; and lets go of the team's claims that lapsed.

use crate::ringside::Ringside;
use ringside_core::store::Queries;
use std::time::Duration;

/// Looks per ringing timeout, and the longest wait between two looks.
const LOOKS_PER_TIMEOUT: u64 = 4;
const LONGEST_WAIT_S: u64 = 15;

/// Calls ended per write: one write takes a few milliseconds, so webhooks go on between them
/// even when thousands of calls are due (after a long stop).
const CHUNK: usize = 200;

/// End every call that has been silent too long, now; how many. The due calls are found on a
/// reader connection, then ended [`CHUNK`] at a time on the writer.
pub async fn sweep(r: &Ringside) -> anyhow::Result<usize> {
    let limits = r.settings().config.calls;
    let now = r.now();
    let mut ended = 0;
    loop {
        let stale = r.read(move |s| s.stale_calls(now, &limits, CHUNK)).await?;
        let found = stale.len();
        if found == 0 {
            break;
        }
        let n = r.engine.expire(stale, now, limits).await?;
        ended += n;
        if found < CHUNK || n == 0 {
            break;
        }
    }
    if r.read(move |s| s.any_lapsed_claim(now)).await? {
        r.engine.clear_lapsed_claims(now).await?;
    }
    Ok(ended)
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
