//! Region membership from the embedded UN M49 table (domain.md, "Regions").

use std::collections::BTreeSet;

use proto_events::regions::{self, ProgrammeRegion};
use proto_events::{CountryCode, M49};

/// The same table the crate embeds, read independently of the crate's parser.
const M49_CSV: &str = include_str!("../src/data/iso3166-m49.csv");

fn cc(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap_or_else(|| panic!("{code} is not an ISO code"))
}

fn m49(code: &str) -> &'static M49 {
    &regions::region_info(cc(code))
        .unwrap_or_else(|| panic!("{code} has no row"))
        .m49
}

fn code(text: &str) -> Option<String> {
    Some(text.to_owned())
}

#[test]
fn every_iso_country_has_a_row() {
    let missing: Vec<CountryCode> = CountryCode::all()
        .into_iter()
        .filter(|c| regions::region_info(*c).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "countries without an M49 row: {missing:?}"
    );
    assert!(
        CountryCode::all().len() >= 249,
        "ISO 3166-1 has 249 codes, got {}",
        CountryCode::all().len()
    );
}

#[test]
fn the_table_has_no_country_outside_iso_and_no_duplicate_rows() {
    let mut reader = csv::Reader::from_reader(M49_CSV.as_bytes());
    let headers = reader.headers().expect("header row").clone();
    let alpha2 = headers
        .iter()
        .position(|h| h == "alpha-2")
        .expect("an alpha-2 column");
    let mut seen = BTreeSet::new();
    let mut outside = Vec::new();
    for record in reader.records() {
        let record = record.expect("a well-formed row");
        let code = record.get(alpha2).expect("alpha-2 cell");
        match CountryCode::parse(code) {
            Some(c) if c.as_str() == code => {
                assert!(seen.insert(c), "{code} has two rows");
            }
            _ => outside.push(code.to_owned()),
        }
    }
    assert!(outside.is_empty(), "rows outside ISO 3166-1: {outside:?}");
    let iso: BTreeSet<CountryCode> = CountryCode::all().into_iter().collect();
    assert_eq!(
        seen, iso,
        "the table and ISO 3166-1 list different countries"
    );
}

#[test]
fn programme_regions_of_reference_countries() {
    let expected = [
        ("MX", ProgrammeRegion::LatinAmericaCaribbean),
        ("DO", ProgrammeRegion::LatinAmericaCaribbean),
        ("BR", ProgrammeRegion::LatinAmericaCaribbean),
        ("BO", ProgrammeRegion::LatinAmericaCaribbean),
        ("PA", ProgrammeRegion::LatinAmericaCaribbean),
        ("ET", ProgrammeRegion::OtherAfrica),
        ("EG", ProgrammeRegion::OtherAfrica),
        ("ST", ProgrammeRegion::OtherAfrica),
        ("ES", ProgrammeRegion::Europe),
        ("PT", ProgrammeRegion::Europe),
        ("BE", ProgrammeRegion::Europe),
        ("CV", ProgrammeRegion::WestAfrica),
        ("GH", ProgrammeRegion::WestAfrica),
        ("GW", ProgrammeRegion::WestAfrica),
        ("NG", ProgrammeRegion::WestAfrica),
        ("GM", ProgrammeRegion::WestAfrica),
        ("LR", ProgrammeRegion::WestAfrica),
        ("US", ProgrammeRegion::Other),
        ("AQ", ProgrammeRegion::Other),
        ("AU", ProgrammeRegion::Other),
        ("TW", ProgrammeRegion::Other),
    ];
    let wrong: Vec<String> = expected
        .iter()
        .filter_map(|(code, region)| {
            let found = regions::programme_region(cc(code));
            (found != *region).then(|| format!("{code}: {found}, expected {region}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
}

#[test]
fn m49_codes_are_three_digit_strings_with_leading_zeros() {
    assert_eq!(
        m49("CV"),
        &M49 {
            region: code("002"),
            sub_region: code("202"),
            intermediate_region: code("011"),
        }
    );
    assert_eq!(
        m49("MX"),
        &M49 {
            region: code("019"),
            sub_region: code("419"),
            intermediate_region: code("013"),
        }
    );
    assert_eq!(
        m49("ES"),
        &M49 {
            region: code("150"),
            sub_region: code("039"),
            intermediate_region: None,
        }
    );
    assert_eq!(
        m49("AQ"),
        &M49 {
            region: None,
            sub_region: None,
            intermediate_region: None,
        },
        "Antarctica has no region"
    );
    for country in CountryCode::all() {
        let m = m49(country.as_str());
        for (what, value) in [
            ("region", &m.region),
            ("sub_region", &m.sub_region),
            ("intermediate_region", &m.intermediate_region),
        ] {
            if let Some(v) = value {
                assert!(
                    v.len() == 3 && v.bytes().all(|b| b.is_ascii_digit()),
                    "{country} {what} {v:?} is not a 3-digit code"
                );
            }
        }
        // M49 gives Antarctica no region and does not list Taiwan (the upstream table leaves its
        // codes empty); both fall in `other`.
        assert!(
            m.region.is_some() || ["AQ", "TW"].contains(&country.as_str()),
            "{country} has no region"
        );
        assert!(
            m.region.is_some() == m.sub_region.is_some(),
            "{country}: region {:?} but sub-region {:?}",
            m.region,
            m.sub_region
        );
    }
}

#[test]
fn programme_region_follows_the_domain_rule_for_every_country() {
    // domain.md: 419 → LAC; intermediate 011 → west_africa; region 002 otherwise →
    // other_africa; region 150 → europe; anything else → other.
    for country in CountryCode::all() {
        let m = m49(country.as_str());
        let is = |v: &Option<String>, c: &str| v.as_deref() == Some(c);
        let expected = if is(&m.sub_region, "419") {
            assert!(
                ["005", "013", "029"]
                    .iter()
                    .any(|c| is(&m.intermediate_region, c)),
                "{country}: LAC outside South America, Central America, Caribbean: {m:?}"
            );
            "latin_america_caribbean"
        } else if is(&m.intermediate_region, "011") {
            "west_africa"
        } else if is(&m.region, "002") {
            "other_africa"
        } else if is(&m.region, "150") {
            "europe"
        } else {
            "other"
        };
        assert_eq!(
            regions::programme_region(country).as_str(),
            expected,
            "{country}: {m:?}"
        );
    }
}

#[test]
fn programme_region_names() {
    let names: Vec<&str> = ProgrammeRegion::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "europe",
            "latin_america_caribbean",
            "other",
            "other_africa",
            "west_africa"
        ]
    );
    for region in ProgrammeRegion::ALL {
        assert_eq!(
            serde_json::to_value(region).expect("json"),
            serde_json::Value::String(region.as_str().to_owned())
        );
    }
    let west_africa = CountryCode::all()
        .into_iter()
        .filter(|c| regions::programme_region(*c) == ProgrammeRegion::WestAfrica)
        .count();
    // ECOWAS members plus Mauritania and Saint Helena: M49 Western Africa has 17 countries.
    assert_eq!(west_africa, 17, "M49 intermediate region 011");
}
