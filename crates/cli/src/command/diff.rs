//! `egress-policy diff OLD NEW [--json]`: what a policy change newly blocks, allows and
//! injects, computed by probing both compiled policies (see `crate::diff`).
//!
//! Exit codes: 0 no widening change, 3 a widening change (anything that was blocked now
//! passes or is injected, an enforced block is now report-only, or a credential is sent where
//! it was not), 1 a policy error, 2 a usage error.

use std::io::Write as _;
use std::path::PathBuf;

use egress_policy_engine::{Credential, DomainList, PolicyModel};

use crate::diff::render::{self, DiffReport, PolicyLabel};
use crate::diff::{compare, group, list_probes, probe_set};
use crate::policy_source::{self, LoadedPolicy};
use crate::{CliError, Outcome};

/// Arguments of `diff`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 no widening change, 3 a widening change (something blocked now passes or \
                  is injected, an enforced block is now report-only, or a credential goes where it did \
                  not), 1 a policy error, 2 a usage error."
)]
pub struct Args {
    /// The policy before the change.
    old: PathBuf,
    /// The policy after the change.
    new: PathBuf,
    /// Print one JSON object instead of the readable report.
    #[arg(long)]
    json: bool,
}

/// Runs `diff`.
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let old = policy_source::load(&args.old)?;
    let new = policy_source::load(&args.new)?;
    let (old_policy, new_policy) = (&old.compiled.policy, &new.compiled.policy);
    let probes = probe_set::probes(old_policy, new_policy);
    let differences = compare::differences(&probes, old_policy, new_policy);
    let changes = group::group(&probes, differences);
    let report = DiffReport {
        old: label(&old),
        new: label(&new),
        probes: probes.len(),
        widening: changes.iter().any(|g| g.widening),
        changes,
        notes: notes(old_policy.model(), new_policy.model()),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        render::human(&report, &mut out)?;
    }
    Ok(match report.widening {
        true => Outcome::Widens,
        false => Outcome::Ok,
    })
}

fn label(loaded: &LoadedPolicy) -> PolicyLabel {
    let file = loaded.source.file_name();
    let revision = loaded.compiled.policy.policy_ref();
    PolicyLabel { file, revision }
}

/// Changes that decide nothing differently but a reviewer must see: a credential whose
/// definition changed under the same id, logging settings, and how much each domain list
/// changed (its probes show only a few names).
fn notes(old: &PolicyModel, new: &PolicyModel) -> Vec<String> {
    let mut notes = Vec::new();
    for before in old.credentials.values() {
        let after = new.credentials.get(&before.id);
        if let Some(after) = after.filter(|after| *after != before) {
            let fields = changed_fields(before, after).join(", ");
            notes.push(format!("credential `{}` changed its {fields}", before.id));
        }
    }
    for before in old.lists.values() {
        let Some(after) = new.lists.get(&before.id) else {
            continue;
        };
        let (id, (removed, added)) = (&before.id, list_probes::count_changes(before, after));
        if removed > 0 || added > 0 {
            let (added, now) = (policy_source::counted(added, "name"), after.domains.len());
            notes.push(format!(
                "list `{id}` changed: {added} added, {removed} removed ({now} names now)"
            ));
        }
        let [was, is] = [before, after].map(list_settings);
        if was != is {
            notes.push(format!("list `{id}` changed from {was} to {is}"));
        }
    }
    let defaults = [&old.defaults, &new.defaults];
    let query = defaults.map(|d| d.query_in_logs.to_string());
    let path = defaults.map(|d| d.path_in_logs.as_policy_value());
    for (key, [was, is]) in [("query_in_logs", query), ("path_in_logs", path)] {
        if was != is {
            notes.push(format!("`defaults.{key}` changed from {was} to {is}"));
        }
    }
    notes
}

/// `` `format = "domains"`, `match = "exact"` ``
fn list_settings(list: &DomainList) -> String {
    let (format, matching) = (list.format.as_str(), list.matching.as_str());
    format!("`format = \"{format}\"`, `match = \"{matching}\"`")
}

fn changed_fields(a: &Credential, b: &Credential) -> Vec<&'static str> {
    let fields = [
        ("algorithm", a.algorithm != b.algorithm),
        ("secret name", a.secret != b.secret),
        ("key_id", a.key_id != b.key_id),
        ("issuer", a.issuer != b.issuer),
        ("audience", a.audience != b.audience),
        ("ttl", a.ttl != b.ttl),
        ("header", a.header != b.header),
        ("prefix", a.prefix != b.prefix),
        ("claims", a.claims != b.claims),
    ];
    let changed = fields.into_iter().filter(|(_, changed)| *changed);
    changed.map(|(name, _)| name).collect()
}
