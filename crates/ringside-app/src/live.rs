//! The live stream: every stored call change as a typed frame with a sequence number, for the
//! browser's `/api/live` and the desktop window alike. A subscriber that falls behind gets a
//! `resync` frame (reload from the API) instead of silently missing changes.
//!
//! Each subscriber has its own queue, bounded by bytes ([`SUBSCRIBER_BYTES`]): one that stops
//! reading costs the server that much at most (frames are serialized once and shared), then
//! its queue is dropped and it is owed a `resync`. A subscriber gone is forgotten at the next
//! frame.

use crate::call_view::CallView;
use crate::settings::SharedSettings;
use ringside_core::engine::Engine;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Notify;
use ts_rs::TS;

/// The most bytes of frames waiting for one subscriber; beyond, it gets a `resync` instead.
/// A few hundred changes of ordinary calls (1-3 KB each), a few dozen of the largest
/// (see `correlate::MAX_LEGS`).
pub const SUBSCRIBER_BYTES: usize = 1024 * 1024;

/// One message on the live stream.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveFrame {
    /// A call changed: `call` is how it is now.
    Call {
        #[ts(type = "number")]
        seq: u64,
        call: Box<CallView>,
    },
    /// Changes up to `seq` may have been missed: reload the calls, then go on with the
    /// frames that follow (a frame numbered `seq` or lower after it is covered by the reload).
    Resync {
        #[ts(type = "number")]
        seq: u64,
    },
}

impl LiveFrame {
    pub fn seq(&self) -> u64 {
        match self {
            LiveFrame::Call { seq, .. } | LiveFrame::Resync { seq } => *seq,
        }
    }
}

/// A frame and its JSON, serialized once for every subscriber.
#[derive(Debug)]
pub struct Frame {
    pub frame: LiveFrame,
    pub json: Arc<str>,
}

impl Frame {
    fn new(frame: LiveFrame) -> Frame {
        let json = serde_json::to_string(&frame)
            .expect("a live frame serializes")
            .into();
        Frame { frame, json }
    }
}

/// The stream's source: cheap to clone.
#[derive(Clone)]
pub struct Live {
    subscribers: Arc<Mutex<Vec<Weak<Queue>>>>,
    seq: Arc<AtomicU64>,
}

/// One subscriber's frames waiting to be taken.
#[derive(Default)]
struct Queue {
    state: Mutex<Waiting>,
    ready: Notify,
}

#[derive(Default)]
struct Waiting {
    frames: VecDeque<Arc<Frame>>,
    bytes: usize,
    /// Frames were dropped: a `resync` is owed.
    lagged: bool,
    /// The stream ended.
    closed: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Live {
    /// Start turning `engine`'s call changes into frames, each call seen by the agent the
    /// settings in force name. Needs a Tokio runtime.
    pub fn start(engine: &Engine, settings: SharedSettings) -> Live {
        let live = Live {
            subscribers: Arc::default(),
            seq: Arc::new(AtomicU64::new(0)),
        };
        let mut changes = engine.subscribe();
        let this = live.clone();
        tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(call) => {
                        let settings = settings.get();
                        this.publish(|seq| LiveFrame::Call {
                            seq,
                            call: Box::new(CallView::new((*call).clone(), &settings)),
                        });
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!("the live stream fell behind by {n} changes: resync");
                        this.publish(|seq| LiveFrame::Resync { seq });
                    }
                    Err(RecvError::Closed) => break,
                }
            }
            for q in this.alive() {
                q.lock().closed = true;
                q.ready.notify_one();
            }
        });
        live
    }

    /// Every frame from now on.
    pub fn subscribe(&self) -> Subscriber {
        let queue = Arc::new(Queue::default());
        self.lock().push(Arc::downgrade(&queue));
        Subscriber {
            queue,
            seq: self.seq.clone(),
        }
    }

    /// The last sequence number given out.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// How many subscribers there are.
    pub fn subscribers(&self) -> usize {
        self.alive().len()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Weak<Queue>>> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The subscribers still there (forgetting the others).
    fn alive(&self) -> Vec<Arc<Queue>> {
        let mut subs = self.lock();
        subs.retain(|w| w.strong_count() > 0);
        subs.iter().filter_map(Weak::upgrade).collect()
    }

    fn publish(&self, make: impl FnOnce(u64) -> LiveFrame) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let subs = self.alive();
        if subs.is_empty() {
            // Serialized once for every subscriber, and not at all without one.
            return;
        }
        let frame = Arc::new(Frame::new(make(seq)));
        for q in subs {
            let mut w = q.lock();
            if w.lagged {
                continue;
            }
            if w.bytes + frame.json.len() > SUBSCRIBER_BYTES {
                // Its queue goes; the reload that `resync` asks for covers it.
                w.frames.clear();
                w.bytes = 0;
                w.lagged = true;
            } else {
                w.bytes += frame.json.len();
                w.frames.push_back(frame.clone());
            }
            drop(w);
            q.ready.notify_one();
        }
    }
}

/// One subscriber's view of the stream.
pub struct Subscriber {
    queue: Arc<Queue>,
    seq: Arc<AtomicU64>,
}

impl Subscriber {
    /// The next frame: a `resync` when this subscriber fell behind; `None` once the stream
    /// has ended.
    pub async fn next(&mut self) -> Option<Arc<Frame>> {
        loop {
            {
                let mut w = self.queue.lock();
                if w.lagged {
                    w.lagged = false;
                    tracing::warn!(
                        "a live subscriber fell behind by over {} KiB of frames: resync",
                        SUBSCRIBER_BYTES / 1024
                    );
                    // Every frame from here on has a higher number than the resync's, or is
                    // covered by the reload it asks for.
                    let seq = self.seq.load(Ordering::SeqCst);
                    return Some(Arc::new(Frame::new(LiveFrame::Resync { seq })));
                }
                if let Some(f) = w.frames.pop_front() {
                    w.bytes -= f.json.len();
                    return Some(f);
                }
                if w.closed {
                    return None;
                }
            }
            // A notification sent since the lock was let go is kept for this wait.
            self.queue.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live {
        Live {
            subscribers: Arc::default(),
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    fn resync(seq: u64) -> LiveFrame {
        LiveFrame::Resync { seq }
    }

    #[tokio::test]
    async fn a_subscriber_that_stops_reading_costs_a_bounded_queue_then_gets_a_resync() {
        let live = live();
        let mut slow = live.subscribe();
        let mut fast = live.subscribe();
        let mut last = 0;
        // 50,000 frames of about 30 bytes: more than a subscriber may hold.
        for _ in 0..50_000 {
            live.publish(resync);
            last = fast.next().await.unwrap().frame.seq();
            let held = slow.queue.lock().bytes;
            assert!(held <= SUBSCRIBER_BYTES, "{held}");
        }
        assert_eq!(last, 50_000, "a reading subscriber misses nothing");
        let first = slow.next().await.unwrap();
        assert!(
            matches!(first.frame, LiveFrame::Resync { seq: 50_000 }),
            "{:?}",
            first.frame
        );
        // From then on it gets every frame again.
        live.publish(resync);
        assert_eq!(slow.next().await.unwrap().frame.seq(), 50_001);
        assert_eq!(live.subscribers(), 2);
        drop(slow);
        live.publish(resync);
        assert_eq!(live.subscribers(), 1, "a subscriber gone is forgotten");
    }
}
