//! `GET /v1/checkpoint`, `/v1/proofs/inclusion?seq=N&size=M`,
//! `/v1/proofs/consistency?from=M&to=N`: the same JSON as `coopledger prove`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::{ApiError, ApiQuery};
use super::{AppState, blocking};

/// `?seq=N&size=M`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    seq: u64,
    size: Option<u64>,
}

/// `?from=M&to=N`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    to: u64,
}

pub async fn inclusion(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> Result<Response, ApiError> {
    let reader = state.ledger.reader().clone();
    let proof = blocking(move || reader.inclusion_proof(q.seq, q.size)).await?;
    Ok(Json(proof).into_response())
}

pub async fn consistency(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let reader = state.ledger.reader().clone();
    let proof = blocking(move || reader.consistency_proof(q.from, q.to)).await?;
    Ok(Json(proof).into_response())
}

/// The latest signed checkpoint; with a server key, one of the current head is signed first
/// when the latest is older.
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let reader = state.ledger.reader().clone();
    let latest = {
        let reader = reader.clone();
        blocking(move || reader.latest_checkpoint()).await?
    };
    let head = reader.head().seq;
    let stale = latest.as_ref().is_none_or(|(size, _)| *size < head);
    let note = match (&state.config.key, latest) {
        (Some(key), _) if stale => state
            .ledger
            .sign_checkpoint(key.clone())
            .await
            .map_err(ApiError::from)?,
        (_, Some((_, note))) => note,
        (_, None) => {
            return Err(ApiError::not_found(
                "no checkpoint has been signed (run `coopledger checkpoint --key FILE`, or serve with --key)",
            ));
        }
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}
