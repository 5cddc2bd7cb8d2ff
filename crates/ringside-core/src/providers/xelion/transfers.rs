//! Transfers across frames (customer C, agents A and B, as in `mod.rs`), and channel hangups
//! that name only their leg.
//!
//! The hangup of C -> A at the moment of a transfer carries C's flow, and that one frame does not
//! say that a transfer is under way: on its own it would end C's call. [`Transfers`] tells the
//! two apart with state across frames (the websocket client keeps one per account):
//! - Attended: a hangup of an answered C -> A leg while A has a connected call of its own to B
//!   (the consult) is read as A handing C to B, and becomes `Transferred { to: B }` on C's call.
//!   The seed's signature of an attended transfer, the consult's hangup arriving twice, or any
//!   later notification on C's flow from another leg (C -> B) confirms it. If neither comes
//!   within [`TRANSFER_GRACE_S`], C hung up while A was consulting B, and the C -> A hangup is
//!   stored after all.
//! - Blind (and every other hangup of an answered leg): held for [`BLIND_GRACE_S`]. If C's flow
//!   goes on in another leg meanwhile (A sent C to B, whose phone now rings), the hangup is
//!   stored as `Transferred { to: None }` and the call stays open: B's leg rings (and pops) and
//!   B's answer takes the call over. Otherwise the hangup is stored as it is, a few seconds
//!   late.
//!
//! A `channelHungUpEvent` that fills only the callee's side has no customer flow: the tracker
//! finds the customer's call by the leg's `callId`, which it saw ring, and stops that agent's
//! leg (and pop). One for a leg it never saw stops nothing and is journaled with a note.
//!
//! After a restart of Ringside the tracker starts empty: a transfer in flight ends C's call,
//! and a hangup is stored at once.

use super::{LegFacts, Notice, Notification, PROVIDER};
use crate::model::{CallEvent, EventKind, LegOutcome};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// How long a suspected attended transfer waits for its confirmation.
pub const TRANSFER_GRACE_S: i64 = 10;
/// How long the hangup of an answered leg waits for its flow to go on in another leg (a blind
/// transfer) before it ends the call.
pub const BLIND_GRACE_S: i64 = 3;
/// Legs not heard of for this long are forgotten (their hangup was missed).
const LEG_MEMORY_H: i64 = 24;

/// Transfers across frames (see the module docs). One per connection to an account; it
/// outlives reconnects. Time is a parameter.
#[derive(Debug, Clone, Default)]
pub struct Transfers {
    /// Legs that are ringing or connected, by `callId`.
    legs: HashMap<String, TrackedLeg>,
    pending: Vec<Pending>,
}

#[derive(Debug, Clone)]
struct TrackedLeg {
    facts: LegFacts,
    connected: bool,
    seen: DateTime<Utc>,
}

/// A hangup held for a transfer's confirmation.
#[derive(Debug, Clone)]
struct Pending {
    /// C's flow and the C -> A leg.
    flow: String,
    leg: String,
    hold: Hold,
    /// The C -> A hangup, stored as it is if the transfer is not confirmed by `due`.
    held: Notice,
    due: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
enum Hold {
    /// Stored as `Transferred { to: B }` already; waits for the consult leg A -> B to hang up
    /// twice.
    Attended {
        consult: String,
        consult_hangups: u32,
    },
    /// Nothing stored yet: a blind transfer if the flow goes on in another leg.
    Blind,
}

impl Transfers {
    pub fn new() -> Transfers {
        Transfers::default()
    }

    /// Pass one notice through at `now`; returns what to store for it, in order: the notice
    /// itself; nothing while its hangup is held; a `Transferred` in place of a hangup that
    /// hands the customer to another agent (before the notice that shows it); a channel
    /// hangup placed on its customer's call.
    pub fn track(&mut self, notice: Notice, now: DateTime<Utc>) -> Vec<Notice> {
        self.legs
            .retain(|_, l| now - l.seen < Duration::hours(LEG_MEMORY_H));
        let Some(call_id) = notice.leg.call_id.clone() else {
            return vec![notice];
        };
        let mut out = Vec::new();
        // C's flow goes on in another leg (C -> B): the transfer happened.
        let flow = notice.leg.flow.clone();
        if !flow.is_empty() {
            let (confirmed, wait): (Vec<_>, Vec<_>) = self
                .pending
                .drain(..)
                .partition(|p| p.flow == flow && p.leg != call_id);
            self.pending = wait;
            out.extend(
                confirmed
                    .into_iter()
                    .filter(|p| p.hold == Hold::Blind)
                    .map(|p| transferred(p.held, None)),
            );
        }
        match notice.notification {
            Notification::NewCall | Notification::CallConnected => {
                let connected = notice.notification == Notification::CallConnected;
                let leg = self.legs.entry(call_id).or_insert_with(|| TrackedLeg {
                    facts: notice.leg.clone(),
                    connected,
                    seen: now,
                });
                leg.connected |= connected;
                leg.seen = now;
                out.push(notice);
            }
            Notification::MissedCall => {
                self.legs.remove(&call_id);
                out.push(notice);
            }
            Notification::ChannelHungUp => out.push(self.channel_hung_up(&call_id, notice)),
            Notification::CallHungUp => out.extend(self.hung_up(call_id, notice, now)),
        }
        out
    }

    fn channel_hung_up(&mut self, call_id: &str, mut notice: Notice) -> Notice {
        let leg = self.legs.remove(call_id);
        if !notice.events.is_empty() {
            return notice;
        }
        match (leg, notice.leg.agent.clone()) {
            (Some(leg), Some(agent)) => {
                notice.events.push(CallEvent::new(
                    PROVIDER,
                    leg.facts.flow,
                    EventKind::LegStopped {
                        agent,
                        outcome: LegOutcome::Cancelled,
                    },
                ));
            }
            _ => notice.notes.push(format!(
                "channel hang-up of leg `{call_id}`, which Ringside did not see ring: nothing to stop"
            )),
        }
        notice
    }

    fn hung_up(&mut self, call_id: String, notice: Notice, now: DateTime<Utc>) -> Vec<Notice> {
        // The consult's hangup: the second copy is the attended transfer's signature.
        for p in &mut self.pending {
            if let Hold::Attended {
                consult,
                consult_hangups,
            } = &mut p.hold
            {
                if *consult == call_id {
                    *consult_hangups += 1;
                }
            }
        }
        self.pending.retain(
            |p| !matches!(p.hold, Hold::Attended { consult_hangups, .. } if consult_hangups >= 2),
        );
        if self
            .pending
            .iter()
            .any(|p| p.leg == call_id && p.hold == Hold::Blind)
        {
            // A copy of a hangup held already.
            return Vec::new();
        }
        let Some(leg) = self.legs.remove(&call_id) else {
            return vec![notice];
        };
        if !leg.connected {
            return vec![notice];
        }
        let consult = leg.facts.agent.as_ref().and_then(|agent| {
            self.legs.iter().find(|(_, k)| {
                k.connected
                    && k.facts.caller.as_ref() == Some(agent)
                    && k.facts.flow != leg.facts.flow
            })
        });
        let Some((consult_id, consult)) = consult else {
            self.pending.push(Pending {
                flow: leg.facts.flow.clone(),
                leg: call_id,
                hold: Hold::Blind,
                held: notice,
                due: now + Duration::seconds(BLIND_GRACE_S),
            });
            return Vec::new();
        };
        let to = consult.facts.callee.clone();
        let mut held = notice.clone();
        held.dedupe_key = format!("{}:after-transfer", notice.dedupe_key);
        self.pending.push(Pending {
            flow: leg.facts.flow.clone(),
            leg: call_id,
            hold: Hold::Attended {
                consult: consult_id.clone(),
                consult_hangups: 0,
            },
            held,
            due: now + Duration::seconds(TRANSFER_GRACE_S),
        });
        vec![transferred(notice, to)]
    }

    /// Hangups held for a transfer that was never confirmed, due by `now`: the customer (or
    /// the agent) hung up. Store them as they are.
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<Notice> {
        let (due, wait): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|p| p.due <= now);
        self.pending = wait;
        due.into_iter().map(|p| p.held).collect()
    }

    /// When [`Transfers::due`] has something next.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.pending.iter().map(|p| p.due).min()
    }
}

/// `notice`, a hangup, as the transfer of its call to `to`.
fn transferred(notice: Notice, to: Option<String>) -> Notice {
    Notice {
        events: notice
            .events
            .iter()
            .map(|e| CallEvent {
                kind: EventKind::Transferred { to: to.clone() },
                ..e.clone()
            })
            .collect(),
        ..notice
    }
}

#[cfg(test)]
mod tests {
    use super::super::notices;
    use super::super::tests::{answered, events, frames, hung_up, id, ringing};
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_709_629_200 + s, 0).unwrap()
    }

    /// The (call, kind) of every event of `notices`.
    fn of(notices: Vec<Notice>) -> Vec<(String, EventKind)> {
        notices
            .into_iter()
            .flat_map(|n| n.events)
            .map(|e| (e.provider_call_id, e.kind))
            .collect()
    }

    /// Feed every frame of a fixture through `Transfers` one second apart, storing what falls
    /// due before each; the stored events.
    fn tracked(frames: &[String], t: &mut Transfers) -> Vec<(String, EventKind)> {
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            out.extend(of(t.due(at(i as i64))));
            for n in notices(f.as_bytes()).unwrap() {
                out.extend(of(t.track(n, at(i as i64))));
            }
        }
        out
    }

    /// [`tracked`], and then whatever is still held, an hour later.
    fn tracked_all(frames: &[String], t: &mut Transfers) -> Vec<(String, EventKind)> {
        let mut out = tracked(frames, t);
        out.extend(of(t.due(at(3600))));
        out
    }

    fn transferred(to: &str) -> EventKind {
        EventKind::Transferred {
            to: Some(to.to_string()),
        }
    }

    #[test]
    fn an_attended_transfer_moves_the_customer_call_to_the_new_agent() {
        let mut t = Transfers::new();
        let got = tracked_all(&frames("attended_transfer"), &mut t);
        assert_eq!(
            got,
            vec![
                (id("flow-c-3001"), ringing("user-a")),
                (id("flow-c-3001"), answered("user-a")),
                (id("flow-a-3002"), ringing("user-b")),
                (id("flow-a-3002"), answered("user-b")),
                // C -> A hangs up while A has B on the line: A hands C to B.
                (id("flow-c-3001"), transferred("user-b")),
                // C -> B ends: still C's flow.
                (id("flow-c-3001"), hung_up(140)),
                // A -> B hangs up twice with the same callId: held once, stored once.
                (id("flow-a-3002"), hung_up(20)),
            ]
        );
        assert_eq!(t.next_due(), None);
    }

    #[test]
    fn a_later_leg_on_the_customer_flow_also_confirms_a_transfer() {
        let f = frames("attended_transfer");
        // Without the duplicate consult hangup: C -> A ends, consult ends once, C -> B ends.
        let frames = [&f[0..6], &f[7..8]].concat();
        let mut t = Transfers::new();
        let got = tracked_all(&frames, &mut t);
        assert_eq!(got[4], (id("flow-c-3001"), transferred("user-b")));
        assert!(got.contains(&(id("flow-c-3001"), hung_up(140))));
        assert!(!got.contains(&(id("flow-c-3001"), hung_up(62))));
        assert_eq!(t.next_due(), None);
    }

    #[test]
    fn a_customer_who_hangs_up_during_a_consult_call_ends_the_call_after_the_grace() {
        let f = frames("attended_transfer");
        let mut t = Transfers::new();
        // C -> A answered, A -> B consult answered, then C -> A hangs up; the consult goes on.
        let got = tracked(&f[0..5], &mut t);
        assert_eq!(got[4], (id("flow-c-3001"), transferred("user-b")));
        let due = t.next_due().unwrap();
        assert_eq!(due, at(4) + Duration::seconds(TRANSFER_GRACE_S));
        assert!(t.due(due - Duration::seconds(1)).is_empty());
        let held = t.due(due);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].events[0].provider_call_id, "flow-c-3001");
        assert_eq!(held[0].events[0].kind, hung_up(62));
        assert!(held[0].dedupe_key.ends_with(":after-transfer"));
        assert!(t.due(due + Duration::hours(1)).is_empty());
        // The consult's single hangup later ends only the consult.
        let rest = tracked_all(&f[5..6], &mut t);
        assert_eq!(rest, vec![(id("flow-a-3002"), hung_up(20))]);
    }

    #[test]
    fn plain_calls_pass_the_tracker_unchanged_their_hangups_a_few_seconds_late() {
        for name in ["answered", "missed", "outgoing"] {
            let mut t = Transfers::new();
            assert_eq!(tracked_all(&frames(name), &mut t), events(name), "{name}");
            assert_eq!(t.next_due(), None, "{name}");
        }
        let f = frames("answered");
        let mut t = Transfers::new();
        assert_eq!(tracked(&f, &mut t).len(), 2, "the hangup is held");
        let due = t.next_due().unwrap();
        assert_eq!(due, at(2) + Duration::seconds(BLIND_GRACE_S));
        assert_eq!(of(t.due(due)), vec![(id("flow-c-1001"), hung_up(95))]);
    }

    #[test]
    fn a_channel_hangup_naming_only_its_leg_stops_that_leg_of_the_customer_call() {
        // The seed's shape: only the callee's side filled, no customer flow.
        assert!(!events("hunt_group")
            .iter()
            .any(|(_, k)| matches!(k, EventKind::LegStopped { .. })));
        let mut t = Transfers::new();
        assert_eq!(
            tracked_all(&frames("hunt_group"), &mut t),
            vec![
                (id("flow-c-4001"), ringing("user-a")),
                (id("flow-c-4001"), ringing("user-b")),
                (id("flow-c-4001"), answered("user-b")),
                (
                    id("flow-c-4001"),
                    EventKind::LegStopped {
                        agent: id("user-a"),
                        outcome: LegOutcome::Cancelled,
                    }
                ),
                (id("flow-c-4001"), hung_up(48)),
            ]
        );
        // A leg the tracker never saw ring (Ringside restarted): nothing to stop, and said so.
        let mut fresh = Transfers::new();
        let channel = &frames("hunt_group")[3];
        let n = fresh.track(notices(channel.as_bytes()).unwrap().remove(0), at(0));
        assert!(n[0].events.is_empty());
        assert!(n[0].notes[0].contains("call-4001a"), "{:?}", n[0].notes);
    }

    #[test]
    fn a_blind_transfer_keeps_the_customer_call_and_rings_the_new_agent() {
        let mut t = Transfers::new();
        assert_eq!(
            tracked_all(&frames("blind_transfer"), &mut t),
            vec![
                (id("flow-c-6001"), ringing("user-a")),
                (id("flow-c-6001"), answered("user-a")),
                // C -> A hung up, and C's flow rings B: the hangup was a transfer.
                (id("flow-c-6001"), EventKind::Transferred { to: None }),
                (id("flow-c-6001"), ringing("user-b")),
                (id("flow-c-6001"), answered("user-b")),
                (id("flow-c-6001"), hung_up(50)),
            ]
        );
        assert_eq!(t.next_due(), None);
    }
}
