//! CardDAV address books (Nextcloud, Radicale, iCloud, Fastmail, ...) synced into the store,
//! so a caller's name is found locally and at once.
//!
//! One task per enabled `[[contacts.carddav]]` book: it syncs at start-up, then every
//! `interval_s` (see [`sync`] for how one sync goes), and at once when asked
//! (`POST /api/contacts/sync`). A failed sync is retried with backoff (5 s, 10 s, ... up to
//! the interval); refused credentials wait the whole interval. The tasks follow the settings
//! like the Xelion client: a book whose settings change is restarted, a disabled one stops
//! (its contacts stay), a removed one stops and its contacts are removed from the store.
//!
//! Each book shows in `GET /api/status` as `carddav:<name>`: `connecting`, then `connected`
//! ("412 contacts, synced 10:02"), `auth_failed` (the server's reason) or `reconnecting` (the
//! error). Nothing here touches call ingest: a book that fails only leaves its contacts as
//! they were.

pub mod books;
mod dav;
mod sync;
mod xml;

pub use books::{BookSync, Books};
pub use sync::{SyncMode, SyncReport};

use crate::backoff::{jitter, Backoff};
use crate::ringside::Ringside;
use crate::settings::FollowSettings;
use crate::status::{SourceState, Sources};
use books::Request;
use dav::{Dav, DavError};
use ringside_core::config::CardDav;
use ringside_core::phone::DefaultRegion;
use ringside_core::store::Queries;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use sync::Book;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A book's contacts and status go by `carddav:<name>`.
pub const PREFIX: &str = "carddav:";
/// The first wait after a failed sync.
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// What "sync now" says of a book whose task went away meanwhile.
const STOPPED: &str = "the sync stopped: the settings changed";
/// How long "sync now" waits for the books.
const SYNC_NOW_WAIT: Duration = Duration::from_secs(120);

/// Run the configured address books' syncs, following the settings. Call once, at start-up.
pub fn spawn(state: &Ringside) {
    tokio::spawn(supervise(state.clone()));
}

/// Sync every running book now; the books' answers, by name. A book still busy after two
/// minutes answers with its state at that moment.
pub async fn sync_now(state: &Ringside) -> Vec<BookSync> {
    let queues: Vec<(String, mpsc::Sender<Request>)> = state
        .carddav
        .lock()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let asks = queues.into_iter().map(|(source, queue)| async move {
        let (tx, rx) = oneshot::channel();
        if queue.send(tx).await.is_err() {
            return BookSync::as_is(&state.sources, source, STOPPED);
        }
        match tokio::time::timeout(SYNC_NOW_WAIT, rx).await {
            Ok(Ok(done)) => done,
            Ok(Err(_)) => BookSync::as_is(&state.sources, source, STOPPED),
            Err(_) => BookSync::as_is(&state.sources, source, "still syncing"),
        }
    });
    futures_util::future::join_all(asks).await
}

/// A book's settings and the region its numbers are read in: what a task runs with.
type Wanted = (CardDav, String);

async fn supervise(state: Ringside) {
    let mut follow = FollowSettings::new(state.shared_settings());
    let mut running: BTreeMap<String, (Wanted, Option<JoinHandle<()>>)> = BTreeMap::new();
    loop {
        let want: BTreeMap<String, Wanted> = follow
            .changed(|config| {
                config
                    .contacts
                    .carddav
                    .iter()
                    .map(|b| {
                        let source = format!("{PREFIX}{}", b.name);
                        (source, (b.clone(), config.agent.region.clone()))
                    })
                    .collect()
            })
            .await;
        running.retain(|source, (wanted, task)| {
            if want.get(source) == Some(wanted) {
                return true;
            }
            if let Some(t) = task.take() {
                tracing::info!("{source}: settings changed; stopping its sync");
                t.abort();
            }
            state.carddav.lock().remove(source);
            if !want.contains_key(source) {
                state.sources.remove(source);
            }
            false
        });
        for (source, wanted) in &want {
            if !running.contains_key(source) {
                let task = start(&state, source, wanted);
                running.insert(source.clone(), (wanted.clone(), task));
            }
        }
        forget_removed(&state, want.keys().cloned().collect()).await;
    }
}

/// Start `source`'s task (none when it is disabled or cannot start).
fn start(state: &Ringside, source: &str, (cfg, region): &Wanted) -> Option<JoinHandle<()>> {
    let now = (state.clock)();
    if !cfg.enabled {
        state
            .sources
            .report(source, SourceState::Disabled, None, now);
        return None;
    }
    let dav = match Dav::new(&cfg.url, cfg.username.clone(), cfg.password.clone()) {
        Ok(d) => d,
        Err(e) => {
            state
                .sources
                .report(source, SourceState::Reconnecting, Some(e), now);
            return None;
        }
    };
    let region = DefaultRegion::parse(region).unwrap_or_default();
    let book = Book::new(
        source.to_string(),
        dav,
        state.engine.clone(),
        state.clock.clone(),
        region,
    );
    let (tx, rx) = mpsc::channel(16);
    state.carddav.lock().insert(source.to_string(), tx);
    let task = Task {
        book,
        cfg: cfg.clone(),
        sources: state.sources.clone(),
        clock: state.clock.clone(),
    };
    Some(tokio::spawn(task.run(rx)))
}

struct Task {
    book: Book,
    cfg: CardDav,
    sources: Sources,
    clock: crate::clock::Clock,
}

impl Task {
    async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let source = self.book.source.clone();
        self.set(SourceState::Connecting, None);
        tracing::info!(
            "{source}: syncing {} every {} s",
            self.book.url(),
            self.cfg.interval_s
        );
        let interval = Duration::from_secs(self.cfg.interval_s.into());
        let mut backoff = Backoff::starting_at(FIRST_RETRY, interval);
        let mut waiting: Vec<Request> = Vec::new();
        loop {
            let done = self.sync().await;
            let delay = match done.state {
                SourceState::Connected => {
                    backoff.reset();
                    interval
                }
                SourceState::AuthFailed => interval,
                _ => backoff.next_delay(jitter()),
            };
            for w in waiting.drain(..) {
                let _ = w.send(done.clone());
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                asked = requests.recv() => match asked {
                    Some(r) => {
                        waiting.push(r);
                        while let Ok(r) = requests.try_recv() {
                            waiting.push(r);
                        }
                    }
                    None => return,
                },
            }
        }
    }

    async fn sync(&mut self) -> BookSync {
        let source = self.book.source.clone();
        let result = match self.password().await {
            Ok(()) => self.book.sync().await,
            Err(e) => Err(e),
        };
        let (state, message, report) = match result {
            Ok(report) => {
                let at = (self.clock)().with_timezone(&chrono::Local).format("%H:%M");
                let n = report.contacts;
                let message = format!("{n} contact{}, synced {at}", if n == 1 { "" } else { "s" });
                let line = format!(
                    "{source}: {} sync: fetched {}, added {}, updated {}, removed {}, skipped {}; {} contacts",
                    report.mode.as_str(),
                    report.fetched,
                    report.added,
                    report.updated,
                    report.removed,
                    report.skipped,
                    report.contacts
                );
                if report.changed_anything() {
                    tracing::info!("{line}");
                } else {
                    tracing::debug!("{line}");
                }
                (SourceState::Connected, message, Some(report))
            }
            Err(DavError::Auth(why)) => (SourceState::AuthFailed, why, None),
            Err(DavError::Failed(why)) => (SourceState::Reconnecting, why, None),
        };
        self.set(state, Some(message.clone()));
        BookSync {
            source,
            state,
            message: Some(message),
            report,
        }
    }

    /// A password kept in the OS keyring is read before every sync (so a new one there is
    /// used without a restart).
    async fn password(&mut self) -> Result<(), DavError> {
        let Some(entry) = &self.cfg.password_keyring else {
            return Ok(());
        };
        let key = format!("contacts.carddav `{}` password_keyring", self.cfg.name);
        let p = crate::secrets::password(None, Some(entry), &key)
            .await
            .map_err(DavError::Auth)?;
        self.book.set_password(Some(p));
        Ok(())
    }

    fn set(&self, state: SourceState, message: Option<String>) {
        self.sources
            .report(&self.book.source, state, message, (self.clock)());
    }
}

/// Remove the contacts (and sync token) of books no longer in the settings.
async fn forget_removed(state: &Ringside, configured: BTreeSet<String>) {
    let now = (state.clock)();
    let forgotten = state
        .engine
        .write(move |store| {
            let mut changed = Vec::new();
            let mut forgotten = Vec::new();
            for (source, _) in store.contact_counts()? {
                if !source.starts_with(PREFIX) || configured.contains(&source) {
                    continue;
                }
                let ids: Vec<String> = store.source_etags(&source)?.into_keys().collect();
                let (n, calls) = store.remove_contacts(&source, &ids, now)?;
                store.set_sync_token(&source, None, now)?;
                changed.extend(calls);
                forgotten.push((source, n));
            }
            Ok((forgotten, sync::last_of_each(changed)))
        })
        .await;
    match forgotten {
        Ok(list) => {
            for (source, n) in list {
                tracing::info!("{source}: no longer in the settings; removed its {n} contacts");
            }
        }
        Err(e) => tracing::error!("removing the contacts of removed address books: {e:#}"),
    }
}
