//! `egress-policy test [POLICY] [FILES...]`: runs policy test cases like `opa test`.
//!
//! Without FILES, runs every `*.toml` in the `tests/` directory beside the policy
//! (`policy/tests/*.toml` for the default policy). A directory among FILES means its `*.toml`.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{read_text, toml_files};
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
    let loaded = policy_source::load(&args.policy)?;
    let policy = &loaded.compiled.policy;
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed, mut broken_files) = (0usize, 0usize, 0usize);
    let mut exercised: BTreeSet<String> = BTreeSet::new();
    for file in test_files(&args.policy, &args.files)? {
        let file_name = file.display().to_string();
        let cases = match case_file::parse(&read_text(&file)?) {
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
            let rules = [&decision.rule, &decision.report_rule];
            exercised.extend(rules.into_iter().flatten().map(|r| r.id.clone()));
            let decided = Fields::decided(&decision, &request, policy).to_json();
            let differing = run::differing(case, &decided);
            if differing.is_empty() {
                passed += 1;
                if args.verbose {
                    writeln!(out, "{file_name}:{}: ok {:?}", case.line, case.name)?;
                }
            } else {
                failed += 1;
                let line = run::failure_line(&file_name, case, &decided, &differing);
                writeln!(out, "{line}")?;
            }
        }
    }
    if broken_files > 0 {
        let files = policy_source::counted(broken_files, "test file");
        writeln!(out, "{files} could not be read as tests")?;
    }
    if args.coverage {
        let rules = policy.model().rules.iter().map(|r| r.id.as_str());
        let missed: Vec<&str> = rules.filter(|id| !exercised.contains(*id)).collect();
        let all = policy.model().rules.len();
        let list = match missed.is_empty() {
            true => String::new(),
            false => format!("; not exercised: {}", missed.join(", ")),
        };
        let covered = all - missed.len();
        writeln!(out, "coverage: {covered} of {all} rules exercised{list}")?;
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(Outcome::failed_if(failed > 0 || broken_files > 0))
}

/// The files to run: the given ones (directories expanded to their `*.toml`, sorted), or the
/// `tests/` directory beside the policy.
fn test_files(policy: &Path, given: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let default = [policy.parent().unwrap_or(Path::new("")).join("tests")];
    let roots = if given.is_empty() { &default } else { given };
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            let found = toml_files(root)?;
            if found.is_empty() {
                let why = format!("no `*.toml` test files in `{}`", root.display());
                return Err(CliError::Usage(why));
            }
            files.extend(found);
        } else if given.is_empty() {
            return Err(CliError::Usage(format!(
                "no test directory `{}`; name test files after the policy",
                root.display()
            )));
        } else {
            files.push(root.clone());
        }
    }
    Ok(files)
}
