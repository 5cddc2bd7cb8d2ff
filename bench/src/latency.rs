//! Latency from a webhook's 2xx to its frame on `/api/live`, at a steady rate.
//!
//! One websocket client listens on `/api/live`; webhooks (each a new ringing call, the event
//! that pops a screen) are sent at `rate` per second, each on its own task. For every call the
//! tool notes when the 2xx arrived and when the frame for that call arrived. The frame is sent
//! after the commit, like the 2xx, so it may come first: then the latency is negative.

use crate::load::{self, Target};
use crate::stats::Summary;
use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

pub struct Options {
    pub url: String,
    pub api_token: String,
    pub hook_token: String,
    pub rate: f64,
    pub seconds: f64,
    /// Samples from the first `warmup` seconds are left out.
    pub warmup: f64,
}

#[derive(Default)]
struct Times {
    sent: Option<Instant>,
    answered: Option<Instant>,
    frame: Option<Instant>,
}

pub struct Report {
    /// 2xx -> frame, milliseconds (negative: the frame came first).
    pub after_2xx: Summary,
    /// Webhook sent -> frame, milliseconds.
    pub end_to_end: Summary,
    /// Webhook sent -> 2xx, milliseconds.
    pub webhook: Summary,
    pub sent: usize,
    pub achieved_rate: f64,
}

pub async fn run(o: Options) -> Result<Report> {
    let target = Target::new(load::client()?, &o.url, &o.hook_token);
    let ws_url = format!(
        "{}/api/live?token={}",
        o.url.replacen("http://", "ws://", 1),
        o.api_token
    );
    let (ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .context("connecting to /api/live")?;
    let times: Arc<Mutex<HashMap<String, Times>>> = Arc::default();
    let nonce = format!("lat-{}", chrono::Utc::now().timestamp_micros());

    let reader = {
        let times = times.clone();
        tokio::spawn(async move {
            let (_, mut rx) = ws.split();
            while let Some(msg) = rx.next().await {
                let Ok(Message::Text(text)) = msg else {
                    continue;
                };
                let at = Instant::now();
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                if let Some(id) = v["call"]["provider_call_id"].as_str() {
                    let mut t = times.lock().expect("not poisoned");
                    if let Some(entry) = t.get_mut(id) {
                        entry.frame.get_or_insert(at);
                    }
                }
            }
        })
    };

    let total = (o.rate * o.seconds).round() as u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / o.rate));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    let mut warm_ids = std::collections::HashSet::new();
    for n in 0..total {
        tick.tick().await;
        let id = format!("{nonce}-{n}");
        if started.elapsed().as_secs_f64() < o.warmup {
            warm_ids.insert(id.clone());
        }
        times
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), Times::default());
        let target = target.clone();
        let times = times.clone();
        tasks.push(tokio::spawn(async move {
            let body = load::new_call(&id, n);
            let sent = Instant::now();
            let r = target.send(body).await;
            let answered = Instant::now();
            let mut t = times.lock().expect("not poisoned");
            let e = t.entry(id).or_default();
            e.sent = Some(sent);
            e.answered = Some(answered);
            r
        }));
    }
    let sending = started.elapsed().as_secs_f64();
    for t in tasks {
        t.await??;
    }
    // Give the last frames a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if times
            .lock()
            .expect("not poisoned")
            .values()
            .all(|t| t.frame.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reader.abort();

    let times = times.lock().expect("not poisoned");
    let missing = times.values().filter(|t| t.frame.is_none()).count();
    if missing > 0 {
        bail!("{missing} of {total} calls never showed on /api/live");
    }
    let ms = |a: Instant, b: Instant| {
        if b >= a {
            (b - a).as_secs_f64() * 1e3
        } else {
            -((a - b).as_secs_f64() * 1e3)
        }
    };
    let (mut after, mut e2e, mut hook) = (Vec::new(), Vec::new(), Vec::new());
    for (id, t) in times.iter() {
        if warm_ids.contains(id) {
            continue;
        }
        let (Some(sent), Some(answered), Some(frame)) = (t.sent, t.answered, t.frame) else {
            continue;
        };
        after.push(ms(answered, frame));
        e2e.push(ms(sent, frame));
        hook.push(ms(sent, answered));
    }
    Ok(Report {
        after_2xx: Summary::of(after),
        end_to_end: Summary::of(e2e),
        webhook: Summary::of(hook),
        sent: total as usize,
        achieved_rate: total as f64 / sending,
    })
}
