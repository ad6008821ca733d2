#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The traced decision: `explain` reports, from the code that decides, what canonicalisation
//! changed and how each rule whose hosts match fared, condition by condition and reading by
//! reading of the path.

use egress_policy_engine::trace::{Check, Condition, HostMatch, PathFit, RuleTrace};
use egress_policy_engine::{Action, CompiledPolicy, Reason, Refusal, Request, Trace, compile};

const POLICY: &str = r#"version = 1
[[rules]]
id = "admin"
action = "block"
hosts = ["api.test"]
paths = ["/v1/x", "/admin/**"]

[[rules]]
id = "partners"
action = "pass"
hosts = ["*.api.test", "api.test"]
paths = ["/v1/**"]
customers = ["acme"]

[[rules]]
id = "token"
action = "inject"
hosts = ["api.test"]
paths = ["/v2/**"]
credential = "c"

[[rules]]
id = "metadata"
action = "block"
hosts = ["169.254.169.254"]

[credentials.c]
algorithm = "HS256"
secret = "K"
issuer = "i"
audience = "a"
ttl = 60
"#;

fn policy() -> CompiledPolicy {
    compile("p.toml", POLICY).unwrap().policy
}

fn explain<'p>(
    policy: &'p CompiledPolicy,
    method: &str,
    url: &str,
) -> (egress_policy_engine::Decision, Trace<'p>) {
    policy.explain(&Request {
        method,
        url,
        customer: Some("acme"),
        tags: Some(&[]),
    })
}

fn rule<'t, 'p>(trace: &'t Trace<'p>, id: &str) -> &'t RuleTrace<'p> {
    trace.rules.iter().find(|r| r.rule.id == id).unwrap()
}

fn path(reading: &str, ignore_case: bool, fit: PathFit) -> Check {
    Check::Path {
        reading: reading.into(),
        ignore_case,
        fit,
    }
}

#[test]
fn a_block_rule_names_the_reading_that_matched() {
    let p = policy();
    let (decision, trace) = explain(&p, "GET", "https://api.test/v1/..%2Fadmin/users");
    assert_eq!(decision.rule.unwrap().id, "admin");
    let admin = rule(&trace, "admin");
    assert!(admin.matched);
    assert!(matches!(admin.host, Some(HostMatch::Pattern(p)) if p.to_string() == "api.test"));
    // The second of the rule's `paths` matched, on a reading, not on the canonical path.
    assert_eq!(
        admin.checks,
        [path("/admin/users", false, PathFit::Holds(Some(1)))]
    );
    // The pass rule holds on the canonical path, but not on every reading: the one that
    // fails is named.
    let partners = rule(&trace, "partners");
    assert!(!partners.matched);
    assert_eq!(
        partners.checks,
        [
            Check::Listed(Condition::Customer, Some(0)),
            path("/admin/users", false, PathFit::NotInPaths)
        ]
    );
    // A block rule matches a reading ignoring case.
    let (_, trace) = explain(&p, "GET", "https://api.test/V1/X");
    assert_eq!(
        rule(&trace, "admin").checks,
        [path("/V1/X", true, PathFit::Holds(Some(0)))]
    );
}

#[test]
fn an_inject_rule_refused_for_an_ambiguous_path_matched_and_says_which_reading() {
    let p = policy();
    let (decision, trace) = explain(&p, "GET", "https://api.test/v2/..%2Fother");
    assert_eq!(
        (decision.action, decision.reason),
        (Action::Block, Some(Reason::Refusal(Refusal::AmbiguousPath)))
    );
    let token = rule(&trace, "token");
    assert!(token.matched);
    assert_eq!(
        token.checks,
        [
            Check::Listed(Condition::Scheme, Some(0)),
            Check::Listed(Condition::Port, Some(0)),
            path("/v2/..%2Fother", false, PathFit::Holds(Some(0))),
            path("/other", false, PathFit::NotInPaths),
        ]
    );
}

#[test]
fn a_near_miss_stops_at_the_condition_that_failed() {
    let p = policy();
    let (decision, trace) = explain(&p, "GET", "http://api.test/v2/x");
    assert_eq!((decision.action, decision.rule), (Action::Pass, None));
    let token = rule(&trace, "token");
    assert!(!token.matched);
    assert_eq!(token.checks, [Check::Listed(Condition::Scheme, None)]);
    // Rules whose hosts do not match are not in the trace.
    assert!(trace.rules.iter().all(|r| r.rule.id != "metadata"));
}

#[test]
fn canonicalisation_is_reported_part_by_part() {
    let p = policy();
    let (_, trace) = explain(&p, "GET", "http://0xa9fea9fe/x/../latest");
    let changes: Vec<String> = trace
        .changes
        .iter()
        .map(|c| format!("{}: {} -> {} ({})", c.part, c.from, c.to, c.why))
        .collect();
    assert_eq!(
        changes,
        [
            "host: 0xa9fea9fe -> 169.254.169.254 (IPv4 spelling read as a dotted quad)",
            "port: (none) -> 80 (the default port of http)",
            "path: /x/../latest -> /latest (dot segments removed)",
        ]
    );
    // A plain URL, which `decide` takes the fast path for, is still described.
    let (_, trace) = explain(&p, "GET", "https://api.test/v1/x");
    assert_eq!(trace.changes.len(), 1);
    assert_eq!(trace.changes[0].why, "the default port of https");
}

#[test]
fn an_embedded_ipv4_address_is_named_for_block_rules() {
    let p = policy();
    let (decision, trace) = explain(&p, "GET", "http://[64:ff9b::a9fe:a9fe]/");
    assert_eq!(decision.rule.unwrap().id, "metadata");
    let metadata = rule(&trace, "metadata");
    assert!(
        matches!(metadata.host, Some(HostMatch::Embedded(p)) if p.to_string() == "169.254.169.254")
    );
}

#[test]
fn refusals_before_the_rules_trace_no_rule() {
    let p = policy();
    for url in ["not a url", "https://u:p@api.test/v1/x"] {
        let (decision, trace) = explain(&p, "GET", url);
        assert_eq!(decision.action, Action::Block, "{url}");
        assert!(trace.rules.is_empty(), "{url}");
    }
    let (decision, trace) = p.explain(&Request {
        method: "GET",
        url: "https://api.test/v1/x",
        customer: None,
        tags: Some(&[]),
    });
    assert_eq!(decision.reason, Some(Reason::Refusal(Refusal::NoCustomer)));
    assert!(trace.rules.is_empty());
}
