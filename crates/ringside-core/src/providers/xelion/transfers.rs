//! Attended transfers across frames (customer C, agents A and B, as in `mod.rs`).
//!
//! The hangup of C -> A at the moment of transfer carries C's flow, and that one frame does not
//! say that a transfer is under way: on its own it would end C's call. [`Transfers`] tells the
//! two apart with state across frames (the websocket client keeps one per account): a hangup of an
//! answered C -> A leg while A has a connected call of its own to B (the consult) is read as
//! A handing C to B, and becomes `Transferred { to: B }` on C's call. The seed's signature of an
//! attended transfer, the consult's hangup arriving twice, or any later notification on C's
//! flow from another leg (C -> B) confirms it. If neither comes within the grace period, C
//! hung up while A was consulting B, and the C -> A hangup is stored after all. After a restart
//! of Ringside the tracker starts empty and a transfer in flight ends C's call (the old
//! behaviour).

use super::{LegFacts, Notice, Notification};
use crate::model::{CallEvent, EventKind};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// How long a suspected attended transfer waits for its confirmation.
pub const TRANSFER_GRACE_S: i64 = 10;
/// Legs not heard of for this long are forgotten (their hangup was missed).
const LEG_MEMORY_H: i64 = 24;

/// Attended transfers across frames (see the module docs). One per connection to an account;
/// it outlives reconnects. Time is a parameter.
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

/// A C -> A hangup read as a transfer, waiting for its confirmation.
#[derive(Debug, Clone)]
struct Pending {
    /// C's flow and the C -> A leg.
    flow: String,
    leg: String,
    /// The consult leg A -> B and how many hangups of it arrived.
    consult: String,
    consult_hangups: u32,
    /// The C -> A hangup, stored after all if the transfer is not confirmed by `due`.
    held: Notice,
    due: DateTime<Utc>,
}

impl Transfers {
    pub fn new() -> Transfers {
        Transfers::default()
    }

    /// Pass one notice through at `now`; returns what to store for it (the notice itself, or
    /// a `Transferred` in place of a hangup that hands the customer to another agent).
    pub fn track(&mut self, notice: Notice, now: DateTime<Utc>) -> Notice {
        self.legs
            .retain(|_, l| now - l.seen < Duration::hours(LEG_MEMORY_H));
        let Some(call_id) = notice.leg.call_id.clone() else {
            return notice;
        };
        let flow = notice.leg.flow.clone();
        // C's flow goes on in another leg (C -> B): the transfer happened.
        self.pending
            .retain(|p| !(p.flow == flow && !flow.is_empty() && p.leg != call_id));
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
                notice
            }
            Notification::MissedCall => {
                self.legs.remove(&call_id);
                notice
            }
            Notification::ChannelHungUp => notice,
            Notification::CallHungUp => self.hung_up(call_id, notice, now),
        }
    }

    fn hung_up(&mut self, call_id: String, notice: Notice, now: DateTime<Utc>) -> Notice {
        // The consult's hangup: the second copy is the attended transfer's signature.
        for p in self.pending.iter_mut().filter(|p| p.consult == call_id) {
            p.consult_hangups += 1;
        }
        self.pending.retain(|p| p.consult_hangups < 2);
        let Some(leg) = self.legs.remove(&call_id) else {
            return notice;
        };
        let Some(agent) = leg.facts.agent.as_ref().filter(|_| leg.connected) else {
            return notice;
        };
        let consult = self.legs.iter().find(|(_, k)| {
            k.connected && k.facts.caller.as_ref() == Some(agent) && k.facts.flow != leg.facts.flow
        });
        let Some((consult_id, consult)) = consult else {
            return notice;
        };
        let to = consult.facts.callee.clone();
        let mut held = notice.clone();
        held.dedupe_key = format!("{}:after-transfer", notice.dedupe_key);
        self.pending.push(Pending {
            flow: leg.facts.flow.clone(),
            leg: call_id,
            consult: consult_id.clone(),
            consult_hangups: 0,
            held,
            due: now + Duration::seconds(TRANSFER_GRACE_S),
        });
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

    /// Hangups held for a transfer that was never confirmed, due by `now`: C hung up while A
    /// was consulting B. Store them as they are.
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

#[cfg(test)]
mod tests {
    use super::super::notices;
    use super::super::tests::{answered, events, frames, hung_up, id, ringing};
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_709_629_200 + s, 0).unwrap()
    }

    /// Feed every frame of a fixture through `Transfers` one second apart; the stored events.
    fn tracked(frames: &[String], t: &mut Transfers) -> Vec<(String, EventKind)> {
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            for n in notices(f.as_bytes()).unwrap() {
                let n = t.track(n, at(i as i64));
                out.extend(n.events.into_iter().map(|e| (e.provider_call_id, e.kind)));
            }
        }
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
        let got = tracked(&frames("attended_transfer"), &mut t);
        assert_eq!(
            got,
            vec![
                (id("flow-c-3001"), ringing("user-a")),
                (id("flow-c-3001"), answered("user-a")),
                (id("flow-a-3002"), ringing("user-b")),
                (id("flow-a-3002"), answered("user-b")),
                // C -> A hangs up while A has B on the line: A hands C to B.
                (id("flow-c-3001"), transferred("user-b")),
                (id("flow-a-3002"), hung_up(20)),
                (id("flow-a-3002"), hung_up(20)),
                (id("flow-c-3001"), hung_up(140)),
            ]
        );
        assert_eq!(t.next_due(), None, "the duplicate hangup confirmed it");
        assert!(t.due(at(3600)).is_empty());
    }

    #[test]
    fn a_later_leg_on_the_customer_flow_also_confirms_a_transfer() {
        let f = frames("attended_transfer");
        // Without the duplicate consult hangup: C -> A ends, consult ends once, C -> B ends.
        let frames = [&f[0..6], &f[7..8]].concat();
        let mut t = Transfers::new();
        let got = tracked(&frames, &mut t);
        assert_eq!(got[4], (id("flow-c-3001"), transferred("user-b")));
        assert_eq!(got.last().unwrap(), &(id("flow-c-3001"), hung_up(140)));
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
        let rest = tracked(&f[5..6], &mut t);
        assert_eq!(rest, vec![(id("flow-a-3002"), hung_up(20))]);
    }

    #[test]
    fn plain_calls_and_hunt_groups_pass_the_tracker_unchanged() {
        for name in ["answered", "missed", "hunt_group", "outgoing"] {
            let mut t = Transfers::new();
            assert_eq!(tracked(&frames(name), &mut t), events(name), "{name}");
            assert_eq!(t.next_due(), None, "{name}");
        }
    }
}
