//! Fakes shared by the integration tests: a settable clock and a counting signer.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use egress_policy_engine::{ClaimTemplate, Credential, JwtAlgorithm, Target};
use egress_policy_outbound::headers::{HeaderPlan, forward_plan};
use egress_policy_outbound::{CredentialError, Runtime, Signer, Token};
use serde_json::{Map, Value};

/// A clock the test moves by hand; clones share the time.
#[derive(Clone, Default)]
pub struct FakeClock(pub Rc<Cell<u64>>);

impl FakeClock {
    pub fn at(secs: u64) -> FakeClock {
        FakeClock(Rc::new(Cell::new(secs)))
    }
    pub fn set(&self, secs: u64) {
        self.0.set(secs);
    }
}

impl Runtime for FakeClock {
    fn now_secs(&self) -> u64 {
        self.0.get()
    }

    /// Not random, but never the same bytes twice in a test run: a counter.
    fn fill(&self, out: &mut [u8]) -> bool {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = n[i % n.len()];
        }
        true
    }
}

/// Signs nothing: the "token" is the payload's JSON plus a serial number, so tests can see
/// exactly which claims a token was minted from and how many were minted.
#[derive(Default)]
pub struct FakeSigner {
    pub minted: u64,
    pub fail: Option<CredentialError>,
}

impl Signer for FakeSigner {
    fn sign(
        &mut self,
        _credential: &Credential,
        _secret: &str,
        claims: &Map<String, Value>,
    ) -> Result<Token, CredentialError> {
        if let Some(error) = self.fail {
            return Err(error);
        }
        self.minted += 1;
        Ok(Token::new(format!(
            "{}#{}",
            Value::Object(claims.clone()),
            self.minted
        )))
    }
}

pub fn credential(id: &str, algorithm: JwtAlgorithm, claims: &[(&str, &str)]) -> Credential {
    Credential {
        id: id.into(),
        algorithm,
        secret: format!("{}_KEY", id.to_uppercase().replace('-', "_")),
        key_id: Some("2026-11".into()),
        next: None,
        issuer: "egress.platform.example".into(),
        audience: "api.example.com".into(),
        ttl: 300,
        header: "Authorization".into(),
        prefix: "Bearer ".into(),
        forward_headers: Vec::new(),
        claims: claims
            .iter()
            .map(|(k, v)| ((*k).to_owned(), ClaimTemplate::parse(v).unwrap()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// The payload part of a fake token.
pub fn fake_claims(token: &Token) -> Value {
    let (json, _) = token.as_str().rsplit_once('#').unwrap();
    serde_json::from_str(json).unwrap()
}

/// Applies `plan` to a list of headers the way `Headers.delete` then `Headers.set` do.
pub fn apply(plan: &HeaderPlan, headers: &mut Vec<(String, String)>) {
    headers.retain(|(name, _)| {
        let lower = name.to_ascii_lowercase();
        let replaced = plan
            .set
            .as_ref()
            .is_some_and(|(set, _)| set.eq_ignore_ascii_case(&lower));
        !replaced && !plan.remove.contains(&lower)
    });
    if let Some((name, value)) = &plan.set {
        headers.push((name.clone(), value.as_str().to_owned()));
    }
}

/// The plan for a client's `headers` as the Worker reads them: the `Host` value apart, the
/// other names as they are.
pub fn plan<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    target: &Target,
    inject: Option<(&Credential, &Token)>,
) -> HeaderPlan {
    let is_host = |name: &str| name.eq_ignore_ascii_case("host");
    let host = headers.clone().into_iter().find(|(name, _)| is_host(name));
    let names = headers.into_iter().map(|(name, _)| name);
    forward_plan(
        host.map(|(_, value)| value),
        names.filter(|name| !is_host(name)),
        target,
        inject,
    )
}
