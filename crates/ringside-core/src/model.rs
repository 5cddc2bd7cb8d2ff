//! The one call model every provider is normalized into.
//!
//! Providers produce [`CallEvent`]s; [`crate::correlate`] folds them into [`Call`]s; the store
//! keeps both. Everything here is plain data that serializes to the JSON the API and
//! `/api/live` serve.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

/// A provider Ringside understands. The set is closed: adding one means adding a module in
/// `providers/` and a variant here, and the compiler points at every match to update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Voiceshot,
    Whippy,
    Teltel,
    Exotel,
    Generic,
    Xelion,
    /// Events Ringside makes itself (for example the timeout that ends a call whose terminal
    /// event never came).
    Ringside,
}

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 7] = [
        Provider::Voiceshot,
        Provider::Whippy,
        Provider::Teltel,
        Provider::Exotel,
        Provider::Generic,
        Provider::Xelion,
        Provider::Ringside,
    ];

    /// Providers that deliver webhooks into the local listener.
    pub const WEBHOOK: [Provider; 5] = [
        Provider::Voiceshot,
        Provider::Whippy,
        Provider::Teltel,
        Provider::Exotel,
        Provider::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Voiceshot => "voiceshot",
            Provider::Whippy => "whippy",
            Provider::Teltel => "teltel",
            Provider::Exotel => "exotel",
            Provider::Generic => "generic",
            Provider::Xelion => "xelion",
            Provider::Ringside => "ringside",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown provider `{s}`"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// The four states an agent cares about. `Missed` and `Ended` are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    Ringing,
    Answered,
    Missed,
    Ended,
}

impl CallState {
    pub fn is_terminal(self) -> bool {
        matches!(self, CallState::Missed | CallState::Ended)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Answered => "answered",
            CallState::Missed => "missed",
            CallState::Ended => "ended",
        }
    }
}

/// Why a leg (one agent or number being rung) stopped ringing without being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum LegOutcome {
    /// Rang out without an answer.
    NoAnswer,
    Busy,
    /// The caller hung up, or the PBX stopped ringing this leg because another leg answered.
    Cancelled,
    /// Congestion, unavailable channel, rejected, invalid number, ...
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum LegState {
    Ringing,
    Answered,
    Stopped,
}

/// One agent, extension or number that a call rang.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Leg {
    /// The identity rung: an extension, SIP user, user id or phone number as the provider names it.
    pub agent: String,
    pub state: LegState,
    pub outcome: Option<LegOutcome>,
    pub rang_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// One contact a lookup matched to a call's other party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContactMatch {
    /// Names this match among the call's matches: `contact:<id>` for a stored contact (local
    /// or synced), `crm:<n>` for the n-th answer of the CRM lookup.
    pub key: String,
    pub name: String,
    pub company: Option<String>,
    /// The contact's record, when the source gives one (opened by "Open record").
    pub record_url: Option<String>,
    /// `local`, `carddav:<address book>` or `crm`.
    pub source: String,
}

/// How a call reached its terminal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The provider said the call completed.
    Completed,
    /// Nobody answered (rang out, caller gave up).
    NoAnswer,
    Busy,
    Failed,
    /// The provider's terminal event never came; Ringside ended the call after the configured
    /// timeout.
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Keypress {
    pub at: DateTime<Utc>,
    /// The IVR prompt the digits were entered at, when the provider says.
    pub prompt: Option<String>,
    pub digits: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Attachment {
    /// `recording`, `transcript`, `analysis` or `other`.
    pub kind: String,
    pub url: String,
    pub content_type: Option<String>,
}

/// A call as the agent sees it. This is the object `GET /api/calls` and `/api/live` serve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Call {
    /// Ringside's id: `<provider>:<provider_call_id>`; stable, URL-safe after encoding.
    pub id: String,
    pub provider: Provider,
    pub provider_call_id: String,
    pub direction: Direction,
    pub state: CallState,
    /// E.164 where the number parses with the configured region, else as received.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The line, queue, campaign or virtual number the call came in on, when known.
    pub line: Option<String>,
    /// The identity that answered, when known.
    pub answered_by: Option<String>,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    #[ts(type = "number | null")]
    pub duration_s: Option<u64>,
    pub end_reason: Option<EndReason>,
    /// The recording as the provider gave it: shown as text.
    pub recording_url: Option<String>,
    /// `recording_url` when it may be opened ([`crate::links::openable`]: http(s), tel, sip,
    /// callto): the one URL of a recording the UI makes a link of.
    #[serde(default)]
    pub recording_link: Option<String>,
    pub transcript: Option<String>,
    pub attachments: Vec<Attachment>,
    pub keypresses: Vec<Keypress>,
    pub legs: Vec<Leg>,
    /// The other party's number for people to read ("+44 20 7946 0018", "Withheld number",
    /// an extension as it is): see [`crate::phone::display`].
    #[serde(default)]
    pub from_display: Option<String>,
    #[serde(default)]
    pub to_display: Option<String>,
    /// Who the other party is, as the contact sources know them, best first: empty when
    /// nobody knows the number; several when several contacts share it (the agent chooses).
    #[serde(default)]
    pub contacts: Vec<ContactMatch>,
    /// What the agent noted after the call, if anything.
    #[serde(default)]
    pub wrapup: Option<Wrapup>,
    /// Missed calls the agent has dealt with.
    pub done: bool,
    /// Who deals with a missed call, and how it was dealt with (the team's shared inbox).
    #[serde(flatten, default)]
    pub follow_up: FollowUp,
    /// When Ringside last changed this call (its own clock, used for timeouts and ordering).
    pub updated_at: DateTime<Utc>,
    /// This version's change number: every stored change of any call gets the next one, so a
    /// client that saw changes up to N asks for what came after N.
    #[serde(default)]
    #[ts(type = "number")]
    pub seq: u64,
}

/// A missed call's way out of the inbox: someone claims it ("I am calling back"), marks it
/// done, or the customer is reached by another call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FollowUp {
    /// Who marked it done (an agent's name; null for an admin or the local app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<DateTime<Utc>>,
    /// Who is calling back, until when (a claim lapses then, unless the call is done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_until: Option<DateTime<Utc>>,
    /// The later call that reached the same customer and so resolved this missed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
}

/// What an agent noted after a call: how it ended (one of `[wrapup] dispositions`) and a
/// note. Kept apart from the journal, so folding the journal again keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Wrapup {
    pub disposition: Option<String>,
    pub note: String,
    /// Who wrote it (the agent's first identity), when known.
    pub by: Option<String>,
    pub at: DateTime<Utc>,
}

/// What happened, as one provider event says it. A provider message can carry several
/// (an Exotel terminal callback both ends legs and ends the call).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The call exists (TelTel START); no agent is ringing yet.
    Started,
    /// `agent` starts ringing (None: the call rings somewhere unnamed).
    Ringing { agent: Option<String> },
    /// One leg stopped ringing without being answered; the call goes on.
    LegStopped { agent: String, outcome: LegOutcome },
    /// One agent's attempt is over, answered or not (Exotel's `Terminal`): a leg still ringing
    /// stops unanswered and the call goes on (the next attempt may follow); the agent who
    /// answered hung up, which ends the call with its talk time.
    AttemptEnded { agent: String },
    /// The provider says `agent` missed the call (Xelion's `missedCallEvent`): that leg stops
    /// unanswered and the call goes on, its hangup saying how it ended; unless this is the
    /// first Ringside hears of the call (an account that receives missed calls only): then it
    /// is over, missed.
    Missed { agent: Option<String> },
    /// Someone picked up.
    Answered { by: Option<String> },
    /// DTMF digits entered by the caller.
    Keypress {
        prompt: Option<String>,
        digits: String,
    },
    /// The call moved to another agent (attended or blind transfer); it stays one call.
    Transferred { to: Option<String> },
    /// The call is over. `answered`: what the provider says about whether anyone answered
    /// (None: it does not say; Ringside then uses what it saw).
    Ended {
        answered: Option<bool>,
        reason: EndReason,
        #[ts(type = "number | null")]
        duration_s: Option<u64>,
    },
    /// Extra facts only (recording, transcript, analysis), no state change.
    Details,
}

/// Facts about the call that may ride on any event; later values fill or replace earlier ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CallFacts {
    pub direction: Option<Direction>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub line: Option<String>,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// One normalized event: what a provider adapter produces and the correlator consumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CallEvent {
    pub provider: Provider,
    /// The provider's id for the call; together with `provider` it names the [`Call`].
    pub provider_call_id: String,
    /// When it happened by the provider's clock, if it says; else when Ringside received it.
    pub at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub kind: EventKind,
    #[serde(default)]
    pub facts: CallFacts,
}

impl CallEvent {
    pub fn new(provider: Provider, provider_call_id: impl Into<String>, kind: EventKind) -> Self {
        CallEvent {
            provider,
            provider_call_id: provider_call_id.into(),
            at: None,
            kind,
            facts: CallFacts::default(),
        }
    }
    pub fn at(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.at = at;
        self
    }
    pub fn facts(mut self, facts: CallFacts) -> Self {
        self.facts = facts;
        self
    }
}

/// The id Ringside gives the call a provider calls `provider_call_id`.
pub fn call_id(provider: Provider, provider_call_id: &str) -> String {
    format!("{provider}:{provider_call_id}")
}

/// One record on a call's timeline: a state transition or another fact worth showing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// `ringing`, `answered`, `missed`, `ended` for state transitions; `leg_ringing`,
    /// `leg_stopped`, `keypress`, `transferred`, `details`, `done` for the rest.
    pub what: String,
    /// Human-readable detail ("201 answered", "NOANSWER on 202", ...).
    pub detail: Option<String>,
    /// Journal sequence number of the event that caused it (None for Ringside's own actions).
    pub event_seq: Option<i64>,
}

/// A call with its full timeline, as `GET /api/calls/{id}` serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CallWithTimeline {
    #[serde(flatten)]
    pub call: Call,
    pub timeline: Vec<TimelineEntry>,
}
