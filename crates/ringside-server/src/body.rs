//! Reading a request's body, once the request is authenticated: within a size limit, refused
//! at once (413, before a byte of it is read) when its announced length is over the limit.
//! How long it may take is the listener's to say (408).

use crate::error::{HttpError, HttpErrorCode};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// The limit on the API's JSON bodies (axum's `Json` reads them within it).
pub const JSON_BODY: usize = 2 * 1024 * 1024;

/// The whole body, at most `limit` bytes.
pub async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, HttpError> {
    announced_within(headers, limit)?;
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large(limit)),
        // A body cut off, or past its time (the listener answers that one 408).
        Err(e) => Err(HttpError::bad_request(format!("reading the body: {e}"))),
    }
}

/// 413 when the request announces a body over `limit`: refused before a byte of it is read.
fn announced_within(headers: &HeaderMap, limit: usize) -> Result<(), HttpError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match announced {
        Some(n) if n > limit as u64 => Err(too_large(limit)),
        _ => Ok(()),
    }
}

/// Middleware for the routes that take a JSON body: one announced over [`JSON_BODY`] is
/// refused at once, not read until the body timeout.
pub async fn json_limit(req: Request, next: Next) -> Response {
    match announced_within(req.headers(), JSON_BODY) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

pub fn too_large(limit: usize) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        HttpErrorCode::TooLarge,
        format!("the body is over the limit of {} KiB", limit / 1024),
    )
}
