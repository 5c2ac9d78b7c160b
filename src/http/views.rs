//! `GET /v1/countries`, `/v1/countries/{cc}`, `/v1/regions`: the same JSON as the command
//! line's `--json`, or their tables as CSV (`?format=csv`, `Accept: text/csv`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use proto_events::CountryCode;
use serde::Deserialize;

use super::cache::Document;
use super::error::{ApiError, ApiPath, ApiQuery};
use super::representation::{self, Format};
use super::{AppState, blocking};
use crate::documents;
use crate::ledger::{AsOf, Resolved};
use crate::views::ViewState;

/// `?as_of=SEQ` or `?at=TIME` (not both), each alone or with `?on=DATE`; paging.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    as_of: Option<u64>,
    at: Option<String>,
    on: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    format: Option<String>,
    table: Option<String>,
}

impl AsOfQuery {
    fn point(&self) -> Result<AsOf, ApiError> {
        point(self.as_of, self.at.as_deref(), self.on.as_deref())
    }
}

/// The point of history of `?as_of=`, `?at=` and `?on=`: how far into the log (a sequence or a
/// recording time, not both) and which real-world dates count ("what the ledger said at N about
/// what had happened by D").
pub(crate) fn point(
    as_of: Option<u64>,
    at: Option<&str>,
    on: Option<&str>,
) -> Result<AsOf, ApiError> {
    let point = match (as_of, at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give at most one of as_of and at (either may be combined with on)",
            ));
        }
        (Some(seq), None) => AsOf::sequence(seq),
        (None, Some(at)) => at
            .parse()
            .map(AsOf::time)
            .map_err(|e| ApiError::bad_request(format!("at: not an RFC 3339 time ({e})")))?,
        (None, None) => AsOf::HEAD,
    };
    match on {
        None => Ok(point),
        Some(on) => on
            .parse()
            .map(|d| point.on(d))
            .map_err(|e| ApiError::bad_request(format!("on: not a YYYY-MM-DD date ({e})"))),
    }
}

/// The views a read answers with: at the head's maintained state or folded at a point.
struct Point {
    views: Arc<ViewState>,
    /// Whether these are the head's maintained views (whose JSON is cached per head).
    head: bool,
    /// The validator of the point in the form asked for.
    tag: HeaderValue,
}

/// The views at the requested point, or a 304 when the client's copy is of the same point in
/// the same form. The point is resolved against the log (a sequence beyond the head is
/// refused) and compared with `If-None-Match` before any fold; folds of history run off the
/// async workers and are cached under the resolved point.
async fn state_at(
    state: &AppState,
    query: &AsOfQuery,
    format: Format,
    request: &HeaderMap,
) -> Result<Result<Point, Response>, ApiError> {
    let asked = query.point()?;
    let reader = state.ledger.reader().clone();
    if asked == AsOf::HEAD {
        let views = reader.views();
        let tag = representation::tag(
            Resolved {
                seq: views.as_of,
                on: None,
            },
            format,
        );
        if let Some(not_modified) = representation::not_modified(request, &tag) {
            return Ok(Err(not_modified));
        }
        return Ok(Ok(Point {
            views,
            head: true,
            tag,
        }));
    }
    let point: Resolved = {
        let reader = reader.clone();
        blocking(move || reader.resolve(asked)).await?
    };
    let tag = representation::tag(point, format);
    if let Some(not_modified) = representation::not_modified(request, &tag) {
        return Ok(Err(not_modified));
    }
    let views = match state.cache.fold(point) {
        Some(folded) => folded,
        None => {
            let earlier = state.cache.earlier(point);
            let folded = blocking(move || match earlier {
                Some(base) => reader.views_resolved_from(&base, point),
                None => reader.views_resolved(point),
            })
            .await?;
            state.cache.keep(point, Arc::clone(&folded));
            folded
        }
    };
    Ok(Ok(Point {
        views,
        head: false,
        tag,
    }))
}

/// The most countries one page holds.
const MAX_COUNTRIES_PAGE: usize = 300;

pub async fn countries(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> Result<Response, ApiError> {
    let format = representation::format(query.format.as_deref(), &headers)?;
    no_table(&query)?;
    let offset = query.offset.unwrap_or(0);
    let limit = match query.limit {
        None => MAX_COUNTRIES_PAGE,
        Some(0) => {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_COUNTRIES_PAGE}"
            )));
        }
        Some(n) => n.min(MAX_COUNTRIES_PAGE),
    };
    let Point { views, tag, .. } = match state_at(&state, &query, format, &headers).await? {
        Ok(point) => point,
        Err(not_modified) => return Ok(not_modified),
    };
    let all: Vec<CountryCode> = views.countries().collect();
    let page: Vec<_> = all
        .iter()
        .skip(offset)
        .take(limit)
        .filter_map(|c| views.country_view(*c))
        .collect();
    let response = match format {
        Format::Json => Json(page).into_response(),
        Format::Csv => representation::csv(documents::countries_csv(&page)?),
    };
    let mut response = representation::tagged(response, tag);
    let headers = response.headers_mut();
    if let Ok(total) = HeaderValue::from_str(&all.len().to_string()) {
        headers.insert("x-total-count", total);
    }
    let next = offset.saturating_add(limit);
    if next < all.len() {
        let next = format!(
            "</v1/countries?offset={next}&limit={limit}{}>; rel=\"next\"",
            pin(&views, &query)
        );
        if let Ok(link) = HeaderValue::from_str(&next) {
            headers.insert(header::LINK, link);
        }
    }
    Ok(response)
}

/// Later pages of the same listing stay at the same point of history.
fn pin(views: &ViewState, query: &AsOfQuery) -> String {
    let mut pin = format!("&as_of={}", views.as_of);
    if let Some(on) = &query.on {
        pin.push_str(&format!("&on={on}"));
    }
    pin
}

/// `table=` names a table of the inter-regional view's CSV; elsewhere it has no meaning.
fn no_table(query: &AsOfQuery) -> Result<(), ApiError> {
    match &query.table {
        None => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "table: only the CSV of /v1/regions has tables (pairs or corridors)",
        )),
    }
}

pub async fn country(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(cc): ApiPath<String>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> Result<Response, ApiError> {
    let country = CountryCode::parse(&cc).ok_or_else(|| {
        ApiError::bad_request(format!("{cc:?} is not an ISO 3166-1 alpha-2 code"))
    })?;
    let format = representation::format(query.format.as_deref(), &headers)?;
    no_table(&query)?;
    let Point { views, head, tag } = match state_at(&state, &query, format, &headers).await? {
        Ok(point) => point,
        Err(not_modified) => return Ok(not_modified),
    };
    if format == Format::Csv {
        // The CSV of a country is its one table: its counterparts.
        let view = views
            .country_view(country)
            .ok_or_else(|| never_involved(country, &views))?;
        return Ok(representation::tagged(
            representation::csv(documents::counterparts_csv(&view)?),
            tag,
        ));
    }
    let make = || {
        views
            .country_view(country)
            .and_then(|v| serde_json::to_vec(&v).ok())
    };
    let body = if head {
        state.cache.json(&views, Document::Country(country), make)
    } else {
        make().map(axum::body::Bytes::from)
    };
    let body = body.ok_or_else(|| never_involved(country, &views))?;
    Ok(representation::answer(Format::Json, body, tag))
}

fn never_involved(country: CountryCode, views: &ViewState) -> ApiError {
    ApiError::not_found(format!(
        "{country} ({}) has never joined nor been involved in anything as of sequence {}",
        country.name(),
        views.as_of
    ))
}

pub async fn regions(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> Result<Response, ApiError> {
    let format = representation::format(query.format.as_deref(), &headers)?;
    let corridors = match (query.table.as_deref(), format) {
        (None | Some("pairs"), _) => false,
        (Some("corridors"), Format::Csv) => true,
        (Some("corridors"), Format::Json) => {
            return Err(ApiError::bad_request(
                "table: tables are for format=csv (the JSON holds both)",
            ));
        }
        (Some(other), _) => {
            return Err(ApiError::bad_request(format!(
                "table: {other:?} is not a table of the inter-regional view (pairs or corridors)"
            )));
        }
    };
    let Point { views, head, tag } = match state_at(&state, &query, format, &headers).await? {
        Ok(point) => point,
        Err(not_modified) => return Ok(not_modified),
    };
    if format == Format::Csv {
        let view = views.interregional_view();
        return Ok(representation::tagged(
            representation::csv(documents::regions_csv(&view, corridors)?),
            tag,
        ));
    }
    let make = || serde_json::to_vec(&views.interregional_view()).ok();
    let body = if head {
        state.cache.json(&views, Document::Regions, make)
    } else {
        make().map(axum::body::Bytes::from)
    };
    body.map(|b| representation::answer(Format::Json, b, tag))
        .ok_or_else(|| ApiError::internal("the inter-regional view cannot be serialised"))
}
