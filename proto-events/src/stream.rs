//! Streams: the entity an event is about, `country/GH`, `partner/interpol`, `meeting/<uuid>`,
//! `activity/<uuid>` or `case/<uuid>`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::country::CountryCode;

/// The longest partner slug accepted.
pub const MAX_PARTNER_SLUG: usize = 64;

/// The entity an event belongs to. Each stream has its own version (1, 2, …) used for optimistic
/// concurrency. Serialised as its `kind/id` text in every encoding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    /// `country/<CC>`.
    Country(CountryCode),
    /// `partner/<slug>`.
    Partner(String),
    /// `meeting/<uuid>`.
    Meeting(Uuid),
    /// `activity/<uuid>`.
    Activity(Uuid),
    /// `case/<uuid>`.
    Case(Uuid),
}

/// Whether `slug` is a valid partner slug: 1–64 of `a-z`, `0-9` and `-`, starting with a letter
/// or digit.
#[must_use]
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= MAX_PARTNER_SLUG
        && !slug.starts_with('-')
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stream::Country(c) => write!(f, "country/{c}"),
            Stream::Partner(p) => write!(f, "partner/{p}"),
            Stream::Meeting(id) => write!(f, "meeting/{id}"),
            Stream::Activity(id) => write!(f, "activity/{id}"),
            Stream::Case(id) => write!(f, "case/{id}"),
        }
    }
}

/// A text that is not a stream name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a stream name (expected country/CC, partner/SLUG, meeting/UUID, activity/UUID or case/UUID): {0:?}"
)]
pub struct InvalidStream(pub String);

impl FromStr for Stream {
    type Err = InvalidStream;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidStream(s.to_owned());
        let (kind, id) = s.split_once('/').ok_or_else(bad)?;
        let uuid = || Uuid::parse_str(id).map_err(|_| bad());
        match kind {
            "country" => CountryCode::parse(id).map(Stream::Country).ok_or_else(bad),
            "partner" if is_valid_slug(id) => Ok(Stream::Partner(id.to_owned())),
            "meeting" => uuid().map(Stream::Meeting),
            "activity" => uuid().map(Stream::Activity),
            "case" => uuid().map(Stream::Case),
            _ => Err(bad()),
        }
    }
}

/// The stored form of a stream: a plain enum (kind first, in this order), so that decoding reads
/// 16 UUID bytes instead of parsing 36 hex digits.
#[derive(Serialize, Deserialize)]
enum StreamBin {
    Country(CountryCode),
    Partner(String),
    Meeting(Uuid),
    Activity(Uuid),
    Case(Uuid),
}

impl Serialize for Stream {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return serializer.collect_str(self);
        }
        // Borrowing the partner slug would need a second enum; streams are cloned once per
        // encoded event, which is negligible next to the rest of the encoding.
        let bin = match self {
            Stream::Country(c) => StreamBin::Country(*c),
            Stream::Partner(p) => StreamBin::Partner(p.clone()),
            Stream::Meeting(id) => StreamBin::Meeting(*id),
            Stream::Activity(id) => StreamBin::Activity(*id),
            Stream::Case(id) => StreamBin::Case(*id),
        };
        bin.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Stream {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return Ok(match StreamBin::deserialize(deserializer)? {
                StreamBin::Country(c) => Stream::Country(c),
                StreamBin::Partner(p) if is_valid_slug(&p) => Stream::Partner(p),
                StreamBin::Partner(p) => return Err(de::Error::custom(InvalidStream(p))),
                StreamBin::Meeting(id) => Stream::Meeting(id),
                StreamBin::Activity(id) => Stream::Activity(id),
                StreamBin::Case(id) => Stream::Case(id),
            });
        }
        struct StreamVisitor;
        impl Visitor<'_> for StreamVisitor {
            type Value = Stream;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a stream name such as \"country/GH\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Stream, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(StreamVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_round_trip_and_bad_ones_are_refused() {
        for text in [
            "country/GH",
            "partner/interpol",
            "meeting/0190f0a1-7c2e-7a10-8b3e-aaaaaaaaaaaa",
            "case/0190f0a1-7c2e-7a10-8b3e-aaaaaaaaaaaa",
        ] {
            let stream: Stream = text.parse().expect(text);
            assert_eq!(stream.to_string(), text);
        }
        for bad in [
            "country/XX",
            "partner/Bad Slug",
            "meeting/nope",
            "nothing",
            "case/",
        ] {
            assert!(bad.parse::<Stream>().is_err(), "{bad} was accepted");
        }
    }
}
