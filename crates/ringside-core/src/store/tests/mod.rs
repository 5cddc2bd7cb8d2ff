//! The store's tests, by job: storing and folding deliveries, the history search, contacts.

mod contacts;
mod journal;
mod search;
mod wrapup;

use chrono::{DateTime, TimeZone, Utc};

/// `s` seconds after a fixed instant.
fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
}
