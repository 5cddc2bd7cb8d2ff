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
//!
//! Fair and short turns on the writer: a batch takes deliveries from every source in turn
//! (one provider's flood does not push another's webhook back behind it), at most
//! [`MAX_BATCH`] of them or [`MAX_BATCH_EVENTS`] events; between two batches the writer runs
//! one other write. Long operations (a contacts import, ending thousands of silent calls) are
//! cut by their callers into such writes of a few milliseconds each, so a webhook never waits
//! behind more than one of them.

use crate::contacts::LookupSettings;
use crate::correlate::Timeouts;
use crate::ingest;
use crate::model::*;
use crate::phone::DefaultRegion;
use crate::providers::{self, Inbound, ParseContext, ParseError};
use crate::store::{Checkpointer, Delivery, Queries, Reader, Stored, WalSync, Writer};
use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, oneshot};

/// The most deliveries one transaction takes.
pub const MAX_BATCH: usize = 512;
/// The most events one transaction takes (a delivery may carry up to
/// [`crate::ingest::MAX_EVENTS`]): a batch's turn on the writer stays short.
pub const MAX_BATCH_EVENTS: usize = 512;
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
    health: Arc<Health>,
}

/// How the store's writes are going, for readiness and metrics.
#[derive(Default)]
struct Health {
    /// Jobs sent to the writer and not yet answered.
    queued: AtomicUsize,
    /// Why the last write failed, unless one succeeded since.
    failing: Mutex<Option<String>>,
}

impl Health {
    fn set(&self, failing: Option<String>) {
        *self.failing.lock().unwrap_or_else(|p| p.into_inner()) = failing;
    }

    /// A write answered: it tells how the store is when it succeeded or failed for the
    /// store's sake (disk full, read-only, I/O), not for what it was asked to write.
    fn outcome<T>(&self, r: &Result<T>) {
        match r {
            Ok(_) => self.set(None),
            Err(e) if store_failure(e) => self.set(Some(format!("{e:#}"))),
            Err(_) => {}
        }
    }
}

/// Whether `e` is the store failing (the disk, the file), rather than what was written.
fn store_failure(e: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode::*;
    e.chain().any(|c| {
        c.is::<std::io::Error>()
            || c.to_string().starts_with("storing failed")
            || matches!(
                c.downcast_ref::<rusqlite::Error>(),
                Some(rusqlite::Error::SqliteFailure(f, _)) if matches!(
                    f.code,
                    DiskFull | SystemIoFailure | ReadOnly | DatabaseCorrupt | CannotOpen
                        | NotADatabase | DatabaseBusy | DatabaseLocked
                )
            )
    })
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
        let health = Arc::new(Health::default());
        let (writing, written) = mpsc::channel::<()>();
        let (to_sync, synced) = mpsc::channel::<AfterSync>();
        std::thread::Builder::new()
            .name("ringside-sync".into())
            .spawn({
                let health = health.clone();
                move || syncer(wal, synced, &health)
            })?;
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
            health,
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
        let delivery = Engine::prepare(provider, req, parse, region, now)?;
        self.store(delivery).await.map_err(IntakeError::Store)
    }

    /// The first half of [`Engine::receive`], which needs no store: parse the delivery and
    /// make it the [`Delivery`] to store. CPU work that grows with the request (tens of
    /// milliseconds for one naming thousands of agents, in a debug build a second): the
    /// listener runs it off the async threads, so one provider's large deliveries do not
    /// hold up another's webhooks.
    pub fn prepare(
        provider: Provider,
        req: &Inbound<'_>,
        parse: &ParseContext,
        region: DefaultRegion,
        now: DateTime<Utc>,
    ) -> Result<Delivery, IntakeError> {
        let parsed = providers::parse(provider, req, parse)?;
        Ok(ingest::webhook(provider, req, parsed, region, now))
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
        let stored = rx
            .await
            .map_err(|_| anyhow!("the store's writer stopped"))
            .and_then(|r| r);
        self.answered(&stored);
        match stored? {
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

    /// Mark a missed call done (`done = false` brings it back) by agent `by` (None: an admin
    /// or the local app). `None`: no such call.
    pub async fn set_done(
        &self,
        id: &str,
        done: bool,
        by: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Option<Call>> {
        let id = id.to_string();
        self.write(move |s| {
            let call = s.set_done(&id, done, by.as_deref(), now)?;
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

    /// Agent `by` (None: the admin or the local app) called `number` back: its missed calls
    /// are done. Returns them.
    pub async fn called_back(
        &self,
        number: &str,
        detail: &str,
        by: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Call>> {
        let (number, detail) = (number.to_string(), detail.to_string());
        self.write(move |s| {
            let marked = s.called_back(&number, &detail, by.as_deref(), now)?;
            Ok((marked.clone(), marked))
        })
        .await
    }

    /// End the calls of `stale` (read off the writer, see [`Queries::stale_calls`]) that are
    /// still silent longer than `limits` allow, each looked at again on the writer; returns
    /// how many ended. One write: callers pass a few hundred at a time.
    pub async fn expire(
        &self,
        stale: Vec<Call>,
        now: DateTime<Utc>,
        limits: Timeouts,
    ) -> Result<usize> {
        self.write(move |s| expire(s, &stale, now, &limits)).await
    }

    /// Let go of the claims on missed calls that lapsed by `now` ("I am calling back" held
    /// too long); returns how many.
    pub async fn clear_lapsed_claims(&self, now: DateTime<Utc>) -> Result<usize> {
        self.write(move |s| {
            let changed = s.clear_lapsed_claims(now)?;
            Ok((changed.len(), changed))
        })
        .await
    }

    /// Whether the store takes writes: `Err` with why the last write failed, unless one
    /// succeeded since.
    pub fn write_health(&self) -> Result<(), String> {
        match &*self
            .health
            .failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Write (and sync) one row that says nothing, to learn whether the store takes writes
    /// again after a failure (see [`Engine::write_health`]).
    pub async fn probe(&self) -> Result<()> {
        self.write(|s| Ok((s.probe()?, Vec::new()))).await
    }

    /// Jobs waiting for the writer (or for the sync after it).
    pub fn queued(&self) -> usize {
        self.health.queued.load(Ordering::SeqCst)
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
        let written = rx
            .await
            .map_err(|_| anyhow!("the store's writer stopped"))
            .and_then(|r| r);
        self.answered(&written);
        written
    }

    fn answered<T>(&self, r: &Result<T>) {
        self.health.queued.fetch_sub(1, Ordering::SeqCst);
        self.health.outcome(r);
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
        self.health.queued.fetch_add(1, Ordering::SeqCst);
        self.jobs.send(job).map_err(|_| {
            self.health.queued.fetch_sub(1, Ordering::SeqCst);
            anyhow!("the store's writer stopped")
        })
    }
}

/// What to do once the transactions committed so far are durable (or could not be made so).
type AfterSync = Box<dyn FnOnce(&Result<(), String>) + Send>;

/// A delivery waiting to be stored, and who waits for its answer.
type Queued = (Delivery, oneshot::Sender<Result<Stored>>);

/// Jobs waiting for the writer thread: deliveries by source, in arrival order within each,
/// and other writes in arrival order.
#[derive(Default)]
struct Waiting {
    deliveries: HashMap<Provider, VecDeque<Queued>>,
    /// The order sources take turns in: the one served last goes to the back.
    turns: VecDeque<Provider>,
    writes: VecDeque<WriteFn>,
}

impl Waiting {
    fn add(&mut self, job: Job) {
        match job {
            Job::Store(d, tx) => {
                let source = d.source;
                let queue = self.deliveries.entry(source).or_default();
                if queue.is_empty() {
                    self.turns.push_back(source);
                }
                queue.push_back((d, tx));
            }
            Job::Write(f) => self.writes.push_back(f),
        }
    }

    fn is_empty(&self) -> bool {
        self.turns.is_empty() && self.writes.is_empty()
    }

    /// The next batch: one delivery from each source in turn, until [`MAX_BATCH`]
    /// deliveries or [`MAX_BATCH_EVENTS`] events (at least one delivery).
    fn batch(&mut self) -> Vec<Queued> {
        let mut batch = Vec::new();
        let mut events = 0;
        while batch.len() < MAX_BATCH {
            let Some(source) = self.turns.pop_front() else {
                break;
            };
            let queue = self
                .deliveries
                .get_mut(&source)
                .expect("a source in turn has a queue");
            let next_events = queue.front().map_or(0, |(d, _)| d.events.len());
            if !batch.is_empty() && events + next_events > MAX_BATCH_EVENTS {
                self.turns.push_front(source);
                break;
            }
            let (d, tx) = queue.pop_front().expect("a source in turn has a delivery");
            events += d.events.len();
            batch.push((d, tx));
            if queue.is_empty() {
                self.deliveries.remove(&source);
            } else {
                self.turns.push_back(source);
            }
        }
        batch
    }
}

/// The writer thread: store a fair batch of deliveries in one transaction, then run one
/// other write, and again; the answers and announcements are the syncer's.
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
    let mut waiting = Waiting::default();
    loop {
        if waiting.is_empty() {
            match rx.recv() {
                Ok(job) => waiting.add(job),
                Err(_) => return,
            }
        }
        for job in rx.try_iter() {
            waiting.add(job);
        }
        let (deliveries, answers): (Vec<Delivery>, Vec<_>) = waiting.batch().into_iter().unzip();
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
                            for tx in answers {
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
                        for (tx, r) in answers.into_iter().zip(results) {
                            let _ = tx.send(r);
                        }
                    }));
                }
                Err(e) => {
                    tracing::error!("storing a batch of {} failed: {e:#}", deliveries.len());
                    for tx in answers {
                        let _ = tx.send(Err(anyhow!("storing failed: {e:#}")));
                    }
                }
            }
        }
        if let Some(f) = waiting.writes.pop_front() {
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
fn syncer(wal: WalSync, rx: mpsc::Receiver<AfterSync>, health: &Health) {
    while let Ok(first) = rx.recv() {
        let mut pending = vec![first];
        pending.extend(rx.try_iter());
        let synced = wal.sync().map_err(|e| {
            tracing::error!("syncing the store's WAL failed: {e}");
            format!("syncing the store failed: {e}")
        });
        if let Err(e) = &synced {
            health.set(Some(e.clone()));
        }
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

/// End those of `stale` still silent for longer than `limits` allow, as the writer sees them
/// now: how many, and the calls changed.
fn expire(
    store: &mut Writer,
    stale: &[Call],
    now: DateTime<Utc>,
    limits: &Timeouts,
) -> Result<(usize, Vec<Call>)> {
    let mut deliveries = Vec::new();
    for c in stale {
        if let Some(current) = store.stored_call(&c.id)? {
            deliveries.extend(ingest::timeout(&current, now, limits));
        }
    }
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
