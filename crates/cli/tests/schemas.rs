//! The JSON Schemas in `schemas/` agree with the real files: every policy in the repository
//! validates against `policy.schema.json`, broken policies do not, and decision log lines
//! (the engine's `DecisionLog` serialised, and captured logs) validate against
//! `decision-log.schema.json`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};

use egress_policy_engine::log_chain::{ChainAlg, Trail};
use egress_policy_engine::{
    Action, DecisionLog, LOG_SCHEMA_VERSION, ListFiles, Outcome, PolicyRef, compile,
    compile_with_lists, header_names, list_files,
};
use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load_schema(name: &str) -> Validator {
    let path = repo_root().join("schemas").join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert!(
        jsonschema::meta::is_valid(&schema),
        "{name} is not a valid JSON Schema"
    );
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn policy_schema() -> Validator {
    load_schema("policy.schema.json")
}

fn log_schema() -> Validator {
    load_schema("decision-log.schema.json")
}

/// TOML text -> the JSON value an editor's TOML language server validates.
fn toml_to_json(text: &str) -> Value {
    let value: toml::Value = toml::from_str(text).unwrap_or_else(|e| panic!("not TOML: {e}"));
    serde_json::to_value(value).unwrap()
}

fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at `{}`", e, e.instance_path()))
        .collect()
}

fn assert_valid(validator: &Validator, what: &str, instance: &Value) {
    let errors = errors(validator, instance);
    assert!(
        errors.is_empty(),
        "{what} fails the schema:\n{}",
        errors.join("\n")
    );
}

/// Compiles `text` with each list file it names holding one domain (in hosts-file form for a
/// `.hosts` file), so that a policy with lists is judged on its own content.
fn compile_with_stub_lists(
    name: &str,
    text: &str,
) -> Result<egress_policy_engine::Compiled, String> {
    let mut lists = ListFiles::new();
    for file in list_files(text) {
        let stub = if file.ends_with(".hosts") {
            "0.0.0.0 listed.example\n"
        } else {
            "listed.example\n"
        };
        lists.insert(&file, file.clone(), stub.to_owned());
    }
    compile_with_lists(name, text, &lists).map_err(|diags| {
        diags
            .0
            .iter()
            .map(|d| d.render_with(name, text, &lists))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn repo_policies() -> Vec<PathBuf> {
    let root = repo_root().join("policy");
    let mut files = vec![root.join("policy.toml")];
    let examples = root.join("examples");
    if let Ok(entries) = fs::read_dir(&examples) {
        let mut found: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

#[test]
fn every_repository_policy_validates() {
    let schema = policy_schema();
    for path in repo_policies() {
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_valid(&schema, &path.display().to_string(), &toml_to_json(&text));
    }
}

#[test]
fn default_policy_references_the_schema() {
    let text = fs::read_to_string(repo_root().join("policy/policy.toml")).unwrap();
    assert_eq!(
        text.lines().next(),
        Some("#:schema ../schemas/policy.schema.json")
    );
}

/// The full example of docs/policy.md, every key used once.
const DESIGN_EXAMPLE: &str = r#"
version = 1
name = "platform-egress"

[defaults]
action = "pass"
mode = "enforce"
ip_literals = "block"
query_in_logs = false

[[rules]]
id = "block-malware"
action = "block"
hosts = ["malicious.com", "*.malicious.com", "169.254.169.254", "10.0.0.0/8", "::1", "fd00::/8"]
reason = "known malware distribution"
mode = "report"

[[rules]]
id = "example-api"
action = "inject"
hosts = ["api.example.com", "api-*.example.com"]
credential = "example-api-jwt"
schemes = ["https"]
ports = [443]
methods = ["GET", "POST"]
paths = ["/v1/**"]
path_regex = "^/v1/(users|orgs)/"
customers = ["customer-123"]
tags = ["production"]

[[rules]]
id = "internal.pass_1"
action = "pass"

[credentials.example-api-jwt]
kind = "jwt"
algorithm = "ES256"
secret = "EXAMPLE_API_SIGNING_KEY"
key_id = "2026-11"
issuer = "egress.platform.example"
audience = "api.example.com"
ttl = 300
header = "Authorization"
prefix = "Bearer "
claims = { sub = "{customer}", tenant = "t:{tags}@{host}/{rule}" }
"#;

#[test]
fn design_example_validates() {
    assert_valid(
        &policy_schema(),
        "full example",
        &toml_to_json(DESIGN_EXAMPLE),
    );
    assert!(compile("design.toml", DESIGN_EXAMPLE).is_ok());
}

/// Policies the engine accepts must not be flagged by an editor: the schema is never
/// stricter than `check`.
#[test]
fn valid_corner_cases_validate() {
    let cases: &[(&str, &str)] = &[
        ("no defaults, no rules", "version = 1\n"),
        (
            "block and pass rules without hosts",
            "version = 1\n[[rules]]\nid = \"all\"\naction = \"block\"\nmode = \"enforce\"\n[[rules]]\nid = \"p\"\naction = \"pass\"\ntags = [\"internal\"]\n",
        ),
        (
            "every host pattern form",
            "version = 1\n[[rules]]\nid = \"h\"\naction = \"block\"\nhosts = [\"a.example.com\", \"*.example.com\", \"api-*.example.com\", \"ec2.*.amazonaws.com\", \"_dmarc.example.com\", \"xn--bcher-kva.example\", \"10.0.0.0/8\", \"169.254.169.254\", \"::1\", \"fd00::/8\", \"fd00:ec2::254\"]\n",
        ),
        (
            "conditions",
            "version = 1\n[[rules]]\nid = \"c\"\naction = \"pass\"\nhosts = [\"a.com\"]\nmethods = [\"PURGE\", \"GET\"]\nports = [1, 65535]\npaths = [\"/\", \"/**\", \"/v1/*/keys\", \"/a%2Fb\"]\npath_regex = \"^/v1/(users|orgs)/\"\ncustomers = [\"c:1\"]\n",
        ),
        (
            "path_in_logs as a word",
            "version = 1\n[defaults]\npath_in_logs = \"none\"\n",
        ),
        (
            "path_in_logs as a segment count",
            "version = 1\n[defaults]\npath_in_logs = 32\n",
        ),
        (
            "domain lists, with and without hosts",
            "version = 1\n[lists.feed]\nfile = \"lists/feed.txt\"\nmatch = \"subdomains\"\n[lists.ads]\nfile = \"ads.hosts\"\nformat = \"hosts\"\nmatch = \"exact\"\n[[rules]]\nid = \"b\"\naction = \"block\"\nlists = [\"feed\", \"ads\"]\n[[rules]]\nid = \"c\"\naction = \"block\"\nhosts = [\"a.example\"]\nlists = [\"feed\"]\nmode = \"report\"\n",
        ),
        (
            "a header that merely starts like a forbidden one",
            "version = 1\n[[rules]]\nid = \"i\"\naction = \"inject\"\nhosts = [\"api.example.com\"]\ncredential = \"k\"\n[credentials.k]\nalgorithm = \"HS256\"\nsecret = \"K\"\nissuer = \"i\"\naudience = \"a\"\nttl = 60\nheader = \"Hosted-Token\"\n",
        ),
        (
            "minimal credential, custom header and empty prefix",
            "version = 1\n[[rules]]\nid = \"i\"\naction = \"inject\"\nhosts = [\"api.example.com\"]\ncredential = \"k\"\n[credentials.k]\nalgorithm = \"EdDSA\"\nsecret = \"_K1\"\nissuer = \"i\"\naudience = \"a\"\nttl = 86400\nheader = \"X-Api-Token\"\nprefix = \"\"\nclaims = { scope = \"{{literal}} {rule}\" }\n",
        ),
        (
            "a credential with its next key",
            "version = 1\n[credentials.k]\nalgorithm = \"ES256\"\nsecret = \"K_2026_11\"\nkey_id = \"2026-11\"\nnext_secret = \"K_2027_05\"\nnext_key_id = \"2027-05\"\nissuer = \"i\"\naudience = \"a\"\nttl = 60\n",
        ),
    ];
    let schema = policy_schema();
    for (what, text) in cases {
        if let Err(diags) = compile_with_stub_lists("case.toml", text) {
            panic!("the engine rejects the valid case ({what}): {diags}");
        }
        assert_valid(&schema, what, &toml_to_json(text));
    }
}

#[test]
fn broken_policies_are_rejected() {
    let minimal = "version = 1\n";
    let api_cred = r#"
[credentials.api]
kind = "jwt"
algorithm = "HS256"
secret = "API_KEY"
issuer = "egress"
audience = "api.example.com"
ttl = 300
"#;
    let cases: &[(&str, String)] = &[
        ("missing version", "name = \"x\"\n".into()),
        ("unknown version", "version = 2\n".into()),
        ("unknown top-level key", format!("{minimal}rule = []\n")),
        (
            "unknown defaults key",
            format!("{minimal}[defaults]\nactoin = \"pass\"\n"),
        ),
        (
            "unknown default action",
            format!("{minimal}[defaults]\naction = \"allow\"\n"),
        ),
        (
            "unknown mode",
            format!("{minimal}[defaults]\nmode = \"audit\"\n"),
        ),
        (
            "unknown ip_literals",
            format!("{minimal}[defaults]\nip_literals = \"deny\"\n"),
        ),
        (
            "query_in_logs not bool",
            format!("{minimal}[defaults]\nquery_in_logs = \"yes\"\n"),
        ),
        (
            "rule without id",
            format!("{minimal}[[rules]]\naction = \"block\"\n"),
        ),
        (
            "rule without action",
            format!("{minimal}[[rules]]\nid = \"a\"\n"),
        ),
        (
            "unknown action",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"allow\"\n"),
        ),
        (
            "bad id charset",
            format!("{minimal}[[rules]]\nid = \"a b\"\naction = \"block\"\n"),
        ),
        (
            "unknown rule key",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nhost = [\"a.com\"]\n"),
        ),
        (
            "empty hosts",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nhosts = []\n"),
        ),
        (
            "upper-case host",
            format!(
                "{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nhosts = [\"Malicious.com\"]\n"
            ),
        ),
        (
            "unicode host",
            format!(
                "{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nhosts = [\"ｍalicious.com\"]\n"
            ),
        ),
        (
            "trailing-dot host",
            format!(
                "{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nhosts = [\"*.malicious.com.\"]\n"
            ),
        ),
        (
            "empty label",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nhosts = [\"a..b.com\"]\n"),
        ),
        (
            "double star",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nhosts = [\"**.b.com\"]\n"),
        ),
        (
            "bare star",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nhosts = [\"*\"]\n"),
        ),
        (
            "bad scheme",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nschemes = [\"ftp\"]\n"),
        ),
        (
            "port out of range",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nports = [70000]\n"),
        ),
        (
            "lower-case method",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nmethods = [\"get\"]\n"),
        ),
        (
            "relative path glob",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\npaths = [\"v1/**\"]\n"),
        ),
        (
            "unknown rule mode",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nmode = \"dry-run\"\n"),
        ),
        (
            "inject without credential",
            format!(
                "{minimal}[[rules]]\nid = \"a\"\naction = \"inject\"\nhosts = [\"api.example.com\"]\n{api_cred}"
            ),
        ),
        (
            "inject without hosts",
            format!(
                "{minimal}[[rules]]\nid = \"a\"\naction = \"inject\"\ncredential = \"api\"\n{api_cred}"
            ),
        ),
        (
            "credential on a block rule",
            format!(
                "{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\ncredential = \"api\"\n{api_cred}"
            ),
        ),
        (
            "credential without secret",
            format!(
                "{minimal}{}",
                api_cred.replace("secret = \"API_KEY\"\n", "")
            ),
        ),
        (
            "credential of unknown kind",
            format!(
                "{minimal}{}",
                api_cred.replace("kind = \"jwt\"", "kind = \"oauth\"")
            ),
        ),
        (
            "unknown algorithm",
            format!("{minimal}{}", api_cred.replace("HS256", "none")),
        ),
        (
            "lower-case algorithm",
            format!("{minimal}{}", api_cred.replace("HS256", "hs256")),
        ),
        (
            "zero ttl",
            format!("{minimal}{}", api_cred.replace("ttl = 300", "ttl = 0")),
        ),
        (
            "unknown credential key",
            format!("{minimal}{api_cred}secret_value = \"x\"\n"),
        ),
        (
            "reserved claim",
            format!("{minimal}{api_cred}claims = {{ exp = \"1\" }}\n"),
        ),
        (
            "non-string claim",
            format!("{minimal}{api_cred}claims = {{ admin = true }}\n"),
        ),
        (
            "bad credential id",
            format!("{minimal}[credentials.\"a b\"]\nkind = \"jwt\"\n"),
        ),
        (
            "reason on a pass rule",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"pass\"\nreason = \"x\"\n"),
        ),
        (
            "mode on an inject rule",
            format!(
                "{minimal}[[rules]]\nid = \"a\"\naction = \"inject\"\nhosts = [\"api.example.com\"]\ncredential = \"api\"\nmode = \"report\"\n{api_cred}"
            ),
        ),
        (
            "bracketed IPv6",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\nhosts = [\"[::1]\"]\n"),
        ),
        (
            "`**` inside a path segment",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\npaths = [\"/v1**\"]\n"),
        ),
        (
            "query in a path glob",
            format!("{minimal}[[rules]]\nid = \"a\"\naction = \"block\"\npaths = [\"/v1?x=1\"]\n"),
        ),
        (
            "key pasted as secret",
            format!(
                "{minimal}{}",
                api_cred.replace("\"API_KEY\"", "\"-----BEGIN PRIVATE KEY-----\"")
            ),
        ),
        (
            "ttl over a day",
            format!("{minimal}{}", api_cred.replace("ttl = 300", "ttl = 86401")),
        ),
        (
            "header with a space",
            format!("{minimal}{api_cred}header = \"X Token\"\n"),
        ),
        (
            "path_in_logs out of range",
            format!("{minimal}[defaults]\npath_in_logs = 33\n"),
        ),
        (
            "path_in_logs negative",
            format!("{minimal}[defaults]\npath_in_logs = -1\n"),
        ),
        (
            "unknown path_in_logs word",
            format!("{minimal}[defaults]\npath_in_logs = \"some\"\n"),
        ),
        (
            "path_in_logs not a string or integer",
            format!("{minimal}[defaults]\npath_in_logs = true\n"),
        ),
        (
            "lists on a pass rule",
            format!(
                "{minimal}[lists.f]\nfile = \"f.txt\"\nmatch = \"exact\"\n[[rules]]\nid = \"p\"\naction = \"pass\"\nlists = [\"f\"]\n"
            ),
        ),
        (
            "list without match",
            format!(
                "{minimal}[lists.f]\nfile = \"f.txt\"\n[[rules]]\nid = \"b\"\naction = \"block\"\nlists = [\"f\"]\n"
            ),
        ),
        (
            "unknown list format",
            format!(
                "{minimal}[lists.f]\nfile = \"f.txt\"\nformat = \"adblock\"\nmatch = \"exact\"\n[[rules]]\nid = \"b\"\naction = \"block\"\nlists = [\"f\"]\n"
            ),
        ),
        (
            "empty lists",
            format!(
                "{minimal}[lists.f]\nfile = \"f.txt\"\nmatch = \"exact\"\n[[rules]]\nid = \"b\"\naction = \"block\"\nlists = []\n"
            ),
        ),
        (
            "bad list id",
            format!("{minimal}[lists.\"a b\"]\nfile = \"f.txt\"\nmatch = \"exact\"\n"),
        ),
        // Issue 14: the schema refuses what `check` refuses.
        (
            "a list file outside the policy's directory",
            format!(
                "{minimal}[lists.l]\nfile = \"../../etc/passwd\"\nmatch = \"exact\"\n[[rules]]\nid = \"b\"\naction = \"block\"\nlists = [\"l\"]\n"
            ),
        ),
        (
            "an absolute list file",
            format!(
                "{minimal}[lists.l]\nfile = \"/dev/zero\"\nmatch = \"exact\"\n[[rules]]\nid = \"b\"\naction = \"block\"\nlists = [\"l\"]\n"
            ),
        ),
        (
            "a secret naming an identity parameter",
            format!("{minimal}{}", api_cred.replace("API_KEY", "customer_name")),
        ),
        (
            "a secret naming a setting of the Worker",
            format!(
                "{minimal}{}",
                api_cred.replace("API_KEY", "EGRESS_BUNDLE_PUBLIC_KEY")
            ),
        ),
        (
            "a jti claim",
            format!("{minimal}{api_cred}claims = {{ jti = \"x\" }}\n"),
        ),
        (
            "a customer outside the safe alphabet",
            format!(
                "{minimal}[[rules]]\nid = \"b\"\naction = \"block\"\ncustomers = [\"acme\u{202e}\"]\n"
            ),
        ),
        (
            "a forwarded header that reroutes",
            format!("{minimal}{api_cred}forward_headers = [\"X-Original-Host\"]\n"),
        ),
        (
            "a next secret without its key id",
            format!("{minimal}{api_cred}key_id = \"1\"\nnext_secret = \"API_KEY_2\"\n"),
        ),
        (
            "a next key beside an active key without key id",
            format!("{minimal}{api_cred}next_secret = \"API_KEY_2\"\nnext_key_id = \"2\"\n"),
        ),
        (
            "a next secret that holds a key",
            format!(
                "{minimal}{api_cred}key_id = \"1\"\nnext_secret = \"-----BEGIN\"\nnext_key_id = \"2\"\n"
            ),
        ),
    ];
    let schema = policy_schema();
    for (what, text) in cases {
        let instance = toml_to_json(text);
        assert!(
            !schema.is_valid(&instance),
            "schema accepts a broken policy ({what}):\n{text}"
        );
        // The schema only flags what `check` rejects too.
        assert!(
            compile_with_stub_lists("broken.toml", text).is_err(),
            "the engine accepts a policy the schema rejects ({what}):\n{text}"
        );
    }
}

/// The schema and the engine agree on which credential headers are forbidden, spellings in
/// other cases and with `_` for `-` included.
#[test]
fn forbidden_credential_headers_agree() {
    let schema = policy_schema();
    let policy = |header: &str| {
        format!(
            "version = 1\n[[rules]]\nid = \"i\"\naction = \"inject\"\nhosts = [\"api.example.com\"]\ncredential = \"k\"\n[credentials.k]\nalgorithm = \"HS256\"\nsecret = \"K\"\nissuer = \"i\"\naudience = \"a\"\nttl = 60\nheader = \"{header}\"\n"
        )
    };
    let headers = [
        ("Host", true),
        ("COOKIE", true),
        ("content_length", true),
        ("Transfer-Encoding", true),
        ("connection", true),
        ("Keep_Alive", true),
        ("Proxy-Authenticate", true),
        ("proxy-authorization", true),
        ("te", true),
        ("Trailer", true),
        ("UPGRADE", true),
        ("Proxy_Connection", true),
        ("x-http-method-override", true),
        ("X-HTTP-Method", true),
        ("X_Method_Override", true),
        ("X-Original-URL", true),
        ("x-rewrite-url", true),
        ("Forwarded", true),
        ("X-Forwarded-For", true),
        ("x_forwarded_host", true),
        ("X-Forwarded-Anything", true),
        // Issue 14, item 7: more headers upstreams obey, and a response header.
        ("X-Original-Host", true),
        ("x_original_method", true),
        ("X-Host", true),
        ("X-HTTP-Host-Override", true),
        ("X-Envoy-Original-Path", true),
        ("Set-Cookie", true),
        ("X-Hosts", false),
        ("Authorization", false),
        ("X-Api-Token", false),
        ("Hosts", false),
        ("X-Forwarded", false),
        ("Tee", false),
        ("X-Cookie", false),
    ];
    for (header, forbidden) in headers {
        assert_eq!(
            header_names::is_forbidden_credential_header(header),
            forbidden,
            "{header}"
        );
        let text = policy(header);
        assert_eq!(
            schema.is_valid(&toml_to_json(&text)),
            !forbidden,
            "schema on `{header}`"
        );
        assert_eq!(
            compile("h.toml", &text).is_ok(),
            !forbidden,
            "check on `{header}`"
        );
    }
}

/// The TOML blocks of a Markdown file, with their 1-based line numbers.
fn toml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        match current.as_mut() {
            None if line.trim_end() == "```toml" => current = Some((n + 1, String::new())),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    blocks
}

/// Every policy example in the README and `docs/` compiles and validates: a block that is a
/// policy fragment (rules only) is completed with `version = 1` and a stand-in credential for
/// each credential it names but does not define; each list file it names holds one domain. Blocks of other TOML files (policy tests,
/// wrangler.toml) are not policies.
#[test]
fn documented_policies_compile_and_validate() {
    let schema = policy_schema();
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let not_policies = [
        "[[case]]",
        "[[dispatch_namespaces]]",
        "[[analytics_engine_datasets]]",
        "[observability]",
        "logpush",
    ];
    let mut checked = 0usize;
    for path in &files {
        let markdown = fs::read_to_string(path).unwrap();
        for (line, block) in toml_blocks(&markdown) {
            if not_policies.iter().any(|k| block.contains(k)) {
                continue;
            }
            let mut policy = if block.contains("version = 1") {
                block.clone()
            } else {
                format!("version = 1\n{block}")
            };
            let named: Vec<String> = block
                .lines()
                .filter_map(|l| l.trim().strip_prefix("credential = \""))
                .filter_map(|rest| rest.split('"').next())
                .map(str::to_owned)
                .collect();
            for id in named {
                if !policy.contains(&format!("[credentials.{id}]")) {
                    policy.push_str(&format!(
                        "\n[credentials.{id}]\nalgorithm = \"HS256\"\nsecret = \"K\"\nissuer = \"i\"\naudience = \"a\"\nttl = 60\n"
                    ));
                }
            }
            let where_ = format!("{}:{line}", path.display());
            if let Err(rendered) = compile_with_stub_lists(&where_, &policy) {
                panic!("{where_}: the documented policy does not compile:\n{rendered}");
            }
            assert_valid(&schema, &where_, &toml_to_json(&policy));
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} documented policies found");
}

fn log_line(action: Action) -> DecisionLog {
    DecisionLog {
        v: LOG_SCHEMA_VERSION,
        ts: "2026-11-28T12:00:00.123Z".into(),
        decision_id: "0192f5a4-7c1e-7000-8000-000000000001".into(),
        customer: Some("customer-123".into()),
        tags: vec!["production".into()],
        action,
        would_block: false,
        rule: Some("example-api".into()),
        report_rule: None,
        reason: None,
        method: "GET".into(),
        scheme: Some("https".into()),
        host: Some("api.example.com".into()),
        port: Some(443),
        path: Some("/v1/users".into()),
        query: None,
        credential: (action == Action::Inject).then(|| "example-api-jwt".into()),
        policy: PolicyRef {
            name: Some("platform-egress".into()),
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            source: None,
            serial: None,
        },
        status: (action != Action::Block).then_some(200),
        error: None,
        duration_ms: 12,
        path_redacted: false,
        outcome: Some(Outcome::of(
            action,
            (action != Action::Block).then_some(200),
            None,
        )),
        sent: Some(action != Action::Block),
        trail: Trail {
            worker: Some("3f1c0a52-8e2f-4d61-9b7a-2c4e8f0a1b3d".into()),
            engine: Some("0.1.0".into()),
            isolate: Some("00112233aabbccdd".into()),
            seq: Some(7),
            chain_alg: Some(ChainAlg::HmacSha256),
            chain: Some("ab".repeat(32)),
        },
    }
}

/// Sets status and error, and the outcome the Worker derives from them.
fn failed(mut line: DecisionLog, error: &str) -> DecisionLog {
    line.status = None;
    line.error = Some(error.into());
    line.outcome = Some(Outcome::of(line.action, None, Some(error)));
    line
}

fn serialised(line: &DecisionLog) -> Value {
    serde_json::to_value(line).unwrap()
}

#[test]
fn engine_log_lines_validate() {
    let schema = log_schema();
    let inject = log_line(Action::Inject);
    let pass = log_line(Action::Pass);
    let mut block = log_line(Action::Block);
    block.reason = Some("known malware distribution".into());
    let mut report = log_line(Action::Pass);
    report.would_block = true;
    report.rule = None;
    report.report_rule = Some("block-malware".into());
    report.reason = Some("known malware distribution".into());
    let mut with_query = log_line(Action::Pass);
    with_query.query = Some("page=2".into());
    let mut unparsed = log_line(Action::Block);
    unparsed.rule = None;
    unparsed.reason = Some("invalid_url".into());
    unparsed.scheme = None;
    unparsed.host = None;
    unparsed.port = None;
    unparsed.path = None;
    let mut anonymous = log_line(Action::Block);
    anonymous.customer = None;
    anonymous.tags = Vec::new();
    anonymous.rule = None;
    anonymous.reason = Some("no_customer".into());
    anonymous.policy.name = None;
    let unreachable = failed(log_line(Action::Pass), "upstream_unreachable");
    let unavailable = failed(log_line(Action::Inject), "credential_unavailable");
    let mut internal = failed(log_line(Action::Block), "internal_error");
    internal.rule = None;
    internal.reason = Some("internal_error".into());
    let mut cut = log_line(Action::Inject);
    cut.path = Some("/v1".into());
    cut.path_redacted = true;
    let mut pathless = log_line(Action::Pass);
    pathless.path = None;
    pathless.path_redacted = true;
    // A line of a Worker before schema 2: no outcome, no chain.
    let mut older = log_line(Action::Inject);
    older.v = 1;
    older.outcome = None;
    older.sent = None;
    older.trail = Default::default();
    for (what, line) in [
        ("inject", inject),
        ("pass", pass),
        ("block", block),
        ("report", report),
        ("query", with_query),
        ("unparsed", unparsed),
        ("anonymous", anonymous),
        ("upstream unreachable", unreachable),
        ("credential unavailable", unavailable),
        ("internal error", internal),
        ("path cut to segments", cut),
        ("path_in_logs none", pathless),
        ("older line without outcome", older),
    ] {
        let value = serialised(&line);
        assert_valid(&schema, what, &value);
        // The log line round-trips through what `audit` and `replay` read.
        let back: DecisionLog = serde_json::from_value(value).unwrap();
        assert_eq!(back, line);
    }
}

/// The decision objects in one exported line: a plain decision line, or Logpush
/// `workers_trace_events` records / Tail Worker events (one, or a batch as an array) whose
/// console messages hold decisions, as objects or as JSON text. Console messages that are not
/// decisions (other logs, text truncated by Logpush's size cap) are not decision lines.
fn decisions_in(line: &Value, out: &mut Vec<Value>) {
    if let Value::Array(batch) = line {
        for event in batch {
            decisions_in(event, out);
        }
        return;
    }
    if line.get("v").is_some() {
        // Event lines (checkpoints, bundle events) share the log but are not decisions.
        if line.get("event").is_none() {
            out.push(line.clone());
        }
        return;
    }
    let logs = line
        .get("Logs")
        .or_else(|| line.get("logs"))
        .and_then(Value::as_array);
    for entry in logs.into_iter().flatten() {
        let messages = entry
            .get("Message")
            .or_else(|| entry.get("message"))
            .and_then(Value::as_array);
        for message in messages.into_iter().flatten() {
            let decision = match message {
                Value::String(text) => serde_json::from_str::<Value>(text).ok(),
                other => Some(other.clone()),
            };
            out.extend(decision.filter(|d| d.get("v").is_some()));
        }
    }
}

/// Captured and exported logs in `crates/cli/tests/fixtures/logs/`: every decision in them
/// validates, except in the files made corrupt on purpose for `audit`'s tests.
#[test]
fn fixture_log_lines_validate() {
    let schema = log_schema();
    let dir = repo_root().join("crates/cli/tests/fixtures/logs");
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("corrupt"))
        })
        .collect();
    files.sort();
    let mut checked = 0usize;
    for path in &files {
        let text = fs::read_to_string(path).unwrap();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let where_ = format!("{}:{}", path.display(), n + 1);
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{where_}: not JSON: {e}"));
            let mut decisions = Vec::new();
            decisions_in(&value, &mut decisions);
            for decision in decisions {
                assert_valid(&schema, &where_, &decision);
                checked += 1;
            }
        }
    }
    if !files.is_empty() {
        assert!(checked > 0, "no decision line found in {}", dir.display());
    }
}

#[test]
fn query_is_absent_unless_logged() {
    let value = serialised(&log_line(Action::Pass));
    assert!(value.get("query").is_none());
}

#[test]
fn broken_log_lines_are_rejected() {
    let schema = log_schema();
    let good = serialised(&log_line(Action::Inject));
    let broken: Vec<(&str, Value)> = vec![
        ("unknown version", patch(&good, "v", json!(3))),
        (
            "extra field (a token)",
            patch(&good, "token", json!("eyJhbGciOi")),
        ),
        ("unknown action", patch(&good, "action", json!("allow"))),
        (
            "bad timestamp",
            patch(&good, "ts", json!("2026-11-28 12:00:00")),
        ),
        (
            "bad sha256",
            patch(&good, "policy", json!({"name": null, "sha256": "ABC"})),
        ),
        ("unknown error", patch(&good, "error", json!("timeout"))),
        ("port out of range", patch(&good, "port", json!(70000))),
        ("query not a string", patch(&good, "query", json!(null))),
        (
            "inject without credential",
            patch(&good, "credential", json!(null)),
        ),
        (
            "forwarded block",
            patch(
                &patch(&good, "action", json!("block")),
                "credential",
                json!(null),
            ),
        ),
        ("unknown outcome", patch(&good, "outcome", json!("sent"))),
        ("null outcome", patch(&good, "outcome", json!(null))),
        (
            "path_redacted not a boolean",
            patch(&good, "path_redacted", json!("yes")),
        ),
        (
            "an error but not failed",
            patch(
                &patch(&good, "status", json!(null)),
                "error",
                json!("credential_unavailable"),
            ),
        ),
        (
            "injected while the action is pass",
            patch(
                &patch(&good, "action", json!("pass")),
                "credential",
                json!(null),
            ),
        ),
        ("missing decision_id", remove(&good, "decision_id")),
        ("missing policy", remove(&good, "policy")),
    ];
    for (what, value) in broken {
        assert!(
            !schema.is_valid(&value),
            "schema accepts a broken log line ({what}): {value}"
        );
    }
}

fn patch(value: &Value, key: &str, new: Value) -> Value {
    let mut value = value.clone();
    value.as_object_mut().unwrap().insert(key.into(), new);
    value
}

fn remove(value: &Value, key: &str) -> Value {
    let mut value = value.clone();
    value.as_object_mut().unwrap().remove(key);
    value
}
