//! The description of the staff form (`proto_events::schema`) agrees with the parser field by
//! field: every example parses and passes the rules; every required field left out is
//! `missing_field` at its path; every optional one may be left out or given; every allowed
//! value is accepted and another one refused; a field the description lacks is `unknown_field`.
//! The rules' names, kinds and meanings come from one declaration.

use proto_events::EventType;
use proto_events::schema::{self, Column, Shape, columns, example};
use proto_events::staff::{Mode, from_object, parse_event};
use proto_events::validate::{Rule, RuleKind};
use serde_json::{Map, Value, json};

fn today() -> proto_events::Date {
    jiff::civil::date(2026, 11, 1)
}

fn sample(shape: &Shape) -> Value {
    assert!(
        !matches!(shape, Shape::Object(_) | Shape::Venue(_) | Shape::Tagged(_)),
        "columns are leaves"
    );
    schema::sample(shape)
}

fn path_of(path: &str) -> Vec<&str> {
    path.split('.').collect()
}

fn get<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path_of(path).into_iter();
    let mut current = object.get(parts.next()?)?;
    for part in parts {
        current = current.get(part)?;
    }
    Some(current)
}

fn set(object: &mut Map<String, Value>, path: &str, value: Value) {
    let parts = path_of(path);
    let (last, parents) = parts.split_last().expect("a path");
    let mut current = object;
    for part in parents {
        current = current
            .entry(*part)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("an object on the path");
    }
    current.insert((*last).to_owned(), value);
}

fn remove(object: &mut Map<String, Value>, path: &str) {
    let parts = path_of(path);
    let (last, parents) = parts.split_last().expect("a path");
    let mut current = object;
    for part in parents {
        current = current
            .get_mut(*part)
            .and_then(Value::as_object_mut)
            .expect("an object on the path");
    }
    current.remove(*last);
}

/// The columns that apply to this example: a milestone's columns only for its kind, a venue's
/// only when it is a place.
fn applicable<'a>(columns: &'a [Column], object: &Map<String, Value>) -> Vec<&'a Column> {
    let kind = get(object, "milestone.kind").and_then(Value::as_str);
    columns
        .iter()
        .filter(|c| c.kinds.is_empty() || kind.is_some_and(|k| c.kinds.contains(&k)))
        .filter(|c| {
            !c.path.starts_with("venue.") || get(object, "venue").is_some_and(Value::is_object)
        })
        .collect()
}

fn structure(object: &Map<String, Value>) -> Result<(), proto_events::Violation> {
    from_object(object.clone(), Mode::Staff).map(|_| ())
}

#[test]
fn every_example_parses_and_passes_every_rule() {
    for t in EventType::ALL {
        let text = Value::Object(example(t)).to_string();
        let parsed = parse_event(&text, Mode::Staff, today());
        assert!(parsed.is_ok(), "{t}: {parsed:?}");
        assert_eq!(parsed.map(|(e, _)| e.payload.event_type()).ok(), Some(t));
    }
}

#[test]
fn a_required_field_left_out_is_missing_at_its_path() {
    for s in schema::events() {
        let base = example(s.event_type);
        for c in applicable(&columns(&s.all_fields()), &base) {
            if !c.required || c.path == "type" || (c.in_optional && get(&base, &c.path).is_none()) {
                continue;
            }
            let mut object = base.clone();
            assert!(
                get(&object, &c.path).is_some(),
                "{}: the example gives {}",
                s.event_type,
                c.path
            );
            remove(&mut object, &c.path);
            let err =
                structure(&object).expect_err(&format!("{} without {}", s.event_type, c.path));
            assert_eq!(
                (err.field.as_str(), err.rule),
                (c.path.as_str(), Rule::MissingField),
                "{} without {}: {err}",
                s.event_type,
                c.path
            );
        }
    }
}

#[test]
fn every_optional_field_may_be_left_out_or_given() {
    for s in schema::events() {
        let base = example(s.event_type);
        let all = columns(&s.all_fields());
        let fields = applicable(&all, &base);
        let mut full = base.clone();
        for c in &fields {
            if c.required && !c.in_optional {
                continue;
            }
            let mut without = base.clone();
            if !c.required && get(&without, &c.path).is_some() {
                remove(&mut without, &c.path);
                assert!(
                    structure(&without).is_ok(),
                    "{} without {}",
                    s.event_type,
                    c.path
                );
            }
            if get(&full, &c.path).is_none() {
                set(&mut full, &c.path, sample(&c.shape));
            }
        }
        assert_eq!(
            structure(&full),
            Ok(()),
            "{} with every field",
            s.event_type
        );
    }
}

#[test]
fn every_allowed_value_is_accepted_and_another_refused() {
    for s in schema::events() {
        let base = example(s.event_type);
        for c in applicable(&columns(&s.all_fields()), &base) {
            let (Shape::Choice(values) | Shape::Choices(values)) = &c.shape else {
                continue;
            };
            if c.path == "type" || c.path == "milestone.kind" {
                continue;
            }
            let many = matches!(c.shape, Shape::Choices(_));
            for v in values {
                let mut object = base.clone();
                set(
                    &mut object,
                    &c.path,
                    if many { json!([v]) } else { json!(v) },
                );
                assert_eq!(
                    structure(&object),
                    Ok(()),
                    "{} {} = {v}",
                    s.event_type,
                    c.path
                );
            }
            let mut object = base.clone();
            let wrong = json!("no_such_value");
            set(
                &mut object,
                &c.path,
                if many { json!([wrong]) } else { wrong },
            );
            let err = structure(&object).expect_err("an unknown value");
            assert_eq!(
                err.rule,
                Rule::InvalidValue,
                "{} {}: {err}",
                s.event_type,
                c.path
            );
            assert!(
                err.field.starts_with(&c.path),
                "{} {}: {err}",
                s.event_type,
                c.path
            );
            for v in values {
                assert!(
                    err.value.contains(v),
                    "{}: the error names {v}: {err}",
                    c.path
                );
            }
        }
    }
}

#[test]
fn every_milestone_kind_reads_with_exactly_its_fields() {
    let s = schema::event(EventType::CaseMilestoneRecorded);
    let Some(Shape::Tagged(variants)) = s
        .fields
        .iter()
        .find(|f| f.name == "milestone")
        .map(|f| &f.shape)
    else {
        panic!("the milestone is tagged");
    };
    assert_eq!(variants.len(), 10, "every kind of the parser is described");
    for v in variants {
        let mut milestone = Map::new();
        milestone.insert("kind".into(), json!(v.kind));
        for f in &v.fields {
            milestone.insert(f.name.into(), sample(&f.shape));
        }
        let mut object = example(EventType::CaseMilestoneRecorded);
        object.insert("milestone".into(), Value::Object(milestone.clone()));
        assert_eq!(structure(&object), Ok(()), "{}", v.kind);
        milestone.insert("zz".into(), json!(1));
        object.insert("milestone".into(), Value::Object(milestone));
        let err = structure(&object).expect_err("an unknown milestone field");
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("milestone.zz", Rule::UnknownField),
            "{}",
            v.kind
        );
    }
}

#[test]
fn a_field_the_description_lacks_is_unknown() {
    for t in EventType::ALL {
        let mut object = example(t);
        object.insert("zz".into(), json!("x"));
        let err = structure(&object).expect_err("an unknown field");
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("zz", Rule::UnknownField),
            "{t}"
        );
    }
}

#[test]
fn the_templates_columns_flatten_objects_and_list_every_milestone_field_once() {
    let delivered = columns(&schema::event(EventType::ActivityDelivered).fields);
    let paths: Vec<&str> = delivered.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "activity_id",
            "kind",
            "title",
            "pillar",
            "start",
            "end",
            "venue.city",
            "venue.country",
            "beneficiaries",
            "other_countries",
            "participants.total",
            "participants.women",
            "participants.men",
            "institutions"
        ]
    );
    let milestone = columns(&schema::event(EventType::CaseMilestoneRecorded).fields);
    let paths: Vec<&str> = milestone.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "case_id",
            "on",
            "milestone.kind",
            "milestone.from",
            "milestone.to",
            "milestone.country",
            "milestone.countries",
            "milestone.commodity",
            "milestone.quantity_kg",
            "milestone.count",
            "milestone.amount",
            "milestone.currency"
        ]
    );
    let country = milestone
        .iter()
        .find(|c| c.path == "milestone.country")
        .expect("country");
    assert_eq!(country.kinds.len(), 6, "{country:?}");
}

#[test]
fn rules_have_one_name_kind_and_meaning_each() {
    let mut names = std::collections::BTreeSet::new();
    for rule in Rule::ALL {
        assert!(names.insert(rule.as_str()), "{rule} named twice");
        assert_eq!(serde_json::to_value(rule).ok(), Some(json!(rule.as_str())));
        assert!(
            rule.meaning().len() > 10 && !rule.meaning().starts_with(' '),
            "{rule}: {}",
            rule.meaning()
        );
    }
    assert_eq!(Rule::ALL.len(), 56);
    assert_eq!(Rule::MissingField.kind(), RuleKind::Structural);
    assert_eq!(Rule::StartAfterEnd.kind(), RuleKind::Intrinsic);
    assert_eq!(Rule::CaseNotOpen.kind(), RuleKind::Contextual);
    assert_eq!(Rule::ExportNotVerified.kind(), RuleKind::Contextual);
    assert_eq!(Rule::MissingField.meaning(), "A required field is absent.");
}

/// Every field of a fact's struct, optional ones included (serde writes `None` as `null`), with
/// the fields of nested objects as paths.
fn struct_fields(fact: &proto_events::Fact) -> std::collections::BTreeSet<String> {
    use proto_events::Fact;
    let value = match fact {
        Fact::PartnerRegistered(e) => serde_json::to_value(e),
        Fact::CountryJoined(e) => serde_json::to_value(e),
        Fact::ParticipationChanged(e) => serde_json::to_value(e),
        Fact::MeetingHeld(e) => serde_json::to_value(e),
        Fact::ActivityScheduled(e) => serde_json::to_value(e),
        Fact::ActivityDelivered(e) => serde_json::to_value(e),
        Fact::ActivityCancelled(e) => serde_json::to_value(e),
        Fact::CaseOpened(e) => serde_json::to_value(e),
        Fact::CaseCountryAdded(e) => serde_json::to_value(e),
        Fact::CaseMilestoneRecorded(e) => serde_json::to_value(e),
        Fact::CaseClosed(e) => serde_json::to_value(e),
    }
    .expect("serialises");
    let mut out = std::collections::BTreeSet::new();
    for (name, v) in value.as_object().expect("an object") {
        match v {
            // A milestone's fields depend on its kind; they are checked kind by kind above.
            Value::Object(inner) if name != "milestone" => {
                out.extend(inner.keys().map(|k| format!("{name}.{k}")));
            }
            _ => {
                out.insert(name.clone());
            }
        }
    }
    out
}

#[test]
fn the_description_has_every_field_of_every_struct_and_nothing_else() {
    for s in schema::events()
        .into_iter()
        .filter(|s| s.event_type.is_fact())
    {
        let text = Value::Object(example(s.event_type)).to_string();
        let (event, _) = parse_event(&text, Mode::Staff, today()).expect("the example parses");
        let fact = event.payload.as_fact().expect("a fact").clone();
        let described: std::collections::BTreeSet<String> = columns(&s.fields)
            .into_iter()
            .map(|c| c.path)
            .map(|p| {
                if p.starts_with("milestone.") {
                    "milestone".to_owned()
                } else {
                    p
                }
            })
            .collect();
        assert_eq!(struct_fields(&fact), described, "{}", s.event_type);
    }
}
