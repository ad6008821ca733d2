//! `test`, run as the binary: the default policy's own tests pass, failures and malformed
//! test files are reported with file:line and exit 1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::run;

#[test]
fn default_policy_passes_its_tests() {
    let out = run(&["test"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let summary = out.stdout.lines().last().unwrap();
    assert!(summary.ends_with(" passed, 0 failed"), "{summary}");
    let passed: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 50, "{summary}");
}

#[test]
fn every_shipped_test_file_documents_the_format() {
    let dir = support::root().join("policy/tests");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with("# Policy tests for policy/policy.toml")
                    && text.contains("# Format: one `[[case]]` table per request."),
                "{}",
                path.display()
            );
        }
    }
    assert!(files >= 4);
}

#[test]
fn failing_cases_show_expected_and_actual_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.toml");
    std::fs::write(
        &file,
        r#"[[case]]
name = "right"
customer = "c"
url = "https://malicious.com/"
expect = { action = "block", rule = "block-malware" }

[[case]]
name = "wrong action and rule"
customer = "c"
url = "https://cdn.malicious.com/"
expect = { action = "pass" }

[[case]]
name = "wrong reason"
customer = "c"
url = "https://xmr.nanopool.org/"
expect = { action = "pass", would_block = false, reason = "mining" }
"#,
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = run(&["test", "policy/policy.toml", path]);
    assert_eq!(out.code, 1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "{path}:7: FAIL \"wrong action and rule\": expected action=`pass` rule=none, got action=`block` rule=`block-malware`"
            ),
            format!(
                "{path}:13: FAIL \"wrong reason\": expected action=`pass` rule=none would_block=false reason=`mining`, got action=`pass` rule=none would_block=true reason=`crypto-mining pools (report only while rolling out)`"
            ),
            "1 passed, 2 failed".to_owned(),
        ]
    );
}

#[test]
fn malformed_test_files_are_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(
        &file,
        "[[case]]\nname = \"x\"\nurl = \"https://a.example/\"\ncustmer = \"c\"\nexpect = { action = \"pass\", rul = \"x\" }\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = run(&["test", "policy/policy.toml", path]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains(&format!(
            "{path}:4:1: error: unknown key `custmer` in a case: did you mean `customer`?"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "{path}:5:29: error: unknown key `rul` in `expect`: did you mean `rule`?"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .ends_with("1 test file could not be read as tests\n0 passed, 0 failed\n")
    );
}

#[test]
fn a_directory_without_tests_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["test", "policy/policy.toml", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("no `*.toml` test files"),
        "{}",
        out.stderr
    );
}

#[test]
fn coverage_lists_rules_no_case_exercised() {
    let out = run(&["test", "--coverage"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let rules = egress_policy_engine::compile(
        "policy.toml",
        &std::fs::read_to_string(support::root().join("policy/policy.toml")).unwrap(),
    )
    .unwrap()
    .policy
    .model()
    .rules
    .len();
    assert!(
        out.stdout
            .contains(&format!("coverage: {rules} of {rules} rules exercised\n")),
        "{}",
        out.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.toml");
    std::fs::write(
        &file,
        "[[case]]\nname = \"x\"\ncustomer = \"c\"\nurl = \"https://malicious.com/\"\nexpect = { action = \"block\", rule = \"block-malware\" }\n",
    )
    .unwrap();
    let out = run(&[
        "test",
        "--coverage",
        "policy/policy.toml",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains(&format!(
            "coverage: 1 of {rules} rules exercised; not exercised: block-cloud-metadata,"
        )),
        "{}",
        out.stdout
    );
}
