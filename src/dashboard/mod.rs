//! The dashboard: the views as pictures. One page (`index.html`, `style.css`, `app.js`, embedded
//! in the binary) draws everything from the HTTP API's own JSON. `coopledger serve` serves it at
//! `/`; [`report`] writes the same page as one self-contained file with the JSON documents it
//! would have fetched embedded in a `<script type="application/json">` element, keyed by the
//! request path the page would have used, so the page reads them instead of fetching.
//!
//! The documents are built with the same library calls as the HTTP handlers (`views_at`,
//! `country_view`, `interregional_view`, `recorded_to_object`, `verify`, `checkpoints`); the
//! tests compare them with the API's answers.

use std::sync::LazyLock;

use base64::Engine as _;
use proto_events::{Date, Stream};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::documents;
use crate::ledger::{AsOf, Reader};

/// The page's markup, with `{{…}}` placeholders for the style, the script and the data.
pub const INDEX_HTML: &str = include_str!("index.html");
/// The page's style sheet.
pub const STYLE_CSS: &str = include_str!("style.css");
/// The page's script (vanilla JS; fetches from the API, or reads the embedded documents).
pub const APP_JS: &str = include_str!("app.js");
/// The staff form's script: served pages only (a report records nothing), shown to a staff
/// token only.
pub const FORM_JS: &str = include_str!("form.js");
/// The staff form's style sheet.
pub const FORM_CSS: &str = include_str!("form.css");

/// Recent events shown on the page (`/v1/events?reverse=true&limit=…`).
pub const RECENT_EVENTS: usize = 20;
/// The most years the inter-regional share over time covers (the latest ones).
pub const MAX_YEARS: i32 = 40;

fn sha256_source(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// The Content-Security-Policy of the served page: only its own inline style and script run, and
/// it talks to its own origin only.
pub fn served_csp() -> &'static str {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        format!(
            "default-src 'none'; script-src {} {}; style-src {} {}; connect-src 'self'; img-src 'self' data:; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            sha256_source(APP_JS),
            sha256_source(FORM_JS),
            sha256_source(STYLE_CSS),
            sha256_source(FORM_CSS)
        )
    });
    &CSP
}

/// The Content-Security-Policy of a report file: nothing but its inline style and script, and
/// no network at all.
fn report_csp() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; connect-src 'none'; \
         base-uri 'none'; form-action 'none'",
        sha256_source(APP_JS),
        sha256_source(STYLE_CSS)
    )
}

/// The page; `forms` adds the staff form (its own `<style>` and `<script>` elements, whose
/// hashes only the served page's policy allows).
fn assemble(csp_meta: &str, data: &str, forms: bool) -> String {
    let (form_style, form_script) = if forms {
        (
            format!("<style>{FORM_CSS}</style>"),
            format!("<script>{FORM_JS}</script>"),
        )
    } else {
        (String::new(), String::new())
    };
    INDEX_HTML
        .replace("{{CSP_META}}", csp_meta)
        .replace("{{STYLE}}", STYLE_CSS)
        .replace("{{FORM_STYLE}}", &form_style)
        .replace("{{DATA}}", data)
        .replace("{{SCRIPT}}", APP_JS)
        .replace("{{FORM_SCRIPT}}", &form_script)
}

/// The page `coopledger serve` answers at `/` (no embedded data: it fetches from the API).
pub fn served_page() -> &'static str {
    static PAGE: LazyLock<String> = LazyLock::new(|| assemble("", "", true));
    &PAGE
}

/// JSON text that is safe inside a `<script>` element: `<`, `>` and `&` become `\u` escapes (the
/// parsed value is unchanged), so no `</script>` can end the element early.
fn script_safe_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len() + 64);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The point of history a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// The head.
    Head,
    /// As the ledger stood after this sequence (at most the head).
    Sequence(u64),
    /// Counting what happened on or before this date.
    Date(Date),
}

impl Point {
    /// The query the page appends to view requests (`?as_of=N`, `?on=DATE` or nothing).
    fn query(self) -> String {
        match self {
            Point::Head => String::new(),
            Point::Sequence(seq) => format!("?as_of={seq}"),
            Point::Date(d) => format!("?on={d}"),
        }
    }

    fn as_of(self) -> AsOf {
        match self {
            Point::Head => AsOf::HEAD,
            Point::Sequence(seq) => AsOf::sequence(seq),
            Point::Date(d) => AsOf::date(d),
        }
    }

    fn describe(self) -> Value {
        match self {
            Point::Head => json!({"kind": "head"}),
            Point::Sequence(seq) => json!({"kind": "seq", "value": seq}),
            Point::Date(d) => json!({"kind": "date", "value": d.to_string()}),
        }
    }
}

/// The real-world date an event's JSON is about (the field the page reads too), if any.
#[must_use]
pub fn fact_date(event: &Map<String, Value>) -> Option<&str> {
    [
        "registered_on",
        "joined_on",
        "changed_on",
        "start",
        "opened_on",
        "added_on",
        "on",
        "closed_on",
        "cancelled_on",
    ]
    .iter()
    .find_map(|field| event.get(*field).and_then(Value::as_str))
}

fn year_of(text: &str) -> Option<i32> {
    text.get(..4)?.parse().ok()
}

/// The dates of the inter-regional share over time: the end of each year from the first event's
/// year to the head's recording year (at most [`MAX_YEARS`]); counting by a date, the years up
/// to it, the last one ending on that date. The page computes the same list.
#[must_use]
pub fn series_dates(
    first_event: Option<&Map<String, Value>>,
    head_recorded_at: Option<&str>,
    point: Point,
) -> Vec<String> {
    let (Some(first), Some(mut last)) = (
        first_event.and_then(fact_date).and_then(year_of),
        head_recorded_at.and_then(year_of),
    ) else {
        return Vec::new();
    };
    let mut cut = None;
    if let Point::Date(d) = point {
        let on = d.to_string();
        if let Some(y) = year_of(&on)
            && y <= last
        {
            last = y;
            cut = Some(on);
        }
    }
    let first = first.max(last - MAX_YEARS + 1);
    (first..=last)
        .map(|y| {
            let end = format!("{y:04}-12-31");
            match &cut {
                Some(on) if y == last && on.as_str() < end.as_str() => on.clone(),
                _ => end,
            }
        })
        .collect()
}

fn to_value(value: impl serde::Serialize) -> Result<Value, crate::Error> {
    serde_json::to_value(value)
        .map_err(|e| crate::Error::CorruptView(format!("cannot serialise a view: {e}")))
}

/// The documents the page would fetch for `point`, keyed by request path.
///
/// # Errors
/// [`crate::Error::BeyondHead`] for a sequence above the head; on a storage error or a record
/// that fails its checks.
pub fn documents(reader: &Reader, point: Point) -> Result<Map<String, Value>, crate::Error> {
    let mut docs = Map::new();
    let resolved = reader.resolve(point.as_of())?;
    let head = documents::head(reader);
    let head_seq = reader.head().seq;
    let q = point.query();
    docs.insert("/v1/verify".into(), documents::verification(reader)?.0);
    if let Some((_, note)) = reader.latest_checkpoint()? {
        docs.insert("/v1/checkpoint".into(), Value::String(note));
    }
    let views = reader.views_resolved(resolved)?;
    docs.insert(
        format!("/v1/regions{q}"),
        to_value(views.interregional_view())?,
    );
    let countries: Vec<_> = views
        .countries()
        .filter_map(|c| views.country_view(c))
        .collect();
    for c in &countries {
        let stream = Stream::Country(c.country);
        let events = reader.read_stream(&stream, 1, crate::ledger::MAX_PAGE)?;
        docs.insert(format!("/v1/streams/{stream}"), documents::events(&events));
    }
    docs.insert(format!("/v1/countries{q}"), to_value(&countries)?);
    let recent = match point {
        Point::Sequence(seq) => (
            format!("/v1/events?from={seq}&reverse=true&limit={RECENT_EVENTS}"),
            seq,
        ),
        _ => (
            format!("/v1/events?reverse=true&limit={RECENT_EVENTS}"),
            head_seq,
        ),
    };
    docs.insert(
        recent.0,
        documents::events(&reader.read_backward(recent.1, RECENT_EVENTS)?),
    );
    let first = reader.read_forward(1, 1)?;
    let first_doc = documents::events(&first);
    let first_obj = first_doc
        .as_array()
        .and_then(|a| a.first())
        .and_then(Value::as_object);
    for date in series_dates(first_obj, head["recorded_at"].as_str(), point) {
        let key = format!("/v1/regions?on={date}");
        if docs.contains_key(&key) {
            continue;
        }
        // The dates are made above from four-digit years: they always parse.
        let Ok(on) = date.parse::<Date>() else {
            continue;
        };
        let view = reader.views_at(AsOf::date(on))?.interregional_view();
        docs.insert(key, to_value(view)?);
    }
    docs.insert("/v1/events?limit=1".into(), first_doc);
    docs.insert("/v1/head".into(), head);
    Ok(docs)
}

/// The report: the page with `documents(reader, point)` embedded, as one self-contained HTML
/// file (inline style and script, no network).
///
/// # Errors
/// As [`documents`].
pub fn report(reader: &Reader, point: Point, generated_at: &str) -> Result<String, crate::Error> {
    let documents = documents(reader, point)?;
    let data = json!({
        "generator": format!("coopledger {}", env!("CARGO_PKG_VERSION")),
        "generated_at": generated_at,
        "as_of": point.describe(),
        "documents": documents,
    });
    let meta = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        report_csp()
    );
    let element = format!(
        "<script type=\"application/json\" id=\"coopledger-report\">{}</script>",
        script_safe_json(&data)
    );
    Ok(assemble(&meta, &element, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_cannot_end_their_elements_and_reference_no_host() {
        assert!(
            !APP_JS.contains("</script"),
            "app.js must not contain </script"
        );
        assert!(
            !STYLE_CSS.contains("</style"),
            "style.css must not contain </style"
        );
        assert!(!FORM_JS.contains("</script") && !FORM_CSS.contains("</style"));
        for asset in [INDEX_HTML, STYLE_CSS, APP_JS, FORM_JS, FORM_CSS] {
            assert!(!asset.contains("http://") && !asset.contains("https://"));
        }
        let page = served_page();
        assert!(!page.contains("{{"), "every placeholder is filled");
        assert!(
            page.contains(FORM_JS) && page.contains(FORM_CSS),
            "the served page has the form"
        );
        let report = assemble("", "", false);
        assert!(
            !report.contains("{{") && !report.contains(FORM_JS),
            "a report has no form"
        );
        assert!(
            served_csp().contains(&sha256_source(FORM_JS)),
            "the policy allows the form's script"
        );
    }

    #[test]
    fn embedded_json_is_script_safe_and_unchanged() {
        let value = json!({"title": "</script><b>&amp;\u{2028}"});
        let text = script_safe_json(&value);
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'));
        assert_eq!(serde_json::from_str::<Value>(&text).expect("parses"), value);
    }

    #[test]
    fn series_runs_from_the_first_year_to_the_head_or_the_date() {
        let first = json!({"type": "PartnerRegistered", "registered_on": "2016-02-01"});
        let first = first.as_object();
        let at = Some("2019-05-01T00:00:00Z");
        assert_eq!(
            series_dates(first, at, Point::Head),
            ["2016-12-31", "2017-12-31", "2018-12-31", "2019-12-31"]
        );
        let on = Point::Date("2018-06-30".parse().expect("date"));
        assert_eq!(
            series_dates(first, at, on),
            ["2016-12-31", "2017-12-31", "2018-06-30"]
        );
        let before = Point::Date("2015-06-30".parse().expect("date"));
        assert!(series_dates(first, at, before).is_empty());
        assert!(series_dates(None, at, Point::Head).is_empty());
    }
}
