//! The engine: one writer thread that owns the store and commits deliveries in groups, reader
//! connections for queries, and a broadcast of every call change after it is stored.
//!
//! Group commit, pipelined: the writer takes everything queued (up to [`MAX_BATCH`]) into one
//! transaction and commits it without waiting for the disk; a second thread, the syncer,
//! makes the WAL durable (`fdatasync`) for every transaction committed since its last sync,
//! and only then are their callers answered and their changes announced. So an acknowledged
//! event is on disk, concurrent webhooks share syncs instead of waiting in line for one each,
//! and the writer builds the next transaction while the previous ones are being synced.
//! A third thread checkpoints the WAL into the database file, off the commit path.

use crate::contacts::LookupSettings;
use crate::correlate::Timeouts;
use crate::ingest;
use crate::model::*;
use crate::phone::DefaultRegion;
use crate::providers::{self, Inbound, ParseContext, ParseError};
use crate::store::{Checkpointer, Delivery, Queries, Reader, Stored, WalSync, Writer};
use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, oneshot};

/// The most deliveries one transaction takes.
pub const MAX_BATCH: usize = 512;
/// Reader connections for queries.
const READERS: usize = 4;
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
/// Call changes a slow subscriber may fall behind by before it misses some.
const LIVE_BACKLOG: usize = 4096;

/// Work for the writer thread: it owns the store's one writing connection. The changed calls
/// a `Write` returns are announced after it, like a delivery's.
type WriteFn = Box<dyn FnOnce(&mut Writer, &broadcast::Sender<Arc<Call>>) -> AfterSync + Send>;

enum Job {
    Store(Delivery, oneshot::Sender<Result<Stored>>),
    Write(WriteFn),
}

/// A handle to the engine; cheap to clone, shared by every route.
#[derive(Clone)]
pub struct Engine {
    jobs: mpsc::Sender<Job>,
    readers: Arc<Vec<Mutex<Reader>>>,
    live: broadcast::Sender<Arc<Call>>,
}

/// A delivery's outcome, as the webhook answers it.
#[derive(Debug, Clone, PartialEq)]
pub enum Receipt {
    /// Stored (journal sequence number) and folded into these calls. `notes`: what Ringside
    /// could not read in it; a delivery with no call event Ringside reads changes no call and
    /// its notes say why.
    Stored {
        seq: i64,
        calls: Vec<Call>,
        notes: Vec<String>,
    },
    /// Seen before: acknowledged again, nothing changed.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("storing the event failed: {0:#}")]
    Store(anyhow::Error),
}

impl Engine {
    /// Open the store in `data_dir` and start the writer thread.
    pub fn open(data_dir: &Path) -> Result<Engine> {
        let path = Engine::store_path(data_dir);
        let mut store = Writer::open(&path)?;
        let wal = store.defer_sync()?;
        let readers = (0..READERS)
            .map(|_| Reader::open(&path).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        let checkpointer = Checkpointer::open(&path)?;
        let (jobs, rx) = mpsc::channel();
        let (live, _) = broadcast::channel(LIVE_BACKLOG);
        let live2 = live.clone();
        let (writing, written) = mpsc::channel::<()>();
        let (to_sync, synced) = mpsc::channel::<AfterSync>();
        std::thread::Builder::new()
            .name("ringside-sync".into())
            .spawn(move || syncer(wal, synced))?;
        std::thread::Builder::new()
            .name("ringside-writer".into())
            .spawn(move || {
                writer(store, rx, live2, to_sync);
                drop(writing); // the checkpointer stops with the writer
            })?;
        std::thread::Builder::new()
            .name("ringside-checkpoint".into())
            .spawn(move || checkpoints(checkpointer, written))?;
        Ok(Engine {
            jobs,
            readers: Arc::new(readers),
            live,
        })
    }

    /// The store file in `data_dir`.
    pub fn store_path(data_dir: &Path) -> PathBuf {
        data_dir.join("ringside.db")
    }

    /// Parse one webhook delivery for `provider`, normalize its numbers, store it durably and
    /// fold it into its calls. Returns after the commit.
    pub async fn receive(
        &self,
        provider: Provider,
        req: &Inbound<'_>,
        parse: &ParseContext,
        region: DefaultRegion,
        now: DateTime<Utc>,
    ) -> Result<Receipt, IntakeError> {
        let parsed = providers::parse(provider, req, parse)?;
        let delivery = ingest::webhook(provider, req, parsed, region, now);
        self.store(delivery).await.map_err(IntakeError::Store)
    }

    /// Store already-normalized events (the Xelion websocket client, Ringside's own events).
    /// What the delivery's notes say Ringside could not read is logged once it is stored.
    pub async fn store(&self, delivery: Delivery) -> Result<Receipt> {
        let (tx, rx) = oneshot::channel();
        let (source, ignored, notes) = (
            delivery.source,
            delivery.events.is_empty(),
            delivery.notes.clone(),
        );
        self.send(Job::Store(delivery, tx))?;
        match rx
            .await
            .map_err(|_| anyhow!("the store's writer stopped"))??
        {
            Stored::New { seq, calls } => {
                for note in &notes {
                    if ignored {
                        tracing::info!("{source}: journaled as #{seq} and not read: {note}");
                    } else {
                        tracing::warn!("{source}: in #{seq}, {note}");
                    }
                }
                Ok(Receipt::Stored { seq, calls, notes })
            }
            Stored::Duplicate => Ok(Receipt::Duplicate),
        }
    }

    /// Mark a missed call done (`done = false` brings it back). `None`: no such call.
    pub async fn set_done(&self, id: &str, done: bool, now: DateTime<Utc>) -> Result<Option<Call>> {
        let id = id.to_string();
        self.write(move |s| {
            let call = s.set_done(&id, done, now)?;
            let changed = call.iter().cloned().collect();
            Ok((call, changed))
        })
        .await
    }

    /// Set (or clear) what the agent noted after call `id`. `None`: no such call.
    pub async fn set_wrapup(
        &self,
        id: &str,
        wrapup: Option<Wrapup>,
        now: DateTime<Utc>,
    ) -> Result<Option<Call>> {
        let id = id.to_string();
        self.write(move |s| {
            let call = s.set_wrapup(&id, wrapup, now)?;
            let changed = call.iter().cloned().collect();
            Ok((call, changed))
        })
        .await
    }

    /// The agent called `number` back: its missed calls are done. Returns them.
    pub async fn called_back(
        &self,
        number: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Call>> {
        let (number, detail) = (number.to_string(), detail.to_string());
        self.write(move |s| {
            let marked = s.called_back(&number, &detail, now)?;
            Ok((marked.clone(), marked))
        })
        .await
    }

    /// End every call that has been silent longer than `limits` allow; returns how many.
    pub async fn expire(&self, now: DateTime<Utc>, limits: Timeouts) -> Result<usize> {
        self.write(move |s| expire(s, now, &limits)).await
    }

    /// Run `f` on the writer thread (the only connection that writes); once what it wrote is
    /// durable, announce the calls it returns as changed and answer.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<(T, Vec<Call>)> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Write(Box::new(move |store, live| {
            let r = f(store);
            let live = live.clone();
            Box::new(move |synced| match durable(r, synced) {
                Ok((value, changed)) => {
                    for c in changed {
                        let _ = live.send(Arc::new(c));
                    }
                    let _ = tx.send(Ok(value));
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            })
        })))?;
        rx.await
            .map_err(|_| anyhow!("the store's writer stopped"))?
    }

    /// How calls find contacts from now on (the settings changed).
    pub async fn set_lookup(&self, settings: LookupSettings) -> Result<()> {
        self.write(move |s| {
            s.set_lookup(settings);
            Ok(((), Vec::new()))
        })
        .await
    }

    /// Every call change, after it is stored.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Call>> {
        self.live.subscribe()
    }

    /// Run a read query on a reader connection. Blocking: call from a blocking context.
    pub fn read<T>(&self, f: impl FnOnce(&Reader) -> Result<T>) -> Result<T> {
        let guard = self
            .readers
            .iter()
            .find_map(|m| m.try_lock().ok())
            .map(Ok)
            .unwrap_or_else(|| self.readers[0].lock())
            .map_err(|_| anyhow!("a reader panicked"))?;
        f(&guard)
    }

    fn send(&self, job: Job) -> Result<()> {
        self.jobs
            .send(job)
            .map_err(|_| anyhow!("the store's writer stopped"))
    }
}

/// What to do once the transactions committed so far are durable (or could not be made so).
type AfterSync = Box<dyn FnOnce(&Result<(), String>) + Send>;

/// The writer thread: take every queued job, store deliveries in one transaction, and leave
/// the answers and announcements to the syncer.
fn writer(
    mut store: Writer,
    rx: mpsc::Receiver<Job>,
    live: broadcast::Sender<Arc<Call>>,
    to_sync: mpsc::Sender<AfterSync>,
) {
    let after_sync = |f: AfterSync| {
        // The syncer stops only once this sender is dropped.
        let _ = to_sync.send(f);
    };
    while let Ok(first) = rx.recv() {
        let mut deliveries = Vec::new();
        let mut waiting = Vec::new();
        let mut writes: Vec<WriteFn> = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Store(d, tx) => {
                    deliveries.push(d);
                    waiting.push(tx);
                }
                Job::Write(f) => writes.push(f),
            }
            if deliveries.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !deliveries.is_empty() {
            let started = std::time::Instant::now();
            let stored = store.store_batch(&deliveries);
            tracing::trace!(
                "stored a batch of {} in {:.2} ms",
                deliveries.len(),
                started.elapsed().as_secs_f64() * 1e3
            );
            match stored {
                Ok(results) => {
                    let live = live.clone();
                    after_sync(Box::new(move |synced| {
                        if let Err(e) = synced {
                            for tx in waiting {
                                let _ = tx.send(Err(anyhow!("storing failed: {e}")));
                            }
                            return;
                        }
                        for r in &results {
                            if let Ok(Stored::New { calls, .. }) = r {
                                for c in calls {
                                    let _ = live.send(Arc::new(c.clone()));
                                }
                            }
                        }
                        for (tx, r) in waiting.into_iter().zip(results) {
                            let _ = tx.send(r);
                        }
                    }));
                }
                Err(e) => {
                    tracing::error!("storing a batch of {} failed: {e:#}", deliveries.len());
                    for tx in waiting {
                        let _ = tx.send(Err(anyhow!("storing failed: {e:#}")));
                    }
                }
            }
        }
        for f in writes {
            after_sync(f(&mut store, &live));
        }
    }
}

/// A committed result, unless the sync after it failed.
fn durable<T>(r: Result<T>, synced: &Result<(), String>) -> Result<T> {
    match synced {
        Ok(()) => r,
        Err(e) => Err(anyhow!("storing failed: {e}")),
    }
}

/// The syncer thread: make everything committed so far durable with one sync, then run what
/// waited for it, in commit order. Every follow-up received before the sync began belongs to
/// a transaction that had committed by then, so the sync covers it.
fn syncer(wal: WalSync, rx: mpsc::Receiver<AfterSync>) {
    while let Ok(first) = rx.recv() {
        let mut pending = vec![first];
        pending.extend(rx.try_iter());
        let synced = wal.sync().map_err(|e| {
            tracing::error!("syncing the store's WAL failed: {e}");
            format!("syncing the store failed: {e}")
        });
        for f in pending {
            f(&synced);
        }
    }
}

/// Checkpoint the WAL every [`CHECKPOINT_EVERY`] until the writer stops, so commits only
/// append to the WAL and the database file is written and synced off their path.
fn checkpoints(store: Checkpointer, writer: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = writer.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = store.checkpoint() {
            tracing::warn!("checkpointing the store: {e:#}");
        }
    }
}

/// End the calls silent for longer than `limits` allow: how many, and the calls changed.
fn expire(store: &mut Writer, now: DateTime<Utc>, limits: &Timeouts) -> Result<(usize, Vec<Call>)> {
    let deliveries: Vec<Delivery> = store
        .open_calls()?
        .iter()
        .filter_map(|c| ingest::timeout(c, now, limits))
        .collect();
    let n = deliveries.len();
    let mut changed = Vec::new();
    if n > 0 {
        for r in store.store_batch(&deliveries)? {
            if let Stored::New { calls, .. } = r? {
                changed.extend(calls);
            }
        }
    }
    Ok((n, changed))
}
