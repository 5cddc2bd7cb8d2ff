//! Xelion websocket frames: notifications, the subscription's answer, and the tracker of
//! transfers and channel hangups fed whatever the frames hold (seeds: tests/fixtures/xelion/*.jsonl, a
//! frame per line).
#![no_main]

use chrono::TimeZone;
use libfuzzer_sys::fuzz_target;
use ringside_core::providers::xelion;

fuzz_target!(|data: &[u8]| {
    let _ = xelion::subscription_answer(data);
    let mut transfers = xelion::Transfers::new();
    let start = chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    // Each line a frame, as the websocket delivers them one after the other.
    for (i, frame) in data.split(|&b| b == b'\n').enumerate() {
        let now = start + chrono::Duration::seconds(i as i64);
        if let Ok(notices) = xelion::notices(frame) {
            for notice in notices {
                for kept in transfers.track(notice, now) {
                    for ev in &kept.events {
                        assert!(!ev.provider_call_id.is_empty());
                    }
                }
            }
        }
        let _ = transfers.due(now + chrono::Duration::seconds(xelion::TRANSFER_GRACE_S));
        let _ = xelion::parse_frame(frame, &Default::default());
    }
});
