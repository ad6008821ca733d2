//! Who a request is for: the customer and its tags, read from the outbound Worker's parameters
//! by one function that the Worker and the CLI share, and checked by the engine when it
//! decides, so `explain`, `test`, `replay` and the Worker cannot disagree.
//!
//! Reading never repairs: a customer parameter that is present but not a clean name (empty,
//! surrounding or inner whitespace, control or invisible characters, not a string) reaches
//! the engine as it is, and the engine refuses it (`invalid_customer`); likewise tags
//! (`invalid_tags`). A value that is not a string reads as the empty name, which is never
//! clean.

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

/// Longest customer name or tag accepted.
pub const MAX_NAME_LEN: usize = 256;
/// Most tags accepted.
pub const MAX_TAGS: usize = 64;

/// The customer and tags as read from the parameters, not yet judged: the engine refuses a
/// request whose customer is missing or not clean (see [`check`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The customer name as given; `None` when no source names one.
    pub customer: Option<String>,
    /// The tags as given, in order (the order `{tags}` renders).
    pub tags: Vec<String>,
}

/// Reads the identity from the outbound Worker's parameters: `env` first (flat
/// `customer_name`/`customer_tags`, or nested in `customer_context`), then `props` only when
/// `env` names no customer and `env` opts in with [`PROPS_OPT_IN`]. Tags come from the same
/// place as the customer, so one caller's tags never mix with another's name.
///
/// `env` holds only the keys the caller copied out of the runtime's `env` (never secrets);
/// `props` is made only when it is needed.
pub fn read(env: &Value, props: impl FnOnce() -> Value) -> Identity {
    if let Some(identity) = from_source(env) {
        return identity;
    }
    if props_opted_in(env)
        && let Some(identity) = from_source(&props())
    {
        return identity;
    }
    Identity::default()
}

/// Whether `env` opts in to identity from `ctx.props`.
pub fn props_opted_in(env: &Value) -> bool {
    match env.get(PROPS_OPT_IN) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// The identity one source (an object of parameters) gives, `None` when it names no customer.
/// When both the flat and the nested shape name a customer, they must agree (customer and
/// tags); otherwise the customer reads as the empty name and is refused.
fn from_source(source: &Value) -> Option<Identity> {
    let flat = present(source.get(CUSTOMER_PARAM)).map(|c| (c, source.get(TAGS_PARAM)));
    let nested = present(source.get(CONTEXT_PARAM)).map(|context| {
        (
            present(context.get(CUSTOMER_PARAM)).unwrap_or(&Value::Null),
            context.get(TAGS_PARAM),
        )
    });
    let (customer, tags) = match (flat, nested) {
        (None, None) => return None,
        (Some(one), None) | (None, Some(one)) => one,
        (Some(flat), Some(nested)) => {
            if flat.0 != nested.0 || present(flat.1) != present(nested.1) {
                return Some(Identity {
                    customer: Some(String::new()),
                    tags: Vec::new(),
                });
            }
            flat
        }
    };
    Some(Identity {
        customer: Some(text(customer)),
        tags: tags_value(tags),
    })
}

/// A parameter counts as given unless absent or `null`.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// A string as it is; anything else as the empty name (never clean).
fn text(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_default()
}

/// Tags from an array of strings, or from one comma-separated string (see [`tags_from_text`]).
fn tags_value(value: Option<&Value>) -> Vec<String> {
    match present(value) {
        None => Vec::new(),
        Some(Value::String(list)) => tags_from_text(list),
        Some(Value::Array(items)) => items.iter().map(text).collect(),
        Some(_) => vec![String::new()],
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

/// Whether `name` is a clean customer name or tag: 1 to [`MAX_NAME_LEN`] bytes, no
/// whitespace, no control characters, no invisible formatting characters.
pub fn is_clean_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}')
        })
}

/// The refusal for an identity, if any: no customer, a customer that is not a clean name, or
/// a tag that is not (tags may not contain `,` either: the comma-separated form could not
/// carry it).
pub fn check(customer: Option<&str>, tags: &[String]) -> Result<(), Refusal> {
    let Some(customer) = customer else {
        return Err(Refusal::NoCustomer);
    };
    if !is_clean_name(customer) {
        return Err(Refusal::InvalidCustomer);
    }
    if tags.len() > MAX_TAGS || tags.iter().any(|t| !is_clean_name(t) || t.contains(',')) {
        return Err(Refusal::InvalidTags);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(customer: &str, tags: &[&str]) -> Identity {
        Identity {
            customer: Some(customer.into()),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
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
            id("acme", &["prod", "eu"])
        );
        assert_eq!(
            read(
                &json!({"customer_context": {"customer_name": "acme", "url": "https://x/"}}),
                none
            ),
            id("acme", &[])
        );
        assert_eq!(
            read(
                &json!({"customer_context": {"customer_name": "acme", "customer_tags": ["p"]}}),
                none
            ),
            id("acme", &["p"])
        );
        // Both shapes: they must agree.
        assert_eq!(
            read(
                &json!({"customer_name": "acme", "customer_context": {"customer_name": "acme"}}),
                none
            ),
            id("acme", &[])
        );
        assert_eq!(
            read(
                &json!({"customer_name": "acme", "customer_context": {"customer_name": "globex"}}),
                none
            ),
            id("", &[])
        );
        assert_eq!(read(&json!({}), none), Identity::default());
    }

    #[test]
    fn nothing_is_repaired() {
        let none = || Value::Null;
        assert_eq!(
            read(&json!({"customer_name": " acme "}), none),
            id(" acme ", &[])
        );
        assert_eq!(read(&json!({"customer_name": 42}), none), id("", &[]));
        assert_eq!(
            read(&json!({"customer_context": "acme"}), none),
            id("", &[])
        );
        assert_eq!(
            read(
                &json!({"customer_name": "a", "customer_tags": ["p", 3]}),
                none
            ),
            id("a", &["p", ""])
        );
        assert_eq!(
            read(
                &json!({"customer_name": "a", "customer_tags": {"x": 1}}),
                none
            ),
            id("a", &[""])
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
            id("globex", &["dev"])
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
        assert_eq!(identity, id("acme", &[]));
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
            id("", &[])
        );
    }

    #[test]
    fn clean_names() {
        for good in ["acme", "customer-123", "Ünïcode", "a.b_c:d"] {
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
        ] {
            assert!(!is_clean_name(bad), "{bad:?}");
        }
        assert!(!is_clean_name(&"x".repeat(MAX_NAME_LEN + 1)));
    }

    #[test]
    fn check_refuses() {
        assert_eq!(check(None, &[]), Err(Refusal::NoCustomer));
        assert_eq!(check(Some(""), &[]), Err(Refusal::InvalidCustomer));
        assert_eq!(check(Some(" a"), &[]), Err(Refusal::InvalidCustomer));
        assert_eq!(check(Some("a"), &["".into()]), Err(Refusal::InvalidTags));
        assert_eq!(check(Some("a"), &["x,y".into()]), Err(Refusal::InvalidTags));
        assert_eq!(check(Some("a"), &["p".into()]), Ok(()));
    }
}
