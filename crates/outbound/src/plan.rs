//! Turning the engine's [`Decision`] into what the Worker does.

use egress_policy_engine::{Action, Credential, Decision};

use crate::answer::LocalAnswer;

/// What the Worker does with one request.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionPlan<'p> {
    /// Answer locally (403 for a block, 502 for an inject whose credential the policy
    /// lacks); never forward.
    Answer(LocalAnswer),
    /// Mint (or reuse) this credential's token, put it in the headers, forward.
    Inject(&'p Credential),
    /// Forward unchanged (apart from a disagreeing `Host` header).
    Pass,
}

/// The plan for `decision`. `credential` looks a credential up by id in the policy that
/// decided. An inject decision whose credential cannot be found fails closed with the
/// credential-unavailable answer.
pub fn plan<'p>(
    decision: &Decision,
    credential: impl FnOnce(&str) -> Option<&'p Credential>,
) -> ActionPlan<'p> {
    match decision.action {
        Action::Block => ActionPlan::Answer(LocalAnswer::Blocked),
        Action::Pass => ActionPlan::Pass,
        Action::Inject => match decision.credential.as_deref().and_then(credential) {
            Some(found) => ActionPlan::Inject(found),
            None => ActionPlan::Answer(LocalAnswer::CredentialUnavailable),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use egress_policy_engine::{JwtAlgorithm, RuleRef};

    fn decision(action: Action, credential: Option<&str>) -> Decision {
        Decision {
            action,
            rule: Some(RuleRef {
                id: "r".into(),
                line: 1,
            }),
            reason: None,
            would_block: false,
            report_rule: None,
            credential: credential.map(Into::into),
            target: None,
        }
    }

    fn credential(id: &str) -> Credential {
        Credential {
            id: id.into(),
            algorithm: JwtAlgorithm::HS256,
            secret: "SECRET_NAME".into(),
            key_id: None,
            next: None,
            issuer: "iss".into(),
            audience: "aud".into(),
            ttl: 300,
            header: "Authorization".into(),
            prefix: "Bearer ".into(),
            claims: BTreeMap::new(),
            forward_headers: Vec::new(),
        }
    }

    #[test]
    fn block_answers_403() {
        let planned = plan(&decision(Action::Block, None), |_| None);
        match planned {
            ActionPlan::Answer(answer) => assert_eq!(answer, LocalAnswer::Blocked),
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn pass_forwards() {
        assert_eq!(
            plan(&decision(Action::Pass, None), |_| None),
            ActionPlan::Pass
        );
    }

    #[test]
    fn inject_resolves_the_credential() {
        let cred = credential("api");
        let planned = plan(&decision(Action::Inject, Some("api")), |id| {
            (id == "api").then_some(&cred)
        });
        assert_eq!(planned, ActionPlan::Inject(&cred));
    }

    #[test]
    fn inject_with_unknown_credential_fails_closed() {
        let planned = plan(&decision(Action::Inject, Some("gone")), |_| None);
        assert_eq!(
            planned,
            ActionPlan::Answer(LocalAnswer::CredentialUnavailable)
        );
        let planned = plan(&decision(Action::Inject, None), |_| None);
        assert_eq!(
            planned,
            ActionPlan::Answer(LocalAnswer::CredentialUnavailable)
        );
    }
}
