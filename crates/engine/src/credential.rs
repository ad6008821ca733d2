//! Credentials that inject rules mint: JWTs signed with a key held in a Worker secret.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A JWT signing algorithm a credential may use, named as JOSE names it (`alg`,
/// case-sensitive); [`JwtAlgorithm::NAMES`] lists them in the order `check` gives them in hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256; the secret's UTF-8 text is the key.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256; PKCS#8 PEM key.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256; PKCS#8 PEM key.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519; PKCS#8 PEM key.
    EdDSA,
}

named!(
    /// The JOSE `alg` name.
    pub fn as_str for JwtAlgorithm {
        HS256 = "HS256", HS384 = "HS384", HS512 = "HS512",
        RS256 = "RS256", RS384 = "RS384", RS512 = "RS512",
        PS256 = "PS256", PS384 = "PS384", PS512 = "PS512",
        ES256 = "ES256", ES384 = "ES384", EdDSA = "EdDSA",
    }
);

impl JwtAlgorithm {
    /// HMAC algorithms have no public key to publish.
    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            JwtAlgorithm::HS256 | JwtAlgorithm::HS384 | JwtAlgorithm::HS512
        )
    }

    /// The shortest key the algorithm is safe with, in bytes, where the key's length varies:
    /// an HMAC key as long as the hash output (RFC 7518 section 3.2: 32, 48, 64), an RSA
    /// modulus of 2048 bits (section 3.3). `None` for EC and Ed25519 keys, whose curve fixes
    /// their size.
    pub const fn min_key_bytes(self) -> Option<usize> {
        match self {
            JwtAlgorithm::HS256 => Some(32),
            JwtAlgorithm::HS384 => Some(48),
            JwtAlgorithm::HS512 => Some(64),
            JwtAlgorithm::ES256 | JwtAlgorithm::ES384 | JwtAlgorithm::EdDSA => None,
            // RSA and RSA-PSS.
            _ => Some(256),
        }
    }
}

/// The values a claim template may refer to.
#[derive(Clone, Copy, Debug)]
pub struct ClaimVars<'a> {
    /// `{customer}`
    pub customer: &'a str,
    /// `{tags}`: joined with `,`
    pub tags: &'a [String],
    /// `{host}`: the canonical request host
    pub host: &'a str,
    /// `{rule}`: the inject rule's id
    pub rule: &'a str,
}

/// One piece of a parsed claim template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplatePart {
    /// Text copied as is (`{{` and `}}` already unescaped).
    Literal(String),
    /// `{customer}`
    Customer,
    /// `{tags}`
    Tags,
    /// `{host}`
    Host,
    /// `{rule}`
    Rule,
}

/// A claim value template such as `"tenant:{customer}"`, parsed and validated by `check`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimTemplate {
    /// The parts in order.
    pub parts: Vec<TemplatePart>,
}

/// Why a claim template is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{name}` with a name other than customer, tags, host, rule.
    #[error(
        "unknown placeholder `{{{name}}}`; expected one of {{customer}}, {{tags}}, {{host}}, {{rule}}"
    )]
    UnknownPlaceholder {
        /// The name between the braces.
        name: String,
        /// Byte offset of the `{` within the template.
        offset: usize,
    },
    /// A `{` without its `}` or a lone `}` (write `{{` / `}}` for literal braces).
    #[error("unbalanced brace; write `{{{{` or `}}}}` for a literal brace")]
    UnbalancedBrace {
        /// Byte offset of the offending brace within the template.
        offset: usize,
    },
}

impl ClaimTemplate {
    /// Parses `text`, resolving `{{`/`}}` escapes.
    pub fn parse(text: &str) -> Result<ClaimTemplate, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}']) {
            let (before, brace) = rest.split_at(at);
            literal.push_str(before);
            let offset = text.len() - brace.len();
            if let Some(after) = brace.strip_prefix("{{").or(brace.strip_prefix("}}")) {
                literal.push_str(brace.get(..1).unwrap_or_default());
                rest = after;
                continue;
            }
            let Some((name, after)) = brace.strip_prefix('{').and_then(|b| b.split_once('}'))
            else {
                return Err(TemplateError::UnbalancedBrace { offset });
            };
            let part = match name {
                "customer" => TemplatePart::Customer,
                "tags" => TemplatePart::Tags,
                "host" => TemplatePart::Host,
                "rule" => TemplatePart::Rule,
                _ => {
                    return Err(TemplateError::UnknownPlaceholder {
                        name: name.to_owned(),
                        offset,
                    });
                }
            };
            if !literal.is_empty() {
                parts.push(TemplatePart::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = after;
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(TemplatePart::Literal(literal));
        }
        Ok(ClaimTemplate { parts })
    }

    /// The claim value for one request.
    pub fn render(&self, vars: &ClaimVars<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Customer => out.push_str(vars.customer),
                TemplatePart::Tags => out.push_str(&vars.tags.join(",")),
                TemplatePart::Host => out.push_str(vars.host),
                TemplatePart::Rule => out.push_str(vars.rule),
            }
        }
        out
    }

    /// Whether the value depends on the request's host or rule (and so must be part of a
    /// token cache key beyond credential, customer and tags).
    pub fn depends_on_request(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, TemplatePart::Host | TemplatePart::Rule))
    }
}

/// A `[credentials.ID]` table after validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The table's key: what inject rules name and logs show.
    pub id: String,
    /// Signing algorithm (`kind = "jwt"` is the only kind).
    pub algorithm: JwtAlgorithm,
    /// Name of the Worker secret holding the key (never the key itself).
    pub secret: String,
    /// JWT header `kid`.
    pub key_id: Option<String>,
    /// The key that signs after the next rotation: published beside the active one, never
    /// used to sign (docs/deploy.md, step 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<NextKey>,
    /// `iss`
    pub issuer: String,
    /// `aud`
    pub audience: String,
    /// Lifetime in seconds: `exp = iat + ttl`.
    pub ttl: u32,
    /// Request header that carries the token (default `Authorization`).
    pub header: String,
    /// Text before the token in that header (default `Bearer `).
    pub prefix: String,
    /// Extra claims; `sub` defaults to `{customer}` when not given.
    pub claims: BTreeMap<String, ClaimTemplate>,
    /// Client headers forwarded with the token besides the default allow-list
    /// ([`crate::header_names::FORWARDED_ON_INJECT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward_headers: Vec<String>,
}

/// A credential's next signing key, named by `next_secret` and `next_key_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextKey {
    /// Name of the Worker secret holding the next key.
    pub secret: String,
    /// The `kid` of the tokens it will sign.
    pub key_id: String,
}

impl Credential {
    /// Whether any claim depends on the request's host or rule.
    pub fn depends_on_request(&self) -> bool {
        self.claims.values().any(ClaimTemplate::depends_on_request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> ClaimVars<'static> {
        static TAGS: [String; 0] = [];
        ClaimVars {
            customer: "acme",
            tags: &TAGS,
            host: "api.example.com",
            rule: "r1",
        }
    }

    #[test]
    fn renders_placeholders_and_escapes() {
        let t = ClaimTemplate::parse("{{x}} tenant:{customer}@{host}/{rule}").unwrap();
        assert_eq!(t.render(&vars()), "{x} tenant:acme@api.example.com/r1");
        assert!(t.depends_on_request());
        assert!(
            !ClaimTemplate::parse("{customer}")
                .unwrap()
                .depends_on_request()
        );
    }

    #[test]
    fn rejects_unknown_and_unbalanced() {
        assert_eq!(
            ClaimTemplate::parse("a{secret}"),
            Err(TemplateError::UnknownPlaceholder {
                name: "secret".into(),
                offset: 1
            })
        );
        assert_eq!(
            ClaimTemplate::parse("a{customer"),
            Err(TemplateError::UnbalancedBrace { offset: 1 })
        );
        assert_eq!(
            ClaimTemplate::parse("a}"),
            Err(TemplateError::UnbalancedBrace { offset: 1 })
        );
    }

    #[test]
    fn algorithm_names_round_trip() {
        let parse = |name: &str| {
            let code = crate::diagnostic::Code::UnknownAlgorithm;
            let algorithm = ("algorithm", code, JwtAlgorithm::NAMES);
            crate::parse::one_of(name, 0..0, algorithm, &mut vec![])
        };
        for &(name, a) in JwtAlgorithm::NAMES {
            assert_eq!((name, parse(a.as_str())), (a.as_str(), Some(a)));
        }
        assert_eq!(parse("hs256"), None);
        assert_eq!(parse("none"), None);
    }
}
