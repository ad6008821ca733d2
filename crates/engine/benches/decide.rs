#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Decision time against policies of 100, 10,000 and 100,000 block rules, against one with a
//! domain list of 1,000,000 names, and compile time.
//!
//! Run: `cargo bench --workspace --bench decide` (ids `decide/100`, `decide/10000`,
//! `decide/100000`, `decide_list/10000`, `decide_list/1000000`, `compile/10000`,
//! `artifact_load/1000000`: what an isolate pays once to load a policy with a
//! 1,000,000-name list). Each `decide` iteration decides
//! one request; the requests cycle through a fixed mix of 80% passing, 10% blocked and 10%
//! injected URLs. `decide_list` blocks its 10% through the list (exact names and
//! subdomains of listed names) on top of the 100-rule policy.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use egress_policy_engine::{
    Action, CompiledPolicy, ListFiles, Request, compile, compile_with_lists,
};

/// A policy of `blocks` block rules (each an exact host and its `*.` form), ten
/// customer-scoped block rules, a customer/tag-scoped pass rule and an inject rule.
fn policy_text(blocks: usize) -> String {
    let mut t = String::with_capacity(blocks * 100);
    t += "version = 1\nname = \"bench\"\n[defaults]\naction = \"pass\"\nip_literals = \"block\"\n";
    for i in 0..blocks {
        t += &format!(
            "[[rules]]\nid = \"block-{i}\"\naction = \"block\"\nhosts = [\"bad-{i}.example\", \"*.bad-{i}.example\"]\nreason = \"listed\"\n"
        );
    }
    for c in 0..10 {
        t += &format!(
            "[[rules]]\nid = \"scoped-{c}\"\naction = \"block\"\ncustomers = [\"customer-{c}\"]\nhosts = [\"scoped-{c}.example\"]\n"
        );
    }
    t += "[[rules]]\nid = \"partner\"\naction = \"pass\"\nhosts = [\"*.partner.example\"]\ntags = [\"partner\"]\n";
    t += "[[rules]]\nid = \"api\"\naction = \"inject\"\nhosts = [\"api.example.com\"]\ncredential = \"api-jwt\"\nschemes = [\"https\"]\npaths = [\"/v1/**\"]\n";
    t += "[credentials.api-jwt]\nalgorithm = \"ES256\"\nsecret = \"API_KEY\"\nissuer = \"egress\"\naudience = \"api.example.com\"\nttl = 300\n";
    t
}

/// 100 URLs: 80 passing, 10 blocked (exact and subdomain forms spread over the rules),
/// 10 injected.
fn urls(blocks: usize) -> Vec<String> {
    let mut urls = Vec::with_capacity(100);
    for i in 0..100usize {
        let url = match i % 10 {
            0 => {
                let rule = (i * 7919) % blocks;
                if i % 20 == 0 {
                    format!("https://bad-{rule}.example/download?id={i}")
                } else {
                    format!("https://cdn.x{i}.bad-{rule}.example/payload.js")
                }
            }
            5 => format!("https://api.example.com/v1/users/{i}?expand=orgs"),
            _ => format!("https://service-{i}.example.org/api/v2/items/{i}?page=2"),
        };
        urls.push(url);
    }
    urls
}

fn compiled(blocks: usize) -> CompiledPolicy {
    compile("bench.toml", &policy_text(blocks)).unwrap().policy
}

/// SplitMix64: a fixed, well-spread hash of `i`, so the feed is the same on every run.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `i`-th name of the generated feed: a random-looking label, sometimes a subdomain, under
/// one of a few top-level domains, unique by its index.
fn feed_name(i: usize) -> String {
    const TLDS: [&str; 8] = ["com", "net", "org", "info", "xyz", "ru", "top", "io"];
    let h = mix(i as u64);
    let tld = TLDS[(h >> 61) as usize];
    match (h >> 58) & 3 {
        0 => format!("cdn{}.{:07x}-{i}.{tld}", h & 7, (h >> 8) & 0xfff_ffff),
        _ => format!("{:07x}-{i}.{tld}", (h >> 8) & 0xfff_ffff),
    }
}

/// A feed of `names` names, one a line, with a comment header as real feeds have.
fn feed(names: usize) -> String {
    let mut text = String::with_capacity(names * 24);
    text += "# generated threat feed\n";
    for i in 0..names {
        let _ = writeln!(text, "{}", feed_name(i));
    }
    text
}

/// The 100-rule policy plus a block rule over a `names`-name feed (`match = "subdomains"`),
/// and URLs whose blocked 10% are feed names (half exact, half a subdomain of one).
fn compiled_with_list(names: usize) -> (CompiledPolicy, Vec<String>) {
    let text = policy_text(100)
        + "[lists.feed]\nfile = \"feed.txt\"\nmatch = \"subdomains\"\n[[rules]]\nid = \"block-feed\"\naction = \"block\"\nlists = [\"feed\"]\nreason = \"threat feed\"\n";
    let mut files = ListFiles::new();
    files.insert("feed.txt", "feed.txt", feed(names));
    let policy = compile_with_lists("bench.toml", &text, &files)
        .unwrap()
        .policy;
    let urls = urls(100)
        .into_iter()
        .enumerate()
        .map(|(i, url)| {
            if i % 10 != 0 {
                return url;
            }
            let name = feed_name((i * 7919 * 1013) % names);
            if i % 20 == 0 {
                format!("https://{name}/download?id={i}")
            } else {
                format!("https://x{i}.{name}/payload.js")
            }
        })
        .collect();
    (policy, urls)
}

/// Decides `urls` in turn under `policy` as benchmark `id` of `group`, after checking the
/// mix is 80 passed, 10 blocked, 10 injected.
fn bench_mix(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    policy: &CompiledPolicy,
    urls: &[String],
) {
    let tags = vec!["production".to_owned()];
    let actions: Vec<Action> = urls
        .iter()
        .map(|u| {
            policy
                .decide(&Request {
                    method: "GET",
                    url: u,
                    customer: Some("customer-42"),
                    tags: Some(&tags),
                })
                .action
        })
        .collect();
    assert_eq!(actions.iter().filter(|a| **a == Action::Pass).count(), 80);
    assert_eq!(actions.iter().filter(|a| **a == Action::Block).count(), 10);
    assert_eq!(actions.iter().filter(|a| **a == Action::Inject).count(), 10);
    let mut next = 0usize;
    group.bench_function(id, |b| {
        b.iter(|| {
            next = (next + 1) % urls.len();
            let request = Request {
                method: "GET",
                url: &urls[next],
                customer: Some("customer-42"),
                tags: Some(&tags),
            };
            black_box(policy.decide(black_box(&request)))
        });
    });
}

fn bench_decide_list(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide_list");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    // 10,000 names against 1,000,000 shows how little the size of the list costs (a lookup
    // in the automaton follows the bytes of the name).
    for names in [10_000usize, 1_000_000] {
        let (policy, urls) = compiled_with_list(names);
        assert_eq!(
            policy.model().lists.get("feed").unwrap().domains.len(),
            names
        );
        bench_mix(&mut group, &names.to_string(), &policy, &urls);
    }
    group.finish();
}

fn bench_decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    for blocks in [100usize, 10_000, 100_000] {
        let policy = compiled(blocks);
        let urls = urls(blocks);
        bench_mix(&mut group, &blocks.to_string(), &policy, &urls);
    }
    group.finish();
}

fn bench_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    let text = policy_text(10_000);
    // Dropping the compiled policy is not part of compiling it.
    group.bench_function("10000", |b| {
        b.iter_with_large_drop(|| compile("bench.toml", black_box(&text)).unwrap())
    });
    group.finish();
}

fn bench_artifact_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("artifact_load");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .sample_size(10);
    let names = 1_000_000;
    let artefact = compiled_with_list(names).0.to_artifact();
    group.bench_function(names.to_string(), |b| {
        b.iter_with_large_drop(|| {
            CompiledPolicy::load(egress_policy_engine::artifact::Artifact::Bytes(black_box(
                &artefact,
            )))
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_decide,
    bench_decide_list,
    bench_compile,
    bench_artifact_load
);
criterion_main!(benches);
