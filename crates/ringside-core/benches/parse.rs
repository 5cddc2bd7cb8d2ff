//! Parse + normalize, per provider, on the fixtures every provider's tests use.
//!
//! `cargo bench -p ringside-core --features bench` (the feature keeps criterion out of
//! `cargo test` and clippy). Three groups, each timed per delivery:
//! - `parse/<provider>`: the adapter alone (wire format -> normalized events);
//! - `parse+normalize/<provider>`: what the engine does before storing: parse, then put every
//!   number in E.164 (numbers seen recently are remembered, as for a call's later events);
//! - `normalize/new number`: the extra cost of a number not seen recently (a call's first
//!   event), through the full parse and validation against the numbering metadata.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use ringside_core::phone::{self, DefaultRegion};
use ringside_core::providers::{self, Inbound, ParseContext};
use ringside_core::Provider;
use std::hint::black_box;
use std::path::{Path, PathBuf};

#[path = "../../../tests/support/http_file.rs"]
mod http_file;

struct Request {
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Request {
    fn inbound(&self) -> Inbound<'_> {
        Inbound {
            method: &self.method,
            query: self.query.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn context(provider: Provider) -> ParseContext {
    match provider {
        Provider::Exotel => ParseContext {
            local_offset: chrono::FixedOffset::east_opt(5 * 3600 + 1800).expect("IST"),
        },
        _ => ParseContext::default(),
    }
}

/// The provider's fixtures that are accepted (the refused ones are the fuzz tests' business).
fn deliveries(provider: Provider) -> Vec<Request> {
    let dir = fixtures().join(provider.as_str());
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("fixture entry").path())
        .collect();
    paths.sort();
    for path in paths {
        let requests = match path.extension().and_then(|e| e.to_str()) {
            Some("http") => {
                let f = http_file::HttpFile::read(&path);
                let mut headers = HeaderMap::new();
                for (k, v) in &f.headers {
                    headers.append(
                        HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                        HeaderValue::from_str(v).expect("header value"),
                    );
                }
                vec![Request {
                    method: f.method.parse().expect("method"),
                    query: f.query,
                    headers,
                    body: f.body,
                }]
            }
            // Xelion: websocket frames, one per line.
            Some("jsonl") => std::fs::read_to_string(&path)
                .expect("frames")
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| Request {
                    method: Method::POST,
                    query: None,
                    headers: HeaderMap::new(),
                    body: l.as_bytes().to_vec(),
                })
                .collect(),
            _ => continue,
        };
        out.extend(requests.into_iter().filter(|r| {
            providers::parse(provider, &r.inbound(), &context(provider))
                .is_ok_and(|p| !p.events.is_empty())
        }));
    }
    assert!(!out.is_empty(), "no accepted fixtures for {provider}");
    out
}

const PROVIDERS: [Provider; 6] = [
    Provider::Voiceshot,
    Provider::Whippy,
    Provider::Teltel,
    Provider::Exotel,
    Provider::Generic,
    Provider::Xelion,
];

fn parse_and_normalize(c: &mut Criterion) {
    let region = DefaultRegion::parse("US").expect("region");
    phone::warm_up();
    for provider in PROVIDERS {
        let requests = deliveries(provider);
        let ctx = context(provider);
        let mut group = c.benchmark_group("parse");
        group.throughput(Throughput::Elements(requests.len() as u64));
        group.bench_function(provider.as_str(), |b| {
            b.iter(|| {
                for r in &requests {
                    black_box(providers::parse(provider, &r.inbound(), &ctx).ok());
                }
            })
        });
        group.finish();
        let mut group = c.benchmark_group("parse+normalize");
        group.throughput(Throughput::Elements(requests.len() as u64));
        group.bench_function(provider.as_str(), |b| {
            b.iter(|| {
                for r in &requests {
                    if let Ok(mut parsed) = providers::parse(provider, &r.inbound(), &ctx) {
                        for ev in &mut parsed.events {
                            phone::normalize_event(ev, region);
                        }
                        black_box(parsed);
                    }
                }
            })
        });
        group.finish();
    }
    let mut n = 0u64;
    c.bench_function("normalize/new number", |b| {
        b.iter(|| {
            n += 1;
            // Never the same number twice in a run: each one is parsed and validated.
            black_box(phone::normalize(
                &format!("(415) {:03}-{:04}", 200 + n / 10_000 % 800, n % 10_000),
                region,
            ))
        })
    });
}

criterion_group!(benches, parse_and_normalize);
criterion_main!(benches);
