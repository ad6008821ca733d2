//! Decision ids: random (version 4) UUIDs, so a 403 body can be matched to its log line.

/// Formats 16 random bytes as a version 4, variant 1 UUID (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-...`).
pub fn uuid_v4(bytes: [u8; 16]) -> String {
    // The version nibble (the 13th hex digit) is 4, the variant bits (of the 17th) are 10.
    let bits = u128::from_be_bytes(bytes) & !(0xf000 << 64 | 0xc000 << 48);
    let bytes = (bits | 0x4000 << 64 | 0x8000 << 48).to_be_bytes();
    // A nibble is always a hex digit; the fallback is unreachable.
    let hex = |nibble: u8| char::from_digit(u32::from(nibble & 0x0f), 16).unwrap_or('0');
    let mut out = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        // By hand rather than `format!` per byte: this runs once per request.
        out.push(hex(byte >> 4));
        out.push(hex(*byte));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_version_and_variant() {
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = uuid_v4(*b"0123456789abcdef");
        assert_eq!(id.len(), 36);
        assert_eq!(id, "30313233-3435-4637-b839-616263646566");
    }
}
