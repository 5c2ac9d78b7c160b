//! Country and currency codes: newtypes that can only hold codes that exist.
//!
//! Countries are identified by their ISO 3166-1 alpha-2 code, never by name: names change
//! (Cape Verde became Cabo Verde), codes do not. The list of valid codes comes from the
//! maintained `rust_iso3166` crate, not from a hand-made table.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Prefix of the error message for an unknown country code.
///
/// The staff parser recognises this prefix to report the `country_code` rule with the offending
/// value, so the message format is part of this crate's contract with itself.
pub(crate) const UNKNOWN_COUNTRY: &str = "not an ISO 3166-1 alpha-2 country code";
/// Prefix of the error message for an unknown currency code (see [`UNKNOWN_COUNTRY`]).
pub(crate) const UNKNOWN_CURRENCY: &str = "not an ISO 4217 currency code";

/// An ISO 3166-1 alpha-2 country code, upper case, known to exist.
///
/// Parsing accepts lower case (`"gh"`) and normalises it; anything that is not an assigned
/// ISO 3166-1 code is refused. Serialised as its two-letter string in every encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses a code, accepting lower case; `None` unless it is an assigned ISO 3166-1 code.
    #[must_use]
    pub fn parse(code: &str) -> Option<Self> {
        let [a, b] = *code.as_bytes() else {
            return None;
        };
        let upper = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
        let slot = slot(upper)?;
        ASSIGNED
            .get(slot)
            .copied()
            .unwrap_or(false)
            .then_some(Self(upper))
    }

    /// The upper-case code, e.g. `"GH"`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII letters that passed `parse` are ever stored, so this cannot fail; the
        // fallback keeps the function total without a panic path.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The ISO 3166-1 English short name, e.g. `"Ghana"`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        rust_iso3166::from_alpha2(self.as_str()).map_or("", |c| c.name)
    }

    /// Every assigned ISO 3166-1 code, sorted.
    #[must_use]
    pub fn all() -> Vec<CountryCode> {
        let mut all: Vec<CountryCode> = rust_iso3166::ALL
            .iter()
            .filter_map(|c| CountryCode::parse(c.alpha2))
            .collect();
        all.sort();
        all
    }
}

/// Index of a two-letter upper-case code in a 26 × 26 table.
fn slot([a, b]: [u8; 2]) -> Option<usize> {
    if !(a.is_ascii_uppercase() && b.is_ascii_uppercase()) {
        return None;
    }
    Some(usize::from(a - b'A') * 26 + usize::from(b - b'A'))
}

/// Which two-letter codes ISO 3166-1 assigns, from `rust_iso3166`, as a table: parsing a code is
/// on the hot path of decoding every stored event.
static ASSIGNED: LazyLock<[bool; 26 * 26]> = LazyLock::new(|| {
    let mut table = [false; 26 * 26];
    for country in rust_iso3166::ALL {
        if let [a, b] = *country.alpha2.as_bytes()
            && let Some(entry) = slot([a, b]).and_then(|i| table.get_mut(i))
        {
            *entry = true;
        }
    }
    table
});

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

/// The error of parsing an unknown country code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{UNKNOWN_COUNTRY}: {0:?}")]
pub struct UnknownCountry(pub String);

impl FromStr for CountryCode {
    type Err = UnknownCountry;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownCountry(s.to_owned()))
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;
        impl Visitor<'_> for CodeVisitor {
            type Value = CountryCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 3166-1 alpha-2 country code such as \"GH\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CountryCode, E> {
                CountryCode::parse(v).ok_or_else(|| E::custom(UnknownCountry(v.to_owned())))
            }
        }
        deserializer.deserialize_str(CodeVisitor)
    }
}

/// An ISO 4217 currency code, upper case, known to exist (e.g. `"EUR"`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CurrencyCode([u8; 3]);

impl CurrencyCode {
    /// Parses a code, accepting lower case; `None` unless ISO 4217 assigns it.
    #[must_use]
    pub fn parse(code: &str) -> Option<Self> {
        let bytes = code.as_bytes();
        let [a, b, c] = bytes else { return None };
        let upper = [
            a.to_ascii_uppercase(),
            b.to_ascii_uppercase(),
            c.to_ascii_uppercase(),
        ];
        let text = std::str::from_utf8(&upper).ok()?;
        iso_currency::Currency::from_code(text).map(|_| Self(upper))
    }

    /// The upper-case code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CurrencyCode({})", self.as_str())
    }
}

impl Serialize for CurrencyCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CurrencyCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;
        impl Visitor<'_> for CodeVisitor {
            type Value = CurrencyCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 4217 currency code such as \"EUR\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CurrencyCode, E> {
                CurrencyCode::parse(v)
                    .ok_or_else(|| E::custom(format_args!("{UNKNOWN_CURRENCY}: {v:?}")))
            }
        }
        deserializer.deserialize_str(CodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_case_is_normalised_and_unknown_codes_refused() {
        assert_eq!(
            CountryCode::parse("gh").map(|c| c.to_string()),
            Some("GH".into())
        );
        assert_eq!(CountryCode::parse("XX"), None);
        assert_eq!(CountryCode::parse("GHA"), None);
        assert_eq!(CountryCode::parse("é"), None);
        assert_eq!(
            CurrencyCode::parse("eur").map(|c| c.to_string()),
            Some("EUR".into())
        );
        assert_eq!(CurrencyCode::parse("EURO"), None);
        assert_eq!(CurrencyCode::parse("ZZZ"), None);
    }
}
