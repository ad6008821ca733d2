//! Which request headers change before forwarding.
//!
//! The plan is computed from the client's header names (and the `Host` value) and applied by
//! the Worker to a fresh copy of the headers (`Headers.delete` and `Headers.set`, both
//! case-insensitive in the Fetch standard).

use egress_policy_engine::header_names::{is_forwarded_on_inject, same_header_name};
use egress_policy_engine::{Credential, Target};

use crate::token::Token;

/// The header every inject strips besides the credential's own header.
const AUTHORIZATION: &str = "authorization";

/// Header changes for one forwarded request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HeaderPlan {
    /// Header names to delete (lower case, each once), every value of each.
    pub remove: Vec<String>,
    /// The credential header to set after the deletions: (name, prefix + token), its value a
    /// [`Token`] so that `Debug` never shows it.
    pub set: Option<(String, Token)>,
}

/// The header plan for a forwarded request. `host` is the client's `Host` header, `names` the
/// names of all its other headers (only read on inject: a pass may give none).
///
/// - Every forward: a `Host` header that disagrees with the URL's host (and port) is removed;
///   the decision was made on the URL and the header must not send the request elsewhere.
/// - Inject: only the client headers an API call needs travel with the token: the
///   [allow-list](egress_policy_engine::header_names::FORWARDED_ON_INJECT) (`Accept*`,
///   `Content-*`, `User-Agent`, conditional and range headers, ...) and the credential's
///   `forward_headers`; every other header is removed, so no override an upstream may obey
///   (`X-HTTP-Method-Override`, `X-Original-Host`, `Forwarded`, ...), cookie or second
///   credential goes along. The credential's header and `Authorization` are removed in every
///   spelling the client used (any case, `_` for `-`: `X_Api_Token` reaches many servers as
///   `X-Api-Token`). Then the credential's header is set to `prefix + token`. Client
///   credentials are always replaced, never merged.
pub fn forward_plan<'a>(
    host: Option<&str>,
    names: impl IntoIterator<Item = &'a str>,
    target: &Target,
    inject: Option<(&Credential, &Token)>,
) -> HeaderPlan {
    let mut remove: Vec<String> = Vec::new();
    let mut strip = |name: &str| {
        let lower = name.to_ascii_lowercase();
        if !remove.contains(&lower) {
            remove.push(lower);
        }
    };
    if let Some((credential, _)) = inject {
        // Deleted whether or not the client sent them: deleting an absent header is a no-op,
        // and the strip then never depends on reading the client's headers correctly.
        strip(&credential.header);
        strip(AUTHORIZATION);
        for name in names {
            if same_header_name(name, &credential.header)
                || same_header_name(name, AUTHORIZATION)
                || !is_forwarded_on_inject(name, &credential.forward_headers)
            {
                strip(name);
            }
        }
    }
    if host.is_some_and(|value| !host_agrees(value, target)) {
        strip("host");
    }
    let set = inject.map(|(credential, token)| {
        let value = format!("{}{}", credential.prefix, token.as_str());
        (credential.header.clone(), Token::new(value))
    });
    HeaderPlan { remove, set }
}

impl HeaderPlan {
    /// Whether the headers are forwarded exactly as received.
    pub fn is_unchanged(&self) -> bool {
        self.remove.is_empty() && self.set.is_none()
    }
}

/// Whether a `Host` header value names the URL's host and port (the port may be omitted when
/// it is the target's). Compared case-insensitively, one trailing dot ignored.
fn host_agrees(value: &str, target: &Target) -> bool {
    let value = value.trim().to_ascii_lowercase();
    let (host, port) = match value.rsplit_once(':') {
        // An IPv6 literal without a port (`[addr]`) has colons too; the target keeps the
        // brackets, so a malformed literal never equals it.
        Some((host, port)) if !value.ends_with(']') => (host, Some(port)),
        _ => (value.as_str(), None),
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let port_agrees = port.is_none_or(|port| port.parse::<u16>() == Ok(target.port));
    host == target.host && port_agrees
}
