//! The live stream: every stored call change as a typed frame numbered by the change
//! ([`ringside_core::Call::seq`]), for the browser's `/api/live` and the desktop window alike.
//! Each subscriber sees only the calls its [`Viewer`] may see, with `mine` as it sees them. A
//! subscriber that comes back after `after` first gets every change since (each call once, as
//! it is now), then the live ones; one that falls behind, or asks for more than can be
//! replayed, gets a `resync` frame (reload from the API) instead of silently missing changes.

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
use std::sync::{Arc, OnceLock};
use tokio::sync::broadcast::{self, error::RecvError};
use ts_rs::TS;

/// Changes a subscriber may fall behind by before it is told to resync.
const BUFFERED_CHANGES: usize = 4096;
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

/// What the stream carries to its subscribers.
#[derive(Debug)]
enum Event {
    Changed(Change),
    /// Changes were lost before they reached the stream: every subscriber resyncs.
    Lost,
}

/// The stream's source: cheap to clone.
#[derive(Clone)]
pub struct Live {
    tx: broadcast::Sender<Arc<Event>>,
    /// The last change number seen.
    seq: Arc<AtomicU64>,
    /// How frames show calls (pops, numbers): the settings in force when a frame is made.
    settings: SharedSettings,
}

impl Live {
    /// Start following `engine`'s call changes, numbered from `last_seq` on, shown as
    /// `settings` say. Needs a Tokio runtime.
    pub fn start(engine: &Engine, last_seq: u64, settings: SharedSettings) -> Live {
        let (tx, _) = broadcast::channel(BUFFERED_CHANGES);
        let live = Live {
            tx,
            seq: Arc::new(AtomicU64::new(last_seq)),
            settings,
        };
        let mut changes = engine.subscribe();
        let this = live.clone();
        tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(call) => {
                        this.seq.fetch_max(call.seq, Ordering::SeqCst);
                        if this.tx.receiver_count() > 0 {
                            let _ = this.tx.send(Arc::new(Event::Changed(Change::new(call))));
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        // Every subscriber missed these: each is told to resync.
                        tracing::warn!("the live stream fell behind by {n} changes: resync");
                        let _ = this.tx.send(Arc::new(Event::Lost));
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        live
    }

    /// The last change number seen.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// Every change `viewer` may see from now on.
    pub fn subscribe(&self, viewer: Viewer) -> Subscriber {
        Subscriber {
            rx: self.tx.subscribe(),
            seq: self.seq.clone(),
            settings: self.settings.clone(),
            viewer,
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
        for call in calls {
            let seq = call.seq;
            let settings = sub.settings.get();
            if let Some(f) = Change::new(Arc::new(call)).frame_for(&sub.viewer, &settings) {
                sub.pending.push_back(f);
            }
            sub.covered = sub.covered.max(seq);
        }
        Ok(sub)
    }
}

/// One subscriber's view of the stream.
pub struct Subscriber {
    rx: broadcast::Receiver<Arc<Event>>,
    seq: Arc<AtomicU64>,
    settings: SharedSettings,
    viewer: Viewer,
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
            match self.rx.recv().await {
                Ok(event) => match &*event {
                    Event::Lost => return Some(self.resync()),
                    Event::Changed(change) => {
                        if change.call.seq <= self.covered {
                            continue;
                        }
                        if let Some(f) = change.frame_for(&self.viewer, &self.settings.get()) {
                            return Some(f);
                        }
                    }
                },
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!("a live subscriber fell behind by {n} changes: resync");
                    // Skip what is still buffered: the reload covers it.
                    self.rx = self.rx.resubscribe();
                    return Some(self.resync());
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn resync(&mut self) -> Arc<Frame> {
        let seq = self.seq.load(Ordering::SeqCst);
        self.covered = self.covered.max(seq);
        Frame::new(LiveFrame::Resync { seq })
    }

    /// Who this subscriber is.
    pub fn viewer(&self) -> &Viewer {
        &self.viewer
    }
}
