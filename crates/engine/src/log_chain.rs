//! What makes each line the Worker writes part of its isolate's chain (log schema 2): the
//! isolate, the line's sequence number, and a chain value binding the line to every line the
//! isolate wrote before it. The Worker seals lines ([`Chain::seal`]); `audit` and `replay`
//! verify them ([`chain_value`]): a line deleted, edited or inserted is found, and with a key
//! the log sink never holds (`EGRESS_LOG_KEY`) no line can be forged either.
//!
//! The chain value of a line is `HMAC-SHA256(key, previous || canonical)` (`chain_alg`
//! `hmac-sha256`), or without a key `SHA-256(previous || canonical)` (`sha256`: it shows loss
//! and accidental damage, not forgery), where `previous` is the chain value of the isolate's
//! previous line (32 zero bytes before its first) and `canonical` the line as JSON without
//! its `chain` key, object keys sorted, no white space (how `serde_json` writes a `Value`):
//! a verifier recomputes it from the line as any sink delivers it, whatever order or spacing
//! the sink gave the keys.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::digest::Update;
use sha2::{Digest, Sha256};

/// The engine's version, named in every line (`engine`).
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How a line's chain value is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChainAlg {
    /// Keyed with `EGRESS_LOG_KEY`: lines cannot be forged without the key.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// No key: loss, edits and reordering show; forgery does not.
    #[serde(rename = "sha256")]
    Sha256,
}

/// The chain fields of a line (absent from lines of schema 1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trail {
    /// The Worker's version (its version metadata binding's id), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// The engine's version ([`ENGINE_VERSION`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The isolate that wrote the line: 16 lower-case hex digits, random per isolate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolate: Option<String>,
    /// The line's number among its isolate's lines, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// How `chain` is computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_alg: Option<ChainAlg>,
    /// The line's chain value, 64 lower-case hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
}

/// The chain value of `line` (any JSON object; its `chain` key is left out) after `previous`.
pub fn chain_value(previous: &[u8; 32], line: &serde_json::Value, key: Option<&[u8]>) -> [u8; 32] {
    let mut canonical = line.clone();
    if let Some(object) = canonical.as_object_mut() {
        object.remove("chain");
    }
    // A `Value`'s object keys are sorted; plain data cannot fail to serialise.
    let text = serde_json::to_vec(&canonical).unwrap_or_default();
    hmac_sha256(key, |hash| {
        hash.update(previous);
        hash.update(&text);
    })
}

/// HMAC-SHA256 (RFC 2104) with `key`, or without one SHA-256, of what `feed` hashes.
fn hmac_sha256(key: Option<&[u8]>, feed: impl FnOnce(&mut dyn Update)) -> [u8; 32] {
    let Some(key) = key else {
        let mut hash = Sha256::new();
        feed(&mut hash);
        return hash.finalize().into();
    };
    // HMAC takes a key of any length (a longer one is hashed first): this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    feed(&mut mac);
    mac.finalize().into_bytes().into()
}

/// Hashes `json` (compact, as `serde_json` writes it) with the keys of every object sorted:
/// the text `serde_json` writes for the same line as a `Value`, without building one or a
/// second text. Keys are compared as written: a line's keys are its field names, never
/// escaped.
fn hash_sorted(json: &[u8], hash: &mut dyn Update) {
    let part = |from: usize, to: usize| json.get(from..to).unwrap_or_default();
    let object = json.first() == Some(&b'{');
    // Only objects are reordered: a value holding none is written as it is.
    if !object && (json.first() != Some(&b'[') || !json.contains(&b'{')) {
        return hash.update(json);
    }
    // The members (or items) as (the key's first 8 bytes as a number, key, start, start of
    // value, end): ordered by that number, by the whole key only where it ties (keys hold no
    // NUL, so a short key padded with zeros sorts before the longer ones it begins).
    let mut parts = Vec::with_capacity(if object { 32 } else { 4 });
    let mut at = 1;
    while at < json.len().saturating_sub(1) {
        let value = if object { string_end(json, at) + 1 } else { at };
        let end = value_end(json, value);
        let key = part(at + 1, value.saturating_sub(2));
        let mut first = [0; 8];
        first.iter_mut().zip(key).for_each(|(to, from)| *to = *from);
        parts.push((u64::from_be_bytes(first), key, at, value, end));
        at = end + 1;
    }
    if object {
        parts.sort_unstable_by_key(|&(first, key, ..)| (first, key));
    }
    hash.update(if object { b"{" } else { b"[" });
    for (n, &(.., at, value, end)) in parts.iter().enumerate() {
        if n > 0 {
            hash.update(b",");
        }
        // An object member is its key and colon as they are, then its value sorted.
        hash.update(part(at, value));
        hash_sorted(part(value, end), hash);
    }
    hash.update(if object { b"}" } else { b"]" });
}

/// The index just past the JSON string opening at `at`.
fn string_end(json: &[u8], at: usize) -> usize {
    let mut at = at + 1;
    while let Some(special) = json
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == b'"' || b == b'\\'))
    {
        at += special;
        if json.get(at) == Some(&b'"') {
            return at + 1;
        }
        at += 2;
    }
    json.len()
}

/// The index just past the JSON value (or object member) starting at `at`.
fn value_end(json: &[u8], mut at: usize) -> usize {
    let mut depth = 0usize;
    while let Some(&byte) = json.get(at) {
        match byte {
            b'"' => {
                at = string_end(json, at);
                continue;
            }
            b',' | b'}' | b']' if depth == 0 => break,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            _ => {}
        }
        at += 1;
    }
    at
}

/// An isolate's chain: what it seals its next line with.
#[derive(Clone, Debug)]
pub struct Chain {
    isolate: String,
    worker: Option<String>,
    key: Option<Vec<u8>>,
    seq: u64,
    previous: [u8; 32],
}

impl Chain {
    /// A new chain for the isolate `isolate` (its random id), of the Worker version `worker`,
    /// keyed with `key` when the Worker has one.
    pub fn new(isolate: String, worker: Option<String>, key: Option<Vec<u8>>) -> Chain {
        Chain {
            isolate,
            worker,
            key,
            seq: 0,
            previous: [0; 32],
        }
    }

    /// Fills `trail` (the chain fields of `line`) for the isolate's next line, and its chain
    /// value over the whole line; returns the line's JSON text, chain value included.
    pub fn seal<T: Serialize>(
        &mut self,
        line: &mut T,
        trail: impl Fn(&mut T) -> &mut Trail,
    ) -> String {
        self.seq = self.seq.saturating_add(1);
        *trail(line) = Trail {
            worker: self.worker.clone(),
            engine: Some(ENGINE_VERSION.to_owned()),
            isolate: Some(self.isolate.clone()),
            seq: Some(self.seq),
            chain_alg: Some(match self.key {
                Some(_) => ChainAlg::HmacSha256,
                None => ChainAlg::Sha256,
            }),
            chain: None,
        };
        // Written once: the chain's canonical text is this text with its keys sorted, and
        // `chain`, the last field, goes in place of the closing brace. Plain data cannot fail
        // to serialise; sized for a usual line, so it is not grown as it is written.
        let mut text = Vec::with_capacity(1024);
        let _written = serde_json::to_writer(&mut text, &*line);
        self.previous = hmac_sha256(self.key.as_deref(), |hash| {
            hash.update(&self.previous);
            hash_sorted(&text, hash);
        });
        let chain = hex(&self.previous);
        text.pop();
        for part in [",\"chain\":\"", &chain, "\"}"] {
            text.extend_from_slice(part.as_bytes());
        }
        trail(line).chain = Some(chain);
        String::from_utf8(text).unwrap_or_default()
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test cases 1 and 6 (a key longer than the block).
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        assert_eq!(
            hex(&hmac_sha256(Some(&[0x0b; 20]), |hash| {
                hash.update(b"Hi ");
                hash.update(b"There");
            })),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(Some(&[0xaa; 131]), |hash| {
                hash.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
            })),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    /// What the chain hashes: the line's text with keys sorted, byte for byte the text of
    /// its `Value`, whatever its strings hold.
    #[test]
    fn sorted_text_is_the_text_of_the_value() {
        let line = r#"{"v":2,"z":[{"b":1,"a":"x,\\\"}{]["},[]],"policy":{"sha256":"ab","serial":7,"name":null,"source":"bundle"},"a_b":"é\u0001","a":{},"path_redacted":false,"path_red":1,"path":"/","chain_al":0,"tags":["t\"","s"],"n":-1.5,"t":true}"#;
        let text = serde_json::to_string(&Line {
            v: 1,
            text: "{\",\"a\":[}".into(),
            trail: Trail::default(),
        })
        .unwrap();
        for text in [line.to_owned(), text] {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                hmac_sha256(None, |hash| hash_sorted(text.as_bytes(), hash)),
                <[u8; 32]>::from(Sha256::digest(value.to_string()))
            );
        }
    }

    #[derive(Serialize)]
    struct Line {
        v: u32,
        text: String,
        #[serde(flatten)]
        trail: Trail,
    }

    #[test]
    fn a_sealed_line_verifies_and_any_change_does_not() {
        let mut chain = Chain::new("00112233aabbccdd".into(), None, Some(b"key".to_vec()));
        let mut lines = Vec::new();
        for text in ["one", "two", "three"] {
            let mut line = Line {
                v: 2,
                text: text.into(),
                trail: Trail::default(),
            };
            let text = chain.seal(&mut line, |l| &mut l.trail);
            // The text written is the sealed line as serde writes it.
            assert_eq!(text, serde_json::to_string(&line).unwrap());
            lines.push(serde_json::from_str::<serde_json::Value>(&text).unwrap());
        }
        assert_eq!(lines[2]["seq"], 3);
        assert_eq!(lines[0]["chain_alg"], "hmac-sha256");
        let verify = |lines: &[serde_json::Value], key: &[u8]| {
            let mut previous = [0u8; 32];
            lines.iter().all(|line| {
                let value = chain_value(&previous, line, Some(key));
                previous = value;
                line["chain"] == hex(&value)
            })
        };
        assert!(verify(&lines, b"key"));
        assert!(!verify(&lines, b"other key"));
        let mut edited = lines.clone();
        edited[1]["text"] = "2".into();
        assert!(!verify(&edited, b"key"));
        assert!(!verify(&[lines[0].clone(), lines[2].clone()], b"key"));
        // Key order and spacing as a sink delivers them do not matter.
        let reordered: serde_json::Value =
            serde_json::from_str(&lines[0].to_string().replace(',', ", ")).unwrap();
        assert!(verify(&[reordered], b"key"));
    }
}
