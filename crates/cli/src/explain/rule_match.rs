//! Why a rule matches a request or not, condition by condition: the "why" of `explain`.
//!
//! The engine decides, and says which rules match (`CompiledPolicy::matching_rules`: block
//! rules on any reading of the path, pass rules on every reading). This re-checks each rule
//! with the engine's own host-pattern and path-glob matchers on the canonical request only so
//! the explanation can name the pattern and the conditions that held; whether a rule matches
//! is always the engine's answer.

use egress_policy_engine::model::{Mode, Rule};
use egress_policy_engine::{Action, CompiledPolicy, ListMatch, canonical::CanonicalHost};
use regex_lite::Regex;

/// The request as rules see it.
pub struct Probe<'a> {
    /// Method as sent.
    pub method: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Canonical host.
    pub host: &'a CanonicalHost,
    /// Port.
    pub port: u16,
    /// Canonical path.
    pub path: &'a str,
    /// The customer, if any.
    pub customer: Option<&'a str>,
    /// The customer's tags.
    pub tags: &'a [String],
}

/// How one rule fares against the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMatch {
    /// Every condition holds.
    pub matched: bool,
    /// What held, in the order checked (`host matches \`*.x\``, `method \`GET\` is listed`).
    pub held: Vec<String>,
    /// The first condition that did not hold.
    pub failed: Option<String>,
    /// The host pattern that matched, when the rule lists hosts, or else the id of the
    /// domain list that covers the host.
    pub pattern: Option<String>,
}

/// The first matching rule of each kind, by index into the policy's rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Candidates {
    /// First matching block rule in enforce mode.
    pub block: Option<(usize, RuleMatch)>,
    /// First matching block rule in report mode.
    pub report: Option<(usize, RuleMatch)>,
    /// First matching inject rule.
    pub inject: Option<(usize, RuleMatch)>,
    /// First matching pass rule.
    pub pass: Option<(usize, RuleMatch)>,
    /// Rules that name the request's host but fail another condition, in file order: the
    /// answer to "why did this rule not apply?".
    pub near_misses: Vec<(usize, RuleMatch)>,
}

/// The first matching rule of each kind. `matching` holds the indices of the rules the engine
/// found matching; the re-check only describes them.
pub fn candidates(policy: &CompiledPolicy, matching: &[usize], probe: &Probe<'_>) -> Candidates {
    let mut found = Candidates::default();
    for (index, rule) in policy.rules().iter().enumerate() {
        let slot = match (rule.action, rule.mode) {
            (Action::Block, Mode::Enforce) => &mut found.block,
            (Action::Block, Mode::Report) => &mut found.report,
            (Action::Inject, _) => &mut found.inject,
            (Action::Pass, _) => &mut found.pass,
        };
        let mut result = match_rule(policy, rule, probe);
        let engine_matched = matching.contains(&index);
        if engine_matched && !result.matched {
            // Met on a reading of the path other than the canonical one, or on the IPv4
            // address an IPv6 host embeds: the engine's matchers, not this re-check, decide.
            result.held.push(match result.failed.take() {
                Some(failed) => {
                    format!("matches on another reading of the request (canonically: {failed})")
                }
                None => "matches on another reading of the request".to_owned(),
            });
            result.matched = true;
        } else if !engine_matched && result.matched {
            result.matched = false;
            result.failed = Some("not every reading of the path matches `paths`".to_owned());
        }
        if result.matched {
            if slot.is_none() {
                *slot = Some((index, result));
            }
        } else if !rule.applies_to_every_host() && !result.held.is_empty() {
            found.near_misses.push((index, result));
        }
    }
    found
}

/// Checks every condition of `rule` against `probe`, stopping at the first that fails. Each
/// check says what held (`None` when the rule does not use that condition) or why it failed.
pub fn match_rule(policy: &CompiledPolicy, rule: &Rule, probe: &Probe<'_>) -> RuleMatch {
    let mut held = Vec::new();
    let checks: [&dyn Fn() -> Result<Option<String>, String>; 8] = [
        &|| host_condition(policy, rule, probe.host),
        &|| {
            listed(
                "scheme",
                rule.effective_schemes()
                    .map(|s| s.iter().map(|s| s.as_str().to_owned()).collect()),
                probe.scheme,
            )
        },
        &|| {
            listed(
                "port",
                rule.effective_ports()
                    .map(|p| p.iter().map(u16::to_string).collect()),
                &probe.port.to_string(),
            )
        },
        &|| listed("method", rule.methods.clone(), probe.method),
        &|| path_condition(rule, probe.path),
        &|| path_regex_condition(rule, probe.path),
        &|| customer_condition(rule, probe.customer),
        &|| tags_condition(rule, probe.tags),
    ];
    for check in checks {
        match check() {
            Ok(Some(what)) => held.push(what),
            Ok(None) => {}
            Err(failed) => {
                return RuleMatch {
                    matched: false,
                    held,
                    failed: Some(failed),
                    pattern: None,
                };
            }
        }
    }
    let pattern = rule
        .hosts
        .iter()
        .flatten()
        .find(|p| p.matches(probe.host))
        .map(ToString::to_string)
        .or_else(|| list_match(policy, rule, probe.host).map(|(id, _)| id));
    RuleMatch {
        matched: true,
        held,
        failed: None,
        pattern,
    }
}

fn host_condition(
    policy: &CompiledPolicy,
    rule: &Rule,
    host: &CanonicalHost,
) -> Result<Option<String>, String> {
    if rule.applies_to_every_host() {
        return Ok(Some("no `hosts`: applies to every host".to_owned()));
    }
    if let Some(pattern) = rule.hosts.iter().flatten().find(|p| p.matches(host)) {
        return Ok(Some(format!("host `{host}` matches `{pattern}`")));
    }
    if let Some((_, description)) = list_match(policy, rule, host) {
        return Ok(Some(description));
    }
    Err(match (&rule.hosts, &rule.lists) {
        (Some(_), None) => format!("host `{host}` matches none of its host patterns"),
        (None, _) => format!("host `{host}` is in none of its lists"),
        (Some(_), Some(_)) => {
            format!("host `{host}` matches none of its host patterns and is in none of its lists")
        }
    })
}

/// The id of the first of the rule's lists that covers `host`, and the why-line saying so:
/// host `x.evil.com` matches list `feed` (entry `evil.com` and its subdomains).
fn list_match(
    policy: &CompiledPolicy,
    rule: &Rule,
    host: &CanonicalHost,
) -> Option<(String, String)> {
    let CanonicalHost::Domain(name) = host else {
        return None;
    };
    let (list, entry) = policy.rule_list_match(rule, name)?;
    let covers = match list.matching {
        ListMatch::Exact => "",
        ListMatch::Subdomains => " and its subdomains",
    };
    Some((
        list.id.clone(),
        format!(
            "host `{host}` matches list `{}` (entry `{entry}`{covers})",
            list.id
        ),
    ))
}

fn listed(what: &str, values: Option<Vec<String>>, actual: &str) -> Result<Option<String>, String> {
    match values {
        None => Ok(None),
        Some(values) if values.iter().any(|v| v == actual) => {
            Ok(Some(format!("{what} `{actual}` is listed")))
        }
        Some(values) => Err(format!(
            "{what} `{actual}` is not in [{}]",
            values.join(", ")
        )),
    }
}

fn path_condition(rule: &Rule, path: &str) -> Result<Option<String>, String> {
    match &rule.paths {
        None => Ok(None),
        Some(globs) => globs
            .iter()
            .find(|g| g.matches(path))
            .map(|g| Some(format!("path `{path}` matches `{g}`")))
            .ok_or_else(|| format!("path `{path}` matches none of its `paths`")),
    }
}

fn path_regex_condition(rule: &Rule, path: &str) -> Result<Option<String>, String> {
    let Some(pattern) = &rule.path_regex else {
        return Ok(None);
    };
    // The policy compiled, so the regex is valid; should it still not build here, say so
    // rather than guess.
    match Regex::new(pattern) {
        Ok(regex) if regex.is_match(path) => {
            Ok(Some(format!("path `{path}` matches regex `{pattern}`")))
        }
        Ok(_) => Err(format!("path `{path}` does not match regex `{pattern}`")),
        Err(_) => Err(format!(
            "regex `{pattern}` could not be rebuilt to explain it"
        )),
    }
}

fn customer_condition(rule: &Rule, customer: Option<&str>) -> Result<Option<String>, String> {
    match (&rule.customers, customer) {
        (None, _) => Ok(None),
        (Some(listed), Some(c)) if listed.iter().any(|l| l == c) => {
            Ok(Some(format!("customer `{c}` is listed")))
        }
        (Some(_), Some(c)) => Err(format!("customer `{c}` is not listed")),
        (Some(_), None) => Err("no customer".to_owned()),
    }
}

fn tags_condition(rule: &Rule, tags: &[String]) -> Result<Option<String>, String> {
    match &rule.tags {
        None => Ok(None),
        Some(listed) => tags
            .iter()
            .find(|t| listed.contains(t))
            .map(|t| Some(format!("tag `{t}` is listed")))
            .ok_or_else(|| format!("none of the tags [{}] is listed", tags.join(", "))),
    }
}
