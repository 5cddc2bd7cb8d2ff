//! Provider adapters: one module per provider, wire types private to it.
//!
//! Each module exposes `parse(&Inbound, &ParseContext) -> Result<Parsed, ParseError>` and maps
//! its wire states into [`crate::model`] with an exhaustive `match`. Unknown values become a
//! [`ParseError`], never a panic. [`parse`] is the one explicit registry.

use crate::model::{CallEvent, Provider};
use chrono::FixedOffset;
use http::{HeaderMap, Method};

pub mod exotel;
pub mod generic;
pub mod teltel;
pub mod voiceshot;
pub mod whippy;
pub mod xelion;

mod wire;

/// A webhook request as the listener received it, after authentication and before parsing.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub method: &'a Method,
    /// The raw query string without the `?`, if any.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl<'a> Inbound<'a> {
    pub fn content_type(&self) -> Option<&'a str> {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }
}

/// Settings a parser may need beyond the request itself.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// The offset of the provider account's local time, for providers that send local
    /// timestamps without a zone (Exotel: IST, +05:30).
    pub local_offset: FixedOffset,
}

impl Default for ParseContext {
    fn default() -> Self {
        ParseContext {
            local_offset: FixedOffset::east_opt(0).expect("zero offset"),
        }
    }
}

/// What one delivery meant.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// Normalized events, in the order they happened.
    pub events: Vec<CallEvent>,
    /// The provider's own id for this delivery (TelTel's event `id`, Whippy's `request_id` plus
    /// event name), used to drop a redelivery. `None`: Ringside deduplicates on the body's hash.
    pub delivery_id: Option<String>,
}

/// Why a delivery was refused. Nothing is stored for any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not valid JSON/XML/form, or a required field is missing or of the wrong type. HTTP 400.
    #[error("malformed {provider} event: {message}")]
    Malformed { provider: Provider, message: String },
    /// Well-formed, but an event type or state this adapter does not know. HTTP 422.
    #[error("unsupported {provider} event: {message}")]
    Unsupported { provider: Provider, message: String },
    /// The provider never sends this HTTP method. HTTP 405.
    #[error("{provider} does not send {method} requests")]
    Method { provider: Provider, method: String },
}

impl ParseError {
    pub fn malformed(provider: Provider, message: impl Into<String>) -> Self {
        ParseError::Malformed {
            provider,
            message: message.into(),
        }
    }
    pub fn unsupported(provider: Provider, message: impl Into<String>) -> Self {
        ParseError::Unsupported {
            provider,
            message: message.into(),
        }
    }
    pub fn method(provider: Provider, method: &Method) -> Self {
        ParseError::Method {
            provider,
            method: method.to_string(),
        }
    }
}

/// Parse one webhook delivery for `provider`.
pub fn parse(
    provider: Provider,
    req: &Inbound<'_>,
    ctx: &ParseContext,
) -> Result<Parsed, ParseError> {
    match provider {
        Provider::Voiceshot => voiceshot::parse(req, ctx),
        Provider::Whippy => whippy::parse(req, ctx),
        Provider::Teltel => teltel::parse(req, ctx),
        Provider::Exotel => exotel::parse(req, ctx),
        Provider::Generic => generic::parse(req, ctx),
        Provider::Xelion => xelion::parse_frame(req.body, ctx).map(|events| Parsed {
            events,
            delivery_id: None,
        }),
        Provider::Ringside => Err(ParseError::unsupported(
            provider,
            "Ringside's own events do not arrive over HTTP",
        )),
    }
}
