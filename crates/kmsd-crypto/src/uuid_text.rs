//! UUID text <-> 16 raw bytes, hyphenated form only (`8-4-4-4-12` hex digits).

use crate::CryptoError;

/// Parse hyphenated UUID text (either hex case) into 16 bytes.
pub(crate) fn parse(s: &str) -> Result<[u8; 16], CryptoError> {
    let bad = || CryptoError::InvalidKeyId("key id must be a UUID (8-4-4-4-12 hex digits)".into());
    let b = s.as_bytes();
    if b.len() != 36 {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    let mut n = 0usize;
    let mut i = 0usize;
    while i < 36 {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b[i] != b'-' {
                return Err(bad());
            }
            i += 1;
            continue;
        }
        let hi = hex_val(b[i]).ok_or_else(bad)?;
        let lo = hex_val(b[i + 1]).ok_or_else(bad)?;
        out[n] = (hi << 4) | lo;
        n += 1;
        i += 2;
    }
    Ok(out)
}

/// Format 16 bytes as lowercase hyphenated UUID text.
pub(crate) fn format(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b'-'; 36];
    let mut at = 0;
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1; // the '-' already there
        }
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 0x0f)];
        at += 2;
    }
    // ASCII by construction, so this never falls back.
    std::str::from_utf8(&text)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// 32 hex digits (a multi-Region key id without its `mrk-` prefix) as 16 bytes.
pub(crate) fn parse_hex32(s: &str) -> Result<[u8; 16], CryptoError> {
    let bad =
        || CryptoError::InvalidKeyId("multi-Region key id must be mrk- and 32 hex digits".into());
    let b = s.as_bytes();
    if b.len() != 32 {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (
            pair.first().copied().and_then(hex_val),
            pair.get(1).copied().and_then(hex_val),
        ) else {
            return Err(bad());
        };
        *o = (hi << 4) | lo;
    }
    Ok(out)
}

/// 16 bytes as 32 lower-case hex digits.
pub(crate) fn format_hex32(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(32);
    for byte in b {
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    s
}

pub(crate) fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_matches_uuid_layout() {
        let mut b = [0u8; 16];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(37).wrapping_add(0xa5);
        }
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let want = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        assert_eq!(format(&b), want);
        assert_eq!(format(&[0xff; 16]), "ffffffff-ffff-ffff-ffff-ffffffffffff");
    }

    #[test]
    fn round_trip_and_rejects() {
        let t = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let b = parse(t).unwrap_or([0; 16]);
        assert_eq!(format(&b), t);
        assert_eq!(format(&parse(&t.to_uppercase()).unwrap_or([0; 16])), t);
        for bad in [
            "",
            "1234abcd12ab34cd56ef1234567890ab",
            "1234abcd-12ab-34cd-56ef-1234567890a",
            "1234abcd-12ab-34cd-56ef-1234567890abc",
            "1234abcd-12ab-34cd-56ef_1234567890ab",
            "1234abcg-12ab-34cd-56ef-1234567890ab",
            "alias/foo",
            "1234abcd-12ab-34cd-56ef-1234567890é",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
