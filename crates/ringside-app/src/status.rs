//! The state of the sources Ringside connects to itself (the Xelion websocket, CardDAV address
//! books), for `GET /api/status` and the UI: connected, reconnecting since when, auth failed
//! and why.
//! Webhook providers are not listed: they connect to Ringside, there is nothing to show.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// The first connection (or sync) is being made.
    Connecting,
    Connected,
    /// The connection was lost, or the last sync failed; Ringside is trying again (with
    /// backoff).
    Reconnecting,
    /// The server refused the credentials (or the keyring has no password); Ringside retries
    /// slowly, but a person probably has to fix the settings.
    AuthFailed,
    /// Configured with `enabled = false`.
    Disabled,
}

impl SourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Connecting => "connecting",
            SourceState::Connected => "connected",
            SourceState::Reconnecting => "reconnecting",
            SourceState::AuthFailed => "auth_failed",
            SourceState::Disabled => "disabled",
        }
    }
}

/// One source as `GET /api/status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Source {
    /// `xelion`, or `carddav:<address book>`.
    pub name: String,
    pub state: SourceState,
    /// When the source entered `state` (RFC 3339); `null` when disabled.
    pub since: Option<DateTime<Utc>>,
    /// What a person should know, e.g. the last error, or "account lacks admin rights: only
    /// missed calls are received".
    pub message: Option<String>,
}

/// `GET /api/status`: Ringside's version and the state of every source it connects to.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Status {
    /// Ringside's version.
    pub version: String,
    pub sources: Vec<Source>,
}

/// The registry: cheap to clone, shared by the clients that connect out and the API.
#[derive(Debug, Clone, Default)]
pub struct Sources(Arc<RwLock<BTreeMap<String, Source>>>);

impl Sources {
    /// Record `name`'s state at `now`. `since` moves only when the state changes (so a source
    /// that keeps failing stays "reconnecting since" the first failure). Returns whether the
    /// state changed.
    pub fn set(
        &self,
        name: &str,
        state: SourceState,
        message: Option<String>,
        now: DateTime<Utc>,
    ) -> bool {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        let since = (state != SourceState::Disabled).then_some(now);
        match map.get_mut(name) {
            Some(s) if s.state == state => {
                s.message = message;
                false
            }
            Some(s) => {
                s.state = state;
                s.since = since;
                s.message = message;
                true
            }
            None => {
                map.insert(
                    name.to_string(),
                    Source {
                        name: name.to_string(),
                        state,
                        since,
                        message,
                    },
                );
                true
            }
        }
    }

    /// [`Sources::set`], and log the change when there is one: `auth_failed` as an error,
    /// `reconnecting` as a warning, the others as information.
    pub fn report(
        &self,
        name: &str,
        state: SourceState,
        message: Option<String>,
        now: DateTime<Utc>,
    ) -> bool {
        let changed = self.set(name, state, message.clone(), now);
        if changed {
            let message = message.map(|m| format!(": {m}")).unwrap_or_default();
            match state {
                SourceState::AuthFailed => tracing::error!("{name}: auth failed{message}"),
                SourceState::Reconnecting => tracing::warn!("{name}: reconnecting{message}"),
                _ => tracing::info!("{name}: {}{message}", state.as_str()),
            }
        }
        changed
    }

    /// Forget `name` (its configuration was removed).
    pub fn remove(&self, name: &str) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    pub fn get(&self, name: &str) -> Option<Source> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Every source, by name.
    pub fn list(&self) -> Vec<Source> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_moves_only_when_the_state_changes() {
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        let sources = Sources::default();
        assert!(sources.set("xelion", SourceState::Connecting, None, t(0)));
        assert!(sources.set("xelion", SourceState::Reconnecting, Some("a".into()), t(5)));
        assert!(!sources.set("xelion", SourceState::Reconnecting, Some("b".into()), t(9)));
        let s = sources.get("xelion").unwrap();
        assert_eq!((s.since, s.message.as_deref()), (Some(t(5)), Some("b")));
        sources.set("xelion", SourceState::Disabled, None, t(10));
        assert_eq!(sources.get("xelion").unwrap().since, None);
        let json = serde_json::to_value(sources.list()).unwrap();
        assert_eq!(json[0]["state"], "disabled");
        sources.remove("xelion");
        assert!(sources.list().is_empty());
    }
}
