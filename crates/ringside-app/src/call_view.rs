//! A call as one agent sees it: the call, and whether it is theirs (the one "mine" rule,
//! [`ringside_core::me::Me::owns`], worked out here so no UI works it out again).

use ringside_core::me::Me;
use ringside_core::Call;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CallView {
    #[serde(flatten)]
    pub call: Call,
    /// The call rang, was answered by, came in on or was placed from one of my identities.
    /// Always false when no identities are set (the UI then shows every call).
    pub mine: bool,
}

impl CallView {
    pub fn new(call: Call, me: &Me) -> CallView {
        CallView {
            mine: me.owns(&call),
            call,
        }
    }
}

/// `calls` as `me` sees them.
pub fn views(calls: Vec<Call>, me: &Me) -> Vec<CallView> {
    calls.into_iter().map(|c| CallView::new(c, me)).collect()
}
