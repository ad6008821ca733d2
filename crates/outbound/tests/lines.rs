//! The lines the Worker writes: the longest one stays far below what Logpush keeps of an
//! event's logs; every line is sealed into its isolate's chain; each has its Analytics Engine
//! data point laid out as docs/deploy.md's SQL reads it.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use egress_policy_engine::identity::{MAX_NAME_LEN, MAX_TAG_LEN, MAX_TAGS};
use egress_policy_engine::log_chain::{Chain, chain_value};
use egress_policy_engine::{
    Action, Decision, Defaults, Identity, PolicyRef, PolicySource, Reason, RuleRef, Target,
};
use egress_policy_outbound::LocalAnswer;
use egress_policy_outbound::log::{LogFacts, build};
use egress_policy_outbound::metrics;

/// What Logpush keeps of an event's `Logs`.
const LOGPUSH_CAP: usize = 16_384;

fn worst_decision() -> Decision {
    // The longest of everything the engine and the policy language allow; `"` and `\` where
    // text may hold them, as JSON doubles them.
    let rule = |id: char| RuleRef {
        id: id.to_string().repeat(128),
        line: 999_999,
    };
    Decision {
        action: Action::Inject,
        rule: Some(rule('r')),
        reason: Some(Reason::Rule("\"\\".repeat(512))),
        would_block: true,
        report_rule: Some(rule('p')),
        credential: Some("c".repeat(128)),
        target: Some(Target {
            scheme: "https".into(),
            host: format!("{}.example", "a".repeat(245)),
            port: 65_535,
            path: format!("/{}", "%2F".repeat(10_000)),
            query: Some("\\".repeat(10_000)),
        }),
    }
}

#[test]
fn the_longest_line_stays_far_below_the_logpush_cap() {
    let tags: Vec<String> = (0..MAX_TAGS)
        .map(|i| {
            format!("{i:x}")
                .repeat(MAX_TAG_LEN)
                .get(..MAX_TAG_LEN)
                .unwrap()
                .to_owned()
        })
        .collect();
    let policy = PolicyRef {
        name: Some("\"".repeat(1024)),
        sha256: "f".repeat(64),
        source: Some(PolicySource::Bundle),
        serial: Some(u64::MAX),
    };
    let method = "X".repeat(100_000);
    let mut line = build(
        &worst_decision(),
        &LogFacts {
            decision_id: "00000000-0000-4000-8000-000000000000",
            identity: &Identity {
                customer: Some("c".repeat(MAX_NAME_LEN)),
                tags: Some(tags),
            },
            method: &method,
            policy: &policy,
            defaults: Some(&Defaults {
                query_in_logs: true,
                ..Defaults::default()
            }),
            arrived_ms: u64::MAX / 1_000_000,
            // The longer of the two ends: an error code is longer than a status.
            ended: Err(LocalAnswer::UpstreamTimeout),
            duration_ms: u64::MAX,
        },
    );
    let mut chain = Chain::new("0".repeat(16), Some("v".repeat(64)), Some(vec![7; 64]));
    for _ in 0..3 {
        chain.seal(&mut line, |l| &mut l.trail);
    }
    let text = serde_json::to_string(&line).unwrap();
    assert!(line.path_redacted, "a path cut to fit says so");
    assert!(text.len() < 12_000, "{} bytes", text.len());
    assert!(text.len() < LOGPUSH_CAP);
}

#[test]
fn a_sealed_decision_line_verifies_as_the_auditor_reads_it() {
    let policy = PolicyRef {
        name: None,
        sha256: "0".repeat(64),
        source: Some(PolicySource::Embedded),
        serial: Some(300),
    };
    let facts = LogFacts {
        decision_id: "d",
        identity: &Identity {
            customer: Some("acme".to_owned()),
            tags: Some(vec![]),
        },
        method: "GET",
        policy: &policy,
        defaults: Some(&Defaults {
            query_in_logs: false,
            ..Defaults::default()
        }),
        arrived_ms: 1_795_867_200_123,
        ended: Ok(200),
        duration_ms: 3,
    };
    let mut chain = Chain::new("0123456789abcdef".into(), None, None);
    // The texts the Worker writes, as the auditor parses them.
    let lines: Vec<serde_json::Value> = (0..2)
        .map(|_| {
            let text = chain.seal(&mut build(&worst_decision(), &facts), |l| &mut l.trail);
            serde_json::from_str(&text).unwrap()
        })
        .collect();
    let one = chain_value(&[0; 32], &lines[0], None);
    let two = chain_value(&one, &lines[1], None);
    assert_eq!(
        lines[1]["chain"],
        egress_policy_engine::log_chain::hex(&two)
    );
    assert_eq!(
        (lines[0]["seq"].as_u64(), lines[1]["seq"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(lines[1]["chain_alg"], "sha256");
    assert_eq!(lines[1]["isolate"], "0123456789abcdef");
    assert_eq!(
        lines[1]["engine"],
        egress_policy_engine::log_chain::ENGINE_VERSION
    );
}

#[test]
fn a_decisions_data_point_is_laid_out_as_the_sql_reads_it() {
    let policy = PolicyRef {
        name: None,
        sha256: "a".repeat(64),
        source: Some(PolicySource::Bundle),
        serial: Some(400),
    };
    let mut line = build(
        &worst_decision(),
        &LogFacts {
            decision_id: "d-9",
            identity: &Identity {
                customer: Some("acme".to_owned()),
                tags: Some(vec![]),
            },
            method: "GET",
            policy: &policy,
            defaults: Some(&Defaults {
                query_in_logs: false,
                ..Defaults::default()
            }),
            arrived_ms: 0,
            ended: Err(LocalAnswer::UpstreamUnreachable),
            duration_ms: 41,
        },
    );
    Chain::new("0123456789abcdef".into(), None, None).seal(&mut line, |l| &mut l.trail);
    let point = metrics::decision(&line);
    assert_eq!(point.indexes, ["acme".to_owned()]);
    assert_eq!(
        &point.blobs[..4],
        ["decision", "inject", "failed", &"r".repeat(128)]
    );
    assert_eq!(point.blobs[7], "upstream_unreachable");
    assert_eq!(point.blobs[9], "a".repeat(64));
    assert_eq!(point.blobs[10], "bundle");
    assert_eq!(point.blobs[11], "0123456789abcdef");
    assert_eq!(point.blobs[12], "d-9");
    assert_eq!(point.doubles, [41, 1, 1, 0, 400, 1]);
    // Analytics Engine's limits: 20 blobs, 20 doubles, one index.
    assert!(point.blobs.len() <= 20 && point.doubles.len() <= 20);

    // The longest customer name a line can carry is cut to the index's 96 bytes.
    line.customer = Some("c".repeat(egress_policy_engine::identity::MAX_NAME_LEN));
    let point = metrics::decision(&line);
    assert_eq!(point.indexes[0], "c".repeat(metrics::MAX_INDEX_BYTES));
    assert_eq!(point.blobs[0], "decision");
}
