//! Re-deciding logged requests against a policy revision and comparing with what was logged.
//!
//! Which lines can be re-decided: the log keeps the canonical scheme, host, port, path (and the
//! query only with `query_in_logs`), the method, the customer and its tags, which is all the
//! engine decides on. Two refusals are the exception: `invalid_url` logs no URL at all, and
//! `userinfo_in_url` leaves out the userinfo that caused it (never logged: it may be a
//! password). Rebuilding those would only check a made-up URL, so they are counted as
//! "not re-decidable" instead of compared. Lines without scheme, host, port or path are too.
//! A line whose path was cut by `path_in_logs` (`path_redacted`) holds a path the request did
//! not have: deciding it would check a made-up request and could report a mismatch that is not
//! one, so such lines are counted apart ("not re-decided: path redacted"), never compared.

use std::collections::BTreeMap;
use std::path::PathBuf;

use egress_policy_engine::Refusal::{self, InvalidHost, InvalidUrl, UserinfoInUrl};
use egress_policy_engine::artifact::Artifact;
use egress_policy_engine::{CompiledPolicy, DecisionLog, Request};
use serde::Serialize;
use serde_json::Value;

use super::bounded::Capped;
use crate::explain::fields::{Fields, pairs};
use crate::logs::Location;

/// One logged decision that the policy does not make; serialised as `replay --json` prints
/// it, `"kind": "mismatch"` first.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename = "mismatch")]
pub struct Mismatch {
    /// Where the line is.
    #[serde(flatten)]
    pub location: Location,
    /// The line's `decision_id`.
    pub decision_id: String,
    /// The line's `method`.
    pub method: String,
    /// The request as rebuilt from the line.
    pub url: String,
    /// Fields that differ.
    #[serde(rename = "differs")]
    pub fields: Vec<&'static str>,
    /// `field=value` pairs as logged.
    pub logged: String,
    /// The same fields as the policy decides them.
    pub decided: String,
}

/// Lines of one other policy revision.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Skipped {
    /// The revision's `sha256`.
    pub sha256: String,
    /// The revision's `name`.
    pub name: Option<String>,
    /// Lines skipped.
    pub lines: u64,
}

/// Compiled policy revisions kept by `egress-policy bundle --archive DIR`, loaded on first
/// use: `DIR/<policy sha256>.artifact`.
#[derive(Debug, Default)]
pub struct Archive {
    dir: PathBuf,
    /// By sha256: the revision, or `None` when it is not archived or does not load.
    loaded: BTreeMap<String, Option<CompiledPolicy>>,
    /// Archived artefacts that exist but do not load (corrupt, another format), by sha256.
    pub unloadable: BTreeMap<String, String>,
}

impl Archive {
    /// The archived revision `sha256`, if there is one that loads and is that revision.
    fn get(&mut self, sha256: &str) -> Option<&CompiledPolicy> {
        if !self.loaded.contains_key(sha256) {
            let policy = self.load(sha256);
            self.loaded.insert(sha256.to_owned(), policy);
        }
        self.loaded.get(sha256).and_then(Option::as_ref)
    }

    fn load(&mut self, sha256: &str) -> Option<CompiledPolicy> {
        // Only a 64-hex-digit name can be a file of the archive: a logged sha256 never
        // becomes a path of its own choosing.
        let hex = |b: u8| matches!(b, b'0'..=b'9' | b'a'..=b'f');
        if sha256.len() != 64 || !sha256.bytes().all(hex) {
            return None;
        }
        let bytes = std::fs::read(self.dir.join(format!("{sha256}.artifact"))).ok()?;
        let why = match CompiledPolicy::load(Artifact::Bytes(&bytes)) {
            Ok(policy) if policy.sha256() == sha256 => return Some(policy),
            Ok(policy) => format!("holds revision {} instead", policy.sha256()),
            Err(e) => e.to_string(),
        };
        self.unloadable.insert(sha256.to_owned(), why);
        None
    }
}

/// Replay totals.
#[derive(Debug)]
pub struct Replay<'p> {
    policy: &'p CompiledPolicy,
    /// Earlier revisions to re-decide their own lines with, when given.
    pub archive: Option<Archive>,
    /// Lines re-decided with an archived revision, by sha256 (a subset of `compared`).
    pub from_archive: BTreeMap<String, Skipped>,
    /// Lines of this revision that were re-decided.
    pub compared: u64,
    /// Of those, lines whose decision differs.
    pub mismatched: u64,
    /// Lines of this revision that cannot be re-decided, by why.
    pub not_redecidable: BTreeMap<&'static str, u64>,
    /// Lines of this revision whose logged path was cut (`path_redacted`): not re-decided.
    pub path_redacted: u64,
    /// Lines of other revisions, by sha256.
    pub skipped: Capped<Skipped>,
}

impl<'p> Replay<'p> {
    /// Replays against `policy`, and lines of other revisions against those in `archive`.
    pub fn new(policy: &'p CompiledPolicy, archive: Option<PathBuf>) -> Replay<'p> {
        Replay {
            policy,
            archive: archive.map(|dir| Archive {
                dir,
                ..Archive::default()
            }),
            from_archive: BTreeMap::new(),
            compared: 0,
            mismatched: 0,
            not_redecidable: BTreeMap::new(),
            path_redacted: 0,
            skipped: Capped::default(),
        }
    }

    /// Checks one line; a mismatch is returned for the caller to print (not kept).
    pub fn check(&mut self, location: &Location, log: &DecisionLog) -> Option<Mismatch> {
        let sha256 = &log.policy.sha256;
        let archived = *sha256 != self.policy.sha256();
        let archive = self.archive.as_mut().filter(|_| archived);
        let from_archive = archive.and_then(|a| a.get(sha256));
        let policy = match (archived, from_archive) {
            (false, _) => self.policy,
            (true, Some(policy)) => policy,
            (true, None) => return count(self.skipped.entry(sha256), log),
        };
        if log.path_redacted {
            self.path_redacted += 1;
            return None;
        }
        let url = match rebuild_url(log) {
            Ok(url) => url,
            Err(why) => {
                *self.not_redecidable.entry(why).or_insert(0) += 1;
                return None;
            }
        };
        let request = Request {
            method: &log.method,
            url: &url,
            customer: log.customer.as_deref(),
            // The log keeps `tags: []` either way; `no_tags` says there was no parameter.
            tags: (log.reason.as_deref() != Some(Refusal::NoTags.code())).then_some(&log.tags[..]),
        };
        let decision = policy.decide(&request);
        self.compared += 1;
        if archived {
            count(self.from_archive.entry(sha256.clone()).or_default(), log);
        }
        // The log line writes the same fields under the same names.
        let logged = serde_json::to_value(log).unwrap_or_default();
        let decided = Fields::decided(&decision, &request, policy).to_json();
        let differs = |f: &&str| logged.get(f) != decided.get(f);
        let fields: Vec<&'static str> = FIELDS.split(' ').filter(differs).collect();
        if fields.is_empty() {
            return None;
        }
        self.mismatched += 1;
        Some(Mismatch {
            location: location.clone(),
            decision_id: log.decision_id.clone(),
            method: log.method.clone(),
            logged: describe(&fields, &logged),
            decided: describe(&fields, &decided),
            url,
            fields,
        })
    }
}

/// One more line of another revision (named by its first line); no mismatch to report.
fn count(revision: &mut Skipped, log: &DecisionLog) -> Option<Mismatch> {
    if revision.lines == 0 {
        revision.sha256.clone_from(&log.policy.sha256);
        revision.name.clone_from(&log.policy.name);
    }
    revision.lines += 1;
    None
}

/// The request URL from the line's canonical parts, or why it cannot be rebuilt.
pub fn rebuild_url(log: &DecisionLog) -> Result<String, &'static str> {
    let refused = |r: &&Refusal| log.rule.is_none() && log.reason.as_deref() == Some(r.code());
    let refusals = [InvalidUrl, InvalidHost, UserinfoInUrl];
    if let Some(r) = refusals.iter().find(refused) {
        return Err(r.code());
    }
    let (Some(scheme), Some(host), Some(port), Some(path)) =
        (&log.scheme, &log.host, log.port, &log.path)
    else {
        return Err("missing_url_fields");
    };
    if !path.starts_with('/') || host.is_empty() {
        return Err("missing_url_fields");
    }
    let query: String = log.query.iter().flat_map(|q| ["?", q]).collect();
    Ok(format!("{scheme}://{host}:{port}{path}{query}"))
}

/// Compared in this order; host, port and path check that canonicalising the logged request
/// again changes nothing.
const FIELDS: &str = "action rule report_rule would_block credential reason host port path";

/// `field=value` pairs ([`pairs`]) with the values of `source`, strings bare.
fn describe(fields: &[&str], source: &Value) -> String {
    pairs(fields, |f| match source.get(f) {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => "null".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(json: &str) -> DecisionLog {
        let base = r#"{"v":1,"ts":"2026-11-28T12:00:00.000Z","decision_id":"d","customer":"c","tags":[],"action":"block","would_block":false,"rule":null,"report_rule":null,"reason":null,"method":"GET","scheme":"https","host":"a.example","port":443,"path":"/p","credential":null,"policy":{"name":null,"sha256":"00"},"status":null,"error":null,"duration_ms":0}"#;
        let mut value: serde_json::Value = serde_json::from_str(base).unwrap();
        let patch: serde_json::Value = serde_json::from_str(json).unwrap();
        for (k, v) in patch.as_object().unwrap() {
            value[k] = v.clone();
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn rebuilds_urls_from_canonical_parts() {
        assert_eq!(
            rebuild_url(&line("{}")),
            Ok("https://a.example:443/p".into())
        );
        assert_eq!(
            rebuild_url(&line(r#"{"host":"[fd00::1]","port":8443,"query":"a=1"}"#)),
            Ok("https://[fd00::1]:8443/p?a=1".into())
        );
    }

    #[test]
    fn redacted_paths_are_counted_not_compared() {
        let policy = egress_policy_engine::compile(
            "p.toml",
            "version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"a.example\"]\npaths = [\"/hooks/*/secret\"]\n",
        )
        .unwrap()
        .policy;
        let sha = policy.sha256().to_owned();
        let mut replay = Replay::new(&policy, None);
        let location = Location {
            file: "l.jsonl".into(),
            line: 1,
        };
        // Logged blocked with the path cut to `/hooks`: re-deciding `/hooks` would pass it.
        let redacted = line(&format!(
            r#"{{"rule":"b","path":"/hooks","path_redacted":true,"policy":{{"name":null,"sha256":"{sha}"}}}}"#
        ));
        assert!(replay.check(&location, &redacted).is_none());
        // `path_in_logs = "none"`: no path at all, still counted as redacted.
        let none = line(&format!(
            r#"{{"rule":"b","path":null,"path_redacted":true,"policy":{{"name":null,"sha256":"{sha}"}}}}"#
        ));
        assert!(replay.check(&location, &none).is_none());
        assert_eq!(
            (replay.path_redacted, replay.compared, replay.mismatched),
            (2, 0, 0)
        );
        assert!(replay.not_redecidable.is_empty());
        // The same line unredacted is compared, and differs: the check above is not vacuous.
        let full = line(&format!(
            r#"{{"rule":"b","path":"/hooks","policy":{{"name":null,"sha256":"{sha}"}}}}"#
        ));
        assert!(replay.check(&location, &full).is_some());
        assert_eq!((replay.compared, replay.mismatched), (1, 1));
    }

    #[test]
    fn refusals_without_their_input_are_not_redecided() {
        assert_eq!(
            rebuild_url(&line(r#"{"reason":"invalid_url","host":null}"#)),
            Err("invalid_url")
        );
        assert_eq!(
            rebuild_url(&line(r#"{"reason":"userinfo_in_url"}"#)),
            Err("userinfo_in_url")
        );
        assert_eq!(
            rebuild_url(&line(r#"{"path":null}"#)),
            Err("missing_url_fields")
        );
        // A rule whose reason text happens to be a refusal code is still re-decided.
        assert!(rebuild_url(&line(r#"{"rule":"r","reason":"invalid_url"}"#)).is_ok());
    }
}
