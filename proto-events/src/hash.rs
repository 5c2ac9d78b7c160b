//! The SHA-256 digests of the ledger (record hashes, Merkle nodes) and their one text form:
//! 64 hex digits, written lower case, read in either case.

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Lower-case hex of a hash.
#[must_use]
pub fn to_hex(hash: &Hash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in hash {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Parses exactly 64 hex digits (lower or upper case; nothing else, not even a sign).
#[must_use]
pub fn parse_hex(text: &str) -> Option<Hash> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let [hi, lo] = *pair else { return None };
        *slot = digit(hi)? << 4 | digit(lo)?;
    }
    Some(out)
}

/// `#[serde(with = "proto_events::hash::serde_hex")]`: a hash as 64 lower-case hex digits.
pub mod serde_hex {
    use super::{Hash, parse_hex, to_hex};
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Writes the hash as hex.
    ///
    /// # Errors
    /// As the serializer.
    pub fn serialize<S: Serializer>(hash: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(hash))
    }

    /// Reads a hash from hex.
    ///
    /// # Errors
    /// Unless the text is 64 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = String::deserialize(d)?;
        parse_hex(&text)
            .ok_or_else(|| de::Error::custom(format_args!("not a SHA-256 in hex: {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_anything_but_64_digits() {
        let hash: Hash = std::array::from_fn(|i| (i * 37) as u8);
        let text = to_hex(&hash);
        assert_eq!(text.len(), 64);
        assert_eq!(parse_hex(&text), Some(hash));
        assert_eq!(parse_hex(&text.to_uppercase()), Some(hash));
        assert_eq!(parse_hex(&text[1..]), None);
        assert_eq!(parse_hex(&format!("+{}", &text[1..])), None);
        assert_eq!(parse_hex(&format!("{}g", &text[..63])), None);
    }
}
