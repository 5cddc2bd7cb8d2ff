//! Reading a request's body, once the request is authenticated: within a size limit, refused
//! at once (413, before a byte of it is read) when its announced length is over the limit.
//! How long it may take is the listener's to say (408).

use crate::error::{HttpError, HttpErrorCode};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// The whole body, at most `limit` bytes.
pub async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, HttpError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large(limit)),
        // A body cut off, or past its time (the listener answers that one 408).
        Err(e) => Err(HttpError::bad_request(format!("reading the body: {e}"))),
    }
}

pub fn too_large(limit: usize) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        HttpErrorCode::TooLarge,
        format!("the body is over the limit of {} KiB", limit / 1024),
    )
}
