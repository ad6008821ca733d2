//! Arbitrary bytes as a policy bundle against a fixed key: never a panic, a policy or a
//! documented refusal code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| egress_policy_fuzz::bundle::open_bundle(data));
