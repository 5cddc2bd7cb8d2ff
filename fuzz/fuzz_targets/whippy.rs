//! The whippy adapter on any request (seeds: tests/fixtures/whippy/*.http).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringside_core::Provider;

fuzz_target!(|data: &[u8]| ringside_fuzz::provider_target(Provider::Whippy, data));
