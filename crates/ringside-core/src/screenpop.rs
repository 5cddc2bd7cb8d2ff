//! What the screen-pop for a call should be, as a pure function of the call, the settings and
//! what is on screen now. The desktop shell only carries out the answer: show, replace or close
//! the notification, offer the buttons it lists, bring the window forward, open the record.
//!
//! One call never has more than one pop: it is shown once, replaced when what it says changes
//! (a ringing pop becomes "Missed call"), and closed when the call is answered (by me or by
//! someone else), hangs up, or stops ringing for me.
//!
//! When it pops, by the agent's `[screenpop]` mode for the call's direction:
//! - `ringing`: when the call rings for me, or rings me on a transfer of an answered call. A
//!   provider that never reports ringing (VoiceShot's IVR answers every call, Whippy's calls
//!   start connected) pops at the first event that shows a call for me with a caller to name:
//!   "pop on ringing" never silently means never.
//! - `answered`: when I answer (for such a provider, at that same first event).
//! - `never`.

use crate::config::{CrmOpen, PopWhen, ScreenPop};
use crate::links;
use crate::me::Me;
use crate::model::{Call, CallState, ContactMatch, Direction, LegState};
use crate::phone::{self, DefaultRegion};
use crate::providers;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Who "I" am and how I want to be told.
#[derive(Debug, Clone)]
pub struct PopSettings {
    pub me: Me,
    pub modes: ScreenPop,
    pub region: DefaultRegion,
    /// A CRM record URL template is configured (`[crm] url`).
    pub crm_template: bool,
    /// When the caller's record opens by itself.
    pub crm_open: CrmOpen,
    /// The words of the pop, in the agent's language.
    pub phrases: Phrases,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum PopKind {
    Ringing,
    Answered,
    Missed,
}

/// The words a desktop pop and the tray are made of, in the agent's language: the UI sends
/// them from its translations (one i18n library, in the UI), English until it does. `{who}`,
/// `{number}`, `{count}`, `{line}`, `{agents}`, `{provider}`, `{name}` stand for values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(default)]
pub struct Phrases {
    pub incoming: String,
    pub calling: String,
    pub on_call: String,
    pub missed: String,
    /// Several contacts share the number: `{number} ({count} contacts)`.
    pub several: String,
    /// Joins the candidates' names: ` or `.
    pub or: String,
    pub to_line: String,
    pub ringing: String,
    pub via: String,
    pub withheld: String,
    pub show: String,
    pub open_record: String,
    pub open_name: String,
    pub add_contact: String,
    pub dismiss: String,
    /// The tray: no missed calls, one, `{count}`.
    pub missed_none: String,
    pub missed_one: String,
    pub missed_many: String,
    pub tray_open: String,
    pub tray_quit: String,
    /// What is known of the caller: `{count}` earlier calls, `{count}` missed calls not done.
    pub earlier_one: String,
    pub earlier_many: String,
    pub open_missed_one: String,
    pub open_missed_many: String,
}

impl Default for Phrases {
    fn default() -> Self {
        let s = |t: &str| t.to_string();
        Phrases {
            incoming: s("Incoming call: {who}"),
            calling: s("Calling {who}"),
            on_call: s("On a call with {who}"),
            missed: s("Missed call: {who}"),
            several: s("{number} ({count} contacts)"),
            or: s(" or "),
            to_line: s("to {line}"),
            ringing: s("ringing {agents}"),
            via: s("via {provider}"),
            withheld: s(phone::WITHHELD),
            show: s("Show Ringside"),
            open_record: s("Open record"),
            open_name: s("Open {name}"),
            add_contact: s("Add contact"),
            dismiss: s("Dismiss"),
            missed_none: s("No missed calls"),
            missed_one: s("1 missed call"),
            missed_many: s("{count} missed calls"),
            tray_open: s("Open Ringside"),
            tray_quit: s("Quit Ringside"),
            earlier_one: s("1 earlier call"),
            earlier_many: s("{count} earlier calls"),
            open_missed_one: s("1 missed call not done"),
            open_missed_many: s("{count} missed calls not done"),
        }
    }
}

impl Phrases {
    /// `template` with each `{name}` replaced by its value.
    pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
        let mut out = template.to_string();
        for (name, value) in values {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// What a pop adds about the caller: their earlier calls and missed calls not done
    /// (none: nothing to add).
    pub fn caller_context(&self, earlier: u64, open_missed: u64) -> Option<String> {
        let count = |n: u64, one: &str, many: &str| match n {
            0 => None,
            1 => Some(one.to_string()),
            n => Some(Phrases::fill(many, &[("count", &n.to_string())])),
        };
        let parts: Vec<String> = [
            count(earlier, &self.earlier_one, &self.earlier_many),
            count(open_missed, &self.open_missed_one, &self.open_missed_many),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }

    /// The tray's missed-call count.
    pub fn missed_count(&self, count: usize) -> String {
        match count {
            0 => self.missed_none.clone(),
            1 => self.missed_one.clone(),
            n => Phrases::fill(&self.missed_many, &[("count", &n.to_string())]),
        }
    }
}

/// A button on a pop, and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PopButton {
    /// Open the caller's record: as the contact with this match key, or the best match.
    OpenRecord(Option<String>),
    /// Open the new-contact form with the caller's number.
    AddContact,
    /// Bring the window forward.
    ShowWindow,
    Dismiss,
}

impl PopButton {
    /// The notification action id this button is sent and recognised by.
    pub fn id(&self) -> String {
        match self {
            PopButton::OpenRecord(None) => "open-record".into(),
            PopButton::OpenRecord(Some(key)) => format!("open:{key}"),
            PopButton::AddContact => "add-contact".into(),
            PopButton::ShowWindow => "default".into(),
            PopButton::Dismiss => "dismiss".into(),
        }
    }

    /// The button an action id names, if any.
    pub fn from_id(id: &str) -> Option<PopButton> {
        Some(match id {
            "open-record" => PopButton::OpenRecord(None),
            "add-contact" => PopButton::AddContact,
            "default" => PopButton::ShowWindow,
            "dismiss" => PopButton::Dismiss,
            _ => PopButton::OpenRecord(Some(id.strip_prefix("open:")?.to_string())),
        })
    }
}

/// What a pop says, and the buttons it offers (with their labels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop {
    pub call_id: String,
    pub kind: PopKind,
    pub summary: String,
    pub body: String,
    /// The contacts the caller may be, as `(match key, name)`: one is who it is, several
    /// are for the agent to choose from (each becomes a button), none offers "Add contact".
    pub matches: Vec<(String, String)>,
    pub buttons: Vec<(PopButton, String)>,
}

impl Pop {
    /// Whether the pop stays until dismissed (a ringing or answered call) rather than timing
    /// out (a missed call's note).
    pub fn sticky(&self) -> bool {
        self.kind != PopKind::Missed
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PopAction {
    Show(Pop),
    Replace(Pop),
    Close,
    Nothing,
}

/// Everything the shell does about one call change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub pop: PopAction,
    /// Bring the window to the front (a call for me starts ringing, and the agent asked for it).
    pub raise_window: bool,
    /// Open the caller's record now (I answered, and the agent asked for it on answer).
    pub open_record: bool,
}

/// What is on screen for a call: its pop (if any) and whether its record was opened already.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    pub pop: Option<Pop>,
    pub record_opened: bool,
}

/// What to do about `call`, given what is on screen for it.
pub fn decide(shown: &Shown, call: &Call, s: &PopSettings) -> Decision {
    let want = wanted(shown.pop.as_ref(), call, s);
    let pop = match (&shown.pop, want) {
        (None, None) => PopAction::Nothing,
        (None, Some(p)) => PopAction::Show(p),
        (Some(_), None) => PopAction::Close,
        (Some(old), Some(new)) if *old == new => PopAction::Nothing,
        (Some(_), Some(new)) => PopAction::Replace(new),
    };
    let raise_window =
        s.modes.raise_window && matches!(&pop, PopAction::Show(p) if p.kind == PopKind::Ringing);
    let open_record = s.crm_open == CrmOpen::Answered
        && !shown.record_opened
        && call.state == CallState::Answered
        && call.answered_by.as_deref().is_some_and(|a| s.me.is(a));
    Decision {
        pop,
        raise_window,
        open_record,
    }
}

fn wanted(shown: Option<&Pop>, call: &Call, s: &PopSettings) -> Option<Pop> {
    kind(call, &s.me, s)
        .filter(|k| *k != PopKind::Missed || shown.is_some())
        .map(|k| pop(call, k, s))
}

/// Whether the desktop's always-on-top mini window shows, with these pops on screen: while a
/// call rings (or is answered) for me, when the agent asked for the window.
pub fn mini_window<'a>(on_screen: impl IntoIterator<Item = &'a Pop>, s: &PopSettings) -> bool {
    s.modes.mini_window
        && on_screen
            .into_iter()
            .any(|p| matches!(p.kind, PopKind::Ringing | PopKind::Answered))
}

/// The pop `call` should have now, were one on screen for it: a ringing or answered call
/// pops as the settings say (not during do-not-disturb, nor for a caller id shorter than
/// `min_caller_digits`); a missed call's pop turns into the missed-call note (nothing new
/// pops for it); an ended call has none. The browser carries this out for its notifications,
/// the desktop through [`decide`]. `me` is whose pop it is (`s.me`, or an agent of a hub).
pub fn kind(call: &Call, me: &Me, s: &PopSettings) -> Option<PopKind> {
    let mode = match call.direction {
        Direction::Inbound => s.modes.inbound,
        Direction::Outbound => s.modes.outbound,
    };
    let may_pop = || {
        let digits = links::other_party(call)
            .map(|n| n.chars().filter(char::is_ascii_digit).count())
            .unwrap_or(0);
        !s.modes.dnd && digits as u32 >= s.modes.min_caller_digits
    };
    let rings = providers::adapter(call.provider).is_none_or(|a| a.reports.ringing);
    match call.state {
        // A provider that never reports ringing has a call "ringing" only until Ringside hears
        // more of it (an analysis that overtook the start): nothing to pop yet.
        CallState::Ringing => (rings && mode == PopWhen::Ringing && me.rung(call) && may_pop())
            .then_some(PopKind::Ringing),
        // Transferred to me: my leg rings.
        CallState::Answered if mode == PopWhen::Ringing && me.rung_by_transfer(call) => {
            may_pop().then_some(PopKind::Ringing)
        }
        // The first the provider tells of a call is that it is connected.
        CallState::Answered if !rings => (mode != PopWhen::Never
            && me.follows(call)
            && links::other_party(call).is_some()
            && may_pop())
        .then_some(match mode {
            PopWhen::Ringing => PopKind::Ringing,
            PopWhen::Answered | PopWhen::Never => PopKind::Answered,
        }),
        CallState::Answered => (mode == PopWhen::Answered && me.answered(call) && may_pop())
            .then_some(PopKind::Answered),
        CallState::Missed => Some(PopKind::Missed),
        CallState::Ended => None,
    }
}

fn pop(call: &Call, kind: PopKind, s: &PopSettings) -> Pop {
    let p = &s.phrases;
    let other = links::other_party(call).unwrap_or("");
    let number = if phone::is_withheld(other) {
        p.withheld.clone()
    } else {
        phone::display(other, s.region)
    };
    let named = |m: &ContactMatch| match &m.company {
        Some(c) => format!("{} ({c})", m.name),
        None => m.name.clone(),
    };
    let who = match call.contacts.as_slice() {
        [] => number.clone(),
        [one] => named(one),
        many => Phrases::fill(
            &p.several,
            &[("number", &number), ("count", &many.len().to_string())],
        ),
    };
    let summary = match (kind, call.direction) {
        (PopKind::Ringing, Direction::Inbound) => &p.incoming,
        (PopKind::Ringing, Direction::Outbound) => &p.calling,
        (PopKind::Answered, _) => &p.on_call,
        (PopKind::Missed, _) => &p.missed,
    };
    let summary = Phrases::fill(summary, &[("who", &who)]);
    let mut lines = Vec::new();
    match call.contacts.as_slice() {
        [] => {}
        [_] => lines.push(number),
        many => lines.push(format!(
            "{}?",
            many.iter().map(named).collect::<Vec<_>>().join(&p.or)
        )),
    }
    if let Some(line) = call.line.as_deref().or(call.to.as_deref()) {
        if call.direction == Direction::Inbound {
            let line = phone::display(line, s.region);
            lines.push(Phrases::fill(&p.to_line, &[("line", &line)]));
        }
    }
    let ringing: Vec<String> = call
        .legs
        .iter()
        .filter(|l| l.state == LegState::Ringing)
        .map(|l| phone::display(&l.agent, s.region))
        .collect();
    if kind == PopKind::Ringing && !ringing.is_empty() {
        lines.push(Phrases::fill(
            &p.ringing,
            &[("agents", &ringing.join(", "))],
        ));
    }
    lines.push(Phrases::fill(
        &p.via,
        &[("provider", call.provider.as_str())],
    ));
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
        buttons: buttons(call, kind, s),
    }
}

/// "Show Ringside"; "Open record" for a known caller (or with a CRM template and a number),
/// "Open <name>" for each of up to three candidates when several contacts share the number,
/// "Add contact" for an unknown caller with a number; "Dismiss".
fn buttons(call: &Call, kind: PopKind, s: &PopSettings) -> Vec<(PopButton, String)> {
    const CANDIDATES: usize = 3;
    let p = &s.phrases;
    let mut b = vec![(PopButton::ShowWindow, p.show.clone())];
    let open = (PopButton::OpenRecord(None), p.open_record.clone());
    match call.contacts.as_slice() {
        [] => {
            let known_number = links::other_party(call).is_some_and(|n| !phone::is_withheld(n));
            if kind != PopKind::Missed && known_number {
                b.push((PopButton::AddContact, p.add_contact.clone()));
            }
            // A template searches the CRM by the number: nothing to search without one.
            if s.crm_template && known_number {
                b.push(open);
            }
        }
        [one] => {
            if s.crm_template || one.record_url.is_some() {
                b.push(open);
            }
        }
        many => {
            for m in many.iter().take(CANDIDATES) {
                b.push((
                    PopButton::OpenRecord(Some(m.key.clone())),
                    Phrases::fill(&p.open_name, &[("name", &m.name)]),
                ));
            }
        }
    }
    b.push((PopButton::Dismiss, p.dismiss.clone()));
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use chrono::{TimeZone, Utc};

    fn settings(identities: &[&str]) -> PopSettings {
        let ids: Vec<String> = identities.iter().map(|s| s.to_string()).collect();
        let region = DefaultRegion::parse("US").unwrap();
        PopSettings {
            me: Me::new(&ids, region, false),
            modes: ScreenPop::default(),
            region,
            crm_template: false,
            crm_open: CrmOpen::Click,
            phrases: Phrases::default(),
        }
    }

    /// What to do about `call`'s pop with `shown` on screen.
    fn decide(shown: Option<&Pop>, call: &Call, s: &PopSettings) -> PopAction {
        let shown = Shown {
            pop: shown.cloned(),
            record_opened: false,
        };
        super::decide(&shown, call, s).pop
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
            recording_link: None,
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
            wrapup: None,
            done: false,
            follow_up: FollowUp::default(),
            updated_at: t,
            seq: 0,
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
        s.me.supervisor = true;
        assert!(matches!(decide(None, &ivr, &s), PopAction::Show(_)));
    }

    #[test]
    fn providers_that_never_ring_pop_at_the_first_sign_of_a_call_for_me() {
        let s = settings(&["201", "1-3"]);
        assert_eq!(s.modes.inbound, PopWhen::Ringing, "the default");
        // VoiceShot: the IVR answered; the call came in on my campaign (menu 1-3).
        let mut ivr = call(CallState::Answered, &[], None);
        ivr.provider = Provider::Voiceshot;
        ivr.line = Some("1-3".into());
        let PopAction::Show(p) = decide(None, &ivr, &s) else {
            panic!("pops on the default settings")
        };
        assert_eq!(p.kind, PopKind::Ringing);
        assert_eq!(p.summary, "Incoming call: +1 415-555-0123");
        assert_eq!(decide(Some(&p), &ivr, &s), PopAction::Nothing, "once");
        let mut over = ivr.clone();
        over.state = CallState::Ended;
        assert_eq!(decide(Some(&p), &over, &s), PopAction::Close);
        // Not my campaign: no pop.
        ivr.line = Some("2-1".into());
        assert_eq!(decide(None, &ivr, &s), PopAction::Nothing);
        // Whippy: call.started, answered by my user id.
        let mut started = call(CallState::Answered, &[], Some("201"));
        started.provider = Provider::Whippy;
        assert!(matches!(decide(None, &started, &s), PopAction::Show(_)));
        // Nobody to name (a keypress-only call): nothing to pop.
        started.from = None;
        assert_eq!(decide(None, &started, &s), PopAction::Nothing);
        // A provider that rings: an answered call first seen answered does not pop.
        let mut generic = call(CallState::Answered, &[], Some("201"));
        generic.provider = Provider::Generic;
        assert_eq!(decide(None, &generic, &s), PopAction::Nothing);
        let mut never = settings(&["201"]);
        never.modes.inbound = PopWhen::Never;
        assert_eq!(decide(None, &started_again(), &never), PopAction::Nothing);
    }

    fn started_again() -> Call {
        let mut c = call(CallState::Answered, &[], Some("201"));
        c.provider = Provider::Whippy;
        c
    }

    #[test]
    fn a_transfer_to_me_pops_while_my_leg_rings() {
        let s = settings(&["202"]);
        let transfer = call(
            CallState::Answered,
            &[("201", LegState::Answered), ("202", LegState::Ringing)],
            Some("201"),
        );
        let PopAction::Show(p) = decide(None, &transfer, &s) else {
            panic!("the transfer target's pop")
        };
        assert_eq!(p.kind, PopKind::Ringing);
        let taken = call(
            CallState::Answered,
            &[("201", LegState::Answered), ("202", LegState::Answered)],
            Some("202"),
        );
        assert_eq!(decide(Some(&p), &taken, &s), PopAction::Close);
        assert_eq!(
            decide(None, &transfer, &settings(&["203"])),
            PopAction::Nothing
        );
    }

    #[test]
    fn supervisor_sees_every_call_and_anonymous_is_named() {
        let mut s = settings(&["999"]);
        s.me.supervisor = true;
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

    #[test]
    fn the_window_rises_once_for_my_ringing_call_and_the_record_opens_once_on_my_answer() {
        let mut s = settings(&["201"]);
        s.modes.raise_window = true;
        s.crm_open = CrmOpen::Answered;
        let ringing = call(CallState::Ringing, &[("201", LegState::Ringing)], None);
        let first = super::decide(&Shown::default(), &ringing, &s);
        assert!(first.raise_window && !first.open_record);
        let PopAction::Show(p) = first.pop else {
            panic!("{first:?}")
        };
        let shown = Shown {
            pop: Some(p),
            record_opened: false,
        };
        assert!(!super::decide(&shown, &ringing, &s).raise_window, "once");
        let by_me = call(
            CallState::Answered,
            &[("201", LegState::Answered)],
            Some("201"),
        );
        assert!(super::decide(&shown, &by_me, &s).open_record);
        let opened = Shown {
            record_opened: true,
            ..shown.clone()
        };
        assert!(!super::decide(&opened, &by_me, &s).open_record, "once");
        let by_other = call(
            CallState::Answered,
            &[("202", LegState::Answered)],
            Some("202"),
        );
        assert!(!super::decide(&shown, &by_other, &s).open_record);
        s.crm_open = CrmOpen::Click;
        assert!(!super::decide(&shown, &by_me, &s).open_record);
    }

    #[test]
    fn buttons_follow_what_is_known_of_the_caller_and_round_trip_their_ids() {
        let mut s = settings(&["201"]);
        let mut c = call(CallState::Ringing, &[("201", LegState::Ringing)], None);
        let ids = |c: &Call, s: &PopSettings| -> Vec<String> {
            match decide(None, c, s) {
                PopAction::Show(p) => p.buttons.iter().map(|(b, _)| b.id()).collect(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(ids(&c, &s), ["default", "add-contact", "dismiss"]);
        s.crm_template = true;
        assert_eq!(
            ids(&c, &s),
            ["default", "add-contact", "open-record", "dismiss"]
        );
        // A withheld caller: nothing to add, nothing for the template to search by.
        c.from = Some("anonymous".into());
        assert_eq!(ids(&c, &s), ["default", "dismiss"]);
        let m = |key: &str| ContactMatch {
            key: key.into(),
            name: key.to_uppercase(),
            company: None,
            record_url: None,
            source: "local".into(),
        };
        c.contacts = (1..=4).map(|i| m(&format!("contact:{i}"))).collect();
        let many = ids(&c, &s);
        assert_eq!(
            many,
            [
                "default",
                "open:contact:1",
                "open:contact:2",
                "open:contact:3",
                "dismiss"
            ]
        );
        for id in many {
            assert_eq!(PopButton::from_id(&id).unwrap().id(), id);
        }
        assert_eq!(PopButton::from_id("nonsense"), None);
    }

    #[test]
    fn do_not_disturb_short_caller_ids_and_the_mini_window() {
        let mut s = settings(&["201"]);
        let ringing = call(CallState::Ringing, &[("201", LegState::Ringing)], None);
        let PopAction::Show(p) = decide(None, &ringing, &s) else {
            panic!("pops")
        };
        assert_eq!(kind(&ringing, &s.me, &s), Some(PopKind::Ringing));
        assert!(!mini_window([&p], &s), "only when asked for");
        s.modes.mini_window = true;
        assert!(mini_window([&p], &s));
        let missed = pop(&ringing, PopKind::Missed, &s);
        assert!(
            !mini_window([&missed], &s),
            "a missed call's note is no reason to show it"
        );

        // Do not disturb: nothing new pops; what is on screen closes.
        s.modes.dnd = true;
        assert_eq!(kind(&ringing, &s.me, &s), None);
        assert_eq!(decide(None, &ringing, &s), PopAction::Nothing);
        assert_eq!(decide(Some(&p), &ringing, &s), PopAction::Close);
        s.modes.dnd = false;

        // A colleague's extension does not pop when short caller ids are kept quiet.
        let mut ext = ringing.clone();
        ext.from = Some("2042".into());
        s.modes.min_caller_digits = 5;
        assert_eq!(decide(None, &ext, &s), PopAction::Nothing);
        assert!(matches!(decide(None, &ringing, &s), PopAction::Show(_)));
    }

    #[test]
    fn the_pop_speaks_the_agents_language() {
        let mut s = settings(&["201"]);
        s.phrases.incoming = "Eingehender Anruf: {who}".into();
        s.phrases.ringing = "klingelt bei {agents}".into();
        s.phrases.dismiss = "Ausblenden".into();
        let ringing = call(CallState::Ringing, &[("201", LegState::Ringing)], None);
        let PopAction::Show(p) = decide(None, &ringing, &s) else {
            panic!()
        };
        assert_eq!(p.summary, "Eingehender Anruf: +1 415-555-0123");
        assert!(p.body.contains("klingelt bei 201"), "{}", p.body);
        assert_eq!(p.buttons.last().unwrap().1, "Ausblenden");
        assert_eq!(s.phrases.missed_count(3), "3 missed calls");
        assert_eq!(
            s.phrases.caller_context(2, 1).as_deref(),
            Some("2 earlier calls · 1 missed call not done")
        );
        assert_eq!(s.phrases.caller_context(0, 0), None);
    }
}
