//! Turning one input line into decision lines: a decision object itself, or a Workers Logs /
//! Logpush `workers_trace_events` record (or a Tail Worker event) whose console messages hold
//! it, possibly wrapped in a JSON array.

use egress_policy_engine::{DecisionLog, LOG_SCHEMA_VERSION};
use serde_json::Value;

/// Why a line (or a message inside it) yielded no decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Problem {
    /// Not valid UTF-8.
    InvalidUtf8,
    /// Longer than [`crate::logs::input::MAX_LINE_BYTES`].
    TooLong,
    /// JSON that ends early: a line cut off (disk full, a killed writer, Logpush truncation).
    Truncated,
    /// Not JSON at all.
    InvalidJson,
    /// Has `v` equal to the supported version but misses a field or has a wrong type.
    InvalidDecision,
    /// Has a `v` this tool does not know.
    UnknownVersion,
    /// JSON, but neither a decision line nor a log export record.
    Unrecognised,
}

impl Problem {
    /// Stable snake_case name used in JSON output.
    pub fn code(self) -> &'static str {
        match self {
            Problem::InvalidUtf8 => "invalid_utf8",
            Problem::TooLong => "too_long",
            Problem::Truncated => "truncated",
            Problem::InvalidJson => "invalid_json",
            Problem::InvalidDecision => "invalid_decision",
            Problem::UnknownVersion => "unknown_version",
            Problem::Unrecognised => "unrecognised",
        }
    }
}

/// What one line held.
#[derive(Debug)]
pub enum Item {
    /// A decision line of the supported schema version.
    Decision(Box<DecisionLog>),
    /// Something that should have been a decision line but is not usable: what is wrong,
    /// and a short explanation that never quotes the line's content.
    Problem(Problem, String),
    /// A console message that is not a decision line (other `console.log` output): ignored.
    OtherMessage,
}

/// How deep wrappers (arrays, records, string-encoded messages) may nest before a line is
/// declared unrecognised: real exports use at most three levels.
const MAX_NESTING: u8 = 6;

/// Parses one line and hands every item it holds to `sink`. Blank lines yield nothing.
pub fn classify_line(bytes: &[u8], sink: &mut dyn FnMut(Item)) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        sink(problem(Problem::InvalidUtf8, "line is not valid UTF-8"));
        return;
    };
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    // Fast path for the common case, a plain decision line: one parse, no intermediate tree.
    if text.starts_with('{')
        && let Ok(log) = serde_json::from_str::<DecisionLog>(text)
        && readable(u64::from(log.v))
    {
        sink(Item::Decision(Box::new(log)));
        return;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => classify_value(value, MAX_NESTING, sink),
        Err(e) => sink(json_problem(&e)),
    }
}

fn problem(kind: Problem, detail: impl Into<String>) -> Item {
    Item::Problem(kind, detail.into())
}

fn unrecognised(detail: impl Into<String>) -> Item {
    problem(Problem::Unrecognised, detail)
}

fn json_problem(e: &serde_json::Error) -> Item {
    if e.is_eof() {
        problem(Problem::Truncated, format!("JSON ends early ({e})"))
    } else {
        problem(Problem::InvalidJson, format!("not JSON ({e})"))
    }
}

fn classify_value(value: Value, depth: u8, sink: &mut dyn FnMut(Item)) {
    let Some(depth) = depth.checked_sub(1) else {
        sink(unrecognised("nested too deeply"));
        return;
    };
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                sink(unrecognised("empty JSON array"));
            }
            for item in items {
                classify_value(item, depth, sink);
            }
        }
        Value::Object(mut map) => {
            // The Worker's policy bundle events (`"event": "policy_bundle"`) share the log
            // stream but are not decisions.
            if map.contains_key("event") && !map.contains_key("decision_id") {
                sink(Item::OtherMessage);
                return;
            }
            if let Some(v) = map.get("v") {
                sink(decision(v.clone(), Value::Object(map)));
                return;
            }
            // Logpush `workers_trace_events` (`Logs[].Message`) and Tail Worker events
            // (`logs[].message`); Workers Logs query results keep the object in `source`.
            let logs = map.remove("Logs").or_else(|| map.remove("logs"));
            if let Some(logs) = logs {
                classify_logs(logs, depth, sink);
            } else if let Some(source @ Value::Object(_)) = map.remove("source") {
                classify_value(source, depth, sink);
            } else {
                let what =
                    "JSON object with neither `v` (decision line) nor `Logs` (log export record)";
                sink(unrecognised(what));
            }
        }
        other => sink(unrecognised(format!(
            "a JSON {} is not a decision line",
            kind_name(&other)
        ))),
    }
}

/// The console messages of one record: each entry's `Message` holds the `console.log`
/// arguments; a decision line is logged as the single argument.
fn classify_logs(logs: Value, depth: u8, sink: &mut dyn FnMut(Item)) {
    let Value::Array(entries) = logs else {
        sink(unrecognised("`Logs` is not an array"));
        return;
    };
    for entry in entries {
        let Value::Object(mut entry) = entry else {
            sink(unrecognised("a `Logs` entry is not an object"));
            continue;
        };
        let message = entry.remove("Message").or_else(|| entry.remove("message"));
        match message {
            Some(Value::Array(args)) => {
                for arg in args {
                    classify_message(arg, depth, sink);
                }
            }
            Some(other) => classify_message(other, depth, sink),
            None => sink(Item::OtherMessage),
        }
    }
}

fn classify_message(message: Value, depth: u8, sink: &mut dyn FnMut(Item)) {
    match message {
        Value::Object(_) => classify_value(message, depth, sink),
        // A message exported as the JSON text of the object; text that does not even start
        // like an object is ordinary console output.
        Value::String(text) if text.trim_start().starts_with('{') => {
            match serde_json::from_str::<Value>(&text) {
                Ok(value) => classify_value(value, depth, sink),
                Err(e) => sink(json_problem(&e)),
            }
        }
        _ => sink(Item::OtherMessage),
    }
}

/// Whether lines of schema `v` are read: 1 (no chain) and this engine's.
fn readable(v: u64) -> bool {
    (1..=u64::from(LOG_SCHEMA_VERSION)).contains(&v)
}

fn decision(v: Value, line: Value) -> Item {
    if !v.as_u64().is_some_and(readable) {
        return problem(Problem::UnknownVersion, version_label(&v));
    }
    match serde_json::from_value::<DecisionLog>(line) {
        Ok(log) => Item::Decision(Box::new(log)),
        Err(e) => {
            // serde quotes the offending value (`unknown variant `...``), however long; only
            // a missing field, named by the schema, is said as serde says it.
            let e = e.to_string();
            let why = if e.starts_with("missing field") {
                e.as_str()
            } else {
                "a field has the wrong type or value"
            };
            problem(
                Problem::InvalidDecision,
                format!("not a v{LOG_SCHEMA_VERSION} decision line: {why}"),
            )
        }
    }
}

/// The `v` value as shown in reports, shortened so a hostile value cannot flood them.
pub fn version_label(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 24 {
        let short: String = text.chars().take(24).collect();
        format!("{short}...")
    } else {
        text
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"v":1,"ts":"2026-11-28T12:00:00.123Z","decision_id":"d1","customer":"c1","tags":[],"action":"pass","would_block":false,"rule":null,"report_rule":null,"reason":null,"method":"GET","scheme":"https","host":"a.example","port":443,"path":"/","credential":null,"policy":{"name":"p","sha256":"ab"},"status":200,"error":null,"duration_ms":3}"#;

    fn items(line: &str) -> Vec<Item> {
        let mut out = Vec::new();
        classify_line(line.as_bytes(), &mut |i| out.push(i));
        out
    }

    fn kinds(line: &str) -> Vec<String> {
        items(line)
            .into_iter()
            .map(|i| match i {
                Item::Decision(d) => format!("decision:{}", d.decision_id),
                Item::Problem(kind, _) => kind.code().to_string(),
                Item::OtherMessage => "other".to_string(),
            })
            .collect()
    }

    #[test]
    fn reads_plain_decision_lines() {
        assert_eq!(kinds(LINE), ["decision:d1"]);
        assert!(kinds("   ").is_empty());
    }

    #[test]
    fn reads_logpush_records_with_objects_strings_and_arrays() {
        let as_string = serde_json::to_string(LINE).unwrap();
        let record = format!(
            r#"[{{"Outcome":"ok","Logs":[{{"Level":"log","Message":[{LINE}],"TimestampMs":1}},{{"Level":"log","Message":[{as_string}],"TimestampMs":2}},{{"Level":"log","Message":["hello"],"TimestampMs":3}}]}}]"#
        );
        assert_eq!(kinds(&record), ["decision:d1", "decision:d1", "other"]);
        let tail = format!(r#"{{"logs":[{{"level":"log","message":[{LINE}]}}]}}"#);
        assert_eq!(kinds(&tail), ["decision:d1"]);
        let workers_logs = format!(r#"{{"$metadata":{{"id":"x"}},"source":{LINE}}}"#);
        assert_eq!(kinds(&workers_logs), ["decision:d1"]);
    }

    #[test]
    fn classifies_bad_lines() {
        assert_eq!(kinds(&LINE[..LINE.len() - 10]), ["truncated"]);
        assert_eq!(kinds("not json"), ["invalid_json"]);
        assert_eq!(kinds(r#"{"v":3,"x":1}"#), ["unknown_version"]);
        assert_eq!(kinds(r#"{"v":"1"}"#), ["unknown_version"]);
        assert_eq!(kinds(r#"{"v":1,"ts":"x"}"#), ["invalid_decision"]);
        assert_eq!(kinds(r#"{"hello":1}"#), ["unrecognised"]);
        assert_eq!(kinds("42"), ["unrecognised"]);
        let cut = serde_json::to_string(&LINE[..100]).unwrap();
        assert_eq!(
            kinds(&format!(r#"{{"Logs":[{{"Message":[{cut}]}}]}}"#)),
            ["truncated"]
        );
        let mut out = Vec::new();
        classify_line(&[0xff, 0xfe], &mut |i| out.push(i));
        assert!(matches!(out[0], Item::Problem(Problem::InvalidUtf8, _)));
    }

    #[test]
    fn policy_bundle_events_are_not_decisions() {
        let event = r#"{"v":1,"ts":"2026-12-01T00:00:00.000Z","event":"policy_bundle","status":"loaded","reason":null,"serial":7,"policy":null,"active":{"name":null,"sha256":"00","source":"bundle","serial":7}}"#;
        assert_eq!(kinds(event), ["other"]);
        let tail = format!(r#"{{"logs":[{{"message":[{event}]}},{{"message":[{LINE}]}}]}}"#);
        assert_eq!(kinds(&tail), ["other", "decision:d1"]);
    }

    #[test]
    fn deep_nesting_is_refused_not_recursed() {
        let deep = format!("{}{}", "[".repeat(20), "]".repeat(20));
        assert_eq!(kinds(&deep), ["unrecognised"]);
    }
}
