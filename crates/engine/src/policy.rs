//! The compiled policy: the validated model plus its matcher. Immutable, `Send + Sync`.

use crate::decide::{decide, list_match};
use crate::decision::Decision;
use crate::domain_list::DomainList;
use crate::log::PolicyRef;
use crate::matcher::Matcher;
use crate::model::{PolicyModel, Rule};
use crate::request::Request;
use crate::trace::{NoTrace, Trace};

/// A policy ready to decide requests. Build it with [`crate::compile`] or
/// [`CompiledPolicy::load`].
#[derive(Debug)]
pub struct CompiledPolicy {
    file_name: String,
    source: String,
    model: PolicyModel,
    matcher: Matcher,
    serial: u64,
}

impl CompiledPolicy {
    /// Builds the matcher over a model validated from `source`.
    pub(crate) fn build(
        file_name: &str,
        source: &str,
        model: PolicyModel,
    ) -> Result<CompiledPolicy, String> {
        let matcher = Matcher::build(&model)?;
        Ok(CompiledPolicy {
            file_name: file_name.to_owned(),
            source: source.to_owned(),
            model,
            matcher,
            serial: 0,
        })
    }

    /// The serial it is published under (0 until one is set): the Worker decides with the
    /// highest-serial policy it can verify, embedded or bundled.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Sets the serial it is published under (written into its artefact).
    pub fn set_serial(&mut self, serial: u64) {
        self.serial = serial;
    }

    /// Decides one request (docs/policy.md: canonicalise, refuse, then the decision order).
    /// Never panics; a malformed URL is a `block` decision with reason `invalid_url`.
    pub fn decide(&self, request: &Request<'_>) -> Decision {
        decide(
            &self.model,
            &self.matcher.source(&self.model),
            request,
            &mut NoTrace,
        )
    }

    /// Decides one request as [`decide`](Self::decide) does, and reports how: what
    /// canonicalisation changed, and each rule whose hosts match, condition by condition
    /// (what `explain` shows).
    pub fn explain(&self, request: &Request<'_>) -> (Decision, Trace<'_>) {
        let mut trace = Trace::default();
        let source = self.matcher.source(&self.model);
        let decision = decide(&self.model, &source, request, &mut trace);
        (decision, trace)
    }

    /// The policy's revision: lower-case hex SHA-256 of the policy source bytes, and of its
    /// list files' bytes when it has lists ([`crate::policy_sha256`]).
    pub fn sha256(&self) -> &str {
        &self.model.sha256
    }

    /// The name and hash that decision logs carry.
    pub fn policy_ref(&self) -> PolicyRef {
        PolicyRef {
            name: self.model.name.clone(),
            sha256: self.model.sha256.clone(),
            source: None,
            serial: None,
        }
    }

    /// The policy's source text, as compiled (an artefact carries it).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The file name the policy was compiled from (as given to [`crate::compile`]).
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The first list of `rule` (in the order the rule names them) that covers the canonical
    /// `host`, and the listed name that does.
    pub fn rule_list_match<'h>(
        &self,
        rule: &Rule,
        host: &'h str,
    ) -> Option<(&DomainList, &'h str)> {
        list_match(&self.model, rule, host)
    }

    /// The validated model (what the artefact stores).
    pub fn model(&self) -> &PolicyModel {
        &self.model
    }
}
