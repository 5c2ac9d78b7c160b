//! Ids derived from content, for input that carries none: a rerun of the same input derives the
//! same ids, so idempotency makes it add nothing. This is a stored contract (the ids end up in
//! records); `docs/format.md` states it, and the tests pin known answers.
//!
//! `derived_id(kind, content)` is the UUIDv8 (RFC 9562) made of the first 16 bytes of
//! `SHA-256("coopledger/" ‖ kind ‖ "/v1" ‖ 0x00 ‖ content)`, with the version nibble set to 8 and
//! the variant bits to `10`.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The id derived from `content` in the namespace `kind` (see the module documentation).
#[must_use]
pub fn derived_id(kind: &str, content: &[u8]) -> Uuid {
    let digest = Sha256::new()
        .chain_update(b"coopledger/")
        .chain_update(kind.as_bytes())
        .chain_update(b"/v1\0")
        .chain_update(content)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The event id `coopledger import` gives a line without one: [`derived_id`] of kind `import`
/// over the line's text without its trailing white space (a CRLF file and an LF file agree).
#[must_use]
pub fn import_line_id(line: &str) -> Uuid {
    derived_id("import", line.trim_end().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_the_documented_digest_as_a_uuid_v8() {
        let line = r#"{"type":"CountryJoined","recorded_by":"staff.vienna","country":"CV","joined_on":"2016-07-21","participation":"beneficiary"}"#;
        let id = import_line_id(line);
        assert_eq!(id.get_version_num(), 8);
        assert_eq!(
            id,
            import_line_id(&format!("{line}\r\n")),
            "trailing space is not content"
        );
        let digest =
            Sha256::digest([b"coopledger/import/v1\0".as_slice(), line.as_bytes()].concat());
        let mut expected = [0u8; 16];
        expected.copy_from_slice(&digest[..16]);
        expected[6] = (expected[6] & 0x0f) | 0x80;
        expected[8] = (expected[8] & 0x3f) | 0x80;
        assert_eq!(id.as_bytes(), &expected);
        // A known answer: this value is in users' ledgers and must never change.
        assert_eq!(id.to_string(), KNOWN);
        assert_ne!(
            derived_id("csv", line.as_bytes()),
            id,
            "kinds are separate namespaces"
        );
    }

    const KNOWN: &str = "d6fd445e-f8db-86a2-9eed-a908c5452f2d";
}
