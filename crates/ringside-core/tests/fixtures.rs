//! Every provider fixture under `tests/fixtures/<provider>/NAME.http` parses into exactly the
//! normalized events in `NAME.expected.json`, with the notes on what could not be read, if
//! any (none and a note: a delivery Ringside journals without reading), or the error kind it
//! names.
//!
//! A fixture is a request as it arrives: a request line (`POST /hooks/x?query`), headers, a
//! blank line, the body. `BLESS=1 cargo test -p ringside-core --test fixtures` rewrites the
//! expected files from the current output; read the diff before committing it.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use ringside_core::providers::{self, Inbound, ParseContext, ParseError};
use ringside_core::Provider;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

#[path = "../../../tests/support/http_file.rs"]
mod http_file;
use http_file::HttpFile;

struct RawRequest {
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn read_http(path: &Path) -> RawRequest {
    let f = HttpFile::read(path);
    let mut headers = HeaderMap::new();
    for (k, v) in &f.headers {
        headers.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    RawRequest {
        method: f.method.parse().unwrap(),
        query: f.query,
        headers,
        body: f.body,
    }
}

fn outcome(provider: Provider, raw: &RawRequest) -> Value {
    let inbound = Inbound {
        method: &raw.method,
        query: raw.query.as_deref(),
        headers: &raw.headers,
        body: &raw.body,
    };
    let ctx = ParseContext {
        local_offset: chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap(),
    };
    let ctx = if provider == Provider::Exotel {
        ctx
    } else {
        ParseContext::default()
    };
    match providers::parse(provider, &inbound, &ctx) {
        Ok(p) if p.notes.is_empty() => json!({"delivery_id": p.delivery_id, "events": p.events}),
        Ok(p) => json!({"delivery_id": p.delivery_id, "events": p.events, "notes": p.notes}),
        Err(ParseError::Malformed { .. }) => json!({"error": "malformed"}),
        Err(ParseError::Unsupported { .. }) => json!({"error": "unsupported"}),
        Err(ParseError::Method { .. }) => json!({"error": "method"}),
    }
}

#[test]
fn every_fixture_parses_to_its_expected_events() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut checked = 0;
    let mut failures = Vec::new();
    for provider in Provider::WEBHOOK {
        let dir = fixtures_root().join(provider.as_str());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "http"))
        {
            let expected_path = path.with_extension("expected.json");
            let got = outcome(provider, &read_http(&path));
            if bless {
                std::fs::write(
                    &expected_path,
                    serde_json::to_string_pretty(&got).unwrap() + "\n",
                )
                .unwrap();
            }
            let expected: Value = serde_json::from_str(
                &std::fs::read_to_string(&expected_path)
                    .unwrap_or_else(|_| panic!("missing {}", expected_path.display())),
            )
            .unwrap();
            if got != expected {
                failures.push(format!(
                    "{}\n--- expected\n{}\n--- got\n{}",
                    path.display(),
                    serde_json::to_string_pretty(&expected).unwrap(),
                    serde_json::to_string_pretty(&got).unwrap()
                ));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        checked > 0,
        "no fixtures found under {}",
        fixtures_root().display()
    );
}
