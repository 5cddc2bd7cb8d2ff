//! Requests made from the fixtures (`tests/fixtures/<provider>/*.http`) by mutating them, and
//! random ones: what the property tests of the parsers (ringside-core) and of the listener
//! (tests/it) feed in. Include with `#[path]` next to `http_file.rs`.

use super::http_file::HttpFile;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;
use proptest::sample::Index;
use ringside_core::Provider;
use std::path::Path;
use std::sync::OnceLock;

/// Every webhook fixture, with its provider.
pub fn fixtures() -> &'static [(Provider, HttpFile)] {
    static ALL: OnceLock<Vec<(Provider, HttpFile)>> = OnceLock::new();
    ALL.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let mut all = Vec::new();
        for provider in Provider::WEBHOOK {
            let mut paths: Vec<_> = std::fs::read_dir(root.join(provider.as_str()))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "http"))
                .collect();
            paths.sort();
            all.extend(paths.iter().map(|p| (provider, HttpFile::read(p))));
        }
        assert!(all.len() >= 40, "only {} fixtures", all.len());
        all
    })
}

/// Pieces of JSON, XML, forms and multipart that steer a mutation into the parsers' corners.
pub const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "null",
    "true",
    "-1",
    "1e999",
    "0.5",
    "\\u0000",
    "\\ud800",
    "\"\"",
    "<",
    ">",
    "/>",
    "&",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "&lol;",
    "<!DOCTYPE x [<!ENTITY lol \"lol\">]>",
    "<![CDATA[",
    "<?xml version=\"1.0\"?>",
    "=",
    "%",
    "%FF",
    "%00",
    "+",
    "\r\n--",
    "--\r\n",
    "\u{feff}",
    "\u{0}",
    "9999999999999999999999",
    "anonymous",
    "START",
    "RINGRESULT",
    "COMPLETED",
    "call.ended",
    "hangup",
    "terminal",
];

pub const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data",
    "text/xml",
    "text/plain",
    "application/octet-stream",
    "",
];

#[derive(Debug, Clone)]
pub enum Mutation {
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Duplicate(Index, usize),
    Token(Index, Index),
    Truncate(Index),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Token(i, t)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

pub fn apply(mut body: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
    match m {
        Mutation::Flip(i, b) if !body.is_empty() => {
            let k = i.index(body.len());
            body[k] ^= b;
        }
        Mutation::Flip(..) => {}
        Mutation::Insert(i, bytes) => {
            let k = at(i, body.len());
            body.splice(k..k, bytes.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let k = at(i, body.len());
            let end = (k + n).min(body.len());
            body.drain(k..end);
        }
        Mutation::Duplicate(i, n) => {
            let k = at(i, body.len());
            let end = (k + n).min(body.len());
            let copy = body[k..end].to_vec();
            body.splice(end..end, copy);
        }
        Mutation::Token(i, t) => {
            let k = at(i, body.len());
            let token = TOKENS[t.index(TOKENS.len())].as_bytes();
            body.splice(k..k, token.iter().copied());
        }
        Mutation::Truncate(i) => body.truncate(at(i, body.len())),
    }
    body
}

/// A request: the fixture's method, query, headers and body, or changed ones.
#[derive(Debug, Clone)]
pub struct Case {
    pub provider: Provider,
    pub method: Method,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A mutated fixture: its body mutated up to eight times, sometimes another method or content
/// type, sometimes the query mutated like the body.
pub fn mutated_fixture() -> impl Strategy<Value = Case> {
    (
        any::<Index>(),
        prop::collection::vec(mutation(), 0..8),
        prop::collection::vec(mutation(), 0..3),
        prop::option::weighted(0.15, any::<Index>()),
        prop::option::weighted(0.15, any::<Index>()),
    )
        .prop_map(|(which, body_muts, query_muts, method, content_type)| {
            let (provider, f) = &fixtures()[which.index(fixtures().len())];
            let mut headers = HeaderMap::new();
            for (k, v) in &f.headers {
                headers.append(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            if let Some(ct) = content_type {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static(CONTENT_TYPES[ct.index(CONTENT_TYPES.len())]),
                );
            }
            let method = match method {
                Some(m) => {
                    [Method::GET, Method::POST, Method::PUT, Method::DELETE][m.index(4)].clone()
                }
                None => f.method.parse().unwrap(),
            };
            let query = f.query.clone().map(|q| {
                let bytes = query_muts.iter().fold(q.into_bytes(), apply);
                String::from_utf8_lossy(&bytes).into_owned()
            });
            Case {
                provider: *provider,
                method,
                query,
                headers,
                body: body_muts.iter().fold(f.body.clone(), apply),
            }
        })
}

pub fn random_request() -> impl Strategy<Value = Case> {
    (
        any::<Index>(),
        any::<Index>(),
        prop::bool::weighted(0.2),
        prop::collection::vec(any::<u8>(), 0..512),
        ".{0,64}",
    )
        .prop_map(|(provider, ct, get, body, query)| {
            let mut headers = HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(CONTENT_TYPES[ct.index(CONTENT_TYPES.len())]),
            );
            Case {
                provider: Provider::WEBHOOK[provider.index(Provider::WEBHOOK.len())],
                method: if get { Method::GET } else { Method::POST },
                query: Some(query),
                headers,
                body,
            }
        })
}
