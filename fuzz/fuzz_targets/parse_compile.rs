//! Arbitrary bytes as a policy file: compile must never panic, and a compiled policy must
//! round-trip through its artefact.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| egress_policy_fuzz::policy::parse_compile(data));
