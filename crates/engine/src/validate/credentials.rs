//! `[credentials.ID]` tables.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

use crate::credential::{ClaimTemplate, Credential, JwtAlgorithm};
use crate::diagnostic::{Code, Diagnostic};
use crate::fields;
use crate::header_names::{
    is_forbidden_credential_header, is_header_token, is_override_header, same_header_name,
};
use crate::identity::{CONTEXT_PARAM, CUSTOMER_PARAM, SETTINGS_PREFIX, TAGS_PARAM};
use crate::limits::{MAX_CLAIMS, MAX_CREDENTIALS, MAX_TEXT_LEN, TTL_RANGE, TTL_WARN_ABOVE};
use crate::parse::{self, Fields, Value};

use super::{CredentialSpans, valid_id};

/// Claims every token carries from the credential's own fields.
pub(crate) const RESERVED_CLAIMS: &[&str] = &["iss", "aud", "iat", "exp", "nbf", "jti"];

type Validated = (
    BTreeMap<String, Credential>,
    BTreeMap<String, CredentialSpans>,
);

/// Validates every credential; only valid ones are returned, spans for every declared one.
pub(super) fn validate(table: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Validated {
    let mut credentials = BTreeMap::new();
    let mut spans = BTreeMap::new();
    if table.len() > MAX_CREDENTIALS {
        diags.push(
            Diagnostic::new(
                Code::TooManyCredentials,
                format!("the policy has {} credentials", table.len()),
            )
            .with_hint(format!("at most {MAX_CREDENTIALS}")),
        );
        return (credentials, spans);
    }
    for (key, value) in table {
        let id: &str = key.get_ref();
        if !valid_id(id) {
            diags.push(
                Diagnostic::new(
                    Code::InvalidCredentialId,
                    format!("credential id `{id}` is not valid"),
                )
                .with_span(key.span())
                .with_label("invalid id")
                .with_hint("ids are 1 to 128 letters, digits, `-`, `_` or `.`"),
            );
            continue;
        }
        // Declared even when invalid, so rules naming it are not told it does not exist.
        let mut credential_spans = CredentialSpans {
            key: key.span(),
            claims: None,
        };
        let Some(t) = parse::table(value, "a credential", diags) else {
            spans.insert(id.to_owned(), credential_spans);
            continue;
        };
        credential_spans.claims = t
            .iter()
            .find(|(k, _)| {
                let name: &str = k.get_ref();
                name == "claims"
            })
            .map(|(_, v)| v.span());
        spans.insert(id.to_owned(), credential_spans);
        if let Some(c) = credential(id, t, key.span(), diags) {
            credentials.insert(id.to_owned(), c);
        }
    }
    (credentials, spans)
}

fn credential(
    id: &str,
    table: &DeTable<'_>,
    key_span: std::ops::Range<usize>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Credential> {
    let before = diags.len();
    let fields = Fields::read(
        table,
        fields::CREDENTIAL,
        &format!("credential `{id}`"),
        diags,
    );
    let required = |name: &str, diags: &mut Vec<Diagnostic>| -> Option<&Value<'_>> {
        let v = fields.get(name);
        if v.is_none() {
            diags.push(
                Diagnostic::new(
                    Code::MissingField,
                    format!("credential `{id}` is missing field `{name}`"),
                )
                .with_span(key_span.clone())
                .with_label(format!("no `{name}`")),
            );
        }
        v
    };
    if let Some(v) = fields.get("kind") {
        parse::keyword(v, "credential kind", Code::UnknownKind, &["jwt"], diags);
    }
    let algorithm = required("algorithm", diags).and_then(|v| {
        let name = parse::string(v, "`algorithm`", diags)?;
        let alg = JwtAlgorithm::parse(name);
        if alg.is_none() {
            let all: Vec<&str> = JwtAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
            let hint = match crate::suggest::did_you_mean(name, all.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? expected one of {}", parse::list(&all)),
                None => format!("expected one of {}", parse::list(&all)),
            };
            diags.push(
                Diagnostic::new(
                    Code::UnknownAlgorithm,
                    format!("unknown algorithm `{name}`"),
                )
                .with_span(v.span())
                .with_label("unknown algorithm")
                .with_hint(hint),
            );
        }
        alg
    });
    let secret = required("secret", diags).and_then(|v| {
        let s = parse::string(v, "`secret`", diags)?;
        let valid = !s.is_empty()
            && s.len() <= 128
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !s.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            // The value is not echoed: someone may have pasted the key itself here.
            diags.push(
                Diagnostic::new(Code::InvalidSecretName, "`secret` must name a Worker secret, not hold a key")
                    .with_span(v.span())
                    .with_label("not a secret name")
                    .with_hint("write the secret's binding name, e.g. `EXAMPLE_API_SIGNING_KEY` (letters, digits, `_`)"),
            );
            return None;
        }
        if is_reserved_env_name(s) {
            diags.push(
                Diagnostic::new(Code::ReservedSecretName, format!("`secret` names `{s}`, which is not a signing key"))
                    .with_span(v.span())
                    .with_label("an identity parameter or a setting of this Worker")
                    .with_hint("`customer_name`, `customer_tags` and `customer_context` are set per customer by the dispatcher, and `EGRESS_*` names are this Worker's settings (some public): a key read from them is known to others; store the key in a Worker secret of its own (`wrangler secret put NAME`)"),
            );
            return None;
        }
        Some(s.to_owned())
    });
    let key_id = fields
        .get("key_id")
        .and_then(|v| short_text(v, "`key_id`", diags));
    let issuer = required("issuer", diags).and_then(|v| short_text(v, "`issuer`", diags));
    let audience = required("audience", diags).and_then(|v| short_text(v, "`audience`", diags));
    let ttl = required("ttl", diags).and_then(|v| {
        let n = parse::integer(v, "`ttl`", diags)?;
        if !TTL_RANGE.contains(&n) {
            diags.push(
                Diagnostic::new(
                    Code::TtlOutOfRange,
                    format!("`ttl` of {n} seconds is out of range"),
                )
                .with_span(v.span())
                .with_label("out of range")
                .with_hint(format!(
                    "a token lives {} to {} seconds",
                    TTL_RANGE.start(),
                    TTL_RANGE.end()
                )),
            );
            return None;
        }
        if n > TTL_WARN_ABOVE {
            diags.push(
                Diagnostic::new(
                    Code::LongTtl,
                    format!("tokens of credential `{id}` live {n} seconds"),
                )
                .with_span(v.span())
                .with_label(format!("more than {TTL_WARN_ABOVE} seconds"))
                .with_hint("a leaked token is of use for its whole lifetime; a few minutes (`ttl = 300`) is plenty for tokens minted per request and cached"),
            );
        }
        u32::try_from(n).ok()
    });
    let header = match fields.get("header") {
        None => Some("Authorization".to_owned()),
        Some(v) => parse::string(v, "`header`", diags).and_then(|h| {
            let token = is_header_token(h);
            if token && is_forbidden_credential_header(h) {
                diags.push(forbidden_header(h, v.span()));
                None
            } else if token {
                Some(h.to_owned())
            } else {
                diags.push(
                    Diagnostic::new(
                        Code::InvalidHeaderName,
                        format!("`{h}` is not a valid header name"),
                    )
                    .with_span(v.span())
                    .with_label("invalid header name"),
                );
                None
            }
        }),
    };
    let prefix = match fields.get("prefix") {
        None => Some("Bearer ".to_owned()),
        Some(v) => parse::string(v, "`prefix`", diags).and_then(|p| {
            if p.len() > 128 || p.chars().any(|c| c.is_control() || !c.is_ascii()) {
                diags.push(
                    Diagnostic::new(
                        Code::InvalidPrefix,
                        "`prefix` must be printable ASCII, at most 128 bytes",
                    )
                    .with_span(v.span())
                    .with_label("invalid prefix"),
                );
                return None;
            }
            Some(p.to_owned())
        }),
    };
    let forward_headers = match fields.get("forward_headers") {
        None => Some(Vec::new()),
        Some(v) => forward_headers(v, header.as_deref(), diags),
    };
    let claims = match fields.get("claims") {
        None => Some(BTreeMap::new()),
        Some(v) => parse::table(v, "`claims`", diags).and_then(|t| claims(t, v.span(), diags)),
    };
    if diags.get(before..).is_some_and(|new| {
        new.iter()
            .any(|d| d.severity == crate::diagnostic::Severity::Error)
    }) {
        return None;
    }
    let mut claims = claims?;
    // `sub` defaults to the customer, made explicit here so the minting side need not know.
    if !claims.contains_key("sub") {
        claims.insert(
            "sub".to_owned(),
            ClaimTemplate {
                parts: vec![crate::credential::TemplatePart::Customer],
            },
        );
    }
    Some(Credential {
        id: id.to_owned(),
        algorithm: algorithm?,
        secret: secret?,
        key_id,
        issuer: issuer?,
        audience: audience?,
        ttl: ttl?,
        header: header?,
        prefix: prefix?,
        claims,
        forward_headers: forward_headers?,
    })
}

/// Whether a `secret` names a value of the Worker's `env` that is not a key: an identity
/// parameter (compared case-insensitively) or a setting of this Worker (`EGRESS_*`).
fn is_reserved_env_name(name: &str) -> bool {
    [CUSTOMER_PARAM, TAGS_PARAM, CONTEXT_PARAM]
        .iter()
        .any(|param| param.eq_ignore_ascii_case(name))
        || name
            .get(..SETTINGS_PREFIX.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(SETTINGS_PREFIX))
}

/// `forward_headers`: header names a credential's requests keep besides the default
/// allow-list. Never one a token must not travel with, nor `Authorization` or the
/// credential's own header (always replaced by the token).
fn forward_headers(
    value: &Value<'_>,
    credential_header: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<String>> {
    super::rules::list(value, "`forward_headers`", diags, |item, diags| {
        let name = parse::string(item, "a header name", diags)?;
        let replaced = same_header_name(name, "authorization")
            || credential_header.is_some_and(|h| same_header_name(name, h));
        let d = if !is_header_token(name) {
            Diagnostic::new(
                Code::InvalidHeaderName,
                format!("`{name}` is not a valid header name"),
            )
            .with_label("invalid header name")
        } else if replaced || is_forbidden_credential_header(name) {
            Diagnostic::new(Code::ForbiddenForwardHeader, format!("header `{name}` cannot travel with a token"))
                .with_label(if replaced { "always replaced by the token" } else { "frames or routes the request, is hop-by-hop, or can reroute it upstream" })
                .with_hint("list only headers the API needs to read the request (such as `X-Api-Version`); the default allow-list already forwards `Accept*`, `Content-*`, `User-Agent`, conditional and range headers")
        } else {
            return Some(name.to_owned());
        };
        diags.push(d.with_span(item.span()));
        None
    })
}

/// A credential `header` the token must not travel in. The name is echoed: it is a header
/// name the policy author wrote, never a secret.
fn forbidden_header(name: &str, span: std::ops::Range<usize>) -> Diagnostic {
    let (label, hint) = if is_override_header(name) {
        (
            "upstreams may obey this header to reroute the request",
            "the Worker strips this header on inject; carry the token in `Authorization` (the default) or a dedicated header such as `X-Api-Token`",
        )
    } else {
        (
            "this header frames or routes the request, or is hop-by-hop",
            "carry the token in `Authorization` (the default) or a dedicated header such as `X-Api-Token`",
        )
    };
    Diagnostic::new(
        Code::ForbiddenCredentialHeader,
        format!("a credential cannot be carried in the `{name}` header"),
    )
    .with_span(span)
    .with_label(label)
    .with_hint(hint)
}

fn short_text(v: &Value<'_>, what: &str, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let s = parse::string(v, what, diags)?;
    if s.is_empty() || s.len() > MAX_TEXT_LEN || s.chars().any(char::is_control) {
        diags.push(
            Diagnostic::new(
                Code::InvalidText,
                format!("{what} must be 1 to {MAX_TEXT_LEN} bytes without control characters"),
            )
            .with_span(v.span())
            .with_label("invalid value"),
        );
        return None;
    }
    Some(s.to_owned())
}

fn claims(
    table: &DeTable<'_>,
    span: std::ops::Range<usize>,
    diags: &mut Vec<Diagnostic>,
) -> Option<BTreeMap<String, ClaimTemplate>> {
    if table.len() > MAX_CLAIMS {
        diags.push(
            Diagnostic::new(
                Code::TooManyClaims,
                format!("`claims` has {} entries", table.len()),
            )
            .with_span(span)
            .with_hint(format!("at most {MAX_CLAIMS}")),
        );
        return None;
    }
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (key, value) in table {
        let name: &str = key.get_ref();
        if RESERVED_CLAIMS.contains(&name) {
            diags.push(
                Diagnostic::new(Code::ReservedClaim, format!("claim `{name}` cannot be set in `claims`"))
                    .with_span(key.span())
                    .with_label("set by the engine")
                    .with_hint("`iss` and `aud` come from `issuer` and `audience`; `iat`, `exp` and `nbf` from the clock and `ttl`; `jti` is random per token"),
            );
            ok = false;
            continue;
        }
        if name.is_empty() || name.len() > 128 {
            diags.push(
                Diagnostic::new(Code::InvalidClaimName, "claim names are 1 to 128 bytes")
                    .with_span(key.span())
                    .with_label("invalid claim name"),
            );
            ok = false;
            continue;
        }
        let DeValue::String(text) = value.get_ref() else {
            parse::string(value, &format!("claim `{name}`"), diags);
            ok = false;
            continue;
        };
        if text.len() > MAX_TEXT_LEN {
            diags.push(
                Diagnostic::new(
                    Code::InvalidText,
                    format!("claim `{name}` is longer than {MAX_TEXT_LEN} bytes"),
                )
                .with_span(value.span()),
            );
            ok = false;
            continue;
        }
        match ClaimTemplate::parse(text) {
            Ok(t) => {
                out.insert(name.to_owned(), t);
            }
            Err(e) => {
                diags.push(
                    Diagnostic::new(Code::InvalidTemplate, format!("claim `{name}` has an invalid template: {e}"))
                        .with_span(value.span())
                        .with_label("invalid template")
                        .with_hint("placeholders are {customer}, {tags}, {host}, {rule}; write `{{` or `}}` for a literal brace"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
