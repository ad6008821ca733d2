//! Who the request is for: the customer and its tags, from the outbound Worker's parameters
//! (`env` as deployed, or `ctx.props` locally). Never from request headers.

use serde_json::Value;

/// The customer name from a parameter value: a non-empty string (surrounding whitespace
/// trimmed). Anything else (absent, empty, not a string) is no customer.
pub fn customer_from(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(name)) => {
            let name = name.trim();
            (!name.is_empty()).then(|| name.to_owned())
        }
        _ => None,
    }
}

/// The customer's tags from a `customer_tags` parameter: an array of strings, or one
/// comma-separated string. Entries are trimmed; empty entries and non-strings are dropped;
/// order is kept (it is the order `{tags}` renders).
pub fn tags_from(value: Option<&Value>) -> Vec<String> {
    let clean = |tag: &str| {
        let tag = tag.trim();
        (!tag.is_empty()).then(|| tag.to_owned())
    };
    match value {
        Some(Value::String(list)) => list.split(',').filter_map(clean).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(clean)
            .collect(),
        _ => Vec::new(),
    }
}

/// The first source that has a customer wins (`env`, then `props`); tags come from the same
/// source as the customer so one caller's tags never mix with another's name. `props` is
/// only made when `env` names no customer (as deployed, it always does).
pub fn identity_from(env: &Value, props: impl FnOnce() -> Value) -> (Option<String>, Vec<String>) {
    let from = |source: &Value| {
        customer_from(source.get("customer_name"))
            .map(|customer| (Some(customer), tags_from(source.get("customer_tags"))))
    };
    from(env)
        .or_else(|| from(&props()))
        .unwrap_or((None, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn customer_must_be_a_non_empty_string() {
        assert_eq!(customer_from(Some(&json!("acme"))), Some("acme".into()));
        assert_eq!(customer_from(Some(&json!(" acme "))), Some("acme".into()));
        assert_eq!(customer_from(Some(&json!(""))), None);
        assert_eq!(customer_from(Some(&json!("  "))), None);
        assert_eq!(customer_from(Some(&json!(42))), None);
        assert_eq!(customer_from(Some(&Value::Null)), None);
        assert_eq!(customer_from(None), None);
    }

    #[test]
    fn tags_from_array_or_comma_string() {
        assert_eq!(
            tags_from(Some(&json!(["prod", " eu ", "", 3]))),
            vec!["prod", "eu"]
        );
        assert_eq!(tags_from(Some(&json!("prod, eu,,"))), vec!["prod", "eu"]);
        assert!(tags_from(Some(&json!(""))).is_empty());
        assert!(tags_from(Some(&json!({"a": 1}))).is_empty());
        assert!(tags_from(None).is_empty());
    }

    #[test]
    fn env_wins_over_props_and_tags_follow_the_customer() {
        let env = json!({"customer_name": "acme", "customer_tags": "prod"});
        let props = json!({"customer_name": "globex", "customer_tags": ["dev"]});
        assert_eq!(
            identity_from(&env, || props.clone()),
            (Some("acme".into()), vec!["prod".into()])
        );
        let env = json!({"customer_tags": "prod"});
        assert_eq!(
            identity_from(&env, || props.clone()),
            (Some("globex".into()), vec!["dev".into()])
        );
        assert_eq!(identity_from(&json!({}), || Value::Null), (None, vec![]));
    }

    #[test]
    fn props_are_not_read_when_env_names_the_customer() {
        let env = json!({"customer_name": "acme"});
        let read = std::cell::Cell::new(false);
        let (customer, _) = identity_from(&env, || {
            read.set(true);
            Value::Null
        });
        assert_eq!(customer.as_deref(), Some("acme"));
        assert!(
            !read.get(),
            "props were read although env named the customer"
        );
        let (customer, _) = identity_from(&json!({"customer_name": " "}), || {
            read.set(true);
            json!({"customer_name": "globex"})
        });
        assert_eq!(customer.as_deref(), Some("globex"));
        assert!(read.get());
    }
}
