//! The team's missed-call inbox, as pure rules the store applies in its write transaction:
//! who is calling a missed call back (a claim that lapses), who marked it done, and what a
//! resolved one records (by which call, by whom).

use crate::model::{Call, CallState};
use chrono::{DateTime, Duration, Utc};

/// Why a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Someone else is calling back, until `until`.
    #[error("{by} is calling back (until {until})")]
    Held { by: String, until: DateTime<Utc> },
    /// Only a missed call is called back.
    #[error("only a missed call can be claimed; this one is {0}")]
    NotMissed(&'static str),
    /// The call was dealt with already.
    #[error("the call is done already")]
    Done,
    /// A claim is released by whoever holds it.
    #[error("{0} holds the claim, not you")]
    NotYours(String),
}

/// Who holds `call`'s claim at `now`, if anyone (a lapsed claim is nobody's).
pub fn holder(call: &Call, now: DateTime<Utc>) -> Option<&str> {
    let f = &call.follow_up;
    match (&f.claimed_by, f.claimed_until) {
        (Some(by), Some(until)) if until > now => Some(by),
        _ => None,
    }
}

/// `who` claims missed call `call` ("I am calling back") until `now + hold`; claiming again
/// renews one's own claim.
pub fn claim(
    call: &mut Call,
    who: &str,
    now: DateTime<Utc>,
    hold: Duration,
) -> Result<(), Refused> {
    if call.state != CallState::Missed {
        return Err(Refused::NotMissed(call.state.as_str()));
    }
    if call.done {
        return Err(Refused::Done);
    }
    if let Some(by) = holder(call, now) {
        if by != who {
            return Err(Refused::Held {
                by: by.to_string(),
                until: call.follow_up.claimed_until.unwrap_or(now),
            });
        }
    }
    call.follow_up.claimed_by = Some(who.to_string());
    call.follow_up.claimed_until = Some(now + hold);
    Ok(())
}

/// `who` lets go of their claim on `call` (`who` None: an admin or supervisor, any claim).
/// Releasing a lapsed or absent claim changes nothing and is no error.
pub fn release(call: &mut Call, who: Option<&str>, now: DateTime<Utc>) -> Result<(), Refused> {
    match (holder(call, now), who) {
        (Some(by), Some(who)) if by != who => Err(Refused::NotYours(by.to_string())),
        _ => {
            call.follow_up.claimed_by = None;
            call.follow_up.claimed_until = None;
            Ok(())
        }
    }
}

/// Whether `call` holds a claim that lapsed by `now` (and is not done): the sweeper clears it
/// so that everyone sees the call free again.
pub fn lapsed(call: &Call, now: DateTime<Utc>) -> bool {
    !call.done
        && call.follow_up.claimed_by.is_some()
        && call.follow_up.claimed_until.is_none_or(|u| u <= now)
}

/// Mark `call` done (or not) by `by` at `now`.
pub fn set_done(call: &mut Call, done: bool, by: Option<&str>, now: DateTime<Utc>) {
    call.done = done;
    if done {
        call.follow_up.done_by = by.map(str::to_string);
        call.follow_up.done_at = Some(now);
    } else {
        call.follow_up.done_by = None;
        call.follow_up.done_at = None;
        call.follow_up.resolved_by = None;
    }
}

/// `missed`, a missed call whose caller was reached since, is done: by call `by_call` (when a
/// call Ringside saw reached them), answered by `by` (an agent or identity), at `at`. When a
/// caller counts as reached is the store's one rule (`store::calls::settle`).
pub fn resolve(missed: &mut Call, by_call: Option<&str>, by: Option<&str>, at: DateTime<Utc>) {
    set_done(missed, true, by, at);
    missed.follow_up.resolved_by = by_call.map(str::to_string);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn missed() -> Call {
        let mut c = crate::correlate::apply(
            None,
            &CallEvent::new(Provider::Generic, "m1", EventKind::Ringing { agent: None })
                .at(Some(t(0)))
                .facts(CallFacts {
                    direction: Some(Direction::Inbound),
                    from: Some("+14155550123".into()),
                    to: Some("+14155550100".into()),
                    ..Default::default()
                }),
            None,
            t(0),
        )
        .call;
        c.state = CallState::Missed;
        c
    }

    #[test]
    fn one_holder_at_a_time_until_the_claim_lapses() {
        let hold = Duration::minutes(15);
        let mut c = missed();
        claim(&mut c, "ana", t(0), hold).unwrap();
        assert_eq!(holder(&c, t(1)), Some("ana"));
        assert_eq!(
            claim(&mut c, "ben", t(60), hold),
            Err(Refused::Held {
                by: "ana".into(),
                until: t(900)
            })
        );
        claim(&mut c, "ana", t(60), hold).expect("renewing one's own");
        assert_eq!(c.follow_up.claimed_until, Some(t(960)));
        assert!(!lapsed(&c, t(959)));
        assert!(lapsed(&c, t(960)));
        assert_eq!(holder(&c, t(960)), None);
        claim(&mut c, "ben", t(961), hold).expect("free again");
        assert_eq!(
            release(&mut c, Some("ana"), t(962)),
            Err(Refused::NotYours("ben".into()))
        );
        release(&mut c, None, t(962)).expect("a supervisor may");
        assert_eq!(holder(&c, t(962)), None);
    }

    #[test]
    fn only_an_open_missed_call_is_claimed() {
        let mut c = missed();
        set_done(&mut c, true, Some("ana"), t(5));
        assert_eq!(
            claim(&mut c, "ben", t(6), Duration::minutes(1)),
            Err(Refused::Done)
        );
        assert!(!lapsed(&c, t(10_000)));
        c.state = CallState::Ended;
        c.done = false;
        assert_eq!(
            claim(&mut c, "ben", t(6), Duration::minutes(1)),
            Err(Refused::NotMissed("ended"))
        );
    }
}
