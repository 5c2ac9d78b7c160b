//! The IATI codelists the export uses, shipped in `codelists/` (sources and licence in its
//! README): the codes as named constants, and the lists themselves to check user-given codes
//! against.

use std::collections::BTreeMap;

/// A codelist: code → name.
pub type Codelist = BTreeMap<String, String>;

/// Every shipped list, by IATI name, as CSV text.
const LISTS: [(&str, &str); 12] = [
    (
        "ActivityDateType",
        include_str!("codelists/ActivityDateType.csv"),
    ),
    ("ActivityScope", include_str!("codelists/ActivityScope.csv")),
    (
        "ActivityStatus",
        include_str!("codelists/ActivityStatus.csv"),
    ),
    (
        "DescriptionType",
        include_str!("codelists/DescriptionType.csv"),
    ),
    (
        "GeographicLocationReach",
        include_str!("codelists/GeographicLocationReach.csv"),
    ),
    (
        "IndicatorMeasure",
        include_str!("codelists/IndicatorMeasure.csv"),
    ),
    (
        "OrganisationRole",
        include_str!("codelists/OrganisationRole.csv"),
    ),
    (
        "OrganisationType",
        include_str!("codelists/OrganisationType.csv"),
    ),
    (
        "RelatedActivityType",
        include_str!("codelists/RelatedActivityType.csv"),
    ),
    ("ResultType", include_str!("codelists/ResultType.csv")),
    ("Sector", include_str!("codelists/Sector.csv")),
    (
        "SectorVocabulary",
        include_str!("codelists/SectorVocabulary.csv"),
    ),
];

/// The shipped list named `name` (empty for a name not shipped).
#[must_use]
pub fn list(name: &str) -> Codelist {
    let Some((_, text)) = LISTS.iter().find(|(n, _)| *n == name) else {
        return Codelist::new();
    };
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .filter_map(Result::ok)
        .filter_map(|r| Some((r.get(0)?.to_owned(), r.get(1)?.to_owned())))
        .collect()
}

/// ActivityStatus: pipeline/identification (a scheduled activity).
pub const STATUS_PIPELINE: &str = "1";
/// ActivityStatus: implementation (the programme).
pub const STATUS_IMPLEMENTATION: &str = "2";
/// ActivityStatus: finalisation (a delivered activity: done, reporting goes on).
pub const STATUS_FINALISATION: &str = "3";
/// ActivityStatus: cancelled.
pub const STATUS_CANCELLED: &str = "5";

/// ActivityDateType: planned start.
pub const DATE_PLANNED_START: &str = "1";
/// ActivityDateType: actual start.
pub const DATE_ACTUAL_START: &str = "2";
/// ActivityDateType: planned end.
pub const DATE_PLANNED_END: &str = "3";
/// ActivityDateType: actual end.
pub const DATE_ACTUAL_END: &str = "4";

/// ActivityScope: regional (one programme region).
pub const SCOPE_REGIONAL: &str = "2";
/// ActivityScope: multi-national (across programme regions).
pub const SCOPE_MULTINATIONAL: &str = "3";
/// ActivityScope: national (one country).
pub const SCOPE_NATIONAL: &str = "4";

/// DescriptionType: general.
pub const DESCRIPTION_GENERAL: &str = "1";

/// OrganisationRole: funding.
pub const ROLE_FUNDING: &str = "1";
/// OrganisationRole: accountable.
pub const ROLE_ACCOUNTABLE: &str = "2";
/// OrganisationRole: implementing.
pub const ROLE_IMPLEMENTING: &str = "4";

/// OrganisationType: multilateral (the default reporting organisation type).
pub const ORG_MULTILATERAL: &str = "40";

/// RelatedActivityType: parent.
pub const RELATED_PARENT: &str = "1";
/// RelatedActivityType: child.
pub const RELATED_CHILD: &str = "2";

/// ResultType: output.
pub const RESULT_OUTPUT: &str = "1";
/// ResultType: outcome.
pub const RESULT_OUTCOME: &str = "2";

/// IndicatorMeasure: unit.
pub const MEASURE_UNIT: &str = "1";

/// SectorVocabulary: OECD DAC CRS purpose codes, 5 digits.
pub const SECTOR_VOCABULARY_DAC5: &str = "1";
/// Sector: legal and judicial development (police, prosecution, judiciary).
pub const SECTOR_JUSTICE: &str = "15130";
/// Sector: anti-corruption organisations and institutions (the institutional integrity pillar).
pub const SECTOR_ANTI_CORRUPTION: &str = "15113";

/// GeographicLocationReach: the activity happens there.
pub const REACH_ACTIVITY: &str = "1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_used_is_in_its_shipped_list() {
        let used = [
            ("ActivityStatus", STATUS_PIPELINE),
            ("ActivityStatus", STATUS_IMPLEMENTATION),
            ("ActivityStatus", STATUS_FINALISATION),
            ("ActivityStatus", STATUS_CANCELLED),
            ("ActivityDateType", DATE_PLANNED_START),
            ("ActivityDateType", DATE_ACTUAL_START),
            ("ActivityDateType", DATE_PLANNED_END),
            ("ActivityDateType", DATE_ACTUAL_END),
            ("ActivityScope", SCOPE_REGIONAL),
            ("ActivityScope", SCOPE_MULTINATIONAL),
            ("ActivityScope", SCOPE_NATIONAL),
            ("DescriptionType", DESCRIPTION_GENERAL),
            ("OrganisationRole", ROLE_FUNDING),
            ("OrganisationRole", ROLE_ACCOUNTABLE),
            ("OrganisationRole", ROLE_IMPLEMENTING),
            ("OrganisationType", ORG_MULTILATERAL),
            ("RelatedActivityType", RELATED_PARENT),
            ("RelatedActivityType", RELATED_CHILD),
            ("ResultType", RESULT_OUTPUT),
            ("ResultType", RESULT_OUTCOME),
            ("IndicatorMeasure", MEASURE_UNIT),
            ("SectorVocabulary", SECTOR_VOCABULARY_DAC5),
            ("Sector", SECTOR_JUSTICE),
            ("Sector", SECTOR_ANTI_CORRUPTION),
            ("GeographicLocationReach", REACH_ACTIVITY),
        ];
        for (name, code) in used {
            assert!(
                list(name).contains_key(code),
                "{name} {code} is not in codelists/{name}.csv"
            );
        }
        for (name, _) in LISTS {
            assert!(list(name).len() >= 2, "{name} parses");
        }
        assert_eq!(
            list("OrganisationType")["80"],
            "Academic, Training and Research"
        );
        assert!(list("NoSuchList").is_empty());
    }
}
