//! The team hub's store: change numbers, who sees which calls, claims, a customer reached by a
//! later call, the outbox, the agents.

use super::t;
use crate::agents::{token_agent, token_matches, NewAgent};
use crate::inbox::Refused;
use crate::model::*;
use crate::store::{Added, CallQuery, Delivery, OutboxTarget, Queries, Writer};

/// An event of call `id` from `from` to `to`, for agent `agent`.
fn event(id: &str, kind: EventKind, at: i64, from: &str, to: &str) -> Delivery {
    Delivery {
        notes: Vec::new(),
        source: Provider::Generic,
        dedupe_key: format!("{id}:{at}:{kind:?}"),
        received_at: t(at),
        content_type: None,
        raw: Vec::new(),
        events: vec![CallEvent::new(Provider::Generic, id, kind)
            .at(Some(t(at)))
            .facts(CallFacts {
                direction: Some(Direction::Inbound),
                from: Some(from.into()),
                to: Some(to.into()),
                ..Default::default()
            })],
    }
}

fn ring(id: &str, agent: &str, at: i64, from: &str, to: &str) -> Delivery {
    event(
        id,
        EventKind::Ringing {
            agent: Some(agent.into()),
        },
        at,
        from,
        to,
    )
}

fn miss(id: &str, at: i64, from: &str, to: &str) -> Delivery {
    event(
        id,
        EventKind::Ended {
            answered: Some(false),
            reason: EndReason::NoAnswer,
            duration_s: None,
        },
        at,
        from,
        to,
    )
}

fn answer(id: &str, by: &str, at: i64, from: &str, to: &str) -> Delivery {
    event(
        id,
        EventKind::Answered {
            by: Some(by.into()),
        },
        at,
        from,
        to,
    )
}

fn store(s: &mut Writer, ds: &[Delivery]) {
    for r in s.store_batch(ds).unwrap() {
        r.unwrap();
    }
}

fn ids(calls: Vec<Call>) -> Vec<String> {
    calls.into_iter().map(|c| c.provider_call_id).collect()
}

#[test]
fn every_change_gets_the_next_number_and_can_be_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    assert_eq!(s.last_seq().unwrap(), 0);
    store(
        &mut s,
        &[ring("a", "201", 0, "+14155550123", "+14155550100")],
    );
    store(
        &mut s,
        &[ring("b", "202", 1, "+14155550124", "+14155550100")],
    );
    store(&mut s, &[miss("a", 2, "+14155550123", "+14155550100")]);
    let a = s.call("generic:a").unwrap().unwrap().call;
    assert_eq!(a.seq, 3, "three changes so far, a's the last");
    assert_eq!(s.last_seq().unwrap(), 3);
    // What changed after 1: each call once, as it is now, in the order of its last change.
    assert_eq!(ids(s.changed_after(1, 10).unwrap()), ["b", "a"]);
    assert_eq!(ids(s.changed_after(2, 10).unwrap()), ["a"]);
    assert!(s.changed_after(3, 10).unwrap().is_empty());
    assert_eq!(
        ids(s.changed_after(0, 1).unwrap()),
        ["b"],
        "at most the limit"
    );
}

#[test]
fn an_agent_lists_only_the_calls_their_keys_see() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    store(
        &mut s,
        &[
            ring("sales", "202", 0, "+14155550123", "+14155550100"),
            ring("mine", "201", 1, "+14155550124", "+18885550000"),
            ring("other", "303", 2, "+14155550125", "+18885550000"),
        ],
    );
    store(&mut s, &[miss("other", 3, "+14155550125", "+18885550000")]);
    let list = |keys: Option<Vec<String>>, q: Option<&str>| {
        ids(s
            .calls(&CallQuery {
                seen_by: keys,
                q: q.map(str::to_string),
                ..Default::default()
            })
            .unwrap())
    };
    let agent = Some(vec!["id:201".to_string(), "line:+14155550100".to_string()]);
    assert_eq!(list(agent.clone(), None), ["mine", "sales"]);
    assert_eq!(list(None, None), ["other", "mine", "sales"]);
    // The trigram search and the short-text scan agree.
    assert_eq!(list(agent.clone(), Some("555-012")), ["mine", "sales"]);
    assert_eq!(list(agent.clone(), Some("5")), ["mine", "sales"]);
    assert!(list(agent.clone(), Some("0125")).is_empty(), "303's call");
    assert_eq!(
        ids(s.missed(Some(&["id:303".to_string()])).unwrap()),
        ["other"]
    );
    assert!(s.missed(agent.as_deref()).unwrap().is_empty());
    assert_eq!(s.missed_ids(None).unwrap(), ["generic:other"]);
}

#[test]
fn claims_hold_one_agent_lapse_and_survive_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    store(
        &mut s,
        &[
            ring("m", "201", 0, "+14155550123", "+14155550100"),
            miss("m", 5, "+14155550123", "+14155550100"),
            ring("live", "201", 6, "+14155550124", "+14155550100"),
        ],
    );
    let hold = chrono::Duration::minutes(15);
    let claimed = s
        .claim("generic:m", "ana", hold, t(10))
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(claimed.follow_up.claimed_by.as_deref(), Some("ana"));
    assert_eq!(
        s.claim("generic:m", "ben", hold, t(20)).unwrap().unwrap(),
        Err(Refused::Held {
            by: "ana".into(),
            until: t(910)
        })
    );
    assert!(matches!(
        s.claim("generic:live", "ben", hold, t(20)).unwrap(),
        Some(Err(Refused::NotMissed("ringing")))
    ));
    assert!(s
        .claim("generic:nope", "ben", hold, t(20))
        .unwrap()
        .is_none());
    // It survives folding the journal again.
    s.rebuild().unwrap();
    let c = s.call("generic:m").unwrap().unwrap().call;
    assert_eq!(c.follow_up.claimed_by.as_deref(), Some("ana"));
    // Lapsed: cleared, with a record on the timeline.
    assert!(s.clear_lapsed_claims(t(909)).unwrap().is_empty());
    let cleared = s.clear_lapsed_claims(t(910)).unwrap();
    assert_eq!(ids(cleared), ["m"]);
    let c = s.call("generic:m").unwrap().unwrap();
    assert_eq!(c.call.follow_up.claimed_by, None);
    assert_eq!(c.timeline.last().unwrap().what, "claim_lapsed");
    // Done, by whom.
    let done = s
        .set_done("generic:m", true, Some("ben"), t(1000))
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            done.done,
            done.follow_up.done_by.as_deref(),
            done.follow_up.done_at
        ),
        (true, Some("ben"), Some(t(1000)))
    );
}

#[test]
fn reaching_the_customer_later_resolves_their_missed_calls_and_posts_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    s.set_outbox(vec![OutboxTarget {
        url: "https://crm.example.com/hook".into(),
        events: vec!["call.missed".into(), "missed.resolved".into()],
    }]);
    let customer = "+14155550123";
    store(
        &mut s,
        &[
            ring("m1", "201", 0, customer, "+14155550100"),
            miss("m1", 5, customer, "+14155550100"),
            ring("m2", "202", 10, customer, "+14155550100"),
            miss("m2", 15, customer, "+14155550100"),
            ring("x", "202", 16, "+14155550999", "+14155550100"),
            miss("x", 17, "+14155550999", "+14155550100"),
        ],
    );
    assert_eq!(s.missed(None).unwrap().len(), 3);
    // The customer calls again and 203 answers: both their missed calls resolve, in the same
    // change.
    let stored = s
        .store_batch(&[
            ring("back", "203", 100, customer, "+14155550100"),
            answer("back", "203", 101, customer, "+14155550100"),
        ])
        .unwrap();
    let crate::store::Stored::New { calls, .. } = stored[1].as_ref().unwrap() else {
        panic!("{stored:?}")
    };
    let mut changed = ids(calls.clone());
    changed.sort();
    assert_eq!(changed, ["back", "m1", "m2"]);
    assert_eq!(ids(s.missed(None).unwrap()), ["x"]);
    let m1 = s.call("generic:m1").unwrap().unwrap();
    assert_eq!(
        m1.call.follow_up.resolved_by.as_deref(),
        Some("generic:back")
    );
    assert_eq!(m1.call.follow_up.done_by.as_deref(), Some("203"));
    assert_eq!(m1.timeline.last().unwrap().what, "done");
    // The outbox: three missed calls, two resolutions, each to the one URL.
    let due = s.outbox_due(t(200), 10).unwrap();
    let kinds: Vec<String> = s.outbox(10).unwrap().into_iter().map(|m| m.event).collect();
    assert_eq!(due.len(), 5);
    assert_eq!(
        kinds,
        [
            "missed.resolved",
            "missed.resolved",
            "call.missed",
            "call.missed",
            "call.missed"
        ]
    );
    let body: serde_json::Value = serde_json::from_str(&due[0].payload).unwrap();
    assert_eq!(body["type"], "call.missed");
    assert_eq!(body["data"]["id"], "generic:m1");
    s.outbox_sent(due[0].msg, &due[0].url, t(201)).unwrap();
    s.outbox_failed(due[1].msg, &due[1].url, "503", Some(t(500)))
        .unwrap();
    assert_eq!(s.outbox_due(t(300), 10).unwrap().len(), 3);
    assert!(s.outbox_next_due().unwrap().is_some_and(|at| at < t(500)));
    assert!(s.outbox_replay(due[0].msg, t(400)).unwrap());
    assert_eq!(s.outbox_due(t(400), 10).unwrap().len(), 4, "sent again");
    // Not again after a rebuild.
    s.rebuild().unwrap();
    assert_eq!(s.outbox(10).unwrap().len(), 5);
    assert_eq!(ids(s.missed(None).unwrap()), ["x"], "the resolution holds");
}

#[test]
fn agents_are_kept_with_a_hash_of_their_token_which_a_new_one_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    let new = NewAgent {
        name: "ana".into(),
        identities: vec!["201".into()],
        groups: vec!["sales".into()],
        supervisor: false,
    };
    let Added::New(ana, token) = s.add_agent(&new, t(0)).unwrap() else {
        panic!("added")
    };
    assert_eq!(s.add_agent(&new, t(1)).unwrap(), Added::Taken);
    assert_eq!(token_agent(&token), Some(ana.id));
    let (_, hash) = s.agent_with_hash(ana.id).unwrap().unwrap();
    assert!(token_matches(&token, &hash));
    assert_ne!(hash, token.as_bytes(), "only a hash is kept");
    let (_, fresh) = s.new_agent_token("ana", t(5)).unwrap().unwrap();
    let (again, hash) = s.agent_with_hash(ana.id).unwrap().unwrap();
    assert!(
        !token_matches(&token, &hash),
        "the old token no longer works"
    );
    assert!(token_matches(&fresh, &hash));
    assert_eq!(again.token_at, t(5));
    assert!(s.set_dnd(ana.id, true).unwrap().unwrap().dnd);
    assert_eq!(s.agents().unwrap().len(), 1);
    assert_eq!(s.remove_agent("ana").unwrap().unwrap().name, "ana");
    assert!(s.agent_by_name("ana").unwrap().is_none());
    assert!(s.new_agent_token("ana", t(6)).unwrap().is_none());
}

#[test]
fn an_agents_done_call_back_and_wrap_up_are_posted_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    s.set_outbox(vec![OutboxTarget {
        url: "https://crm.example.com/hook".into(),
        events: vec!["missed.done".into(), "call.wrapup".into()],
    }]);
    let line = "+14155550100";
    store(
        &mut s,
        &[
            ring("a", "201", 0, "+14155550123", line),
            miss("a", 5, "+14155550123", line),
            ring("b", "201", 10, "+14155550177", line),
            miss("b", 15, "+14155550177", line),
        ],
    );
    // Marked done by ana; the other caller called back by ben; a wrap-up on the first.
    s.set_done("generic:a", true, Some("ana"), t(100)).unwrap();
    let called = s.called_back("+14155550177", "called back", Some("ben"), t(110));
    assert_eq!(ids(called.unwrap()), ["b"]);
    let wrapup = Wrapup {
        disposition: None,
        note: "left a voicemail".into(),
        by: Some("ana".into()),
        at: t(120),
    };
    s.set_wrapup("generic:a", Some(wrapup), t(120)).unwrap();
    // Undone, and done again without a change: nothing more.
    s.set_done("generic:a", true, Some("ana"), t(130)).unwrap();
    let posted: Vec<(String, String)> = s
        .outbox_due(t(200), 10)
        .unwrap()
        .into_iter()
        .map(|d| {
            let body: serde_json::Value = serde_json::from_str(&d.payload).unwrap();
            (
                body["type"].as_str().unwrap().to_string(),
                body["data"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        posted,
        [
            ("missed.done".into(), "generic:a".into()),
            ("missed.done".into(), "generic:b".into()),
            ("call.wrapup".into(), "generic:a".into()),
        ]
    );
}
