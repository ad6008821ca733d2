//! Arbitrary bytes as an artefact's payload (checksum recomputed): loading it, and deciding
//! 100 fixed URLs with what loads, never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| egress_policy_fuzz::artifact::load_artifact(data));
