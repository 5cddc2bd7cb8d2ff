//! Integration tests: each drives the built `ringside-server` binary over real sockets, with a
//! real SQLite file in a temporary data directory.

// Shared with tests/harden: each binary uses part of it.
#[allow(dead_code)]
mod support;

// What the agent's UI calls: call back, settings, search, CSV, test calls.
mod agent_api;
// The CLI and HTTP contract: listening line, auth, errors, limits.
mod contract;
// Each provider's conformance table, row by row: seed-shaped fixtures, the calls, the pops.
mod conformance;
// Call back through the phone system: the HTTP dial template (a local PBX), Exotel (a fake);
// the recording fetched to play in place.
mod dial;
// Correlation scenarios through the real listener: parallel, sequential, duplicates, order.
mod correlation;
// Every provider fixture posted over HTTP gets the status its expected outcome implies.
mod fixtures;
// Who is calling: contacts by API and CLI, names on calls, the CRM lookup (a fake CRM).
mod contacts;
// The team hub: agents, who sees what, claims, resolution, revocation, resume, presence.
mod hub;
// The live websocket stream.
mod live;
// The router without a socket, in fake time: the sweeper, the Exotel grace, a reused VoiceShot
// callid, the CRM cache, resync on lag.
mod router;
// A restart in the middle of a call continues it (the SIGKILL test is in tests/harden).
mod durability;
// Signed webhooks (Standard Webhooks, hex HMAC) through the real listener.
mod signatures;
// `simulate` drives every provider's scenarios end to end.
mod simulate;
// A fake Xelion PBX (login, renew, websocket URL, subscription) that tests drive.
mod fake_xelion;
// The Xelion websocket client: scripted calls, drops, stalls, expired tokens, restarts, backoff.
mod xelion;
// CardDAV address books synced from a real Radicale server: edits, deletes, sync tokens.
mod carddav;
