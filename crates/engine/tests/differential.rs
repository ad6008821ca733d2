#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Differential property test: on random policies and random requests, the fast matcher
//! decides exactly like the naive reference that scans every rule in file order.
//!
//! Policies and requests are drawn from a small vocabulary so that patterns and hosts
//! collide often (exact, `*.`, in-label globs, IPs, CIDRs, domain lists in both formats and
//! match modes, every condition).

use egress_policy_engine::reference::ReferenceDecider;
use egress_policy_engine::{ListFiles, Request, compile_with_lists};
use proptest::prelude::*;
use proptest::sample::select;

const LABELS: &[&str] = &["a", "b", "api", "api-v1", "example", "com", "org", "x_y"];
const GLOB_LABELS: &[&str] = &["*", "api-*", "*-v1", "a*", "*x*"];
const IPS: &[&str] = &[
    "10.0.0.1",
    "10.1.2.3",
    "127.0.0.1",
    "169.254.169.254",
    "192.168.1.1",
    "::1",
    "fd00::1",
    "2001:db8::5",
];
const CIDRS: &[&str] = &[
    "10.0.0.0/8",
    "10.1.0.0/16",
    "127.0.0.0/8",
    "0.0.0.0/0",
    "192.168.1.0/24",
    "fd00::/8",
    "::/0",
    "2001:db8::/32",
];
const PATHS: &[&str] = &[
    "/",
    "/v1",
    "/v1/users",
    "/v1/users/7",
    "/admin",
    "/admin/x",
    "/a/b/c",
    "/v2/x",
    // Spellings that servers read differently (the engine weighs every reading).
    "/v1/..%2Fadmin",
    "/v1/..%2F..%2Fadmin/x",
    "//admin/x",
    "/admin;x/y",
    "/v1/..;/admin",
    "/Admin/X",
    "/v1/%252e%252e/admin",
    "/v1//users",
    "/admin./x",
    "/v1/users%5C..%5C..%5Cadmin",
    "/admin%3Fx",
    "/%u0061dmin/x",
    "/v1/..%C0%AFadmin",
    "/%EF%BD%81dmin/x",
    "/v1/..%20/admin",
    "/admin.json",
    "/admin/",
];
const PATH_GLOBS: &[&str] = &[
    "/v1/**",
    "/v1/*",
    "/admin",
    "/**/c",
    "/*/users/*",
    "/a*",
    "/admin/**",
    "/Admin/**",
];
const PATH_REGEXES: &[&str] = &["^/v1/", "^/admin$", "users", "^/[a-z]/b"];

fn name(labels: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(select(LABELS), 1..=labels).prop_map(|ls| ls.join("."))
}

fn host_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => name(3),
        3 => name(2).prop_map(|n| format!("*.{n}")),
        2 => (select(GLOB_LABELS), name(2)).prop_map(|(g, n)| format!("{g}.{n}")),
        1 => (select(LABELS), select(GLOB_LABELS), name(2)).prop_map(|(l, g, n)| format!("{l}.{g}.{n}")),
        1 => (select(GLOB_LABELS), name(2)).prop_map(|(g, n)| format!("*.{g}.{n}")),
        2 => select(IPS).prop_map(str::to_owned),
        2 => select(CIDRS).prop_map(str::to_owned),
    ]
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn optional_list<T: std::fmt::Debug + Clone>(
    options: &'static [T],
) -> impl Strategy<Value = Option<Vec<T>>> {
    prop::option::weighted(0.3, prop::collection::vec(select(options), 1..=2))
}

#[derive(Debug, Clone)]
struct RuleSpec {
    action: &'static str,
    report: bool,
    hosts: Option<Vec<String>>,
    schemes: Option<Vec<&'static str>>,
    ports: Option<Vec<u16>>,
    methods: Option<Vec<&'static str>>,
    paths: Option<Vec<&'static str>>,
    path_regex: Option<&'static str>,
    customers: Option<Vec<&'static str>>,
    tags: Option<Vec<&'static str>>,
    /// List indices; kept only on block rules, for lists the policy declares.
    lists: Option<Vec<usize>>,
}

/// One `[lists.lN]` table and its file.
#[derive(Debug, Clone)]
struct ListSpec {
    subdomains: bool,
    hosts_format: bool,
    names: Vec<String>,
}

fn list_spec() -> impl Strategy<Value = ListSpec> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(
            prop_oneof![
                4 => name(3),
                // Spellings the list reader canonicalises.
                1 => name(2).prop_map(|n| n.to_uppercase() + "."),
            ],
            1..6,
        ),
    )
        .prop_map(|(subdomains, hosts_format, names)| ListSpec {
            subdomains,
            hosts_format,
            names,
        })
}

impl ListSpec {
    fn file_text(&self) -> String {
        let mut text = String::from("# generated\n");
        for (i, name) in self.names.iter().enumerate() {
            if self.hosts_format {
                let address = ["0.0.0.0", "127.0.0.1", "::", "::1"][i % 4];
                text += &format!("{address} {name}\n10.0.0.{i} localhost\n");
            } else {
                text += &format!("{name}\n\n");
            }
        }
        text
    }
}

fn rule() -> impl Strategy<Value = RuleSpec> {
    (
        select(&["block", "block", "inject", "pass"][..]),
        any::<bool>(),
        prop::option::weighted(0.85, prop::collection::vec(host_pattern(), 1..=3)),
        optional_list(&["http", "https"]),
        optional_list(&[80u16, 443, 8080]),
        optional_list(&["GET", "POST"]),
        optional_list(PATH_GLOBS),
        prop::option::weighted(0.15, select(PATH_REGEXES)),
        optional_list(&["c1", "c2"]),
        optional_list(&["t1", "t2"]),
        prop::option::weighted(0.35, prop::collection::vec(0usize..3, 1..=2)),
    )
        .prop_map(
            |(
                action,
                report,
                hosts,
                schemes,
                ports,
                methods,
                paths,
                path_regex,
                customers,
                tags,
                lists,
            )| {
                // Inject rules must list hosts.
                let hosts = if action == "inject" && hosts.is_none() {
                    Some(vec!["api.example.com".to_owned()])
                } else {
                    hosts
                };
                RuleSpec {
                    action,
                    report: report && action == "block",
                    hosts,
                    schemes,
                    ports,
                    methods,
                    paths,
                    path_regex,
                    customers,
                    tags,
                    lists: lists.filter(|_| action == "block"),
                }
            },
        )
}

fn policy_text(
    default_block: bool,
    report_all: bool,
    ip_block: bool,
    rules: &[RuleSpec],
    lists: &[ListSpec],
) -> String {
    let mut t = format!(
        "version = 1\n[defaults]\naction = {:?}\nmode = {:?}\nip_literals = {:?}\n",
        if default_block { "block" } else { "pass" },
        if report_all { "report" } else { "enforce" },
        if ip_block { "block" } else { "allow" },
    );
    for (i, r) in rules.iter().enumerate() {
        t += &format!("[[rules]]\nid = \"r{i}\"\naction = {:?}\n", r.action);
        if r.report {
            t += "mode = \"report\"\nreason = \"reported\"\n";
        }
        if let Some(h) = &r.hosts {
            t += &format!("hosts = [{}]\n", quoted(h));
        }
        let declared: Vec<String> = r
            .lists
            .iter()
            .flatten()
            .filter(|i| **i < lists.len())
            .map(|i| format!("l{i}"))
            .collect();
        if !declared.is_empty() {
            t += &format!("lists = [{}]\n", quoted(&declared));
        }
        if r.action == "inject" {
            t += "credential = \"cred\"\n";
        }
        let s = |v: &Vec<&str>| quoted(&v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>());
        if let Some(v) = &r.schemes {
            t += &format!("schemes = [{}]\n", s(v));
        }
        if let Some(v) = &r.ports {
            t += &format!(
                "ports = [{}]\n",
                v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
            );
        }
        if let Some(v) = &r.methods {
            t += &format!("methods = [{}]\n", s(v));
        }
        if let Some(v) = &r.paths {
            t += &format!("paths = [{}]\n", s(v));
        }
        if let Some(v) = &r.path_regex {
            t += &format!("path_regex = {v:?}\n");
        }
        if let Some(v) = &r.customers {
            t += &format!("customers = [{}]\n", s(v));
        }
        if let Some(v) = &r.tags {
            t += &format!("tags = [{}]\n", s(v));
        }
    }
    t += "[credentials.cred]\nalgorithm = \"HS256\"\nsecret = \"KEY\"\nissuer = \"i\"\naudience = \"a\"\nttl = 60\n";
    for (i, list) in lists.iter().enumerate() {
        t += &format!(
            "[lists.l{i}]\nfile = \"l{i}.txt\"\nformat = {:?}\nmatch = {:?}\n",
            if list.hosts_format {
                "hosts"
            } else {
                "domains"
            },
            if list.subdomains {
                "subdomains"
            } else {
                "exact"
            },
        );
    }
    t
}

fn list_files(lists: &[ListSpec]) -> ListFiles {
    let mut files = ListFiles::new();
    for (i, list) in lists.iter().enumerate() {
        let name = format!("l{i}.txt");
        files.insert(&name, name.clone(), list.file_text());
    }
    files
}

#[derive(Debug, Clone)]
struct RequestSpec {
    method: &'static str,
    url: String,
    customer: Option<&'static str>,
    tags: Vec<String>,
}

fn request_host() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => name(4),
        1 => name(3).prop_map(|n| n.to_uppercase() + "."),
        1 => (name(2), select(&["api-x", "zzz-v1", "axa", "x"][..])).prop_map(|(n, l)| format!("{l}.{n}")),
        2 => select(IPS).prop_map(|ip| if ip.contains(':') { format!("[{ip}]") } else { ip.to_owned() }),
        1 => select(&["0x7f.1", "2852039166", "[::ffff:10.1.2.3]", "[::ffff:7f00:1]", "10.1.515", "8.8.8.8", "[2001:db8::1]"][..]).prop_map(str::to_owned),
        // IPv6 forms that embed an IPv4 address: NAT64, IPv4-compatible, 6to4, Teredo.
        1 => select(&["[64:ff9b::a01:203]", "[::10.0.0.1]", "[2002:a00:1::]", "[2001:0:4136:e378:8000:63bf:f5ff:fefe]", "[64:ff9b:1::a9fe:a9fe]"][..]).prop_map(str::to_owned),
    ]
}

fn request() -> impl Strategy<Value = RequestSpec> {
    (
        select(&["GET", "POST", "DELETE", "get", "TRACE", "Connect"][..]),
        select(&["http", "https", "ftp"][..]),
        request_host(),
        select(&["", ":80", ":443", ":8080"][..]),
        select(PATHS),
        select(&["", "?q=1"][..]),
        prop::option::weighted(0.9, select(&["c1", "c2", "c3", "c1", "c2", " c1", ""][..])),
        prop::collection::vec(select(&["t1", "t2", "t3"][..]), 0..=2),
    )
        .prop_map(
            |(method, scheme, host, port, path, query, customer, tags)| RequestSpec {
                method,
                url: format!("{scheme}://{host}{port}{path}{query}"),
                customer,
                tags: tags.into_iter().map(str::to_owned).collect(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fast_matcher_equals_reference(
        default_block in any::<bool>(),
        report_all in prop::bool::weighted(0.2),
        ip_block in any::<bool>(),
        rules in prop::collection::vec(rule(), 0..12),
        lists in prop::collection::vec(list_spec(), 0..=3),
        requests in prop::collection::vec(request(), 1..24),
    ) {
        let text = policy_text(default_block, report_all, ip_block, &rules, &lists);
        let files = list_files(&lists);
        let compiled = match compile_with_lists("random.toml", &text, &files) {
            Ok(c) => c,
            Err(d) => panic!("generated policy does not compile:\n{text}\n{d}"),
        };
        let reference = ReferenceDecider::new(&compiled.policy);
        for r in &requests {
            let request = Request { method: r.method, url: &r.url, customer: r.customer, tags: Some(&r.tags) };
            let fast = compiled.policy.decide(&request);
            let slow = reference.decide(&request);
            prop_assert_eq!(&fast, &slow, "policy:\n{}\nlists: {:?}\nrequest: {:?}", text, lists, r);
            // Traced, the same code decides the same, and the trace accounts for it: the
            // deciding rule matched, every rule's host match is named, and a rule that did not
            // match ends on the condition that failed.
            let (traced, trace) = compiled.policy.explain(&request);
            prop_assert_eq!(&traced, &fast, "policy:\n{}\nrequest: {:?}", text, r);
            if let Some(rule) = &fast.rule {
                prop_assert!(trace.rules.iter().any(|t| t.matched && t.rule.id == rule.id));
            }
            for t in &trace.rules {
                prop_assert!(t.host.is_some(), "{:?}", t);
                prop_assert!(t.matched || t.checks.last().is_some_and(|c| !c.holds()), "{:?}", t);
            }
        }
    }
}

/// URL-ish strings built from pieces that sit on the edges of the plain-URL fast path.
fn edgy_url() -> impl Strategy<Value = String> {
    let piece = select(
        &[
            "a", "b", "Z", "0", "9", "x", "-", ".", "..", "/", "//", "\\", ":", "@", "?", "#", "%",
            "%2e", "%41", " ", "\t", "'", "_", "~", "xn--", "0x", "[", "]", "é", "。", "*", ";",
            "=", "&", "!",
        ][..],
    );
    (
        select(
            &[
                "http://", "https://", "HTTP://", "http:", "https:/", "ftp://", "",
            ][..],
        ),
        prop::collection::vec(piece, 0..14),
    )
        .prop_map(|(scheme, pieces)| format!("{scheme}{}", pieces.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// The fast path for plain URLs agrees with the full WHATWG parser on every input.
    #[test]
    fn fast_canonicalisation_equals_whatwg(url in edgy_url()) {
        prop_assert_eq!(
            egress_policy_engine::canonicalise(&url),
            egress_policy_engine::canonical::canonicalise_whatwg(&url),
            "{:?}", url
        );
    }
}
