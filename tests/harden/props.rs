//! Property test through the real listener: mutated fixtures and random requests sent over
//! TCP to a running server get exactly the status their parse implies (200, also for what
//! Ringside journals without reading, or 400, 405 with a message), never a 5xx; only what is
//! stored moves the journal; the process survives.
//! `PROPTEST_CASES` sets the number of cases (default 300).

use crate::support::mutate::{mutated_fixture, random_request, Case};
use crate::support::parse_check::checked_parse;
use crate::support::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use ringside_core::config::Config as Settings;
use ringside_core::providers::{Inbound, ParseError};
use std::io::{Read, Write};
use std::time::Duration;

/// Bytes a request target may carry as they are; anything else is percent-encoded, as a
/// client would, so the server sees the same query the in-process parse does.
fn uri_safe(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            b'-' | b'.' | b'_' | b'~' | b'&' | b'=' | b'+' | b'%' | b'/' | b':' | b',' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// The status the server must answer `case` with, from the adapter's own verdict.
fn expected(case: &Case, settings: &Settings) -> u16 {
    let hook = settings
        .hooks()
        .into_iter()
        .find(|h| h.provider == case.provider)
        .unwrap();
    let req = Inbound {
        method: &case.method,
        query: case.query.as_deref(),
        headers: &case.headers,
        body: &case.body,
    };
    match checked_parse(case.provider, &req, &hook.parse) {
        Ok(_) => 200,
        Err(ParseError::Malformed { .. }) => 400,
        Err(ParseError::Unsupported { .. }) => 422,
        Err(ParseError::Method { .. }) => 405,
    }
}

/// Send `case` over a new connection; the status and the body.
fn send(addr: &str, case: &Case) -> (u16, String) {
    let mut target = format!(
        "/hooks/{}/{}",
        case.provider,
        hook_token(case.provider.as_str())
    );
    if let Some(q) = &case.query {
        target = format!("{target}?{q}");
    }
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        case.method
    );
    for (k, v) in &case.headers {
        head += &format!("{k}: {}\r\n", v.to_str().unwrap());
    }
    head += &format!("Content-Length: {}\r\n\r\n", case.body.len());
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(&case.body).unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    let status = status_of(&out).unwrap_or_else(|| panic!("no answer: {out:?}"));
    let body = String::from_utf8_lossy(&out).into_owned();
    (status, body)
}

#[test]
fn the_listener_answers_every_request_as_its_parse_says_and_never_5xx() {
    let _alone = crate::ONE_AT_A_TIME.blocking_lock();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut s = rt.block_on(Server::start());
    let settings = Settings::load(&s.dir.join("config.toml")).unwrap();
    let addr = s.addr();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let stored = std::cell::Cell::new(0i64);
    let strategy = prop_oneof![4 => mutated_fixture(), 1 => random_request()];
    let result = runner.run(&strategy, |mut case| {
        case.query = case.query.as_deref().map(uri_safe);
        let want = expected(&case, &settings);
        let (status, body) = send(&addr, &case);
        prop_assert!(status < 500, "{status} for {case:?}: {body}");
        prop_assert_eq!(status, want, "{:?}: {}", case, body);
        if status == 200 && body.contains("\"stored\"") {
            stored.set(stored.get() + 1);
        }
        if status != 200 {
            prop_assert!(body.contains("\"message\""), "{}", body);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(s.alive(), "the server survived");
    // VoiceShot answers a stored event with its empty Call Command: count it from the journal.
    let stored = stored.get();
    assert!(s.journal_len() >= stored, "{} < {stored}", s.journal_len());
    let calls = rt.block_on(s.calls_all());
    assert!(calls.len() as i64 <= s.journal_len());
}
