//! The policy compiled by `build.rs`, embedded in the Wasm and loaded once per isolate.

use std::sync::LazyLock;

use egress_policy_engine::artifact::Artifact;
use egress_policy_engine::{CompiledPolicy, PolicyRef, PolicySource};

/// The compiled artefact (`CompiledPolicy::to_artifact`) of the policy the build used.
static ARTIFACT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/policy.bin"));

/// The policy's name, SHA-256 and serial, written by `build.rs` next to the artefact.
mod reference {
    include!(concat!(env!("OUT_DIR"), "/policy_ref.rs"));
}

static POLICY: LazyLock<Option<CompiledPolicy>> =
    LazyLock::new(|| CompiledPolicy::load(Artifact::Static(ARTIFACT)).ok());

/// The embedded policy, decoded on first use. `None` only if the artefact does not load
/// (which the build's own round trip makes a bug); the Worker then fails closed.
pub fn policy() -> Option<&'static CompiledPolicy> {
    POLICY.as_ref()
}

static POLICY_REF_VALUE: LazyLock<PolicyRef> = LazyLock::new(|| PolicyRef {
    name: reference::NAME.map(str::to_owned),
    sha256: reference::SHA256.to_owned(),
    source: Some(PolicySource::Embedded),
    serial: Some(reference::SERIAL),
});

/// Which policy this Worker was built with (`source: embedded`, its serial), as `build.rs`
/// wrote it: readable even when [`policy`] is `None`, and never loading it. Made once per
/// isolate: every decision line it decides names it.
pub fn policy_ref() -> &'static PolicyRef {
    &POLICY_REF_VALUE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_artefact_loads_and_names_its_policy() {
        let policy = policy().expect("the embedded artefact loads");
        assert_eq!(policy.sha256().len(), 64);
        let loaded = policy
            .policy_ref()
            .from_source(PolicySource::Embedded, Some(policy.serial()));
        assert_eq!(policy_ref(), &loaded);
    }
}
