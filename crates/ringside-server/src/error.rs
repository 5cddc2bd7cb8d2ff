//! One error type for every route: bad input keeps its 4xx and a message saying what is wrong;
//! internal failures are logged and say little.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ringside_core::engine::IntakeError;
use ringside_core::providers::ParseError;
use serde_json::json;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn internal(err: anyhow::Error) -> Self {
        tracing::error!("{err:#}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::internal(e)
    }
}

impl From<IntakeError> for AppError {
    fn from(e: IntakeError) -> Self {
        let msg = e.to_string();
        match e {
            IntakeError::Parse(ParseError::Malformed { .. }) => {
                Self::new(StatusCode::BAD_REQUEST, "malformed", msg)
            }
            IntakeError::Parse(ParseError::Unsupported { .. }) | IntakeError::Empty => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unsupported", msg)
            }
            IntakeError::Parse(ParseError::Method { .. }) => {
                Self::new(StatusCode::METHOD_NOT_ALLOWED, "method", msg)
            }
            IntakeError::Store(e) => {
                tracing::error!("{e:#}");
                // The provider will retry: nothing was acknowledged.
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_failed",
                    "could not store the event; retry",
                )
            }
        }
    }
}

/// What a Tauri command's caller receives: `{code, message}`, like the HTTP body's `error`.
impl serde::Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json!({"code": self.code, "message": self.message}).serialize(s)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::info!(status = %self.status, "{}", self.message);
        }
        let mut res = (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ringside\", Bearer"),
            );
        }
        res
    }
}
