//! Soak: webhooks at a steady rate for a while, the server's RSS sampled every second.
//!
//! Memory is judged after a warm-up (when SQLite's page caches, the allocator's pools and the
//! runtime's buffers have reached their working size): the growth is the largest RSS after
//! the warm-up minus the RSS at its end, and must stay within the bound.

use crate::load::{self, Target};
use crate::procfs;
use anyhow::{bail, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Options {
    pub url: String,
    pub hook_token: String,
    pub pid: u32,
    pub rate: f64,
    pub seconds: f64,
    pub warmup: f64,
}

pub struct Report {
    /// (seconds since start, RSS kB), one per second.
    pub samples: Vec<(f64, u64)>,
    pub sent: u64,
    pub failed: u64,
    /// RSS at the end of the warm-up, kB.
    pub after_warmup_kb: u64,
    /// Largest RSS after the warm-up, kB.
    pub max_kb: u64,
    /// RSS growth after the warm-up, kB per minute (least squares).
    pub slope_kb_per_min: f64,
}

impl Report {
    pub fn growth_kb(&self) -> u64 {
        self.max_kb.saturating_sub(self.after_warmup_kb)
    }
}

pub async fn run(o: Options) -> Result<Report> {
    let target = Target::new(load::client()?, &o.url, &o.hook_token);
    let nonce = format!("soak-{}", chrono::Utc::now().timestamp_micros());
    let failed = Arc::new(AtomicU64::new(0));
    let total = (o.rate * o.seconds).round() as u64;
    let started = Instant::now();

    let sampler = {
        let pid = o.pid;
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                match procfs::status_kb(pid, "VmRSS") {
                    Ok(kb) => samples.push((started.elapsed().as_secs_f64(), kb)),
                    Err(_) => return samples, // the server is gone
                }
                if started.elapsed().as_secs_f64() > o.seconds + 0.5 {
                    return samples;
                }
            }
        })
    };

    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / o.rate));
    let mut tasks = Vec::new();
    for k in 0..total {
        tick.tick().await;
        let target = target.clone();
        let failed = failed.clone();
        let body = load::lifecycle(&nonce, k);
        tasks.push(tokio::spawn(async move {
            if let Err(e) = target.send(body).await {
                if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("soak: {e:#}");
                }
            }
        }));
        tasks.retain(|t| !t.is_finished());
    }
    for t in tasks {
        t.await?;
    }
    let samples = sampler.await?;
    let after: Vec<(f64, u64)> = samples
        .iter()
        .copied()
        .filter(|(t, _)| *t >= o.warmup)
        .collect();
    let Some(&(_, after_warmup_kb)) = after.first() else {
        bail!("no memory samples after the warm-up: did the server stop?");
    };
    Ok(Report {
        sent: total,
        failed: failed.load(Ordering::Relaxed),
        after_warmup_kb,
        max_kb: after.iter().map(|s| s.1).max().unwrap_or(0),
        slope_kb_per_min: slope(&after) * 60.0,
        samples,
    })
}

/// Least-squares slope of y over x.
fn slope(points: &[(f64, u64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let num: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 as f64 - my)).sum();
    let den: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slope_of_a_line() {
        let pts: Vec<(f64, u64)> = (0..10).map(|i| (i as f64, 100 + 3 * i as u64)).collect();
        assert!((super::slope(&pts) - 3.0).abs() < 1e-9);
    }
}
