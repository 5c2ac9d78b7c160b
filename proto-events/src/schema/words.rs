//! The description in words: `coopledger schema [TYPE]` and the generated tables of the domain
//! reference (`docs/domain.md`, between the `generated` markers; a test keeps them equal).

use std::fmt::Write as _;

use super::{Column, EventSchema, Shape, columns, envelope, events};
use crate::events::EventType;
use crate::stream::MAX_PARTNER_SLUG;
use crate::validate::{MAX_LIST, Rule, RuleKind};

/// What a leaf holds, in words (lists of allowed values in full).
#[must_use]
pub fn shape(shape: &Shape) -> String {
    match shape {
        Shape::Text { max } => format!("text, 1–{max} characters"),
        Shape::Identifier { max } => {
            format!("text, 1–{max} characters, no invisible characters")
        }
        Shape::Slug => format!("slug: 1–{MAX_PARTNER_SLUG} of a–z, 0–9 and -, not starting with -"),
        Shape::Id => "UUID (not the nil UUID)".into(),
        Shape::Date => "date, YYYY-MM-DD, from 2000-01-01".into(),
        Shape::Country => "ISO 3166-1 alpha-2 country code, e.g. GH".into(),
        Shape::Currency => "ISO 4217 currency code, e.g. EUR".into(),
        Shape::Countries => {
            format!("list of distinct country codes (at most {MAX_LIST}; GH;NG in a spreadsheet)")
        }
        Shape::Choice(values) => match values.as_slice() {
            [only] => format!("`{only}`"),
            _ => format!("one of {}", code_list(values)),
        },
        Shape::Choices(values) => {
            format!("list of distinct values, each one of {}", code_list(values))
        }
        Shape::Integer { min, max } => format!("whole number, {min}–{max}"),
        Shape::Positive => "number greater than 0".into(),
        Shape::ExpectedVersion => {
            "`any` (the default), `new` (the stream must not exist) or a stream version ≥ 1".into()
        }
        Shape::Object(_) => "object".into(),
        Shape::Venue(_) => "a place (city and country) or `virtual`".into(),
        Shape::Tagged(_) => "object tagged by kind".into(),
        Shape::Replacement => {
            "the full payload of the target's type: its fields, without envelope fields and type"
                .into()
        }
    }
}

fn code_list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn required(column: &Column) -> String {
    let parent = column.path.rsplit_once('.').map_or("", |(p, _)| p);
    match (column.required, column.in_optional, column.kinds.as_slice()) {
        (true, false, []) => "required".into(),
        (true, true, []) => format!("required with {parent}"),
        (true, _, kinds) => format!("required for {}", kinds.join(", ")),
        (false, _, []) => "optional".into(),
        (false, _, kinds) => format!("optional, for {}", kinds.join(", ")),
    }
}

/// Two lines per leaf field: `  path  required: what`, then its meaning below.
fn field_lines(out: &mut String, fields: &[Column]) {
    let width = fields.iter().map(|c| c.path.len()).max().unwrap_or(0);
    for c in fields {
        let need = required(c);
        let _ = writeln!(
            out,
            "  {:width$}  {need}: {}\n  {:width$}  {}",
            c.path,
            shape(&c.shape).replace('`', ""),
            "",
            c.about
        );
    }
}

/// `coopledger schema TYPE`: the type, its stream, and every field in words.
#[must_use]
pub fn describe(schema: &EventSchema) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {} (stream {})\n",
        schema.event_type, schema.about, schema.stream
    );
    let _ = writeln!(out, "Fields:");
    field_lines(&mut out, &columns(&schema.fields));
    let _ = writeln!(out, "\nEnvelope fields (every type):");
    field_lines(&mut out, &columns(&envelope(schema.event_type)[1..]));
    if schema.fields.iter().any(|f| f.name == "venue") {
        let _ = writeln!(
            out,
            "\nA virtual venue is the text \"virtual\" (in a spreadsheet: virtual in venue.city, venue.country empty)."
        );
    }
    out
}

/// `coopledger schema`: every type with its stream, and where to read more.
#[must_use]
pub fn overview() -> String {
    let mut out = String::from("Event types (coopledger schema TYPE for the fields of one):\n\n");
    let all = events();
    let width = all
        .iter()
        .map(|s| s.event_type.name().len())
        .max()
        .unwrap_or(0);
    for s in &all {
        let _ = writeln!(
            out,
            "  {:width$}  {} (stream {})",
            s.event_type.name(),
            s.about,
            s.stream
        );
    }
    out.push_str(
        "\ncoopledger schema --json prints the JSON Schema (2020-12) of every type; \
         coopledger template TYPE writes a spreadsheet to fill in.\n",
    );
    out
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

fn markdown_fields(out: &mut String, fields: &[Column]) {
    out.push_str("| field | required | value | meaning |\n|---|---|---|---|\n");
    for c in fields {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            c.path,
            required(c),
            escape(&shape(&c.shape)),
            escape(c.about)
        );
    }
}

/// The generated part of the domain reference: the envelope, every event type with its fields,
/// and every rule with its stable name.
#[must_use]
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str("### Envelope fields, on every object\n\n");
    markdown_fields(
        &mut out,
        &columns(&envelope(EventType::PartnerRegistered)[1..]),
    );
    out.push_str(
        "\n`type` is the event type, one of the names below (PascalCase). Nested fields are \
         written as paths (`venue.city`, `participants.total`, `milestone.kind`): in JSON they \
         are objects, in a spreadsheet they are columns.\n\n### Event types\n\n\
         | type | stream | what it records |\n|---|---|---|\n",
    );
    let all = events();
    for s in &all {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} |",
            s.event_type.name(),
            s.stream,
            escape(s.about)
        );
    }
    for s in &all {
        let _ = writeln!(out, "\n#### `{}`\n", s.event_type.name());
        markdown_fields(&mut out, &columns(&s.fields));
    }
    out.push_str(
        "\n### Rules and their stable names\n\nEvery error names one of these rules. \
         Structural problems stop the reading of an event; intrinsic rules are the payload's \
         own; contextual rules are checked by the ledger against what it holds.\n\n\
         | rule | kind | meaning |\n|---|---|---|\n",
    );
    for kind in [
        RuleKind::Structural,
        RuleKind::Intrinsic,
        RuleKind::Contextual,
        RuleKind::Limit,
    ] {
        for rule in Rule::ALL.iter().filter(|r| r.kind() == kind) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                rule.as_str(),
                kind.as_str(),
                escape(&rule.meaning().replace('\n', " "))
            );
        }
    }
    out
}
