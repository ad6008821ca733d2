//! `[credentials.ID]` tables.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeString, DeTable};

use crate::credential::{ClaimTemplate, Credential, JwtAlgorithm, NextKey, TemplatePart};
use crate::diagnostic::{Code, Diagnostic, diag};
use crate::fields;
use crate::header_names::{
    is_forbidden_credential_header, is_header_token, is_override_header, same_header_name,
};
use crate::identity::{CONTEXT_PARAM, CUSTOMER_PARAM, SETTINGS_PREFIX, TAGS_PARAM};
use crate::limits::{MAX_CLAIMS, MAX_CREDENTIALS, MAX_TEXT_LEN, TTL_RANGE, TTL_WARN_ABOVE};
use crate::parse::{self, Fields, Keyword, Value};

use super::{errors, id_error, text};

/// Claims every token carries from the credential's own fields.
pub(crate) const RESERVED_CLAIMS: &[&str] = &["iss", "aud", "iat", "exp", "nbf", "jti"];

/// `kind`'s one name.
const KIND: Keyword<'static, ()> = ("credential kind", Code::UnknownKind, &[("jwt", ())]);

/// `algorithm`'s names (a string of another type is "`algorithm` must be a string").
const ALGORITHM: Keyword<'static, JwtAlgorithm> =
    ("algorithm", Code::UnknownAlgorithm, JwtAlgorithm::NAMES);

/// Validates every credential; only valid ones are returned, the span of every declared
/// one's key put in `spans`.
pub(super) fn validate(
    table: &DeTable<'_>,
    spans: &mut BTreeMap<String, Range<usize>>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Credential> {
    if table.len() > MAX_CREDENTIALS {
        diag!(TooManyCredentials: "the policy has {} credentials", table.len())
            .with_hint(format!("at most {MAX_CREDENTIALS}"))
            .push_to(diags);
        return BTreeMap::new();
    }
    let valid = table.iter().filter_map(|(key, value)| {
        let id: &str = key.get_ref();
        if let Some(d) = id_error("credential", Code::InvalidCredentialId, id) {
            return d.with_span(key.span()).fail(diags);
        }
        // Declared even when invalid, so rules naming it are not told it does not exist.
        spans.insert(id.to_owned(), key.span());
        Some((id.to_owned(), credential(id, value, key.span(), diags)?))
    });
    valid.collect()
}

fn credential(
    id: &str,
    value: &Value<'_>,
    key_span: Range<usize>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Credential> {
    let table = parse::table(value, "a credential", diags)?;
    let errors_before = errors(diags);
    let context = format!("credential `{id}`");
    let fields = Fields::read(table, fields::CREDENTIAL, &context, diags);
    let required = |name: &str, diags: &mut Vec<Diagnostic>| {
        fields.get(name).or_else(|| {
            diag!(MissingField: "credential `{id}` is missing field `{name}`")
                .at(key_span.clone(), format!("no `{name}`"))
                .fail(diags)
        })
    };
    fields.keyword("kind", KIND, diags);
    let algorithm = required("algorithm", diags).and_then(|v| algorithm(v, diags));
    let secret = required("secret", diags).and_then(|v| secret(v, "secret", diags));
    let key_id = (fields.get("key_id")).and_then(|v| text(v, "`key_id`", "invalid value", diags));
    let next = next_key(id, &fields, (secret, key_id), diags);
    let issuer =
        required("issuer", diags).and_then(|v| text(v, "`issuer`", "invalid value", diags));
    let audience =
        required("audience", diags).and_then(|v| text(v, "`audience`", "invalid value", diags));
    let ttl = required("ttl", diags).and_then(|v| ttl(id, v, diags));
    let header = (fields.get("header")).map_or(Some("Authorization"), |v| header(v, diags));
    let prefix = (fields.get("prefix")).map_or(Some("Bearer "), |v| prefix(v, diags));
    let forward_headers = forward_headers(&fields, header, diags);
    let claims = fields.get("claims").and_then(|v| claims(v, diags));
    // Every field not given is valid; one given and invalid was reported as an error.
    if errors(diags) > errors_before {
        return None;
    }
    let mut claims = claims.unwrap_or_default();
    // `sub` defaults to the customer, made explicit here so the minting side need not know.
    claims
        .entry("sub".to_owned())
        .or_insert_with(|| ClaimTemplate {
            parts: vec![TemplatePart::Customer],
        });
    // So some claim (the effective `sub` included) must vary with the customer.
    if !(claims.values()).any(|template| template.parts.contains(&TemplatePart::Customer)) {
        let span = fields.get("claims").map_or(key_span, Spanned::span);
        diag!(CustomerLessCredential: "no claim of credential `{id}` renders `{{customer}}`")
            .at(span, "the same token for every customer")
            .with_hint("put `{customer}` in a claim (e.g. `sub = \"{customer}\"`, the default when `sub` is not set) so the API can tell customers apart")
            .push_to(diags);
    }
    Some(Credential {
        id: id.to_owned(),
        algorithm: algorithm?,
        secret: secret?.to_owned(),
        key_id: key_id.map(str::to_owned),
        next,
        issuer: issuer?.to_owned(),
        audience: audience?.to_owned(),
        ttl: ttl?,
        header: header?.to_owned(),
        prefix: prefix?.to_owned(),
        claims,
        forward_headers: forward_headers.unwrap_or_default(),
    })
}

fn algorithm(v: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<JwtAlgorithm> {
    let name = parse::string(v, "`algorithm`", diags)?;
    parse::one_of(name, v.span(), ALGORITHM, diags)
}

/// `next_secret` and `next_key_id`: both or neither, beside a `key_id` (during a rotation the
/// API picks the key by `kid`), each naming another key than the active one.
fn next_key(
    id: &str,
    fields: &Fields<'_, '_>,
    (active_secret, active_kid): (Option<&str>, Option<&str>),
    diags: &mut Vec<Diagnostic>,
) -> Option<NextKey> {
    let (secret_v, kid_v) = (fields.get("next_secret"), fields.get("next_key_id"));
    let secret = secret_v.and_then(|v| secret(v, "next_secret", diags));
    let kid = kid_v.and_then(|v| text(v, "`next_key_id`", "invalid value", diags));
    let (given, missing) = match (secret_v, kid_v) {
        (None, None) => return None,
        (Some(s), None) => (s, "next_secret` but no `next_key_id"),
        (None, Some(k)) => (k, "next_key_id` but no `next_secret"),
        (Some(_), Some(k)) if fields.get("key_id").is_none() => (k, "next_key_id` but no `key_id"),
        (Some(s), Some(k)) => {
            // A next key like the active one is an error: the credential is dropped anyway.
            for (field, v, next, active_field, active) in [
                ("next_secret", s, secret, "secret", active_secret),
                ("next_key_id", k, kid, "key_id", active_kid),
            ] {
                if let Some(next) = next.filter(|next| Some(*next) == active) {
                    diag!(NextKeyNotDistinct: "`{field}` is the active key's `{active_field}` (`{next}`)")
                        .at(v.span(), format!("same as `{active_field}`"))
                        .with_hint("the next key is another key, in a Worker secret of its own, with a `kid` of its own (name both after the month it becomes active, e.g. `2027-05`)")
                        .push_to(diags);
                }
            }
            return Some(NextKey {
                secret: secret?.to_owned(),
                key_id: kid?.to_owned(),
            });
        }
    };
    diag!(IncompleteNextKey: "credential `{id}` has `{missing}`")
        .at(given.span(), "the next key needs all three")
        .with_hint("during a rotation the API picks the key by the token's `kid`: set `next_secret`, `next_key_id` and the active key's `key_id`, or no `next_*`")
        .fail(diags)
}

fn secret<'a>(v: &'a Value<'_>, field: &str, diags: &mut Vec<Diagnostic>) -> Option<&'a str> {
    let s = parse::string(v, &format!("`{field}`"), diags)?;
    if !crate::is_name(s, 128, b"_") || s.starts_with(|c: char| c.is_ascii_digit()) {
        // The value is not echoed: someone may have pasted the key itself here.
        return diag!(InvalidSecretName: "`{field}` must name a Worker secret, not hold a key")
            .at(v.span(), "not a secret name")
            .with_hint("write the secret's binding name, e.g. `EXAMPLE_API_SIGNING_KEY` (letters, digits, `_`)")
            .fail(diags);
    }
    if is_reserved_env_name(s) {
        return diag!(ReservedSecretName: "`{field}` names `{s}`, which is not a signing key")
            .at(v.span(), "an identity parameter or a setting of this Worker")
            .with_hint("`customer_name`, `customer_tags` and `customer_context` are set per customer by the dispatcher, and `EGRESS_*` names are this Worker's settings (some public): a key read from them is known to others; store the key in a Worker secret of its own (`wrangler secret put NAME`)")
            .fail(diags);
    }
    Some(s)
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

fn ttl(id: &str, v: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<u32> {
    let n = parse::integer(v, "`ttl`", diags)?;
    if !TTL_RANGE.contains(&n) {
        let (shortest, longest) = (TTL_RANGE.start(), TTL_RANGE.end());
        return diag!(TtlOutOfRange: "`ttl` of {n} seconds is out of range")
            .at(v.span(), "out of range")
            .with_hint(format!("a token lives {shortest} to {longest} seconds"))
            .fail(diags);
    }
    if n > TTL_WARN_ABOVE {
        diag!(LongTtl: "tokens of credential `{id}` live {n} seconds")
            .at(v.span(), format!("more than {TTL_WARN_ABOVE} seconds"))
            .with_hint("a leaked token is of use for its whole lifetime; a few minutes (`ttl = 300`) is plenty for tokens minted per request and cached")
            .push_to(diags);
    }
    u32::try_from(n).ok()
}

/// The credential's `header`: a header name the token may travel in. The name is echoed: it
/// is a header name the policy author wrote, never a secret.
fn header<'a>(v: &'a Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<&'a str> {
    let h = parse::string(v, "`header`", diags)?;
    if !is_header_token(h) {
        return diag!(InvalidHeaderName: "`{h}` is not a valid header name")
            .at(v.span(), "invalid header name")
            .fail(diags);
    }
    if !is_forbidden_credential_header(h) {
        return Some(h);
    }
    let (label, hint) = if is_override_header(h) {
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
    diag!(ForbiddenCredentialHeader: "a credential cannot be carried in the `{h}` header")
        .at(v.span(), label)
        .with_hint(hint)
        .fail(diags)
}

fn prefix<'a>(v: &'a Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<&'a str> {
    let p = parse::string(v, "`prefix`", diags)?;
    if p.len() > 128 || p.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return diag!(InvalidPrefix: "`prefix` must be printable ASCII, at most 128 bytes")
            .at(v.span(), "invalid prefix")
            .fail(diags);
    }
    Some(p)
}

/// `forward_headers`: header names a credential's requests keep besides the default
/// allow-list. Never one a token must not travel with, nor `Authorization` or the
/// credential's own header (always replaced by the token).
fn forward_headers(
    fields: &Fields<'_, '_>,
    credential_header: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<String>> {
    fields.list("forward_headers", diags, |item, diags| {
        let name = parse::string(item, "a header name", diags)?;
        let replaced = same_header_name(name, "authorization")
            || credential_header.is_some_and(|h| same_header_name(name, h));
        let d = if !is_header_token(name) {
            diag!(InvalidHeaderName: "`{name}` is not a valid header name")
                .with_label("invalid header name")
        } else if replaced || is_forbidden_credential_header(name) {
            diag!(ForbiddenForwardHeader: "header `{name}` cannot travel with a token")
                .with_label(if replaced { "always replaced by the token" } else { "frames or routes the request, is hop-by-hop, or can reroute it upstream" })
                .with_hint("list only headers the API needs to read the request (such as `X-Api-Version`); the default allow-list already forwards `Accept*`, `Content-*`, `User-Agent`, conditional and range headers")
        } else {
            return Some(name.to_owned());
        };
        d.with_span(item.span()).fail(diags)
    })
}

fn claims(v: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<BTreeMap<String, ClaimTemplate>> {
    let table = parse::table(v, "`claims`", diags)?;
    if table.len() > MAX_CLAIMS {
        return diag!(TooManyClaims: "`claims` has {} entries", table.len())
            .with_span(v.span())
            .with_hint(format!("at most {MAX_CLAIMS}"))
            .fail(diags);
    }
    let checked: Vec<_> = table
        .iter()
        .map(|(key, value)| claim(key, value, diags))
        .collect();
    checked.into_iter().collect()
}

fn claim(
    key: &Spanned<DeString<'_>>,
    value: &Value<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(String, ClaimTemplate)> {
    let name: &str = key.get_ref();
    if RESERVED_CLAIMS.contains(&name) {
        return diag!(ReservedClaim: "claim `{name}` cannot be set in `claims`")
            .at(key.span(), "set by the engine")
            .with_hint("`iss` and `aud` come from `issuer` and `audience`; `iat`, `exp` and `nbf` from the clock and `ttl`; `jti` is random per token")
            .fail(diags);
    }
    if name.is_empty() || name.len() > 128 {
        return diag!(InvalidClaimName: "claim names are 1 to 128 bytes")
            .at(key.span(), "invalid claim name")
            .fail(diags);
    }
    let text = parse::string(value, &format!("claim `{name}`"), diags)?;
    if text.len() > MAX_TEXT_LEN {
        return diag!(InvalidText: "claim `{name}` is longer than {MAX_TEXT_LEN} bytes")
            .with_span(value.span())
            .fail(diags);
    }
    match ClaimTemplate::parse(text) {
        Ok(template) => Some((name.to_owned(), template)),
        Err(e) => diag!(InvalidTemplate: "claim `{name}` has an invalid template: {e}")
            .at(value.span(), "invalid template")
            .with_hint("placeholders are {customer}, {tags}, {host}, {rule}; write `{{` or `}}` for a literal brace")
            .fail(diags),
    }
}
