#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Decision time against policies of 100, 10,000 and 100,000 block rules, and compile time.
//!
//! Run: `cargo bench --workspace --bench decide` (ids `decide/100`, `decide/10000`,
//! `decide/100000`, `compile/10000`). Each `decide` iteration decides one request; the
//! requests cycle through a fixed mix of 80% passing, 10% blocked and 10% injected URLs.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use egress_policy_engine::{Action, CompiledPolicy, Request, compile};

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

fn bench_decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    let tags = vec!["production".to_owned()];
    for blocks in [100usize, 10_000, 100_000] {
        let policy = compiled(blocks);
        let urls = urls(blocks);
        // The mix is what it claims to be.
        let actions: Vec<Action> = urls
            .iter()
            .map(|u| {
                policy
                    .decide(&Request {
                        method: "GET",
                        url: u,
                        customer: Some("customer-42"),
                        tags: &tags,
                    })
                    .action
            })
            .collect();
        assert_eq!(actions.iter().filter(|a| **a == Action::Pass).count(), 80);
        assert_eq!(actions.iter().filter(|a| **a == Action::Block).count(), 10);
        assert_eq!(actions.iter().filter(|a| **a == Action::Inject).count(), 10);
        let mut next = 0usize;
        group.bench_function(blocks.to_string(), |b| {
            b.iter(|| {
                next = (next + 1) % urls.len();
                let request = Request {
                    method: "GET",
                    url: &urls[next],
                    customer: Some("customer-42"),
                    tags: &tags,
                };
                black_box(policy.decide(black_box(&request)))
            });
        });
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

criterion_group!(benches, bench_decide, bench_compile);
criterion_main!(benches);
