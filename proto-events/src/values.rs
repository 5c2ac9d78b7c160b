//! Value types shared by the events: kinds, roles, venues, participant counts and case milestones.
//!
//! Every enum here is part of the stored binary form, where a variant is written as its position
//! in the declaration. **Never reorder, rename or remove a variant**; add new ones at the end.
//! `tests/enum_order.rs` fails if any position changes.

use serde::{Deserialize, Serialize};

use crate::country::{CountryCode, CurrencyCode};

/// A calendar date (`YYYY-MM-DD`): when something happened in the world.
pub type Date = jiff::civil::Date;
/// A UTC instant: when the ledger recorded something.
pub type Timestamp = jiff::Timestamp;

macro_rules! snake_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration (and therefore storage) order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The snake_case name used in the staff JSON form.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

snake_enum! {
    /// What a partner organisation does in the programme.
    PartnerRole {
        /// Provides funds (e.g. the EU).
        Funding => "funding",
        /// Accountable for delivery (UNODC).
        Accountable => "accountable",
        /// Delivers activities (UNODC, INTERPOL, TI).
        Implementing => "implementing",
    }
}

snake_enum! {
    /// How a country takes part when it joins.
    Participation {
        /// Receives assistance.
        Beneficiary => "beneficiary",
        /// Associated to the programme.
        Associated => "associated",
        /// A partner country (e.g. European destination countries).
        Partner => "partner",
        /// Observes without taking part.
        Observer => "observer",
    }
}

snake_enum! {
    /// A country's participation status after a change.
    ParticipationStatus {
        /// Receives assistance.
        Beneficiary => "beneficiary",
        /// Associated to the programme.
        Associated => "associated",
        /// A partner country.
        Partner => "partner",
        /// Observes without taking part.
        Observer => "observer",
        /// Participation suspended.
        Suspended => "suspended",
        /// Left the programme.
        Withdrawn => "withdrawn",
    }
}

impl ParticipationStatus {
    /// Whether a country with this status is an active participant (may not join again).
    #[must_use]
    pub fn is_active(self) -> bool {
        !matches!(
            self,
            ParticipationStatus::Suspended | ParticipationStatus::Withdrawn
        )
    }
}

impl From<Participation> for ParticipationStatus {
    fn from(p: Participation) -> Self {
        match p {
            Participation::Beneficiary => ParticipationStatus::Beneficiary,
            Participation::Associated => ParticipationStatus::Associated,
            Participation::Partner => ParticipationStatus::Partner,
            Participation::Observer => ParticipationStatus::Observer,
        }
    }
}

snake_enum! {
    /// The kind of a meeting.
    MeetingKind {
        /// A bilateral briefing, e.g. with a permanent mission in Vienna.
        BilateralBriefing => "bilateral_briefing",
        /// A steering committee.
        SteeringCommittee => "steering_committee",
        /// An annual meeting.
        AnnualMeeting => "annual_meeting",
        /// A network meeting.
        NetworkMeeting => "network_meeting",
        /// A high-level meeting.
        HighLevelMeeting => "high_level_meeting",
        /// Operational coordination between countries (involves at least two).
        OperationalCoordination => "operational_coordination",
    }
}

snake_enum! {
    /// The kind of a capacity-building activity.
    ActivityKind {
        /// A training.
        Training => "training",
        /// Training of trainers.
        TrainingOfTrainers => "training_of_trainers",
        /// A workshop.
        Workshop => "workshop",
        /// A practical exercise.
        PracticalExercise => "practical_exercise",
        /// An investigative case forum (involves at least two countries).
        InvestigativeCaseForum => "investigative_case_forum",
        /// A working group (involves at least two countries).
        WorkingGroup => "working_group",
        /// Case mentoring.
        CaseMentoring => "case_mentoring",
        /// An expert meeting.
        ExpertMeeting => "expert_meeting",
        /// A study visit.
        StudyVisit => "study_visit",
        /// An institutional assessment.
        InstitutionalAssessment => "institutional_assessment",
    }
}

snake_enum! {
    /// The programme pillar an activity serves.
    Pillar {
        /// Capacity building.
        CapacityBuilding => "capacity_building",
        /// Inter-regional cooperation.
        InterregionalCooperation => "interregional_cooperation",
        /// Institutional integrity.
        InstitutionalIntegrity => "institutional_integrity",
        /// Strategic knowledge.
        StrategicKnowledge => "strategic_knowledge",
    }
}

snake_enum! {
    /// An institution whose officials took part in an activity.
    Institution {
        /// Police.
        Police => "police",
        /// Anti-drug agency.
        AntiDrugAgency => "anti_drug_agency",
        /// Customs.
        Customs => "customs",
        /// Prosecution.
        Prosecution => "prosecution",
        /// Judiciary.
        Judiciary => "judiciary",
        /// Central authority for mutual legal assistance.
        CentralAuthority => "central_authority",
        /// Financial intelligence unit.
        FinancialIntelligenceUnit => "financial_intelligence_unit",
        /// A ministry.
        Ministry => "ministry",
        /// Civil society.
        CivilSociety => "civil_society",
    }
}

snake_enum! {
    /// The type of a cooperation case.
    CaseType {
        /// Investigation after a seizure.
        PostSeizureInvestigation => "post_seizure_investigation",
        /// Mutual legal assistance.
        MutualLegalAssistance => "mutual_legal_assistance",
        /// Extradition.
        Extradition => "extradition",
        /// Controlled delivery.
        ControlledDelivery => "controlled_delivery",
        /// Joint investigation team.
        JointInvestigationTeam => "joint_investigation_team",
        /// Asset recovery.
        AssetRecovery => "asset_recovery",
        /// Anything else.
        Other => "other",
    }
}

snake_enum! {
    /// What was seized.
    Commodity {
        /// Cocaine.
        Cocaine => "cocaine",
        /// Cannabis.
        Cannabis => "cannabis",
        /// Heroin.
        Heroin => "heroin",
        /// Precursor chemicals.
        Precursors => "precursors",
        /// Anything else.
        Other => "other",
    }
}

snake_enum! {
    /// How a case ended.
    CaseOutcome {
        /// Convicted.
        Convicted => "convicted",
        /// Acquitted.
        Acquitted => "acquitted",
        /// Discontinued.
        Discontinued => "discontinued",
        /// Transferred to another jurisdiction.
        Transferred => "transferred",
        /// Not known.
        Unknown => "unknown",
    }
}

snake_enum! {
    /// Why an event was retracted.
    RetractionReason {
        /// It duplicates another event (see `duplicate_of`).
        Duplicate => "duplicate",
        /// It was entered in error.
        EnteredInError => "entered_in_error",
        /// It is outside the programme's scope.
        OutOfScope => "out_of_scope",
    }
}

/// Where a meeting or activity took place.
///
/// In the staff JSON form a place is `{"city": "Vienna", "country": "AT"}` and an online event is
/// the string `"virtual"`; the stored form is an ordinary enum (place first, then virtual).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Venue {
    /// A physical place.
    Place {
        /// The city.
        city: String,
        /// The country.
        country: CountryCode,
    },
    /// Held online.
    Virtual,
}

/// How many people took part. No names: the ledger holds no personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Participants {
    /// Everyone who took part (1..=100000).
    pub total: u32,
    /// Women among them, where known.
    #[serde(default)]
    pub women: Option<u32>,
    /// Men among them, where known.
    #[serde(default)]
    pub men: Option<u32>,
}

impl<'de> Deserialize<'de> for Participants {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields {
            total: u32,
            #[serde(default)]
            women: Option<u32>,
            #[serde(default)]
            men: Option<u32>,
        }
        let f = if d.is_human_readable() {
            // The staff form is an object; serde's derive would also take `[total, women, men]`.
            d.deserialize_map(forms::MapOnly::<Fields>::new(
                "an object such as {\"total\": 30}",
            ))?
        } else {
            Fields::deserialize(d)?
        };
        Ok(Participants {
            total: f.total,
            women: f.women,
            men: f.men,
        })
    }
}

/// A step in a case. The staff JSON form is an object tagged by `kind`
/// (e.g. `{"kind": "seizure", "country": "GW", "commodity": "cocaine", "quantity_kg": 2630}`);
/// the stored form is an ordinary enum in this declaration order. (The serde names below are the
/// staff form's kinds; bincode writes only a variant's position.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Milestone {
    /// A mutual legal assistance request was sent.
    MlaRequestSent {
        /// Requesting country.
        from: CountryCode,
        /// Requested country.
        to: CountryCode,
    },
    /// A mutual legal assistance request was executed.
    MlaRequestExecuted {
        /// The executing country.
        country: CountryCode,
    },
    /// Extradition was requested.
    ExtraditionRequested {
        /// Requesting country.
        from: CountryCode,
        /// Requested country.
        to: CountryCode,
    },
    /// A joint investigation team agreement was signed.
    JitAgreementSigned {
        /// The signatories.
        countries: Vec<CountryCode>,
    },
    /// A controlled delivery took place.
    ControlledDelivery {
        /// The countries involved.
        countries: Vec<CountryCode>,
    },
    /// Drugs were seized.
    Seizure {
        /// Where.
        country: CountryCode,
        /// What.
        commodity: Commodity,
        /// How much, in kilograms (> 0).
        quantity_kg: f64,
    },
    /// People were arrested.
    Arrests {
        /// Where.
        country: CountryCode,
        /// How many (≥ 1).
        count: u32,
    },
    /// People were indicted.
    Indictment {
        /// Where.
        country: CountryCode,
        /// How many (≥ 1).
        count: u32,
    },
    /// People were convicted.
    Conviction {
        /// Where.
        country: CountryCode,
        /// How many (≥ 1).
        count: u32,
    },
    /// Assets were frozen.
    AssetsFrozen {
        /// Where.
        country: CountryCode,
        /// How much (> 0).
        amount: f64,
        /// In which currency.
        currency: CurrencyCode,
    },
}

impl Milestone {
    /// The snake_case `kind` of the staff JSON form.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Milestone::MlaRequestSent { .. } => "mla_request_sent",
            Milestone::MlaRequestExecuted { .. } => "mla_request_executed",
            Milestone::ExtraditionRequested { .. } => "extradition_requested",
            Milestone::JitAgreementSigned { .. } => "jit_agreement_signed",
            Milestone::ControlledDelivery { .. } => "controlled_delivery",
            Milestone::Seizure { .. } => "seizure",
            Milestone::Arrests { .. } => "arrests",
            Milestone::Indictment { .. } => "indictment",
            Milestone::Conviction { .. } => "conviction",
            Milestone::AssetsFrozen { .. } => "assets_frozen",
        }
    }

    /// Every country the milestone names (they must belong to the case).
    #[must_use]
    pub fn countries(&self) -> Vec<CountryCode> {
        match self {
            Milestone::MlaRequestSent { from, to }
            | Milestone::ExtraditionRequested { from, to } => {
                vec![*from, *to]
            }
            Milestone::JitAgreementSigned { countries }
            | Milestone::ControlledDelivery { countries } => countries.clone(),
            Milestone::MlaRequestExecuted { country }
            | Milestone::Seizure { country, .. }
            | Milestone::Arrests { country, .. }
            | Milestone::Indictment { country, .. }
            | Milestone::Conviction { country, .. }
            | Milestone::AssetsFrozen { country, .. } => vec![*country],
        }
    }
}

/// The staff JSON forms of [`Venue`] and [`Milestone`], which differ from their stored forms.
///
/// These modules are used with `#[serde(with = ...)]`: a human-readable serializer (JSON) gets the
/// staff form, a binary one (bincode) gets the plain enum. bincode cannot encode serde's untagged or
/// internally tagged enums, which is why the two forms are kept apart.
#[doc(hidden)]
pub mod forms {
    use super::*;
    use serde::de::{self, MapAccess, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    /// A visitor that accepts only a JSON object and hands it to `T`'s deserializer: serde's
    /// derives also accept arrays for structs, which the staff form must refuse.
    pub struct MapOnly<T> {
        expecting: &'static str,
        _marker: std::marker::PhantomData<T>,
    }

    impl<T> MapOnly<T> {
        /// Expecting `expecting` (for the error message).
        pub fn new(expecting: &'static str) -> Self {
            MapOnly {
                expecting,
                _marker: std::marker::PhantomData,
            }
        }
    }

    impl<'de, T: Deserialize<'de>> Visitor<'de> for MapOnly<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }

    /// Prefix of an error raised inside a nested value whose own field path the outer
    /// deserializer cannot see: `PATH_MARK <inner path> PATH_END <message>`.
    pub const PATH_MARK: &str = "\u{1}at ";
    /// See [`PATH_MARK`].
    pub const PATH_END: &str = "\u{1}: ";

    #[derive(Serialize)]
    struct PlaceRef<'a> {
        city: &'a str,
        country: CountryCode,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PlaceJson {
        city: String,
        country: CountryCode,
    }

    /// `#[serde(with = "forms::venue")]`.
    pub mod venue {
        use super::*;

        pub fn serialize<S: Serializer>(v: &Venue, s: S) -> Result<S::Ok, S::Error> {
            if !s.is_human_readable() {
                return v.serialize(s);
            }
            match v {
                Venue::Virtual => s.serialize_str("virtual"),
                Venue::Place { city, country } => PlaceRef {
                    city,
                    country: *country,
                }
                .serialize(s),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Venue, D::Error> {
            if !d.is_human_readable() {
                return Venue::deserialize(d);
            }
            struct VenueVisitor;
            impl<'de> Visitor<'de> for VenueVisitor {
                type Value = Venue;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(r#"{"city": ..., "country": ...} or "virtual""#)
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Venue, E> {
                    if v == "virtual" {
                        Ok(Venue::Virtual)
                    } else {
                        Err(E::invalid_value(de::Unexpected::Str(v), &self))
                    }
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Venue, A::Error> {
                    let place = PlaceJson::deserialize(de::value::MapAccessDeserializer::new(map))?;
                    Ok(Venue::Place {
                        city: place.city,
                        country: place.country,
                    })
                }
            }
            d.deserialize_any(VenueVisitor)
        }
    }

    /// `#[serde(with = "forms::date")]`: `"YYYY-MM-DD"` in JSON; `(year i16, month i8, day i8)`
    /// in the stored form, which decodes without parsing text.
    pub mod date {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
            if s.is_human_readable() {
                d.serialize(s)
            } else {
                (d.year(), d.month(), d.day()).serialize(s)
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
            if d.is_human_readable() {
                struct DateVisitor;
                impl Visitor<'_> for DateVisitor {
                    type Value = Date;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a date as YYYY-MM-DD")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Date, E> {
                        // jiff also reads times, zones and six-digit years; a date here is
                        // exactly YYYY-MM-DD, so nothing is dropped silently.
                        let b = v.as_bytes();
                        let shaped = b.len() == 10
                            && b.iter().enumerate().all(|(i, c)| {
                                if i == 4 || i == 7 {
                                    *c == b'-'
                                } else {
                                    c.is_ascii_digit()
                                }
                            });
                        if !shaped {
                            return Err(E::custom(format_args!("not a date: expected YYYY-MM-DD")));
                        }
                        v.parse().map_err(|e| {
                            E::custom(format_args!("no such day ({e}): expected YYYY-MM-DD"))
                        })
                    }
                }
                d.deserialize_str(DateVisitor)
            } else {
                let (y, m, day): (i16, i8, i8) = Deserialize::deserialize(d)?;
                Date::new(y, m, day).map_err(de::Error::custom)
            }
        }
    }

    /// `#[serde(with = "forms::timestamp")]`: RFC 3339 in JSON; `(seconds i64, nanoseconds i32)`
    /// since the Unix epoch in the stored form.
    pub mod timestamp {
        use super::*;

        pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
            if s.is_human_readable() {
                t.serialize(s)
            } else {
                (t.as_second(), t.subsec_nanosecond()).serialize(s)
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
            if d.is_human_readable() {
                Timestamp::deserialize(d)
            } else {
                let (secs, nanos): (i64, i32) = Deserialize::deserialize(d)?;
                let t = Timestamp::new(secs, nanos).map_err(de::Error::custom)?;
                // jiff normalises seconds and nanoseconds to one sign; anything else was not
                // written by this codec.
                if t.as_second() != secs || t.subsec_nanosecond() != nanos {
                    return Err(de::Error::custom(format_args!(
                        "non-canonical timestamp ({secs} s, {nanos} ns)"
                    )));
                }
                Ok(t)
            }
        }
    }

    /// The milestone kinds of the staff form.
    pub const KINDS: [&str; 10] = [
        "mla_request_sent",
        "mla_request_executed",
        "extradition_requested",
        "jit_agreement_signed",
        "controlled_delivery",
        "seizure",
        "arrests",
        "indictment",
        "conviction",
        "assets_frozen",
    ];

    /// `#[serde(with = "forms::milestone")]`: in JSON `{"kind": K, ...fields}`, read and
    /// written through the enum's own externally tagged form `{K: {...fields}}`, which reads
    /// without buffering (so errors keep their field path) and refuses unknown fields.
    pub mod milestone {
        use super::*;

        pub fn serialize<S: Serializer>(m: &Milestone, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::Error as _;
            if !s.is_human_readable() {
                return m.serialize(s);
            }
            let tagged = serde_json::to_value(m).map_err(S::Error::custom)?;
            let mut flat = serde_json::Map::new();
            if let serde_json::Value::Object(outer) = tagged {
                for (kind, fields) in outer {
                    flat.insert("kind".into(), serde_json::Value::String(kind));
                    if let serde_json::Value::Object(fields) = fields {
                        flat.extend(fields);
                    }
                }
            }
            flat.serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Milestone, D::Error> {
            if !d.is_human_readable() {
                return Milestone::deserialize(d);
            }
            // An object only (serde would take arrays for struct variants), read whole, its
            // `kind` checked, then read as `{kind: {fields}}`.
            let mut object: serde_json::Map<String, serde_json::Value> =
                d.deserialize_map(MapOnly::new("an object with a \"kind\""))?;
            let at = |path: &str, message: &dyn fmt::Display| {
                de::Error::custom(format_args!("{PATH_MARK}{path}{PATH_END}{message}"))
            };
            let kind = match object.shift_remove("kind") {
                Some(serde_json::Value::String(kind)) if KINDS.contains(&kind.as_str()) => kind,
                Some(other) => {
                    return Err(at(
                        "kind",
                        &format_args!(
                            "unknown milestone kind {other}, expected one of {}",
                            KINDS.join(", ")
                        ),
                    ));
                }
                None => return Err(at("kind", &"missing field `kind`")),
            };
            let mut tagged = serde_json::Map::new();
            tagged.insert(kind, serde_json::Value::Object(object));
            serde_path_to_error::deserialize::<_, Milestone>(serde_json::Value::Object(tagged))
                .map_err(|e| {
                    // The path starts with the kind, which is not a field of the staff form.
                    let path = e.path().to_string();
                    let inner = path.split_once('.').map_or("", |(_, rest)| rest);
                    if inner.is_empty() {
                        de::Error::custom(e.into_inner())
                    } else {
                        at(inner, &e.into_inner())
                    }
                })
        }
    }
}

/// The UTC calendar day of an instant ("the day of recording" of the validation rules).
#[must_use]
pub fn utc_date(t: Timestamp) -> Date {
    t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()
}

/// Today's UTC date.
#[must_use]
pub fn today_utc() -> Date {
    utc_date(Timestamp::now())
}
