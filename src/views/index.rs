//! Dense numbering of countries and regions, so the views fold into arrays instead of maps.

use std::sync::LazyLock;

use proto_events::regions::programme_region;
use proto_events::{CountryCode, ProgrammeRegion};

/// Every ISO 3166-1 country, sorted; a country's index is its position here.
static COUNTRIES: LazyLock<Vec<CountryCode>> = LazyLock::new(CountryCode::all);

/// `LOOKUP[(a - 'A') * 26 + (b - 'A')]` is the index of country `ab`.
static LOOKUP: LazyLock<Vec<u16>> = LazyLock::new(|| {
    let mut table = vec![u16::MAX; 26 * 26];
    for (i, c) in COUNTRIES.iter().enumerate() {
        if let (Some(slot), Ok(i)) = (slot(*c), u16::try_from(i))
            && let Some(entry) = table.get_mut(slot)
        {
            *entry = i;
        }
    }
    table
});

/// Programme region index of each country index.
static REGION_OF: LazyLock<Vec<u8>> = LazyLock::new(|| {
    COUNTRIES
        .iter()
        .map(|c| region_index(programme_region(*c)))
        .collect()
});

fn slot(c: CountryCode) -> Option<usize> {
    let [a, b] = *c.as_str().as_bytes() else {
        return None;
    };
    Some(usize::from(a.checked_sub(b'A')?) * 26 + usize::from(b.checked_sub(b'A')?))
}

/// Number of countries.
#[must_use]
pub fn country_count() -> usize {
    COUNTRIES.len()
}

/// The index of a country.
#[must_use]
pub fn country_index(c: CountryCode) -> usize {
    slot(c)
        .and_then(|s| LOOKUP.get(s))
        .map_or(0, |i| usize::from(*i))
}

/// The country at an index.
#[must_use]
pub fn country_at(i: usize) -> Option<CountryCode> {
    COUNTRIES.get(i).copied()
}

/// Number of programme regions.
pub const REGIONS: usize = ProgrammeRegion::ALL.len();

/// The index of a programme region (its position in [`ProgrammeRegion::ALL`], sorted by name).
#[must_use]
pub fn region_index(r: ProgrammeRegion) -> u8 {
    match r {
        ProgrammeRegion::Europe => 0,
        ProgrammeRegion::LatinAmericaCaribbean => 1,
        ProgrammeRegion::Other => 2,
        ProgrammeRegion::OtherAfrica => 3,
        ProgrammeRegion::WestAfrica => 4,
    }
}

/// The programme region index of a country index.
#[must_use]
pub fn region_of(country: usize) -> usize {
    REGION_OF.get(country).map_or(2, |r| usize::from(*r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_has_its_own_index_and_regions_are_sorted_by_name() {
        for (i, c) in COUNTRIES.iter().enumerate() {
            assert_eq!(country_index(*c), i, "{c}");
            assert_eq!(country_at(i), Some(*c));
        }
        for (i, r) in ProgrammeRegion::ALL.iter().enumerate() {
            assert_eq!(usize::from(region_index(*r)), i);
        }
        let names: Vec<&str> = ProgrammeRegion::ALL.iter().map(|r| r.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }
}
