//! [`Ringside`]: one running Ringside — its engine, the settings in force, its clock, the live
//! stream and the sources it connects to. Every operation takes it; it is cheap to clone.

use crate::carddav::books::Books;
use crate::clock::Clock;
use crate::live::Live;
use crate::lock::DataLock;
use crate::settings::{Settings, SharedSettings};
use crate::status::{Sources, Status};
use chrono::{DateTime, Utc};
use ringside_core::engine::Engine;
use ringside_core::store::Reader;
use std::path::PathBuf;
use std::sync::Arc;

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
        let settings = SharedSettings::new(settings);
        Ok(Ringside {
            live: Live::start(&engine, settings.clone()),
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

    /// Run a read on the store off the async threads.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.read(f)).await?
    }

    /// Ringside's version and the state of every source it connects to.
    pub fn status(&self) -> Status {
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            sources: self.sources.list(),
        }
    }
}
