//! # proto-events: the coopledger event vocabulary
//!
//! The one serialized contract of coopledger. The ledger, the command line, the HTTP API and any
//! outside API layer depend on this crate for:
//!
//! - the typed events of the cooperation domain ([`events`], [`values`], [`country`]);
//! - the envelope and the recorded form ([`envelope`]);
//! - the **staff JSON form** that scripts write ([`staff`]): one object, a JSON array or JSONL,
//!   with unknown fields rejected by name and positions reported by line;
//! - the **stored binary form** ([`codec`]): a format-version byte, a stable event type code, a
//!   schema version per event type, then bincode 2.0.1 with one fixed configuration;
//! - the intrinsic validation rules ([`validate`]), returning every violation of an event at once,
//!   and the Unicode character classes its text rules use ([`unicode`]);
//! - region membership from the UN M49 table ([`regions`]);
//! - the description of the staff form that documents, schemas, templates and forms are built
//!   from ([`schema`]), and spreadsheets (CSV) read into the same events ([`sheet`]).
//!
//! ```
//! use proto_events::staff::{parse_text, Mode};
//! let line = r#"{"type":"CountryJoined","recorded_by":"staff.vienna","country":"cv","joined_on":"2016-07-21","participation":"beneficiary"}"#;
//! let today = jiff::civil::date(2026, 1, 1);
//! let events = parse_text(line, Mode::Staff, today).unwrap();
//! assert_eq!(events[0].event.payload.stream().unwrap().to_string(), "country/CV");
//! ```
//!
//! ## Evolving an event type: version 2 and an upcaster
//!
//! bincode is not self-describing: reordering enum variants decodes the wrong variant without
//! error, and adding or removing a struct field misreads every later byte. Shipped shapes are
//! therefore frozen. To change an event type (this is how `ActivityDelivered` gained
//! `institutions` in version 2):
//!
//! 1. Copy today's struct into [`upcast`] as `ActivityDeliveredV1`, unchanged. It now describes
//!    bytes already on disk and never changes again.
//! 2. Change the struct in [`events`] (add the field; for JSON input, `#[serde(default)]` keeps old
//!    staff files valid).
//! 3. Raise [`events::EventType::schema_version`] for the type to 2: new records say version 2 in
//!    their header.
//! 4. Write the upcaster, `impl From<ActivityDeliveredV1> for ActivityDelivered`, deciding what the
//!    old records mean in today's shape (here: no institutions were recorded, an empty list).
//! 5. Add the `(EventType::ActivityDelivered, 1)` arm to the codec's `next_fact` so version-1
//!    bytes decode through the old struct and the upcaster.
//! 6. Commit a golden vector of the new version under `proto-events/tests/golden/` and keep the
//!    old one: `tests/golden.rs` decodes both, and `tests/upcast.rs` checks that the version-1
//!    fixture decodes into today's shape.
//!
//! Hashes are computed over the stored bytes, so an upcast never changes a record's hash: the
//! ledger hashes what is on disk, not what the decoder returns.
//!
//! Enum variants follow the same rule: add new variants at the end only.
//! `tests/enum_order.rs` fails if any variant's position changes.

#![forbid(unsafe_code)]

pub mod codec;
pub mod country;
pub mod envelope;
pub mod events;
pub mod hash;
pub mod regions;
pub mod schema;
pub mod sheet;
pub mod staff;
pub mod stream;
pub mod unicode;
pub mod upcast;
pub mod validate;
pub mod values;

pub use country::{CountryCode, CurrencyCode};
pub use envelope::{Envelope, ExpectedVersion, Hash, NewEvent, RecordedEvent};
pub use events::{
    ActivityCancelled, ActivityDelivered, ActivityScheduled, CaseClosed, CaseCountryAdded,
    CaseMilestoneRecorded, CaseOpened, CountryJoined, EventCorrected, EventRetracted, EventType,
    Fact, MeetingHeld, ParticipationChanged, PartnerRegistered, Payload,
};
pub use regions::{M49, ProgrammeRegion};
pub use stream::Stream;
pub use validate::{Position, Rule, Violation};
pub use values::{Date, Timestamp};
