//! Provider adapters: a folder per provider, wire types private to it.
//!
//! A provider's `mod.rs` parses a delivery and maps its wire states into [`crate::model`] with
//! an exhaustive `match`; unknown values become a [`ParseError`], never a panic. Its folder
//! also holds its config section and checks (a [`hook::Section`], which yields the listener's
//! [`HookSettings`]), its signature check where it signs, and its built-in test calls
//! ([`scenario`]). Each exposes an [`Adapter`]; [`adapter`] is the one explicit registry.

use crate::model::{CallEvent, EventKind, Provider};
use crate::phone::DefaultRegion;
use crate::signature::SignatureError;
use chrono::FixedOffset;
use http::{HeaderMap, Method};

pub mod exotel;
pub mod generic;
pub mod hook;
pub mod scenario;
pub mod teltel;
pub mod voiceshot;
pub mod whippy;
pub mod xelion;

mod wire;

use scenario::Scenario;

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

/// One provider as the engine and the simulator see it.
pub struct Adapter {
    pub provider: Provider,
    /// Read one delivery.
    pub parse: fn(&Inbound<'_>, &ParseContext) -> Result<Parsed, ParseError>,
    /// Built-in test calls in the provider's wire format.
    pub scenarios: &'static [Scenario],
}

/// What the listener needs to take one provider's webhooks, as its config section
/// ([`hook::Section`]) says: how a delivery authenticates, the signature it must carry, how it
/// is parsed and how it is answered.
#[derive(Debug, Clone)]
pub struct HookSettings {
    pub provider: Provider,
    pub enabled: bool,
    /// Opens `/hooks/<provider>/<token>`.
    pub token: Option<String>,
    /// HTTP Basic credentials that open `/hooks/<provider>` (VoiceShot, when configured).
    pub basic_auth: Option<(String, String)>,
    /// The signature every delivery must carry (Whippy, when configured).
    pub signature: Option<Signature>,
    /// Where numbers without a country code are.
    pub region: DefaultRegion,
    pub parse: ParseContext,
    /// How to answer a delivery once it is stored.
    pub reply: Reply,
}

impl HookSettings {
    /// Check a delivery's signature, if the settings ask for one; `now_unix` for replay
    /// protection.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), SignatureError> {
        match &self.signature {
            Some(s) => (s.verify)(&s.secret, headers, body, now_unix),
            None => Ok(()),
        }
    }
}

/// A provider's signature check and the secret it checks with.
#[derive(Debug, Clone)]
pub struct Signature {
    pub secret: String,
    pub verify: fn(
        secret: &str,
        headers: &HeaderMap,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), SignatureError>,
}

/// What the listener answers a stored delivery with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// JSON: `{"status": "stored", "seq", "calls"}` or `{"status": "duplicate"}`.
    Receipt,
    /// A fixed body the provider reads (VoiceShot: a Call Command; empty means "carry on").
    Text {
        content_type: &'static str,
        body: String,
    },
}

/// The registry: `provider`'s adapter; `None` for Ringside's own events.
pub fn adapter(provider: Provider) -> Option<&'static Adapter> {
    match provider {
        Provider::Voiceshot => Some(&voiceshot::ADAPTER),
        Provider::Whippy => Some(&whippy::ADAPTER),
        Provider::Teltel => Some(&teltel::ADAPTER),
        Provider::Exotel => Some(&exotel::ADAPTER),
        Provider::Generic => Some(&generic::ADAPTER),
        Provider::Xelion => Some(&xelion::ADAPTER),
        Provider::Ringside => None,
    }
}

/// Parse one webhook delivery for `provider`.
pub fn parse(
    provider: Provider,
    req: &Inbound<'_>,
    ctx: &ParseContext,
) -> Result<Parsed, ParseError> {
    let parsed = match adapter(provider) {
        Some(a) => (a.parse)(req, ctx)?,
        None => {
            return Err(ParseError::unsupported(
                provider,
                "Ringside's own events do not arrive over HTTP",
            ))
        }
    };
    check_names(provider, &parsed)?;
    Ok(parsed)
}

/// Ids, numbers and agents are names: one holding a control character (a NUL, a line
/// break) names nothing a provider has, and would reach searches, logs and CSV files.
fn check_names(provider: Provider, parsed: &Parsed) -> Result<(), ParseError> {
    let bad = |what: &str, v: &str| {
        v.chars().any(char::is_control).then(|| {
            ParseError::malformed(provider, format!("the {what} holds a control character"))
        })
    };
    if let Some(e) = parsed
        .delivery_id
        .as_deref()
        .and_then(|v| bad("delivery id", v))
    {
        return Err(e);
    }
    for ev in &parsed.events {
        let agent = match &ev.kind {
            EventKind::Ringing { agent } => agent.as_deref(),
            EventKind::LegStopped { agent, .. } => Some(agent.as_str()),
            EventKind::Answered { by } => by.as_deref(),
            EventKind::Transferred { to } => to.as_deref(),
            _ => None,
        };
        let f = &ev.facts;
        let names = [
            ("call id", Some(ev.provider_call_id.as_str())),
            ("agent", agent),
            ("caller number", f.from.as_deref()),
            ("called number", f.to.as_deref()),
            ("line", f.line.as_deref()),
        ];
        for (what, v) in names {
            if let Some(e) = v.and_then(|v| bad(what, v)) {
                return Err(e);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_adapter_is_registered_under_its_own_provider() {
        for p in Provider::ALL {
            if let Some(a) = adapter(p) {
                assert_eq!(a.provider, p);
                assert!(a.scenarios.iter().all(|s| s.provider == p), "{p}");
            }
        }
    }
}
