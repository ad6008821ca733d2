//! Compiled artefacts: `artifact`. The input is an artefact's payload; its header (and so its
//! checksum) is written here, so the fuzzer reaches the loader behind the checksum.

use std::sync::OnceLock;

use egress_policy_engine::CompiledPolicy;
use egress_policy_engine::artifact::{ARTIFACT_FORMAT_VERSION, ARTIFACT_MAGIC, Artifact};
use sha2::{Digest, Sha256};

/// The serial of every artefact made here.
pub const SERIAL: u64 = 7;

/// An artefact of `payload` (the parts after the header), with a correct header and checksum.
pub fn artifact_of(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(62 + payload.len());
    out.extend_from_slice(ARTIFACT_MAGIC);
    out.extend_from_slice(&ARTIFACT_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&SERIAL.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// Hosts of the shipped policies and of every refusal class, each with every path below.
const HOSTS: [&str; 10] = [
    "https://api.example.com",
    "https://malicious.com",
    "http://a.b.pastebin.com",
    "https://169.254.169.254",
    "https://[fd00::1]:8443",
    "https://sandbox.partner.example.net",
    "https://xn--bcher-kva.example",
    "http://localhost:8080",
    "https://user:pw@example.org",
    "ftp://example.com",
];
const PATHS: [&str; 10] = [
    "",
    "/v1/users/1",
    "/admin/x?q=1",
    "/%2e%2e/admin",
    "/a//b/",
    "/%C3%A4%2F",
    "/v1/orgs/../users",
    "/a;b#frag",
    "/A/B/%00",
    "/v1/%252e%252e/x",
];

/// The 100 fixed URLs every loaded policy decides: each host with each path.
pub fn urls() -> &'static [String] {
    static URLS: OnceLock<Vec<String>> = OnceLock::new();
    URLS.get_or_init(|| {
        HOSTS
            .iter()
            .flat_map(|host| PATHS.iter().map(move |path| format!("{host}{path}")))
            .collect()
    })
}

/// Loads an arbitrary payload as an artefact; a policy that loads decides the fixed URLs
/// ([`urls`]) with every selector of the request, traced and not, alike.
pub fn load_artifact(payload: &[u8]) {
    let Ok(policy) = CompiledPolicy::load(Artifact::Bytes(&artifact_of(payload))) else {
        return;
    };
    assert_eq!(policy.serial(), SERIAL, "the serial is not the header's");
    let tags = [String::from("prod")];
    for (i, url) in urls().iter().enumerate() {
        let request = super::policy::request(i as u8, url, &tags);
        let decision = policy.decide(&request);
        assert_eq!(
            policy.explain(&request).0,
            decision,
            "the traced decision differs on {url:?}"
        );
    }
}
