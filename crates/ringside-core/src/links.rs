//! Links Ringside hands to the OS: call-back URIs, CRM record URLs, and the one check every
//! opened URI passes.
//!
//! A caller id is data from the outside world. It never reaches a shell, and it can never
//! change where a link points: call-back numbers must parse as a phone number or be a plain
//! extension and are written in a fixed alphabet; CRM placeholders may only appear after the
//! host, and every value is percent-encoded.

use crate::model::{Call, ContactMatch, Direction};
use crate::phone::{self, DefaultRegion};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use phonenumber::Mode;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Why a link could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// The number on the other end of `call`: the caller for inbound, the callee for outbound.
pub fn other_party(call: &Call) -> Option<&str> {
    match call.direction {
        Direction::Inbound => call.from.as_deref(),
        Direction::Outbound => call.to.as_deref(),
    }
}

/// The kind of link "Call back" hands to the OS when it dials by link (`[callback] scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum CallbackScheme {
    #[default]
    Tel,
    Sip,
    Callto,
}

/// The URI that calls `number` back with `scheme` (`sip_domain`: the domain of `sip:` URIs).
pub fn callback_uri(
    number: &str,
    scheme: CallbackScheme,
    sip_domain: Option<&str>,
    region: DefaultRegion,
) -> Result<String, Refusal> {
    let dial = dialable(number, region)?;
    Ok(match scheme {
        CallbackScheme::Tel => format!("tel:{dial}"),
        CallbackScheme::Callto => format!("callto:{dial}"),
        CallbackScheme::Sip => match sip_domain {
            Some(domain) => format!("sip:{dial}@{domain}"),
            None => format!("sip:{dial}"),
        },
    })
}

/// `number` as something safe to dial: E.164 (`+` and digits), or an extension of digits, `*`
/// and `#` (`#` percent-encoded). Anything else is refused.
pub fn dialable(number: &str, region: DefaultRegion) -> Result<String, Refusal> {
    let n = number.trim();
    if let Some(e164) = phone::e164(n, region) {
        return Ok(e164);
    }
    let is_extension = (1..=15).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#');
    if is_extension {
        return Ok(n.replace('#', "%23"));
    }
    let shown: String = n.chars().take(40).collect();
    Err(Refusal(format!(
        "`{shown}` is not a phone number or extension Ringside can call back"
    )))
}

/// Whether Ringside may hand `uri` to the OS opener: only http(s), tel, sip and callto, and
/// nothing that could smuggle a second argument or line.
pub fn openable(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let allowed = ["http", "https", "tel", "sip", "callto"];
    !rest.is_empty()
        && allowed.iter().any(|a| a.eq_ignore_ascii_case(scheme))
        && !uri
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\'')
        && match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => url::Url::parse(uri).is_ok_and(|u| u.host().is_some()),
            _ => true,
        }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    E164,
    National,
    Digits,
    Name,
    CallId,
    Agent,
}

impl Placeholder {
    const ALL: [(&'static str, Placeholder); 6] = [
        ("e164", Placeholder::E164),
        ("national", Placeholder::National),
        ("digits", Placeholder::Digits),
        ("name", Placeholder::Name),
        ("call_id", Placeholder::CallId),
        ("agent", Placeholder::Agent),
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

/// A CRM URL template such as `https://crm.example.com/search?phone={e164}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// What a template can be filled with.
#[derive(Debug, Clone, Default)]
pub struct RecordValues {
    pub e164: String,
    pub national: String,
    pub digits: String,
    pub name: String,
    pub call_id: String,
    pub agent: String,
}

impl RecordValues {
    /// The values for `call`'s other party; `name` is the best contact match's (empty while
    /// nobody knows the number).
    pub fn for_call(call: &Call, region: DefaultRegion) -> RecordValues {
        Self::for_match(call, call.contacts.first(), region)
    }

    /// The values for `call`'s other party as contact `m` (the one the agent chose).
    pub fn for_match(call: &Call, m: Option<&ContactMatch>, region: DefaultRegion) -> RecordValues {
        RecordValues {
            name: m.map(|m| m.name.clone()).unwrap_or_default(),
            call_id: call.provider_call_id.clone(),
            agent: call.answered_by.clone().unwrap_or_default(),
            ..Self::for_number(other_party(call).unwrap_or(""), region)
        }
    }

    /// The values for a bare `number` (no call, nobody named).
    pub fn for_number(number: &str, region: DefaultRegion) -> RecordValues {
        let parsed = phone::e164(number, region).and_then(|e| phonenumber::parse(None, &e).ok());
        RecordValues {
            e164: parsed
                .as_ref()
                .map(|p| p.format().mode(Mode::E164).to_string())
                .unwrap_or_default(),
            national: parsed
                .as_ref()
                .map(|p| p.format().mode(Mode::National).to_string())
                .unwrap_or_else(|| number.to_string()),
            digits: number.chars().filter(char::is_ascii_digit).collect(),
            ..RecordValues::default()
        }
    }
}

impl Template {
    /// Check a URL template: http(s) only, known placeholders only, none before the path.
    pub fn parse(text: &str) -> Result<Template, String> {
        let lower = text.to_ascii_lowercase();
        let after_scheme = if lower.starts_with("https://") {
            8
        } else if lower.starts_with("http://") {
            7
        } else {
            return Err("only http:// and https:// URLs can be opened".into());
        };
        let t = Template::split(text, true)?;
        // The host must be fixed: no placeholder before the first '/', '?' or '#' after it.
        let literal_prefix = match t.parts.first() {
            Some(Part::Text(s)) => s.as_str(),
            _ => "",
        };
        let host_end = literal_prefix[after_scheme.min(literal_prefix.len())..]
            .find(['/', '?', '#'])
            .map(|i| i + after_scheme);
        if host_end.is_none() && t.parts.len() > 1 {
            return Err("placeholders may appear only after the host, in the path or query".into());
        }
        let sample = t.fill(&RecordValues::default());
        match url::Url::parse(&sample) {
            Ok(u) if u.host().is_some() => Ok(t),
            _ => Err(format!("`{text}` is not a valid URL")),
        }
    }

    /// Check a template of any text (a request body): known placeholders only. A `{` that
    /// does not start a `{name}` (JSON's braces) is text.
    pub fn parse_text(text: &str) -> Result<Template, String> {
        Template::split(text, false)
    }

    /// `text` as text and placeholders; `strict`: every `{` starts one.
    fn split(text: &str, strict: bool) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut literal = String::new();
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').map(|c| open + c);
            let is_name = |name: &str| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            };
            let close = match close {
                Some(c) if strict || is_name(&rest[open + 1..c]) => c,
                None if strict => return Err("a `{` has no closing `}`".into()),
                _ => {
                    literal.push_str(&rest[..=open]);
                    rest = &rest[open + 1..];
                    continue;
                }
            };
            let name = &rest[open + 1..close];
            let ph = Placeholder::ALL
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, p)| *p)
                .ok_or_else(|| {
                    format!(
                        "unknown placeholder {{{name}}}; use {}",
                        Placeholder::ALL
                            .iter()
                            .map(|(n, _)| format!("{{{n}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            literal.push_str(&rest[..open]);
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Value(ph));
            rest = &rest[close + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The URL for `values`, every value percent-encoded.
    pub fn fill(&self, v: &RecordValues) -> String {
        self.fill_with(v, |value| {
            utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
        })
    }

    /// The text for `values`, each value as `encode` writes it.
    pub fn fill_with(&self, v: &RecordValues, encode: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Value(ph) => {
                    let value = match ph {
                        Placeholder::E164 => &v.e164,
                        Placeholder::National => &v.national,
                        Placeholder::Digits => &v.digits,
                        Placeholder::Name => &v.name,
                        Placeholder::CallId => &v.call_id,
                        Placeholder::Agent => &v.agent,
                    };
                    out.push_str(&encode(value));
                }
            }
        }
        out
    }
}

/// An http(s) URL of a server Ringside talks to (a CRM, a CardDAV server, a PBX); plain http
/// only to this machine.
pub fn check_remote_url(url: &str) -> std::result::Result<(), String> {
    let u = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL ({e})"))?;
    let host = u.host_str().unwrap_or("");
    match u.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if ["127.0.0.1", "localhost", "[::1]"].contains(&host) => Ok(()),
        "http" => Err(
            "use https:// (credentials and contacts would cross the network in clear text)".into(),
        ),
        _ => Err(format!("`{url}` is not an http(s) URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> DefaultRegion {
        DefaultRegion::parse("US").unwrap()
    }

    fn cb(scheme: CallbackScheme, domain: Option<&str>) -> (CallbackScheme, Option<&str>) {
        (scheme, domain)
    }

    fn callback_uri(
        number: &str,
        cb: &(CallbackScheme, Option<&str>),
        region: DefaultRegion,
    ) -> Result<String, Refusal> {
        super::callback_uri(number, cb.0, cb.1, region)
    }

    #[test]
    fn callback_uris_for_each_scheme() {
        let tel = cb(CallbackScheme::Tel, None);
        assert_eq!(
            callback_uri("+14155550123", &tel, us()).unwrap(),
            "tel:+14155550123"
        );
        assert_eq!(
            callback_uri("(415) 555-0123", &tel, us()).unwrap(),
            "tel:+14155550123"
        );
        assert_eq!(callback_uri("201", &tel, us()).unwrap(), "tel:201");
        assert_eq!(callback_uri("*72#", &tel, us()).unwrap(), "tel:*72%23");
        let sip = cb(CallbackScheme::Sip, Some("pbx.example.com"));
        assert_eq!(
            callback_uri("+14155550123", &sip, us()).unwrap(),
            "sip:+14155550123@pbx.example.com"
        );
        let callto = cb(CallbackScheme::Callto, None);
        assert_eq!(
            callback_uri("+442079460018", &callto, us()).unwrap(),
            "callto:+442079460018"
        );
    }

    #[test]
    fn hostile_caller_ids_never_become_a_uri() {
        let tel = cb(CallbackScheme::Tel, None);
        for evil in [
            "+1555;rm -rf ~",
            "123&x=1",
            "$(reboot)",
            "`id`",
            "anonymous",
            "",
            "+1415555012\n3",
            "tel:+14155550123",
            "http://evil.example/",
            "201@evil",
            "1234567890123456789",
        ] {
            match callback_uri(evil, &tel, us()) {
                Err(Refusal(msg)) => assert!(msg.contains("call back"), "{msg}"),
                Ok(uri) => {
                    // If it parses at all, it is nothing but a clean number.
                    let rest = uri.strip_prefix("tel:").unwrap();
                    assert!(
                        rest.chars().all(|c| c == '+' || c.is_ascii_digit()),
                        "{evil:?} -> {uri}"
                    );
                }
            }
        }
    }

    #[test]
    fn only_safe_schemes_open() {
        for ok in [
            "tel:+14155550123",
            "sip:201@pbx",
            "callto:+1",
            "https://crm.example/x?a=1",
            "HTTP://a.b/",
        ] {
            assert!(openable(ok), "{ok}");
        }
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "smb://host/share",
            "tel:",
            "https://a.b/ --arg",
            "https://a.b/\nx",
            "/usr/bin/xterm",
            "tel:1\"",
        ] {
            assert!(!openable(bad), "{bad}");
        }
    }

    #[test]
    fn crm_templates_encode_values_and_keep_the_host_fixed() {
        let t = Template::parse("https://crm.example.com/search?phone={e164}&n={name}").unwrap();
        let v = RecordValues {
            e164: "+14155550123".into(),
            name: "A&B=1 #x".into(),
            ..Default::default()
        };
        assert_eq!(
            t.fill(&v),
            "https://crm.example.com/search?phone=%2B14155550123&n=A%26B%3D1%20%23x"
        );
        for (bad, why) in [
            ("ftp://crm/x", "http"),
            ("javascript:alert(1)", "http"),
            ("https://crm/{phone}", "unknown placeholder"),
            ("https://{name}.evil.com/", "after the host"),
            ("https://crm.example.com{digits}", "after the host"),
            ("https://crm/{e164", "closing"),
        ] {
            let err = Template::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn record_values_come_from_the_other_party() {
        let mut call: Call = serde_json::from_value(serde_json::json!({
            "id": "generic:c1", "provider": "generic", "provider_call_id": "c1",
            "direction": "inbound", "state": "ringing", "from": "+14155550123", "to": "201",
            "line": null, "answered_by": "201", "started_at": "2026-01-01T00:00:00Z",
            "answered_at": null, "ended_at": null, "duration_s": null, "end_reason": null,
            "recording_url": null, "transcript": null, "attachments": [], "keypresses": [],
            "legs": [], "done": false, "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let v = RecordValues::for_call(&call, us());
        assert_eq!(v.e164, "+14155550123");
        assert_eq!(v.national, "(415) 555-0123");
        assert_eq!(v.digits, "14155550123");
        assert_eq!(v.agent, "201");
        call.direction = Direction::Outbound;
        assert_eq!(other_party(&call), Some("201"));
    }
}
