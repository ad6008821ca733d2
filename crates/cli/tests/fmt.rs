//! `egress-policy fmt`: canonical layout, comments kept, idempotent, meaning unchanged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use egress_policy_engine::{CompiledPolicy, Decision, Request, compile};

fn repo(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_egress-policy"))
        .arg("fmt")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn format(text: &str) -> String {
    let out = run(&["-"], Some(text));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The shipped policies `fmt` formats by default, plus this crate's fixture policies.
fn policies() -> Vec<PathBuf> {
    let mut files = vec![repo("policy/policy.toml")];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo("policy/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    examples.sort();
    assert!(!examples.is_empty());
    files.extend(examples);
    files.push(repo("crates/cli/tests/fixtures/logs/replay-policy.toml"));
    files.push(repo("crates/cli/tests/fixtures/keys/jwks-policy.toml"));
    files
}

const MESSY: &str = r#"# header comment
name="messy"   # the name
version=1

[[rules]]
hosts=[ "a.example",   "b.example" ]   # two hosts
action  =  "block"
# the id comes last here
id="r1"
reason = 'literal string'

[credentials.c1]
ttl=300
algorithm="ES256"
kind="jwt"
secret="S"

  # who issues
issuer="i"
audience="a"
claims={sub="{customer}",   team = "t"}

[defaults]
mode="enforce"
action="pass"

[[rules]]
id="r2"
action="inject"
credential="c1"
hosts=[
  # first host
  "api.example", # trailing
  "very-long-host-name-number-one.example", "very-long-host-name-number-two.example",
]
# dangling comment at the end
"#;

const MESSY_FORMATTED: &str = r#"# header comment
version = 1
name = "messy" # the name

[defaults]
action = "pass"
mode = "enforce"

[[rules]]
# the id comes last here
id = "r1"
action = "block"
hosts = ["a.example", "b.example"] # two hosts
reason = 'literal string'

[[rules]]
id = "r2"
action = "inject"
hosts = [
  # first host
  "api.example", # trailing
  "very-long-host-name-number-one.example",
  "very-long-host-name-number-two.example",
]
credential = "c1"

[credentials.c1]
kind = "jwt"
algorithm = "ES256"
secret = "S"

# who issues
issuer = "i"
audience = "a"
ttl = 300
claims = { sub = "{customer}", team = "t" }

# dangling comment at the end
"#;

#[test]
fn orders_tables_and_keys_keeps_comments_and_spaces_consistently() {
    assert_eq!(format(MESSY), MESSY_FORMATTED);
}

#[test]
fn formatting_is_idempotent() {
    assert_eq!(format(MESSY_FORMATTED), MESSY_FORMATTED);
    for file in policies() {
        let once = format(&std::fs::read_to_string(&file).unwrap());
        assert_eq!(format(&once), once, "{}", file.display());
    }
}

#[test]
fn inline_tables_become_one_table_per_rule() {
    let text = "rules = [{id=\"x\", action=\"block\"}, {id=\"y\", action=\"pass\"}]\nversion = 1\ndefaults = { action = \"block\" }\n[credentials]\nc = { kind = \"jwt\" }\n";
    assert_eq!(
        format(text),
        "version = 1\n\n[defaults]\naction = \"block\"\n\n[[rules]]\nid = \"x\"\naction = \"block\"\n\n[[rules]]\nid = \"y\"\naction = \"pass\"\n\n[credentials.c]\nkind = \"jwt\"\n"
    );
}

#[test]
fn list_tables_take_their_key_order() {
    let text = "version = 1\n[lists]\nfeed = { match = \"exact\", file = \"f.txt\" }\n[[rules]]\nlists = [\"feed\"]\nid = \"x\"\naction = \"block\"\n[lists.ads]\nmatch = \"subdomains\"\nformat = \"hosts\"\nfile = \"ads.txt\"\n";
    let formatted = format(text);
    assert_eq!(
        formatted,
        "version = 1\n\n[[rules]]\nid = \"x\"\naction = \"block\"\nlists = [\"feed\"]\n\n[lists.feed]\nfile = \"f.txt\"\nmatch = \"exact\"\n\n[lists.ads]\nfile = \"ads.txt\"\nformat = \"hosts\"\nmatch = \"subdomains\"\n"
    );
    assert_eq!(format(&formatted), formatted);
}

fn compiled(name: &str, text: &str) -> CompiledPolicy {
    compile(name, text)
        .unwrap_or_else(|d| {
            panic!(
                "{name}: {:?}",
                d.0.iter().map(|x| &x.message).collect::<Vec<_>>()
            )
        })
        .policy
}

fn without_lines(mut d: Decision) -> Decision {
    for r in [&mut d.rule, &mut d.report_rule].into_iter().flatten() {
        r.line = 0;
    }
    d
}

/// Hosts that exercise every pattern of the policy: the apex and a subdomain of `*.x`,
/// a filled-in in-label `*`, the base address of a CIDR, and some unrelated hosts.
fn probe_hosts(policy: &CompiledPolicy) -> Vec<String> {
    let mut hosts = vec![
        "unrelated.example".to_string(),
        "169.254.169.254".to_string(),
    ];
    for rule in &policy.model().rules {
        for pattern in rule.hosts.iter().flatten() {
            let text = pattern.to_string();
            let base = text.split('/').next().unwrap_or_default().to_string();
            let host = base.trim_start_matches("*.").replace('*', "x");
            hosts.push(format!("x.{host}"));
            hosts.push(host);
        }
    }
    hosts
        .into_iter()
        .map(|h| {
            if h.contains(':') {
                format!("[{}]", h.trim_start_matches("x."))
            } else {
                h
            }
        })
        .collect()
}

#[test]
fn formatting_does_not_change_what_shipped_policies_decide() {
    for file in policies() {
        let before = std::fs::read_to_string(&file).unwrap();
        let after = format(&before);
        let name = file.display().to_string();
        let (a, b) = (compiled(&name, &before), compiled(&name, &after));
        assert_eq!(a.model().name.as_deref(), b.model().name.as_deref());
        assert_eq!(a.model().defaults, b.model().defaults, "{name}");
        let creds =
            |p: &CompiledPolicy| p.model().credentials.values().cloned().collect::<Vec<_>>();
        assert_eq!(creds(&a), creds(&b), "{name}");
        let rules = |p: &CompiledPolicy| {
            p.model()
                .rules
                .iter()
                .cloned()
                .map(|mut r| {
                    r.line = 0;
                    r
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(rules(&a), rules(&b), "{name}");

        let mut customers: Vec<Option<String>> = vec![None, Some("customer-probe".into())];
        let mut tag_sets: Vec<Vec<String>> = vec![vec![]];
        for rule in &a.model().rules {
            customers.extend(rule.customers.iter().flatten().cloned().map(Some));
            tag_sets.extend(rule.tags.iter().flatten().map(|t| vec![t.clone()]));
        }
        let mut decisions = 0;
        for host in probe_hosts(&a) {
            for scheme in ["https", "http"] {
                for path in ["/", "/v1/users", "/admin/x", "/v2/x"] {
                    let url = format!("{scheme}://{host}{path}");
                    for method in ["GET", "POST", "DELETE"] {
                        for customer in &customers {
                            for tags in &tag_sets {
                                let request = Request {
                                    method,
                                    url: &url,
                                    customer: customer.as_deref(),
                                    tags: Some(tags),
                                };
                                assert_eq!(
                                    without_lines(a.decide(&request)),
                                    without_lines(b.decide(&request)),
                                    "{name}: {method} {url}"
                                );
                                decisions += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(decisions > 100, "{name}: only {decisions} probes");
    }
}

fn temp_copy(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_lists_files_that_would_change_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let messy = temp_copy(dir.path(), "messy.toml", MESSY);
    let tidy = temp_copy(dir.path(), "tidy.toml", MESSY_FORMATTED);
    let out = run(
        &["--check", messy.to_str().unwrap(), tidy.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("messy.toml") && !stdout.contains("tidy.toml"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), MESSY);

    let out = run(&[messy.to_str().unwrap()], None);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), MESSY_FORMATTED);
    let out = run(
        &["--check", messy.to_str().unwrap(), tidy.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn refuses_a_file_that_does_not_parse() {
    let dir = tempfile::tempdir().unwrap();
    let text = "version = 1\n[[rules]\nid = \"x\"\n";
    let bad = temp_copy(dir.path(), "bad.toml", text);
    let out = run(&[bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bad.toml:2:"), "{stderr}");
    assert!(stderr.contains("not formatted"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), text);
}
