//! The HTTP layer's one error: the application's [`ringside_app::Error`] with its status, and
//! what only HTTP has (authentication, a webhook's parse, limits). Bad input keeps its 4xx and
//! a message saying what is wrong; internal failures are logged and say little. Every error
//! body is `{"error": {"code", "message", "field"?}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ringside_app::error::ErrorCode;
use ringside_core::engine::IntakeError;
use ringside_core::providers::ParseError;
use serde::Serialize;
use serde_json::json;
use ts_rs::TS;

/// The codes only the HTTP API gives (the application's are [`ErrorCode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum HttpErrorCode {
    /// No route, or no provider, by that name.
    NotFound,
    /// The token or credentials are missing or wrong.
    Unauthorized,
    /// The Host header names a host the API does not answer to.
    HostNotAllowed,
    /// A web page from another origin asked for the live stream.
    OriginNotAllowed,
    /// A query, path or body that does not parse.
    BadRequest,
    /// A webhook body that is not the provider's format.
    Malformed,
    /// A source that never arrives over HTTP. (An event type a provider's adapter does not know
    /// is acknowledged, journaled and logged, never refused.)
    Unsupported,
    /// A method the route (or the provider) does not take.
    Method,
    /// The request took too long to arrive.
    RequestTimeout,
    /// The body is over the route's limit.
    TooLarge,
    /// The event could not be stored; the provider should retry.
    StoreFailed,
    /// Too many failed authentications from this client: wait a minute.
    TooManyFailures,
}

#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    body: Body,
    /// Already logged (with more than the answer says).
    quiet: bool,
}

/// Either kind of code, as the body says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
enum Code {
    App(ErrorCode),
    Http(HttpErrorCode),
}

#[derive(Debug, Serialize)]
struct Body {
    code: Code,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl HttpError {
    pub fn new(status: StatusCode, code: HttpErrorCode, message: impl Into<String>) -> Self {
        HttpError {
            status,
            body: Body {
                code: Code::Http(code),
                message: message.into(),
                field: None,
            },
            quiet: false,
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, HttpErrorCode::NotFound, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            HttpErrorCode::Unauthorized,
            message,
        )
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, HttpErrorCode::BadRequest, message)
    }
    pub fn internal(err: anyhow::Error) -> Self {
        ringside_app::Error::Internal(err).into()
    }

    /// The same error with another status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn message(&self) -> &str {
        &self.body.message
    }

    /// Not logged again when answered: the caller logged why, with more than the answer
    /// tells the client.
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }
}

/// The status each application error answers with.
fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::InvalidSettings | ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::InvalidContact
        | ErrorCode::InvalidFile
        | ErrorCode::InvalidMapping
        | ErrorCode::NotCallable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ReadOnly | ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::DialFailed => StatusCode::BAD_GATEWAY,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ringside_app::Error> for HttpError {
    fn from(e: ringside_app::Error) -> Self {
        let b = e.body();
        HttpError {
            status: status(b.code),
            body: Body {
                code: Code::App(b.code),
                message: b.message,
                field: b.field,
            },
            quiet: false,
        }
    }
}

impl From<anyhow::Error> for HttpError {
    fn from(e: anyhow::Error) -> Self {
        HttpError::internal(e)
    }
}

impl From<IntakeError> for HttpError {
    fn from(e: IntakeError) -> Self {
        let msg = e.to_string();
        match e {
            IntakeError::Parse(ParseError::Malformed { .. }) => {
                Self::new(StatusCode::BAD_REQUEST, HttpErrorCode::Malformed, msg)
            }
            IntakeError::Parse(ParseError::Unsupported { .. }) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                HttpErrorCode::Unsupported,
                msg,
            ),
            IntakeError::Parse(ParseError::Method { .. }) => {
                Self::new(StatusCode::METHOD_NOT_ALLOWED, HttpErrorCode::Method, msg)
            }
            IntakeError::Store(e) => {
                tracing::error!("{e:#}");
                // The provider will retry: nothing was acknowledged.
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    HttpErrorCode::StoreFailed,
                    "could not store the event; retry",
                )
            }
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() && !self.quiet {
            tracing::info!(status = %self.status, "{}", self.body.message);
        }
        let mut res = (self.status, Json(json!({ "error": self.body }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ringside\", Bearer"),
            );
        }
        res
    }
}
