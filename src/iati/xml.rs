//! Writing the `iati-activities` document (quick-xml), elements in the order of the IATI 2.03
//! activity schema's sequences.

use std::collections::BTreeMap;
use std::io;

use proto_events::regions::programme_region;
use proto_events::values::{PartnerRole, Pillar, Venue};
use proto_events::{CountryCode, Date, Timestamp};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::codelists as code;
use super::{Activity, Options, Programme, Stage};
use crate::ledger::Resolved;

type W = Writer<Vec<u8>>;

fn datetime(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn empty(w: &mut W, element: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
    w.create_element(element)
        .with_attributes(attrs.iter().copied())
        .write_empty()?;
    Ok(())
}

/// An element holding one narrative.
fn narrative(w: &mut W, element: &str, attrs: &[(&str, &str)], text: &str) -> io::Result<()> {
    w.create_element(element)
        .with_attributes(attrs.iter().copied())
        .write_inner_content(|w| {
            w.create_element("narrative")
                .write_text_content(BytesText::new(text))?;
            Ok(())
        })?;
    Ok(())
}

fn date(w: &mut W, kind: &str, day: Date) -> io::Result<()> {
    empty(
        w,
        "activity-date",
        &[("type", kind), ("iso-date", &day.to_string())],
    )
}

fn codes(list: &[CountryCode]) -> String {
    list.iter()
        .map(CountryCode::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Equal shares of 100 % with two decimals, the rounding left to the first, so they sum to 100.
fn shares(n: usize) -> Vec<String> {
    let n = n.max(1) as u64;
    let each = 10_000 / n;
    (0..n)
        .map(|i| {
            let hundredths = if i == 0 {
                10_000 - each * (n - 1)
            } else {
                each
            };
            format!("{}.{:02}", hundredths / 100, hundredths % 100)
        })
        .collect()
}

/// National (one country), regional (one programme region) or multi-national.
fn scope(countries: &[CountryCode]) -> &'static str {
    let mut regions: Vec<_> = countries.iter().map(|c| programme_region(*c)).collect();
    regions.sort_unstable();
    regions.dedup();
    match (countries.len(), regions.len()) {
        (0 | 1, _) => code::SCOPE_NATIONAL,
        (_, 1) => code::SCOPE_REGIONAL,
        _ => code::SCOPE_MULTINATIONAL,
    }
}

fn role(r: PartnerRole) -> &'static str {
    match r {
        PartnerRole::Funding => code::ROLE_FUNDING,
        PartnerRole::Accountable => code::ROLE_ACCOUNTABLE,
        PartnerRole::Implementing => code::ROLE_IMPLEMENTING,
    }
}

fn sector(pillar: Option<Pillar>) -> &'static str {
    match pillar {
        Some(Pillar::InstitutionalIntegrity) => code::SECTOR_ANTI_CORRUPTION,
        _ => code::SECTOR_JUSTICE,
    }
}

fn reporting_org(w: &mut W, options: &Options, name: &str) -> io::Result<()> {
    narrative(
        w,
        "reporting-org",
        &[("ref", options.org_ref.trim()), ("type", &options.org_type)],
        name,
    )
}

/// The partners with each of their roles; without partners, the reporting organisation as
/// accountable (the schema needs one participating organisation).
fn participating(w: &mut W, p: &Programme, options: &Options, name: &str) -> io::Result<()> {
    let mut any = false;
    for partner in &p.partners {
        for r in &partner.roles {
            narrative(w, "participating-org", &[("role", role(*r))], &partner.name)?;
            any = true;
        }
    }
    if !any {
        narrative(
            w,
            "participating-org",
            &[
                ("role", code::ROLE_ACCOUNTABLE),
                ("ref", options.org_ref.trim()),
            ],
            name,
        )?;
    }
    Ok(())
}

/// One period of an indicator: start, end, total, and women and men where known.
type Value = (Date, Date, u64, Option<u64>, Option<u64>);

/// One indicator with one period per entry of `values`.
fn indicator(w: &mut W, title: &str, values: &[Value]) -> io::Result<()> {
    w.create_element("indicator")
        .with_attributes([("measure", code::MEASURE_UNIT), ("ascending", "1")])
        .write_inner_content(|w| {
            narrative(w, "title", &[], title)?;
            for (start, end, total, women, men) in values {
                w.create_element("period").write_inner_content(|w| {
                    empty(w, "period-start", &[("iso-date", &start.to_string())])?;
                    empty(w, "period-end", &[("iso-date", &end.to_string())])?;
                    empty(w, "actual", &[("value", &total.to_string())])?;
                    for (sex, n) in [("female", women), ("male", men)] {
                        if let Some(n) = n {
                            w.create_element("actual")
                                .with_attribute(("value", n.to_string().as_str()))
                                .write_inner_content(|w| {
                                    empty(w, "dimension", &[("name", "sex"), ("value", sex)])
                                })?;
                        }
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(())
}

fn year(y: i16) -> (Date, Date) {
    (jiff::civil::date(y, 1, 1), jiff::civil::date(y, 12, 31))
}

fn parent(w: &mut W, p: &Programme, options: &Options, point: Resolved) -> io::Result<()> {
    let accountable = p
        .partners
        .iter()
        .find(|x| x.roles.contains(&PartnerRole::Accountable))
        .map(|x| x.name.clone());
    let org_name = accountable
        .clone()
        .unwrap_or_else(|| options.org_ref.trim().to_owned());
    let title = options.title.clone().unwrap_or_else(|| match &accountable {
        Some(name) => format!("Cooperation programme of {name}"),
        None => "Cooperation programme".to_owned(),
    });
    let id = format!("{}-programme", options.org_ref.trim());
    let count = |s: Stage| p.activities.iter().filter(|a| a.stage == s).count();
    let description = format!(
        "{} activities ({} delivered, {} scheduled, {} cancelled), from an append-only, \
         hash-chained ledger of the programme (coopledger). Cases between countries are \
         reported only as yearly counts: their details are not public.",
        p.activities.len(),
        count(Stage::Delivered),
        count(Stage::Scheduled),
        count(Stage::Cancelled)
    );
    let mut attrs = vec![("xml:lang", "en".to_owned()), ("hierarchy", "1".to_owned())];
    if let Some(t) = p.last_recorded {
        attrs.push(("last-updated-datetime", datetime(t)));
    }
    w.create_element("iati-activity")
        .with_attributes(attrs.iter().map(|(k, v)| (*k, v.as_str())))
        .write_inner_content(|w| {
            w.create_element("iati-identifier")
                .write_text_content(BytesText::new(&id))?;
            reporting_org(w, options, &org_name)?;
            narrative(w, "title", &[], &title)?;
            narrative(
                w,
                "description",
                &[("type", code::DESCRIPTION_GENERAL)],
                &description,
            )?;
            participating(w, p, options, &org_name)?;
            empty(
                w,
                "activity-status",
                &[("code", code::STATUS_IMPLEMENTATION)],
            )?;
            // The programme started with its first partner or its first activity.
            let first = p
                .activities
                .iter()
                .filter_map(|a| a.actual.or(a.planned).map(|d| d.0))
                .chain(p.partners.iter().map(|x| x.since))
                .min();
            match first {
                Some(day) => date(w, code::DATE_ACTUAL_START, day)?,
                None => date(
                    w,
                    code::DATE_PLANNED_START,
                    point.on.unwrap_or_else(|| {
                        jiff::tz::TimeZone::UTC
                            .to_datetime(options.generated_at)
                            .date()
                    }),
                )?,
            }
            let mut all: Vec<CountryCode> = p
                .activities
                .iter()
                .flat_map(|a| a.beneficiaries.iter().chain(&a.other_countries).copied())
                .collect();
            all.sort_unstable();
            all.dedup();
            empty(w, "activity-scope", &[("code", scope(&all))])?;
            empty(
                w,
                "sector",
                &[
                    ("vocabulary", code::SECTOR_VOCABULARY_DAC5),
                    ("code", code::SECTOR_JUSTICE),
                ],
            )?;
            for a in &p.activities {
                let child = format!("{}-{}", options.org_ref.trim(), a.id);
                empty(
                    w,
                    "related-activity",
                    &[("ref", &child), ("type", code::RELATED_CHILD)],
                )?;
            }
            participants_per_year(w, p)?;
            cases_per_year(w, p)
        })?;
    Ok(())
}

/// Yearly participants of delivered activities (an output), with the number of women when
/// every activity of the year gave it.
fn participants_per_year(w: &mut W, p: &Programme) -> io::Result<()> {
    let mut per_year: BTreeMap<i16, (u64, Option<u64>)> = BTreeMap::new();
    for a in p.activities.iter().filter(|a| a.stage == Stage::Delivered) {
        if let (Some(n), Some((start, _))) = (a.participants, a.actual) {
            let entry = per_year.entry(start.year()).or_insert((0, Some(0)));
            entry.0 += u64::from(n.total);
            entry.1 = entry.1.zip(n.women).map(|(sum, w)| sum + u64::from(w));
        }
    }
    if per_year.is_empty() {
        return Ok(());
    }
    let values: Vec<_> = per_year
        .iter()
        .map(|(y, (total, women))| {
            let (from, to) = year(*y);
            (from, to, *total, *women, None)
        })
        .collect();
    w.create_element("result")
        .with_attribute(("type", code::RESULT_OUTPUT))
        .write_inner_content(|w| {
            narrative(
                w,
                "title",
                &[],
                "Officials taking part in delivered activities, per year",
            )?;
            indicator(w, "Participants (women where given)", &values)
        })?;
    Ok(())
}

/// Yearly counts of cases opened and closed (an outcome): no case appears on its own.
fn cases_per_year(w: &mut W, p: &Programme) -> io::Result<()> {
    if p.cases.is_empty() {
        return Ok(());
    }
    let column = |pick: fn(&(u64, u64)) -> u64| -> Vec<_> {
        p.cases
            .iter()
            .filter(|(_, n)| pick(n) > 0)
            .map(|(y, n)| {
                let (from, to) = year(*y);
                (from, to, pick(n), None, None)
            })
            .collect()
    };
    let (opened, closed) = (column(|n| n.0), column(|n| n.1));
    w.create_element("result")
        .with_attribute(("type", code::RESULT_OUTCOME))
        .write_inner_content(|w| {
            narrative(
                w,
                "title",
                &[],
                "Cooperation cases worked on by two or more countries, per year",
            )?;
            if !opened.is_empty() {
                indicator(w, "Cases opened", &opened)?;
            }
            if !closed.is_empty() {
                indicator(w, "Cases closed", &closed)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn describe(a: &Activity) -> String {
    let stage = match a.stage {
        Stage::Scheduled => "Scheduled",
        Stage::Delivered => "Delivered",
        Stage::Cancelled => "Cancelled",
    };
    let (start, end) = a.actual.or(a.planned).unwrap_or_else(|| {
        let day = a.cancelled_on.unwrap_or_default();
        (day, day)
    });
    let place = match &a.venue {
        Venue::Place { city, country } => format!("{city}, {}", country.name()),
        Venue::Virtual => "online".to_owned(),
    };
    let mut text = format!(
        "{stage} {} ({}), {place}, {start} to {end}; beneficiaries {}",
        a.kind.as_str().replace('_', " "),
        a.pillar.map_or_else(
            || "pillar not given".to_owned(),
            |p| p.as_str().replace('_', " ")
        ),
        codes(&a.beneficiaries)
    );
    if !a.other_countries.is_empty() {
        text.push_str(&format!("; with {}", codes(&a.other_countries)));
    }
    if !a.institutions.is_empty() {
        let list: Vec<&str> = a.institutions.iter().map(|i| i.as_str()).collect();
        text.push_str(&format!(
            "; institutions: {}",
            list.join(", ").replace('_', " ")
        ));
    }
    if let Some(day) = a.cancelled_on {
        text.push_str(&format!("; cancelled on {day}"));
    }
    text.push('.');
    text
}

fn child(
    w: &mut W,
    a: &Activity,
    p: &Programme,
    options: &Options,
    org_name: &str,
) -> io::Result<()> {
    let id = format!("{}-{}", options.org_ref.trim(), a.id);
    let status = match a.stage {
        Stage::Scheduled => code::STATUS_PIPELINE,
        Stage::Delivered => code::STATUS_FINALISATION,
        Stage::Cancelled => code::STATUS_CANCELLED,
    };
    let updated = datetime(a.last_recorded);
    w.create_element("iati-activity")
        .with_attributes([
            ("xml:lang", "en"),
            ("hierarchy", "2"),
            ("last-updated-datetime", updated.as_str()),
        ])
        .write_inner_content(|w| {
            w.create_element("iati-identifier")
                .write_text_content(BytesText::new(&id))?;
            reporting_org(w, options, org_name)?;
            narrative(w, "title", &[], &a.title)?;
            narrative(
                w,
                "description",
                &[("type", code::DESCRIPTION_GENERAL)],
                &describe(a),
            )?;
            participating(w, p, options, org_name)?;
            empty(w, "activity-status", &[("code", status)])?;
            if let Some((start, end)) = a.planned {
                date(w, code::DATE_PLANNED_START, start)?;
                date(w, code::DATE_PLANNED_END, end)?;
            }
            if let Some((start, end)) = a.actual {
                date(w, code::DATE_ACTUAL_START, start)?;
                date(w, code::DATE_ACTUAL_END, end)?;
            }
            let mut involved: Vec<CountryCode> = a
                .beneficiaries
                .iter()
                .chain(&a.other_countries)
                .copied()
                .collect();
            involved.sort_unstable();
            involved.dedup();
            empty(w, "activity-scope", &[("code", scope(&involved))])?;
            for (country, share) in a.beneficiaries.iter().zip(shares(a.beneficiaries.len())) {
                empty(
                    w,
                    "recipient-country",
                    &[("code", country.as_str()), ("percentage", &share)],
                )?;
            }
            if let Venue::Place { city, country } = &a.venue {
                w.create_element("location").write_inner_content(|w| {
                    empty(w, "location-reach", &[("code", code::REACH_ACTIVITY)])?;
                    narrative(w, "name", &[], city)?;
                    narrative(
                        w,
                        "description",
                        &[],
                        &format!("{city}, {}", country.name()),
                    )
                })?;
            }
            empty(
                w,
                "sector",
                &[
                    ("vocabulary", code::SECTOR_VOCABULARY_DAC5),
                    ("code", sector(a.pillar)),
                ],
            )?;
            let parent = format!("{}-programme", options.org_ref.trim());
            empty(
                w,
                "related-activity",
                &[("ref", &parent), ("type", code::RELATED_PARENT)],
            )?;
            if let (Some(n), Some((start, end)), Stage::Delivered) =
                (a.participants, a.actual, a.stage)
            {
                w.create_element("result")
                    .with_attribute(("type", code::RESULT_OUTPUT))
                    .write_inner_content(|w| {
                        narrative(w, "title", &[], "Officials taking part")?;
                        indicator(
                            w,
                            "Participants",
                            &[(
                                start,
                                end,
                                u64::from(n.total),
                                n.women.map(u64::from),
                                n.men.map(u64::from),
                            )],
                        )
                    })?;
            }
            Ok(())
        })?;
    Ok(())
}

/// The whole document.
pub(super) fn write(p: &Programme, options: &Options, point: Resolved) -> io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let generated = datetime(options.generated_at);
    let org_name = p
        .partners
        .iter()
        .find(|x| x.roles.contains(&PartnerRole::Accountable))
        .map_or_else(|| options.org_ref.trim().to_owned(), |x| x.name.clone());
    w.create_element("iati-activities")
        .with_attributes([
            ("version", "2.03"),
            ("generated-datetime", generated.as_str()),
        ])
        .write_inner_content(|w| {
            parent(w, p, options, point)?;
            for a in &p.activities {
                child(w, a, p, options, &org_name)?;
            }
            Ok(())
        })?;
    let mut text = String::from_utf8(w.into_inner())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    text.push('\n');
    Ok(text)
}
