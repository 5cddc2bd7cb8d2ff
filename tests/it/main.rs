//! Integration tests: each drives the built `ringside-server` binary over real sockets, with a
//! real SQLite file in a temporary data directory.

mod support;

// What the agent's UI calls: call back, settings, search, CSV, test calls.
mod agent_api;
// The CLI and HTTP contract: listening line, auth, errors, limits.
mod contract;
// Correlation scenarios through the real listener: parallel, sequential, duplicates, order.
mod correlation;
// Every provider fixture posted over HTTP gets the status its expected outcome implies.
mod fixtures;
// The live websocket stream.
mod live;
// Every provider's calls redelivered and shuffled: one call, one timeline, one pop.
mod retries;
// SIGKILL during concurrent ingest loses no acknowledged event; restart mid-call.
mod durability;
// Signed webhooks (Standard Webhooks, hex HMAC) through the real listener.
mod signatures;
// `simulate` drives every provider's scenarios end to end.
mod simulate;
// A fake Xelion PBX (login, renew, websocket URL, subscription) that tests drive.
mod fake_xelion;
// Hostile input against the real process: entities, nesting, bad UTF-8, huge and slow
// requests, 10,000 idle connections.
mod hostile;
// The Xelion websocket client: scripted calls, drops, stalls, expired tokens, restarts, backoff.
mod xelion;
