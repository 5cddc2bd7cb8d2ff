use super::t;
use crate::correlate;
use crate::model::*;
use crate::store::calls::{load_call, save_call};
use crate::store::schema::{CONTACTS, MIGRATIONS, SCHEMA};
use crate::store::search::{self, flush_search, fts_phrase, search_key, search_needle, Search};
use crate::store::{parse_ts, ts, CallQuery, Delivery, Queries, Writer};
use rusqlite::{params, Connection};
use std::path::Path;

/// Give calls a contact (name, company) as the CRM lookup would, or none.
/// A contact as the CRM names it: name, company.
type Who<'a> = Option<(&'a str, Option<&'a str>)>;

fn set_names(s: &mut Writer, names: &[(&str, Who)]) {
    let tx = s.conn.transaction().unwrap();
    for (id, who) in names {
        let mut c = load_call(&tx, id).unwrap().expect("a stored call");
        c.contacts = who
            .iter()
            .map(|(name, company)| ContactMatch {
                key: "crm:0".into(),
                name: name.to_string(),
                company: company.map(str::to_string),
                record_url: None,
                source: "crm".into(),
            })
            .collect();
        save_call(&tx, &mut c).unwrap();
    }
    flush_search(&tx).unwrap();
    tx.commit().unwrap();
}

fn call_event(id: &str, kind: EventKind, at: i64, from: &str) -> Delivery {
    let facts = CallFacts {
        direction: Some(Direction::Inbound),
        from: Some(from.into()),
        to: Some("+14155550100".into()),
        ..Default::default()
    };
    Delivery {
        source: Provider::Generic,
        dedupe_key: format!("{id}:{at}"),
        received_at: t(at),
        content_type: None,
        raw: id.as_bytes().to_vec(),
        events: vec![CallEvent::new(Provider::Generic, id, kind)
            .at(Some(t(at)))
            .facts(facts)],
        notes: Vec::new(),
    }
}

/// Three calls: a number stored as received with punctuation, an E.164 one answered by
/// 201, and an anonymous one; two with contact names.
fn search_store(dir: &Path) -> Writer {
    let mut s = Writer::open(&dir.join("r.db")).unwrap();
    s.store_batch(&[
        call_event("a", EventKind::Ringing { agent: None }, 0, "(415) 555-0123"),
        call_event("b", EventKind::Ringing { agent: None }, 1, "+442079460018"),
        call_event(
            "b",
            EventKind::Answered {
                by: Some("Sip:201@PBX".into()),
            },
            2,
            "+442079460018",
        ),
        call_event("c", EventKind::Ringing { agent: None }, 3, "anonymous"),
    ])
    .unwrap();
    set_names(
        &mut s,
        &[
            ("generic:a", Some(("Zoë Ångström", None))),
            ("generic:b", Some(("Bob O'Brien", Some("Acme")))),
        ],
    );
    s
}

/// The trigram index holds exactly one entry per call, under the call's key, with the
/// call's search text.
fn assert_index_in_step(s: &Writer) {
    let calls: Vec<(i64, String, String)> = s
        .conn
        .prepare("SELECT rowid, started_at, search FROM calls")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = |rowid: i64, at: &str| search_key(parse_ts(at).unwrap().timestamp(), rowid);
    let mut want: Vec<i64> = calls.iter().map(|(r, at, _)| key(*r, at)).collect();
    want.sort();
    let keys: Vec<i64> = s
        .conn
        .prepare("SELECT rowid FROM calls_fts ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(keys, want, "one entry per call, under its key");
    for (rowid, at, search) in &calls {
        let key = key(*rowid, at);
        for line in search.lines().filter(|l| l.chars().count() >= 3) {
            let n: i64 = s
                .conn
                .query_row(
                    "SELECT count(*) FROM calls_fts WHERE calls_fts MATCH ?1 AND rowid = ?2",
                    params![fts_phrase(line), key],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "{line:?} is indexed under {key}");
        }
    }
    s.conn
        .execute(
            "INSERT INTO calls_fts(calls_fts) VALUES ('integrity-check')",
            [],
        )
        .expect("calls_fts is consistent");
}

fn found(s: &Writer, q: &str, force: Option<Search>) -> Vec<String> {
    let query = CallQuery {
        q: Some(q.into()),
        ..Default::default()
    };
    search::calls(&s.conn, &query, force)
        .unwrap()
        .into_iter()
        .map(|c| c.provider_call_id)
        .collect()
}

#[test]
fn search_finds_numbers_by_digits_names_and_who_answered_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let s = search_store(dir.path());
    let cases: &[(&str, &[&str])] = &[
        ("415-555-0123", &["a"]),
        ("(415)5550123", &["a"]),
        ("4155550123", &["a"]),
        ("20 7946 0018", &["b"]),
        ("0018", &["b"]),
        ("5550100", &["c", "b", "a"]), // the number called
        ("sip:201", &["b"]),
        ("201@pbx", &["b"]),
        ("201", &["b"]),
        ("zoë", &["a"]),
        ("ZOË ÅNG", &["a"]),
        ("ångström", &["a"]),
        ("o'brien", &["b"]),
        ("ACME", &["b"]),
        ("Anonymous", &["c"]),
        ("nobody", &[]),
        ("%", &[]),
        ("_", &[]),
        ("\"", &[]),
        ("zz\"z", &[]),
        ("bo", &["b"]),
        ("5", &["c", "b", "a"]),
    ];
    for (q, want) in cases {
        for force in [None, Some(Search::Trigrams), Some(Search::Scan)] {
            if force == Some(Search::Trigrams) && search_needle(q).chars().count() < 3 {
                continue; // shorter than a trigram: always a scan
            }
            assert_eq!(&found(&s, q, force), want, "q={q:?} via {force:?}");
        }
    }
    assert_eq!(found(&s, "  ", None), ["c", "b", "a"], "blank: no filter");
}

#[test]
fn search_follows_name_changes_filters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = search_store(dir.path());
    set_names(
        &mut s,
        &[
            ("generic:a", Some(("Carol Díaz", None))),
            ("generic:b", None),
        ],
    );
    for force in [None, Some(Search::Trigrams), Some(Search::Scan)] {
        assert!(found(&s, "zoë", force).is_empty(), "{force:?}");
        assert!(found(&s, "acme", force).is_empty(), "{force:?}");
        assert_eq!(found(&s, "DÍAZ", force), ["a"], "{force:?}");
    }
    // An update of the call keeps its names searchable.
    s.store_batch(&[call_event(
        "a",
        EventKind::Answered {
            by: Some("202".into()),
        },
        5,
        "(415) 555-0123",
    )])
    .unwrap();
    assert_eq!(found(&s, "carol", None), ["a"]);
    assert_eq!(found(&s, "202", None), ["a"]);
    // Filters and the paging cursor apply to a search.
    let page = |before: Option<(i64, &str)>, state: Option<CallState>| {
        s.calls(&CallQuery {
            q: Some("4155550100".into()),
            limit: Some(2),
            before: before.map(|(at, _)| t(at)),
            before_id: before.map(|(_, id)| id.to_string()),
            state,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|c| c.provider_call_id)
        .collect::<Vec<_>>()
    };
    assert_eq!(page(None, None), ["c", "b"]);
    assert_eq!(page(Some((1, "generic:b")), None), ["a"]);
    assert_eq!(page(None, Some(CallState::Answered)), ["b", "a"]);
    assert_index_in_step(&s);
    s.set_done("generic:c", true, None, t(8)).unwrap();
    assert_index_in_step(&s);
    // The CRM's names survive a rebuild from the journal.
    s.rebuild().unwrap();
    assert_eq!(found(&s, "carol", None), ["a"]);
    assert_eq!(found(&s, "202", None), ["a"]);
    assert_index_in_step(&s);
}

#[test]
fn trigram_search_pages_in_the_newest_first_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Writer::open(&dir.path().join("r.db")).unwrap();
    // 60 calls over 13 seconds, inserted out of order, several per second (ties go by id).
    let batch: Vec<Delivery> = (0..60)
        .map(|i| {
            call_event(
                &format!("p{i:02}"),
                EventKind::Ringing { agent: None },
                (i * 7 % 13) as i64,
                "+14155550123",
            )
        })
        .collect();
    s.store_batch(&batch).unwrap();
    let mut want: Vec<(i64, String)> = (0..60)
        .map(|i| ((i * 7 % 13) as i64, format!("generic:p{i:02}")))
        .collect();
    want.sort_by(|a, b| b.cmp(a));
    let want: Vec<String> = want.into_iter().map(|(_, id)| id).collect();
    for force in [Some(Search::Trigrams), Some(Search::Scan)] {
        let mut got = Vec::new();
        let mut cursor: Option<Call> = None;
        loop {
            let page = search::calls(
                &s.conn,
                &CallQuery {
                    q: Some("555-0123".into()),
                    limit: Some(7),
                    before: cursor.as_ref().map(|c| c.started_at),
                    before_id: cursor.as_ref().map(|c| c.id.clone()),
                    ..Default::default()
                },
                force,
            )
            .unwrap();
            if page.is_empty() {
                break;
            }
            got.extend(page.iter().map(|c| c.id.clone()));
            cursor = page.last().cloned();
        }
        assert_eq!(got, want, "{force:?}");
        let window = search::calls(
            &s.conn,
            &CallQuery {
                q: Some("555-0123".into()),
                since: Some(t(3)),
                until: Some(t(5)),
                ..Default::default()
            },
            force,
        )
        .unwrap();
        let in_window = (0..60).filter(|i| (3..5).contains(&(i * 7 % 13))).count();
        assert_eq!(window.len(), in_window, "seconds 3 and 4: {force:?}");
    }
    assert_index_in_step(&s);
}

#[test]
fn a_version_1_store_is_migrated_and_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    // A store as Ringside 0.1 wrote it: schema 1, one call in it.
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(CONTACTS).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let d = call_event("old", EventKind::Ringing { agent: None }, 0, "+14155550123");
        let applied = correlate::apply(None, &d.events[0], Some(1), t(0));
        let c = applied.call;
        conn.execute(
            "INSERT INTO calls (id, started_at, updated_at, state, direction, from_num, to_num, answered_by, done, data)
             VALUES (?1, ?2, ?3, 'ringing', 'inbound', ?4, ?5, NULL, 0, ?6)",
            params![c.id, ts(c.started_at), ts(c.updated_at), c.from, c.to, serde_json::to_string(&c).unwrap()],
        )
        .unwrap();
    }
    let mut s = Writer::open(&path).unwrap();
    let version: i64 = s
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    for force in [None, Some(Search::Trigrams), Some(Search::Scan)] {
        assert_eq!(found(&s, "(415) 555-0123", force), ["old"], "{force:?}");
    }
    set_names(&mut s, &[("generic:old", Some(("Dana Scully", None)))]);
    assert_eq!(found(&s, "scully", None), ["old"]);
    drop(s);
    // Opening again changes nothing; a newer schema is refused, not damaged.
    let s = Writer::open(&path).unwrap();
    assert_eq!(found(&s, "dana", None), ["old"]);
    s.conn.pragma_update(None, "user_version", 99).unwrap();
    drop(s);
    let err = Writer::open(&path)
        .err()
        .expect("a newer schema is refused");
    assert!(format!("{err:#}").contains("schema version 99"), "{err:#}");
}
