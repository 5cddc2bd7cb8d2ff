//! Reliability and security tests against the built binary that load the machine: SIGKILL
//! x20, hostile input with 10,000 connections, every provider's calls redelivered and
//! shuffled, a property test through the listener. A binary of their own, run after
//! `tests/it` and one test at a time, so their load never shares the machine with the
//! timing-sensitive tests there (Xelion keep-alives). `RINGSIDE_FULL=1` runs the full sizes.

#[allow(dead_code)]
#[path = "../it/fake_xelion.rs"]
mod fake_xelion;
#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

// SIGKILL at random points during concurrent ingest of every provider's calls, 20 times.
mod crash;
// Entities, deep nesting, bad UTF-8, huge headers, slow headers and bodies, 10,000 idle
// connections: refused, nothing stored, the server responsive throughout.
mod hostile;
// Issue 15's attacks: slow-body floods, fan-out floods with a stalled subscriber, a large
// import, thousands of silent calls after a restart, a full disk, secrets in logs, file
// modes, formula payloads, query tokens.
mod internet;
// Mutated fixtures and random requests through the real listener (proptest).
mod props;
// Every provider's calls redelivered and shuffled: one call, one timeline, one pop.
mod retries;

/// Taken by every test here: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
