//! The JWT payload for one credential and request.

use egress_policy_engine::{ClaimVars, Credential};
use serde_json::{Map, Value};

/// The payload: the rendered `claims` templates, `sub` (the customer unless a template sets
/// it), then the registered claims `iss`, `aud`, `iat`, `exp = iat + ttl` and `jti` (the
/// token's random id), which templates cannot override (`check` rejects them in `claims`
/// anyway).
pub fn claims(
    credential: &Credential,
    vars: &ClaimVars<'_>,
    iat: u64,
    jti: &str,
) -> Map<String, Value> {
    let mut payload = Map::new();
    for (name, template) in &credential.claims {
        payload.insert(name.clone(), Value::String(template.render(vars)));
    }
    payload
        .entry("sub")
        .or_insert_with(|| Value::String(vars.customer.to_owned()));
    payload.insert("iss".into(), Value::String(credential.issuer.clone()));
    payload.insert("aud".into(), Value::String(credential.audience.clone()));
    payload.insert("iat".into(), Value::from(iat));
    let exp = iat.saturating_add(u64::from(credential.ttl));
    payload.insert("exp".into(), Value::from(exp));
    payload.insert("jti".into(), Value::String(jti.to_owned()));
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use egress_policy_engine::{ClaimTemplate, JwtAlgorithm};
    use serde_json::json;

    fn credential(claims: &[(&str, &str)]) -> Credential {
        Credential {
            id: "api".into(),
            algorithm: JwtAlgorithm::HS256,
            secret: "S".into(),
            key_id: None,
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

    fn vars(tags: &[String]) -> ClaimVars<'_> {
        ClaimVars {
            customer: "acme",
            tags,
            host: "api.example.com",
            rule: "example-api",
        }
    }

    #[test]
    fn sub_defaults_to_the_customer() {
        let payload = claims(&credential(&[]), &vars(&[]), 1_000, "id-1");
        assert_eq!(
            Value::Object(payload),
            json!({
                "sub": "acme",
                "iss": "egress.platform.example",
                "aud": "api.example.com",
                "iat": 1_000,
                "exp": 1_300,
                "jti": "id-1",
            })
        );
    }

    #[test]
    fn templates_render_and_may_set_sub() {
        let tags = vec!["prod".to_owned(), "eu".to_owned()];
        let cred = credential(&[
            ("sub", "tenant:{customer}"),
            ("scope", "{tags}@{host}/{rule}"),
        ]);
        let payload = claims(&cred, &vars(&tags), 5, "id-2");
        assert_eq!(payload["sub"], "tenant:acme");
        assert_eq!(payload["scope"], "prod,eu@api.example.com/example-api");
        assert_eq!(payload["exp"], 305);
    }
}
