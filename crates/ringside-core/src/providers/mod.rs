//! Provider adapters: a folder per provider, wire types private to it.
//!
//! A provider's `mod.rs` parses a delivery and maps its wire states into [`crate::model`] with
//! an exhaustive `match`; a malformed delivery is a [`ParseError`], an event type or value it
//! does not know a note on a [`Parsed`] (journaled, logged, acknowledged), never a panic. Its folder
//! also holds its config section and checks (a [`hook::Section`], which yields the listener's
//! [`HookSettings`]), its signature check where it signs, and its built-in test calls
//! ([`scenario`]). Each exposes an [`Adapter`]; [`adapter`] is the one explicit registry.

use crate::model::{Call, CallEvent, EventKind, Provider};
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

pub(crate) mod wire;

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
///
/// A delivery of a provider Ringside knows is read as far as it can be, never refused for its
/// content beyond being malformed: an event type the adapter does not know is a delivery with
/// no events and a note saying so ([`Parsed::ignored`]), which is journaled, logged and
/// acknowledged and changes no call; a field the adapter cannot read is left unknown (or
/// falls back, such as a time to the receive time) with a note, and the events go on
/// without it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// Normalized events, in the order they happened. Empty: the delivery carries no call
    /// event Ringside reads (`notes` says why).
    pub events: Vec<CallEvent>,
    /// The provider's own id for one delivery of one event of one call, used to drop a
    /// redelivery (each adapter says what it is built from). `None`: Ringside deduplicates
    /// on the request's hash.
    pub delivery_id: Option<String>,
    /// What Ringside could not read, one sentence each: journaled with the delivery and
    /// logged.
    pub notes: Vec<String>,
}

impl Parsed {
    /// A delivery of `events`.
    pub fn events(events: Vec<CallEvent>, delivery_id: Option<String>) -> Parsed {
        Parsed {
            events,
            delivery_id,
            notes: Vec::new(),
        }
    }

    /// A well-formed delivery that carries no call event Ringside reads, and why.
    pub fn ignored(reason: impl Into<String>, delivery_id: Option<String>) -> Parsed {
        Parsed {
            events: Vec::new(),
            delivery_id,
            notes: vec![reason.into()],
        }
    }

    /// The same delivery with `notes` added (what could not be read).
    pub fn with_notes(mut self, notes: Vec<String>) -> Parsed {
        self.notes.extend(notes);
        self
    }
}

/// Why a delivery was refused. Nothing is stored for any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not valid JSON/XML/form, or a required field is missing or of the wrong type. HTTP 400.
    #[error("malformed {provider} event: {message}")]
    Malformed { provider: Provider, message: String },
    /// A source that never arrives over HTTP (Ringside's own events). HTTP 422. An event type
    /// or value an adapter does not know is no error: see [`Parsed`].
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
    /// What the provider can and cannot tell about a call.
    pub reports: Reports,
}

/// What a provider can and cannot tell about a call, where correlation and the screen-pop
/// need to know (each provider's page in `docs/providers/` says the rest).
#[derive(Clone, Copy)]
pub struct Reports {
    /// It says when a call rings. Without that (VoiceShot's IVR answers every call, Whippy's
    /// calls start connected) "pop on ringing" pops at the first event that shows a call
    /// for me ([`crate::screenpop`]).
    pub ringing: bool,
    /// Its call ids are unique only while the call lives (VoiceShot's `callid`): the same id
    /// after the call ended is a new call ([`crate::correlate::starts_again`]).
    pub ids_reused: bool,
    /// Whether the provider will say no more about `call` as it is now (the end of a flow it
    /// does not report): it is then over after `[calls] quiet_s` of silence
    /// ([`crate::correlate::timeout`]).
    pub quiet: fn(&Call) -> bool,
}

impl Reports {
    /// A provider that reports ringing, keeps its ids and reports how every call ends.
    pub const FULL: Reports = Reports {
        ringing: true,
        ids_reused: false,
        quiet: never_quiet,
    };
}

fn never_quiet(_: &Call) -> bool {
    false
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
