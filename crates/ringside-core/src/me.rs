//! Who "I" am, and the one rule for "is this call mine" and for "may I see this call". The
//! screen-pop decision, the UI's "Me" view and the hub's per-agent view of calls all ask
//! [`Me`]; the UI gets the answer with every call and never works it out itself. The store keeps
//! each call's [`call_keys`] so that "the calls an agent may see" is an index lookup.

use crate::model::{Call, Direction, LegState};
use crate::phone::{self, DefaultRegion};

/// An agent's identities (extensions, SIP users, user ids, numbers), normalized the way calls
/// are: numbers in E.164, everything else compared without regard to case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Me {
    identities: Vec<String>,
    /// The lines (numbers, queue names) of the groups I belong to: their calls are the
    /// group's, visible to every member.
    lines: Vec<String>,
    /// Sees and is shown every call, not only their own.
    pub supervisor: bool,
}

/// A call's key for one of its owners (an agent, extension or number that rang, answered,
/// was called or called), and for a line it came in on or went out from.
const OWNER: &str = "id:";
const LINE: &str = "line:";

/// What an identity, number or line is compared as: a number in E.164, anything else without
/// regard to case.
fn normalized(raw: &str, region: DefaultRegion) -> Option<String> {
    let raw = raw.trim();
    (!raw.is_empty()).then(|| phone::normalize(raw, region).to_lowercase())
}

/// The keys `call` is seen by: each owner (the agents its legs rang, who answered, the number
/// it came in to or went out from) and each line (the number it came in to or went out from,
/// the provider's line or queue). An agent sees the call when one of [`Me::keys`] is among
/// them.
pub fn call_keys(call: &Call) -> Vec<String> {
    let key = |prefix: &str, who: &str| {
        let who = who.trim().to_lowercase();
        (!who.is_empty()).then(|| format!("{prefix}{who}"))
    };
    let ours = match call.direction {
        Direction::Inbound => call.to.as_deref(),
        Direction::Outbound => call.from.as_deref(),
    };
    let mut keys: Vec<String> = call
        .legs
        .iter()
        .map(|l| l.agent.as_str())
        .chain(call.answered_by.as_deref())
        .chain(ours)
        .filter_map(|who| key(OWNER, who))
        .chain(
            ours.into_iter()
                .chain(call.line.as_deref())
                .filter_map(|l| key(LINE, l)),
        )
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

impl Me {
    /// `identities` as the settings give them; numbers without a country code are read in
    /// `region`, like the calls' numbers.
    pub fn new(identities: &[String], region: DefaultRegion, supervisor: bool) -> Me {
        let mut identities: Vec<String> = identities
            .iter()
            .filter_map(|i| normalized(i, region))
            .collect();
        identities.sort();
        identities.dedup();
        Me {
            identities,
            lines: Vec::new(),
            supervisor,
        }
    }

    /// Me, also a member of groups whose calls come in on (or go out from) `lines`.
    pub fn with_lines(mut self, lines: &[String], region: DefaultRegion) -> Me {
        self.lines
            .extend(lines.iter().filter_map(|l| normalized(l, region)));
        self.lines.sort();
        self.lines.dedup();
        self
    }

    /// The keys of the calls I may see (see [`call_keys`]); `None` for a supervisor, who sees
    /// every call.
    pub fn keys(&self) -> Option<Vec<String>> {
        (!self.supervisor).then(|| {
            let owner = self.identities.iter().map(|i| format!("{OWNER}{i}"));
            owner
                .chain(self.lines.iter().map(|l| format!("{LINE}{l}")))
                .collect()
        })
    }

    /// Whether I may see `call`: a supervisor every call; an agent their own calls and their
    /// groups'.
    pub fn sees(&self, call: &Call) -> bool {
        match self.keys() {
            None => true,
            Some(mine) => {
                let theirs = call_keys(call);
                mine.iter().any(|k| theirs.binary_search(k).is_ok())
            }
        }
    }

    /// The identities, normalized.
    pub fn identities(&self) -> &[String] {
        &self.identities
    }

    /// No identities configured: Ringside cannot tell whose a call is.
    pub fn is_anyone(&self) -> bool {
        self.identities.is_empty()
    }

    /// Whether `who` (an agent or number as a call names it) is me.
    pub fn is(&self, who: &str) -> bool {
        let who = who.trim().to_lowercase();
        !who.is_empty() && self.identities.binary_search(&who).is_ok()
    }

    /// Whether `call` is mine: one of its legs rang me, I answered it, it came in on one of
    /// my numbers or lines (inbound `to` or `line`: a queue, a campaign such as VoiceShot's
    /// menu, which names no agent) or I placed it (outbound `from`). Never true without
    /// identities.
    pub fn owns(&self, call: &Call) -> bool {
        call.legs.iter().any(|l| self.is(&l.agent))
            || call.answered_by.as_deref().is_some_and(|a| self.is(a))
            || match call.direction {
                Direction::Inbound => [&call.to, &call.line]
                    .into_iter()
                    .any(|n| n.as_deref().is_some_and(|n| self.is(n))),
                Direction::Outbound => call.from.as_deref().is_some_and(|f| self.is(f)),
            }
    }

    /// Whether `call`'s pops are for me: a supervisor's and an agent's without identities are
    /// every call's; otherwise my own calls'.
    pub fn follows(&self, call: &Call) -> bool {
        self.supervisor || self.is_anyone() || self.owns(call)
    }

    /// Whether `call` is ringing for me now: a leg of mine rings (or, with no legs named, the
    /// call is one I follow).
    pub fn rung(&self, call: &Call) -> bool {
        if self.supervisor || self.is_anyone() || call.legs.is_empty() {
            return self.follows(call);
        }
        call.legs
            .iter()
            .any(|l| l.state == LegState::Ringing && self.is(&l.agent))
    }

    /// Whether someone new rings on `call`, answered already (a transfer), for me: a leg of
    /// mine (for a supervisor or an agent without identities, anyone's).
    pub fn rung_by_transfer(&self, call: &Call) -> bool {
        call.legs.iter().any(|l| {
            l.state == LegState::Ringing
                && (self.supervisor || self.is_anyone() || self.is(&l.agent))
        })
    }

    /// Whether I answered `call` (for an answer by nobody named, whether I follow every call).
    pub fn answered(&self, call: &Call) -> bool {
        match call.answered_by.as_deref() {
            Some(a) => self.supervisor || self.is_anyone() || self.is(a),
            None => self.supervisor || self.is_anyone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use chrono::{TimeZone, Utc};

    fn call(direction: Direction, from: &str, to: &str, legs: &[&str]) -> Call {
        let t = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let mut c = crate::correlate::apply(
            None,
            &CallEvent::new(Provider::Generic, "c1", EventKind::Started)
                .at(Some(t))
                .facts(CallFacts {
                    direction: Some(direction),
                    from: Some(from.into()),
                    to: Some(to.into()),
                    ..Default::default()
                }),
            None,
            t,
        )
        .call;
        for a in legs {
            c.legs.push(Leg {
                agent: a.to_string(),
                state: LegState::Ringing,
                outcome: None,
                rang_at: t,
                ended_at: None,
            });
        }
        c
    }

    fn me(ids: &[&str]) -> Me {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        Me::new(&ids, DefaultRegion::parse("US").unwrap(), false)
    }

    #[test]
    fn identities_match_numbers_in_any_format_and_names_in_any_case() {
        let m = me(&["Sip:201@PBX", "(415) 555-0100", " "]);
        assert_eq!(m.identities(), ["+14155550100", "sip:201@pbx"]);
        assert!(m.is("+14155550100"));
        assert!(m.is("sip:201@pbx"));
        assert!(m.is("SIP:201@pbx"));
        assert!(!m.is("201"));
        assert!(!m.is(""));
    }

    #[test]
    fn a_call_is_mine_by_leg_answer_line_or_caller() {
        let m = me(&["201", "+14155550100"]);
        assert!(m.owns(&call(Direction::Inbound, "+1999", "+1888", &["201"])));
        assert!(m.owns(&call(
            Direction::Inbound,
            "+14155550123",
            "+14155550100",
            &[]
        )));
        assert!(!m.owns(&call(
            Direction::Outbound,
            "+14155550123",
            "+14155550100",
            &[]
        )));
        assert!(m.owns(&call(
            Direction::Outbound,
            "+14155550100",
            "+14155550123",
            &[]
        )));
        let mut answered = call(Direction::Inbound, "+1999", "+1888", &["202"]);
        assert!(!m.owns(&answered));
        answered.answered_by = Some("201".into());
        assert!(m.owns(&answered));
        // A line of mine (a queue, a campaign) makes a call that names no agent mine.
        let mut campaign = call(Direction::Inbound, "+1999", "+1888", &[]);
        assert!(!me(&["1-3"]).owns(&campaign));
        campaign.line = Some("1-3".into());
        assert!(me(&["1-3"]).owns(&campaign));
        // Without identities nothing is "mine", but every call's pop is followed.
        assert!(!me(&[]).owns(&answered));
        assert!(me(&[]).follows(&answered));
    }

    #[test]
    fn an_agent_sees_their_calls_and_their_groups_a_supervisor_every_call() {
        let region = DefaultRegion::parse("US").unwrap();
        let agent = me(&["201"]).with_lines(&["(415) 555-0100".into(), "Sales".into()], region);
        assert_eq!(
            agent.keys().unwrap(),
            ["id:201", "line:+14155550100", "line:sales"]
        );
        let group_call = call(Direction::Inbound, "+1999", "+14155550100", &["202"]);
        assert!(agent.sees(&group_call), "came in on the group's line");
        assert!(!agent.owns(&group_call), "but it is not mine");
        let mut queued = call(Direction::Inbound, "+1999", "+18885550000", &["202"]);
        assert!(!agent.sees(&queued));
        queued.line = Some("SALES".into());
        assert!(agent.sees(&queued), "the group's queue, any case");
        let own = call(Direction::Inbound, "+1999", "+18885550000", &["201"]);
        assert!(agent.sees(&own) && agent.owns(&own));
        let other = call(Direction::Outbound, "+18885550000", "+1999", &[]);
        assert!(!agent.sees(&other));
        let boss = Me::new(&[], region, true);
        assert_eq!(boss.keys(), None);
        assert!(boss.sees(&other));
        assert_eq!(
            call_keys(&own),
            ["id:+18885550000", "id:201", "line:+18885550000"]
        );
    }
}
