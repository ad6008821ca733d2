//! `egress-policy test [POLICY] [FILES...]`: runs policy test cases like `opa test`.
//!
//! Without FILES, runs every `*.toml` in the `tests/` directory beside the policy
//! (`policy/tests/*.toml` for the default policy). A directory among FILES means its `*.toml`.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::explain::fields::Fields;
use crate::policy_source::{self, DEFAULT_POLICY};
use crate::policy_tests::{case_file, run};
use crate::{CliError, Outcome};

/// Arguments of `test`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Test files hold `[[case]]` tables: name, customer (omit for the `no_customer` refusal), \
                  tags, method (default GET), url, and expect = { action = \"block\", rule = \"id\" } \
                  (omit `rule` when no rule decides; optional would_block, report_rule, reason, \
                  credential). Unknown keys are errors. The top of each policy/tests/*.toml repeats this."
)]
pub struct Args {
    /// The policy file.
    #[arg(default_value = DEFAULT_POLICY)]
    policy: PathBuf,
    /// Test files or directories (default: `tests/*.toml` beside the policy).
    files: Vec<PathBuf>,
    /// Also list the cases that pass.
    #[arg(short, long)]
    verbose: bool,
    /// Also list the rules no case exercised (as deciding or report-mode rule).
    #[arg(long)]
    coverage: bool,
}

/// Runs `test`: exit 1 when any case fails or any test file is malformed.
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let mut out = std::io::stdout().lock();
    let loaded = policy_source::load(&args.policy)?;
    let policy = &loaded.compiled.policy;
    let files = test_files(&args.policy, &args.files)?;
    let (mut passed, mut failed, mut broken_files) = (0usize, 0usize, 0usize);
    let mut exercised: BTreeSet<String> = BTreeSet::new();
    for file in &files {
        let file_name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|source| CliError::Read {
            path: file.clone(),
            source,
        })?;
        let cases = match case_file::parse(&text) {
            Ok(cases) => cases,
            Err(errors) => {
                broken_files += 1;
                for error in &errors {
                    writeln!(out, "{}", error.render(&file_name))?;
                }
                continue;
            }
        };
        for case in &cases {
            let request = run::request(case);
            let decision = policy.decide(&request);
            exercised.extend(decision.rule.iter().map(|r| r.id.clone()));
            exercised.extend(decision.report_rule.iter().map(|r| r.id.clone()));
            let decided = Fields::decided(&decision, &request, policy).to_json();
            let differing = run::differing(case, &decided);
            if differing.is_empty() {
                passed += 1;
                if args.verbose {
                    writeln!(out, "{file_name}:{}: ok {:?}", case.line, case.name)?;
                }
            } else {
                failed += 1;
                writeln!(
                    out,
                    "{}",
                    run::failure_line(&file_name, case, &decided, &differing)
                )?;
            }
        }
    }
    if broken_files > 0 {
        writeln!(
            out,
            "{broken_files} test file{} could not be read as tests",
            policy_source::plural(broken_files)
        )?;
    }
    if args.coverage {
        let missed: Vec<&str> = policy
            .rules()
            .iter()
            .map(|r| r.id.as_str())
            .filter(|id| !exercised.contains(*id))
            .collect();
        writeln!(
            out,
            "coverage: {} of {} rules exercised{}",
            policy.rules().len() - missed.len(),
            policy.rules().len(),
            if missed.is_empty() {
                String::new()
            } else {
                format!("; not exercised: {}", missed.join(", "))
            }
        )?;
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(Outcome::failed_if(failed > 0 || broken_files > 0))
}

/// The files to run: the given ones (directories expanded to their `*.toml`, sorted), or the
/// `tests/` directory beside the policy.
fn test_files(policy: &Path, given: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let default_dir;
    let roots: Vec<&Path> = if given.is_empty() {
        default_dir = policy
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join("tests");
        vec![default_dir.as_path()]
    } else {
        given.iter().map(PathBuf::as_path).collect()
    };
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            let entries = std::fs::read_dir(root).map_err(|source| CliError::Read {
                path: root.to_path_buf(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(CliError::Usage(format!(
                    "no `*.toml` test files in `{}`",
                    root.display()
                )));
            }
            files.extend(found);
        } else if given.is_empty() {
            return Err(CliError::Usage(format!(
                "no test directory `{}`; name test files after the policy",
                root.display()
            )));
        } else {
            files.push(root.to_path_buf());
        }
    }
    Ok(files)
}
