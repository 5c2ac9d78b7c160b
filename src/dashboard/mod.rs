//! The dashboard: the views as pictures. One page (`index.html`, `style.css`, `app.js`, embedded
//! in the binary) draws everything from the HTTP API's own JSON. `coopledger serve` serves it at
//! `/`; [`report`] writes the same page as one self-contained file with the JSON documents it
//! would have fetched embedded in a `<script type="application/json">` element, keyed by the
//! request path the page would have used, so the page reads them instead of fetching.
//!
//! The documents are built with the same library calls as the HTTP handlers (`views_resolved`,
//! `country_view`, `interregional_view`, `Reader::timeline`, `documents::entity` and
//! `entity_list`, the CSV forms of `table`, `verification`, `latest_checkpoint`); the tests
//! compare them with the API's answers. A report also holds the CSV form of every table it
//! shows, so its "Download CSV" links work without a network.

use std::sync::LazyLock;

use base64::Engine as _;
use proto_events::Stream;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::documents;
use crate::ledger::{AsOf, At, Reader, Resolved};
use crate::table;
use crate::views::ViewState;
use crate::views::timeline::{By, TimelineFolder};

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
/// Entities per page of a country's listing (`/v1/entities?country=CC&offset=0&limit=…`).
pub const LISTING_PAGE: usize = 10;

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

/// `path` with `query` (`k=v&…`) appended, after `?` or `&`: the page builds its request paths
/// the same way, so an embedded document is found under the path the page asks for.
#[must_use]
pub fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else if path.contains('?') {
        format!("{path}&{query}")
    } else {
        format!("{path}?{query}")
    }
}

/// The path of a document's CSV form (`format=csv` appended).
#[must_use]
pub fn csv_path(path: &str) -> String {
    with_query(path, "format=csv")
}

/// The query the page appends to view requests at a point: `as_of=N` when it is not the head
/// (a time resolved to its sequence), then `on=D` when dates are filtered.
fn point_query(asked: AsOf, resolved: Resolved) -> String {
    let mut parts = Vec::new();
    if asked.at != At::Head {
        parts.push(format!("as_of={}", resolved.seq));
    }
    if let Some(d) = resolved.on {
        parts.push(format!("on={d}"));
    }
    parts.join("&")
}

/// The point a report shows, as the page reads it: `{"seq": N or null, "on": D or null}`.
fn describe(asked: AsOf, resolved: Resolved) -> Value {
    json!({
        "seq": (asked.at != At::Head).then_some(resolved.seq),
        "on": resolved.on.map(|d| d.to_string()),
    })
}

fn to_value(value: impl serde::Serialize) -> Result<Value, crate::Error> {
    serde_json::to_value(value)
        .map_err(|e| crate::Error::CorruptView(format!("cannot serialise a view: {e}")))
}

/// Adds a document and, when given, its CSV form.
fn insert(docs: &mut Map<String, Value>, path: String, doc: Value, csv: Option<String>) {
    if let Some(text) = csv {
        docs.insert(csv_path(&path), Value::String(text));
    }
    docs.insert(path, doc);
}

/// The documents the page would fetch at `at`, keyed by request path (CSV forms under their
/// `format=csv` paths, as text), built with the same library calls as the API's handlers.
///
/// # Errors
/// [`crate::Error::BeyondHead`] for a point beyond the head; on a storage error or a record that
/// fails its checks.
pub fn documents(reader: &Reader, at: AsOf) -> Result<Map<String, Value>, crate::Error> {
    let resolved = reader.resolve(at)?;
    let verified_at = proto_events::Timestamp::now().to_string();
    let kept = reader.views();
    // The page's views and timeline are folded from the records the verification reads, hashes
    // and decodes (one pass over the log). At the kept views' own point that fold is also the
    // one their check needs; elsewhere the check folds to them, on the other core.
    let at_kept = resolved.on.is_none() && resolved.seq == kept.as_of;
    let (chain, folded, views_check) = std::thread::scope(|s| {
        let views_check = (!at_kept).then(|| s.spawn(|| reader.verify_views()));
        let (chain, folded) = reader.verify_and_fold_point(resolved);
        let views_check = views_check.map(|check| {
            check
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        (chain, folded, views_check)
    });
    let (views, story) = match folded {
        Ok(folded) => folded,
        // A fold cut short by a failed verification: the verification names the cause.
        Err(e) => return Err(chain.err().unwrap_or(e)),
    };
    let outcome = chain.and_then(|report| {
        match views_check {
            Some(check) => check?,
            None => reader.views_agree(&kept, &views)?,
        }
        Ok(report)
    });
    let (verification, _) = documents::verification_document(outcome, verified_at)?;
    let mut docs = views_documents(reader, at, resolved, &views, &story)?;
    docs.insert("/v1/verify".into(), verification);
    Ok(docs)
}

/// [`documents`] but the verification, from the views and the timeline folded at the point.
fn views_documents(
    reader: &Reader,
    at: AsOf,
    resolved: crate::ledger::Resolved,
    views: &ViewState,
    story: &TimelineFolder,
) -> Result<Map<String, Value>, crate::Error> {
    let mut docs = Map::new();
    let q = point_query(at, resolved);
    docs.insert("/v1/head".into(), documents::head(reader));
    if let Some((_, note)) = reader.latest_checkpoint()? {
        docs.insert("/v1/checkpoint".into(), Value::String(note));
    }
    let regions = views.interregional_view();
    let regions_path = with_query("/v1/regions", &q);
    docs.insert(
        csv_path(&with_query(&regions_path, "table=corridors")),
        Value::String(documents::regions_csv(&regions, true)?),
    );
    let regions_csv = documents::regions_csv(&regions, false)?;
    insert(
        &mut docs,
        regions_path,
        to_value(&regions)?,
        Some(regions_csv),
    );
    let countries: Vec<_> = views
        .countries()
        .filter_map(|c| views.country_view(c))
        .collect();
    let timeline = story.timeline().view(By::Year, None);
    insert(
        &mut docs,
        with_query("/v1/timeline?by=year", &q),
        to_value(&timeline)?,
        Some(documents::timeline_csv(&timeline)?),
    );
    let mut entities: Vec<Stream> = Vec::new();
    let codes: Vec<_> = countries.iter().map(|c| c.country).collect();
    let listings = documents::first_entity_lists(reader, story, &codes, LISTING_PAGE)?;
    for (c, listing) in countries.iter().zip(listings) {
        let stream = Stream::Country(c.country);
        // A stream is answered whole, as the API does; the page leaves out what is after the point.
        let events = reader.read_stream(&stream, 1, crate::ledger::MAX_PAGE)?;
        insert(
            &mut docs,
            format!("/v1/streams/{stream}"),
            documents::events(&events),
            Some(table::events_csv(&events)?),
        );
        docs.insert(
            csv_path(&with_query(&format!("/v1/countries/{}", c.country), &q)),
            Value::String(documents::counterparts_csv(c)?),
        );
        let own = story.timeline().view(By::Year, Some(c.country));
        insert(
            &mut docs,
            with_query(&format!("/v1/timeline?by=year&country={}", c.country), &q),
            to_value(&own)?,
            Some(documents::timeline_csv(&own)?),
        );
        entities.extend(listed_streams(&listing));
        let listing_path = with_query(
            &format!(
                "/v1/entities?country={}&offset=0&limit={LISTING_PAGE}",
                c.country
            ),
            &q,
        );
        let listing_csv = documents::entity_list_csv(&listing)?;
        insert(&mut docs, listing_path, listing, Some(listing_csv));
    }
    insert(
        &mut docs,
        with_query("/v1/countries", &q),
        to_value(&countries)?,
        Some(documents::countries_csv(&countries)?),
    );
    let (recent_path, from) = match at.at {
        At::Head => (
            format!("/v1/events?reverse=true&limit={RECENT_EVENTS}"),
            resolved.seq,
        ),
        _ => (
            format!(
                "/v1/events?from={}&reverse=true&limit={RECENT_EVENTS}",
                resolved.seq
            ),
            resolved.seq,
        ),
    };
    let recent = reader.read_backward(from, RECENT_EVENTS)?;
    entities.extend(recent.iter().map(|e| e.envelope.stream.clone()));
    insert(
        &mut docs,
        recent_path,
        documents::events(&recent),
        Some(table::events_csv(&recent)?),
    );
    entities.sort_unstable();
    entities.dedup();
    for stream in entities.iter().filter(|s| {
        matches!(
            s,
            Stream::Meeting(_) | Stream::Activity(_) | Stream::Case(_)
        )
    }) {
        let Some(doc) = documents::entity(reader, stream, resolved)? else {
            continue;
        };
        let records = reader.read_stream(stream, 1, crate::ledger::MAX_PAGE)?;
        docs.insert(
            csv_path(&format!("/v1/streams/{stream}")),
            Value::String(table::events_csv(&records)?),
        );
        docs.insert(with_query(&format!("/v1/entities/{stream}"), &q), doc);
    }
    Ok(docs)
}

/// The streams a listing document names.
fn listed_streams(listing: &Value) -> Vec<Stream> {
    listing["entities"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|e| e["stream"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The report: the page with `documents(reader, at)` embedded, as one self-contained HTML file
/// (inline style and script, no network).
///
/// # Errors
/// As [`documents`].
pub fn report(reader: &Reader, at: AsOf, generated_at: &str) -> Result<String, crate::Error> {
    let resolved = reader.resolve(at)?;
    let documents = documents(reader, at)?;
    let data = json!({
        "generator": format!("coopledger {}", env!("CARGO_PKG_VERSION")),
        "generated_at": generated_at,
        "as_of": describe(at, resolved),
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
    fn queries_are_appended_the_way_the_page_appends_them() {
        assert_eq!(with_query("/v1/regions", ""), "/v1/regions");
        assert_eq!(
            with_query("/v1/regions", "as_of=5&on=2019-01-01"),
            "/v1/regions?as_of=5&on=2019-01-01"
        );
        assert_eq!(
            with_query("/v1/timeline?by=year", "on=2019-01-01"),
            "/v1/timeline?by=year&on=2019-01-01"
        );
        assert_eq!(csv_path("/v1/countries"), "/v1/countries?format=csv");
    }
}
