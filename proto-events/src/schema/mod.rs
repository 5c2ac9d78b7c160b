//! The one description of the staff form in code: every event type, its fields, which are
//! required, their shapes, allowed values and limits.
//!
//! Everything that shows the vocabulary to people or programs is built from here, never written
//! by hand: `coopledger schema` (words, [`words`]; JSON Schema 2020-12, [`json`]), the request
//! bodies of the OpenAPI document, the tables of `docs/domain.md` ([`words::markdown`]), the
//! columns of the spreadsheet templates ([`columns`]) and the dashboard's form. The allowed
//! values and limits are read from the types and constants the parser and the rules use, and
//! the tests check that the description and the parser agree field by field (an example of
//! every type parses; a required field left out is `missing_field`; an extra one is
//! `unknown_field`).
//!
//! - `mod.rs` (this file): the description ([`Shape`], [`Field`], [`EventSchema`],
//!   [`events`]) and its flattening into columns ([`columns`]);
//! - `examples.rs`: a realistic example of every type (the templates' example rows);
//! - `json.rs`: the description as JSON Schema 2020-12;
//! - `words.rs`: the description in words and as the domain reference's Markdown tables.

use crate::country::{CountryCode, CurrencyCode};
use crate::events::EventType;
use crate::validate::{
    MAX_NAME, MAX_PARTICIPANTS, MAX_REASON, MAX_RECORDED_BY, MAX_SOURCE, MAX_TITLE,
};
use crate::values::{
    ActivityKind, CaseOutcome, CaseType, Commodity, Institution, MeetingKind, Participation,
    ParticipationStatus, PartnerRole, Pillar, RetractionReason, forms,
};

mod examples;
pub mod json;
pub mod words;

pub use examples::example;

/// What a field holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A text of 1 to `max` characters (not only white space, no control characters).
    Text {
        /// The most characters.
        max: usize,
    },
    /// A text that identifies someone or something: as [`Shape::Text`], and without invisible
    /// format characters.
    Identifier {
        /// The most characters.
        max: usize,
    },
    /// A partner slug: 1–64 of `a-z`, `0-9` and `-`, not starting with `-`.
    Slug,
    /// A UUID naming something (not the nil UUID).
    Id,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An ISO 3166-1 alpha-2 country code.
    Country,
    /// An ISO 4217 currency code.
    Currency,
    /// A list of distinct country codes.
    Countries,
    /// One of the values.
    Choice(Vec<&'static str>),
    /// A list of distinct values, each one of these.
    Choices(Vec<&'static str>),
    /// A whole number in `min..=max`.
    Integer {
        /// The least.
        min: u64,
        /// The most.
        max: u64,
    },
    /// A number greater than 0.
    Positive,
    /// `"any"`, `"new"` or a stream version (an integer ≥ 1).
    ExpectedVersion,
    /// An object with these fields.
    Object(Vec<Field>),
    /// A place (an object with these fields) or the text `"virtual"`.
    Venue(Vec<Field>),
    /// An object tagged by `kind`: each kind with its own fields.
    Tagged(Vec<Variant>),
    /// The full payload of a fact (the target's type), without envelope fields and `type`.
    Replacement,
}

/// One field of an event or of a nested object.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Its name in the staff JSON form.
    pub name: &'static str,
    /// What it holds.
    pub shape: Shape,
    /// Whether it must be given.
    pub required: bool,
    /// What it means, in a few words.
    pub about: &'static str,
}

/// One kind of a tagged object (a case milestone).
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The value of `kind`.
    pub kind: &'static str,
    /// The fields of that kind (besides `kind`).
    pub fields: Vec<Field>,
}

/// One event type: its stream and its payload fields.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSchema {
    /// The type.
    pub event_type: EventType,
    /// What it records, in a few words.
    pub about: &'static str,
    /// The stream it goes to, e.g. `activity/<activity_id>`.
    pub stream: &'static str,
    /// The payload fields, in the order of the type's struct.
    pub fields: Vec<Field>,
}

impl EventSchema {
    /// The field naming the entity whose stream this type starts, when staff may leave it out
    /// of a spreadsheet row and let it be derived (`meeting_id`, `activity_id`, `case_id`).
    #[must_use]
    pub fn derivable_entity_id(&self) -> Option<&'static str> {
        match self.event_type {
            EventType::MeetingHeld => Some("meeting_id"),
            EventType::ActivityScheduled | EventType::ActivityDelivered => Some("activity_id"),
            EventType::CaseOpened => Some("case_id"),
            _ => None,
        }
    }

    /// The envelope fields followed by the payload fields: every field of the staff form.
    #[must_use]
    pub fn all_fields(&self) -> Vec<Field> {
        let mut all = envelope(self.event_type);
        all.extend(self.fields.iter().cloned());
        all
    }
}

fn field(name: &'static str, shape: Shape, about: &'static str) -> Field {
    Field {
        name,
        shape,
        required: true,
        about,
    }
}

fn optional(name: &'static str, shape: Shape, about: &'static str) -> Field {
    Field {
        required: false,
        ..field(name, shape, about)
    }
}

/// The snake_case names of an enum's variants, from the enum itself.
macro_rules! names {
    ($enum:ty) => {
        <$enum>::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<&'static str>>()
    };
}

/// The envelope fields of an event of type `event_type` (domain.md, "Envelope fields").
#[must_use]
pub fn envelope(event_type: EventType) -> Vec<Field> {
    vec![
        field(
            "type",
            Shape::Choice(vec![event_type.name()]),
            "the event type",
        ),
        optional(
            "event_id",
            Shape::Id,
            "identity and idempotency key; a UUIDv7 is generated when absent (scripts that retry set it)",
        ),
        field(
            "recorded_by",
            Shape::Identifier {
                max: MAX_RECORDED_BY,
            },
            "who records it (a staff identifier)",
        ),
        optional(
            "source",
            Shape::Text { max: MAX_SOURCE },
            "where the fact comes from (a URL or document reference)",
        ),
        optional(
            "expected_version",
            Shape::ExpectedVersion,
            "the stream version the append expects (optimistic concurrency)",
        ),
        optional(
            "correlation_id",
            Shape::Id,
            "the request or workflow the event belongs to",
        ),
        optional("causation_id", Shape::Id, "the event that caused this one"),
    ]
}

fn title() -> Field {
    field("title", Shape::Text { max: MAX_TITLE }, "title")
}

fn reason(about: &'static str) -> Field {
    field("reason", Shape::Text { max: MAX_REASON }, about)
}

fn venue() -> Field {
    field(
        "venue",
        Shape::Venue(vec![
            field(
                "city",
                Shape::Text { max: MAX_NAME },
                "the city (an online event has the venue \"virtual\" instead: in a spreadsheet, virtual in venue.city and no venue.country)",
            ),
            field("country", Shape::Country, "the country"),
        ]),
        "where: a place, or \"virtual\" for an online event",
    )
}

fn participants() -> Shape {
    let count = Shape::Integer {
        min: 0,
        max: u64::from(MAX_PARTICIPANTS),
    };
    Shape::Object(vec![
        field(
            "total",
            Shape::Integer {
                min: 1,
                max: u64::from(MAX_PARTICIPANTS),
            },
            "everyone who took part",
        ),
        optional("women", count.clone(), "women among them (at most total)"),
        optional(
            "men",
            count,
            "men among them (at most total, with women at most total)",
        ),
    ])
}

fn count() -> Field {
    field(
        "count",
        Shape::Integer {
            min: 1,
            max: u64::from(u32::MAX),
        },
        "how many people",
    )
}

/// The fields of each milestone kind (`forms::KINDS` is the parser's list of kinds).
fn milestone_fields(kind: &str) -> Vec<Field> {
    let from_to = || {
        vec![
            field("from", Shape::Country, "the requesting country"),
            field(
                "to",
                Shape::Country,
                "the requested country (not the same as from)",
            ),
        ]
    };
    let countries = |about| vec![field("countries", Shape::Countries, about)];
    let where_ = || field("country", Shape::Country, "where");
    match kind {
        "mla_request_sent" | "extradition_requested" => from_to(),
        "mla_request_executed" => vec![field("country", Shape::Country, "the executing country")],
        "jit_agreement_signed" => countries("the signatories (at least one)"),
        "controlled_delivery" => countries("the countries involved (at least one)"),
        "seizure" => vec![
            where_(),
            field("commodity", Shape::Choice(names!(Commodity)), "what"),
            field("quantity_kg", Shape::Positive, "how much, in kilograms"),
        ],
        "arrests" | "indictment" | "conviction" => vec![where_(), count()],
        "assets_frozen" => vec![
            where_(),
            field("amount", Shape::Positive, "how much"),
            field("currency", Shape::Currency, "in which currency"),
        ],
        _ => Vec::new(),
    }
}

fn milestone() -> Field {
    let variants = forms::KINDS
        .iter()
        .map(|kind| Variant {
            kind,
            fields: milestone_fields(kind),
        })
        .collect();
    field(
        "milestone",
        Shape::Tagged(variants),
        "what happened: an object with a kind and that kind's fields",
    )
}

fn case_id() -> Field {
    field("case_id", Shape::Id, "the case")
}

fn activity_id() -> Field {
    field(
        "activity_id",
        Shape::Id,
        "the activity's identity (its stream is activity/<activity_id>)",
    )
}

/// Every event type's description, in code order.
#[must_use]
pub fn events() -> Vec<EventSchema> {
    EventType::ALL.into_iter().map(event).collect()
}

/// The description of one event type.
#[must_use]
pub fn event(event_type: EventType) -> EventSchema {
    let (about, stream, fields) = match event_type {
        EventType::PartnerRegistered => (
            "a partner organisation registered with the programme",
            "partner/<partner>",
            vec![
                field("partner", Shape::Slug, "the partner's slug, e.g. interpol"),
                field("name", Shape::Text { max: MAX_NAME }, "its full name"),
                field(
                    "roles",
                    Shape::Choices(names!(PartnerRole)),
                    "what it does in the programme (at least one)",
                ),
                field("registered_on", Shape::Date, "since when"),
            ],
        ),
        EventType::CountryJoined => (
            "a country joined the programme",
            "country/<country>",
            vec![
                field("country", Shape::Country, "the country"),
                field("joined_on", Shape::Date, "when it joined"),
                field(
                    "participation",
                    Shape::Choice(names!(Participation)),
                    "how it takes part",
                ),
            ],
        ),
        EventType::ParticipationChanged => (
            "a country's participation changed",
            "country/<country>",
            vec![
                field("country", Shape::Country, "the country"),
                field("changed_on", Shape::Date, "when it changed"),
                field(
                    "participation",
                    Shape::Choice(names!(ParticipationStatus)),
                    "the new status",
                ),
                reason("why"),
            ],
        ),
        EventType::MeetingHeld => (
            "a meeting was held",
            "meeting/<meeting_id>",
            vec![
                field(
                    "meeting_id",
                    Shape::Id,
                    "the meeting's identity (its stream is meeting/<meeting_id>)",
                ),
                field(
                    "kind",
                    Shape::Choice(names!(MeetingKind)),
                    "what kind of meeting (operational_coordination involves at least two countries)",
                ),
                title(),
                field(
                    "start",
                    Shape::Date,
                    "first day (not after the day of recording)",
                ),
                field("end", Shape::Date, "last day (at most 62 days after start)"),
                venue(),
                field("countries", Shape::Countries, "the countries involved"),
                optional(
                    "participants",
                    participants(),
                    "how many took part, where known",
                ),
            ],
        ),
        EventType::ActivityScheduled => (
            "an activity was scheduled",
            "activity/<activity_id>",
            vec![
                activity_id(),
                field(
                    "kind",
                    Shape::Choice(names!(ActivityKind)),
                    "what kind of activity",
                ),
                title(),
                field("start", Shape::Date, "planned first day"),
                field(
                    "end",
                    Shape::Date,
                    "planned last day (at most 62 days after start)",
                ),
                venue(),
                field(
                    "beneficiaries",
                    Shape::Countries,
                    "the beneficiary countries",
                ),
            ],
        ),
        EventType::ActivityDelivered => (
            "an activity was delivered",
            "activity/<activity_id>",
            vec![
                activity_id(),
                field(
                    "kind",
                    Shape::Choice(names!(ActivityKind)),
                    "what kind of activity (investigative_case_forum and working_group involve at least two countries)",
                ),
                title(),
                field(
                    "pillar",
                    Shape::Choice(names!(Pillar)),
                    "the pillar it serves",
                ),
                field(
                    "start",
                    Shape::Date,
                    "first day (not after the day of recording)",
                ),
                field("end", Shape::Date, "last day (at most 62 days after start)"),
                venue(),
                field(
                    "beneficiaries",
                    Shape::Countries,
                    "the beneficiary countries",
                ),
                optional(
                    "other_countries",
                    Shape::Countries,
                    "other countries taking part (none of them a beneficiary)",
                ),
                field("participants", participants(), "how many took part"),
                optional(
                    "institutions",
                    Shape::Choices(names!(Institution)),
                    "institutions whose officials took part",
                ),
            ],
        ),
        EventType::ActivityCancelled => (
            "a scheduled activity was cancelled",
            "activity/<activity_id>",
            vec![
                field("activity_id", Shape::Id, "the activity"),
                field("cancelled_on", Shape::Date, "when"),
                reason("why"),
            ],
        ),
        EventType::CaseOpened => (
            "a cooperation case was opened between countries",
            "case/<case_id>",
            vec![
                field(
                    "case_id",
                    Shape::Id,
                    "the case's identity (its stream is case/<case_id>)",
                ),
                field(
                    "codename",
                    Shape::Identifier { max: MAX_NAME },
                    "a codename (cases carry no personal data)",
                ),
                field(
                    "case_type",
                    Shape::Choice(names!(CaseType)),
                    "what kind of case",
                ),
                field(
                    "countries",
                    Shape::Countries,
                    "the countries working on it (at least two)",
                ),
                field(
                    "lead",
                    Shape::Country,
                    "the leading country, one of countries",
                ),
                field("opened_on", Shape::Date, "when it was opened"),
            ],
        ),
        EventType::CaseCountryAdded => (
            "a country joined a case",
            "case/<case_id>",
            vec![
                case_id(),
                field("country", Shape::Country, "the country added"),
                field(
                    "added_on",
                    Shape::Date,
                    "when (not before the case was opened)",
                ),
            ],
        ),
        EventType::CaseMilestoneRecorded => (
            "a case reached a milestone",
            "case/<case_id>",
            vec![
                case_id(),
                field(
                    "on",
                    Shape::Date,
                    "when (not before the case was opened, not after the day of recording)",
                ),
                milestone(),
            ],
        ),
        EventType::CaseClosed => (
            "a case was closed",
            "case/<case_id>",
            vec![
                case_id(),
                field(
                    "closed_on",
                    Shape::Date,
                    "when (not after the day of recording)",
                ),
                field(
                    "outcome",
                    Shape::Choice(names!(CaseOutcome)),
                    "how it ended",
                ),
            ],
        ),
        EventType::EventCorrected => (
            "a correction: the replacement replaces the whole payload of the target event",
            "the target's stream",
            vec![
                field(
                    "target",
                    Shape::Id,
                    "the event corrected (a fact, not retracted)",
                ),
                field(
                    "replacement",
                    Shape::Replacement,
                    "its full replacement payload: the target's type and entity",
                ),
                reason("why"),
            ],
        ),
        EventType::EventRetracted => (
            "a retraction: the target event counts for nothing from now on",
            "the target's stream",
            vec![
                field(
                    "target",
                    Shape::Id,
                    "the event retracted (a fact, not retracted)",
                ),
                field("reason", Shape::Choice(names!(RetractionReason)), "why"),
                optional(
                    "duplicate_of",
                    Shape::Id,
                    "the event it duplicates, for reason duplicate (not the target)",
                ),
            ],
        ),
    };
    EventSchema {
        event_type,
        about,
        stream,
        fields,
    }
}

/// A leaf of the flattened fields: one spreadsheet column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The path of the field, e.g. `venue.city`, `participants.total`, `milestone.kind`.
    pub path: String,
    /// What the leaf holds (never an object).
    pub shape: Shape,
    /// Whether it must be given (for a milestone field: for the kinds in `kinds`; for a field of
    /// an optional object: when the object is given).
    pub required: bool,
    /// Whether it belongs to an optional object (`participants` of a meeting): then it is
    /// required only when the object is given.
    pub in_optional: bool,
    /// For a field of some kinds of a tagged object only: those kinds.
    pub kinds: Vec<&'static str>,
    /// What it means.
    pub about: &'static str,
}

/// The fields flattened into leaves, in order: an object's fields become `name.field`; a venue
/// `venue.city` and `venue.country` (a virtual venue is `virtual` in `venue.city`); a milestone
/// `milestone.kind` and every field any kind has, once. A replacement stays one leaf.
#[must_use]
pub fn columns(fields: &[Field]) -> Vec<Column> {
    let mut out = Vec::new();
    for f in fields {
        flatten(f, "", false, &mut out);
    }
    out
}

fn flatten(f: &Field, prefix: &str, in_optional: bool, out: &mut Vec<Column>) {
    let path = format!("{prefix}{}", f.name);
    let required = f.required;
    match &f.shape {
        Shape::Object(inner) | Shape::Venue(inner) => {
            for child in inner {
                flatten(child, &format!("{path}."), in_optional || !required, out);
            }
        }
        Shape::Tagged(variants) => {
            let kinds = variants.iter().map(|v| v.kind).collect();
            out.push(Column {
                path: format!("{path}.kind"),
                shape: Shape::Choice(kinds),
                required,
                in_optional,
                kinds: Vec::new(),
                about: "the kind of milestone",
            });
            let start = out.len();
            for variant in variants {
                for child in &variant.fields {
                    let child_path = format!("{path}.{}", child.name);
                    match out[start..].iter_mut().find(|c| c.path == child_path) {
                        Some(column) => column.kinds.push(variant.kind),
                        None => out.push(Column {
                            path: child_path,
                            shape: child.shape.clone(),
                            required: child.required,
                            in_optional: in_optional || !required,
                            kinds: vec![variant.kind],
                            about: child.about,
                        }),
                    }
                }
            }
        }
        shape => out.push(Column {
            path,
            shape: shape.clone(),
            required,
            in_optional,
            kinds: Vec::new(),
            about: f.about,
        }),
    }
}

/// Every assigned ISO 3166-1 alpha-2 code with its short name, sorted by code.
#[must_use]
pub fn countries() -> Vec<(CountryCode, &'static str)> {
    CountryCode::all()
        .into_iter()
        .map(|c| (c, c.name()))
        .collect()
}

/// Every ISO 4217 code, sorted.
#[must_use]
pub fn currencies() -> Vec<CurrencyCode> {
    let letters = b'A'..=b'Z';
    let mut all = Vec::new();
    for a in letters.clone() {
        for b in letters.clone() {
            for c in letters.clone() {
                let code = [a, b, c];
                if let Some(currency) = std::str::from_utf8(&code)
                    .ok()
                    .and_then(CurrencyCode::parse)
                {
                    all.push(currency);
                }
            }
        }
    }
    all
}

/// A valid value of a leaf shape, for a field an example does not give (the sheet reader
/// stands it in for a value it reported, so that the rest of the row can still be read).
#[must_use]
pub fn sample(shape: &Shape) -> serde_json::Value {
    use serde_json::json;
    match shape {
        Shape::Text { .. } | Shape::Identifier { .. } => json!("text"),
        Shape::Slug => json!("unodc"),
        Shape::Id => json!("0190f0a1-7c2e-7a10-8b3e-0000000000ff"),
        Shape::Date => json!("2019-01-01"),
        Shape::Country => json!("GH"),
        Shape::Currency => json!("EUR"),
        Shape::Countries => json!(["GH"]),
        Shape::Choice(values) => values.first().map_or(json!(null), |v| json!(v)),
        Shape::Choices(values) => values.first().map_or(json!([]), |v| json!([v])),
        Shape::Integer { min, .. } => json!((*min).max(1)),
        Shape::Positive => json!(1.5),
        Shape::ExpectedVersion => json!("any"),
        Shape::Object(fields) | Shape::Venue(fields) => serde_json::Value::Object(
            fields
                .iter()
                .filter(|f| f.required)
                .map(|f| (f.name.to_owned(), sample(&f.shape)))
                .collect(),
        ),
        Shape::Tagged(variants) => {
            let mut object = serde_json::Map::new();
            if let Some(v) = variants.first() {
                object.insert("kind".into(), json!(v.kind));
                for f in v.fields.iter().filter(|f| f.required) {
                    object.insert(f.name.to_owned(), sample(&f.shape));
                }
            }
            serde_json::Value::Object(object)
        }
        Shape::Replacement => {
            let mut object = example(EventType::CountryJoined);
            object.remove("type");
            object.remove("recorded_by");
            serde_json::Value::Object(object)
        }
    }
}
