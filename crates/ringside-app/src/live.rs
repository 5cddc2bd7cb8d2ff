//! The live stream: every stored call change as a typed frame numbered by the change
//! ([`ringside_core::Call::seq`]), for the browser's `/api/live` and the desktop window alike.
//! Each subscriber sees only the calls its [`Viewer`] may see, with `mine` as it sees them. A
//! subscriber that comes back after `after` first gets every change since (each call once, as
//! it is now), then the live ones; one that falls behind, or asks for more than can be
//! replayed, gets a `resync` frame (reload from the API) instead of silently missing changes.
//!
//! Each subscriber has its own queue, bounded by bytes ([`SUBSCRIBER_BYTES`]): one that stops
//! reading costs the server that much at most (frames are serialized at most twice per change
//! and shared), then its queue is dropped and it is owed a `resync`. A subscriber gone is
//! forgotten at the next change.

use crate::call_view::CallView;
use crate::ringside::Ringside;
use crate::settings::{Settings, SharedSettings};
use crate::viewer::Viewer;
use ringside_core::engine::Engine;
use ringside_core::store::Queries;
use ringside_core::Call;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Notify;
use ts_rs::TS;

/// The most bytes of frames waiting for one subscriber; beyond, it gets a `resync` instead.
/// A few hundred changes of ordinary calls (1-3 KB each), a few dozen of the largest
/// (see `correlate::MAX_LEGS`).
pub const SUBSCRIBER_BYTES: usize = 1024 * 1024;
/// The most changes a returning subscriber is sent again; beyond, it reloads instead.
pub const MAX_REPLAY: usize = 10_000;

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

/// A frame and its JSON, made once for every subscriber that sends it.
#[derive(Debug)]
pub struct Frame {
    pub frame: LiveFrame,
    pub json: Arc<str>,
}

impl Frame {
    fn new(frame: LiveFrame) -> Arc<Frame> {
        let json = serde_json::to_string(&frame)
            .expect("a live frame serializes")
            .into();
        Arc::new(Frame { frame, json })
    }
}

/// One stored change, with its frames made lazily: one for the viewers it is "mine" to, one
/// for the others (so thousands of subscribers serialize it at most twice).
#[derive(Debug)]
struct Change {
    call: Arc<Call>,
    mine: OnceLock<Arc<Frame>>,
    others: OnceLock<Arc<Frame>>,
}

impl Change {
    fn new(call: Arc<Call>) -> Change {
        Change {
            call,
            mine: OnceLock::new(),
            others: OnceLock::new(),
        }
    }

    /// The frame for `viewer`, or `None` when it may not see the call.
    fn frame_for(&self, viewer: &Viewer, settings: &Settings) -> Option<Arc<Frame>> {
        if !viewer.sees(&self.call) {
            return None;
        }
        let mine = viewer.me.owns(&self.call);
        let slot = if mine { &self.mine } else { &self.others };
        Some(
            slot.get_or_init(|| {
                Frame::new(LiveFrame::Call {
                    seq: self.call.seq,
                    call: Box::new(CallView::new((*self.call).clone(), &viewer.me, settings)),
                })
            })
            .clone(),
        )
    }
}

/// The stream's source: cheap to clone.
#[derive(Clone)]
pub struct Live {
    subscribers: Arc<Mutex<Vec<Weak<Queue>>>>,
    /// The last change number seen.
    seq: Arc<AtomicU64>,
    /// How frames show calls (pops, numbers): the settings in force when a frame is made.
    settings: SharedSettings,
}

/// One subscriber's frames waiting to be taken.
struct Queue {
    viewer: Viewer,
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

    /// Queue `frame`, or drop the queue (and owe a `resync`) when it would hold too much.
    fn push(&self, frame: Arc<Frame>) {
        let mut w = self.lock();
        if w.lagged {
            return;
        }
        if w.bytes + frame.json.len() > SUBSCRIBER_BYTES {
            // Its queue goes; the reload that `resync` asks for covers it.
            w.frames.clear();
            w.bytes = 0;
            w.lagged = true;
        } else {
            w.bytes += frame.json.len();
            w.frames.push_back(frame);
        }
        drop(w);
        self.ready.notify_one();
    }

    fn lost(&self) {
        let mut w = self.lock();
        w.frames.clear();
        w.bytes = 0;
        w.lagged = true;
        drop(w);
        self.ready.notify_one();
    }
}

impl Live {
    /// Start following `engine`'s call changes, numbered from `last_seq` on, shown as
    /// `settings` say. Needs a Tokio runtime.
    pub fn start(engine: &Engine, last_seq: u64, settings: SharedSettings) -> Live {
        let live = Live {
            subscribers: Arc::default(),
            seq: Arc::new(AtomicU64::new(last_seq)),
            settings,
        };
        let mut changes = engine.subscribe();
        let this = live.clone();
        tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(call) => this.publish(call),
                    Err(RecvError::Lagged(n)) => {
                        // Every subscriber missed these: each is told to resync.
                        tracing::warn!("the live stream fell behind by {n} changes: resync");
                        for q in this.alive() {
                            q.lost();
                        }
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

    /// The last change number seen.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// How many subscribers there are.
    pub fn subscribers(&self) -> usize {
        self.alive().len()
    }

    /// Every change `viewer` may see from now on.
    pub fn subscribe(&self, viewer: Viewer) -> Subscriber {
        let queue = Arc::new(Queue {
            viewer,
            state: Mutex::default(),
            ready: Notify::new(),
        });
        self.lock().push(Arc::downgrade(&queue));
        Subscriber {
            queue,
            seq: self.seq.clone(),
            pending: VecDeque::new(),
            covered: 0,
        }
    }

    /// [`Live::subscribe`], first sending again every change after `after` that `viewer` may
    /// see (each call once, as it is now); a `resync` first when there are more than
    /// [`MAX_REPLAY`].
    pub async fn subscribe_after(
        &self,
        r: &Ringside,
        viewer: Viewer,
        after: u64,
    ) -> anyhow::Result<Subscriber> {
        // Subscribed before reading, so nothing falls between the two.
        let mut sub = self.subscribe(viewer);
        let calls = r
            .read(move |s| s.changed_after(after, MAX_REPLAY + 1))
            .await?;
        if calls.len() > MAX_REPLAY {
            let seq = self.seq();
            sub.covered = seq;
            sub.pending.push_back(Frame::new(LiveFrame::Resync { seq }));
            return Ok(sub);
        }
        sub.covered = after;
        let settings = self.settings.get();
        for call in calls {
            let seq = call.seq;
            if let Some(f) = Change::new(Arc::new(call)).frame_for(sub.viewer(), &settings) {
                sub.pending.push_back(f);
            }
            sub.covered = sub.covered.max(seq);
        }
        Ok(sub)
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

    /// `call` changed: a frame for every subscriber that may see it.
    fn publish(&self, call: Arc<Call>) {
        self.seq.fetch_max(call.seq, Ordering::SeqCst);
        let subs = self.alive();
        if subs.is_empty() {
            // Serialized for the subscribers, and not at all without one.
            return;
        }
        let change = Change::new(call);
        let settings = self.settings.get();
        for q in subs {
            if let Some(f) = change.frame_for(&q.viewer, &settings) {
                q.push(f);
            }
        }
    }
}

/// One subscriber's view of the stream.
pub struct Subscriber {
    queue: Arc<Queue>,
    seq: Arc<AtomicU64>,
    /// Frames to send before the live ones (a replay).
    pending: VecDeque<Arc<Frame>>,
    /// Changes up to this number were sent (or covered by a reload): later live frames only.
    covered: u64,
}

impl Subscriber {
    /// The next frame for this subscriber: a `resync` when it fell behind; `None` once the
    /// stream has ended.
    pub async fn next(&mut self) -> Option<Arc<Frame>> {
        if let Some(f) = self.pending.pop_front() {
            return Some(f);
        }
        loop {
            {
                let mut w = self.queue.lock();
                if w.lagged {
                    w.lagged = false;
                    drop(w);
                    tracing::warn!("a live subscriber fell behind: resync");
                    // Every frame from here on has a higher number than the resync's, or is
                    // covered by the reload it asks for.
                    let seq = self.seq.load(Ordering::SeqCst);
                    self.covered = self.covered.max(seq);
                    return Some(Frame::new(LiveFrame::Resync { seq }));
                }
                while let Some(f) = w.frames.pop_front() {
                    w.bytes -= f.json.len();
                    if f.frame.seq() > self.covered {
                        return Some(f);
                    }
                }
                if w.closed {
                    return None;
                }
            }
            // A notification sent since the lock was let go is kept for this wait.
            self.queue.ready.notified().await;
        }
    }

    /// Who this subscriber is.
    pub fn viewer(&self) -> &Viewer {
        &self.queue.viewer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::Who;
    use ringside_core::me::Me;
    use ringside_core::phone::DefaultRegion;

    fn admin() -> Viewer {
        Viewer {
            who: Who::Admin,
            me: Me::new(&[], DefaultRegion::default(), false),
        }
    }

    fn queue(live: &Live) -> Arc<Queue> {
        live.alive().pop().unwrap()
    }

    #[tokio::test]
    async fn a_subscriber_that_stops_reading_costs_a_bounded_queue_then_gets_a_resync() {
        let subscribers: Arc<Mutex<Vec<Weak<Queue>>>> = Arc::default();
        let seq = Arc::new(AtomicU64::new(0));
        let sub = |subs: &Arc<Mutex<Vec<Weak<Queue>>>>| {
            let q = Arc::new(Queue {
                viewer: admin(),
                state: Mutex::default(),
                ready: Notify::new(),
            });
            subs.lock().unwrap().push(Arc::downgrade(&q));
            Subscriber {
                queue: q,
                seq: seq.clone(),
                pending: VecDeque::new(),
                covered: 0,
            }
        };
        let mut slow = sub(&subscribers);
        let mut fast = sub(&subscribers);
        let publish = |n: u64| {
            seq.store(n, Ordering::SeqCst);
            let frame = Frame::new(LiveFrame::Resync { seq: n });
            for w in subscribers.lock().unwrap().iter() {
                if let Some(q) = w.upgrade() {
                    q.push(frame.clone());
                }
            }
        };
        let mut last = 0;
        // 50,000 frames of about 30 bytes: more than a subscriber may hold.
        for n in 1..=50_000 {
            publish(n);
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
        publish(50_001);
        assert_eq!(slow.next().await.unwrap().frame.seq(), 50_001);
        drop(slow);
        let live = Live {
            subscribers: subscribers.clone(),
            seq: seq.clone(),
            settings: SharedSettings::new(crate::settings::Settings::new(
                ringside_core::config::Config::default(),
                std::path::PathBuf::new(),
            )),
        };
        assert_eq!(live.subscribers(), 1, "a subscriber gone is forgotten");
        assert!(Arc::ptr_eq(&queue(&live), &fast.queue));
    }
}
