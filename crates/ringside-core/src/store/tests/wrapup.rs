use super::t;
use crate::model::*;
use crate::store::{CallQuery, Delivery, Queries, Writer};

/// One event of call `call` from `from`, at second `at`.
fn event(call: &str, from: &str, kind: EventKind, at: i64) -> Delivery {
    let facts = CallFacts {
        direction: Some(Direction::Inbound),
        from: Some(from.into()),
        to: Some("+14155550100".into()),
        ..CallFacts::default()
    };
    Delivery {
        source: Provider::Generic,
        dedupe_key: format!("{call}-{at}"),
        received_at: t(at),
        content_type: None,
        raw: format!("{call}-{at}").into_bytes(),
        events: vec![CallEvent::new(Provider::Generic, call, kind)
            .at(Some(t(at)))
            .facts(facts)],
        notes: Vec::new(),
    }
}

fn ended(answered: bool) -> EventKind {
    EventKind::Ended {
        answered: Some(answered),
        reason: if answered {
            EndReason::Completed
        } else {
            EndReason::NoAnswer
        },
        duration_s: None,
    }
}

fn missed(s: &mut Writer, call: &str, from: &str, at: i64) {
    s.store_batch(&[
        event(
            call,
            from,
            EventKind::Ringing {
                agent: Some("201".into()),
            },
            at,
        ),
        event(call, from, ended(false), at + 20),
    ])
    .unwrap();
}

fn search(s: &Writer, q: &str) -> Vec<String> {
    s.calls(&CallQuery {
        q: Some(q.into()),
        ..Default::default()
    })
    .unwrap()
    .into_iter()
    .map(|c| c.id)
    .collect()
}

#[test]
fn a_wrapup_is_found_by_search_and_survives_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    s.store_batch(&[
        event(
            "w1",
            "+14155550123",
            EventKind::Ringing {
                agent: Some("201".into()),
            },
            0,
        ),
        event(
            "w1",
            "+14155550123",
            EventKind::Answered {
                by: Some("201".into()),
            },
            5,
        ),
        event("w1", "+14155550123", ended(true), 65),
    ])
    .unwrap();
    let w = Wrapup {
        disposition: Some("Needs follow-up".into()),
        note: "Promised a refund of the March invoice".into(),
        by: Some("201".into()),
        at: t(70),
    };
    let c = s
        .set_wrapup("generic:w1", Some(w.clone()), t(70))
        .unwrap()
        .unwrap();
    assert_eq!(c.wrapup.as_ref(), Some(&w));
    assert_eq!(c.updated_at, t(70));
    assert_eq!(
        search(&s, "march INVOICE"),
        ["generic:w1"],
        "the note, any case"
    );
    assert_eq!(search(&s, "follow-up"), ["generic:w1"], "the disposition");
    let timeline = s.call("generic:w1").unwrap().unwrap().timeline;
    let last = timeline.last().unwrap();
    assert_eq!(last.what, "wrapup");
    assert_eq!(
        last.detail.as_deref(),
        Some("Needs follow-up: Promised a refund of the March invoice")
    );

    // A late event (a recording) keeps it; so does folding the whole journal again.
    s.store_batch(&[event("w1", "+14155550123", EventKind::Details, 90)])
        .unwrap();
    assert_eq!(
        s.call("generic:w1").unwrap().unwrap().call.wrapup,
        Some(w.clone())
    );
    s.rebuild().unwrap();
    assert_eq!(s.call("generic:w1").unwrap().unwrap().call.wrapup, Some(w));
    assert_eq!(search(&s, "refund"), ["generic:w1"]);

    // Cleared: gone from the call and from the search.
    s.set_wrapup("generic:w1", None, t(100)).unwrap();
    assert_eq!(s.call("generic:w1").unwrap().unwrap().call.wrapup, None);
    assert!(search(&s, "refund").is_empty());
    s.rebuild().unwrap();
    assert_eq!(s.call("generic:w1").unwrap().unwrap().call.wrapup, None);
    assert!(s
        .set_wrapup("generic:nope", None, t(100))
        .unwrap()
        .is_none());
}

#[test]
fn missed_calls_are_dealt_with_when_the_caller_is_reached() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    missed(&mut s, "m1", "+14155550123", 0);
    missed(&mut s, "m2", "+14155550123", 100);
    missed(&mut s, "other", "+14155550999", 100);
    missed(&mut s, "hidden-1", "anonymous", 100);
    missed(&mut s, "hidden-2", "anonymous", 150);
    assert_eq!(s.missed(None).unwrap().len(), 5);

    // The caller rings again and gets through: their earlier missed calls are done, in the
    // same transaction, returned as changed; nobody else's.
    let out = s
        .store_batch(&[
            event(
                "m3",
                "+14155550123",
                EventKind::Ringing {
                    agent: Some("201".into()),
                },
                200,
            ),
            event(
                "m3",
                "+14155550123",
                EventKind::Answered {
                    by: Some("202".into()),
                },
                205,
            ),
        ])
        .unwrap();
    let changed: Vec<String> = out
        .into_iter()
        .flat_map(|r| match r.unwrap() {
            crate::store::Stored::New { calls, .. } => calls,
            crate::store::Stored::Duplicate => Vec::new(),
        })
        .map(|c| c.id)
        .collect();
    assert!(changed.contains(&"generic:m1".to_string()), "{changed:?}");
    assert!(changed.contains(&"generic:m2".to_string()), "{changed:?}");
    let left: Vec<String> = s.missed(None).unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(!left.contains(&"generic:m1".into()) && left.contains(&"generic:other".into()));
    let m1 = s.call("generic:m1").unwrap().unwrap();
    assert!(m1.call.done);
    assert_eq!(
        m1.timeline.last().unwrap().detail.as_deref(),
        Some("called again, answered by 202")
    );

    // At the time the later call was answered, whenever it was stored.
    assert_eq!(m1.timeline.last().unwrap().at, t(205));

    // The other order: the later answered call is stored first, the missed call after it
    // (a provider's late delivery): the missed call is dealt with as it is stored.
    s.store_batch(&[
        event(
            "late-2",
            "+14155550777",
            EventKind::Ringing {
                agent: Some("201".into()),
            },
            500,
        ),
        event(
            "late-2",
            "+14155550777",
            EventKind::Answered {
                by: Some("201".into()),
            },
            505,
        ),
    ])
    .unwrap();
    missed(&mut s, "late-1", "+14155550777", 400);
    let late = s.call("generic:late-1").unwrap().unwrap();
    assert!(late.call.done, "dealt with, whatever the order of arrival");
    assert_eq!(late.timeline.last().unwrap().at, t(505));
    // Calls that started at the same moment settle nothing: which came first is not known.
    s.store_batch(&[
        event(
            "same-2",
            "+14155550888",
            EventKind::Ringing {
                agent: Some("201".into()),
            },
            600,
        ),
        event(
            "same-2",
            "+14155550888",
            EventKind::Answered {
                by: Some("201".into()),
            },
            605,
        ),
    ])
    .unwrap();
    missed(&mut s, "same-1", "+14155550888", 600);
    assert!(!s.call("generic:same-1").unwrap().unwrap().call.done);
    s.set_done("generic:same-1", true, None, t(700)).unwrap();

    // A withheld caller reaches nobody: calling back "anonymous" marks nothing.
    assert!(s
        .called_back("anonymous", "called back", None, t(300))
        .unwrap()
        .is_empty());
    // The agent calls the other number back.
    let marked = s
        .called_back("+14155550999", "called back", None, t(300))
        .unwrap();
    assert_eq!(marked.len(), 1);
    assert_eq!(s.missed(None).unwrap().len(), 2);
    // Folding the journal again keeps what was dealt with.
    s.rebuild().unwrap();
    assert_eq!(s.missed(None).unwrap().len(), 2);
}

#[test]
fn a_callers_earlier_calls_and_open_missed_calls() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    missed(&mut s, "p1", "+14155550123", 0);
    s.store_batch(&[
        event(
            "p2",
            "+14155550123",
            EventKind::Ringing {
                agent: Some("201".into()),
            },
            100,
        ),
        event(
            "p2",
            "+14155550123",
            EventKind::Answered {
                by: Some("201".into()),
            },
            101,
        ),
        event("p2", "+14155550123", ended(true), 160),
    ])
    .unwrap();
    missed(&mut s, "p3", "+14155550123", 200);
    missed(&mut s, "q1", "+14155550999", 200);
    let party = s.party("+14155550123", t(200), 5).unwrap();
    assert_eq!(party.calls, 2, "the two before the newest");
    assert_eq!(party.newest[0].id, "generic:p2");
    assert_eq!(
        party.open_missed, 1,
        "p1 was dealt with when p2 got through; p3 is open"
    );
    let none = s.party("+14155550123", t(0), 5).unwrap();
    assert_eq!((none.calls, none.newest.len()), (0, 0));
}
