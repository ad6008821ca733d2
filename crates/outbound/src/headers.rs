//! Which request headers change before forwarding.
//!
//! The plan is computed from the client's header names (and the `Host` value) and applied by
//! the Worker to a fresh copy of the headers (`Headers.delete` and `Headers.set`, both
//! case-insensitive in the Fetch standard).

use std::fmt;

use egress_policy_engine::header_names::{is_forwarded_on_inject, same_header_name};
use egress_policy_engine::{Credential, Target};

use crate::token::Token;

/// The header every inject strips besides the credential's own header.
const AUTHORIZATION: &str = "authorization";

/// Header changes for one forwarded request.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HeaderPlan {
    /// Header names to delete (lower case, each once), every value of each.
    pub remove: Vec<String>,
    /// The credential header to set after the deletions: (name, prefix + token).
    pub set: Option<(String, String)>,
}

impl fmt::Debug for HeaderPlan {
    /// Shows the names only: the value set carries a token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderPlan")
            .field("remove", &self.remove)
            .field("set", &self.set.as_ref().map(|(name, _)| name))
            .finish()
    }
}

/// The header plan for a forwarded request. `headers` are the client's headers: on a pass
/// only `Host` matters and the caller may give just that one; on inject every name is read.
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
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
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
    }
    let mut host_disagrees = false;
    for (name, value) in headers {
        let is_host = name.eq_ignore_ascii_case("host");
        if is_host && !host_agrees(value, target) {
            host_disagrees = true;
        }
        if let Some((credential, _)) = inject
            && !is_host
            && (same_header_name(name, &credential.header)
                || same_header_name(name, AUTHORIZATION)
                || !is_forwarded_on_inject(name, &credential.forward_headers))
        {
            strip(name);
        }
    }
    if host_disagrees {
        strip("host");
    }
    let set = inject.map(|(credential, token)| {
        (
            credential.header.clone(),
            format!("{}{}", credential.prefix, token.as_str()),
        )
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
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        // IPv6 literal: `[addr]` or `[addr]:port`; the target keeps the brackets.
        match rest.split_once(']') {
            Some((addr, after)) => match after {
                "" => (format!("[{addr}]"), None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (format!("[{addr}]"), Some(port)),
                    None => return false,
                },
            },
            None => return false,
        }
    } else {
        match value.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (value.clone(), None),
        }
    };
    let host = host.strip_suffix('.').unwrap_or(&host);
    let port_agrees = port.is_none_or(|port| port.parse::<u16>() == Ok(target.port));
    host == target.host && port_agrees
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use egress_policy_engine::JwtAlgorithm;

    /// Applies `plan` to a list of headers the way `Headers.delete` then `Headers.set` do.
    fn apply(plan: &HeaderPlan, headers: &mut Vec<(String, String)>) {
        headers.retain(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            let replaced = plan
                .set
                .as_ref()
                .is_some_and(|(set, _)| set.eq_ignore_ascii_case(&lower));
            !replaced && !plan.remove.contains(&lower)
        });
        if let Some((name, value)) = &plan.set {
            headers.push((name.clone(), value.clone()));
        }
    }

    fn target(host: &str, port: u16) -> Target {
        Target {
            scheme: "https".into(),
            host: host.into(),
            port,
            path: "/".into(),
            query: None,
        }
    }

    fn credential(header: &str, prefix: &str) -> Credential {
        Credential {
            id: "api".into(),
            algorithm: JwtAlgorithm::HS256,
            secret: "S".into(),
            key_id: None,
            next: None,
            issuer: "i".into(),
            audience: "a".into(),
            ttl: 60,
            header: header.into(),
            prefix: prefix.into(),
            claims: BTreeMap::new(),
            forward_headers: vec!["X-Api-Version".into()],
        }
    }

    fn list(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn plan_for(
        headers: &[(String, String)],
        target: &Target,
        inject: Option<(&Credential, &Token)>,
    ) -> HeaderPlan {
        forward_plan(
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            target,
            inject,
        )
    }

    #[test]
    fn pass_leaves_headers_alone() {
        let headers = list(&[
            ("Authorization", "Bearer client"),
            ("Host", "api.example.com"),
            ("X-Thing", "1"),
        ]);
        let plan = plan_for(&headers, &target("api.example.com", 443), None);
        assert!(plan.is_unchanged());
        let mut applied = headers.clone();
        apply(&plan, &mut applied);
        assert_eq!(applied, headers);
    }

    #[test]
    fn inject_strips_mixed_case_duplicates_and_authorization() {
        let cred = credential("X-Api-Token", "Token ");
        let token = Token::new("minted".into());
        let mut headers = list(&[
            ("x-api-token", "spoof-1"),
            ("X-API-TOKEN", "spoof-2"),
            ("AUTHORIZATION", "Bearer spoof-3"),
            ("authorization", "Basic spoof-4"),
            ("Accept", "application/json"),
        ]);
        let plan = plan_for(
            &headers,
            &target("api.example.com", 443),
            Some((&cred, &token)),
        );
        assert_eq!(plan.remove, vec!["x-api-token", "authorization"]);
        apply(&plan, &mut headers);
        assert_eq!(
            headers,
            list(&[
                ("Accept", "application/json"),
                ("X-Api-Token", "Token minted")
            ])
        );
        assert!(!format!("{plan:?}").contains("minted"));
    }

    #[test]
    fn inject_into_authorization_replaces_every_client_value() {
        let cred = credential("Authorization", "Bearer ");
        let token = Token::new("t0k".into());
        let mut headers = list(&[("authorization", "Bearer a"), ("Authorization", "Bearer b")]);
        let plan = plan_for(&headers, &target("h.test", 443), Some((&cred, &token)));
        apply(&plan, &mut headers);
        assert_eq!(headers, list(&[("Authorization", "Bearer t0k")]));
    }

    #[test]
    fn inject_sets_the_header_even_when_the_client_sent_none() {
        let cred = credential("Authorization", "Bearer ");
        let token = Token::new("t".into());
        let mut headers = Vec::new();
        let plan = plan_for(&headers, &target("h.test", 443), Some((&cred, &token)));
        assert_eq!(plan.remove, vec!["authorization"]);
        apply(&plan, &mut headers);
        assert_eq!(headers, list(&[("Authorization", "Bearer t")]));
    }

    #[test]
    fn inject_keeps_only_allowed_headers() {
        let cred = credential("X-Api-Token", "");
        let token = Token::new("minted".into());
        let mut headers = list(&[
            ("X_Api_Token", "spoof-1"),
            ("x_API-token", "spoof-2"),
            ("Authorization", "Bearer spoof-3"),
            ("AUTHORIZATION_", "not on the allow-list"),
            ("X-HTTP-Method-Override", "DELETE"),
            ("x_http_method", "DELETE"),
            ("X-Method-Override", "PUT"),
            ("X-Original-URL", "/admin"),
            ("x-rewrite-url", "/admin"),
            ("X-Forwarded-Host", "evil.test"),
            ("X_Forwarded_Prefix", "/admin"),
            ("x-forwarded-for", "10.0.0.1"),
            ("Forwarded", "host=evil.test"),
            ("X-Forwarded", "not on the allow-list"),
            ("Accept", "*/*"),
            ("content_type", "application/json"),
            ("x-api-version", "2026-01"),
        ]);
        let plan = plan_for(
            &headers,
            &target("api.example.com", 443),
            Some((&cred, &token)),
        );
        apply(&plan, &mut headers);
        assert_eq!(
            headers,
            list(&[
                ("Accept", "*/*"),
                ("content_type", "application/json"),
                ("x-api-version", "2026-01"),
                ("X-Api-Token", "minted"),
            ])
        );
        assert_eq!(
            plan.remove.iter().filter(|n| *n == "x-api-token").count(),
            1,
            "each name once: {:?}",
            plan.remove
        );
    }

    #[test]
    fn pass_keeps_override_headers() {
        let headers = list(&[
            ("X-Forwarded-Host", "a.test"),
            ("X-HTTP-Method-Override", "PUT"),
        ]);
        assert!(plan_for(&headers, &target("a.test", 443), None).is_unchanged());
    }

    #[test]
    fn host_header_disagreeing_with_the_url_is_dropped() {
        let t = target("api.example.com", 443);
        for agreeing in [
            "api.example.com",
            "API.Example.com",
            "api.example.com.",
            "api.example.com:443",
        ] {
            let plan = plan_for(&list(&[("Host", agreeing)]), &t, None);
            assert!(plan.is_unchanged(), "{agreeing} should be kept");
        }
        for disagreeing in [
            "evil.com",
            "api.example.com:8443",
            "api.example.com.evil.com",
            "api.example.com:x",
            "",
        ] {
            let plan = plan_for(&list(&[("host", disagreeing)]), &t, None);
            assert_eq!(plan.remove, vec!["host"], "{disagreeing} should be dropped");
        }
    }

    #[test]
    fn ipv6_host_header() {
        let t = target("[::1]", 8080);
        assert!(plan_for(&list(&[("Host", "[::1]:8080")]), &t, None).is_unchanged());
        assert!(plan_for(&list(&[("Host", "[::1]")]), &t, None).is_unchanged());
        assert_eq!(
            plan_for(&list(&[("Host", "[::2]:8080")]), &t, None).remove,
            vec!["host"]
        );
        assert_eq!(
            plan_for(&list(&[("Host", "[::1")]), &t, None).remove,
            vec!["host"]
        );
    }
}
