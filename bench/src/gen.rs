//! Synthetic call history, written straight through the store API in large batches (no HTTP):
//! `calls` calls over two years, each journaled as its real deliveries (ringing, answered,
//! hangup; a missed one rings and hangs up), with repeat callers, 50 agents and contact names
//! for most callers. Deterministic for a seed, so `search` knows what to look for.

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, TimeZone, Utc};
use ringside_core::contacts::{self, ContactInput, NumberInput, SourcedContact};
use ringside_core::phone::DefaultRegion;
use ringside_core::store::{Delivery, Writer};
use ringside_core::{CallEvent, CallFacts, Direction, EndReason, EventKind, Provider};
use std::path::Path;
use std::time::Instant;

/// The file `gen-store` writes next to the store, for `search`.
pub const META: &str = "bench-store.json";

const FIRST: [&str; 24] = [
    "Ada", "Bob", "Carol", "Dana", "Émile", "Farid", "Grace", "Hiro", "Ines", "José", "Kai",
    "Lena", "Mohan", "Nora", "Olu", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera",
    "Wen", "Zoë",
];
const LAST: [&str; 20] = [
    "Smith",
    "García",
    "Nakamura",
    "Okafor",
    "Müller",
    "Kowalski",
    "Singh",
    "Rossi",
    "Dubois",
    "Jensen",
    "Novak",
    "Haddad",
    "O'Brien",
    "Silva",
    "Ivanova",
    "Chen",
    "Kaur",
    "Berg",
    "Lindqvist",
    "Moreau",
];
/// Country codes with a national number length.
const COUNTRIES: [(&str, usize); 5] = [("1", 10), ("44", 10), ("49", 10), ("91", 10), ("31", 9)];

/// splitmix64: a small deterministic generator.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The generated history's shape, shared by `gen-store` and `search`.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub calls: u64,
    pub seed: u64,
}

impl Shape {
    /// Distinct callers: a quarter of the calls, so a caller calls 4 times on average.
    pub fn callers(&self) -> u64 {
        (self.calls / 4).max(16)
    }

    /// Which caller made call `i` (a few callers call much more often than the rest).
    pub fn caller_of(&self, i: u64) -> u64 {
        let r = mix(self.seed ^ i.wrapping_mul(31));
        let callers = self.callers();
        if r.is_multiple_of(10) {
            r / 10 % (callers / 100).max(1) // the busiest 1% make ~10% of the calls
        } else {
            r / 10 % callers
        }
    }

    /// Caller `c`'s number, E.164.
    pub fn number(&self, c: u64) -> String {
        let r = mix(self
            .seed
            .wrapping_add(c)
            .wrapping_mul(0x5851_F42D_4C95_7F2D));
        let (cc, len) = COUNTRIES[(r % COUNTRIES.len() as u64) as usize];
        let national = 10u64.pow(len as u32 - 1) + (r >> 8) % (9 * 10u64.pow(len as u32 - 1));
        format!("+{cc}{national}")
    }

    /// Caller `c`'s contact name; a fifth of the callers are not in the address book.
    pub fn name(&self, c: u64) -> Option<String> {
        let r = mix(self.seed ^ c.wrapping_mul(0x2545_F491_4F6C_DD1D));
        if r.is_multiple_of(5) {
            return None;
        }
        let first = FIRST[(r >> 8) as usize % FIRST.len()];
        let last = LAST[(r >> 24) as usize % LAST.len()];
        Some(format!("{first} {last}"))
    }

    /// The agent who took call `i` (extensions 201..=250).
    pub fn agent(&self, i: u64) -> String {
        (201 + mix(self.seed ^ i) % 50).to_string()
    }

    /// When call `i` started: two years of calls, in order with jitter.
    pub fn started(&self, i: u64) -> DateTime<Utc> {
        let span = 2 * 365 * 24 * 3600 * 1_000_000i64;
        let step = span / self.calls.max(1) as i64;
        let jitter = (mix(self.seed ^ i ^ 0xABCD) % (step.max(1) as u64 / 2 + 1)) as i64;
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
            + Duration::microseconds(i as i64 * step + jitter)
    }

    pub fn missed(&self, i: u64) -> bool {
        mix(self.seed ^ i ^ 0x1234).is_multiple_of(5)
    }
}

/// Write `shape.calls` calls into a new store in `dir`.
pub fn run(dir: &Path, shape: Shape, batch_calls: usize) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("ringside.db");
    if path.exists() {
        anyhow::bail!("{} exists: generate into a new directory", path.display());
    }
    let mut store = Writer::open(&path)?;
    let t0 = Instant::now();
    // The callers with a name are contacts, so the lookup names the calls as they arrive.
    let callers: Vec<u64> = (0..shape.callers()).collect();
    for chunk in callers.chunks(10_000) {
        let items = chunk
            .iter()
            .filter_map(|&c| {
                Some(SourcedContact {
                    external_id: format!("bench-caller-{c}"),
                    etag: None,
                    input: ContactInput {
                        name: shape.name(c)?,
                        company: None,
                        numbers: vec![NumberInput {
                            label: None,
                            number: shape.number(c),
                        }],
                        record_url: None,
                    },
                })
            })
            .collect();
        store.upsert_contacts(
            contacts::LOCAL,
            items,
            DefaultRegion::default(),
            shape.started(0),
        )?;
    }
    let mut i = 0;
    while i < shape.calls {
        let end = (i + batch_calls as u64).min(shape.calls);
        let mut deliveries = Vec::with_capacity(3 * (end - i) as usize);
        for n in i..end {
            deliveries.extend(call(&shape, n));
        }
        for r in store.store_batch(&deliveries)? {
            r?;
        }
        i = end;
        if i % 100_000 == 0 || i == shape.calls {
            eprintln!(
                "gen-store: {i} calls in {:.1} s",
                t0.elapsed().as_secs_f64()
            );
        }
    }
    drop(store); // the last connection checkpoints and removes the WAL
    std::fs::write(
        dir.join(META),
        serde_json::json!({"calls": shape.calls, "seed": shape.seed}).to_string(),
    )
    .context("writing the store's description")?;
    Ok(())
}

/// Call `i`'s deliveries, as the generic CTI adapter would have journaled them.
fn call(shape: &Shape, i: u64) -> Vec<Delivery> {
    let id = format!("bench-{i}");
    let from = shape.number(shape.caller_of(i));
    let to = "+14155550100".to_string();
    let agent = shape.agent(i);
    let start = shape.started(i);
    let facts = CallFacts {
        direction: Some(Direction::Inbound),
        from: Some(from.clone()),
        to: Some(to.clone()),
        ..Default::default()
    };
    let missed = shape.missed(i);
    let mut steps = vec![(
        "newCall",
        EventKind::Ringing {
            agent: Some(agent.clone()),
        },
        0,
    )];
    if !missed {
        steps.push((
            "answer",
            EventKind::Answered {
                by: Some(agent.clone()),
            },
            6,
        ));
    }
    steps.push((
        "hangup",
        EventKind::Ended {
            answered: Some(!missed),
            reason: if missed {
                EndReason::NoAnswer
            } else {
                EndReason::Completed
            },
            duration_s: (!missed).then_some(40 + mix(i) % 400),
        },
        if missed { 25 } else { 180 },
    ));
    steps
        .into_iter()
        .map(|(event, kind, offset_s)| {
            let at = start + Duration::seconds(offset_s);
            let raw = format!(
                r#"{{"event":"{event}","from":"{from}","to":"{to}","direction":"in","callId":"{id}","user":["{agent}"]}}"#
            );
            Delivery {
                source: Provider::Generic,
                dedupe_key: format!("generic:id:{id}:{event}"),
                received_at: at,
                content_type: Some("application/json".into()),
                raw: raw.into_bytes(),
                events: vec![CallEvent::new(Provider::Generic, id.as_str(), kind)
                    .at(Some(at))
                    .facts(facts.clone())],
                notes: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringside_core::store::{Queries, Reader};

    #[test]
    fn history_is_deterministic_and_plausible() {
        let s = Shape {
            calls: 1000,
            seed: 7,
        };
        assert_eq!(s.number(3), s.number(3));
        assert!(s.number(3).starts_with('+'));
        assert!(s.started(10) < s.started(20));
        let callers: std::collections::HashSet<_> = (0..1000).map(|i| s.caller_of(i)).collect();
        assert!(
            callers.len() > 100 && callers.len() <= 250,
            "{}",
            callers.len()
        );
        let named = (0..1000).filter(|&c| s.name(c).is_some()).count();
        assert!((700..900).contains(&named), "{named}");
    }

    #[test]
    fn store_gets_every_call() {
        let dir = std::env::temp_dir().join(format!("ringside-gen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        run(&dir, Shape { calls: 50, seed: 1 }, 20).unwrap();
        let store = Reader::open(&dir.join("ringside.db")).unwrap();
        let all = store
            .calls(&ringside_core::store::CallQuery {
                limit: Some(1000),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.len(), 50);
        assert!(all.iter().all(|c| c.state.is_terminal()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
