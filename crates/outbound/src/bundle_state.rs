//! Which policy an isolate decides with, and when it reads Workers KV for a newer one.
//!
//! The newest signed policy wins, wherever it came from: the embedded policy carries a
//! serial, and a bundle is taken up only when its head verifies with the trusted key for this
//! Worker's environment and its serial is above both the embedded policy's and the bundle's
//! in use (and not below the configured floor). Anything else is refused and the policy in
//! force keeps deciding.
//!
//! When to read: an isolate's first request, and every request arriving after the last read
//! settled more than the refresh interval ago, waits for a read (at most the wait bound after
//! that read started), so no request is decided by a policy read longer ago than that; under
//! steady traffic a background read starts at half the interval, so requests rarely wait. A
//! read that does not settle within its timeout counts as failed, and the next is due on
//! schedule. The Worker (`src/live.rs`) does the reading; everything here is free of the
//! runtime.
//!
//! A read looks at the bundle's **head** first (a few hundred bytes published beside it):
//! the head of the bundle in use, or of one refused before, is known by its exact bytes and
//! costs nothing more. A new head is verified before anything else of its bundle is read,
//! hashed or copied. Refusals are remembered only for bytes proven identical to those
//! judged: a head by its signed bytes, a payload that does not hash to its head's checksum
//! not at all (the genuine bundle with the same head is judged afresh when it comes).
//! Each outcome is reported once per isolate.

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use egress_policy_engine::artifact::Artifact;
use egress_policy_engine::bundle::{self, Head, VerifyingKey};
use egress_policy_engine::{CompiledPolicy, PolicyRef, PolicySource};
use serde::Serialize;

use crate::log::EventLine;

/// The default seconds between two reads.
pub const DEFAULT_REFRESH_SECS: u64 = 30;
/// The default longest wait of a request for a read.
pub const DEFAULT_WAIT_MS: u64 = 1_000;
/// The default time after which a read that has not settled counts as failed.
pub const DEFAULT_READ_TIMEOUT_MS: u64 = 10_000;

/// How many refused heads an isolate remembers.
const REMEMBERED_HEADS: usize = 32;

/// When an isolate reads, from its settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Milliseconds after which the last read is stale: the next request waits for a new one.
    pub refresh_ms: u64,
    /// The longest a request waits for a read, counted from the read's start.
    pub wait_ms: u64,
    /// Milliseconds after which a read that has not settled counts as failed.
    pub read_timeout_ms: u64,
}

/// What a bundle must satisfy to be taken up.
#[derive(Clone, Debug)]
pub struct Trust<'a> {
    /// The one public key bundles must be signed with.
    pub key: VerifyingKey,
    /// This Worker's environment: a bundle signed for another is refused.
    pub environment: String,
    /// The embedded policy (its serial included): a bundle must be newer, and it decides
    /// while no bundle is taken up.
    pub embedded: &'a PolicyRef,
    /// The configured floor: bundles below it are refused.
    pub min_serial: u64,
}

/// Where a bundle was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The KV namespace.
    Kv,
    /// This location's cache, where an isolate keeps the newest bundle it verified, for the
    /// isolates after it when KV cannot be read.
    Cache,
}

/// A bundle taken up: its policy and where it came from.
#[derive(Debug)]
pub struct LoadedBundle {
    /// The policy it carries (its serial the bundle's).
    pub policy: CompiledPolicy,
    /// What decision lines name: the policy, `source = bundle`, the serial.
    pub policy_ref: PolicyRef,
    /// Its head: the same bundle read again is known by these bytes.
    pub head: Box<[u8]>,
}

/// What a request does before it is decided (the default: decide now).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// The read the caller starts first: in the background, or the one it waits for.
    pub start: Option<u64>,
    /// `(id, until_ms)`: wait for read `id` until `until_ms` at the latest, then decide with
    /// what was taken up.
    pub wait: Option<(u64, u64)>,
}

/// How a read ended, for scheduling and reporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// KV answered with a bundle (taken up or not).
    Answered,
    /// KV answered: no bundle under the key.
    Absent,
    /// KV could not be read.
    Failed,
    /// The read did not settle within its timeout.
    TimedOut,
}

/// What to do about a head just read.
#[derive(Debug)]
pub enum HeadVerdict {
    /// The head of the bundle in use (or being taken up), or of one refused before.
    Known,
    /// Refused: the event to log.
    Refused(BundleEvent),
    /// A newer bundle: read it, check it [`fits`](Head::fits) the head, hash its payload and
    /// call [`BundleState::take_up`].
    Newer(Head),
}

/// A value read as the bundle of a head, as the runtime holds it: judged before it is
/// copied.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// Its own head: its first and last bytes ([`bundle::head_of`]).
    pub head: &'a [u8],
    /// Its length.
    pub len: usize,
    /// The SHA-256 of its payload where the head places it, computed by the runtime: `None`
    /// if it could not be (or the value does not fit the head, so was not hashed).
    pub payload_sha256: Option<[u8; 32]>,
}

/// How a read ended, as the event line says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// A newer bundle was taken up.
    Loaded,
    /// A bundle was refused; `reason` says why.
    Refused,
    /// No bundle under the key: the policy in force keeps deciding.
    Absent,
    /// KV could not be read (`reason`: `failed` or `timeout`): the policy in force keeps
    /// deciding.
    Unreachable,
}

/// One bundle event, logged once per isolate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BundleEvent {
    /// What happened.
    pub status: EventStatus,
    /// Why a bundle was refused (`bad_signature`, `wrong_key`, `older_serial`, ...) or KV was
    /// unreachable (`failed`, `timeout`).
    pub reason: Option<&'static str>,
    /// The serial of the bundle read, when its head could be read.
    pub serial: Option<u64>,
    /// The policy in the bundle read, when it loaded.
    pub policy: Option<PolicyRef>,
    /// Where the bundle was read from, for `loaded` and `refused`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Origin>,
    /// The policy deciding after this event.
    pub active: PolicyRef,
}

/// The bundle state of one isolate.
#[derive(Debug, Default)]
pub struct BundleState {
    current: Option<Rc<LoadedBundle>>,
    last_settled_ms: Option<u64>,
    /// When the read under way started: the last one started, numbered `reads`.
    reading_since: Option<u64>,
    reads: u64,
    /// Heads of newer bundles being read: the same head read meanwhile is known.
    taking: Vec<Box<[u8]>>,
    /// Heads refused, by their exact bytes, newest last.
    refused: VecDeque<Box<[u8]>>,
    reported: BTreeSet<Vec<u8>>,
}

impl BundleState {
    /// What a request arriving at `now_ms` does first. Starts (numbers) a read when one is
    /// due: the caller must then make it, and end it with [`BundleState::settle`].
    pub fn ready(&mut self, now_ms: u64, timing: &Timing) -> Ready {
        // Stale: no read ever settled, or the last one longer ago than the refresh interval.
        let age = self
            .last_settled_ms
            .map_or(u64::MAX, |t| now_ms.saturating_sub(t));
        let stale = age >= timing.refresh_ms;
        // A read whose timeout could not fire (no timer) is not waited for for ever.
        let give_up_ms = timing.read_timeout_ms.saturating_add(timing.wait_ms);
        self.reading_since = self
            .reading_since
            .filter(|started_ms| now_ms.saturating_sub(*started_ms) < give_up_ms);
        // Under steady traffic a read starts (in the background) at half the interval.
        let due = self.reading_since.is_none() && age >= timing.refresh_ms / 2;
        let start = due.then(|| {
            self.reads = self.reads.wrapping_add(1);
            self.reading_since = Some(now_ms);
            self.reads
        });
        // A stale policy waits for the read under way until the wait bound after its start
        // (for a read it starts itself, always).
        let wait = self.reading_since.filter(|_| stale).and_then(|started_ms| {
            let until_ms = started_ms.saturating_add(timing.wait_ms);
            (start.is_some() || now_ms < until_ms).then_some((self.reads, until_ms))
        });
        Ready { start, wait }
    }

    /// Whether a read has ever settled: the isolate's first read also looks in the cache.
    pub fn has_read(&self) -> bool {
        self.last_settled_ms.is_some()
    }

    /// The bundle taken up, if any.
    pub fn current(&self) -> Option<Rc<LoadedBundle>> {
        self.current.clone()
    }

    /// The policy in force: the bundle's, else the embedded one. A bundle taken up must be
    /// newer than its serial (none: 0).
    fn active<'a>(&'a self, trust: &Trust<'a>) -> &'a PolicyRef {
        self.current
            .as_ref()
            .map_or(trust.embedded, |c| &c.policy_ref)
    }

    /// Judges a head read `from` KV or the cache (see the module docs).
    pub fn judge_head(&mut self, head: &[u8], trust: &Trust<'_>, from: Origin) -> HeadVerdict {
        if self.current.as_ref().is_some_and(|c| *c.head == *head)
            || self.taking.iter().any(|h| **h == *head)
            || self.refused.iter().any(|h| **h == *head)
        {
            return HeadVerdict::Known;
        }
        let (reason, serial) = match bundle::verify_head(head, &trust.key, &trust.environment) {
            Err(e) => (e.code(), bundle::read_head(head).ok().map(|h| h.serial)),
            Ok(verified) => {
                let reason = match verified.serial.cmp(&self.active(trust).serial.unwrap_or(0)) {
                    _ if verified.serial < trust.min_serial => "below_min_serial",
                    Ordering::Equal => "same_serial",
                    Ordering::Less => "older_serial",
                    Ordering::Greater => {
                        self.taking.push(head.into());
                        return HeadVerdict::Newer(verified);
                    }
                };
                (reason, Some(verified.serial))
            }
        };
        self.remember_refused(head.into());
        HeadVerdict::Refused(self.refused(reason, serial, from, trust))
    }

    /// Gives up reading the bundle of a head [`BundleState::judge_head`] found newer (its
    /// bundle could not be read): the head will be judged afresh when read again.
    pub fn abandon(&mut self, head: &Head) {
        self.taking.retain(|h| **h != *head.bytes);
    }

    /// Takes up `value`, read as the bundle of `head` (a head [`BundleState::judge_head`]
    /// found newer), after checking it: its length and its own head must be the head's, and
    /// its payload must hash to the head's checksum. Only then is it copied (`copy`, the one
    /// copy into Wasm memory, which a policy taken up keeps) and loaded. Returns the event to
    /// log, if it is news. A value that does not fit is not held against the head: the
    /// genuine bundle of this head is taken when it is read.
    pub fn take_up(
        &mut self,
        head: &Head,
        value: Candidate<'_>,
        copy: impl FnOnce() -> Arc<Vec<u8>>,
        trust: &Trust<'_>,
        from: Origin,
    ) -> Option<BundleEvent> {
        self.abandon(head);
        let fits = value.len == head.bundle_len() && *value.head == *head.bytes;
        // Remembered by what was judged, so that each is reported once.
        let (reason, judged) = match value.payload_sha256 {
            // KV shows the two keys' writes at different times, or the value was replaced.
            _ if !fits => ("head_mismatch", [&b"mismatch:"[..], &head.bytes].concat()),
            None => return None,
            // Altered after signing.
            Some(digest) if digest != head.payload_sha256 => {
                ("bad_signature", [&b"payload:"[..], &digest].concat())
            }
            // Another read took this one, or a newer one, meanwhile.
            Some(_) if head.serial <= self.active(trust).serial.unwrap_or(0) => return None,
            Some(_) => return Some(self.load(head, &copy(), trust, from)),
        };
        let event = self.refused(reason, Some(head.serial), from, trust);
        self.reported.insert(judged).then_some(event)
    }

    /// Loads the bundle of `head` from `buffer`, whose payload hashes to the head's checksum.
    fn load(
        &mut self,
        head: &Head,
        buffer: &Arc<Vec<u8>>,
        trust: &Trust<'_>,
        from: Origin,
    ) -> BundleEvent {
        let serial = Some(head.serial);
        let loaded = CompiledPolicy::load(Artifact::Shared {
            buffer,
            range: head.artifact_range(),
            payload_sha256: &head.payload_sha256,
        });
        let Some(policy) = loaded.ok().filter(|policy| policy.serial() == head.serial) else {
            self.remember_refused(head.bytes.clone());
            return self.refused("invalid_policy", serial, from, trust);
        };
        let policy_ref = policy
            .policy_ref()
            .from_source(PolicySource::Bundle, Some(head.serial));
        self.current = Some(Rc::new(LoadedBundle {
            policy,
            policy_ref,
            head: head.bytes.clone(),
        }));
        self.event(EventStatus::Loaded, None, serial, Some(from), trust)
    }

    /// Ends read `id` at `now_ms`: the next is due a refresh interval later. A read that
    /// ended before (it timed out) is not ended again. Returns the event to log, if news:
    /// KV absent or unreachable is reported once until KV answers with a bundle again.
    pub fn settle(
        &mut self,
        id: u64,
        now_ms: u64,
        end: ReadEnd,
        trust: &Trust<'_>,
    ) -> Option<BundleEvent> {
        if self.reads != id || self.reading_since.take().is_none() {
            return None;
        }
        self.last_settled_ms = Some(now_ms);
        let (status, reason, key) = match end {
            ReadEnd::Answered => {
                self.reported.remove(&b"absent"[..]);
                self.reported.remove(&b"unreachable"[..]);
                return None;
            }
            ReadEnd::Absent => {
                self.reported.remove(&b"unreachable"[..]);
                (EventStatus::Absent, None, "absent")
            }
            ReadEnd::Failed => (EventStatus::Unreachable, Some("failed"), "unreachable"),
            ReadEnd::TimedOut => (EventStatus::Unreachable, Some("timeout"), "unreachable"),
        };
        let event = self.event(status, reason, None, None, trust);
        self.reported
            .insert(key.as_bytes().to_vec())
            .then_some(event)
    }

    fn remember_refused(&mut self, head: Box<[u8]>) {
        if self.refused.len() >= REMEMBERED_HEADS {
            self.refused.pop_front();
        }
        self.refused.push_back(head);
    }

    /// A `refused` event of a bundle read `from`.
    fn refused(
        &self,
        reason: &'static str,
        serial: Option<u64>,
        from: Origin,
        trust: &Trust<'_>,
    ) -> BundleEvent {
        self.event(
            EventStatus::Refused,
            Some(reason),
            serial,
            Some(from),
            trust,
        )
    }

    /// An event read `from` (for `loaded` and `refused`); a `loaded` one names the policy
    /// just taken up, now the active one.
    fn event(
        &self,
        status: EventStatus,
        reason: Option<&'static str>,
        serial: Option<u64>,
        from: Option<Origin>,
        trust: &Trust<'_>,
    ) -> BundleEvent {
        let active = self.active(trust);
        BundleEvent {
            status,
            reason,
            serial,
            policy: (status == EventStatus::Loaded).then(|| active.clone()),
            from,
            active: active.clone(),
        }
    }
}

impl BundleEvent {
    /// This event as a log line at `now_ms` (its chain fields to be sealed).
    pub fn line(&self, now_ms: u64) -> EventLine<'_, BundleEvent> {
        EventLine::new("policy_bundle", now_ms, self)
    }
}
