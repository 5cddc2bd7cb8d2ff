//! Property tests of the provider parsers: every fixture (`tests/fixtures/<provider>/*.http`)
//! mutated (bytes flipped, inserted, deleted, duplicated, truncated, syntax tokens spliced in,
//! another method or content type), and plain random bytes, never panic, and what is
//! accepted passes the checks of `tests/support/parse_check.rs`. Invalid UTF-8 in a text body
//! is always refused as malformed.
//!
//! `PROPTEST_CASES` sets the number of cases (default 1000 per property).

use http::{HeaderValue, Method};
use proptest::prelude::*;
use proptest::sample::Index;
use ringside_core::providers::ParseError;

#[path = "../../../tests/support/http_file.rs"]
mod http_file;
#[path = "../../../tests/support/mutate.rs"]
mod mutate;
#[path = "../../../tests/support/parse_check.rs"]
mod parse_check;

use mutate::{mutated_fixture, random_request, Case};

fn parse(case: &Case) -> Result<ringside_core::providers::Parsed, ParseError> {
    parse_check::checked_parse_parts(
        case.provider,
        &case.method,
        case.query.as_deref(),
        &case.headers,
        &case.body,
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_fixtures_never_panic_and_what_is_accepted_holds_up(case in mutated_fixture()) {
        let _ = parse(&case);
    }

    #[test]
    fn random_requests_never_panic(case in random_request()) {
        let _ = parse(&case);
    }

    #[test]
    fn invalid_utf8_in_a_text_body_is_malformed(
        case in mutated_fixture(),
        at in any::<Index>(),
        bad in prop::sample::select(vec![&b"\xff"[..], b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]),
    ) {
        // A POST with a text body (a multipart preamble is ignored, so not multipart).
        let mut case = case;
        case.method = Method::POST;
        let ct = case.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if ct.starts_with("multipart/") {
            case.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let k = at.index(case.body.len() + 1);
        case.body.splice(k..k, bad.iter().copied());
        // (Spliced next to the right bytes, a partial sequence can become a whole one.)
        prop_assume!(std::str::from_utf8(&case.body).is_err());
        prop_assert!(
            matches!(parse(&case), Err(ParseError::Malformed { .. })),
            "{:?}: {:?}", case.provider, String::from_utf8_lossy(&case.body)
        );
    }
}
