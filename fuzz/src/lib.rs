//! The properties the fuzz targets check, one function per target. The targets in
//! `fuzz_targets/` call them on what libFuzzer generates (nightly); the CLI's test
//! `fuzz_corpus` includes this file and replays every committed seed in `fuzz/corpus/<target>/`
//! through the same functions on stable, as part of `cargo test --workspace`.
//!
//! Each function panics only when a property breaks, which is what the fuzzer looks for. This
//! is test code: nothing here is linked into the Worker or the CLI.

pub mod artifact;
pub mod bundle;
pub mod log_reader;
pub mod policy;

/// A property: panics when `data` breaks it.
pub type Property = fn(data: &[u8]);

/// Every target: its name (the directory of its corpus) and its property.
pub const TARGETS: [(&str, Property); 5] = [
    ("parse_compile", policy::parse_compile),
    ("decide", policy::decide),
    ("bundle", bundle::open_bundle),
    ("artifact", artifact::load_artifact),
    ("log_reader", log_reader::read_logs),
];
