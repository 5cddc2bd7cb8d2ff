//! A call as one agent sees it: the call, whether it is theirs (the one "mine" rule,
//! [`ringside_core::me::Me::owns`]), the pop it should have ([`screenpop::kind`]) and how
//! each of its numbers reads ([`phone::display`]), all worked out here so no UI works them
//! out again.

use crate::settings::Settings;
use ringside_core::phone;
use ringside_core::screenpop::{self, PopKind};
use ringside_core::Call;
use serde::Serialize;
use std::collections::BTreeMap;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct CallView {
    #[serde(flatten)]
    pub call: Call,
    /// The call rang, was answered by, came in on or was placed from one of my identities.
    /// Always false when no identities are set (the UI then shows every call).
    pub mine: bool,
    /// The pop this call should have now, were one on screen for it (`missed`: a ringing pop
    /// turns into the missed-call note; nothing new pops for it). None: no pop, or close it.
    pub pop: Option<PopKind>,
    /// How the call's numbers read for people (the line, who answered, the agents rung, the
    /// parties), by the number as the call names it; a number missing here reads as it is.
    pub numbers: BTreeMap<String, String>,
}

impl CallView {
    pub fn new(call: Call, settings: &Settings) -> CallView {
        let region = settings.config.region();
        let mut numbers = BTreeMap::new();
        let named = [
            call.from.as_deref(),
            call.to.as_deref(),
            call.line.as_deref(),
            call.answered_by.as_deref(),
        ]
        .into_iter()
        .flatten()
        .chain(call.legs.iter().map(|l| l.agent.as_str()));
        for raw in named {
            if !numbers.contains_key(raw) {
                let shown = phone::display(raw, region);
                if shown != raw {
                    numbers.insert(raw.to_string(), shown);
                }
            }
        }
        CallView {
            mine: settings.me.owns(&call),
            pop: screenpop::kind(&call, &settings.pops),
            numbers,
            call,
        }
    }
}

/// `calls` as the agent the settings name sees them.
pub fn views(calls: Vec<Call>, settings: &Settings) -> Vec<CallView> {
    calls
        .into_iter()
        .map(|c| CallView::new(c, settings))
        .collect()
}
