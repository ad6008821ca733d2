//! Taking up signed policy bundles: only newer, correctly signed bundles of this environment
//! whose policy loads; the policy in force keeps deciding otherwise; each event is reported
//! once per isolate; when requests wait for a read and when reads refresh in the background.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use egress_policy_engine::bundle::{HEAD_LEN, Head, SigningKey, head_of, read_head, seal};
use egress_policy_engine::{PolicyRef, PolicySource, compile};
use egress_policy_outbound::bundle_state::{
    BundleEvent, BundleState, Candidate, EventStatus, HeadVerdict, Origin, ReadEnd, Ready, Timing,
    Trust,
};
use sha2::{Digest, Sha256};

const ENV: &str = "production";
const TIMING: Timing = Timing {
    refresh_ms: 30_000,
    wait_ms: 1_000,
    read_timeout_ms: 10_000,
};

fn artefact(block: &str, serial: u64) -> Vec<u8> {
    let text = format!(
        "version = 1\nname = \"bundled\"\n[defaults]\naction = \"pass\"\n\n[[rules]]\nid = \"emergency\"\naction = \"block\"\nhosts = [\"{block}\"]\n"
    );
    let mut policy = compile("bundled.toml", &text).unwrap().policy;
    policy.set_serial(serial);
    policy.to_artifact()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A bundle blocking `block`, with `serial`, signed by key `signer` for `env`.
fn bundle(block: &str, serial: u64, signer: u8, env: &str) -> Vec<u8> {
    seal(&artefact(block, serial), env, 1_800_000_000, &key(signer)).unwrap()
}

fn embedded(serial: u64) -> PolicyRef {
    PolicyRef {
        name: Some("embedded".into()),
        sha256: "e".repeat(64),
        source: Some(PolicySource::Embedded),
        serial: Some(serial),
    }
}

/// Trust as the Worker configures it: key 1, production, an embedded policy of `serial`.
struct World {
    key: egress_policy_engine::bundle::VerifyingKey,
    embedded: PolicyRef,
    min_serial: u64,
}

impl World {
    fn new(embedded_serial: u64) -> World {
        World {
            key: key(1).verifying_key(),
            embedded: embedded(embedded_serial),
            min_serial: 0,
        }
    }

    fn trust(&self) -> Trust<'_> {
        Trust {
            key: self.key,
            environment: ENV.to_owned(),
            embedded: &self.embedded,
            min_serial: self.min_serial,
        }
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    let head = read_head(&head_of(bytes).unwrap()).unwrap();
    Sha256::digest(&bytes[head.payload_range()]).into()
}

/// What the Worker does with a value read: judge its head, then take up its bundle.
fn read(state: &mut BundleState, world: &World, bytes: &[u8]) -> Option<BundleEvent> {
    match state.judge_head(&head_of(bytes).unwrap(), &world.trust(), Origin::Kv) {
        HeadVerdict::Known => None,
        HeadVerdict::Refused(event) => Some(event),
        HeadVerdict::Newer(head) => take_up(state, world, &head, bytes, digest(bytes), Origin::Kv),
    }
}

/// Takes up `bytes`, whose payload hashes to `payload_sha256`, as the bundle of `head`.
fn take_up(
    state: &mut BundleState,
    world: &World,
    head: &Head,
    bytes: &[u8],
    payload_sha256: [u8; 32],
    from: Origin,
) -> Option<BundleEvent> {
    let value_head = head_of(bytes).unwrap_or_default();
    let candidate = Candidate {
        head: &value_head,
        len: bytes.len(),
        payload_sha256: Some(payload_sha256),
    };
    let copy = || Arc::new(bytes.to_vec());
    state.take_up(head, candidate, copy, &world.trust(), from)
}

fn decides(state: &BundleState, host: &str) -> egress_policy_engine::Action {
    state
        .current()
        .unwrap()
        .policy
        .decide(&egress_policy_engine::Request {
            method: "GET",
            url: &format!("https://{host}/"),
            customer: Some("c"),
            tags: Some(&[]),
        })
        .action
}

#[test]
fn a_first_read_is_waited_for_by_every_request_that_arrives_while_it_runs() {
    let mut state = BundleState::default();
    let Ready {
        start: Some(id),
        wait: Some((waited, 2_000)),
    } = state.ready(1_000, &TIMING)
    else {
        panic!("the first request starts a read and waits")
    };
    assert_eq!(waited, id);
    // The burst: every request waits for the same read, until a second after it started.
    for now in [1_001, 1_500, 1_999] {
        assert_eq!(
            state.ready(now, &TIMING),
            Ready {
                start: None,
                wait: Some((id, 2_000))
            }
        );
    }
    // A read slower than the bound is not waited for any longer.
    assert_eq!(state.ready(2_000, &TIMING), Ready::default());
    assert!(!state.has_read());
    let world = World::new(0);
    state.settle(id, 2_100, ReadEnd::Absent, &world.trust());
    assert!(state.has_read());
    assert_eq!(state.ready(2_200, &TIMING), Ready::default());
}

#[test]
fn reads_refresh_in_the_background_and_a_request_after_a_quiet_spell_waits() {
    let world = World::new(0);
    let mut state = BundleState::default();
    let Ready {
        wait: Some((id, _)),
        ..
    } = state.ready(0, &TIMING)
    else {
        panic!()
    };
    state.settle(id, 10, ReadEnd::Answered, &world.trust());
    assert_eq!(state.ready(14_999, &TIMING), Ready::default());
    // Half the interval on: a background read, no request waits for it.
    let Ready {
        start: Some(refresh),
        wait: None,
    } = state.ready(15_010, &TIMING)
    else {
        panic!("a background refresh")
    };
    assert_eq!(state.ready(15_011, &TIMING), Ready::default());
    state.settle(refresh, 15_020, ReadEnd::Answered, &world.trust());
    // A quiet spell longer than the interval: the next request waits for a fresh read.
    let Ready {
        start: Some(_),
        wait: Some((_, until_ms)),
    } = state.ready(45_020, &TIMING)
    else {
        panic!("a request after a quiet spell waits")
    };
    assert_eq!(until_ms, 46_020);
}

#[test]
fn a_read_that_times_out_counts_as_failed_and_the_next_is_due_on_schedule() {
    let world = World::new(0);
    let mut state = BundleState::default();
    let Ready {
        wait: Some((id, _)),
        ..
    } = state.ready(0, &TIMING)
    else {
        panic!()
    };
    let event = state
        .settle(id, 10_000, ReadEnd::TimedOut, &world.trust())
        .unwrap();
    assert_eq!(
        (event.status, event.reason),
        (EventStatus::Unreachable, Some("timeout"))
    );
    // The hung read settling later changes nothing.
    assert!(
        state
            .settle(id, 12_000, ReadEnd::Answered, &world.trust())
            .is_none()
    );
    assert_eq!(state.ready(10_001, &TIMING), Ready::default());
    assert!(matches!(
        state.ready(25_000, &TIMING),
        Ready {
            start: Some(_),
            wait: None
        }
    ));
}

#[test]
fn a_read_that_never_settles_does_not_stop_reads_for_good() {
    let mut state = BundleState::default();
    let Ready {
        wait: Some((id, _)),
        ..
    } = state.ready(0, &TIMING)
    else {
        panic!()
    };
    // Neither the read nor its timeout ever settled (no timer): past timeout and wait, a new
    // read starts.
    let Ready {
        start: Some(next),
        wait: Some(_),
    } = state.ready(11_000, &TIMING)
    else {
        panic!("a new read")
    };
    assert_ne!(id, next);
}

#[test]
fn a_newer_signed_bundle_is_taken_up_and_named() {
    let world = World::new(0);
    let mut state = BundleState::default();
    let first = bundle("evil.test", 5, 1, ENV);
    let event = read(&mut state, &world, &first).unwrap();
    assert_eq!(event.status, EventStatus::Loaded);
    assert_eq!(event.serial, Some(5));
    assert_eq!(event.from, Some(Origin::Kv));
    assert_eq!(event.active.source, Some(PolicySource::Bundle));
    assert_eq!(event.active.serial, Some(5));
    assert_eq!(event.active.name.as_deref(), Some("bundled"));
    assert_eq!(state.current().unwrap().policy.serial(), 5);
    assert_eq!(
        decides(&state, "evil.test"),
        egress_policy_engine::Action::Block
    );
    // The same head read again: known, nothing changes.
    assert!(matches!(
        state.judge_head(&head_of(&first).unwrap(), &world.trust(), Origin::Kv),
        HeadVerdict::Known
    ));
    // A newer one replaces it.
    let newer = bundle("worse.test", 6, 1, ENV);
    let event = read(&mut state, &world, &newer).unwrap();
    assert_eq!((event.status, event.serial), (EventStatus::Loaded, Some(6)));
    assert_eq!(state.current().unwrap().policy.serial(), 6);
}

#[test]
fn refused_bundles_leave_the_policy_in_force_and_are_reported_once() {
    let world = World::new(0);
    let mut state = BundleState::default();
    read(&mut state, &world, &bundle("evil.test", 10, 1, ENV)).unwrap();

    let cases = [
        (bundle("other.test", 9, 1, ENV), "older_serial"),
        (bundle("other.test", 10, 1, ENV), "same_serial"),
        (bundle("other.test", 11, 2, ENV), "wrong_key"),
        (bundle("other.test", 12, 1, "staging"), "wrong_environment"),
    ];
    for (bytes, reason) in cases {
        let event = read(&mut state, &world, &bytes).unwrap_or_else(|| panic!("{reason}"));
        assert_eq!(
            (event.status, event.reason),
            (EventStatus::Refused, Some(reason))
        );
        assert_eq!(
            event.active.serial,
            Some(10),
            "{reason}: the last good keeps deciding"
        );
        assert_eq!(state.current().unwrap().policy.serial(), 10);
        // Read again at the next refresh: known, not reported again.
        assert!(read(&mut state, &world, &bytes).is_none(), "{reason}");
    }
    let mut tampered_head = bundle("other.test", 13, 1, ENV);
    tampered_head[14] ^= 1;
    let event = read(&mut state, &world, &tampered_head).unwrap();
    assert_eq!(event.reason, Some("bad_signature"));
}

#[test]
fn the_embedded_policy_wins_over_an_older_bundle_and_a_newer_bundle_over_it() {
    // Embedded 300: a replayed bundle 200 is older, on a fresh isolate too.
    let world = World::new(300);
    let mut state = BundleState::default();
    let event = read(&mut state, &world, &bundle("evil.test", 200, 1, ENV)).unwrap();
    assert_eq!(event.reason, Some("older_serial"));
    assert_eq!(event.active, world.embedded);
    assert!(state.current().is_none());
    let event = read(&mut state, &world, &bundle("evil.test", 300, 1, ENV)).unwrap();
    assert_eq!(event.reason, Some("same_serial"));
    let event = read(&mut state, &world, &bundle("evil.test", 400, 1, ENV)).unwrap();
    assert_eq!(
        (event.status, event.serial),
        (EventStatus::Loaded, Some(400))
    );
}

#[test]
fn a_floor_refuses_old_bundles_even_for_a_fresh_isolate() {
    let mut world = World::new(0);
    world.min_serial = 4;
    let mut state = BundleState::default();
    let event = read(&mut state, &world, &bundle("evil.test", 3, 1, ENV)).unwrap();
    assert_eq!(event.reason, Some("below_min_serial"));
    assert_eq!(event.active, world.embedded);
    assert!(state.current().is_none());
}

/// A copy with the genuine head but another payload (same serial, same length), raced into
/// KV: refused, and remembered by nothing that the genuine bundle shares, so the genuine
/// bundle is taken up when it is read.
#[test]
fn a_poisoning_copy_never_keeps_the_genuine_bundle_out() {
    let world = World::new(0);
    let mut state = BundleState::default();
    let genuine = bundle("evil.test", 10, 1, ENV);
    let mut copy = genuine.clone();
    let middle = copy.len() / 2;
    copy[middle] ^= 0x20;
    assert_eq!(copy.len(), genuine.len());
    for _ in 0..3 {
        let event = read(&mut state, &world, &copy);
        assert!(state.current().is_none());
        if let Some(event) = event {
            assert_eq!(event.reason, Some("bad_signature"));
        }
    }
    let event = read(&mut state, &world, &genuine).unwrap();
    assert_eq!(
        (event.status, event.serial),
        (EventStatus::Loaded, Some(10))
    );
    // A copy whose head differs (same serial, same length, a signature byte changed):
    // refused by its own bytes, never by the genuine head's.
    let mut state = BundleState::default();
    let genuine = bundle("evil.test", 11, 1, ENV);
    let mut forged = genuine.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        read(&mut state, &world, &forged).unwrap().reason,
        Some("bad_signature")
    );
    assert_eq!(
        read(&mut state, &world, &genuine).unwrap().status,
        EventStatus::Loaded
    );
}

#[test]
fn a_bundle_that_does_not_fit_its_head_is_not_taken_and_not_held_against_it() {
    let world = World::new(0);
    let mut state = BundleState::default();
    let announced = bundle("evil.test", 10, 1, ENV);
    let stale_value = bundle("old.test", 9, 1, ENV);
    let HeadVerdict::Newer(head) =
        state.judge_head(&head_of(&announced).unwrap(), &world.trust(), Origin::Kv)
    else {
        panic!()
    };
    let event = take_up(
        &mut state,
        &world,
        &head,
        &stale_value,
        digest(&stale_value),
        Origin::Kv,
    )
    .unwrap();
    assert_eq!(event.reason, Some("head_mismatch"));
    assert!(state.current().is_none());
    // When KV shows the value, the same head is taken.
    assert_eq!(
        read(&mut state, &world, &announced).unwrap().status,
        EventStatus::Loaded
    );
}

/// A bundle whose domain list's automaton was damaged, its artefact checksum recomputed and
/// re-signed with the trusted key: refused when loaded, never met by a lookup.
#[test]
fn a_corrupted_and_resigned_automaton_is_refused_at_load() {
    let world = World::new(0);
    let text = "version = 1\n[lists.feed]\nfile = \"feed.txt\"\nmatch = \"exact\"\n[[rules]]\nid = \"feed\"\naction = \"block\"\nlists = [\"feed\"]\n";
    let mut files = egress_policy_engine::ListFiles::new();
    let names: Vec<String> = (0..2_000).map(|i| format!("n{i}.feed.example")).collect();
    files.insert("feed.txt", "feed.txt", names.join("\n"));
    let mut policy = egress_policy_engine::compile_with_lists("p.toml", text, &files)
        .unwrap()
        .policy;
    policy.set_serial(10);
    let artefact = policy.to_artifact();
    let header = egress_policy_engine::artifact::ARTIFACT_HEADER_LEN;
    // The automaton is the payload's last length-prefixed part.
    let mut section_at = header;
    while section_at < artefact.len() {
        let len = u64::from_le_bytes(artefact[section_at..section_at + 8].try_into().unwrap());
        if section_at + 8 + len as usize == artefact.len() {
            break;
        }
        section_at += 8 + len as usize;
    }
    section_at += 8;
    let section_len = artefact.len() - section_at;
    let mut refused = 0;
    for round in 0..300_usize {
        let mut damaged = artefact.clone();
        // A byte inside the automaton (the last part of the payload), then the checksum
        // recomputed, as a signer would.
        let at = section_at + (round * 7919) % section_len;
        damaged[at] ^= 1 << (round % 8);
        let checksum: [u8; 32] = Sha256::digest(&damaged[header..]).into();
        damaged[header - 32..header].copy_from_slice(&checksum);
        let bytes = seal(&damaged, ENV, 0, &key(1)).unwrap();
        let mut state = BundleState::default();
        let event = read(&mut state, &world, &bytes).unwrap();
        assert_eq!(event.reason, Some("invalid_policy"), "round {round}");
        assert!(state.current().is_none());
        refused += 1;
    }
    assert_eq!(refused, 300);
}

#[test]
fn outages_and_absence_are_reported_once_each_until_kv_answers_again() {
    let world = World::new(0);
    let trust = world.trust();
    let mut state = BundleState::default();
    let read_ending = |state: &mut BundleState, now: u64, end| {
        let Ready {
            start: Some(id), ..
        } = state.ready(now, &TIMING)
        else {
            panic!("a read is due at {now}")
        };
        state.settle(id, now, end, &trust)
    };
    let first = read_ending(&mut state, 0, ReadEnd::Failed).unwrap();
    assert_eq!(
        (first.status, first.reason, &first.active),
        (EventStatus::Unreachable, Some("failed"), &world.embedded)
    );
    assert!(read_ending(&mut state, 40_000, ReadEnd::Failed).is_none());
    assert_eq!(
        read_ending(&mut state, 80_000, ReadEnd::Absent)
            .unwrap()
            .status,
        EventStatus::Absent
    );
    assert!(read_ending(&mut state, 120_000, ReadEnd::Absent).is_none());
    // KV answered with a bundle in between: the next outage is news.
    assert!(read_ending(&mut state, 160_000, ReadEnd::Answered).is_none());
    assert_eq!(
        read_ending(&mut state, 200_000, ReadEnd::Failed)
            .unwrap()
            .status,
        EventStatus::Unreachable
    );
}

#[test]
fn the_event_line_names_itself_and_never_carries_bundle_bytes() {
    let world = World::new(0);
    let mut state = BundleState::default();
    let event = read(&mut state, &world, &bundle("evil.test", 7, 1, ENV)).unwrap();
    let line = serde_json::to_value(event.line(1_795_867_200_123)).unwrap();
    assert_eq!(line["event"], "policy_bundle");
    assert_eq!(line["status"], "loaded");
    assert_eq!(line["serial"], 7);
    assert_eq!(line["from"], "kv");
    assert_eq!(line["active"]["source"], "bundle");
    assert_eq!(line["ts"], "2026-11-28T12:00:00.123Z");
    assert!(line.get("decision_id").is_none());
}

/// The Worker hashes a bundle's payload natively and hands over the digest: the right one
/// loads the bundle, any other is a broken signature, never a load of unchecked bytes.
#[test]
fn a_digest_computed_by_the_runtime_stands_in_for_hashing_in_wasm() {
    let world = World::new(0);
    let bytes = bundle("evil.test", 10, 1, ENV);
    let head = read_head(&head_of(&bytes).unwrap()).unwrap();
    assert_eq!(head.bytes.len(), HEAD_LEN);
    let mut wrong = digest(&bytes);
    wrong[0] ^= 1;
    let mut state = BundleState::default();
    let HeadVerdict::Newer(head) = state.judge_head(&head.bytes, &world.trust(), Origin::Kv) else {
        panic!()
    };
    let event = take_up(&mut state, &world, &head, &bytes, wrong, Origin::Kv).unwrap();
    assert_eq!(
        (event.status, event.reason),
        (EventStatus::Refused, Some("bad_signature"))
    );
    assert!(state.current().is_none());
    let event = read(&mut state, &world, &bytes).unwrap();
    assert_eq!(event.status, EventStatus::Loaded);
    // The policy decides from the tables where they lie in the buffer read.
    assert_eq!(
        decides(&state, "evil.test"),
        egress_policy_engine::Action::Block
    );
}

/// The cache holds what an isolate verified, for the next isolate of the location; what it
/// gives is judged like anything read from KV, and named as read from the cache.
#[test]
fn a_bundle_from_the_cache_is_judged_the_same_way() {
    let world = World::new(0);
    let bytes = bundle("evil.test", 10, 1, ENV);
    let mut state = BundleState::default();
    let HeadVerdict::Newer(head) =
        state.judge_head(&head_of(&bytes).unwrap(), &world.trust(), Origin::Cache)
    else {
        panic!()
    };
    // While its bundle is read, the same head from KV is known: no second read.
    assert!(matches!(
        state.judge_head(&head_of(&bytes).unwrap(), &world.trust(), Origin::Kv),
        HeadVerdict::Known
    ));
    let event = take_up(
        &mut state,
        &world,
        &head,
        &bytes,
        digest(&bytes),
        Origin::Cache,
    )
    .unwrap();
    assert_eq!(
        (event.status, event.from),
        (EventStatus::Loaded, Some(Origin::Cache))
    );
    let mut staging = BundleState::default();
    let HeadVerdict::Refused(event) = staging.judge_head(
        &head_of(&bundle("evil.test", 11, 1, "staging")).unwrap(),
        &world.trust(),
        Origin::Cache,
    ) else {
        panic!()
    };
    assert_eq!(event.reason, Some("wrong_environment"));
}
