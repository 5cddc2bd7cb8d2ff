//! The webhook front door: `providers::parse` with any method, content type (JSON, form,
//! multipart, XML, none) and body, for the provider the path names (seeds: every fixture).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringside_core::Provider;

fuzz_target!(|data: &[u8]| {
    let req = ringside_fuzz::request(data);
    // A path naming no provider still goes somewhere: the first byte picks one.
    let provider = req.provider.unwrap_or_else(|| {
        Provider::ALL[usize::from(data.first().copied().unwrap_or(0)) % Provider::ALL.len()]
    });
    ringside_fuzz::check(provider, &req);
});
