//! What the screen-pop for a call should be, as a pure function of the call, the settings and
//! what is on screen now. The desktop shell only carries out the answer.
//!
//! One call never has more than one pop: it is shown once, replaced when what it says changes
//! (a ringing pop becomes "Missed call"), and closed when the call is answered (by me or by
//! someone else), hangs up, or stops ringing for me.

use crate::config::{PopWhen, ScreenPop};
use crate::model::{Call, CallState, Direction, LegState};
use crate::phone::{self, DefaultRegion};

/// Who "I" am and how I want to be told.
#[derive(Debug, Clone)]
pub struct PopSettings {
    /// My identities, normalized like calls are (numbers in E.164).
    pub identities: Vec<String>,
    /// Pop for everyone's calls.
    pub supervisor: bool,
    pub modes: ScreenPop,
    pub region: DefaultRegion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopKind {
    Ringing,
    Answered,
    Missed,
}

/// What a pop says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop {
    pub call_id: String,
    pub kind: PopKind,
    pub summary: String,
    pub body: String,
    /// The contacts the caller may be, as `(match key, name)`: one is who it is, several
    /// are for the agent to choose from (each becomes an action), none offers "Add contact".
    pub matches: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PopAction {
    Show(Pop),
    Replace(Pop),
    Close,
    Nothing,
}

/// What to do about `call`'s pop, given the one on screen (`shown`), if any.
pub fn decide(shown: Option<&Pop>, call: &Call, s: &PopSettings) -> PopAction {
    let want = wanted(shown, call, s);
    match (shown, want) {
        (None, None) => PopAction::Nothing,
        (None, Some(p)) => PopAction::Show(p),
        (Some(_), None) => PopAction::Close,
        (Some(old), Some(new)) if *old == new => PopAction::Nothing,
        (Some(_), Some(new)) => PopAction::Replace(new),
    }
}

/// Whether `call` is mine: it rings, rang or was answered by one of my identities, or (with no
/// legs named) was made to or from one of them. With no identities configured, every call is.
pub fn is_mine(call: &Call, s: &PopSettings) -> bool {
    if s.supervisor || s.identities.is_empty() {
        return true;
    }
    let me = |x: &str| s.identities.iter().any(|i| i == x);
    call.legs.iter().any(|l| me(&l.agent))
        || call.answered_by.as_deref().is_some_and(me)
        || match call.direction {
            Direction::Inbound => call.to.as_deref().is_some_and(me),
            Direction::Outbound => call.from.as_deref().is_some_and(me),
        }
}

fn wanted(shown: Option<&Pop>, call: &Call, s: &PopSettings) -> Option<Pop> {
    let mode = match call.direction {
        Direction::Inbound => s.modes.inbound,
        Direction::Outbound => s.modes.outbound,
    };
    let me = |x: &str| s.identities.iter().any(|i| i == x);
    match call.state {
        CallState::Ringing => {
            let ringing_for_me = s.supervisor
                || s.identities.is_empty()
                || if call.legs.is_empty() {
                    is_mine(call, s)
                } else {
                    call.legs
                        .iter()
                        .any(|l| l.state == LegState::Ringing && me(&l.agent))
                };
            (mode == PopWhen::Ringing && ringing_for_me).then(|| pop(call, PopKind::Ringing, s))
        }
        CallState::Answered => {
            // With every call mine, an answer by nobody named (VoiceShot's IVR) pops too.
            let by_me = call.answered_by.as_deref().is_some_and(me)
                || s.supervisor
                || s.identities.is_empty();
            (mode == PopWhen::Answered && by_me).then(|| pop(call, PopKind::Answered, s))
        }
        // A ringing pop left on screen turns into the missed-call note; nothing new pops.
        CallState::Missed => shown.map(|_| pop(call, PopKind::Missed, s)),
        CallState::Ended => None,
    }
}

fn pop(call: &Call, kind: PopKind, s: &PopSettings) -> Pop {
    let other = crate::links::other_party(call).unwrap_or("");
    let number = phone::display(other, s.region);
    let who = match call.contacts.as_slice() {
        [] => number.clone(),
        [one] => match &one.company {
            Some(c) => format!("{} ({c})", one.name),
            None => one.name.clone(),
        },
        many => format!("{number} ({} contacts)", many.len()),
    };
    let summary = match (kind, call.direction) {
        (PopKind::Ringing, Direction::Inbound) => format!("Incoming call: {who}"),
        (PopKind::Ringing, Direction::Outbound) => format!("Calling {who}"),
        (PopKind::Answered, _) => format!("On a call with {who}"),
        (PopKind::Missed, _) => format!("Missed call: {who}"),
    };
    let mut lines = Vec::new();
    match call.contacts.as_slice() {
        [] => {}
        [_] => lines.push(number),
        many => lines.push(format!(
            "{}?",
            many.iter()
                .map(|m| match &m.company {
                    Some(c) => format!("{} ({c})", m.name),
                    None => m.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
    if let Some(line) = call.line.as_deref().or(call.to.as_deref()) {
        if call.direction == Direction::Inbound {
            lines.push(format!("to {}", phone::display(line, s.region)));
        }
    }
    let ringing: Vec<&str> = call
        .legs
        .iter()
        .filter(|l| l.state == LegState::Ringing)
        .map(|l| l.agent.as_str())
        .collect();
    if kind == PopKind::Ringing && !ringing.is_empty() {
        lines.push(format!("ringing {}", ringing.join(", ")));
    }
    lines.push(format!("via {}", call.provider));
    Pop {
        call_id: call.id.clone(),
        kind,
        summary,
        body: lines.join(" · "),
        matches: call
            .contacts
            .iter()
            .map(|m| (m.key.clone(), m.name.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use chrono::{TimeZone, Utc};

    fn settings(identities: &[&str]) -> PopSettings {
        PopSettings {
            identities: identities.iter().map(|s| s.to_string()).collect(),
            supervisor: false,
            modes: ScreenPop::default(),
            region: DefaultRegion::parse("US").unwrap(),
        }
    }

    fn call(state: CallState, legs: &[(&str, LegState)], answered_by: Option<&str>) -> Call {
        let t = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        Call {
            id: "generic:c1".into(),
            provider: Provider::Generic,
            provider_call_id: "c1".into(),
            direction: Direction::Inbound,
            state,
            from: Some("+14155550123".into()),
            to: Some("+14155550100".into()),
            line: None,
            answered_by: answered_by.map(str::to_string),
            started_at: t,
            answered_at: None,
            ended_at: None,
            duration_s: None,
            end_reason: None,
            recording_url: None,
            transcript: None,
            attachments: vec![],
            keypresses: vec![],
            legs: legs
                .iter()
                .map(|(a, st)| Leg {
                    agent: a.to_string(),
                    state: *st,
                    outcome: None,
                    rang_at: t,
                    ended_at: None,
                })
                .collect(),
            from_display: None,
            to_display: None,
            contacts: Vec::new(),
            done: false,
            updated_at: t,
        }
    }

    #[test]
    fn ringing_for_me_pops_once_then_closes_when_someone_else_answers() {
        let s = settings(&["201"]);
        let ringing = call(
            CallState::Ringing,
            &[("201", LegState::Ringing), ("202", LegState::Ringing)],
            None,
        );
        let PopAction::Show(p) = decide(None, &ringing, &s) else {
            panic!("should pop")
        };
        assert_eq!(p.summary, "Incoming call: +1 415-555-0123");
        assert!(p.body.contains("ringing 201, 202"), "{}", p.body);
        assert_eq!(
            decide(Some(&p), &ringing, &s),
            PopAction::Nothing,
            "no second pop"
        );
        let elsewhere = call(
            CallState::Answered,
            &[("201", LegState::Stopped), ("202", LegState::Answered)],
            Some("202"),
        );
        assert_eq!(decide(Some(&p), &elsewhere, &s), PopAction::Close);
        let by_me = call(
            CallState::Answered,
            &[("201", LegState::Answered)],
            Some("201"),
        );
        assert_eq!(decide(Some(&p), &by_me, &s), PopAction::Close);
        let hung_up = call(CallState::Ended, &[], None);
        assert_eq!(decide(Some(&p), &hung_up, &s), PopAction::Close);
    }

    #[test]
    fn not_mine_no_pop_and_my_leg_stopping_closes_mine() {
        let s = settings(&["203"]);
        let ringing = call(CallState::Ringing, &[("201", LegState::Ringing)], None);
        assert_eq!(decide(None, &ringing, &s), PopAction::Nothing);
        let s = settings(&["201"]);
        let mine = call(
            CallState::Ringing,
            &[("201", LegState::Ringing), ("202", LegState::Ringing)],
            None,
        );
        let PopAction::Show(p) = decide(None, &mine, &s) else {
            panic!()
        };
        let my_leg_stopped = call(
            CallState::Ringing,
            &[("201", LegState::Stopped), ("202", LegState::Ringing)],
            None,
        );
        assert_eq!(decide(Some(&p), &my_leg_stopped, &s), PopAction::Close);
    }

    #[test]
    fn missed_replaces_the_ringing_pop_and_answered_mode_waits() {
        let s = settings(&["201"]);
        let ringing = call(CallState::Ringing, &[("201", LegState::Ringing)], None);
        let PopAction::Show(p) = decide(None, &ringing, &s) else {
            panic!()
        };
        let missed = call(CallState::Missed, &[("201", LegState::Stopped)], None);
        let PopAction::Replace(m) = decide(Some(&p), &missed, &s) else {
            panic!()
        };
        assert_eq!(m.kind, PopKind::Missed);
        assert_eq!(decide(None, &missed, &s), PopAction::Nothing);

        let mut s = settings(&["201"]);
        s.modes.inbound = PopWhen::Answered;
        assert_eq!(decide(None, &ringing, &s), PopAction::Nothing);
        let by_me = call(
            CallState::Answered,
            &[("201", LegState::Answered)],
            Some("201"),
        );
        assert!(
            matches!(decide(None, &by_me, &s), PopAction::Show(p) if p.kind == PopKind::Answered)
        );
        s.modes.inbound = PopWhen::Never;
        assert_eq!(decide(None, &ringing, &s), PopAction::Nothing);
        assert_eq!(decide(None, &by_me, &s), PopAction::Nothing);
    }

    #[test]
    fn answered_mode_pops_an_answer_by_nobody_named_when_every_call_is_mine() {
        let mut s = settings(&[]);
        s.modes.inbound = PopWhen::Answered;
        // VoiceShot: the IVR answers; nobody is named.
        let ivr = call(CallState::Answered, &[], None);
        assert!(
            matches!(decide(None, &ivr, &s), PopAction::Show(p) if p.kind == PopKind::Answered)
        );
        let mut s = settings(&["201"]);
        s.modes.inbound = PopWhen::Answered;
        assert_eq!(decide(None, &ivr, &s), PopAction::Nothing, "not mine");
        s.supervisor = true;
        assert!(matches!(decide(None, &ivr, &s), PopAction::Show(_)));
    }

    #[test]
    fn supervisor_sees_every_call_and_anonymous_is_named() {
        let mut s = settings(&["999"]);
        s.supervisor = true;
        let mut c = call(CallState::Ringing, &[("201", LegState::Ringing)], None);
        c.from = Some("anonymous".into());
        let PopAction::Show(p) = decide(None, &c, &s) else {
            panic!()
        };
        assert_eq!(p.summary, "Incoming call: Withheld number");
    }

    #[test]
    fn the_pop_names_the_caller_updates_when_the_name_arrives_and_offers_a_choice() {
        let s = settings(&["201"]);
        let mut c = call(CallState::Ringing, &[("201", LegState::Ringing)], None);
        let first = match decide(None, &c, &s) {
            PopAction::Show(p) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(first.summary, "Incoming call: +1 415-555-0123");
        assert!(
            first.matches.is_empty(),
            "no match: the shell offers Add contact"
        );
        let m = |key: &str, name: &str, company: Option<&str>| ContactMatch {
            key: key.into(),
            name: name.into(),
            company: company.map(str::to_string),
            record_url: None,
            source: "crm".into(),
        };
        // The CRM answers late: the same pop is replaced in place, not a second one.
        c.contacts = vec![m("crm:0", "Alice Smith", Some("Acme"))];
        let named = match decide(Some(&first), &c, &s) {
            PopAction::Replace(p) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(named.summary, "Incoming call: Alice Smith (Acme)");
        assert!(
            named.body.starts_with("+1 415-555-0123 · "),
            "{}",
            named.body
        );
        assert_eq!(decide(Some(&named), &c, &s), PopAction::Nothing);
        // Two contacts share the number: the agent chooses.
        c.contacts.push(m("contact:4", "Bob Jones", None));
        let choice = match decide(Some(&named), &c, &s) {
            PopAction::Replace(p) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            choice.summary,
            "Incoming call: +1 415-555-0123 (2 contacts)"
        );
        assert!(
            choice.body.starts_with("Alice Smith (Acme) or Bob Jones?"),
            "{}",
            choice.body
        );
        assert_eq!(
            choice.matches,
            [
                ("crm:0".to_string(), "Alice Smith".to_string()),
                ("contact:4".into(), "Bob Jones".into())
            ]
        );
    }
}
