//! Which signed policy bundle an isolate decides with, and when it looks for a newer one.
//!
//! The Worker reads the bundle from Workers KV; everything else happens here, free of the
//! runtime: [`BundleState::due`] says whether to read now (the isolate's first request waits
//! for that first read; later reads run in the background and never delay a request), and
//! [`BundleState::take_up`] judges what was read. A bundle is taken up only when its
//! signature verifies with the trusted key, its serial is above the one in use (and not below
//! the configured floor), and its artefact loads. Anything else is refused and the last good
//! policy keeps deciding; the embedded policy decides until a first bundle is taken up. Each
//! outcome is reported once per isolate (the same refused bundle read every 30 seconds is
//! one event, not one per read).

use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use egress_policy_engine::bundle::{self, VerifyingKey};
use egress_policy_engine::{ArtifactError, CompiledPolicy, PolicyRef, PolicySource};
use serde::Serialize;

/// The default seconds between two reads of the bundle.
pub const DEFAULT_REFRESH_SECS: u64 = 30;

/// A bundle taken up: its policy and where it came from.
#[derive(Debug)]
pub struct LoadedBundle {
    /// The policy it carries.
    pub policy: CompiledPolicy,
    /// Its serial.
    pub serial: u64,
    /// What decision lines name: the policy, `source = bundle`, the serial.
    pub policy_ref: PolicyRef,
    /// The bundle's length in bytes: with the serial, how the same bundle read again is
    /// recognised without verifying or hashing megabytes every refresh.
    len: usize,
}

/// What reading the bundle's KV key gave.
#[derive(Clone, Copy, Debug)]
pub enum Fetched<'a> {
    /// The value's bytes.
    Bytes(&'a [u8]),
    /// The value's bytes, and the SHA-256 of its artefact's payload
    /// ([`bundle::payload_range`]) as the runtime computed it natively: the load then compares
    /// it with the artefact's checksum instead of hashing megabytes in Wasm, and the policy
    /// keeps the buffer, its lists' tables used where they lie in it.
    Hashed(&'a Arc<Vec<u8>>, [u8; 32]),
    /// No value under the key.
    Absent,
    /// The read failed (KV unreachable, binding misbehaving).
    Unreachable,
}

/// Whether to read the bundle now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// The isolate has never read it: read, and decide this request after the read.
    First,
    /// The last read is older than the refresh interval: read in the background.
    Refresh,
    /// Nothing to do.
    No,
}

/// How a read ended, as the event line says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// A newer bundle was taken up.
    Loaded,
    /// A bundle was refused; `reason` says why.
    Refused,
    /// No bundle under the key: the current policy keeps deciding.
    Absent,
    /// KV could not be read: the current policy keeps deciding.
    Unreachable,
}

/// One bundle event, logged once per isolate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BundleEvent {
    /// What happened.
    pub status: EventStatus,
    /// Why a bundle was refused (`bad_signature`, `wrong_key`, `older_serial`, ...).
    pub reason: Option<&'static str>,
    /// The serial of the bundle read, when it could be read.
    pub serial: Option<u64>,
    /// The policy in the bundle read, when it loaded.
    pub policy: Option<PolicyRef>,
    /// The policy deciding after this event.
    pub active: PolicyRef,
}

/// The bundle state of one isolate.
#[derive(Debug, Default)]
pub struct BundleState {
    current: Option<Rc<LoadedBundle>>,
    last_read_ms: Option<u64>,
    reading: bool,
    reported: BTreeSet<String>,
}

impl BundleState {
    /// Whether to read the bundle at `now_ms`, given the refresh interval. Marks a read as
    /// started when one is due: the caller must then read and call [`Self::take_up`].
    pub fn due(&mut self, now_ms: u64, refresh_ms: u64) -> Due {
        let due = match self.last_read_ms {
            None if !self.reading => Due::First,
            Some(last) if !self.reading && now_ms.saturating_sub(last) >= refresh_ms => {
                Due::Refresh
            }
            _ => Due::No,
        };
        if due != Due::No {
            self.reading = true;
        }
        due
    }

    /// The bundle taken up, if any.
    pub fn current(&self) -> Option<Rc<LoadedBundle>> {
        self.current.clone()
    }

    /// Judges what a read gave (see the module docs) and returns the event to log, if it was
    /// not logged before. `embedded` names the embedded policy, which decides while no bundle
    /// was taken up; `min_serial` is the configured floor.
    pub fn take_up(
        &mut self,
        now_ms: u64,
        fetched: Fetched<'_>,
        trusted: &VerifyingKey,
        min_serial: u64,
        embedded: &PolicyRef,
    ) -> Option<BundleEvent> {
        self.reading = false;
        self.last_read_ms = Some(now_ms);
        let event = |state: &Self, status, read: Read| {
            state.event(status, read.reason, read.serial, read.policy, embedded)
        };
        let (event, key) = match fetched {
            Fetched::Unreachable => (
                event(self, EventStatus::Unreachable, Read::none()),
                "unreachable".to_owned(),
            ),
            Fetched::Absent => {
                self.reported.remove("unreachable");
                (
                    event(self, EventStatus::Absent, Read::none()),
                    "absent".to_owned(),
                )
            }
            Fetched::Bytes(bytes) => {
                self.take_up_value(now_ms, bytes, None, trusted, min_serial, embedded)?
            }
            Fetched::Hashed(buffer, digest) => self.take_up_value(
                now_ms,
                buffer,
                Some((buffer, digest)),
                trusted,
                min_serial,
                embedded,
            )?,
        };
        self.reported.insert(key).then_some(event)
    }

    /// A value KV gave: `None` when it is known already (nothing to log), else the event of
    /// judging it and the key it is remembered by. `shared` is the buffer holding `bytes` and
    /// the digest of its artefact's payload, when the runtime computed one.
    fn take_up_value(
        &mut self,
        now_ms: u64,
        bytes: &[u8],
        shared: Option<(&Arc<Vec<u8>>, [u8; 32])>,
        trusted: &VerifyingKey,
        min_serial: u64,
        embedded: &PolicyRef,
    ) -> Option<(BundleEvent, String)> {
        self.read_again(now_ms);
        if self.recognises(bytes, bytes.len()) {
            return None;
        }
        let key = bundle_key(bundle::peek_serial(bytes), bytes.len());
        let (status, read) = match self.judge(bytes, shared, trusted, min_serial) {
            Ok(loaded) => {
                let taken = Read {
                    reason: None,
                    serial: Some(loaded.serial),
                    policy: Some(loaded.policy_ref.clone()),
                };
                self.current = Some(Rc::new(loaded));
                (EventStatus::Loaded, taken)
            }
            Err(refused) => (EventStatus::Refused, refused),
        };
        let event = self.event(status, read.reason, read.serial, read.policy, embedded);
        Some((event, key))
    }

    /// Whether a value of `len` bytes starting with `head` (at least the bundle's head) is
    /// the bundle in use or one already judged. A bundle is known by its claimed serial and
    /// its length: read again, it costs no copy, no hash, no signature check and no load. (A
    /// different bundle with the same serial and length could only be a re-signed copy of
    /// the same serial, which would be refused as `same_serial` anyway.)
    pub fn recognises(&self, head: &[u8], len: usize) -> bool {
        let serial = bundle::peek_serial(head);
        self.current
            .as_ref()
            .is_some_and(|c| Some(c.serial) == serial && c.len == len)
            || self.reported.contains(&bundle_key(serial, len))
    }

    /// Records a read that gave a value: the read is done and KV answered (a later outage or
    /// absence is news again). All there is to do for a value [`BundleState::recognises`].
    pub fn read_again(&mut self, now_ms: u64) {
        self.reading = false;
        self.last_read_ms = Some(now_ms);
        self.reported.remove("unreachable");
        self.reported.remove("absent");
    }

    /// Opens, checks and loads a bundle, or says why it is refused.
    fn judge(
        &self,
        bytes: &[u8],
        shared: Option<(&Arc<Vec<u8>>, [u8; 32])>,
        trusted: &VerifyingKey,
        min_serial: u64,
    ) -> Result<LoadedBundle, Read> {
        let opened = bundle::open(bytes, trusted).map_err(|e| Read::because(e.code(), None))?;
        let serial = opened.serial;
        if serial < min_serial {
            return Err(Read::because("below_min_serial", Some(serial)));
        }
        if let Some(current) = &self.current
            && serial <= current.serial
        {
            let reason = if serial == current.serial {
                "same_serial"
            } else {
                "older_serial"
            };
            return Err(Read::because(reason, Some(serial)));
        }
        let loaded = match shared {
            Some((buffer, digest)) => {
                let at = opened.artifact_at;
                CompiledPolicy::from_shared_artifact(
                    buffer,
                    at..at + opened.artifact.len(),
                    &digest,
                )
            }
            None => CompiledPolicy::from_artifact(opened.artifact),
        };
        let policy = loaded.map_err(|e| {
            // The signature covers the payload through its checksum: a payload that does not
            // match it was tampered with or corrupted after signing.
            let reason = match e {
                ArtifactError::ChecksumMismatch => "bad_signature",
                _ => "invalid_policy",
            };
            Read::because(reason, Some(serial))
        })?;
        let policy_ref = policy
            .policy_ref()
            .from_source(PolicySource::Bundle, Some(serial));
        Ok(LoadedBundle {
            policy,
            serial,
            policy_ref,
            len: bytes.len(),
        })
    }

    fn event(
        &self,
        status: EventStatus,
        reason: Option<&'static str>,
        serial: Option<u64>,
        policy: Option<PolicyRef>,
        embedded: &PolicyRef,
    ) -> BundleEvent {
        let active = match &self.current {
            Some(current) => current.policy_ref.clone(),
            None => embedded.clone(),
        };
        BundleEvent {
            status,
            reason,
            serial,
            policy,
            active,
        }
    }
}

/// What an event says of the bundle read: why it was refused (if it was), its serial, its
/// policy.
struct Read {
    reason: Option<&'static str>,
    serial: Option<u64>,
    policy: Option<PolicyRef>,
}

impl Read {
    fn none() -> Self {
        Read {
            reason: None,
            serial: None,
            policy: None,
        }
    }

    fn because(reason: &'static str, serial: Option<u64>) -> Self {
        Read {
            reason: Some(reason),
            serial,
            policy: None,
        }
    }
}

/// The event as one log line: `{"v":1,"ts":..,"event":"policy_bundle",..}`. It has no
/// `decision_id`, so log readers tell it from decision lines.
#[derive(Clone, Debug, Serialize)]
pub struct BundleEventLine<'a> {
    /// The log schema version.
    pub v: u32,
    /// When the read ended (RFC 3339, milliseconds).
    pub ts: String,
    /// Always `policy_bundle`.
    pub event: &'static str,
    /// The event.
    #[serde(flatten)]
    pub body: &'a BundleEvent,
}

impl BundleEvent {
    /// This event as a log line at `now_ms`.
    pub fn line(&self, now_ms: u64) -> BundleEventLine<'_> {
        BundleEventLine {
            v: egress_policy_engine::LOG_SCHEMA_VERSION,
            ts: crate::time::rfc3339_millis(now_ms),
            event: "policy_bundle",
            body: self,
        }
    }
}

/// How a judged bundle is remembered: its claimed serial and its length.
fn bundle_key(serial: Option<u64>, len: usize) -> String {
    match serial {
        Some(serial) => format!("bundle:{serial}:{len}"),
        None => format!("bundle:none:{len}"),
    }
}
