//! Taking up signed policy bundles: only newer, correctly signed, loadable bundles; the last
//! good policy keeps deciding; each event is reported once per isolate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use egress_policy_engine::bundle::{PREFIX_LEN, SigningKey, seal};
use egress_policy_engine::{PolicyRef, PolicySource, compile};
use egress_policy_outbound::bundle_state::{BundleState, Due, EventStatus, Fetched};

const REFRESH: u64 = 30_000;

fn policy(block: &str) -> Vec<u8> {
    let text = format!(
        "version = 1\nname = \"bundled\"\n[defaults]\naction = \"pass\"\n\n[[rules]]\nid = \"emergency\"\naction = \"block\"\nhosts = [\"{block}\"]\n"
    );
    compile("bundled.toml", &text).unwrap().policy.to_artifact()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn embedded() -> PolicyRef {
    PolicyRef {
        name: Some("embedded".into()),
        sha256: "e".repeat(64),
        source: Some(PolicySource::Embedded),
        serial: None,
    }
}

#[test]
fn the_first_read_is_waited_for_then_reads_refresh_in_the_background() {
    let mut state = BundleState::default();
    assert_eq!(state.due(1_000, REFRESH), Due::First);
    // A read is under way: no second one.
    assert_eq!(state.due(1_001, REFRESH), Due::No);
    let trusted = key(1).verifying_key();
    state.take_up(1_010, Fetched::Absent, &trusted, 0, &embedded());
    assert_eq!(state.due(1_020, REFRESH), Due::No);
    assert_eq!(state.due(31_009, REFRESH), Due::No);
    assert_eq!(state.due(31_010, REFRESH), Due::Refresh);
    assert_eq!(state.due(31_011, REFRESH), Due::No);
}

#[test]
fn a_newer_signed_bundle_is_taken_up_and_named() {
    let mut state = BundleState::default();
    let trusted = key(1).verifying_key();
    let bundle = seal(&policy("evil.test"), 5, &key(1));
    let event = state
        .take_up(0, Fetched::Bytes(&bundle), &trusted, 0, &embedded())
        .unwrap();
    assert_eq!(event.status, EventStatus::Loaded);
    assert_eq!(event.serial, Some(5));
    assert_eq!(event.active.source, Some(PolicySource::Bundle));
    assert_eq!(event.active.serial, Some(5));
    assert_eq!(event.active.name.as_deref(), Some("bundled"));
    let current = state.current().unwrap();
    assert_eq!(current.serial, 5);
    let decision = current.policy.decide(&egress_policy_engine::Request {
        method: "GET",
        url: "https://evil.test/",
        customer: Some("acme"),
        tags: Some(&[]),
    });
    assert_eq!(decision.rule.unwrap().id, "emergency");
    // The same bytes read again: no event, nothing changes.
    assert!(
        state
            .take_up(1, Fetched::Bytes(&bundle), &trusted, 0, &embedded())
            .is_none()
    );
    // A newer one replaces it.
    let newer = seal(&policy("worse.test"), 6, &key(1));
    let event = state
        .take_up(2, Fetched::Bytes(&newer), &trusted, 0, &embedded())
        .unwrap();
    assert_eq!((event.status, event.serial), (EventStatus::Loaded, Some(6)));
    assert_eq!(state.current().unwrap().serial, 6);
}

#[test]
fn refused_bundles_leave_the_last_good_policy_and_are_reported_once() {
    let mut state = BundleState::default();
    let trusted = key(1).verifying_key();
    let good = seal(&policy("evil.test"), 10, &key(1));
    state
        .take_up(0, Fetched::Bytes(&good), &trusted, 0, &embedded())
        .unwrap();

    let older = seal(&policy("other.test"), 9, &key(1));
    let same_serial = seal(&policy("other.test"), 10, &key(1));
    let wrong_key = seal(&policy("other.test"), 11, &key(2));
    let mut tampered = seal(&policy("other.test"), 12, &key(1));
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x20;
    let not_a_policy = seal(b"not an artefact", 13, &key(1));
    for (bytes, reason) in [
        (&older, "older_serial"),
        (&same_serial, "same_serial"),
        (&wrong_key, "wrong_key"),
        (&tampered, "bad_signature"),
        (&not_a_policy, "invalid_policy"),
    ] {
        let event = state
            .take_up(1, Fetched::Bytes(bytes), &trusted, 0, &embedded())
            .unwrap_or_else(|| panic!("{reason}: an event"));
        assert_eq!(
            (event.status, event.reason),
            (EventStatus::Refused, Some(reason))
        );
        assert_eq!(
            event.active.serial,
            Some(10),
            "{reason}: the last good keeps deciding"
        );
        assert_eq!(state.current().unwrap().serial, 10);
        // Read again at the next refresh: not reported again.
        assert!(
            state
                .take_up(2, Fetched::Bytes(bytes), &trusted, 0, &embedded())
                .is_none()
        );
    }
}

#[test]
fn a_floor_refuses_old_bundles_even_for_a_fresh_isolate() {
    let mut state = BundleState::default();
    let trusted = key(1).verifying_key();
    let old = seal(&policy("evil.test"), 3, &key(1));
    let event = state
        .take_up(0, Fetched::Bytes(&old), &trusted, 4, &embedded())
        .unwrap();
    assert_eq!(event.reason, Some("below_min_serial"));
    assert_eq!(event.active, embedded());
    assert!(state.current().is_none());
}

#[test]
fn outages_and_absence_are_reported_once_each_until_kv_answers_again() {
    let mut state = BundleState::default();
    let trusted = key(1).verifying_key();
    let e = embedded();
    let first = state
        .take_up(0, Fetched::Unreachable, &trusted, 0, &e)
        .unwrap();
    assert_eq!(
        (first.status, &first.active),
        (EventStatus::Unreachable, &e)
    );
    assert!(
        state
            .take_up(1, Fetched::Unreachable, &trusted, 0, &e)
            .is_none()
    );
    assert_eq!(
        state
            .take_up(2, Fetched::Absent, &trusted, 0, &e)
            .unwrap()
            .status,
        EventStatus::Absent
    );
    assert!(state.take_up(3, Fetched::Absent, &trusted, 0, &e).is_none());
    // KV answered in between: the next outage is news.
    assert_eq!(
        state
            .take_up(4, Fetched::Unreachable, &trusted, 0, &e)
            .unwrap()
            .status,
        EventStatus::Unreachable
    );
}

#[test]
fn the_event_line_names_itself_and_never_carries_bundle_bytes() {
    let mut state = BundleState::default();
    let trusted = key(1).verifying_key();
    let bundle = seal(&policy("evil.test"), 7, &key(1));
    let event = state
        .take_up(0, Fetched::Bytes(&bundle), &trusted, 0, &embedded())
        .unwrap();
    let line = serde_json::to_value(event.line(1_795_867_200_123)).unwrap();
    assert_eq!(line["event"], "policy_bundle");
    assert_eq!(line["status"], "loaded");
    assert_eq!(line["serial"], 7);
    assert_eq!(line["active"]["source"], "bundle");
    assert_eq!(line["ts"], "2026-11-28T12:00:00.123Z");
    assert!(line.get("decision_id").is_none());
}

/// The Worker hashes a bundle's payload natively and hands over the digest: the right one
/// loads the bundle, any other is a broken signature, never a load of unchecked bytes.
#[test]
fn a_digest_computed_by_the_runtime_stands_in_for_hashing_in_wasm() {
    use sha2::{Digest, Sha256};
    let trusted = key(1).verifying_key();
    let bundle = seal(&policy("evil.test"), 10, &key(1));
    let range = egress_policy_engine::bundle::payload_range(&bundle, bundle.len()).unwrap();
    let digest: [u8; 32] = Sha256::digest(&bundle[range]).into();
    let bundle = std::sync::Arc::new(bundle);

    let mut wrong = digest;
    wrong[0] ^= 1;
    let mut state = BundleState::default();
    let event = state
        .take_up(0, Fetched::Hashed(&bundle, wrong), &trusted, 0, &embedded())
        .unwrap();
    assert_eq!(
        (event.status, event.reason),
        (EventStatus::Refused, Some("bad_signature"))
    );
    assert!(state.current().is_none());

    let mut state = BundleState::default();
    let event = state
        .take_up(
            0,
            Fetched::Hashed(&bundle, digest),
            &trusted,
            0,
            &embedded(),
        )
        .unwrap();
    assert_eq!(event.status, EventStatus::Loaded);
    let current = state.current().unwrap();
    assert_eq!(current.serial, 10);
    // The policy decides from the tables where they lie in the buffer read.
    assert_eq!(
        current
            .policy
            .decide(&egress_policy_engine::Request {
                method: "GET",
                url: "https://evil.test/",
                customer: Some("c"),
                tags: Some(&[]),
            })
            .action,
        egress_policy_engine::Action::Block
    );
}

/// A refresh that reads the bundle in use, or one refused before, is known from its first
/// bytes and length: the Worker then copies, hashes and checks nothing, and only records the
/// read.
#[test]
fn a_bundle_read_again_is_known_from_its_head_and_length() {
    let trusted = key(1).verifying_key();
    let good = seal(&policy("evil.test"), 10, &key(1));
    let wrong_key = seal(&policy("other.test"), 11, &key(2));
    let mut state = BundleState::default();
    assert!(!state.recognises(&good[..PREFIX_LEN], good.len()));
    assert_eq!(state.due(0, REFRESH), Due::First);
    state
        .take_up(0, Fetched::Bytes(&good), &trusted, 0, &embedded())
        .unwrap();
    state
        .take_up(1, Fetched::Bytes(&wrong_key), &trusted, 0, &embedded())
        .unwrap();
    assert!(state.recognises(&good[..PREFIX_LEN], good.len()));
    assert!(state.recognises(&wrong_key[..PREFIX_LEN], wrong_key.len()));
    // Another length, or another serial, is news.
    assert!(!state.recognises(&good[..PREFIX_LEN], good.len() + 1));
    let newer = seal(&policy("evil.test"), 12, &key(1));
    assert!(!state.recognises(&newer[..PREFIX_LEN], newer.len()));

    assert_eq!(state.due(REFRESH + 1, REFRESH), Due::Refresh);
    state.read_again(REFRESH + 2);
    assert_eq!(state.due(REFRESH + 3, REFRESH), Due::No);
    assert_eq!(state.due(2 * REFRESH + 2, REFRESH), Due::Refresh);
    assert_eq!(state.current().unwrap().serial, 10);
}
