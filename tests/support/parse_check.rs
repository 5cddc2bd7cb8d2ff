//! What must hold of any parse of a webhook delivery, whatever the input. Shared by the fuzz
//! targets (`fuzz/`) and the property tests, so both check the same thing.

use chrono::TimeZone;
use http::{HeaderMap, Method};
use ringside_core::phone::{self, DefaultRegion};
use ringside_core::providers::{self, Inbound, ParseContext, ParseError, Parsed};
use ringside_core::Provider;

/// [`checked_parse`] of a request given by its parts, with Exotel's default local time (IST)
/// for every provider.
pub fn checked_parse_parts(
    provider: Provider,
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Parsed, ParseError> {
    let req = Inbound {
        method,
        query,
        headers,
        body,
    };
    let ctx = ParseContext {
        local_offset: chrono::FixedOffset::east_opt(5 * 3600 + 1800).expect("IST"),
    };
    checked_parse(provider, &req, &ctx)
}

/// Parse `req` for `provider` as the server does and check: no panic; a refusal is one of
/// the typed errors; an accepted delivery has events or says why not; its events are the
/// provider's, all of one call with
/// a non-empty id (the store refuses anything else, which would be a 5xx), and survive
/// number normalization, serialization for the journal and correlation.
pub fn checked_parse(
    provider: Provider,
    req: &Inbound<'_>,
    ctx: &ParseContext,
) -> Result<Parsed, ParseError> {
    let parsed = providers::parse(provider, req, ctx)?;
    assert!(
        !parsed.events.is_empty() || !parsed.notes.is_empty(),
        "a delivery with no call event says why"
    );
    let region = DefaultRegion::parse("US").expect("a region");
    let now = chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let mut call = None;
    for ev in &parsed.events {
        assert_eq!(ev.provider, provider);
        assert!(!ev.provider_call_id.is_empty(), "an empty call id");
        if provider != Provider::Xelion {
            assert_eq!(
                ev.provider_call_id, parsed.events[0].provider_call_id,
                "one delivery, one call"
            );
        }
        let mut ev = ev.clone();
        phone::normalize_event(&mut ev, region);
        let json = serde_json::to_string(&ev).expect("events serialize");
        let back: ringside_core::CallEvent = serde_json::from_str(&json).expect("and read back");
        assert_eq!(back, ev, "the journal keeps the event as it is");
        call = Some(ringside_core::correlate::apply(call, &ev, Some(1), now).call);
    }
    Ok(parsed)
}
