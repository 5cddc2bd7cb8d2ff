use super::t;
use crate::model::*;
use crate::store::CallQuery;
use crate::store::{Delivery, Queries, Stored, Writer};

fn delivery(key: &str, kind: EventKind, at: i64) -> Delivery {
    Delivery {
        source: Provider::Generic,
        dedupe_key: key.into(),
        received_at: t(at),
        content_type: None,
        raw: key.as_bytes().to_vec(),
        events: vec![CallEvent::new(Provider::Generic, "x1", kind).at(Some(t(at)))],
        notes: Vec::new(),
    }
}

#[test]
fn batch_journals_folds_dedupes_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ringside.db");
    {
        let mut s = Writer::open(&path).unwrap();
        let out = s
            .store_batch(&[
                delivery(
                    "a",
                    EventKind::Ringing {
                        agent: Some("201".into()),
                    },
                    0,
                ),
                delivery("b", EventKind::Answered { by: None }, 3),
                delivery(
                    "a",
                    EventKind::Ringing {
                        agent: Some("201".into()),
                    },
                    0,
                ),
            ])
            .unwrap();
        assert!(matches!(out[0], Ok(Stored::New { seq: 1, .. })));
        assert!(matches!(out[2], Ok(Stored::Duplicate)));
    }
    let mut s = Writer::open(&path).unwrap();
    let end = delivery(
        "c",
        EventKind::Ended {
            answered: None,
            reason: EndReason::Completed,
            duration_s: None,
        },
        10,
    );
    s.store_batch(&[end]).unwrap();
    let c = s.call("generic:x1").unwrap().unwrap();
    assert_eq!(c.call.state, CallState::Ended);
    assert_eq!(c.call.answered_by.as_deref(), Some("201"));
    let whats: Vec<_> = c.timeline.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(whats, ["ringing", "leg_ringing", "answered", "ended"]);
    assert_eq!(s.journal_len().unwrap(), 3);

    // Rebuilding from the journal gives the same call.
    let before = s.call("generic:x1").unwrap().unwrap();
    assert_eq!(s.rebuild().unwrap(), 1);
    let after = s.call("generic:x1").unwrap().unwrap();
    assert_eq!(before.call.state, after.call.state);
    assert_eq!(before.timeline.len(), after.timeline.len());
}

#[test]
fn missed_list_and_done() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    s.store_batch(&[
        delivery("a", EventKind::Ringing { agent: None }, 0),
        delivery(
            "b",
            EventKind::Ended {
                answered: Some(false),
                reason: EndReason::NoAnswer,
                duration_s: None,
            },
            30,
        ),
    ])
    .unwrap();
    assert_eq!(s.missed(None).unwrap().len(), 1);
    let c = s
        .set_done("generic:x1", true, None, t(40))
        .unwrap()
        .unwrap();
    assert!(c.done);
    assert!(s.missed(None).unwrap().is_empty());
    assert!(s
        .set_done("generic:nope", true, None, t(40))
        .unwrap()
        .is_none());
    let search = |q: &str| {
        s.calls(&CallQuery {
            q: Some(q.into()),
            ..Default::default()
        })
        .unwrap()
        .len()
    };
    assert_eq!(search("201"), 0, "nobody answered");
    assert_eq!(search("%"), 0, "wildcards are literal");
    s.rebuild().unwrap();
    assert!(
        s.missed(None).unwrap().is_empty(),
        "done survives a rebuild"
    );
}

/// The calls the sweeper ends: open ones silent past their state's timeout, at most `limit`.
#[test]
fn stale_calls_are_the_open_ones_silent_past_their_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    let on = |call: &str, key: &str, kind: EventKind, at: i64| Delivery {
        events: vec![CallEvent::new(Provider::Generic, call, kind).at(Some(t(at)))],
        ..delivery(key, EventKind::Ringing { agent: None }, at)
    };
    let ended = EventKind::Ended {
        answered: None,
        reason: EndReason::Completed,
        duration_s: None,
    };
    s.store_batch(&[
        on("ringing-old", "1", EventKind::Ringing { agent: None }, 0),
        on("ringing-new", "2", EventKind::Ringing { agent: None }, 90),
        on("answered", "3", EventKind::Ringing { agent: None }, 0),
        on("answered", "4", EventKind::Answered { by: None }, 10),
        on("over", "5", EventKind::Ringing { agent: None }, 0),
        on("over", "6", ended, 5),
    ])
    .unwrap();
    let limits = crate::correlate::Timeouts {
        ringing_s: 60,
        answered_s: 3600,
        quiet_s: 20,
    };
    let ids = |now: i64, limit: usize| {
        let mut ids: Vec<_> = s
            .stale_calls(t(now), &limits, limit)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(100, 10), ["generic:ringing-old"]);
    assert_eq!(
        ids(3700, 10),
        [
            "generic:answered",
            "generic:ringing-new",
            "generic:ringing-old"
        ]
    );
    assert_eq!(ids(3700, 2).len(), 2);
}

/// A timed call delivered in every order: each gives the call and timeline the in-order
/// delivery gives, the live fold agrees with `rebuild`, and the call's deliveries are found
/// through the index.
#[test]
fn out_of_order_deliveries_fold_like_in_order_ones() {
    let ev =
        |kind: EventKind, at: i64| CallEvent::new(Provider::Teltel, "o1", kind).at(Some(t(at)));
    let events = [
        ev(EventKind::Started, 0),
        ev(
            EventKind::Ringing {
                agent: Some("201".into()),
            },
            1,
        ),
        ev(
            EventKind::Answered {
                by: Some("201".into()),
            },
            5,
        ),
        ev(
            EventKind::Ended {
                answered: None,
                reason: EndReason::Completed,
                duration_s: None,
            },
            65,
        ),
    ];
    // With the writer's cache of histories warm, and cold (reopened before every
    // delivery, so each history is read back from the journal).
    let run_with = |order: &[usize], cold: bool| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let mut s = Writer::open(&path).unwrap();
        for (arrival, &i) in order.iter().enumerate() {
            if cold {
                s = Writer::open(&path).unwrap();
            }
            let d = Delivery {
                source: Provider::Teltel,
                dedupe_key: format!("e{i}"),
                received_at: t(100 + arrival as i64),
                content_type: None,
                raw: vec![],
                events: vec![events[i].clone()],
                notes: Vec::new(),
            };
            assert!(matches!(
                s.store_batch(&[d]).unwrap()[0],
                Ok(Stored::New { .. })
            ));
        }
        let live = s.call("teltel:o1").unwrap().unwrap();
        s.rebuild().unwrap();
        let rebuilt = s.call("teltel:o1").unwrap().unwrap();
        assert_eq!(live, rebuilt, "order {order:?}");
        live
    };
    let run = |order: &[usize]| {
        let warm = run_with(order, false);
        assert_eq!(
            warm,
            run_with(order, true),
            "order {order:?}: cache and journal agree"
        );
        warm
    };
    let mut want = run(&[0, 1, 2, 3]);
    want.call.updated_at = t(0);
    for order in [[3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2], [0, 3, 1, 2]] {
        let mut got = run(&order);
        got.call.updated_at = t(0);
        assert_eq!(got.call, want.call, "order {order:?}");
        let whats = |c: &CallWithTimeline| {
            c.timeline
                .iter()
                .map(|e| (e.at, e.what.clone(), e.detail.clone()))
                .collect::<Vec<_>>()
        };
        let (mut a, mut b) = (whats(&got), whats(&want));
        a.sort();
        b.sort();
        assert_eq!(a, b, "order {order:?}");
    }
    assert_eq!(
        want.call.state,
        CallState::Ended,
        "a hangup first is no miss"
    );
    assert_eq!(want.call.duration_s, Some(60));

    let dir = tempfile::tempdir().unwrap();
    let s = Writer::open(&dir.path().join("r.db")).unwrap();
    let plan: String = s
        .conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT seq FROM journal
             WHERE json_extract(events, '$[0].provider_call_id') = 'x' AND seq <= 9",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("journal_by_call"), "{plan}");
}

#[test]
fn a_delivery_naming_two_calls_is_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    let mut two = delivery("two", EventKind::Ringing { agent: None }, 0);
    two.events.push(CallEvent::new(
        Provider::Generic,
        "x2",
        EventKind::Ringing { agent: None },
    ));
    let out = s
        .store_batch(&[two, delivery("ok", EventKind::Ringing { agent: None }, 1)])
        .unwrap();
    assert!(out[0].is_err());
    assert!(matches!(out[1], Ok(Stored::New { seq: 1, .. })));
    assert_eq!(s.journal_len().unwrap(), 1);
}

#[test]
fn a_failing_delivery_is_rolled_back_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    // A stored call that cannot be decoded any more makes its next delivery fail.
    s.conn
        .execute(
            "INSERT INTO calls (id, started_at, updated_at, state, direction, data)
             VALUES ('generic:x1', 'x', 'x', 'ringing', 'inbound', '{\"not\": 1}')",
            [],
        )
        .unwrap();
    let mut other = delivery("c", EventKind::Ringing { agent: None }, 2);
    other.events[0].provider_call_id = "x2".into();
    let mut first = other.clone();
    first.dedupe_key = "a".into();
    first.events[0].provider_call_id = "x0".into();
    let out = s
        .store_batch(&[
            first,
            delivery("b", EventKind::Answered { by: None }, 1),
            other,
        ])
        .unwrap();
    assert!(matches!(out[0], Ok(Stored::New { seq: 1, .. })), "{out:?}");
    assert!(out[1].is_err(), "{out:?}");
    assert!(matches!(out[2], Ok(Stored::New { .. })), "{out:?}");
    assert_eq!(
        s.journal_len().unwrap(),
        2,
        "the failed delivery left no journal row"
    );
    assert!(s.call("generic:x0").unwrap().is_some());
    assert!(s.call("generic:x2").unwrap().is_some());
}
