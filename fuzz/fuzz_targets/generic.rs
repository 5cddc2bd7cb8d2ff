//! The generic adapter on any request (seeds: tests/fixtures/generic/*.http).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringside_core::Provider;

fuzz_target!(|data: &[u8]| ringside_fuzz::provider_target(Provider::Generic, data));
