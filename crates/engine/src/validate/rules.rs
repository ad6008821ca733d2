//! One `[[rules]]` entry: action, hosts, conditions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use crate::canonical::Scheme;
use crate::decision::Action;
use crate::diagnostic::{Code, Diagnostic, diag, locate};
use crate::fields;
use crate::host_pattern::HostPattern;
use crate::identity::{MAX_NAME_LEN, is_clean_name};
use crate::limits::{MAX_REGEX_LEN, MAX_RULES, REGEX_SIZE_LIMIT};
use crate::model::{Mode, Rule};
use crate::parse::{self, Fields, Keyword, Value};
use crate::path_glob::PathGlob;

use super::{errors, id_error, text, undeclared};

/// A rule's (or `[defaults]`') `mode`.
pub(super) const MODE: Keyword<'static, Mode> = ("mode", Code::UnknownMode, Mode::NAMES);
const SCHEME: Keyword<'static, Scheme> = ("scheme", Code::UnknownScheme, Scheme::NAMES);

/// Validates rules one after the other, remembering ids for duplicates and line numbers.
#[derive(Default)]
pub(super) struct RuleChecker<'t> {
    text: &'t str,
    /// The declared credentials and lists.
    pub(super) credentials: BTreeMap<String, Range<usize>>,
    pub(super) lists: BTreeMap<String, Range<usize>>,
    ids: HashMap<String, Range<usize>, foldhash::fast::RandomState>,
    /// Every credential id a rule names, valid rule or not (for the unused-credential lint).
    pub(super) mentioned: HashSet<String>,
    /// Every list id a rule names, valid rule or not (for the unused-list lint).
    pub(super) mentioned_lists: HashSet<String>,
    /// Line counting resumes from the previous rule (rules come in file order): an offset
    /// and the newlines before it.
    line_cursor: (usize, u32),
    /// `tag-scoped-rule` was reported (once per policy: it is about the deployment), or is not
    /// to be: a policy that declares the deployment passes tags with every request is past it.
    warned_tags: bool,
}

impl<'t> RuleChecker<'t> {
    /// A checker for the rules of the policy `text` (whose `[defaults]` say whether
    /// `tags_required`), before the credentials and lists are declared to it.
    pub(super) fn new(text: &'t str, tags_required: bool) -> Self {
        RuleChecker {
            text,
            warned_tags: tags_required,
            ..Default::default()
        }
    }

    fn line_of(&mut self, offset: usize) -> u32 {
        let (mut from, mut before) = self.line_cursor;
        if offset < from {
            (from, before) = (0, 0);
        }
        let newlines = self
            .text
            .get(from..offset)
            .map_or(0, |s| s.bytes().filter(|&b| b == b'\n').count());
        before = before.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
        self.line_cursor = (offset, before);
        before.saturating_add(1)
    }

    /// Validates the policy's `rules`: the valid rules and the spans of their headers.
    pub(super) fn validate_all(
        &mut self,
        fields: &Fields<'_, '_>,
        diags: &mut Vec<Diagnostic>,
    ) -> (Vec<Rule>, Vec<Range<usize>>) {
        let Some(v) = fields.get("rules") else {
            return (Vec::new(), Vec::new());
        };
        let items = parse::array(v, "`rules`", diags).unwrap_or_default();
        if items.len() > MAX_RULES {
            let span = fields.key_span("rules").unwrap_or_else(|| v.span());
            diag!(TooManyRules: "the policy has {} rules", items.len())
                .at(span, "too many rules")
                .with_hint(format!("a policy has at most {MAX_RULES} rules"))
                .push_to(diags);
            return (Vec::new(), Vec::new());
        }
        let rules = items.iter().filter_map(|item| self.validate(item, diags));
        rules.unzip()
    }

    /// Validates one rule (and the span of its header); `None` when it has an error
    /// (reported in `diags`).
    fn validate(
        &mut self,
        item: &Value<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Rule, Range<usize>)> {
        let table = parse::table(item, "each `rules` entry", diags)?;
        let errors_before = errors(diags);
        let header = header_span(self.text, item.span());
        let line = self.line_of(header.start);
        let fields = Fields::read(table, fields::RULE, "a rule", diags);
        let rule = self.read(&fields, &header, line, diags);
        if errors(diags) > errors_before {
            return None;
        }
        if let Some(v) = fields.get("tags")
            && !std::mem::replace(&mut self.warned_tags, true)
        {
            diag!(TagScopedRule: "a rule is scoped by tag: every request needs the `customer_tags` parameter")
                .at(v.span(), "decided by the customer's tags")
                .with_hint("declare `customer_tags` in the dispatch namespace's outbound `parameters` and pass it for every customer (`[]` for none), then say so with `customer_tags = \"required\"` in `[defaults]`; a request without it is refused `no_tags` (docs/deploy.md)")
                .push_to(diags);
        }
        let rule = rule?;
        if rule.action == Action::Inject {
            inject_lints(&rule, &fields, diags);
        }
        Some((rule, header))
    }

    /// Reads every field of a rule, reporting what is wrong; the rule when it has an id and
    /// an action (errors elsewhere are for the caller to count).
    fn read(
        &mut self,
        fields: &Fields<'_, '_>,
        header: &Range<usize>,
        line: u32,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Rule> {
        let missing = |name: &str| {
            diag!(MissingField: "rule is missing field `{name}`")
                .at(header.clone(), format!("this rule has no `{name}`"))
        };
        let id = match fields.get("id") {
            None => missing("id").fail(diags),
            Some(v) => self.id(v, diags),
        };
        let action = match fields.get("action") {
            None => missing("action")
                .with_hint("add `action = \"block\"`, `\"inject\"` or `\"pass\"`")
                .fail(diags),
            Some(v) => parse::keyword(v, ("action", Code::UnknownAction, Action::NAMES), diags),
        };
        let mode = fields.keyword("mode", MODE, diags);
        let hosts = fields.list("hosts", diags, host);
        let lists = fields.list("lists", diags, |v, diags| self.list_id(v, diags));
        let reason =
            (fields.get("reason")).and_then(|v| text(v, "`reason`", "invalid value", diags));
        let credential =
            (fields.get("credential")).and_then(|v| parse::string(v, "`credential`", diags));
        if let Some(name) = credential {
            self.mentioned.insert(name.to_owned());
        }
        let schemes = fields.list("schemes", diags, |v, diags| {
            parse::keyword(v, SCHEME, diags)
        });
        let ports = fields.list("ports", diags, port);
        let methods = fields.list("methods", diags, method);
        let paths = fields.list("paths", diags, path_glob);
        let path_regex = fields.get("path_regex").and_then(|v| path_regex(v, diags));
        let customers = fields.list("customers", diags, identity_name("customer"));
        let tags = fields.list("tags", diags, identity_name("tag"));
        if let Some(action) = action {
            self.check_action_fields(action, fields, header, credential, diags);
        }
        Some(Rule {
            id: id?,
            line,
            action: action?,
            mode: mode.unwrap_or_default(),
            hosts,
            lists,
            reason: reason.map(str::to_owned),
            credential: credential.map(str::to_owned),
            schemes,
            ports,
            methods,
            paths,
            path_regex,
            customers,
            tags,
        })
    }

    fn id(&mut self, v: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<String> {
        let id = parse::string(v, "`id`", diags)?;
        if let Some(d) = id_error("rule", Code::InvalidRuleId, id) {
            return d.with_span(v.span()).fail(diags);
        }
        if let Some(first) = self.ids.get(id) {
            let first_line = locate(self.text, first.start).line;
            return diag!(DuplicateRuleId: "rule id `{id}` is used twice")
                .at(v.span(), format!("first used on line {first_line}"))
                .with_hint("rule ids are unique: logs and tests name rules by id")
                .fail(diags);
        }
        self.ids.insert(id.to_owned(), v.span());
        Some(id.to_owned())
    }

    /// An id in `lists`, of a declared list.
    fn list_id(&mut self, item: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<String> {
        let id = parse::string(item, "a list id", diags)?;
        self.mentioned_lists.insert(id.to_owned());
        if self.lists.contains_key(id) {
            return Some(id.to_owned());
        }
        undeclared(Code::UnknownList, "list", id, self.lists.keys())
            .with_span(item.span())
            .fail(diags)
    }

    /// Fields that only some actions take, and what inject rules require.
    fn check_action_fields(
        &self,
        action: Action,
        fields: &Fields<'_, '_>,
        header: &Range<usize>,
        credential: Option<&str>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let not_applicable = |name: &str, only: &str| {
            let action = action.as_str();
            let message = format!("`{name}` applies to {only} rules only, not `{action}` rules");
            fields.key_span(name).map(|span| {
                Diagnostic::new(Code::FieldNotApplicable, message)
                    .at(span, "not applicable")
                    .with_hint(format!("remove `{name}`"))
            })
        };
        if action != Action::Block {
            diags.extend(not_applicable("mode", "block"));
            diags.extend(not_applicable("reason", "block"));
            diags.extend(not_applicable("lists", "block").map(|d| {
                d.with_hint("domain lists only block: a feed is never reviewed name by name, so it must not open hosts or receive credentials; name those hosts in `hosts`")
            }));
        }
        if action != Action::Inject {
            diags.extend(not_applicable("credential", "inject"));
            return;
        }
        if fields.get("hosts").is_none() {
            diag!(InjectWithoutHosts: "inject rule has no `hosts`")
                .at(header.clone(), "applies to every host")
                .with_hint("list the hosts the credential is for: a credential is never sent to any host by omission")
                .push_to(diags);
        }
        match (credential, fields.get("credential")) {
            (_, None) => {
                diag!(MissingCredential: "inject rule has no `credential`")
                    .at(header.clone(), "no credential to inject")
                    .with_hint("add `credential = \"ID\"` naming a `[credentials.ID]` table")
                    .push_to(diags);
            }
            (Some(name), Some(v)) if !self.credentials.contains_key(name) => {
                let declared = self.credentials.keys();
                undeclared(Code::UnknownCredential, "credential", name, declared)
                    .with_span(v.span())
                    .push_to(diags);
            }
            _ => {}
        }
    }
}

/// The span of the `[[rules]]` header line when the table has one, else the table's span.
fn header_span(text: &str, span: Range<usize>) -> Range<usize> {
    let line_start = text
        .get(..span.start)
        .and_then(|s| s.rfind('\n'))
        .map_or(0, |i| i + 1);
    let from_line = text.get(line_start..).unwrap_or("");
    if !from_line.trim_start().starts_with("[[") {
        return span;
    }
    let end = from_line.find('\n').map_or(text.len(), |i| line_start + i);
    let crlf = text.get(..end).is_some_and(|s| s.ends_with('\r'));
    line_start..(end - usize::from(crlf)).max(line_start)
}

fn host(item: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<HostPattern> {
    let text = parse::string(item, "a host pattern", diags)?;
    let mut found = Vec::new();
    let pattern = HostPattern::parse(text, &mut found);
    diags.extend(found.into_iter().map(|d| d.with_span(item.span())));
    pattern
}

fn port(item: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<u16> {
    let n = parse::integer(item, "a port", diags)?;
    u16::try_from(n).ok().filter(|p| *p != 0).or_else(|| {
        diag!(InvalidPort: "port `{n}` is out of range")
            .at(item.span(), "not a port")
            .with_hint("ports are 1 to 65535")
            .fail(diags)
    })
}

fn path_glob(item: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<PathGlob> {
    let text = parse::string(item, "a path glob", diags)?;
    PathGlob::parse(text)
        .map_err(|d| d.with_span(item.span()).push_to(diags))
        .ok()
}

/// A customer or tag (`what`) a rule names: a clean name ([`is_clean_name`]), or the rule
/// could never match it (every other name is refused before rules are consulted).
fn identity_name(what: &str) -> impl Fn(&Value<'_>, &mut Vec<Diagnostic>) -> Option<String> {
    move |value, diags| {
        let s = parse::string(value, &format!("a {what}"), diags)?;
        if is_clean_name(s) {
            return Some(s.to_owned());
        }
        let shown: String = s.chars().take(80).collect();
        diag!(InvalidIdentityName: "{what} `{}` can never match", shown.escape_default())
            .at(value.span(), "not a clean name")
            .with_hint(format!("a {what} is 1 to {MAX_NAME_LEN} ASCII letters, digits or `-_.:@+=/`; the Worker refuses every other name"))
            .fail(diags)
    }
}

/// Warnings for an inject rule that sends its token to a family of hosts (a wildcard host
/// pattern), or opts out of https on port 443: its token can travel in cleartext (`schemes`
/// names `http`) or to another port (`ports` names one that is not the default port of a
/// scheme the rule matches).
fn inject_lints(rule: &Rule, fields: &Fields<'_, '_>, diags: &mut Vec<Diagnostic>) {
    let items = fields.get("hosts").and_then(|v| v.get_ref().as_array());
    let hosts = rule.hosts.iter().flatten().zip(items.into_iter().flatten());
    for (pattern, item) in
        hosts.filter(|(p, _)| matches!(p, HostPattern::Subdomains(_) | HostPattern::Glob(_)))
    {
        diag!(WildcardInject: "inject rule `{}` sends its credential to every host `{pattern}` matches", rule.id)
            .at(item.span(), "a whole family of hosts")
            .with_hint("list the exact hosts the credential is for: a wildcard also covers hosts the API owner may not control")
            .push_to(diags);
    }
    let http = rule
        .effective_schemes()
        .is_some_and(|s| s.contains(&Scheme::Http));
    if let (true, Some(v)) = (http, fields.get("schemes")) {
        diag!(InjectOverHttp: "inject rule `{}` sends its token over plain http", rule.id)
            .at(v.span(), "cleartext")
            .with_hint("anyone on the path can read and replay the token; remove `http` unless the upstream is reached over a private network")
            .push_to(diags);
    }
    let default_port = |p: &u16| *p == 443 || (http && *p == 80);
    if let Some(v) = fields.get("ports")
        && rule.ports.iter().flatten().any(|p| !default_port(p))
    {
        diag!(InjectOtherPort: "inject rule `{}` sends its token to a port other than 443", rule.id)
            .at(v.span(), "a non-default port")
            .with_hint("another port on the same host may be another service; list only the port the API listens on")
            .push_to(diags);
    }
}

fn method(value: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let m = parse::string(value, "a method", diags)?;
    if !crate::is_name(m, 32, b"-_") {
        return diag!(InvalidMethod: "`{m}` is not an HTTP method")
            .at(value.span(), "not a method")
            .fail(diags);
    }
    if m.bytes().any(|b| b.is_ascii_lowercase()) {
        return diag!(NonCanonicalMethod: "method `{m}` is not upper case")
            .at(value.span(), "methods are compared exactly")
            .with_hint(format!("write `{}`", m.to_ascii_uppercase()))
            .fail(diags);
    }
    Some(m.to_owned())
}

fn path_regex(value: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let pattern = parse::string(value, "`path_regex`", diags)?;
    if pattern.len() > MAX_REGEX_LEN {
        return diag!(PatternTooLong: "`path_regex` is {} bytes long", pattern.len())
            .at(value.span(), "too long")
            .with_hint(format!("at most {MAX_REGEX_LEN} bytes"))
            .fail(diags);
    }
    let error = match compile_path_regex(pattern, false) {
        Ok(_) => return Some(pattern.to_owned()),
        Err(e) => e.to_string(),
    };
    // The error has no kind, only its text: this one is the size limit's.
    if error.contains("size limit") {
        return diag!(RegexTooLarge: "`path_regex` compiles to more than the size limit")
            .at(value.span(), "too large once compiled")
            .with_hint(
                "simplify the expression (bounded repetitions like `{1000}` multiply its size)",
            )
            .fail(diags);
    }
    let last = Some(error.trim())
        .filter(|d| !d.is_empty())
        .unwrap_or("invalid syntax");
    diag!(InvalidRegex: "`path_regex` is not a valid regular expression: {last}")
        .at(value.span(), "invalid regex")
        .fail(diags)
}

/// Compiles a `path_regex` with the engine's size limit (used by validation and the matcher).
pub(crate) fn compile_path_regex(
    pattern: &str,
    ignore_case: bool,
) -> Result<regex_lite::Regex, regex_lite::Error> {
    regex_lite::RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}
