//! Region membership: reference data from the UN M49 table, resolved here, never stored in events.
//!
//! The table is `data/iso3166-m49.csv` (CC BY-SA 4.0, see `data/README.md`), embedded in the
//! binary and parsed once on first use.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::country::CountryCode;

/// The embedded M49 table, kept byte for byte as published.
const M49_CSV: &str = include_str!("data/iso3166-m49.csv");

/// A country's place in the UN M49 hierarchy, as 3-digit codes (leading zeros kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct M49 {
    /// Region, e.g. `"002"` (Africa); `None` for Antarctica.
    pub region: Option<String>,
    /// Sub-region, e.g. `"202"` (Sub-Saharan Africa).
    pub sub_region: Option<String>,
    /// Intermediate region, e.g. `"011"` (Western Africa); `None` where M49 has none.
    pub intermediate_region: Option<String>,
}

/// The regions the programme reports on (domain.md, "Regions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgrammeRegion {
    /// M49 sub-region 419: South America, Central America and the Caribbean.
    LatinAmericaCaribbean,
    /// M49 intermediate region 011, Western Africa.
    WestAfrica,
    /// The rest of Africa (M49 region 002 outside 011).
    OtherAfrica,
    /// M49 region 150.
    Europe,
    /// Everything else.
    Other,
}

impl ProgrammeRegion {
    /// Every programme region, in a fixed order.
    pub const ALL: [ProgrammeRegion; 5] = [
        ProgrammeRegion::Europe,
        ProgrammeRegion::LatinAmericaCaribbean,
        ProgrammeRegion::Other,
        ProgrammeRegion::OtherAfrica,
        ProgrammeRegion::WestAfrica,
    ];

    /// The snake_case name used in JSON, e.g. `"west_africa"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ProgrammeRegion::LatinAmericaCaribbean => "latin_america_caribbean",
            ProgrammeRegion::WestAfrica => "west_africa",
            ProgrammeRegion::OtherAfrica => "other_africa",
            ProgrammeRegion::Europe => "europe",
            ProgrammeRegion::Other => "other",
        }
    }

    fn from_m49(m49: &M49) -> Self {
        let is = |field: &Option<String>, code: &str| field.as_deref() == Some(code);
        if is(&m49.sub_region, "419") {
            ProgrammeRegion::LatinAmericaCaribbean
        } else if is(&m49.intermediate_region, "011") {
            ProgrammeRegion::WestAfrica
        } else if is(&m49.region, "002") {
            ProgrammeRegion::OtherAfrica
        } else if is(&m49.region, "150") {
            ProgrammeRegion::Europe
        } else {
            ProgrammeRegion::Other
        }
    }
}

impl fmt::Display for ProgrammeRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the M49 table, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInfo {
    /// The M49 codes.
    pub m49: M49,
    /// The programme region derived from them.
    pub programme_region: ProgrammeRegion,
}

#[derive(Deserialize)]
struct Row {
    #[serde(rename = "alpha-2")]
    alpha2: String,
    #[serde(rename = "region-code")]
    region: String,
    #[serde(rename = "sub-region-code")]
    sub_region: String,
    #[serde(rename = "intermediate-region-code")]
    intermediate_region: String,
}

fn code(field: String) -> Option<String> {
    (!field.is_empty()).then_some(field)
}

static TABLE: LazyLock<BTreeMap<CountryCode, RegionInfo>> = LazyLock::new(|| {
    let mut table = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(M49_CSV.as_bytes());
    // The table is compiled into the binary and checked by tests, so a row that does not parse
    // is a build defect; skipping it keeps lookups total (the country then falls in `other`).
    for row in reader.deserialize::<Row>().flatten() {
        let Some(country) = CountryCode::parse(&row.alpha2) else {
            continue;
        };
        let m49 = M49 {
            region: code(row.region),
            sub_region: code(row.sub_region),
            intermediate_region: code(row.intermediate_region),
        };
        let programme_region = ProgrammeRegion::from_m49(&m49);
        table.insert(
            country,
            RegionInfo {
                m49,
                programme_region,
            },
        );
    }
    table
});

/// The M49 row of a country; `None` only if the embedded table lacks it (a test forbids that).
#[must_use]
pub fn region_info(country: CountryCode) -> Option<&'static RegionInfo> {
    TABLE.get(&country)
}

/// The programme region of a country (`other` for a country missing from the table).
#[must_use]
pub fn programme_region(country: CountryCode) -> ProgrammeRegion {
    region_info(country).map_or(ProgrammeRegion::Other, |r| r.programme_region)
}

/// Every country of the embedded table.
#[must_use]
pub fn table_countries() -> Vec<CountryCode> {
    TABLE.keys().copied().collect()
}
