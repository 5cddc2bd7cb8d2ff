//! History search timing on a store made by `gen-store`: the queries an agent types (a whole
//! number with punctuation, a number's tail, a name, an agent, a short text, nothing found),
//! each timed `rounds` times through `Queries::calls` on a reader connection, as the API does.

use crate::gen::{Shape, META};
use crate::stats::Summary;
use anyhow::{Context, Result};
use ringside_core::store::{CallQuery, Queries, Reader};
use ringside_core::CallState;
use std::path::Path;
use std::time::Instant;

pub struct Row {
    pub what: String,
    pub query: String,
    pub results: usize,
    /// Milliseconds.
    pub time: Summary,
}

pub fn run(dir: &Path, rounds: usize) -> Result<Vec<Row>> {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(META)).with_context(|| {
            format!("{} has no {META}: make it with gen-store", dir.display())
        })?)?;
    let shape = Shape {
        calls: meta["calls"].as_u64().context("calls")?,
        seed: meta["seed"].as_u64().context("seed")?,
    };
    let store = Reader::open(&dir.join("ringside.db"))?;

    let oldest_caller = shape.caller_of(0);
    let middle_caller = shape.caller_of(shape.calls / 2);
    let e164 = shape.number(oldest_caller);
    let mid = shape.number(middle_caller);
    let named = (0..)
        .map(|i| shape.caller_of(shape.calls / 3 + i))
        .find_map(|c| shape.name(c))
        .context("a named caller")?;
    let q = |text: &str| CallQuery {
        q: Some(text.into()),
        ..Default::default()
    };
    let mut cases: Vec<(&str, CallQuery)> = vec![
        ("newest 100, no search", CallQuery::default()),
        ("oldest caller's number, punctuated", q(&punctuated(&e164))),
        ("a number's last 7 digits", q(&mid[mid.len() - 7..])),
        ("4 digits", q(&mid[mid.len() - 4..])),
        ("3 digits (common)", q(&mid[mid.len() - 3..])),
        ("full name, other case", q(&named.to_uppercase())),
        (
            "last name (common)",
            q(named.split(' ').nth(1).unwrap_or("x")),
        ),
        ("agent extension", q(&shape.agent(7))),
        ("2 letters (common)", q("an")),
        ("2 letters (rare): full scan", q("qz")),
        ("no match", q("zzqx")),
        (
            "number + missed only",
            CallQuery {
                state: Some(CallState::Missed),
                ..q(&mid[mid.len() - 7..])
            },
        ),
    ];
    // The second page of a common search.
    let first = store.calls(&q(&shape.agent(7)))?;
    if let Some(last) = first.last() {
        cases.push((
            "agent extension, page 2",
            CallQuery {
                before: Some(last.started_at),
                before_id: Some(last.id.clone()),
                ..q(&shape.agent(7))
            },
        ));
    }

    let mut rows = Vec::new();
    for (what, query) in cases {
        let results = store.calls(&query)?.len(); // also warms the caches
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let n = store.calls(&query)?.len();
            times.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(n, results, "same query, same answer");
        }
        rows.push(Row {
            what: what.to_string(),
            query: query.q.clone().unwrap_or_default(),
            results,
            time: Summary::of(times),
        });
    }
    Ok(rows)
}

/// "+14155550123" as a person might type it: "+1 415-555-0123".
fn punctuated(e164: &str) -> String {
    let digits = &e164[1..];
    let (cc, rest) = digits.split_at(digits.len() - 10);
    format!("+{cc} {}-{}-{}", &rest[..3], &rest[3..6], &rest[6..])
}
