//! [`Ringside`]: one running Ringside — its engine, the settings in force, its clock, the live
//! stream and the sources it connects to. Every operation takes it; it is cheap to clone.

use crate::carddav::books::Books;
use crate::clock::Clock;
use crate::live::Live;
use crate::lock::DataLock;
use crate::presence::Presence;
use crate::settings::{Settings, SharedSettings};
use crate::status::{Sources, Status};
use crate::team_link::Team;
use chrono::{DateTime, Utc};
use ringside_core::engine::Engine;
use ringside_core::store::{OutboxTarget, Queries, Reader};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct Ringside {
    pub engine: Engine,
    settings: SharedSettings,
    pub clock: Clock,
    /// Every stored call change, as frames for the UIs.
    pub live: Live,
    /// Connection state of the sources Ringside connects to (Xelion, CardDAV, the CRM).
    pub sources: Sources,
    /// The CardDAV address books being synced, for "sync now".
    pub carddav: Books,
    /// `http://HOST:PORT` of the listener that serves this Ringside.
    pub listen_url: String,
    /// Where the store and the Xelion session live.
    pub data_dir: PathBuf,
    /// The hub's agents online (their live connections).
    pub presence: Presence,
    /// This app's link to its team's hub, while it has one.
    pub team: Team,
    /// Agents whose token was just replaced or who were removed: their connections close.
    revoked: broadcast::Sender<i64>,
    /// Held for as long as this Ringside runs: no other one serves the data directory.
    _lock: Arc<DataLock>,
}

impl Ringside {
    /// Open the store in the locked data directory and start the live stream (needs a Tokio
    /// runtime). The sources' tasks are started by [`crate::start::spawn_tasks`].
    pub async fn open(
        lock: DataLock,
        settings: Settings,
        listen_url: String,
        clock: Clock,
    ) -> anyhow::Result<Ringside> {
        let data_dir = lock.dir().to_path_buf();
        let engine = Engine::open(&data_dir)?;
        engine
            .set_lookup(settings.config.contacts.lookup_settings())
            .await?;
        let outbox = outbox_targets(&settings);
        engine
            .write(move |w| {
                w.set_outbox(outbox);
                Ok(((), Vec::new()))
            })
            .await?;
        let last_seq = {
            let engine = engine.clone();
            tokio::task::spawn_blocking(move || engine.read(|s| s.last_seq())).await??
        };
        let settings = SharedSettings::new(settings);
        Ok(Ringside {
            live: Live::start(&engine, last_seq, settings.clone()),
            presence: Presence::default(),
            team: Team::default(),
            revoked: broadcast::channel(REVOCATIONS).0,
            engine,
            settings,
            clock,
            sources: Sources::default(),
            carddav: Books::default(),
            listen_url,
            data_dir,
            _lock: Arc::new(lock),
        })
    }

    /// The settings in force now.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.get()
    }

    /// The settings, to follow as they change.
    pub fn shared_settings(&self) -> &SharedSettings {
        &self.settings
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Who "I" am: the agent the team's hub knows when this app is linked to one, else
    /// `[agent]`.
    pub fn me(&self) -> ringside_core::me::Me {
        let settings = self.settings();
        match self.team.link() {
            Some(link) => link.me(settings.config.region()),
            None => settings.me.clone(),
        }
    }

    /// Run a read on the store off the async threads.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.read(f)).await?
    }

    /// Close every connection of agent `id` (their token was replaced, or they were removed).
    pub fn revoke(&self, id: i64) {
        let _ = self.revoked.send(id);
    }

    /// Revocations from now on.
    pub fn revocations(&self) -> broadcast::Receiver<i64> {
        self.revoked.subscribe()
    }

    /// Ringside's version and the state of every source it connects to.
    pub fn status(&self) -> Status {
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            sources: self.sources.list(),
        }
    }
}

/// Revocations a connection may miss before it is closed anyway (it checks again).
const REVOCATIONS: usize = 64;

/// Where the hub posts finished calls, by `[[hub.webhooks]]`.
pub fn outbox_targets(settings: &Settings) -> Vec<OutboxTarget> {
    settings
        .config
        .hub
        .iter()
        .flat_map(|h| &h.webhooks)
        .map(|w| OutboxTarget {
            url: w.url.clone(),
            events: w.events.clone(),
        })
        .collect()
}
