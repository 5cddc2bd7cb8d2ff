//! The live stream: every stored call change as a typed frame with a sequence number, for the
//! browser's `/api/live` and the desktop window alike. A subscriber that falls behind gets a
//! `resync` frame (reload from the API) instead of silently missing changes.

use crate::call_view::CallView;
use crate::settings::SharedSettings;
use ringside_core::engine::Engine;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};
use ts_rs::TS;

/// Frames a subscriber may fall behind by before it is told to resync.
const BUFFERED_FRAMES: usize = 4096;

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
    tx: broadcast::Sender<Arc<Frame>>,
    seq: Arc<AtomicU64>,
}

impl Live {
    /// Start turning `engine`'s call changes into frames, each call seen by the agent the
    /// settings in force name. Needs a Tokio runtime.
    pub fn start(engine: &Engine, settings: SharedSettings) -> Live {
        let (tx, _) = broadcast::channel(BUFFERED_FRAMES);
        let live = Live {
            tx,
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
                    Err(RecvError::Closed) => return,
                }
            }
        });
        live
    }

    /// Every frame from now on.
    pub fn subscribe(&self) -> Subscriber {
        Subscriber {
            rx: self.tx.subscribe(),
            seq: self.seq.clone(),
        }
    }

    /// The last sequence number given out.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    fn publish(&self, make: impl FnOnce(u64) -> LiveFrame) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        // Serialized once for every subscriber, and not at all without one.
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(Arc::new(Frame::new(make(seq))));
        }
    }
}

/// One subscriber's view of the stream.
pub struct Subscriber {
    rx: broadcast::Receiver<Arc<Frame>>,
    seq: Arc<AtomicU64>,
}

impl Subscriber {
    /// The next frame: a `resync` when this subscriber fell behind; `None` once the stream
    /// has ended.
    pub async fn next(&mut self) -> Option<Arc<Frame>> {
        match self.rx.recv().await {
            Ok(frame) => Some(frame),
            Err(RecvError::Lagged(n)) => {
                tracing::warn!("a live subscriber fell behind by {n} frames: resync");
                // Skip what is still buffered: the reload covers it. Every frame from here on
                // has a higher number than the resync's.
                self.rx = self.rx.resubscribe();
                let seq = self.seq.load(Ordering::SeqCst);
                Some(Arc::new(Frame::new(LiveFrame::Resync { seq })))
            }
            Err(RecvError::Closed) => None,
        }
    }
}
