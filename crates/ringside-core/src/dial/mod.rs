//! How "Call back" dials (`[callback]`): a `tel:`/`sip:`/`callto:` link handed to the OS, or a
//! request to the phone system that rings the agent first, then the other party: any PBX
//! through an HTTP template (`[callback.http]`), or Exotel's connect API
//! (`[callback.exotel]`, see [`crate::providers::exotel::dial`]).
//!
//! Pure: this builds what to open or what to send; the application layer sends it. Caller ids
//! never reach a shell. A number is dialled only once it is E.164 or a plain extension
//! ([`links::dialable`]); a template puts values into a URL percent-encoded, into a JSON body
//! JSON-escaped (inside a string, which the checks make sure of), into a form body
//! percent-encoded.

pub mod request;

pub use request::DialRequest;

use crate::links::{self, check_remote_url, CallbackScheme, RecordValues, Refusal, Template};
use crate::phone::DefaultRegion;
use crate::providers::exotel::dial::ExotelDial;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ts_rs::TS;

/// How "Call back" reaches the other party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum DialVia {
    /// A `tel:`, `sip:` or `callto:` link for the softphone or phone app.
    #[default]
    Link,
    /// A request to the phone system, as `[callback.http]` describes it.
    Http,
    /// Exotel's connect API (`[callback.exotel]`).
    Exotel,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields, default)]
pub struct Callback {
    /// The link's kind, with `via = "link"`.
    pub scheme: CallbackScheme,
    /// For `sip:` links: the domain after `@` (e.g. `pbx.example.com`).
    pub sip_domain: Option<String>,
    pub via: DialVia,
    /// The agent's own phone or extension, rung first by `http` and `exotel` (`{agent}`);
    /// default: the first of `[agent] identities`.
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpDial>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exotel: Option<ExotelDial>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "UPPERCASE")]
pub enum DialMethod {
    Get,
    #[default]
    Post,
    Put,
}

impl DialMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            DialMethod::Get => "GET",
            DialMethod::Post => "POST",
            DialMethod::Put => "PUT",
        }
    }
}

/// How a template's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum BodyKind {
    /// `application/json`: placeholders stand inside JSON strings, values JSON-escaped.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`: values percent-encoded.
    Form,
}

impl BodyKind {
    pub fn content_type(self) -> &'static str {
        match self {
            BodyKind::Json => "application/json",
            BodyKind::Form => "application/x-www-form-urlencoded",
        }
    }
}

/// A request that asks any phone system to connect the agent with a number. Placeholders, in
/// the URL (after the host) and the body: `{agent}`, `{e164}`, `{national}`, `{digits}`,
/// `{name}`, `{call_id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct HttpDial {
    #[serde(default)]
    pub method: DialMethod,
    /// e.g. `https://pbx.example.com/api/originate?from={agent}&to={e164}`
    pub url: String,
    /// e.g. `{"from": "{agent}", "to": "{e164}"}`; POST and PUT only.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub body_kind: BodyKind,
    /// Sent with the request, e.g. `{ Authorization = "Bearer ..." }` (shown as ******** on
    /// the settings page).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// What "Call back" does for one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dial {
    /// Hand this URI to the OS (or the browser).
    Open(String),
    /// Send this request; the phone system rings the agent, then the number.
    Request(DialVia, DialRequest),
}

/// Values no number or name ever has: a template whose output stays well-formed with them
/// puts every value where it belongs.
const HOSTILE: &str = "\"'&=?#{}\\\n<>%+ ";

impl Callback {
    /// Values that parse but make no sense; errors name the key.
    pub fn check(&self) -> Result<()> {
        if let Some(d) = &self.sip_domain {
            if d.is_empty()
                || !d
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                bail!("callback.sip_domain: `{d}` is not a host name");
            }
        }
        if let Some(a) = &self.agent {
            let any_region = DefaultRegion::default();
            links::dialable(a, any_region).map_err(|_| {
                anyhow::anyhow!("callback.agent: `{a}` is not a phone number or extension")
            })?;
        }
        if let Some(h) = &self.http {
            h.check()?;
        }
        if let Some(x) = &self.exotel {
            x.check()?;
        }
        match self.via {
            DialVia::Http if self.http.is_none() => {
                bail!("callback.http: missing; `via = \"http\"` needs a [callback.http] section")
            }
            DialVia::Exotel if self.exotel.is_none() => {
                bail!("callback.exotel: missing; `via = \"exotel\"` needs a [callback.exotel] section")
            }
            _ => Ok(()),
        }
    }

    /// How to call `number` back: `values` are the other party's (see [`RecordValues`]), and
    /// `agent` the agent's own phone (`[callback] agent`, else their first identity).
    pub fn plan(
        &self,
        number: &str,
        values: &RecordValues,
        agent: Option<&str>,
        region: DefaultRegion,
    ) -> Result<Dial, Refusal> {
        // As dialled: E.164 or the extension's digits, `*` and `#`.
        let dial = links::dialable(number, region)?.replace("%23", "#");
        if self.via == DialVia::Link {
            return links::callback_uri(number, self.scheme, self.sip_domain.as_deref(), region)
                .map(Dial::Open);
        }
        let agent = self
            .agent
            .as_deref()
            .or(agent)
            .ok_or_else(|| Refusal("set [callback] agent: the phone to ring first".into()))?;
        let agent = links::dialable(agent, region)?.replace("%23", "#");
        let mut values = values.clone();
        values.e164 = dial.clone();
        values.agent = agent.clone();
        match (self.via, &self.http, &self.exotel) {
            (DialVia::Http, Some(h), _) => Ok(Dial::Request(DialVia::Http, h.request(&values))),
            (DialVia::Exotel, _, Some(x)) => {
                Ok(Dial::Request(DialVia::Exotel, x.request(&agent, &dial)))
            }
            _ => Err(Refusal(
                "call back is set to dial through a phone system that is not configured".into(),
            )),
        }
    }
}

impl HttpDial {
    fn check(&self) -> Result<()> {
        let key = "callback.http";
        let url = Template::parse(&self.url).map_err(|e| anyhow::anyhow!("{key}.url: {e}"))?;
        check_remote_url(&url.fill(&RecordValues::default()))
            .map_err(|m| anyhow::anyhow!("{key}.url: {m}"))?;
        for (k, v) in &self.headers {
            if http::HeaderName::from_bytes(k.as_bytes()).is_err()
                || http::HeaderValue::from_str(v).is_err()
            {
                bail!("{key}.headers: `{k}` is not a valid HTTP header");
            }
        }
        if let Some(body) = &self.body {
            if self.method == DialMethod::Get {
                bail!("{key}.body: a GET request has no body; use POST or PUT");
            }
            let t = Template::parse_text(body).map_err(|e| anyhow::anyhow!("{key}.body: {e}"))?;
            if self.body_kind == BodyKind::Json {
                let hostile = RecordValues {
                    e164: HOSTILE.into(),
                    national: HOSTILE.into(),
                    digits: HOSTILE.into(),
                    name: HOSTILE.into(),
                    call_id: HOSTILE.into(),
                    agent: HOSTILE.into(),
                };
                serde_json::from_str::<serde_json::Value>(&t.fill_with(&hostile, json_escaped))
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "{key}.body: not JSON with placeholders inside strings \
                             (like {{\"to\": \"{{e164}}\"}}): {e}"
                        )
                    })?;
            }
        }
        Ok(())
    }

    /// The request for `values` (already checked: the templates parse).
    fn request(&self, values: &RecordValues) -> DialRequest {
        let url = Template::parse(&self.url)
            .map(|t| t.fill(values))
            .unwrap_or_default();
        let body = self.body.as_ref().map(|b| {
            let t = Template::parse_text(b).unwrap_or(Template::parse_text("").expect("empty"));
            let text = match self.body_kind {
                BodyKind::Json => t.fill_with(values, json_escaped),
                BodyKind::Form => t.fill(values),
            };
            (self.body_kind.content_type(), text.into_bytes())
        });
        DialRequest {
            method: self.method.as_str(),
            url,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body,
        }
    }
}

/// `value` as the inside of a JSON string.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> DefaultRegion {
        DefaultRegion::parse("US").unwrap()
    }

    fn http(url: &str, body: Option<&str>, kind: BodyKind) -> Callback {
        Callback {
            via: DialVia::Http,
            agent: Some("201".into()),
            http: Some(HttpDial {
                method: DialMethod::Post,
                url: url.into(),
                body: body.map(str::to_string),
                body_kind: kind,
                headers: [("Authorization".to_string(), "Bearer s3cret".to_string())].into(),
            }),
            ..Callback::default()
        }
    }

    #[test]
    fn a_link_by_default() {
        let cb = Callback::default();
        cb.check().unwrap();
        assert_eq!(
            cb.plan("+14155550123", &RecordValues::default(), None, us()),
            Ok(Dial::Open("tel:+14155550123".into()))
        );
    }

    #[test]
    fn an_http_template_encodes_each_value_for_where_it_stands() {
        let cb = http(
            "https://pbx.example.com/dial?from={agent}&to={e164}",
            Some(r#"{"from": "{agent}", "to": "{e164}", "who": "{name}"}"#),
            BodyKind::Json,
        );
        cb.check().unwrap();
        let values = RecordValues {
            name: "Ann \"The\" O'Neil & co".into(),
            ..RecordValues::default()
        };
        let Ok(Dial::Request(DialVia::Http, req)) = cb.plan("(415) 555-0123", &values, None, us())
        else {
            panic!("a request")
        };
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.url,
            "https://pbx.example.com/dial?from=201&to=%2B14155550123"
        );
        let (ct, body) = req.body.unwrap();
        assert_eq!(ct, "application/json");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["to"], "+14155550123");
        assert_eq!(json["who"], "Ann \"The\" O'Neil & co");
        assert_eq!(
            req.headers,
            vec![("Authorization".into(), "Bearer s3cret".into())]
        );

        let form = http(
            "https://pbx.example.com/dial",
            Some("from={agent}&to={e164}&n={name}"),
            BodyKind::Form,
        );
        let Ok(Dial::Request(_, req)) = form.plan("+14155550123", &values, None, us()) else {
            panic!()
        };
        assert_eq!(
            String::from_utf8(req.body.unwrap().1).unwrap(),
            "from=201&to=%2B14155550123&n=Ann%20%22The%22%20O%27Neil%20%26%20co"
        );
    }

    #[test]
    fn bad_templates_and_sections_are_refused_naming_the_key() {
        for (cb, key) in [
            (
                http("ftp://pbx/x", None, BodyKind::Json),
                "callback.http.url",
            ),
            (
                http("https://{e164}.evil.example/", None, BodyKind::Json),
                "callback.http.url",
            ),
            (
                http("http://10.0.0.5/dial", None, BodyKind::Json),
                "callback.http.url",
            ),
            (
                // A placeholder outside a string could inject JSON.
                http(
                    "https://pbx.example.com/",
                    Some(r#"{"to": {e164}}"#),
                    BodyKind::Json,
                ),
                "callback.http.body",
            ),
            (
                http(
                    "https://pbx.example.com/",
                    Some(r#"{"to": "{phone}"}"#),
                    BodyKind::Json,
                ),
                "callback.http.body",
            ),
            (
                Callback {
                    via: DialVia::Exotel,
                    ..Callback::default()
                },
                "callback.exotel",
            ),
            (
                Callback {
                    agent: Some("201; rm -rf ~".into()),
                    ..Callback::default()
                },
                "callback.agent",
            ),
        ] {
            let err = format!("{:#}", cb.check().unwrap_err());
            assert!(err.starts_with(key), "{key}: {err}");
        }
    }

    #[test]
    fn hostile_numbers_never_become_a_request() {
        let cb = http(
            "https://pbx.example.com/dial?to={e164}",
            None,
            BodyKind::Json,
        );
        for evil in ["+1555;rm -rf ~", "$(reboot)", "anonymous", "123&x=1"] {
            assert!(
                cb.plan(evil, &RecordValues::default(), None, us()).is_err(),
                "{evil}"
            );
        }
        // Without an agent to ring first, there is nothing to dial.
        let mut no_agent = cb.clone();
        no_agent.agent = None;
        assert!(no_agent
            .plan("+14155550123", &RecordValues::default(), None, us())
            .is_err());
        assert!(no_agent
            .plan("+14155550123", &RecordValues::default(), Some("202"), us())
            .is_ok());
    }
}
