//! One `[[rules]]` entry: action, hosts, conditions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::canonical::Scheme;
use crate::decision::Action;
use crate::diagnostic::{Code, Diagnostic};
use crate::fields;
use crate::host_pattern::HostPattern;
use crate::identity::MAX_NAME_LEN;
use crate::limits::{MAX_LIST_LEN, MAX_REGEX_LEN, MAX_TEXT_LEN, REGEX_SIZE_LIMIT};
use crate::model::{Mode, Rule};
use crate::parse::{self, Fields, Value};
use crate::path_glob::PathGlob;
use crate::suggest::did_you_mean;

use super::lists::ListSpans;
use super::{CredentialSpans, RuleSpans, valid_id};

/// Validates rules one after the other, remembering ids for duplicates and line numbers.
pub(super) struct RuleChecker<'t> {
    text: &'t str,
    credentials: &'t BTreeMap<String, CredentialSpans>,
    lists: &'t BTreeMap<String, ListSpans>,
    ids: HashMap<String, Range<usize>, foldhash::fast::RandomState>,
    /// Every credential id a rule names, valid rule or not (for the unused-credential lint).
    pub(super) mentioned: HashSet<String>,
    /// Every list id a rule names, valid rule or not (for the unused-list lint).
    pub(super) mentioned_lists: HashSet<String>,
    /// Line counting resumes from the previous rule (rules come in file order).
    line_cursor: (usize, u32),
    /// `tag-scoped-rule` was reported (once per policy: it is about the deployment).
    warned_tags: bool,
}

impl<'t> RuleChecker<'t> {
    pub(super) fn new(
        text: &'t str,
        credentials: &'t BTreeMap<String, CredentialSpans>,
        lists: &'t BTreeMap<String, ListSpans>,
    ) -> Self {
        RuleChecker {
            text,
            credentials,
            lists,
            ids: HashMap::default(),
            mentioned: HashSet::new(),
            mentioned_lists: HashSet::new(),
            line_cursor: (0, 1),
            warned_tags: false,
        }
    }

    fn line_of(&mut self, offset: usize) -> u32 {
        let (mut from, mut line) = self.line_cursor;
        if offset < from {
            (from, line) = (0, 1);
        }
        let newlines = self
            .text
            .get(from..offset)
            .map_or(0, |s| s.bytes().filter(|&b| b == b'\n').count());
        line = line.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
        self.line_cursor = (offset, line);
        line
    }

    /// Validates one rule; `None` when it has an error (reported in `diags`).
    pub(super) fn validate(
        &mut self,
        table: &DeTable<'_>,
        span: Range<usize>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Rule, RuleSpans)> {
        let errors_before = error_count(diags);
        let header = header_span(self.text, span.clone());
        let line = self.line_of(header.start);
        let fields = Fields::read(table, fields::RULE, "a rule", diags);
        let missing = |name: &str| {
            Diagnostic::new(
                Code::MissingField,
                format!("rule is missing field `{name}`"),
            )
            .with_span(header.clone())
            .with_label(format!("this rule has no `{name}`"))
        };

        let id = match fields.get("id") {
            None => {
                diags.push(missing("id"));
                None
            }
            Some(v) => self.id(v, diags),
        };
        let action = match fields.get("action") {
            None => {
                diags.push(
                    missing("action")
                        .with_hint("add `action = \"block\"`, `\"inject\"` or `\"pass\"`"),
                );
                None
            }
            Some(v) => parse::keyword(
                v,
                "action",
                Code::UnknownAction,
                &["block", "inject", "pass"],
                diags,
            )
            .map(|a| match a {
                "block" => Action::Block,
                "inject" => Action::Inject,
                _ => Action::Pass,
            }),
        };
        let mode = fields.get("mode").and_then(|v| {
            parse::keyword(v, "mode", Code::UnknownMode, &["enforce", "report"], diags).map(|m| {
                if m == "report" {
                    Mode::Report
                } else {
                    Mode::Enforce
                }
            })
        });
        let hosts = fields.get("hosts").and_then(|v| hosts(v, diags));
        let lists = fields.get("lists").and_then(|v| self.list_ids(v, diags));
        let reason = fields
            .get("reason")
            .and_then(|v| text_value(v, "`reason`", diags));
        let credential = fields.get("credential").and_then(|v| {
            parse::string(v, "`credential`", diags).map(|s| (s.to_owned(), v.span()))
        });
        if let Some((name, _)) = &credential {
            self.mentioned.insert(name.clone());
        }
        let schemes = fields.get("schemes").and_then(|v| {
            list(v, "`schemes`", diags, |item, diags| {
                parse::keyword(
                    item,
                    "scheme",
                    Code::UnknownScheme,
                    &["http", "https"],
                    diags,
                )
                .and_then(Scheme::parse)
            })
        });
        let ports = fields.get("ports").and_then(|v| {
            list(v, "`ports`", diags, |item, diags| {
                let n = parse::integer(item, "a port", diags)?;
                match u16::try_from(n) {
                    Ok(p) if p != 0 => Some(p),
                    _ => {
                        diags.push(
                            Diagnostic::new(
                                Code::InvalidPort,
                                format!("port `{n}` is out of range"),
                            )
                            .with_span(item.span())
                            .with_label("not a port")
                            .with_hint("ports are 1 to 65535"),
                        );
                        None
                    }
                }
            })
        });
        let methods = fields
            .get("methods")
            .and_then(|v| list(v, "`methods`", diags, method));
        let paths = fields.get("paths").and_then(|v| {
            list(v, "`paths`", diags, |item, diags| {
                let text = parse::string(item, "a path glob", diags)?;
                PathGlob::parse(text)
                    .map_err(|d| diags.push((*d).with_span(item.span())))
                    .ok()
            })
        });
        let path_regex = fields.get("path_regex").and_then(|v| path_regex(v, diags));
        let customers = fields.get("customers").and_then(|v| {
            list(v, "`customers`", diags, |item, diags| {
                identity_name(item, "customer", diags)
            })
        });
        let tags = fields.get("tags").and_then(|v| {
            list(v, "`tags`", diags, |item, diags| {
                identity_name(item, "tag", diags)
            })
        });

        if let Some(action) = action {
            self.check_action_fields(action, &fields, &header, credential.as_ref(), diags);
        }

        if error_count(diags) > errors_before {
            return None;
        }
        if let Some(v) = fields.get("tags")
            && !std::mem::replace(&mut self.warned_tags, true)
        {
            diags.push(
                Diagnostic::new(Code::TagScopedRule, "a rule is scoped by tag: every request needs the `customer_tags` parameter")
                    .with_span(v.span())
                    .with_label("decided by the customer's tags")
                    .with_hint("declare `customer_tags` in the dispatch namespace's outbound `parameters` and pass it for every customer (`[]` for none), then say so with `customer_tags = \"required\"` in `[defaults]`; a request without it is refused `no_tags` (docs/deploy.md)"),
            );
        }
        let rule = Rule {
            id: id?,
            line,
            action: action?,
            mode: mode.unwrap_or_default(),
            hosts,
            lists,
            reason,
            credential: credential.map(|(c, _)| c),
            schemes,
            ports,
            methods,
            paths,
            path_regex,
            customers,
            tags,
        };
        if rule.action == Action::Inject {
            inject_transport_lints(&rule, &fields, diags);
        }
        let spans = RuleSpans {
            header,
            hosts: match fields.get("hosts").map(|v| v.get_ref()) {
                Some(DeValue::Array(items)) => items.iter().map(|item| item.span()).collect(),
                _ => Vec::new(),
            },
        };
        Some((rule, spans))
    }

    fn id(&mut self, v: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<String> {
        let id = parse::string(v, "`id`", diags)?;
        if !valid_id(id) {
            diags.push(
                Diagnostic::new(Code::InvalidRuleId, format!("rule id `{id}` is not valid"))
                    .with_span(v.span())
                    .with_label("invalid id")
                    .with_hint("ids are 1 to 128 letters, digits, `-`, `_` or `.`"),
            );
            return None;
        }
        if let Some(first) = self.ids.get(id) {
            let first_line = crate::diagnostic::locate(self.text, first.start).line;
            diags.push(
                Diagnostic::new(
                    Code::DuplicateRuleId,
                    format!("rule id `{id}` is used twice"),
                )
                .with_span(v.span())
                .with_label(format!("first used on line {first_line}"))
                .with_hint("rule ids are unique: logs and tests name rules by id"),
            );
            return None;
        }
        self.ids.insert(id.to_owned(), v.span());
        Some(id.to_owned())
    }

    /// The ids of `lists`, each of a declared list.
    fn list_ids(&mut self, value: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<Vec<String>> {
        let declared = self.lists;
        let mentioned = &mut self.mentioned_lists;
        list(value, "`lists`", diags, |item, diags| {
            let id = parse::string(item, "a list id", diags)?;
            mentioned.insert(id.to_owned());
            if declared.contains_key(id) {
                return Some(id.to_owned());
            }
            let hint = match did_you_mean(id, declared.keys().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("define it in a `[lists.{id}]` table"),
            };
            diags.push(
                Diagnostic::new(Code::UnknownList, format!("list `{id}` is not defined"))
                    .with_span(item.span())
                    .with_label("no such list")
                    .with_hint(hint),
            );
            None
        })
    }

    /// Fields that only some actions take, and what inject rules require.
    fn check_action_fields(
        &self,
        action: Action,
        fields: &Fields<'_, '_>,
        header: &Range<usize>,
        credential: Option<&(String, Range<usize>)>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let not_applicable = |name: &str, only: &str| {
            fields.key_span(name).map(|span| {
                Diagnostic::new(
                    Code::FieldNotApplicable,
                    format!(
                        "`{name}` applies to {only} rules only, not `{}` rules",
                        action.as_str()
                    ),
                )
                .with_span(span)
                .with_label("not applicable")
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
            diags.push(
                Diagnostic::new(Code::InjectWithoutHosts, "inject rule has no `hosts`")
                    .with_span(header.clone())
                    .with_label("applies to every host")
                    .with_hint("list the hosts the credential is for: a credential is never sent to any host by omission"),
            );
        }
        match credential {
            None if fields.get("credential").is_none() => diags.push(
                Diagnostic::new(Code::MissingCredential, "inject rule has no `credential`")
                    .with_span(header.clone())
                    .with_label("no credential to inject")
                    .with_hint("add `credential = \"ID\"` naming a `[credentials.ID]` table"),
            ),
            None => {}
            Some((name, span)) if !self.credentials.contains_key(name) => {
                let mut d = Diagnostic::new(
                    Code::UnknownCredential,
                    format!("credential `{name}` is not defined"),
                )
                .with_span(span.clone())
                .with_label("no such credential");
                d.hint = Some(
                    match did_you_mean(name, self.credentials.keys().map(String::as_str)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("define it in a `[credentials.{name}]` table"),
                    },
                );
                diags.push(d);
            }
            Some(_) => {}
        }
    }
}

fn error_count(diags: &[Diagnostic]) -> usize {
    diags
        .iter()
        .filter(|d| d.severity == crate::diagnostic::Severity::Error)
        .count()
}

/// The span of the `[[rules]]` header line when the table has one, else the table's span.
fn header_span(text: &str, span: Range<usize>) -> Range<usize> {
    let line_start = text
        .get(..span.start)
        .and_then(|s| s.rfind('\n'))
        .map_or(0, |i| i + 1);
    let from_line = text.get(line_start..).unwrap_or("");
    if from_line.trim_start().starts_with("[[") {
        let end = from_line.find('\n').map_or(text.len(), |i| line_start + i);
        let end = if text.get(..end).is_some_and(|s| s.ends_with('\r')) {
            end.saturating_sub(1)
        } else {
            end
        };
        return line_start..end.max(line_start);
    }
    span
}

/// A list whose entries are checked by `item`; empty and oversized lists are errors.
pub(super) fn list<T>(
    value: &Value<'_>,
    what: &str,
    diags: &mut Vec<Diagnostic>,
    mut item: impl FnMut(&Value<'_>, &mut Vec<Diagnostic>) -> Option<T>,
) -> Option<Vec<T>> {
    let items = parse::array(value, what, diags)?;
    if items.is_empty() {
        diags.push(
            Diagnostic::new(Code::EmptyList, format!("{what} is empty"))
                .with_span(value.span())
                .with_label("matches nothing")
                .with_hint(format!(
                    "list at least one entry, or remove {what} to not restrict on it"
                )),
        );
        return None;
    }
    if items.len() > MAX_LIST_LEN {
        diags.push(
            Diagnostic::new(
                Code::ListTooLong,
                format!("{what} has {} entries", items.len()),
            )
            .with_span(value.span())
            .with_label("too many entries")
            .with_hint(format!(
                "a list has at most {MAX_LIST_LEN} entries; split the rule"
            )),
        );
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for v in items {
        match item(v, diags) {
            Some(x) => out.push(x),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn hosts(value: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<Vec<HostPattern>> {
    list(value, "`hosts`", diags, |item, diags| {
        let text = parse::string(item, "a host pattern", diags)?;
        let parsed = HostPattern::parse(text);
        diags.extend(parsed.errors.into_iter().map(|d| d.with_span(item.span())));
        diags.extend(
            parsed
                .warnings
                .into_iter()
                .map(|d| d.with_span(item.span())),
        );
        parsed.pattern
    })
}

fn text_value(value: &Value<'_>, what: &str, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let s = parse::string(value, what, diags)?;
    if s.is_empty() || s.len() > MAX_TEXT_LEN || s.chars().any(char::is_control) {
        diags.push(
            Diagnostic::new(
                Code::InvalidText,
                format!("{what} must be 1 to {MAX_TEXT_LEN} bytes without control characters"),
            )
            .with_span(value.span())
            .with_label("invalid value"),
        );
        return None;
    }
    Some(s.to_owned())
}

/// A customer or tag a rule names: a clean name ([`crate::identity::is_clean_name`]), or
/// the rule could never match it (every other name is refused before rules are consulted).
fn identity_name(value: &Value<'_>, what: &str, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let s = parse::string(value, &format!("a {what}"), diags)?;
    if crate::identity::is_clean_name(s) {
        return Some(s.to_owned());
    }
    let shown: String = s.chars().take(80).collect();
    diags.push(
        Diagnostic::new(
            Code::InvalidIdentityName,
            format!("{what} `{}` can never match", shown.escape_default()),
        )
        .with_span(value.span())
        .with_label("not a clean name")
        .with_hint(format!(
            "a {what} is 1 to {MAX_NAME_LEN} ASCII letters, digits or `-_.:@+=/`; the Worker refuses every other name"
        )),
    );
    None
}

/// Warnings for an inject rule that opts out of https on port 443: its token can travel in
/// cleartext (`schemes` names `http`) or to another port (`ports` names one that is not the
/// default port of a scheme the rule matches).
fn inject_transport_lints(rule: &Rule, fields: &Fields<'_, '_>, diags: &mut Vec<Diagnostic>) {
    let http = rule
        .effective_schemes()
        .is_some_and(|s| s.contains(&Scheme::Http));
    if let (true, Some(v)) = (http, fields.get("schemes")) {
        diags.push(
            Diagnostic::new(Code::InjectOverHttp, format!("inject rule `{}` sends its token over plain http", rule.id))
                .with_span(v.span())
                .with_label("cleartext")
                .with_hint("anyone on the path can read and replay the token; remove `http` unless the upstream is reached over a private network"),
        );
    }
    let default_port = |p: &u16| *p == 443 || (http && *p == 80);
    if let Some(v) = fields.get("ports")
        && rule.ports.iter().flatten().any(|p| !default_port(p))
    {
        diags.push(
            Diagnostic::new(Code::InjectOtherPort, format!("inject rule `{}` sends its token to a port other than 443", rule.id))
                .with_span(v.span())
                .with_label("a non-default port")
                .with_hint("another port on the same host may be another service; list only the port the API listens on"),
        );
    }
}

fn method(value: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let m = parse::string(value, "a method", diags)?;
    let token = !m.is_empty()
        && m.len() <= 32
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !token {
        diags.push(
            Diagnostic::new(Code::InvalidMethod, format!("`{m}` is not an HTTP method"))
                .with_span(value.span())
                .with_label("not a method"),
        );
        return None;
    }
    if m.bytes().any(|b| b.is_ascii_lowercase()) {
        diags.push(
            Diagnostic::new(
                Code::NonCanonicalMethod,
                format!("method `{m}` is not upper case"),
            )
            .with_span(value.span())
            .with_label("methods are compared exactly")
            .with_hint(format!("write `{}`", m.to_ascii_uppercase())),
        );
        return None;
    }
    Some(m.to_owned())
}

fn path_regex(value: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let pattern = parse::string(value, "`path_regex`", diags)?;
    if pattern.len() > MAX_REGEX_LEN {
        diags.push(
            Diagnostic::new(
                Code::PatternTooLong,
                format!("`path_regex` is {} bytes long", pattern.len()),
            )
            .with_span(value.span())
            .with_label("too long")
            .with_hint(format!("at most {MAX_REGEX_LEN} bytes")),
        );
        return None;
    }
    match compile_path_regex(pattern, false) {
        Ok(_) => Some(pattern.to_owned()),
        // The error has no kind, only its text: this one is the size limit's.
        Err(e) if e.to_string().contains("size limit") => {
            diags.push(
                Diagnostic::new(
                    Code::RegexTooLarge,
                    "`path_regex` compiles to more than the size limit",
                )
                .with_span(value.span())
                .with_label("too large once compiled")
                .with_hint(
                    "simplify the expression (bounded repetitions like `{1000}` multiply its size)",
                ),
            );
            None
        }
        Err(e) => {
            let detail = e.to_string();
            let last = Some(detail.trim())
                .filter(|d| !d.is_empty())
                .unwrap_or("invalid syntax");
            diags.push(
                Diagnostic::new(
                    Code::InvalidRegex,
                    format!("`path_regex` is not a valid regular expression: {last}"),
                )
                .with_span(value.span())
                .with_label("invalid regex"),
            );
            None
        }
    }
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
