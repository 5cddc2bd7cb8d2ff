//! Call correlation: fold normalized events into calls.
//!
//! [`apply`] is a pure function of the previous call, one event and the current time. The rules:
//! - One call per (provider, provider call id); every agent rung is a [`Leg`]. A provider whose
//!   ids are unique only while the call lives (VoiceShot) starts a new call under the same id
//!   once the last one is over ([`starts_again`]).
//! - States only move forward: ringing -> answered -> missed/ended. A terminal call never
//!   reopens; a late event may still fill facts that were unknown (recording, who answered).
//!   The one exception is Ringside's own guess: a call it ended by timeout takes the
//!   provider's final word when that comes after all.
//! - A leg that stops ringing (NOANSWER on one of several parallel legs) is not a missed call;
//!   the call is missed only when it ends with nobody having answered, and only inbound.
//! - An answered call that rings someone new is being transferred: the new leg rings (and
//!   pops), and its answer hands the call over.
//! - Digits are keyed on a connected call: a keypress answers a call still ringing.
//! - Every state transition is one [`TimelineEntry`].
//!
//! [`arrival`] makes the outcome independent of the order events arrived in: it says whether a
//! delivery's events come after everything their call has seen (the store applies them), or
//! belong earlier (then it folds the call again from its history, in the order things
//! happened, and the store keeps that). [`timeout`] names the synthetic event that ends a call
//! whose terminal event never came, or that its provider will say no more about.

use crate::model::*;
use crate::providers;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The most legs a call keeps. Every leg is part of the call as it is saved (about 150
/// bytes of JSON), sent to every live subscriber on each change of the call and written to
/// its timeline, all on the single writer: without a bound, one 64 KiB delivery naming
/// 9,400 agents cost 1.5 s of the writer and 5 MB of disk. A ring-all group of a large team
/// rings a few dozen phones; 128 leaves room for the largest while the worst call stays
/// about 20 KB and a delivery's turn on the writer a few milliseconds. Agents rung beyond
/// it are not listed (the call's state, who answered and the timeline's note say the rest).
pub const MAX_LEGS: usize = 128;

/// The most keypresses a call keeps (an IVR menu takes a handful), for the same reason.
pub const MAX_KEYPRESSES: usize = 128;

/// The most attachments a call keeps (a recording, a transcript, an analysis, a few more).
pub const MAX_ATTACHMENTS: usize = 16;

/// What applying one event did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub call: Call,
    /// New timeline records, in order. Empty when the event changed nothing visible.
    pub timeline: Vec<TimelineEntry>,
    /// Whether `call` differs from what was there before.
    pub changed: bool,
}

/// Apply `ev` (journal sequence `seq`) to `prev`, the call it belongs to if one exists.
pub fn apply(prev: Option<Call>, ev: &CallEvent, seq: Option<i64>, now: DateTime<Utc>) -> Applied {
    let at = ev.at.unwrap_or(now);
    let mut t = Timeline {
        entries: Vec::new(),
        seq,
        at,
    };
    let (mut call, before) = match prev {
        Some(c) => {
            let before = c.clone();
            (c, Some(before))
        }
        None => (new_call(ev, at, &mut t), None),
    };
    let first = before.is_none();

    merge_facts(&mut call, &ev.facts, &mut t);
    if at < call.started_at {
        // Out of order: an earlier event arrived after a later one.
        call.started_at = at;
    }

    match &ev.kind {
        EventKind::Started | EventKind::Details => {}
        EventKind::Ringing { agent } => {
            if let Some(agent) = agent {
                ring_leg(&mut call, agent, at, &mut t);
            }
        }
        EventKind::LegStopped { agent, outcome } => {
            stop_leg(&mut call, agent, *outcome, at, &mut t);
        }
        EventKind::AttemptEnded { agent } => attempt_ended(&mut call, agent, at, &mut t),
        EventKind::Missed { agent } => {
            if let Some(agent) = agent {
                stop_leg(&mut call, agent, LegOutcome::NoAnswer, at, &mut t);
            }
            if first {
                // All Ringside hears of this call (an account that gets missed calls only).
                end(
                    &mut call,
                    Some(false),
                    EndReason::NoAnswer,
                    None,
                    at,
                    &mut t,
                );
            }
        }
        EventKind::Answered { by } => answer(&mut call, by.as_deref(), at, &mut t),
        EventKind::Keypress { .. } if call.keypresses.len() >= MAX_KEYPRESSES => {}
        EventKind::Keypress { prompt, digits } => {
            if call.state == CallState::Ringing {
                // Digits are keyed on a connected call.
                answer(&mut call, None, at, &mut t);
            }
            call.keypresses.push(Keypress {
                at,
                prompt: prompt.clone(),
                digits: digits.clone(),
            });
            t.push("keypress", Some(format!("pressed {digits}")));
        }
        EventKind::Transferred { to } => {
            if !call.state.is_terminal() {
                if let Some(to) = to {
                    upsert_leg(&mut call, to, LegState::Answered, None, at);
                    call.answered_by = Some(to.clone());
                }
                t.push(
                    "transferred",
                    Some(match to {
                        Some(to) => format!("transferred to {to}"),
                        None => "transferred".into(),
                    }),
                );
            }
        }
        EventKind::Ended {
            answered,
            reason,
            duration_s,
        } => end(&mut call, *answered, *reason, *duration_s, at, &mut t),
    }

    let changed = before.as_ref() != Some(&call);
    if changed {
        call.updated_at = now;
    }
    Applied {
        call,
        timeline: t.entries,
        changed,
    }
}

/// The event that ends `call` if it has been silent too long, or `None` while it is fine.
/// Ringing calls end after `ringing_s`, answered calls after `answered_s`; a call its provider
/// will say no more about (its adapter's [`providers::Reports::quiet`]: the Exotel applet
/// after its last attempt, a VoiceShot outbound campaign call) after `quiet_s`. The event
/// does not say whether anyone answered: the call ends as what Ringside saw, and the
/// provider's own final word still replaces the verdict if it comes later.
pub fn timeout(call: &Call, now: DateTime<Utc>, limits: &Timeouts) -> Option<CallEvent> {
    let quiet = providers::adapter(call.provider).is_some_and(|a| (a.reports.quiet)(call));
    let limit = match call.state {
        CallState::Missed | CallState::Ended => return None,
        _ if quiet => limits.quiet_s,
        CallState::Ringing => limits.ringing_s,
        CallState::Answered => limits.answered_s,
    };
    if now - call.updated_at < Duration::seconds(limit as i64) {
        return None;
    }
    // After everything the call has seen, even by a provider's clock that runs ahead of
    // Ringside's: folded in time order, the timeout comes last.
    let seen = [Some(call.started_at), call.answered_at]
        .into_iter()
        .chain(call.legs.iter().flat_map(|l| [Some(l.rang_at), l.ended_at]))
        .flatten()
        .max();
    Some(
        CallEvent::new(
            call.provider,
            call.provider_call_id.clone(),
            EventKind::Ended {
                answered: None,
                reason: EndReason::Timeout,
                duration_s: None,
            },
        )
        .at(Some(seen.map_or(now, |t| t.max(now)))),
    )
}

/// Whether `ev` opens a new call under the id of `call`, the last call its provider gave that
/// id, whose events are `events`: the provider's ids are unique only while a call lives (its
/// adapter's [`providers::Reports::ids_reused`]: VoiceShot's `callid`), `call` is over and
/// had its own answer, and `ev` is an answer, the event that opens such a call. Anything else
/// with that id belongs to `call` (an answer that comes after its call's hangup, say).
pub fn starts_again(call: &Call, events: &[CallEvent], ev: &CallEvent) -> bool {
    let answer = |e: &CallEvent| matches!(e.kind, EventKind::Answered { .. });
    providers::adapter(call.provider).is_some_and(|a| a.reports.ids_reused)
        && call.state.is_terminal()
        && events.iter().any(answer)
        && answer(ev)
}

/// One of a call's events as the journal keeps it: the delivery that brought it (`seq`), when
/// Ringside received that delivery, and the event. Lists of these are in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub struct Journaled {
    pub seq: i64,
    pub received_at: DateTime<Utc>,
    pub event: CallEvent,
}

/// Where a delivery's events fall in their call's course (see [`arrival`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Arrival {
    /// After everything the call has seen: apply them, in order, to the call as it is.
    InOrder,
    /// Before some of it: the call and its whole timeline, folded again from its history in
    /// the order things happened.
    OutOfOrder {
        call: Box<Call>,
        timeline: Vec<TimelineEntry>,
    },
}

/// Where the last `new` events of `history` (a call's journaled events in arrival order; the
/// last `new` are one delivery's, received at `now`) fall in the call's course. Applying them
/// to the call folded from the others gives what folding everything from scratch gives, or
/// the answer is that fold. Events with nothing before them come in order.
pub fn arrival(history: &[Journaled], new: usize, now: DateTime<Utc>) -> Arrival {
    let earlier = history.len().saturating_sub(new);
    if earlier == 0 || comes_last(history, earlier, now) {
        return Arrival::InOrder;
    }
    match fold(history, &arrange(history)) {
        Some((call, timeline)) => Arrival::OutOfOrder {
            call: Box::new(call),
            timeline,
        },
        None => Arrival::InOrder, // never: there are earlier events
    }
}

/// One step of a fold: the event (an index into the [`Journaled`] list) and the `now` it is
/// applied at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    index: usize,
    now: DateTime<Utc>,
}

/// The order to fold a call's events in (`events` in arrival order), so that what the call
/// becomes does not depend on the order its events arrived in, where the events say enough:
/// - every event carries the provider's time (TelTel, Exotel, Whippy): by that time; events of
///   the same instant in the natural order of their kinds (ringing, answer, leg stops,
///   transfer, keypress, details, end), then by content;
/// - none does (generic CTI, VoiceShot): in the natural order of their kinds, arrival order
///   among equals; the n-th step is applied at the n-th earliest arrival time, so answer and
///   end times stay in order;
/// - a mix (Xelion dates only new and missed calls, over one ordered websocket): as they
///   arrived.
fn arrange(events: &[Journaled]) -> Vec<Step> {
    let timed = events.iter().filter(|e| e.event.at.is_some()).count();
    let mut order: Vec<usize> = (0..events.len()).collect();
    let own_time = |index: usize| Step {
        index,
        now: events[index].received_at,
    };
    if timed == events.len() {
        order.sort_by(|&a, &b| {
            let (x, y) = (&events[a].event, &events[b].event);
            x.at.cmp(&y.at)
                .then(rank(&x.kind).cmp(&rank(&y.kind)))
                .then_with(|| content(x).cmp(&content(y)))
                .then(a.cmp(&b))
        });
        order.into_iter().map(own_time).collect()
    } else if timed == 0 {
        // Stable: equal kinds keep their arrival order.
        order.sort_by_key(|&i| rank(&events[i].event.kind));
        // The deliveries' arrival times, earliest first, handed out one per delivery in the
        // order the deliveries come up (a delivery's events share one time).
        let mut times: Vec<(i64, DateTime<Utc>)> =
            events.iter().map(|e| (e.seq, e.received_at)).collect();
        times.dedup_by_key(|(seq, _)| *seq);
        let mut times: Vec<DateTime<Utc>> = times.into_iter().map(|(_, t)| t).collect();
        times.sort();
        let mut next = times.into_iter();
        let mut given: Vec<(i64, DateTime<Utc>)> = Vec::new();
        order
            .into_iter()
            .map(|index| {
                let seq = events[index].seq;
                let now = match given.iter().find(|(s, _)| *s == seq) {
                    Some((_, t)) => *t,
                    None => {
                        let t = next.next().unwrap_or(events[index].received_at);
                        given.push((seq, t));
                        t
                    }
                };
                Step { index, now }
            })
            .collect()
    } else {
        order.into_iter().map(own_time).collect()
    }
}

/// Whether the events from `earlier` on (one delivery, received at `now`) come after all the
/// others in [`arrange`]'s order, each at `now`: then applying them to the call folded from
/// the others gives what folding everything from scratch would. Quick when the times or kinds
/// say so at a glance; otherwise by arranging both ways.
fn comes_last(history: &[Journaled], earlier: usize, now: DateTime<Utc>) -> bool {
    let (before, new) = history.split_at(earlier);
    let timed = |e: &&Journaled| e.event.at.is_some();
    if before.iter().all(|e| timed(&e)) && new.iter().all(|e| timed(&e)) {
        // Strictly later than everything before, and in order among themselves.
        let last = before.iter().filter_map(|e| e.event.at).max();
        let ordered = new.windows(2).all(|w| {
            (w[0].event.at, rank(&w[0].event.kind)) < (w[1].event.at, rank(&w[1].event.kind))
        });
        if ordered && new.iter().all(|e| e.event.at > last) {
            return true;
        }
    } else if before.iter().all(|e| !timed(&e)) && new.iter().all(|e| !timed(&e)) {
        // Kinds no earlier than any before, arrived no earlier, and in order themselves.
        let top = before.iter().map(|e| rank(&e.event.kind)).max();
        let latest = before.iter().map(|e| e.received_at).max();
        let ordered = new
            .windows(2)
            .all(|w| rank(&w[0].event.kind) <= rank(&w[1].event.kind));
        if ordered
            && new.iter().all(|e| Some(rank(&e.event.kind)) >= top)
            && latest.is_none_or(|l| now >= l)
        {
            return true;
        }
    }
    comes_last_by_arranging(history, earlier, now)
}

fn comes_last_by_arranging(history: &[Journaled], earlier: usize, now: DateTime<Utc>) -> bool {
    let steps = arrange(history);
    steps[..earlier] == arrange(&history[..earlier])[..]
        && steps[earlier..]
            .iter()
            .enumerate()
            .all(|(i, s)| s.index == earlier + i && s.now == now)
}

/// Fold a call's events from scratch in the order `steps` gives (see [`arrange`]): the call
/// and its whole timeline. `None` for no events.
fn fold(events: &[Journaled], steps: &[Step]) -> Option<(Call, Vec<TimelineEntry>)> {
    let mut call = None;
    let mut timeline = Vec::new();
    for step in steps {
        let e = &events[step.index];
        let applied = apply(call, &e.event, Some(e.seq), step.now);
        timeline.extend(applied.timeline);
        call = Some(applied.call);
    }
    call.map(|c| (c, timeline))
}

/// Where an event of each kind falls in a call's natural course.
fn rank(kind: &EventKind) -> u8 {
    match kind {
        EventKind::Started => 0,
        EventKind::Ringing { .. } => 1,
        EventKind::Answered { .. } => 2,
        EventKind::LegStopped { .. } | EventKind::AttemptEnded { .. } => 3,
        EventKind::Missed { .. } => 3,
        EventKind::Transferred { .. } => 4,
        EventKind::Keypress { .. } => 5,
        EventKind::Details => 6,
        EventKind::Ended { .. } => 7,
    }
}

/// A total, arrival-independent tie-break between two events of the same instant and kind.
fn content(ev: &CallEvent) -> Vec<u8> {
    serde_json::to_vec(ev).unwrap_or_default()
}

/// How long a call may go without any event before Ringside ends it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// A call still ringing after this long is over (missed, if inbound). Default 10 minutes.
    #[ts(type = "number")]
    pub ringing_s: u64,
    /// An answered call with no news for this long is over. Default 12 hours.
    #[ts(type = "number")]
    pub answered_s: u64,
    /// A call its provider will say no more about is over after this long: the Exotel
    /// applet's call after its last attempt ended (a grace for the next sequential attempt),
    /// a VoiceShot outbound campaign call after its last keypress. Default 20 seconds.
    #[ts(type = "number")]
    pub quiet_s: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            ringing_s: 600,
            answered_s: 12 * 3600,
            quiet_s: 20,
        }
    }
}

struct Timeline {
    entries: Vec<TimelineEntry>,
    seq: Option<i64>,
    at: DateTime<Utc>,
}

impl Timeline {
    fn push(&mut self, what: &str, detail: Option<String>) {
        self.entries.push(TimelineEntry {
            at: self.at,
            what: what.to_string(),
            detail,
            event_seq: self.seq,
        });
    }
}

fn new_call(ev: &CallEvent, at: DateTime<Utc>, t: &mut Timeline) -> Call {
    let call = Call {
        id: call_id(ev.provider, &ev.provider_call_id),
        provider: ev.provider,
        provider_call_id: ev.provider_call_id.clone(),
        direction: ev.facts.direction.unwrap_or(Direction::Inbound),
        state: CallState::Ringing,
        from: None,
        to: None,
        line: None,
        answered_by: None,
        started_at: at,
        answered_at: None,
        ended_at: None,
        duration_s: None,
        end_reason: None,
        recording_url: None,
        recording_link: None,
        transcript: None,
        attachments: Vec::new(),
        keypresses: Vec::new(),
        legs: Vec::new(),
        from_display: None,
        to_display: None,
        contacts: Vec::new(),
        wrapup: None,
        done: false,
        follow_up: FollowUp::default(),
        updated_at: at,
        seq: 0,
    };
    // A call first seen answered, keyed into or over skips "ringing" on its timeline.
    if matches!(
        ev.kind,
        EventKind::Started
            | EventKind::Ringing { .. }
            | EventKind::LegStopped { .. }
            | EventKind::AttemptEnded { .. }
            | EventKind::Details
            | EventKind::Transferred { .. }
    ) {
        t.push("ringing", None);
    }
    call
}

fn merge_facts(call: &mut Call, f: &CallFacts, t: &mut Timeline) {
    fn fill(slot: &mut Option<String>, v: &Option<String>) {
        if slot.is_none() {
            slot.clone_from(v);
        }
    }
    fill(&mut call.from, &f.from);
    fill(&mut call.to, &f.to);
    fill(&mut call.line, &f.line);
    let mut added = Vec::new();
    // Recordings and transcripts get better as providers analyse the call: newest wins.
    if f.recording_url.is_some() && f.recording_url != call.recording_url {
        call.recording_url.clone_from(&f.recording_url);
        // Only a URL that may be opened becomes a link (a `javascript:` one stays text).
        call.recording_link = f
            .recording_url
            .clone()
            .filter(|u| crate::links::openable(u));
        added.push("recording");
    }
    if f.transcript.is_some() && f.transcript != call.transcript {
        call.transcript.clone_from(&f.transcript);
        added.push("transcript");
    }
    for a in &f.attachments {
        if call.attachments.len() < MAX_ATTACHMENTS
            && !call.attachments.iter().any(|b| b.url == a.url)
        {
            call.attachments.push(a.clone());
            if !added.contains(&a.kind.as_str()) {
                added.push(match a.kind.as_str() {
                    "recording" => "recording",
                    "transcript" => "transcript",
                    "analysis" => "analysis",
                    _ => "attachment",
                });
            }
        }
    }
    if !added.is_empty() {
        t.push("details", Some(format!("{} added", added.join(", "))));
    }
}

/// Set `agent`'s leg, adding one if the call has room; whether it has one now.
fn upsert_leg(
    call: &mut Call,
    agent: &str,
    state: LegState,
    outcome: Option<LegOutcome>,
    at: DateTime<Utc>,
) -> bool {
    let ended_at = (state == LegState::Stopped).then_some(at);
    let full = call.legs.len() >= MAX_LEGS;
    match call.legs.iter_mut().rev().find(|l| l.agent == agent) {
        Some(leg) => {
            leg.state = state;
            leg.outcome = outcome;
            if ended_at.is_some() {
                leg.ended_at = ended_at;
            }
            true
        }
        // Full: the agent is not listed (see MAX_LEGS).
        None if full => false,
        None => {
            call.legs.push(Leg {
                agent: agent.to_string(),
                state,
                outcome,
                rang_at: at,
                ended_at,
            });
            true
        }
    }
}

fn ring_leg(call: &mut Call, agent: &str, at: DateTime<Utc>, t: &mut Timeline) {
    if call.state.is_terminal() {
        // A late RING after the call ended changes nothing.
        return;
    }
    match call.legs.iter().rev().find(|l| l.agent == agent) {
        Some(leg) if leg.state != LegState::Stopped => return,
        // Sequential attempts may ring the same agent again after a stop.
        Some(leg) if leg.ended_at.is_some_and(|e| e > at) => return,
        _ => {}
    }
    let had = call.legs.len();
    if upsert_leg(call, agent, LegState::Ringing, None, at) {
        // An answered call that rings someone new is being transferred to them.
        t.push(
            "leg_ringing",
            Some(match call.state {
                CallState::Answered => format!("ringing {agent} (transfer)"),
                _ => format!("ringing {agent}"),
            }),
        );
        if call.legs.len() == MAX_LEGS && had < MAX_LEGS {
            t.push(
                "leg_ringing",
                Some(format!("{MAX_LEGS} agents rung: any more are not listed")),
            );
        }
    }
}

fn stop_leg(
    call: &mut Call,
    agent: &str,
    outcome: LegOutcome,
    at: DateTime<Utc>,
    t: &mut Timeline,
) {
    match call.legs.iter().rev().find(|l| l.agent == agent) {
        // Stopping the leg that answered (an Exotel attempt's Terminal) or a leg already
        // stopped (a redelivery) changes nothing.
        Some(leg) if leg.state != LegState::Ringing => return,
        None if call.state.is_terminal() => return,
        _ => {}
    }
    if !upsert_leg(call, agent, LegState::Stopped, Some(outcome), at) {
        return;
    }
    t.push(
        "leg_stopped",
        Some(format!(
            "{agent} stopped ringing ({})",
            outcome_str(outcome)
        )),
    );
}

fn answer(call: &mut Call, by: Option<&str>, at: DateTime<Utc>, t: &mut Timeline) {
    let by = by.map(str::to_string).or_else(|| {
        let mut ringing = call.legs.iter().filter(|l| l.state == LegState::Ringing);
        match (ringing.next(), ringing.next()) {
            (Some(only), None) => Some(only.agent.clone()),
            _ => None,
        }
    });
    match call.state {
        CallState::Ringing => {
            call.state = CallState::Answered;
            call.answered_at = Some(at);
            call.answered_by.clone_from(&by);
            if let Some(by) = &by {
                upsert_leg(call, by, LegState::Answered, None, at);
            }
            stop_ringing_legs(call, at);
            t.push(
                "answered",
                Some(match &by {
                    Some(by) => format!("answered by {by}"),
                    None => "answered".into(),
                }),
            );
        }
        // Someone else rung on an answered call (a transfer) picks up: the call is theirs.
        CallState::Answered
            if by.as_deref().is_some_and(|b| {
                call.answered_by.as_deref() != Some(b)
                    && call
                        .legs
                        .iter()
                        .any(|l| l.agent == b && l.state == LegState::Ringing)
            }) =>
        {
            let by = by.expect("checked");
            if let Some(prev) = call.legs.iter_mut().find(|l| {
                l.state == LegState::Answered
                    && Some(l.agent.as_str()) == call.answered_by.as_deref()
            }) {
                prev.ended_at = Some(at);
            }
            upsert_leg(call, &by, LegState::Answered, None, at);
            stop_ringing_legs(call, at);
            t.push("transferred", Some(format!("{by} answered the transfer")));
            call.answered_by = Some(by);
        }
        // Already answered or over: only fill in who, if nobody said before.
        CallState::Answered | CallState::Ended | CallState::Missed => {
            if call.answered_by.is_none() && by.is_some() && call.state != CallState::Missed {
                call.answered_by = by;
                if call.answered_at.is_none() {
                    call.answered_at = Some(at);
                }
            }
        }
    }
}

/// Legs still ringing stop: someone answered.
fn stop_ringing_legs(call: &mut Call, at: DateTime<Utc>) {
    for leg in call
        .legs
        .iter_mut()
        .filter(|l| l.state == LegState::Ringing)
    {
        leg.state = LegState::Stopped;
        leg.outcome = Some(LegOutcome::Cancelled);
        leg.ended_at = Some(at);
    }
}

/// `agent`'s attempt is over: see [`EventKind::AttemptEnded`].
fn attempt_ended(call: &mut Call, agent: &str, at: DateTime<Utc>, t: &mut Timeline) {
    let answered_here = call.state == CallState::Answered
        && call.answered_by.as_deref() == Some(agent)
        && call
            .legs
            .iter()
            .any(|l| l.agent == agent && l.state == LegState::Answered);
    if answered_here {
        end(call, Some(true), EndReason::Completed, None, at, t);
    } else {
        stop_leg(call, agent, LegOutcome::NoAnswer, at, t);
    }
}

fn end(
    call: &mut Call,
    answered: Option<bool>,
    reason: EndReason,
    duration_s: Option<u64>,
    at: DateTime<Utc>,
    t: &mut Timeline,
) {
    if call.state.is_terminal() {
        if call.end_reason != Some(EndReason::Timeout) || reason == EndReason::Timeout {
            // A duplicate hangup, or a late one: only fill what was unknown.
            if call.duration_s.is_none() && duration_s.is_some() {
                call.duration_s = duration_s;
            }
            return;
        }
        // Ringside ended the call by timeout, and the provider's own final word came after
        // all: it replaces the guess.
        call.state = if call.answered_at.is_some() {
            CallState::Answered
        } else {
            CallState::Ringing
        };
        call.duration_s = None;
    }
    // An answer Ringside saw is never undone: a call that was answered (connected) is not
    // missed, whatever the end says. Otherwise the provider's word, else what Ringside saw.
    let was_answered = call.state == CallState::Answered || answered == Some(true);
    let state = if was_answered || call.direction == Direction::Outbound {
        CallState::Ended
    } else {
        CallState::Missed
    };
    call.state = state;
    call.ended_at = Some(at);
    call.end_reason = Some(match (reason, was_answered) {
        (EndReason::Timeout, _) => EndReason::Timeout,
        (_, true) => EndReason::Completed,
        (EndReason::Completed, false) => EndReason::NoAnswer,
        (r, false) => r,
    });
    call.duration_s = duration_s.or_else(|| {
        call.answered_at
            .filter(|_| was_answered)
            .map(|a| (at - a).num_seconds().max(0) as u64)
    });
    let leg_outcome = if was_answered {
        LegOutcome::Cancelled
    } else {
        LegOutcome::NoAnswer
    };
    for leg in &mut call.legs {
        match leg.state {
            LegState::Ringing => {
                leg.state = LegState::Stopped;
                leg.outcome = Some(leg_outcome);
                leg.ended_at = Some(at);
            }
            LegState::Answered => leg.ended_at = Some(at),
            LegState::Stopped => {}
        }
    }
    let detail = match call.end_reason {
        Some(EndReason::Timeout) => {
            Some("no final event from the provider; ended by timeout".into())
        }
        Some(r) if !was_answered => Some(format!("not answered ({})", reason_str(r))),
        _ => call.duration_s.map(|d| format!("after {d} s")),
    };
    t.push(state.as_str(), detail);
}

fn outcome_str(o: LegOutcome) -> &'static str {
    match o {
        LegOutcome::NoAnswer => "no answer",
        LegOutcome::Busy => "busy",
        LegOutcome::Cancelled => "cancelled",
        LegOutcome::Failed => "failed",
    }
}

fn reason_str(r: EndReason) -> &'static str {
    match r {
        EndReason::Completed => "completed",
        EndReason::NoAnswer => "no answer",
        EndReason::Busy => "busy",
        EndReason::Failed => "failed",
        EndReason::Timeout => "timeout",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn ev(kind: EventKind, at: i64) -> CallEvent {
        CallEvent::new(Provider::Teltel, "c1", kind).at(Some(t(at)))
    }

    fn ring(agent: &str, at: i64) -> CallEvent {
        ev(
            EventKind::Ringing {
                agent: Some(agent.into()),
            },
            at,
        )
    }

    fn ended(answered: Option<bool>, at: i64) -> CallEvent {
        ev(
            EventKind::Ended {
                answered,
                reason: EndReason::Completed,
                duration_s: None,
            },
            at,
        )
    }

    /// Fold events in order; return the call and every timeline record's `what`.
    fn run(events: &[CallEvent]) -> (Call, Vec<String>) {
        let mut call = None;
        let mut whats = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let a = apply(call, e, Some(i as i64), t(1000));
            whats.extend(a.timeline.into_iter().map(|x| x.what));
            call = Some(a.call);
        }
        (call.unwrap(), whats)
    }

    #[test]
    fn parallel_ringing_one_winner() {
        let (c, tl) = run(&[
            ev(EventKind::Started, 0),
            ring("201", 1),
            ring("202", 1),
            ev(
                EventKind::Answered {
                    by: Some("201".into()),
                },
                5,
            ),
            ev(
                EventKind::LegStopped {
                    agent: "202".into(),
                    outcome: LegOutcome::Cancelled,
                },
                5,
            ),
            ended(Some(true), 65),
        ]);
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(c.answered_by.as_deref(), Some("201"));
        assert_eq!(c.duration_s, Some(60));
        assert_eq!(c.legs.len(), 2);
        assert_eq!(c.legs[1].outcome, Some(LegOutcome::Cancelled));
        assert_eq!(
            tl,
            ["ringing", "leg_ringing", "leg_ringing", "answered", "ended"]
        );
    }

    #[test]
    fn losing_leg_noanswer_is_not_a_miss_but_nobody_answering_is() {
        let (c, _) = run(&[
            ring("201", 0),
            ring("202", 0),
            ev(
                EventKind::LegStopped {
                    agent: "201".into(),
                    outcome: LegOutcome::NoAnswer,
                },
                20,
            ),
        ]);
        assert_eq!(c.state, CallState::Ringing);
        let (c, tl) = run(&[ring("201", 0), ring("202", 0), ended(Some(false), 30)]);
        assert_eq!(c.state, CallState::Missed);
        assert_eq!(c.end_reason, Some(EndReason::NoAnswer));
        assert!(c
            .legs
            .iter()
            .all(|l| l.outcome == Some(LegOutcome::NoAnswer)));
        assert_eq!(tl.last().unwrap(), "missed");
    }

    #[test]
    fn outbound_unanswered_ends_not_missed() {
        let mut start = ev(EventKind::Started, 0);
        start.facts.direction = Some(Direction::Outbound);
        let (c, _) = run(&[start, ended(Some(false), 30)]);
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(c.end_reason, Some(EndReason::NoAnswer));
    }

    #[test]
    fn late_events_never_reopen_a_finished_call() {
        let (c, tl) = run(&[
            ring("201", 0),
            ended(Some(false), 30),
            ring("202", 10),
            ev(
                EventKind::LegStopped {
                    agent: "201".into(),
                    outcome: LegOutcome::NoAnswer,
                },
                29,
            ),
            ev(
                EventKind::Answered {
                    by: Some("201".into()),
                },
                25,
            ),
            ended(None, 31),
        ]);
        assert_eq!(c.state, CallState::Missed);
        assert_eq!(c.answered_by, None);
        assert_eq!(c.ended_at, Some(t(30)));
        assert_eq!(tl, ["ringing", "leg_ringing", "missed"]);
    }

    #[test]
    fn answer_before_ring_and_start_after_stay_consistent() {
        let (c, tl) = run(&[
            ev(
                EventKind::Answered {
                    by: Some("201".into()),
                },
                5,
            ),
            ring("201", 1),
            ev(EventKind::Started, 0),
        ]);
        assert_eq!(c.state, CallState::Answered);
        assert_eq!(c.started_at, t(0));
        assert_eq!(tl, ["answered"]);
    }

    #[test]
    fn answered_without_name_takes_the_only_ringing_leg() {
        let (c, _) = run(&[
            ring("+15550001", 0),
            ev(EventKind::Answered { by: None }, 3),
        ]);
        assert_eq!(c.answered_by.as_deref(), Some("+15550001"));
        let (c, _) = run(&[
            ring("201", 0),
            ring("202", 0),
            ev(EventKind::Answered { by: None }, 3),
        ]);
        assert_eq!(c.answered_by, None);
    }

    #[test]
    fn sequential_attempts_are_legs_of_one_call() {
        let stop = |a: &str, at| {
            ev(
                EventKind::LegStopped {
                    agent: a.into(),
                    outcome: LegOutcome::NoAnswer,
                },
                at,
            )
        };
        let (c, _) = run(&[
            ring("a", 0),
            stop("a", 20),
            ring("b", 21),
            ev(
                EventKind::Answered {
                    by: Some("b".into()),
                },
                25,
            ),
            stop("b", 90),
            ended(None, 90),
        ]);
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(c.answered_by.as_deref(), Some("b"));
        assert_eq!(c.legs[1].state, LegState::Answered);
        assert_eq!(c.duration_s, Some(65));
    }

    #[test]
    fn duplicate_hangup_only_fills_missing_duration() {
        let (c, tl) = run(&[
            ev(EventKind::Answered { by: None }, 0),
            ended(None, 10),
            ev(
                EventKind::Ended {
                    answered: None,
                    reason: EndReason::Completed,
                    duration_s: Some(99),
                },
                12,
            ),
        ]);
        assert_eq!(c.duration_s, Some(10));
        assert_eq!(tl, ["answered", "ended"]);
    }

    #[test]
    fn details_after_the_end_add_recording_and_transcript() {
        let mut details = ev(EventKind::Details, 100);
        details.facts.recording_url = Some("https://r/1.wav".into());
        details.facts.transcript = Some("Agent: hi".into());
        let (c, tl) = run(&[
            ev(EventKind::Answered { by: None }, 0),
            ended(None, 10),
            details,
        ]);
        assert_eq!(c.recording_url.as_deref(), Some("https://r/1.wav"));
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(tl.last().unwrap(), "details");
    }

    #[test]
    fn timeout_ends_silent_calls_and_marks_them() {
        let (c, _) = run(&[ring("201", 0)]);
        let limits = Timeouts::default();
        assert!(timeout(&c, c.updated_at + Duration::seconds(10), &limits).is_none());
        let later = c.updated_at + Duration::seconds(601);
        let e = timeout(&c, later, &limits).unwrap();
        let a = apply(Some(c), &e, None, later);
        assert_eq!(a.call.state, CallState::Missed);
        assert_eq!(a.call.end_reason, Some(EndReason::Timeout));
        assert!(timeout(&a.call, later + Duration::days(9), &limits).is_none());
    }

    #[test]
    fn transfer_keeps_one_call_with_the_new_agent() {
        let (c, tl) = run(&[
            ring("A", 0),
            ev(EventKind::Answered { by: None }, 2),
            ev(
                EventKind::Transferred {
                    to: Some("B".into()),
                },
                30,
            ),
            ended(None, 60),
        ]);
        assert_eq!(c.answered_by.as_deref(), Some("B"));
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(
            tl,
            ["ringing", "leg_ringing", "answered", "transferred", "ended"]
        );
    }

    /// Every permutation of `0..n` (Heap's algorithm).
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        fn heap(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
            if k <= 1 {
                out.push(a.clone());
                return;
            }
            for i in 0..k {
                heap(k - 1, a, out);
                let j = if k.is_multiple_of(2) { i } else { 0 };
                a.swap(j, k - 1);
            }
        }
        let mut out = Vec::new();
        heap(n, &mut (0..n).collect(), &mut out);
        out
    }

    /// Deliver `deliveries` (each a group of events, like one webhook) in the order `perm`
    /// gives, one second apart, and fold them as the store does. `seq` names the delivery, so
    /// the timeline's `event_seq` does not depend on the order.
    fn fold_in(deliveries: &[Vec<CallEvent>], perm: &[usize]) -> (Call, Vec<TimelineEntry>) {
        let events: Vec<Journaled> = perm
            .iter()
            .enumerate()
            .flat_map(|(arrival, &d)| {
                deliveries[d].iter().map(move |e| Journaled {
                    seq: d as i64,
                    received_at: t(1000 + arrival as i64),
                    event: e.clone(),
                })
            })
            .collect();
        let (mut call, timeline) = fold(&events, &arrange(&events)).unwrap();
        call.updated_at = t(0);
        (call, timeline)
    }

    /// The quick answer of `comes_last` is the one arranging gives, for every delivery of
    /// every arrival order.
    fn quick_check_agrees(deliveries: &[Vec<CallEvent>], perm: &[usize]) {
        let mut history: Vec<Journaled> = Vec::new();
        for (arrival, &d) in perm.iter().enumerate() {
            let now = t(1000 + arrival as i64);
            let earlier = history.len();
            history.extend(deliveries[d].iter().map(|e| Journaled {
                seq: d as i64,
                received_at: now,
                event: e.clone(),
            }));
            assert_eq!(
                comes_last(&history, earlier, now),
                comes_last_by_arranging(&history, earlier, now),
                "order {perm:?}, delivery {arrival}"
            );
        }
    }

    /// Deliver as [`fold_in`] does, one delivery at a time as the store takes them: applied to
    /// the call as it is when [`arrival`] says they come in order, else the call as it folds
    /// the whole history again.
    fn fold_as_arrived(
        deliveries: &[Vec<CallEvent>],
        perm: &[usize],
    ) -> (Call, Vec<TimelineEntry>) {
        let mut history: Vec<Journaled> = Vec::new();
        let mut call: Option<Call> = None;
        let mut timeline = Vec::new();
        for (arrival_at, &d) in perm.iter().enumerate() {
            let now = t(1000 + arrival_at as i64);
            history.extend(deliveries[d].iter().map(|e| Journaled {
                seq: d as i64,
                received_at: now,
                event: e.clone(),
            }));
            match arrival(&history, deliveries[d].len(), now) {
                Arrival::InOrder => {
                    for e in &deliveries[d] {
                        let applied = apply(call.take(), e, Some(d as i64), now);
                        timeline.extend(applied.timeline);
                        call = Some(applied.call);
                    }
                }
                Arrival::OutOfOrder {
                    call: folded,
                    timeline: all,
                } => {
                    call = Some(*folded);
                    timeline = all;
                }
            }
        }
        let mut call = call.expect("a call");
        call.updated_at = t(0);
        (call, timeline)
    }

    /// The call and the multiset of its timeline records are the same in every arrival order,
    /// folded from scratch or one delivery at a time.
    fn same_in_every_order(deliveries: &[Vec<CallEvent>]) -> (Call, Vec<TimelineEntry>) {
        let in_order: Vec<usize> = (0..deliveries.len()).collect();
        let (want, want_tl) = fold_in(deliveries, &in_order);
        let key = |e: &TimelineEntry| (e.at, e.what.clone(), e.detail.clone(), e.event_seq);
        let mut want_sorted = want_tl.clone();
        want_sorted.sort_by_key(key);
        for perm in permutations(deliveries.len()) {
            quick_check_agrees(deliveries, &perm);
            for (got, mut got_tl) in [
                fold_in(deliveries, &perm),
                fold_as_arrived(deliveries, &perm),
            ] {
                got_tl.sort_by_key(key);
                assert_eq!(got, want, "order {perm:?}");
                assert_eq!(got_tl, want_sorted, "order {perm:?}");
            }
        }
        (want, want_tl)
    }

    #[test]
    fn timed_events_fold_the_same_in_any_arrival_order() {
        let mut completed = ev(
            EventKind::Ended {
                answered: Some(true),
                reason: EndReason::Completed,
                duration_s: Some(60),
            },
            65,
        );
        completed.facts.recording_url = Some("https://r/1.mp3".into());
        let (c, tl) = same_in_every_order(&[
            vec![ev(EventKind::Started, 0)],
            vec![ring("201", 1)],
            vec![ring("202", 1)],
            vec![ev(
                EventKind::Answered {
                    by: Some("201".into()),
                },
                5,
            )],
            vec![ev(
                EventKind::LegStopped {
                    agent: "202".into(),
                    outcome: LegOutcome::Cancelled,
                },
                5,
            )],
            vec![ev(
                EventKind::Answered {
                    by: Some("201".into()),
                },
                6,
            )],
            vec![completed],
        ]);
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(c.answered_by.as_deref(), Some("201"));
        assert_eq!(c.started_at, t(0));
        assert_eq!(c.answered_at, Some(t(5)));
        let legs: Vec<_> = c.legs.iter().map(|l| (l.agent.as_str(), l.state)).collect();
        assert_eq!(
            legs,
            [("201", LegState::Answered), ("202", LegState::Stopped)]
        );
        let whats: Vec<_> = tl.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "ringing",
                "leg_ringing",
                "leg_ringing",
                "answered",
                "details",
                "ended"
            ]
        );

        // Sequential attempts, nobody answering: Exotel's pass-through and terminal callback.
        let stop = |a: &str, at| {
            vec![ev(
                EventKind::LegStopped {
                    agent: a.into(),
                    outcome: LegOutcome::NoAnswer,
                },
                at,
            )]
        };
        let (c, _) = same_in_every_order(&[
            vec![ring("a", 0)],
            stop("a", 3),
            vec![ring("b", 3)],
            stop("b", 6),
            vec![ev(
                EventKind::Ended {
                    answered: Some(false),
                    reason: EndReason::NoAnswer,
                    duration_s: None,
                },
                8,
            )],
        ]);
        assert_eq!(c.state, CallState::Missed);
        assert_eq!(c.legs.len(), 2);
        assert!(c
            .legs
            .iter()
            .all(|l| l.outcome == Some(LegOutcome::NoAnswer)));
    }

    #[test]
    fn untimed_events_fold_in_their_natural_order() {
        let untimed = |kind| CallEvent::new(Provider::Generic, "g1", kind);
        // A generic CTI call: newCall ringing two users (one delivery), answer, hangup that
        // does not say whether anyone answered.
        let (c, tl) = same_in_every_order(&[
            vec![
                untimed(EventKind::Ringing {
                    agent: Some("201".into()),
                }),
                untimed(EventKind::Ringing {
                    agent: Some("202".into()),
                }),
            ],
            vec![untimed(EventKind::Answered {
                by: Some("201".into()),
            })],
            vec![untimed(EventKind::Ended {
                answered: None,
                reason: EndReason::Completed,
                duration_s: None,
            })],
        ]);
        assert_eq!(c.state, CallState::Ended, "the hangup first is not a miss");
        assert_eq!(c.answered_by.as_deref(), Some("201"));
        assert_eq!(
            (c.started_at, c.answered_at, c.ended_at),
            (t(1000), Some(t(1001)), Some(t(1002)))
        );
        let whats: Vec<_> = tl.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(
            whats,
            ["ringing", "leg_ringing", "leg_ringing", "answered", "ended"]
        );

        // VoiceShot: answered by the IVR, a keypress, hangup with its duration.
        let vs = |kind| CallEvent::new(Provider::Voiceshot, "1-3:9", kind);
        let (c, tl) = same_in_every_order(&[
            vec![vs(EventKind::Answered { by: None })],
            vec![vs(EventKind::Keypress {
                prompt: Some("1".into()),
                digits: "1234".into(),
            })],
            vec![vs(EventKind::Ended {
                answered: None,
                reason: EndReason::Completed,
                duration_s: Some(24),
            })],
        ]);
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(c.duration_s, Some(24));
        let whats: Vec<_> = tl.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(
            whats,
            ["answered", "keypress", "ended"],
            "no ringing invented"
        );
    }

    #[test]
    fn a_mix_of_dated_and_undated_events_folds_as_it_arrived() {
        let undated = CallEvent::new(Provider::Xelion, "c1", EventKind::Answered { by: None });
        let events: Vec<Journaled> = [ring("201", 50), undated]
            .into_iter()
            .enumerate()
            .map(|(i, event)| Journaled {
                seq: i as i64,
                received_at: t(100 + i as i64),
                event,
            })
            .collect();
        let steps = arrange(&events);
        assert_eq!(steps.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(steps[1].now, t(101));
    }

    #[test]
    fn an_answer_ringside_saw_is_never_undone_by_the_end() {
        let (c, _) = run(&[
            ring("201", 0),
            ev(
                EventKind::Answered {
                    by: Some("201".into()),
                },
                20,
            ),
            ended(Some(false), 30),
        ]);
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(c.answered_by.as_deref(), Some("201"));
        assert_eq!(c.end_reason, Some(EndReason::Completed));
        // Without an answer, the provider's word that nobody answered is the verdict.
        let (c, _) = run(&[ring("201", 0), ended(Some(false), 30)]);
        assert_eq!(c.state, CallState::Missed);
    }

    #[test]
    fn the_answering_agents_attempt_ending_ends_the_call_and_others_only_stop_their_leg() {
        let attempt = |a: &str, at| ev(EventKind::AttemptEnded { agent: a.into() }, at);
        let (c, tl) = run(&[
            ring("a", 0),
            attempt("a", 20),
            ring("b", 21),
            ev(
                EventKind::Answered {
                    by: Some("b".into()),
                },
                25,
            ),
            attempt("b", 90),
        ]);
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(c.answered_by.as_deref(), Some("b"));
        assert_eq!(c.duration_s, Some(65), "the talk time");
        assert_eq!(c.legs[0].outcome, Some(LegOutcome::NoAnswer));
        assert_eq!(tl.last().unwrap(), "ended");
        // Every attempt over and nobody answered: still ringing (a next attempt may come).
        let (c, _) = run(&[ring("a", 0), attempt("a", 20)]);
        assert_eq!(c.state, CallState::Ringing);
    }

    #[test]
    fn a_missed_call_event_is_one_users_unless_it_is_all_there_is() {
        let missed = |a: &str, at| {
            ev(
                EventKind::Missed {
                    agent: Some(a.into()),
                },
                at,
            )
        };
        let (c, _) = run(&[
            ring("a", 0),
            ring("b", 0),
            ev(
                EventKind::Answered {
                    by: Some("b".into()),
                },
                5,
            ),
            missed("a", 6),
        ]);
        assert_eq!(c.state, CallState::Answered, "b is still talking");
        assert_eq!(c.answered_by.as_deref(), Some("b"));
        let (c, tl) = run(&[missed("a", 0)]);
        assert_eq!(c.state, CallState::Missed);
        assert_eq!(c.legs[0].agent, "a");
        assert_eq!(tl, ["leg_stopped", "missed"]);
        let (c, _) = run(&[ring("a", 0), missed("a", 9), ended(None, 10)]);
        assert_eq!(c.state, CallState::Missed, "nobody answered");
    }

    #[test]
    fn digits_are_keyed_on_a_connected_call() {
        let key = ev(
            EventKind::Keypress {
                prompt: Some("1".into()),
                digits: "1".into(),
            },
            3,
        );
        let (c, tl) = run(std::slice::from_ref(&key));
        assert_eq!(c.state, CallState::Answered);
        assert_eq!(tl, ["answered", "keypress"]);
    }

    #[test]
    fn an_answered_call_rings_the_transfer_target_who_takes_it_over() {
        let (c, tl) = run(&[
            ring("a", 0),
            ev(
                EventKind::Answered {
                    by: Some("a".into()),
                },
                2,
            ),
            ring("b", 30),
        ]);
        assert_eq!(c.state, CallState::Answered);
        assert_eq!(c.legs[1].state, LegState::Ringing);
        assert_eq!(tl.last().unwrap(), "leg_ringing");
        let (c, tl) = run(&[
            ring("a", 0),
            ev(
                EventKind::Answered {
                    by: Some("a".into()),
                },
                2,
            ),
            ev(EventKind::Transferred { to: None }, 30),
            ring("b", 30),
            ev(
                EventKind::Answered {
                    by: Some("b".into()),
                },
                35,
            ),
            ended(None, 95),
        ]);
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(c.answered_by.as_deref(), Some("b"));
        assert_eq!(c.duration_s, Some(93), "from the first answer");
        assert_eq!(
            tl,
            [
                "ringing",
                "leg_ringing",
                "answered",
                "transferred",
                "leg_ringing",
                "transferred",
                "ended"
            ]
        );
    }

    #[test]
    fn the_providers_final_word_replaces_ringsides_timeout() {
        let limits = Timeouts::default();
        let (c, _) = run(&[ring("201", 0)]);
        let later = c.updated_at + Duration::seconds(601);
        let e = timeout(&c, later, &limits).unwrap();
        let timed_out = apply(Some(c), &e, None, later).call;
        assert_eq!(timed_out.state, CallState::Missed);
        let mut hangup = ended(Some(true), 700);
        hangup.kind = EventKind::Ended {
            answered: Some(true),
            reason: EndReason::Completed,
            duration_s: Some(42),
        };
        let a = apply(Some(timed_out.clone()), &hangup, Some(9), t(2000));
        assert_eq!(a.call.state, CallState::Ended);
        assert_eq!(a.call.end_reason, Some(EndReason::Completed));
        assert_eq!(a.call.duration_s, Some(42));
        assert_eq!(a.call.ended_at, Some(t(700)));
        // Another timeout, or a missed verdict, changes nothing more.
        let again = apply(Some(a.call.clone()), &e, None, t(3000));
        assert!(!again.changed);
    }

    #[test]
    fn a_call_its_provider_says_no_more_about_ends_after_the_quiet_grace() {
        let attempt = |a: &str, at| {
            CallEvent::new(
                Provider::Exotel,
                "e1",
                EventKind::AttemptEnded { agent: a.into() },
            )
            .at(Some(t(at)))
        };
        let ring = |a: &str, at| {
            CallEvent::new(
                Provider::Exotel,
                "e1",
                EventKind::Ringing {
                    agent: Some(a.into()),
                },
            )
            .at(Some(t(at)))
        };
        let limits = Timeouts::default();
        let (c, _) = run(&[ring("a", 0)]);
        assert!(timeout(&c, c.updated_at + Duration::seconds(60), &limits).is_none());
        let (c, _) = run(&[ring("a", 0), attempt("a", 20)]);
        assert!(timeout(&c, c.updated_at + Duration::seconds(19), &limits).is_none());
        let later = c.updated_at + Duration::seconds(20);
        let e = timeout(&c, later, &limits).unwrap();
        let missed = apply(Some(c), &e, None, later).call;
        assert_eq!(missed.state, CallState::Missed);
        assert_eq!(missed.end_reason, Some(EndReason::Timeout));
        // A provider clock ahead of Ringside's: the timeout still comes after what it saw.
        let (c, _) = run(&[ring("a", 0), attempt("a", 5000)]);
        let e = timeout(&c, c.updated_at + Duration::seconds(20), &limits).unwrap();
        assert_eq!(e.at, Some(t(5000)));
    }

    #[test]
    fn nothing_new_means_unchanged() {
        let first = apply(None, &ring("201", 0), Some(1), t(5));
        let again = apply(Some(first.call.clone()), &ring("201", 0), Some(2), t(9));
        assert!(!again.changed);
        assert!(again.timeline.is_empty());
        assert_eq!(again.call.updated_at, first.call.updated_at);
    }
}
