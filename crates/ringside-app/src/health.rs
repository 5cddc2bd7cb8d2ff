//! Whether this Ringside can do its job now, for a load balancer and for monitoring: the store
//! (does it take writes: not failing, not read-only, the disk not full) and every source it
//! connects to.
//!
//! `unavailable` when an event could not be acknowledged now (the store fails its writes, its
//! file system is read-only or full): a load balancer sends webhooks elsewhere, a provider
//! retries later. `degraded` when Ringside takes events but something needs a person: the
//! disk is almost full, a source (Xelion, a CardDAV book, the CRM) is not connected.
//! `ready` otherwise.

use crate::ringside::Ringside;
use crate::status::{Source, SourceState};
use ringside_core::engine::Engine;
use serde::Serialize;
use ts_rs::TS;

/// Below this much free space the store is as good as full: a write would fail.
pub const FULL_BELOW: u64 = 1024 * 1024;
/// Below this much free space the store still works, but a person should make room.
pub const LOW_BELOW: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    Ready,
    Degraded,
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum StoreState {
    Ok,
    /// Less than [`LOW_BELOW`] free.
    LowSpace,
    /// Less than [`FULL_BELOW`] free.
    DiskFull,
    /// Its file system is mounted read-only.
    ReadOnly,
    /// Its last write failed (and a write tried now failed too).
    Failing,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct StoreHealth {
    pub state: StoreState,
    /// Why, when not `ok`.
    pub message: Option<String>,
    /// The database and its WAL.
    #[ts(type = "number")]
    pub size_bytes: u64,
    /// Free space for the data directory, where the system says.
    #[ts(type = "number | null")]
    pub free_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Health {
    pub status: Readiness,
    pub store: StoreHealth,
    pub sources: Vec<Source>,
}

/// How this Ringside is now. When the store's last write failed, one small write is tried
/// first: the disk may have room again.
pub async fn check(r: &Ringside) -> Health {
    if r.engine.write_health().is_err() {
        let _ = r.engine.probe().await;
    }
    let store = store(&r.engine, &r.data_dir);
    let sources = r.sources.list();
    let status = match store.state {
        StoreState::DiskFull | StoreState::ReadOnly | StoreState::Failing => Readiness::Unavailable,
        StoreState::LowSpace => Readiness::Degraded,
        StoreState::Ok if sources.iter().all(source_fine) => Readiness::Ready,
        StoreState::Ok => Readiness::Degraded,
    };
    Health {
        status,
        store,
        sources,
    }
}

fn source_fine(s: &Source) -> bool {
    matches!(s.state, SourceState::Connected | SourceState::Disabled)
}

/// The store's state, size and free space.
pub fn store(engine: &Engine, data_dir: &std::path::Path) -> StoreHealth {
    let db = Engine::store_path(data_dir);
    let size = |p: std::path::PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let size_bytes = size(db.clone()) + size(wal.into());
    let fs = file_system(data_dir);
    let free_bytes = fs.map(|f| f.free);
    let (state, message) = match (engine.write_health(), fs) {
        (Err(e), _) => (StoreState::Failing, Some(e)),
        (Ok(()), Some(f)) if f.read_only => (
            StoreState::ReadOnly,
            Some("the data directory's file system is read-only".into()),
        ),
        (Ok(()), Some(f)) if f.free < FULL_BELOW => (
            StoreState::DiskFull,
            Some(format!("{} bytes free for the store", f.free)),
        ),
        (Ok(()), Some(f)) if f.free < LOW_BELOW => (
            StoreState::LowSpace,
            Some(format!("{} MiB free for the store", f.free / (1024 * 1024))),
        ),
        (Ok(()), _) => (StoreState::Ok, None),
    };
    StoreHealth {
        state,
        message,
        size_bytes,
        free_bytes,
    }
}

#[derive(Debug, Clone, Copy)]
struct FileSystem {
    /// Bytes an unprivileged process may still write.
    free: u64,
    read_only: bool,
}

#[cfg(unix)]
fn file_system(dir: &std::path::Path) -> Option<FileSystem> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(FileSystem {
        free: s.f_bavail.saturating_mul(s.f_frsize),
        read_only: s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
    })
}

#[cfg(not(unix))]
fn file_system(_dir: &std::path::Path) -> Option<FileSystem> {
    None
}
