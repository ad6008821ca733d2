#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Domain lists: the `[lists.ID]` tables, their files in both formats, how block rules match
//! them, and the errors (in the list file, by line and column) and warnings about them.

use egress_policy_engine::trace::HostMatch;
use egress_policy_engine::{
    Action, CompiledPolicy, Decision, Diagnostic, ListFileError, ListFiles, Request, Severity,
    compile, compile_with_lists, list_files, policy_sha256, sha256_hex,
};

fn files(list_files: &[(&str, &str)]) -> ListFiles {
    let mut files = ListFiles::new();
    for (name, text) in list_files {
        files.insert(name, format!("policy/{name}"), (*text).to_owned());
    }
    files
}

fn compiled(policy: &str, list_files: &[(&str, &str)]) -> CompiledPolicy {
    let files = files(list_files);
    match compile_with_lists("policy/p.toml", policy, &files) {
        Ok(c) => c.policy,
        Err(d) => panic!("{d}"),
    }
}

/// Every diagnostic (errors and warnings) rendered, as `check` prints them.
fn rendered(policy: &str, list_files: &[(&str, &str)]) -> String {
    let files = files(list_files);
    let diags: Vec<Diagnostic> = match compile_with_lists("policy/p.toml", policy, &files) {
        Ok(c) => c.warnings,
        Err(d) => d.0,
    };
    diags
        .iter()
        .map(|d| d.render_with("policy/p.toml", policy, &files))
        .collect::<Vec<_>>()
        .join("\n")
}

fn codes(policy: &str, list_files: &[(&str, &str)]) -> Vec<(Severity, &'static str)> {
    let files = files(list_files);
    match compile_with_lists("policy/p.toml", policy, &files) {
        Ok(c) => c.warnings,
        Err(d) => d.0,
    }
    .iter()
    .map(|d| (d.severity, d.code.as_str()))
    .collect()
}

fn decide(p: &CompiledPolicy, url: &str) -> Decision {
    p.decide(&Request {
        method: "GET",
        url,
        customer: Some("c1"),
        tags: Some(&[]),
    })
}

fn blocked_by(p: &CompiledPolicy, url: &str) -> Option<String> {
    let d = decide(p, url);
    (d.action == Action::Block).then(|| {
        d.rule.as_ref().map_or_else(
            || d.reason_text().unwrap_or_default().to_owned(),
            |r| r.id.clone(),
        )
    })
}

const FEED: &str = "\
# a threat feed
evil.com
Bad.Example.   # upper case and a trailing dot are canonicalised

bücher.example
sub.tracker.net
evil.com
";

fn feed_policy(matching: &str) -> String {
    format!(
        "version = 1\n\n[lists.feed]\nfile = \"lists/feed.txt\"\nmatch = \"{matching}\"\n\n[[rules]]\nid = \"block-feed\"\naction = \"block\"\nlists = [\"feed\"]\nreason = \"threat feed\"\n"
    )
}

#[test]
fn exact_lists_match_the_listed_hosts_only() {
    let p = compiled(&feed_policy("exact"), &[("lists/feed.txt", FEED)]);
    for url in [
        "https://evil.com/",
        "https://EVIL.com./x",
        "https://bad.example/",
        "https://xn--bcher-kva.example/",
        "https://bücher.example/",
        "https://sub.tracker.net/",
    ] {
        assert_eq!(blocked_by(&p, url).as_deref(), Some("block-feed"), "{url}");
    }
    for url in [
        "https://a.evil.com/",
        "https://notevil.com/",
        "https://evil.com.org/",
        "https://tracker.net/",
        "https://x.bad.example/",
    ] {
        assert_eq!(blocked_by(&p, url), None, "{url}");
    }
    let d = decide(&p, "https://evil.com/");
    assert_eq!(d.reason_text(), Some("threat feed"));
}

#[test]
fn subdomain_lists_cover_every_subdomain_on_label_boundaries() {
    let p = compiled(&feed_policy("subdomains"), &[("lists/feed.txt", FEED)]);
    for url in [
        "https://evil.com/",
        "https://a.evil.com/",
        "https://a.b.c.evil.com./",
        "https://cdn.xn--bcher-kva.example/",
        "https://x.sub.tracker.net/",
    ] {
        assert_eq!(blocked_by(&p, url).as_deref(), Some("block-feed"), "{url}");
    }
    for url in [
        "https://notevil.com/",
        "https://evil.com.org/",
        "https://evil.co/",
        "https://com/",
        "https://tracker.net/",
        "https://other.tracker.net/",
        "https://xbücher.example/",
    ] {
        assert_eq!(blocked_by(&p, url), None, "{url}");
    }
}

#[test]
fn hosts_format_reads_blackhole_lines_and_skips_the_rest() {
    let hosts = "\
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
255.255.255.255 broadcasthost
0.0.0.0 0.0.0.0
0.0.0.0 ads.example
127.0.0.1 a.example b.example   # two names on one line
fe80::1%lo0 localhost
";
    let policy = "version = 1\n[lists.ads]\nfile = \"hosts.txt\"\nformat = \"hosts\"\nmatch = \"exact\"\n[[rules]]\nid = \"no-ads\"\naction = \"block\"\nlists = [\"ads\"]\n";
    let p = compiled(policy, &[("hosts.txt", hosts)]);
    let list = p.model().lists.get("ads").unwrap();
    assert_eq!(
        list.domains.iter().collect::<Vec<_>>(),
        ["a.example", "ads.example", "b.example"]
    );
    assert_eq!(
        blocked_by(&p, "https://ads.example/").as_deref(),
        Some("no-ads")
    );
    assert_eq!(blocked_by(&p, "http://localhost/"), None);
}

#[test]
fn lists_combine_with_hosts_and_conditions_as_hosts_do() {
    let policy = "version = 1\n[lists.feed]\nfile = \"f.txt\"\nmatch = \"subdomains\"\n[[rules]]\nid = \"both\"\naction = \"block\"\nhosts = [\"named.example\"]\nlists = [\"feed\"]\ncustomers = [\"c1\"]\nmethods = [\"GET\"]\n";
    let p = compiled(policy, &[("f.txt", "evil.com\n")]);
    assert_eq!(
        blocked_by(&p, "https://named.example/").as_deref(),
        Some("both")
    );
    assert_eq!(
        blocked_by(&p, "https://x.evil.com/").as_deref(),
        Some("both")
    );
    // The rule's other conditions still have to hold.
    let other = p.decide(&Request {
        method: "GET",
        url: "https://x.evil.com/",
        customer: Some("c2"),
        tags: Some(&[]),
    });
    assert_eq!(other.action, Action::Pass);
    let post = p.decide(&Request {
        method: "POST",
        url: "https://evil.com/",
        customer: Some("c1"),
        tags: Some(&[]),
    });
    assert_eq!(post.action, Action::Pass);
    // A rule with `lists` and no `hosts` is not a rule for every host.
    assert_eq!(blocked_by(&p, "https://example.org/"), None);
}

#[test]
fn lists_never_match_ip_literals() {
    let policy = "version = 1\n[defaults]\nip_literals = \"allow\"\n[lists.feed]\nfile = \"f.txt\"\nmatch = \"subdomains\"\n[[rules]]\nid = \"feed\"\naction = \"block\"\nlists = [\"feed\"]\n";
    let p = compiled(policy, &[("f.txt", "evil.com\n")]);
    assert_eq!(blocked_by(&p, "http://10.0.0.1/"), None);
    assert_eq!(blocked_by(&p, "http://[::1]/"), None);
}

#[test]
fn report_mode_list_rules_report() {
    let policy = "version = 1\n[lists.feed]\nfile = \"f.txt\"\nmatch = \"exact\"\n[[rules]]\nid = \"staged\"\naction = \"block\"\nmode = \"report\"\nlists = [\"feed\"]\nreason = \"staged feed\"\n";
    let p = compiled(policy, &[("f.txt", "evil.com\n")]);
    let d = decide(&p, "https://evil.com/");
    assert_eq!(d.action, Action::Pass);
    assert!(d.would_block);
    assert_eq!(d.report_rule.as_ref().unwrap().id, "staged");
    assert_eq!(d.reason_text(), Some("staged feed"));
}

#[test]
fn rule_list_match_names_the_list_and_entry() {
    let p = compiled(&feed_policy("subdomains"), &[("lists/feed.txt", FEED)]);
    let rule = &p.model().rules[0];
    let (list, entry) = p.rule_list_match(rule, "a.b.evil.com").unwrap();
    assert_eq!((list.id.as_str(), entry), ("feed", "evil.com"));
    assert!(p.rule_list_match(rule, "notevil.com").is_none());
}

#[test]
fn the_trace_names_the_list_and_entry() {
    let p = compiled(&feed_policy("subdomains"), &[("lists/feed.txt", FEED)]);
    let traced = |url| {
        let (_, trace) = p.explain(&Request {
            method: "GET",
            url,
            customer: Some("c1"),
            tags: Some(&[]),
        });
        let rule = trace.rules.into_iter().find(|r| r.rule.id == "block-feed");
        rule.map(|r| match r.host {
            Some(HostMatch::List(list, entry)) => (list.id.clone(), entry),
            other => panic!("{other:?}"),
        })
    };
    assert_eq!(
        traced("https://a.b.evil.com/"),
        Some(("feed".into(), "evil.com".into()))
    );
    assert_eq!(traced("https://notevil.com/"), None);
}

#[test]
fn one_file_for_two_lists() {
    let policy = "version = 1\n[lists.a]\nfile = \"f.txt\"\nmatch = \"exact\"\n[lists.b]\nfile = \"f.txt\"\nmatch = \"subdomains\"\n[[rules]]\nid = \"a\"\naction = \"block\"\nlists = [\"a\"]\ncustomers = [\"c1\"]\n[[rules]]\nid = \"b\"\naction = \"block\"\nlists = [\"b\"]\n";
    assert_eq!(list_files(policy), ["f.txt"]);
    let p = compiled(policy, &[("f.txt", "evil.com\n")]);
    assert_eq!(blocked_by(&p, "https://evil.com/").as_deref(), Some("a"));
    assert_eq!(blocked_by(&p, "https://x.evil.com/").as_deref(), Some("b"));
}

#[test]
fn list_file_errors_point_into_the_list_file() {
    let bad = "ok.example\n*.wild.example\n  10.0.0.1\nbad..name # typo\nbücher.example\n";
    assert_eq!(
        rendered(&feed_policy("exact"), &[("lists/feed.txt", bad)]),
        "\
policy/lists/feed.txt:2:1: error[list-wildcard]: list entry `*.wild.example` is a wildcard
  |
2 | *.wild.example
  | ^^^^^^^^^^^^^^ wildcards are not list syntax
  = help: list the domain itself; `match = \"subdomains\"` covers its subdomains

policy/lists/feed.txt:3:3: error[list-ip-address]: list entry `10.0.0.1` is an IP address
  |
3 |   10.0.0.1
  |   ^^^^^^^^ not a domain name
  = help: lists hold domain names; block addresses with IP or CIDR patterns in a rule's `hosts`

policy/lists/feed.txt:4:1: error[invalid-list-domain]: list entry `bad..name` is not a valid domain name
  |
4 | bad..name # typo
  | ^^^^^^^^^ empty label
"
    );
    let hosts_policy = "version = 1\n[lists.h]\nfile = \"h.txt\"\nformat = \"hosts\"\nmatch = \"exact\"\n[[rules]]\nid = \"h\"\naction = \"block\"\nlists = [\"h\"]\n";
    let out = rendered(hosts_policy, &[("h.txt", "0.0.0.0 ok.example\nevil.com\n")]);
    assert!(
        out.starts_with("policy/h.txt:2:1: error[list-syntax]: expected an IP address at the start of the line, found `evil.com`"),
        "{out}"
    );
    let domains_policy = feed_policy("exact");
    let out = rendered(&domains_policy, &[("lists/feed.txt", "0.0.0.0 evil.com\n")]);
    assert!(
        out.starts_with(
            "policy/lists/feed.txt:1:9: error[list-syntax]: expected one domain on this line"
        ),
        "{out}"
    );
}

#[test]
fn list_file_errors_are_all_reported_up_to_a_cap() {
    let mut bad = String::new();
    for i in 0..30 {
        bad.push_str(&format!("good-{i}.example\nbad..{i}.example\n"));
    }
    let files = files(&[("lists/feed.txt", &bad)]);
    let diags = compile_with_lists("p.toml", &feed_policy("exact"), &files)
        .unwrap_err()
        .0;
    assert_eq!(diags.len(), 21);
    assert!(
        diags[..20]
            .iter()
            .all(|d| d.code.as_str() == "invalid-list-domain")
    );
    let lines: Vec<usize> = diags[..20]
        .iter()
        .map(|d| egress_policy_engine::diagnostic::locate(&bad, d.span.clone().unwrap().start).line)
        .collect();
    assert_eq!(lines, (0..20).map(|i| 2 * i + 2).collect::<Vec<_>>());
    assert_eq!(diags[20].message, "and 10 more errors in this list file");
    assert_eq!(
        diags[20].file.as_deref().map(String::as_str),
        Some("lists/feed.txt")
    );
}

#[test]
fn policy_errors_come_before_list_file_errors() {
    let policy = "version = 1\n[lists.feed]\nfile = \"f.txt\"\nmatch = \"exact\"\n[[rules]]\nid = \"r\"\naction = \"block\"\nlists = [\"feed\"]\nhosts = [\"Bad.com\"]\n";
    assert_eq!(
        codes(policy, &[("f.txt", "*.x.com\n")]),
        [
            (Severity::Error, "non-canonical-host"),
            (Severity::Error, "list-wildcard")
        ]
    );
}

#[test]
fn lists_are_for_block_rules_only() {
    for action in ["pass", "inject"] {
        let policy = format!(
            "version = 1\n[lists.feed]\nfile = \"f.txt\"\nmatch = \"exact\"\n[[rules]]\nid = \"r\"\naction = \"{action}\"\nhosts = [\"a.example\"]\nlists = [\"feed\"]\n{}",
            if action == "inject" {
                "credential = \"k\"\n[credentials.k]\nalgorithm = \"HS256\"\nsecret = \"K\"\nissuer = \"i\"\naudience = \"a\"\nttl = 60\n"
            } else {
                ""
            }
        );
        let out = rendered(&policy, &[("f.txt", "evil.com\n")]);
        assert!(
            out.contains(&format!(
                "error[field-not-applicable]: `lists` applies to block rules only, not `{action}` rules"
            )),
            "{out}"
        );
        assert!(out.contains("help: domain lists only block"), "{out}");
    }
}

#[test]
fn unknown_and_unused_lists() {
    let policy = "version = 1\n[lists.malware-feed]\nfile = \"f.txt\"\nmatch = \"exact\"\n[lists.spare]\nfile = \"f.txt\"\nmatch = \"exact\"\n[[rules]]\nid = \"r\"\naction = \"block\"\nlists = [\"malware-fed\"]\n";
    let out = rendered(policy, &[("f.txt", "evil.com\n")]);
    assert!(
        out.contains("error[unknown-list]: list `malware-fed` is not defined"),
        "{out}"
    );
    assert!(out.contains("help: did you mean `malware-feed`?"), "{out}");
    assert!(
        out.contains("warning[unused-list]: list `spare` is not used by any rule"),
        "{out}"
    );
    // A misspelt id counts as a use of nothing: `malware-feed` is unused too.
    assert!(out.contains("list `malware-feed` is not used"), "{out}");
}

#[test]
fn list_tables_are_checked() {
    let c = |policy: &str| codes(policy, &[("f.txt", "evil.com\n")]);
    let rule = "[[rules]]\nid = \"r\"\naction = \"block\"\nlists = [\"l\"]\n";
    assert!(
        c(&format!("version = 1\n[lists.l]\nfile = \"f.txt\"\n{rule}"))
            .contains(&(Severity::Error, "missing-field"))
    );
    assert!(
        c(&format!(
            "version = 1\n[lists.l]\nmatch = \"exact\"\n{rule}"
        ))
        .contains(&(Severity::Error, "missing-field"))
    );
    assert!(
        c(&format!(
            "version = 1\n[lists.l]\nfile = \"f.txt\"\nmatch = \"subdomain\"\n{rule}"
        ))
        .contains(&(Severity::Error, "unknown-value"))
    );
    assert!(
        c(&format!(
            "version = 1\n[lists.l]\nfile = \"f.txt\"\nmatch = \"exact\"\nformat = \"csv\"\n{rule}"
        ))
        .contains(&(Severity::Error, "unknown-value"))
    );
    assert!(
        c(&format!(
            "version = 1\n[lists.l]\nfile = \"f.txt\"\nmatch = \"exact\"\nfiel = 1\n{rule}"
        ))
        .contains(&(Severity::Error, "unknown-field"))
    );
    assert!(
        c(&format!(
            "version = 1\n[lists.\"a b\"]\nfile = \"f.txt\"\nmatch = \"exact\"\n[lists.l]\nfile = \"f.txt\"\nmatch = \"exact\"\n{rule}"
        ))
        .contains(&(Severity::Error, "invalid-list-id"))
    );
    assert!(
        c("version = 1\n[lists.l]\nfile = \"f.txt\"\nmatch = \"exact\"\n[[rules]]\nid = \"r\"\naction = \"block\"\nlists = []\n")
        .contains(&(Severity::Error, "empty-list"))
    );
}

#[test]
fn missing_unreadable_and_empty_list_files_are_errors() {
    let policy = feed_policy("exact");
    let out = compile("p.toml", &policy).unwrap_err().0[0].render("p.toml", &policy);
    assert!(
        out.starts_with("p.toml:4:8: error[missing-list-file]: the contents of list file `lists/feed.txt` were not given"),
        "{out}"
    );
    let mut unreadable = ListFiles::new();
    unreadable.insert_failed(
        "lists/feed.txt",
        "policy/lists/feed.txt",
        ListFileError::Unreadable("No such file or directory (os error 2)".to_owned()),
    );
    let out = compile_with_lists("p.toml", &policy, &unreadable)
        .unwrap_err()
        .0[0]
        .render_with("p.toml", &policy, &unreadable);
    assert!(
        out.starts_with("p.toml:4:8: error[unreadable-list-file]: cannot read list file `policy/lists/feed.txt`: No such file or directory (os error 2)"),
        "{out}"
    );
    assert_eq!(
        codes(&policy, &[("lists/feed.txt", "# nothing today\n\n")]),
        [(Severity::Error, "empty-domain-list")]
    );
}

#[test]
fn whole_tld_entries_under_subdomains_warn() {
    let policy = feed_policy("subdomains");
    let out = rendered(
        &policy,
        &[("lists/feed.txt", "evil.com\ncom\nnet\nlocalhost\n")],
    );
    assert!(
        out.starts_with("policy/lists/feed.txt:2:1: warning[tld-wide-pattern]: list entry `com` with `match = \"subdomains\"` covers a whole top-level domain"),
        "{out}"
    );
    assert!(out.contains("(and 1 more such names)"), "{out}");
    assert!(codes(&feed_policy("exact"), &[("lists/feed.txt", "com\n")]).is_empty());
}

#[test]
fn the_revision_covers_the_list_files() {
    let no_lists = "version = 1\n";
    assert_eq!(
        compiled(no_lists, &[]).sha256(),
        sha256_hex(no_lists.as_bytes())
    );
    let policy = feed_policy("exact");
    let a = compiled(&policy, &[("lists/feed.txt", "evil.com\n")]);
    let b = compiled(&policy, &[("lists/feed.txt", "evil.com\nworse.com\n")]);
    let comment_only = compiled(&policy, &[("lists/feed.txt", "# v2\nevil.com\n")]);
    assert_ne!(a.sha256(), b.sha256());
    assert_ne!(a.sha256(), comment_only.sha256());
    assert_ne!(a.sha256(), sha256_hex(policy.as_bytes()));
    // The documented framing: text, then per list NUL id NUL length NUL bytes.
    let mut framed = policy.clone().into_bytes();
    framed.extend_from_slice(b"\0feed\09\0evil.com\n");
    assert_eq!(a.sha256(), sha256_hex(&framed));
    assert_eq!(
        a.sha256(),
        policy_sha256(&policy, [("feed", &b"evil.com\n"[..])])
    );
}
