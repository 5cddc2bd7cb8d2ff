//! Who "I" am, and the one rule for "is this call mine". The screen-pop decision and the UI's
//! "Me" view both ask [`Me`]; the UI gets the answer with every call and never works it out
//! itself.

use crate::model::{Call, Direction, LegState};
use crate::phone::{self, DefaultRegion};

/// An agent's identities (extensions, SIP users, user ids, numbers), normalized the way calls
/// are: numbers in E.164, everything else compared without regard to case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Me {
    identities: Vec<String>,
    /// Shown every call's pop, not only their own.
    pub supervisor: bool,
}

impl Me {
    /// `identities` as the settings give them; numbers without a country code are read in
    /// `region`, like the calls' numbers.
    pub fn new(identities: &[String], region: DefaultRegion, supervisor: bool) -> Me {
        let mut normalized: Vec<String> = identities
            .iter()
            .map(|i| i.trim())
            .filter(|i| !i.is_empty())
            .map(|i| phone::normalize(i, region).to_lowercase())
            .collect();
        normalized.dedup();
        Me {
            identities: normalized,
            supervisor,
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
        !who.is_empty() && self.identities.contains(&who)
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
        let m = me(&["(415) 555-0100", "Sip:201@PBX", " "]);
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
}
