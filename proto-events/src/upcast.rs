//! Old schema versions of event types and the upcasters that turn them into today's shape.
//!
//! A stored body names its event type and schema version in its header; the codec decodes the
//! struct of that version from here and converts it with `From`. Old structs are frozen: they
//! describe bytes already on disk and must never change.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::country::CountryCode;
use crate::events::ActivityDelivered;
use crate::values::{ActivityKind, Date, Participants, Pillar, Venue, forms};

/// `ActivityDelivered` schema version 1, before `institutions` was added (version 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityDeliveredV1 {
    /// See [`ActivityDelivered::activity_id`].
    pub activity_id: Uuid,
    /// See [`ActivityDelivered::kind`].
    pub kind: ActivityKind,
    /// See [`ActivityDelivered::title`].
    pub title: String,
    /// See [`ActivityDelivered::pillar`].
    pub pillar: Pillar,
    /// See [`ActivityDelivered::start`].
    #[serde(with = "forms::date")]
    pub start: Date,
    /// See [`ActivityDelivered::end`].
    #[serde(with = "forms::date")]
    pub end: Date,
    /// See [`ActivityDelivered::venue`].
    #[serde(with = "forms::venue")]
    pub venue: Venue,
    /// See [`ActivityDelivered::beneficiaries`].
    pub beneficiaries: Vec<CountryCode>,
    /// See [`ActivityDelivered::other_countries`].
    pub other_countries: Vec<CountryCode>,
    /// See [`ActivityDelivered::participants`].
    pub participants: Participants,
}

/// Version 1 had no institutions: they were not recorded, which is an empty list today.
impl From<ActivityDeliveredV1> for ActivityDelivered {
    fn from(v1: ActivityDeliveredV1) -> Self {
        ActivityDelivered {
            activity_id: v1.activity_id,
            kind: v1.kind,
            title: v1.title,
            pillar: v1.pillar,
            start: v1.start,
            end: v1.end,
            venue: v1.venue,
            beneficiaries: v1.beneficiaries,
            other_countries: v1.other_countries,
            participants: v1.participants,
            institutions: Vec::new(),
        }
    }
}
