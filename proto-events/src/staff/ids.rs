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

/// The content of a spreadsheet row that its derived ids are computed from: the JSON text of an
/// object of the row's non-empty cells, `{"header": "cell text", …}`, keys in byte order, cells
/// trimmed, as `serde_json` writes it (no white space). It leaves out `event_id`, `recorded_by`
/// (the same sheet imported by someone else is the same events) and the entity id being
/// derived, and has `type` even when it came from `--type`.
#[must_use]
pub fn sheet_row_content(cells: &std::collections::BTreeMap<String, String>) -> String {
    serde_json::to_string(cells).unwrap_or_default()
}

/// The event id of a spreadsheet row without one: [`derived_id`] of kind `csv` over
/// [`sheet_row_content`].
#[must_use]
pub fn sheet_event_id(content: &str) -> Uuid {
    derived_id("csv", content.as_bytes())
}

/// The entity id (`meeting_id`, `activity_id`, `case_id`) of a spreadsheet row that starts an
/// entity without naming it: [`derived_id`] of kind `csv-entity` over [`sheet_row_content`].
#[must_use]
pub fn sheet_entity_id(content: &str) -> Uuid {
    derived_id("csv-entity", content.as_bytes())
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

    #[test]
    fn sheet_row_ids_are_the_documented_digests_of_the_documented_content() {
        let cells: std::collections::BTreeMap<String, String> = [
            ("type", "CountryJoined"),
            ("country", "CV"),
            ("joined_on", "2016-07-21"),
            ("participation", "beneficiary"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let content = sheet_row_content(&cells);
        assert_eq!(
            content,
            r#"{"country":"CV","joined_on":"2016-07-21","participation":"beneficiary","type":"CountryJoined"}"#
        );
        // Known answers: these values are in users' ledgers and must never change.
        assert_eq!(
            sheet_event_id(&content).to_string(),
            "38b10cd6-7048-817b-b1da-e149a5e9e624"
        );
        assert_eq!(
            sheet_entity_id(&content).to_string(),
            "4ffae2a2-1e86-82c8-a376-9a28b253f655"
        );
    }
}
