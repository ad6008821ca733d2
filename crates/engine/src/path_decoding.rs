//! How servers turn a path's escapes and characters into text: the decoding and folding
//! steps of [`crate::path_readings`].
//!
//! Decoding is `%XX`, and on IIS also `%uXXXX` (a UTF-16 code unit); a round decodes every
//! escape once, and an escape may spell another (`%252e` is `%2e` after one round). The bytes
//! are then read as UTF-8 strictly (anything invalid is U+FFFD) or leniently, as old decoders
//! did, with overlong forms of ASCII read as that character (`%C0%AF` is `/`). Folding is
//! what a server that normalises compatibility characters reads: `ａ` (U+FF41) as `a`.

use icu_normalizer::uts46::Uts46MapperBorrowed;

/// Percent-decoding rounds whose results are readings of their own; the path decoded until
/// nothing changes is one more, however many rounds that takes.
pub const MAX_DECODE_ROUNDS: usize = 4;

/// Characters NFKC reads as dots that UTS 46 disallows (so the mapper leaves them): the dot
/// leaders and the small and vertical full stops and ellipses.
const DOTS: [(char, &str); 6] = [
    ('\u{2024}', "."),
    ('\u{2025}', ".."),
    ('\u{2026}', "..."),
    ('\u{FE19}', "..."),
    ('\u{FE30}', ".."),
    ('\u{FE52}', "."),
];

/// The path decoded once, twice, ... (at most [`MAX_DECODE_ROUNDS`] times, while a round
/// changes it) and until nothing changes, with and without `%uXXXX`, each read as UTF-8
/// strictly and leniently, cut at the first NUL.
pub(crate) fn decodings(path: &str, out: &mut Vec<String>) {
    for iis in [false, true] {
        let mut bytes = path.as_bytes().to_vec();
        for _ in 0..MAX_DECODE_ROUNDS {
            let next = decode_round(&bytes, iis);
            if next == bytes {
                break;
            }
            bytes = next;
            push_texts(&bytes, out);
        }
        let fully = decode_fully(&bytes, iis);
        push_texts(&fully, out);
        // A `%u` never goes away once there (neither byte is part of a `%XX`), so without
        // one in the result no round met one, and `%uXXXX` changes nothing.
        if !fully.windows(2).any(|w| w.eq_ignore_ascii_case(b"%u")) {
            break;
        }
    }
}

/// Non-ASCII characters folded to what they normalise to: the UTS 46 mapping (NFKC with case
/// folded, which the engine already carries for host names), or [`DOTS`]; characters the
/// mapping disallows stay.
pub(crate) fn fold(path: &str, out: &mut Vec<String>) {
    if path.is_ascii() {
        return;
    }
    let mapper = Uts46MapperBorrowed::new();
    let mut folded = String::with_capacity(path.len());
    for c in path.chars() {
        let start = folded.len();
        if let Some((_, dots)) = DOTS.iter().find(|(d, _)| *d == c) {
            folded.push_str(dots);
        } else if c.is_ascii() || c == char::REPLACEMENT_CHARACTER {
            folded.push(c);
        } else {
            folded.extend(mapper.map_normalize(std::iter::once(c)));
            if folded
                .get(start..)
                .is_none_or(|mapped| mapped.contains(char::REPLACEMENT_CHARACTER))
            {
                folded.truncate(start);
                folded.push(c);
            }
        }
    }
    if folded != path {
        out.push(folded);
    }
}

/// Cut at the first NUL, read strictly and leniently.
fn push_texts(bytes: &[u8], out: &mut Vec<String>) {
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
    out.push(String::from_utf8_lossy(bytes).into_owned());
    if std::str::from_utf8(bytes).is_err() {
        out.push(lenient_utf8(bytes));
    }
}

/// One round: every escape in `bytes` decoded once.
fn decode_round(bytes: &[u8], iis: bool) -> Vec<u8> {
    rewrite(bytes, |rest, out| decode_escape(rest, iis, out))
}

/// `bytes` with each prefix that `replace` recognises replaced: it appends the replacement to
/// `out` and says how many bytes it read; other bytes are copied.
fn rewrite(bytes: &[u8], replace: impl Fn(&[u8], &mut Vec<u8>) -> Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        match replace(rest, &mut out) {
            Some(len) => rest = rest.get(len..).unwrap_or_default(),
            None => {
                out.push(b);
                rest = tail;
            }
        }
    }
    out
}

/// Rounds until nothing changes, in one pass: an escape can only end at the byte just
/// written, and what it decodes to may complete an escape before it. Escapes never overlap
/// (a `%` is never a hex digit nor `u`), so the result does not depend on the order in which
/// escapes are decoded: it is what repeated rounds reach, in linear time.
fn decode_fully(bytes: &[u8], iis: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut decoded = Vec::with_capacity(4);
    for &b in bytes {
        out.push(b);
        while out.last().is_some_and(u8::is_ascii_hexdigit) {
            let end = out.len();
            let Some(start) = [end.checked_sub(3), end.checked_sub(6).filter(|_| iis)]
                .into_iter()
                .flatten()
                .find(|&start| {
                    escape_len(out.get(start..).unwrap_or_default(), iis) == Some(end - start)
                })
            else {
                break;
            };
            decoded.clear();
            decode_escape(out.get(start..).unwrap_or_default(), iis, &mut decoded);
            out.truncate(start);
            out.extend_from_slice(&decoded);
        }
    }
    out
}

/// The length of the escape `bytes` starts with: `%XX`, or `%uXXXX` when `iis`.
fn escape_len(bytes: &[u8], iis: bool) -> Option<usize> {
    let hex = |range| {
        bytes
            .get(range)
            .is_some_and(|h: &[u8]| h.iter().all(u8::is_ascii_hexdigit))
    };
    match bytes {
        [b'%', b'u' | b'U', ..] if iis && hex(2..6) => Some(6),
        [b'%', ..] if hex(1..3) => Some(3),
        _ => None,
    }
}

/// The byte the `%XX` escape `bytes` starts with stands for (the engine's one `%XX` reader).
pub(crate) fn percent_byte(bytes: &[u8]) -> Option<u8> {
    let [b'%', hi, lo, ..] = *bytes else {
        return None;
    };
    let digit = |c: u8| char::from(c).to_digit(16);
    u8::try_from(digit(hi)? * 16 + digit(lo)?).ok()
}

/// Decodes the escape `bytes` starts with into `out`; returns its length.
fn decode_escape(bytes: &[u8], iis: bool, out: &mut Vec<u8>) -> Option<usize> {
    if let Some(byte) = percent_byte(bytes) {
        out.push(byte);
        return Some(3);
    }
    let digits = bytes
        .get(2..6)
        .filter(|_| escape_len(bytes, iis) == Some(6))?;
    let value = digits
        .iter()
        .try_fold(0, |v, d| Some(v * 16 + char::from(*d).to_digit(16)?))?;
    let c = char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER);
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    Some(6)
}

/// UTF-8 as lenient decoders read it: an overlong form of an ASCII character is that
/// character; anything else invalid is U+FFFD. (The lead bytes of overlong forms are never
/// part of a valid sequence, so replacing them first cannot break one.)
fn lenient_utf8(bytes: &[u8]) -> String {
    let fixed = rewrite(bytes, |rest, out| {
        let (ascii, len) = overlong_ascii(rest)?;
        out.push(ascii);
        Some(len)
    });
    String::from_utf8_lossy(&fixed).into_owned()
}

/// An overlong two-, three- or four-byte encoding of an ASCII character, and its length.
fn overlong_ascii(bytes: &[u8]) -> Option<(u8, usize)> {
    let (&lead, tail) = bytes.split_first()?;
    let len = match lead {
        0xC0..=0xC1 => 2,
        0xE0 => 3,
        0xF0 => 4,
        _ => return None,
    };
    let continuation = tail.get(..len - 1)?;
    if !continuation.iter().all(|b| b & 0xC0 == 0x80) {
        return None;
    }
    // The lead byte's payload bits: 5, 4 or 3 of them.
    let value = continuation
        .iter()
        .fold(u32::from(lead & (0x7F >> len)), |v, b| {
            (v << 6) | u32::from(b & 0x3F)
        });
    let ascii = u8::try_from(value).ok().filter(u8::is_ascii)?;
    Some((ascii, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn until_stable(bytes: &[u8], iis: bool) -> Vec<u8> {
        let mut current = bytes.to_vec();
        loop {
            let next = decode_round(&current, iis);
            if next == current {
                return current;
            }
            current = next;
        }
    }

    fn folded(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        fold(text, &mut out);
        out
    }

    proptest! {
        #[test]
        fn one_pass_decoding_is_what_rounds_reach(text in "[%25uU0aFe/]{0,24}") {
            for iis in [false, true] {
                prop_assert_eq!(decode_fully(text.as_bytes(), iis), until_stable(text.as_bytes(), iis));
            }
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(decode_round(b"%u0061%U002F%2F", true), b"a//");
        assert_eq!(decode_round(b"%u0061", false), b"%u0061");
        assert_eq!(decode_round(b"%uD800", true), "\u{FFFD}".as_bytes());
        assert_eq!(decode_round(b"%2%u", true), b"%2%u");
        assert_eq!(decode_fully(b"%252525252e", false), b".");
        assert_eq!(decode_fully(b"%2%35%u0032e", true), b".");
    }

    #[test]
    fn overlong_utf8_reads_as_ascii_when_lenient() {
        assert_eq!(lenient_utf8(&[b'a', 0xC0, 0xAF, b'b']), "a/b");
        assert_eq!(
            lenient_utf8(&[0xE0, 0x80, 0xAE, 0xF0, 0x80, 0x80, 0xAF]),
            "./"
        );
        assert_eq!(lenient_utf8(&[0xC0, b'A', 0xC3, 0xA9]), "\u{FFFD}Aé");
        // Overlong forms of non-ASCII characters are not read.
        assert_eq!(
            lenient_utf8(&[0xE0, 0x83, 0xA9]),
            "\u{FFFD}\u{FFFD}\u{FFFD}"
        );
    }

    #[test]
    fn compatibility_forms_fold_to_ascii() {
        assert_eq!(folded("/ａdmin/．．/＼"), ["/admin/../\\"]);
        assert_eq!(folded("/𝐚/‥/﹒"), ["/a/../."]);
        // Unmapped and disallowed characters stay; ASCII keeps its case.
        assert!(folded("/Café∕\u{FFFD}").is_empty());
        assert!(folded("/ascii").is_empty());
    }
}
