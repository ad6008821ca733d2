//! How a request was decided, reported by the code that decides it: what canonicalisation
//! changed in the URL, and how each rule whose hosts match fared, condition by condition and
//! reading by reading of the path. `explain` renders it; nothing outside the engine evaluates
//! a rule.
//!
//! The decider takes a [`Tracer`]. [`CompiledPolicy::decide`](crate::CompiledPolicy::decide)
//! passes [`NoTrace`], which records nothing and compiles away: each report is a closure it
//! never calls. [`CompiledPolicy::explain`](crate::CompiledPolicy::explain) records a
//! [`Trace`].

use crate::domain_list::DomainList;
use crate::host_pattern::HostPattern;
use crate::model::Rule;

/// What the decider reports, as it decides.
pub trait Tracer<'m> {
    /// Whether anything is recorded: a step that exists only to be described is skipped when
    /// not (the plain-URL fast path, which describes no canonicalisation, is taken instead).
    const ON: bool;
    /// Records the event `report` makes, if anything is recorded.
    fn record(&mut self, report: impl FnOnce() -> Event<'m>);
}

/// The tracer of [`CompiledPolicy::decide`](crate::CompiledPolicy::decide): records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl<'m> Tracer<'m> for NoTrace {
    const ON: bool = false;
    #[inline(always)]
    fn record(&mut self, _: impl FnOnce() -> Event<'m>) {}
}

/// One step of a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<'m> {
    /// What canonicalisation changed, part by part (none when the URL was canonical).
    Canonicalised(Vec<Change>),
    /// A rule whose hosts match the request, and how; its conditions are checked next.
    Rule(&'m Rule, Option<HostMatch<'m>>),
    /// A condition of the last rule, checked.
    Check(Check),
    /// The last rule matches the request (an inject rule may still be refused).
    Matched,
}

/// A part of the URL as written that canonicalisation changed: host `ⓜalicious.com.` ->
/// `malicious.com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// `scheme`, `host`, `port` or `path`.
    pub part: &'static str,
    /// As written.
    pub from: String,
    /// As decided on.
    pub to: String,
    /// The steps that made the change.
    pub why: String,
}

/// How a rule's host condition holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch<'m> {
    /// The rule names no hosts: it applies to every host.
    Every,
    /// This pattern matches the host.
    Pattern(&'m HostPattern),
    /// This pattern names the IPv4 address that the IPv6 host embeds (block rules only).
    Embedded(&'m HostPattern),
    /// This list covers the host, by this listed name.
    List(&'m DomainList, String),
}

/// A condition that lists values the request's must be among.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// `schemes` ([`Rule::effective_schemes`]).
    Scheme,
    /// `ports` ([`Rule::effective_ports`]).
    Port,
    /// `methods`.
    Method,
    /// `customers`.
    Customer,
    /// `tags`: any of the request's.
    Tags,
}

/// How one reading of the path fares against a rule's `paths` and `path_regex`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathFit {
    /// Both hold; the index of the first of `paths` that matches (`None` without `paths`).
    Holds(Option<usize>),
    /// None of `paths` matches.
    NotInPaths,
    /// `path_regex` does not match.
    NotRegex,
}

impl PathFit {
    /// Whether the path conditions hold.
    pub fn holds(self) -> bool {
        matches!(self, PathFit::Holds(_))
    }
}

/// One condition of a rule, checked against the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// A listed condition: the index of the rule's entry the request's value equals (for
    /// `tags`, the entry equal to the first of the request's tags that is listed), `None`
    /// when none does.
    Listed(Condition, Option<usize>),
    /// The path conditions on one reading of the path: the reading that matched (a block
    /// rule's), the one that did not (a pass or inject rule's), or else the canonical path.
    Path {
        /// The reading.
        reading: String,
        /// Compared ignoring ASCII case (block rules also match so).
        ignore_case: bool,
        /// How it fared.
        fit: PathFit,
    },
    /// The path reads in more ways than are weighed: a block rule's path conditions hold on
    /// it, a pass or inject rule's do not.
    TooManyReadings(bool),
}

impl Check {
    /// Whether the condition holds.
    pub fn holds(&self) -> bool {
        match self {
            Check::Listed(_, entry) => entry.is_some(),
            Check::Path { fit, .. } => fit.holds(),
            Check::TooManyReadings(held) => *held,
        }
    }
}

/// A rule whose hosts match the request, and how it fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleTrace<'m> {
    /// The rule.
    pub rule: &'m Rule,
    /// How its hosts match (`None` only if the index matched a rule no pattern of which
    /// matches the host: never).
    pub host: Option<HostMatch<'m>>,
    /// Its conditions in the order checked; checking stops at the first that fails.
    pub checks: Vec<Check>,
    /// Whether it matches the request.
    pub matched: bool,
}

/// A recorded decision: the tracer of [`CompiledPolicy::explain`](crate::CompiledPolicy::explain).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace<'m> {
    /// What canonicalisation changed; empty when the URL did not parse.
    pub changes: Vec<Change>,
    /// Every rule whose hosts match the request, in file order; none when the request was
    /// refused before rules were consulted.
    pub rules: Vec<RuleTrace<'m>>,
}

impl<'m> Tracer<'m> for Trace<'m> {
    const ON: bool = true;
    fn record(&mut self, report: impl FnOnce() -> Event<'m>) {
        match report() {
            Event::Canonicalised(changes) => self.changes = changes,
            Event::Rule(rule, host) => self.rules.push(RuleTrace {
                rule,
                host,
                checks: Vec::new(),
                matched: false,
            }),
            Event::Check(check) => {
                // The canonical path checked twice (an inject rule's) is reported once.
                if let Some(last) = self.rules.last_mut()
                    && last.checks.last() != Some(&check)
                {
                    last.checks.push(check);
                }
            }
            Event::Matched => {
                if let Some(last) = self.rules.last_mut() {
                    last.matched = true;
                }
            }
        }
    }
}
