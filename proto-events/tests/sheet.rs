//! Spreadsheets (`proto_events::sheet`): rows become the same events as the staff JSON form;
//! Excel's and LibreOffice's exports read; every problem of every row is named by row, column
//! and header; ids left empty are derived from the documented content.

use std::collections::BTreeMap;

use proto_events::EventType;
use proto_events::schema::example;
use proto_events::sheet::{self, Options, Problem, Row, template::template};
use proto_events::staff::{Mode, parse_event, sheet_entity_id, sheet_event_id, sheet_row_content};
use proto_events::validate::Rule;
use serde_json::{Value, json};

fn options() -> Options {
    Options {
        event_type: None,
        recorded_by: None,
        today: jiff::civil::date(2026, 11, 1),
    }
}

fn read(text: &str) -> Result<Vec<Row>, Vec<Problem>> {
    sheet::read_all(text.as_bytes(), options())
}

fn problems(text: &str) -> Vec<(usize, String, String, Rule)> {
    read(text)
        .expect_err("problems")
        .into_iter()
        .map(|p| (p.row, p.column_name(), p.header.clone(), p.violation.rule))
        .collect()
}

const ACCRA: &str = "type,recorded_by,activity_id,kind,title,pillar,start,end,venue.city,venue.country,beneficiaries,participants.total,participants.women\n\
ActivityDelivered,staff.accra,0190f0a1-7c2e-7a10-8b3e-00000000a001,training,\"Police training, Accra\",capacity_building,2026-03-03,2026-03-05,Accra,GH,GH;NG,25,8\n";

#[test]
fn a_row_is_the_same_event_as_its_staff_json() {
    let rows = read(ACCRA).expect("the row reads");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].row, 2);
    let json = json!({"type": "ActivityDelivered", "recorded_by": "staff.accra",
        "event_id": rows[0].event.event_id, "activity_id": "0190f0a1-7c2e-7a10-8b3e-00000000a001",
        "kind": "training", "title": "Police training, Accra", "pillar": "capacity_building",
        "start": "2026-03-03", "end": "2026-03-05", "venue": {"city": "Accra", "country": "GH"},
        "beneficiaries": ["GH", "NG"], "participants": {"total": 25, "women": 8}});
    let (event, _) = parse_event(&json.to_string(), Mode::Staff, options().today).expect("JSON");
    assert_eq!(rows[0].event, event);
}

#[test]
fn excel_and_libreoffice_exports_read_the_same() {
    let plain = read(ACCRA).expect("plain");
    // Excel in a decimal-comma locale: BOM, `;`, CRLF, quoted cells, a blank row.
    let excel = "\u{feff}type;recorded_by;activity_id;kind;title;pillar;start;end;venue.city;venue.country;beneficiaries;participants.total;participants.women\r\n\
ActivityDelivered;staff.accra;0190f0a1-7c2e-7a10-8b3e-00000000a001;training;\"Police training; Accra\";capacity_building;2026-03-03;2026-03-05;Accra;GH;\"GH;NG\";25;8\r\n;;;;;;;;;;;;\r\n";
    let rows = read(excel).expect("the Excel export reads");
    assert_eq!(rows.len(), 1, "the blank row is skipped");
    let proto_events::Payload::Fact(proto_events::Fact::ActivityDelivered(a)) =
        &rows[0].event.payload
    else {
        panic!("a delivered activity");
    };
    assert_eq!(a.title, "Police training; Accra");
    assert_eq!(a.beneficiaries, plain_beneficiaries(&plain));
    // A line break inside a quoted cell stays in its cell (and the rules refuse it in a title).
    let broken = excel.replace("Police training; Accra", "Police training\r\nAccra");
    let found = problems(&broken);
    assert_eq!(
        found,
        vec![(
            2,
            "E".to_owned(),
            "title".to_owned(),
            Rule::ControlCharacter
        )]
    );
    // LibreOffice's `sep=` line names the separator.
    let libre = format!("sep=;\n{}", excel.trim_start_matches('\u{feff}'));
    let rows = read(&libre).expect("a sep= line");
    assert_eq!(rows[0].row, 3, "rows count the sep= line");
}

fn plain_beneficiaries(rows: &[Row]) -> Vec<proto_events::CountryCode> {
    match &rows[0].event.payload {
        proto_events::Payload::Fact(proto_events::Fact::ActivityDelivered(a)) => {
            a.beneficiaries.clone()
        }
        _ => panic!("a delivered activity"),
    }
}

#[test]
fn a_decimal_comma_is_read_in_a_semicolon_sheet() {
    let text = "type;recorded_by;case_id;on;milestone.kind;milestone.country;milestone.commodity;milestone.quantity_kg\n\
CaseMilestoneRecorded;staff;0190f0a1-7c2e-7a10-8b3e-00000000c001;2024-09-11;seizure;GW;cocaine;2630,5\n";
    let rows = read(text).expect("reads");
    match &rows[0].event.payload {
        proto_events::Payload::Fact(proto_events::Fact::CaseMilestoneRecorded(m)) => {
            assert_eq!(
                m.milestone,
                proto_events::values::Milestone::Seizure {
                    country: proto_events::CountryCode::parse("GW").expect("GW"),
                    commodity: proto_events::values::Commodity::Cocaine,
                    quantity_kg: 2630.5
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_problem_of_every_row_is_named_with_its_row_column_and_header() {
    let text = "type,recorded_by,kind,title,pillar,start,end,venue.city,venue.country,beneficiaries,participants.total,participants.women,colour\n\
ActivityDelivered,staff,trainnig,,capacity_building,2026-02-30,2026-03-05,Accra,GH,GH;NG,25,8,red\n\
ActivityDelivered,staff,training,Lagos,capacity_building,2026-03-03,2026-03-05,Lagos,NG,NG;XX,25,30,blue\n\
ActivityDelivered,staff,training,Abuja,capacity_building,2026-03-03,2026-03-04,virtual,,NG,12,\n";
    let found = problems(text);
    let expected = vec![
        (2, "C".to_owned(), "kind".to_owned(), Rule::InvalidValue),
        (2, "D".to_owned(), "title".to_owned(), Rule::MissingField),
        (2, "F".to_owned(), "start".to_owned(), Rule::InvalidDate),
        (2, "M".to_owned(), "colour".to_owned(), Rule::UnknownField),
        (
            3,
            "J".to_owned(),
            "beneficiaries".to_owned(),
            Rule::CountryCode,
        ),
        (
            3,
            "L".to_owned(),
            "participants.women".to_owned(),
            Rule::ParticipantsBreakdown,
        ),
    ];
    let mut sorted = found.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "{found:#?}");
    let all = read(text).expect_err("problems");
    let kind = all.iter().find(|p| p.header == "kind").expect("kind");
    for value in ["training", "workshop", "investigative_case_forum"] {
        assert!(
            kind.violation.value.contains(value),
            "the allowed values are named: {kind}"
        );
    }
    assert!(kind.violation.value.contains("trainnig"), "{kind}");
    let date = all.iter().find(|p| p.header == "start").expect("start");
    assert!(date.violation.value.contains("2026-02-30"), "{date}");
}

#[test]
fn a_missing_or_unknown_column_is_named_once_for_the_sheet() {
    let text = "type,recorded_by,kind,title,start,end,venue.city,venue.country,beneficiaries,participants.total,colour\n\
ActivityDelivered,staff,training,A,2026-03-03,2026-03-05,Accra,GH,GH,25,red\n\
ActivityDelivered,staff,training,B,2026-03-03,2026-03-05,Accra,GH,GH,25,blue\n";
    let mut found = problems(text);
    found.sort();
    assert_eq!(
        found,
        vec![
            (2, "-".to_owned(), "pillar".to_owned(), Rule::MissingField),
            (2, "K".to_owned(), "colour".to_owned(), Rule::UnknownField),
        ]
    );
    let all = read(text).expect_err("problems");
    let pillar = all.iter().find(|p| p.header == "pillar").expect("pillar");
    assert!(
        pillar.violation.value.contains("no pillar column"),
        "{pillar}"
    );
}

#[test]
fn type_and_recorder_come_from_columns_or_options() {
    let text = "country,joined_on,participation\nGH,2016-07-21,beneficiary\n";
    let found = problems(text);
    assert_eq!(
        found,
        vec![(2, "-".to_owned(), "type".to_owned(), Rule::MissingField)]
    );
    let typed = Options {
        event_type: Some(EventType::CountryJoined),
        ..options()
    };
    let err = sheet::read_all(text.as_bytes(), typed.clone()).expect_err("no recorder");
    assert_eq!(err.len(), 1);
    assert!(
        err[0].violation.value.contains("--recorded-by"),
        "{}",
        err[0]
    );
    let rows = sheet::read_all(
        text.as_bytes(),
        Options {
            recorded_by: Some("staff.accra".into()),
            ..typed
        },
    )
    .expect("reads");
    assert_eq!(rows[0].event.recorded_by, "staff.accra");
    let unknown = problems("type,recorded_by\nActivityDone,staff\n");
    assert_eq!(
        unknown,
        vec![(2, "A".to_owned(), "type".to_owned(), Rule::UnknownType)]
    );
}

#[test]
fn empty_ids_are_derived_from_the_documented_content() {
    let text = "type,recorded_by,kind,title,pillar,start,end,venue.city,venue.country,beneficiaries,participants.total\n\
ActivityDelivered,staff.accra,training,Accra,capacity_building,2026-03-03,2026-03-05,virtual,,GH;NG,25\n";
    let first = read(text).expect("reads");
    let again = read(&text.replace("staff.accra", "staff.vienna")).expect("reads");
    let cells: BTreeMap<String, String> = [
        ("type", "ActivityDelivered"),
        ("kind", "training"),
        ("title", "Accra"),
        ("pillar", "capacity_building"),
        ("start", "2026-03-03"),
        ("end", "2026-03-05"),
        ("venue.city", "virtual"),
        ("beneficiaries", "GH;NG"),
        ("participants.total", "25"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let content = sheet_row_content(&cells);
    assert_eq!(first[0].event.event_id, Some(sheet_event_id(&content)));
    assert_eq!(
        again[0].event.event_id, first[0].event.event_id,
        "the recorder is not content"
    );
    let stream = first[0]
        .event
        .payload
        .stream()
        .expect("a stream")
        .to_string();
    assert_eq!(stream, format!("activity/{}", sheet_entity_id(&content)));
    assert_ne!(sheet_entity_id(&content), sheet_event_id(&content));
}

#[test]
fn every_types_template_reads_back_into_its_example() {
    for t in EventType::ALL {
        let text = template(t, None, b',').expect("a template");
        assert!(text.starts_with('\u{feff}'), "{t}: a BOM for Excel");
        let rows = read(&text).unwrap_or_else(|p| panic!("{t}: {p:#?}\n{text}"));
        assert_eq!(rows.len(), 1, "{t}");
        let mut expected = example(t);
        let derived = proto_events::schema::event(t).derivable_entity_id();
        let read_back = proto_events::staff::to_staff_object(&rows[0].event);
        if let Some(id) = derived {
            expected.insert(id.into(), read_back[id].clone());
        }
        expected.insert("event_id".into(), read_back["event_id"].clone());
        let (want, _) = parse_event(
            &Value::Object(expected).to_string(),
            Mode::Staff,
            options().today,
        )
        .unwrap_or_else(|v| panic!("{t}: {v:?}"));
        assert_eq!(rows[0].event, want, "{t}");
    }
}

#[test]
fn a_correction_row_carries_its_replacement_as_columns() {
    let text = template(
        EventType::EventCorrected,
        Some(EventType::CountryJoined),
        b';',
    )
    .expect("a template");
    let header = text.lines().next().expect("a header");
    assert!(header.contains("replacement.joined_on"), "{header}");
    let rows = read(&text).expect("reads");
    match &rows[0].event.payload {
        proto_events::Payload::Corrected(c) => {
            assert_eq!(c.replacement.event_type(), EventType::CountryJoined)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rows_are_numbered_as_a_spreadsheet_shows_them() {
    // Row 2 is empty, row 3 has a cell with a line break, row 4 has the problem.
    let text = "type,recorded_by,country,joined_on,participation,source\n\
                \n\
                CountryJoined,staff,GH,2016-07-21,beneficiary,\"minutes,\npage 2\"\n\
                CountryJoined,staff,XX,2016-07-21,beneficiary,\n";
    let expected = |shift: usize| {
        vec![
            (
                3 + shift,
                "F".to_owned(),
                "source".to_owned(),
                Rule::ControlCharacter,
            ),
            (
                4 + shift,
                "C".to_owned(),
                "country".to_owned(),
                Rule::CountryCode,
            ),
        ]
    };
    assert_eq!(problems(text), expected(0));
    assert_eq!(problems(&text.replace('\n', "\r\n")), expected(0), "CRLF");
    assert_eq!(
        problems(&format!("sep=,\n{text}")),
        expected(1),
        "a sep= line is a row"
    );
    let unterminated = text.trim_end_matches('\n');
    assert_eq!(
        problems(unterminated),
        expected(0),
        "no line break at the end"
    );
}
