//! `GET /v1/checkpoint` (and `POST` to sign one), `/v1/proofs/inclusion?seq=N&size=M`,
//! `/v1/proofs/consistency?from=M&to=N`: the same JSON as `coopledger prove`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::{ApiError, ApiQuery};
use super::signer::{self, Signed};
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

/// `GET /v1/checkpoint`: the latest published checkpoint, as stored (O(1); reads never sign).
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let reader = state.ledger.reader().clone();
    match blocking(move || reader.latest_checkpoint()).await? {
        Some((_, note)) => Ok(note_response(StatusCode::OK, note)),
        None => Err(ApiError::not_found(
            "no checkpoint has been signed (POST /v1/checkpoint with a staff token when the server has --key, serve with --checkpoint-every, or run `coopledger checkpoint --key FILE`)",
        )),
    }
}

/// `POST /v1/checkpoint` (staff): signs a checkpoint of the head with the server's key, 201;
/// 200 with the latest when it already covers the head; 403 when the server has no key.
pub async fn sign(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(key) = &state.config.key else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "signing_disabled",
            "the server signs no checkpoints: it was started without --key",
        ));
    };
    Ok(match signer::sign_if_moved(&state.ledger, key).await? {
        Signed::Fresh(note) => {
            let mut response = note_response(StatusCode::CREATED, note);
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/v1/checkpoint"));
            response
        }
        Signed::Latest(note) => note_response(StatusCode::OK, note),
    })
}

fn note_response(status: StatusCode, note: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        note,
    )
        .into_response()
}
