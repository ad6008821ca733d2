//! Turning one input line into decision lines: a decision object itself, or a Workers Logs /
//! Logpush `workers_trace_events` record (or a Tail Worker event) whose console messages hold
//! it, possibly wrapped in a JSON array.

use egress_policy_engine::{DecisionLog, LOG_SCHEMA_VERSION};
use serde::Deserialize;
use serde_json::Value;

/// Why a line (or a message inside it) yielded no decision: stable snake_case codes, as the
/// JSON outputs name them.
pub mod problem {
    /// Not valid UTF-8.
    pub const INVALID_UTF8: &str = "invalid_utf8";
    /// Longer than [`crate::logs::input::MAX_LINE_BYTES`].
    pub const TOO_LONG: &str = "too_long";
    /// JSON that ends early: a line cut off (disk full, a killed writer, Logpush truncation).
    pub const TRUNCATED: &str = "truncated";
    /// Not JSON at all.
    pub const INVALID_JSON: &str = "invalid_json";
    /// Has a readable `v` but misses a field or has a wrong type.
    pub const INVALID_DECISION: &str = "invalid_decision";
    /// Has a `v` this tool does not know.
    pub const UNKNOWN_VERSION: &str = "unknown_version";
    /// JSON, but neither a decision line nor a log export record.
    pub const UNRECOGNISED: &str = "unrecognised";
}

/// What one line held.
#[derive(Debug)]
pub enum Item {
    /// A decision line of a readable schema version, and the line as read (for its chain).
    Decision(Box<(DecisionLog, Value)>),
    /// A line that is not a decision (`event`: a checkpoint, a bundle or settings event).
    Event(Value),
    /// An invocation record whose outcome is not `ok` and that holds no decision line.
    Dead(String),
    /// Something that should have been a decision line but is not usable: what is wrong,
    /// and a short explanation that never quotes the line's content.
    Problem(&'static str, String),
    /// A console message that is not a decision line (other `console.log` output): ignored.
    OtherMessage,
}

/// How deep wrappers (arrays, records, string-encoded messages) may nest before a line is
/// declared unrecognised: real exports use at most three levels.
const MAX_NESTING: u8 = 6;

/// What starts a JSON object (an escape: brace-counting tools see this file balanced).
const OBJECT_START: char = '\u{7b}';

/// Parses one line and hands every item it holds to `sink`. Blank lines yield nothing.
pub fn classify_line(bytes: &[u8], sink: &mut dyn FnMut(Item)) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        sink(problem(problem::INVALID_UTF8, "line is not valid UTF-8"));
        return;
    };
    if !text.trim().is_empty() {
        classify_text(text, MAX_NESTING, sink);
    }
}

fn classify_text(text: &str, depth: u8, sink: &mut dyn FnMut(Item)) {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => classify_value(value, depth, sink),
        Err(e) if e.is_eof() => sink(problem(
            problem::TRUNCATED,
            format!("JSON ends early ({e})"),
        )),
        Err(e) => sink(problem(problem::INVALID_JSON, format!("not JSON ({e})"))),
    }
}

fn problem(kind: &'static str, detail: impl Into<String>) -> Item {
    Item::Problem(kind, detail.into())
}

fn unrecognised(detail: &str) -> Item {
    problem(problem::UNRECOGNISED, detail)
}

fn classify_value(value: Value, depth: u8, sink: &mut dyn FnMut(Item)) {
    let Some(depth) = depth.checked_sub(1) else {
        sink(unrecognised("nested too deeply"));
        return;
    };
    match value {
        Value::Array(items) if items.is_empty() => sink(unrecognised("empty JSON array")),
        Value::Array(items) => items
            .into_iter()
            .for_each(|i| classify_value(i, depth, sink)),
        // The Worker's event lines (`"event": "checkpoint"`, `"policy_bundle"`, `"settings"`)
        // share the log stream and its chain but are not decisions.
        Value::Object(map) if map.contains_key("event") && !map.contains_key("decision_id") => {
            sink(Item::Event(Value::Object(map)));
        }
        Value::Object(map) if map.contains_key("v") => sink(decision(Value::Object(map))),
        Value::Object(map) => classify_record(map, depth, sink),
        _ => sink(unrecognised(
            "a JSON value that is not an object is not a decision line",
        )),
    }
}

/// Logpush `workers_trace_events` (`Outcome`, `Logs[].Message`) and Tail Worker events
/// (`outcome`, `logs[].message`); Workers Logs query results keep the object in `source`.
fn classify_record(mut map: serde_json::Map<String, Value>, depth: u8, sink: &mut dyn FnMut(Item)) {
    let logs = map.remove("Logs").or_else(|| map.remove("logs"));
    let outcome = map.remove("Outcome").or_else(|| map.remove("outcome"));
    if logs.is_none() && outcome.is_none() {
        match map.remove("source") {
            Some(source @ Value::Object(_)) => classify_value(source, depth, sink),
            _ => sink(unrecognised(
                "JSON object with neither `v` (decision line) nor `Logs` (log export record)",
            )),
        }
        return;
    }
    let mut decisions = 0;
    let mut counting = |item: Item| {
        decisions += u64::from(matches!(item, Item::Decision(_)));
        sink(item);
    };
    match logs {
        Some(Value::Array(entries)) => entries
            .into_iter()
            .for_each(|e| classify_entry(e, depth, &mut counting)),
        Some(_) => counting(unrecognised("`Logs` is not an array")),
        None => {}
    }
    // An invocation the platform ended (`exceededCpu`, `exception`...) before its line.
    if let Some(outcome) = outcome.as_ref().and_then(Value::as_str)
        && outcome != "ok"
        && decisions == 0
    {
        sink(Item::Dead(outcome.to_owned()));
    }
}

/// One console message of a record: its `Message` holds the `console.log` arguments; a
/// decision line is logged as the single argument, as an object or as its JSON text (text
/// that does not even start like an object is ordinary console output).
fn classify_entry(entry: Value, depth: u8, sink: &mut dyn FnMut(Item)) {
    let Value::Object(mut entry) = entry else {
        sink(unrecognised("a `Logs` entry is not an object"));
        return;
    };
    let args = match entry.remove("Message").or_else(|| entry.remove("message")) {
        Some(Value::Array(args)) => args,
        Some(other) => vec![other],
        None => vec![],
    };
    for arg in args {
        match arg {
            Value::Object(_) => classify_value(arg, depth, sink),
            Value::String(text) if text.trim_start().starts_with(OBJECT_START) => {
                classify_text(&text, depth, sink);
            }
            _ => sink(Item::OtherMessage),
        }
    }
}

/// Whether lines of schema `v` are read: 1 (no chain) and this engine's.
fn readable(v: u64) -> bool {
    (1..=u64::from(LOG_SCHEMA_VERSION)).contains(&v)
}

fn decision(line: Value) -> Item {
    let v = line.get("v").cloned().unwrap_or_default();
    if !v.as_u64().is_some_and(readable) {
        return problem(problem::UNKNOWN_VERSION, version_label(&v));
    }
    match DecisionLog::deserialize(&line) {
        Ok(log) => Item::Decision(Box::new((log, line))),
        Err(e) => {
            // serde quotes the offending value (`unknown variant `...``), however long; only
            // a missing field, named by the schema, is said as serde says it.
            let e = e.to_string();
            let why = Some(e.as_str()).filter(|e| e.starts_with("missing field"));
            let why = why.unwrap_or("a field has the wrong type or value");
            let detail = format!("not a v{LOG_SCHEMA_VERSION} decision line: {why}");
            problem(problem::INVALID_DECISION, detail)
        }
    }
}

/// The `v` value as shown in reports, shortened so a hostile value cannot flood them.
fn version_label(v: &Value) -> String {
    let text = v.to_string();
    let short: String = text.chars().take(24).collect();
    match short.len() < text.len() {
        true => format!("{short}..."),
        false => text,
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
                Item::Decision(d) => format!("decision:{}", d.0.decision_id),
                Item::Problem(kind, _) => kind.to_string(),
                Item::OtherMessage | Item::Event(_) => "other".to_string(),
                Item::Dead(outcome) => format!("dead:{outcome}"),
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
        assert!(matches!(out[0], Item::Problem("invalid_utf8", _)));
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
