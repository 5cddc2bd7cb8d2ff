//! The address books being synced, for "sync now": each running book's queue, and what a
//! book says when asked.

use super::sync::SyncReport;
use crate::status::{SourceState, Sources};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use ts_rs::TS;

/// A book after "sync now".
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct BookSync {
    /// `carddav:<name>`.
    pub source: String,
    pub state: SourceState,
    /// As in `GET /api/status`: "412 contacts, synced 10:02", or what went wrong.
    pub message: Option<String>,
    /// What the sync did; null when it failed.
    pub report: Option<SyncReport>,
}

/// A request for a sync now, answered when it is done.
pub(super) type Request = oneshot::Sender<BookSync>;

/// The running books, for "sync now": `carddav:<name>` -> its task's queue.
#[derive(Debug, Clone, Default)]
pub struct Books(Arc<Mutex<BTreeMap<String, mpsc::Sender<Request>>>>);

impl Books {
    pub(super) fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<String, mpsc::Sender<Request>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl BookSync {
    /// The book as `GET /api/status` shows it, when no sync answered.
    pub(super) fn as_is(sources: &Sources, source: String, otherwise: &str) -> BookSync {
        let current = sources.get(&source);
        BookSync {
            state: current
                .as_ref()
                .map_or(SourceState::Connecting, |s| s.state),
            message: Some(otherwise.to_string()),
            report: None,
            source,
        }
    }
}
