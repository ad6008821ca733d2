//! Who a request is for: the customer and its tags, read from the outbound Worker's parameters
//! by one function that the Worker and the CLI share, and checked by the engine when it
//! decides, so `explain`, `test`, `replay` and the Worker cannot disagree.
//!
//! Reading never repairs: a customer parameter that is present but not a clean name (outside
//! the safe alphabet of [`is_clean_name`], empty, too long, not a string) reaches the engine
//! as it is, and the engine refuses it (`invalid_customer`); likewise tags (`invalid_tags`).
//! A value that is not a string reads as the empty name, which is never clean. Whether a tags
//! parameter was given at all is kept: a policy that scopes rules by tag refuses a request
//! without one (`no_tags`).

use serde_json::Value;

use crate::decision::Refusal;

/// The flat parameter naming the customer (`outbound = { parameters = ["customer_name"] }`).
pub const CUSTOMER_PARAM: &str = "customer_name";
/// The flat parameter carrying the customer's tags.
pub const TAGS_PARAM: &str = "customer_tags";
/// The nested shape of the platform's documented example:
/// `outbound: { customer_context: { customer_name, url } }` (tags as `customer_tags` inside).
pub const CONTEXT_PARAM: &str = "customer_context";
/// The `env` setting that lets identity come from `ctx.props` when `env` names no customer:
/// `"true"` (or `true`) opts in. Off by default, because any Worker that can bind to the
/// outbound Worker with `props` could otherwise name any customer.
pub const PROPS_OPT_IN: &str = "EGRESS_IDENTITY_FROM_PROPS";

/// The prefix of every setting of this Worker in `env` (`EGRESS_POLICY_KV`,
/// `EGRESS_BUNDLE_PUBLIC_KEY`, [`PROPS_OPT_IN`], ...): never a credential's secret.
pub const SETTINGS_PREFIX: &str = "EGRESS_";

/// Longest customer name accepted.
pub const MAX_NAME_LEN: usize = 256;
/// Longest tag accepted.
pub const MAX_TAG_LEN: usize = 64;
/// Most tags accepted. With [`MAX_TAG_LEN`], a line's tags stay under 1,100 characters: every
/// line fits far below the 16,384 characters Logpush keeps of an event's logs.
pub const MAX_TAGS: usize = 16;

/// The customer and tags as read from the parameters, not yet judged: the engine refuses a
/// request whose customer is missing or not clean (see [`check`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The customer name as given; `None` when no source names one.
    pub customer: Option<String>,
    /// The tags as given, in order (the order `{tags}` renders); `None` when no tags
    /// parameter was given at all (refused `no_tags` by a policy that scopes rules by tag),
    /// `Some(vec![])` for an explicit empty list or string.
    pub tags: Option<Vec<String>>,
}

/// Reads the identity from the outbound Worker's parameters: `env` first (flat
/// `customer_name`/`customer_tags`, or nested in `customer_context`), then `props` only when
/// `env` names no customer and `env` opts in with [`PROPS_OPT_IN`]. Tags come from the same
/// place as the customer, so one caller's tags never mix with another's name.
///
/// `env` holds only the keys the caller copied out of the runtime's `env` (never secrets);
/// `props` is made only when it is needed.
pub fn read(env: &Value, props: impl FnOnce() -> Value) -> Identity {
    let opted_in = match env.get(PROPS_OPT_IN) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    from_source(env)
        .or_else(|| opted_in.then(props).and_then(|props| from_source(&props)))
        .unwrap_or_default()
}

/// The identity one source (an object of parameters) gives, `None` when it names no customer.
/// The customer is the flat `customer_name` or the nested one; when both are given they must
/// agree, else the customer reads as the empty name (refused `invalid_customer`). The tags
/// are the flat `customer_tags` or the nested one, whichever shape named the customer; when
/// both are given they must be the same value, else they read as one empty tag (refused
/// `invalid_tags`): tags are never dropped.
fn from_source(source: &Value) -> Option<Identity> {
    let context = present(source.get(CONTEXT_PARAM));
    let nested = context.map(|c| present(c.get(CUSTOMER_PARAM)).unwrap_or(&Value::Null));
    let customer = one_of(present(source.get(CUSTOMER_PARAM)), nested)?;
    let nested_tags = context.and_then(|c| present(c.get(TAGS_PARAM)));
    let tags = one_of(present(source.get(TAGS_PARAM)), nested_tags);
    Some(Identity {
        customer: Some(customer.map_or_else(String::new, text)),
        tags: tags.map(|tags| tags.map_or_else(|| vec![String::new()], tags_value)),
    })
}

/// A parameter counts as given unless absent or `null`.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// The value of a parameter given flat, nested or both: `None` when neither is given,
/// `Some(None)` when both are and they differ.
fn one_of<'v>(flat: Option<&'v Value>, nested: Option<&'v Value>) -> Option<Option<&'v Value>> {
    match (flat, nested) {
        (None, None) => None,
        (Some(one), None) | (None, Some(one)) => Some(Some(one)),
        (Some(flat), Some(nested)) => Some((flat == nested).then_some(flat)),
    }
}

/// A string as it is; anything else as the empty name (never clean).
fn text(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_default()
}

/// Tags from an array of strings, or from one comma-separated string (see [`tags_from_text`]).
fn tags_value(value: &Value) -> Vec<String> {
    match value {
        Value::String(list) => tags_from_text(list),
        Value::Array(items) => items.iter().map(text).collect(),
        _ => vec![String::new()],
    }
}

/// Tags from one comma-separated string (`"production, eu"`): the spaces around commas are
/// list syntax; the empty string is no tags. Entries are not otherwise cleaned: an empty entry
/// (`"a,,b"`) stays and is refused.
pub fn tags_from_text(list: &str) -> Vec<String> {
    if list.is_empty() {
        return Vec::new();
    }
    list.split(',')
        .map(|tag| tag.trim_matches(' ').to_owned())
        .collect()
}

/// Whether `name` is a clean customer name or tag: 1 to [`MAX_NAME_LEN`] bytes of ASCII
/// letters, digits and `-_.:@+=/`. Nothing else: every other character could make a name
/// that looks like another one (direction overrides, invisible fillers, combining marks,
/// variation selectors, tag characters) in logs, in a token's `sub` and to `customers`
/// conditions.
pub fn is_clean_name(name: &str) -> bool {
    crate::is_name(name, MAX_NAME_LEN, b"-_.:@+=/")
}

/// The refusal for an identity, if any: no customer, a customer that is not a clean name, a
/// tag that is not (a clean name never contains `,`, so the comma-separated form carries
/// every tag), and, when the policy scopes rules by tag (`needs_tags`), no tags parameter at
/// all: such a rule could not be decided, and a tag-scoped block must not fail open.
pub fn check(
    customer: Option<&str>,
    tags: Option<&[String]>,
    needs_tags: bool,
) -> Result<(), Refusal> {
    let Some(customer) = customer else {
        return Err(Refusal::NoCustomer);
    };
    if !is_clean_name(customer) {
        return Err(Refusal::InvalidCustomer);
    }
    if tags.is_none() && needs_tags {
        return Err(Refusal::NoTags);
    }
    let tags = tags.unwrap_or_default();
    if tags.len() > MAX_TAGS
        || tags
            .iter()
            .any(|t| t.len() > MAX_TAG_LEN || !is_clean_name(t))
    {
        return Err(Refusal::InvalidTags);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(customer: &str, tags: Option<&[&str]>) -> Identity {
        Identity {
            customer: Some(customer.into()),
            tags: tags.map(|tags| tags.iter().map(|t| (*t).to_owned()).collect()),
        }
    }

    #[test]
    fn flat_and_nested_shapes() {
        let none = || Value::Null;
        assert_eq!(
            read(
                &json!({"customer_name": "acme", "customer_tags": "prod, eu"}),
                none
            ),
            id("acme", Some(&["prod", "eu"]))
        );
        assert_eq!(
            read(
                &json!({"customer_context": {"customer_name": "acme", "url": "https://x/"}}),
                none
            ),
            id("acme", None)
        );
        assert_eq!(
            read(
                &json!({"customer_context": {"customer_name": "acme", "customer_tags": ["p"]}}),
                none
            ),
            id("acme", Some(&["p"]))
        );
        // Both shapes: the customers must agree.
        assert_eq!(
            read(
                &json!({"customer_name": "acme", "customer_context": {"customer_name": "acme"}}),
                none
            ),
            id("acme", None)
        );
        assert_eq!(
            read(
                &json!({"customer_name": "acme", "customer_context": {"customer_name": "globex"}}),
                none
            ),
            id("", None)
        );
        assert_eq!(read(&json!({}), none), Identity::default());
    }

    #[test]
    fn tags_beside_a_nested_context_are_never_dropped() {
        let none = || Value::Null;
        // The seed's shape: the customer nested, the tags flat.
        assert_eq!(
            read(
                &json!({"customer_context": {"customer_name": "acme"}, "customer_tags": ["prod"]}),
                none
            ),
            id("acme", Some(&["prod"]))
        );
        // Tags in both places must be the same value.
        assert_eq!(
            read(
                &json!({"customer_context": {"customer_name": "acme", "customer_tags": "prod"}, "customer_tags": "prod"}),
                none
            ),
            id("acme", Some(&["prod"]))
        );
        assert_eq!(
            read(
                &json!({"customer_context": {"customer_name": "acme", "customer_tags": "prod"}, "customer_tags": "dev"}),
                none
            ),
            id("acme", Some(&[""]))
        );
        // An explicit empty list is "no tags", not "no tags parameter".
        assert_eq!(
            read(&json!({"customer_name": "a", "customer_tags": []}), none),
            id("a", Some(&[]))
        );
        assert_eq!(
            read(&json!({"customer_name": "a", "customer_tags": ""}), none),
            id("a", Some(&[]))
        );
    }

    #[test]
    fn nothing_is_repaired() {
        let none = || Value::Null;
        assert_eq!(
            read(&json!({"customer_name": " acme "}), none),
            id(" acme ", None)
        );
        assert_eq!(read(&json!({"customer_name": 42}), none), id("", None));
        assert_eq!(
            read(&json!({"customer_context": "acme"}), none),
            id("", None)
        );
        assert_eq!(
            read(
                &json!({"customer_name": "a", "customer_tags": ["p", 3]}),
                none
            ),
            id("a", Some(&["p", ""]))
        );
        assert_eq!(
            read(
                &json!({"customer_name": "a", "customer_tags": {"x": 1}}),
                none
            ),
            id("a", Some(&[""]))
        );
        assert_eq!(tags_from_text("a,,b"), vec!["a", "", "b"]);
        assert!(tags_from_text("").is_empty());
    }

    #[test]
    fn props_only_with_the_opt_in_and_only_when_env_names_no_customer() {
        let props = || json!({"customer_name": "globex", "customer_tags": ["dev"]});
        assert_eq!(read(&json!({}), props), Identity::default());
        assert_eq!(
            read(&json!({"EGRESS_IDENTITY_FROM_PROPS": "true"}), props),
            id("globex", Some(&["dev"]))
        );
        assert_eq!(
            read(&json!({"EGRESS_IDENTITY_FROM_PROPS": "yes"}), props),
            Identity::default()
        );
        let read_props = std::cell::Cell::new(false);
        let identity = read(
            &json!({"EGRESS_IDENTITY_FROM_PROPS": true, "customer_name": "acme"}),
            || {
                read_props.set(true);
                props()
            },
        );
        assert_eq!(identity, id("acme", None));
        assert!(
            !read_props.get(),
            "props were read although env named the customer"
        );
        // An invalid name in env is refused, never replaced by props.
        assert_eq!(
            read(
                &json!({"EGRESS_IDENTITY_FROM_PROPS": true, "customer_name": ""}),
                props
            ),
            id("", None)
        );
    }

    #[test]
    fn clean_names() {
        for good in ["acme", "customer-123", "a.b_c:d", "team/a+b=c@x"] {
            assert!(is_clean_name(good), "{good}");
        }
        for bad in [
            "",
            " acme",
            "acme ",
            "ac me",
            "a\tb",
            "a\u{0}",
            "a\u{200B}",
            "a\u{FEFF}",
            "a,b",
            "Ünïcode",
        ] {
            assert!(!is_clean_name(bad), "{bad:?}");
        }
        assert!(!is_clean_name(&"x".repeat(MAX_NAME_LEN + 1)));
    }

    /// Issue 14, item 3: a name followed by a character that renders as nothing (or reorders
    /// what follows) looks like the real customer in logs and in `sub`, and escapes rules
    /// scoped to it.
    #[test]
    fn look_alike_names_are_not_clean() {
        for suffix in [
            '\u{202E}',
            '\u{2066}',
            '\u{3164}',
            '\u{E0001}',
            '\u{034F}',
            '\u{FE0F}',
            '\u{180E}',
            '\u{0301}',
        ] {
            let name = format!("acme{suffix}");
            assert!(!is_clean_name(&name), "{name:?}");
            assert_eq!(
                check(Some(&name), Some(&[]), false),
                Err(Refusal::InvalidCustomer)
            );
            assert_eq!(
                check(Some("acme"), Some(&[name]), false),
                Err(Refusal::InvalidTags)
            );
        }
    }

    #[test]
    fn check_refuses() {
        assert_eq!(check(None, None, false), Err(Refusal::NoCustomer));
        assert_eq!(check(Some(""), None, false), Err(Refusal::InvalidCustomer));
        assert_eq!(check(Some(" a"), None, true), Err(Refusal::InvalidCustomer));
        let tags = |t: &[&str]| t.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            check(Some("a"), Some(&tags(&[""])), false),
            Err(Refusal::InvalidTags)
        );
        assert_eq!(
            check(Some("a"), Some(&tags(&["x,y"])), false),
            Err(Refusal::InvalidTags)
        );
        assert_eq!(check(Some("a"), Some(&tags(&["p"])), true), Ok(()));
        // No tags parameter: refused only when the policy scopes rules by tag.
        assert_eq!(check(Some("a"), None, false), Ok(()));
        assert_eq!(check(Some("a"), None, true), Err(Refusal::NoTags));
        assert_eq!(check(Some("a"), Some(&[]), true), Ok(()));
    }
}
