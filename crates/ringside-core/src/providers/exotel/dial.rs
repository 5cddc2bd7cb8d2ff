//! Click-to-dial through Exotel's connect API (`[callback.exotel]`): Exotel rings the agent's
//! phone (`From`), and once they pick up, the customer (`To`).
//!
//! From the seed: `POST https://<API_KEY>:<API_TOKEN>@api.exotel.com/v1/Accounts/<account
//! sid>/Calls/connect.json?From=<From No>&To=<To Number>&StatusCallback=<URL>` — the API key
//! and token as Basic credentials, the parameters in the query string, and the
//! StatusCallbacks such a call then sends (`Direction: outbound-api`), which the Exotel webhook
//! already reads.
//!
//! Assumed (not in the seed): `CallerId`, the ExoPhone the call shows (Exotel's API requires
//! it); the answer's JSON, `{"Call": {"Sid": ..., "Status": ...}}` on success and
//! `{"RestException": {"Message": ...}}` on a refusal (any 2xx is taken as placed, whatever
//! the body); other clusters than `api.exotel.com` (`api_url`, e.g.
//! `https://api.in.exotel.com`).

use crate::dial::request::DialRequest;
use crate::links::check_remote_url;
use crate::providers::hook::check_secret;
use anyhow::{bail, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Exotel's API, unless `api_url` says another cluster.
const API_URL: &str = "https://api.exotel.com";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct ExotelDial {
    /// The account SID (`Accounts/<sid>` in the API's URLs).
    pub account_sid: String,
    pub api_key: String,
    /// Shown as ******** on the settings page.
    pub api_token: String,
    /// The ExoPhone (virtual number) the customer sees calling.
    pub caller_id: String,
    /// Default `https://api.exotel.com`.
    #[serde(default = "api_url")]
    pub api_url: String,
}

fn api_url() -> String {
    API_URL.into()
}

impl ExotelDial {
    pub fn check(&self) -> Result<()> {
        let key = "callback.exotel";
        let plain = |s: &str| {
            !s.is_empty()
                && s.len() <= 100
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !plain(&self.account_sid) {
            bail!(
                "{key}.account_sid: use the account SID as Exotel shows it (letters, digits, - _)"
            );
        }
        if !plain(&self.api_key) {
            bail!("{key}.api_key: use the API key as Exotel shows it (letters, digits, - _)");
        }
        check_secret(&format!("{key}.api_token"), &self.api_token)?;
        if self.api_token.contains(|c: char| c.is_control()) {
            bail!("{key}.api_token: has control characters");
        }
        if self.caller_id.chars().filter(char::is_ascii_digit).count() < 6
            || !self
                .caller_id
                .chars()
                .all(|c| c.is_ascii_digit() || c == '+')
        {
            bail!(
                "{key}.caller_id: `{}` is not an ExoPhone number",
                self.caller_id
            );
        }
        check_remote_url(&self.api_url).map_err(|m| anyhow::anyhow!("{key}.api_url: {m}"))?;
        Ok(())
    }

    /// The connect request: ring `agent`, then `customer` (both already dialable).
    pub fn request(&self, agent: &str, customer: &str) -> DialRequest {
        let mut url = url::Url::parse(self.api_url.trim_end_matches('/'))
            .unwrap_or_else(|_| url::Url::parse(API_URL).expect("a URL"));
        url.path_segments_mut()
            .map(|mut p| {
                p.pop_if_empty().extend([
                    "v1",
                    "Accounts",
                    &self.account_sid,
                    "Calls",
                    "connect.json",
                ]);
            })
            .ok();
        url.query_pairs_mut()
            .append_pair("From", agent)
            .append_pair("To", customer)
            .append_pair("CallerId", &self.caller_id);
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.api_key, self.api_token));
        DialRequest {
            method: "POST",
            url: url.to_string(),
            headers: vec![("Authorization".into(), format!("Basic {credentials}"))],
            body: None,
        }
    }
}

/// Exotel's answer (assumed shape, see the module docs).
#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Call")]
    call: Option<WireCall>,
    #[serde(rename = "RestException")]
    exception: Option<WireException>,
}

#[derive(Deserialize)]
struct WireCall {
    #[serde(rename = "Sid")]
    sid: Option<String>,
}

#[derive(Deserialize)]
struct WireException {
    #[serde(rename = "Message")]
    message: Option<String>,
}

/// What Exotel answered a connect request: the new call's SID (when the answer names it), or
/// why it refused.
pub fn read_answer(status: u16, body: &[u8]) -> std::result::Result<Option<String>, String> {
    let answer: Option<Answer> = serde_json::from_slice(body).ok();
    if (200..300).contains(&status) {
        return Ok(answer.and_then(|a| a.call).and_then(|c| c.sid));
    }
    let why = answer
        .and_then(|a| a.exception)
        .and_then(|e| e.message)
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_string()
        });
    Err(if why.is_empty() {
        format!("Exotel answered {status}")
    } else {
        format!("Exotel answered {status}: {why}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> ExotelDial {
        ExotelDial {
            account_sid: "acme1".into(),
            api_key: "key-123".into(),
            api_token: "token-0123456789abcdef".into(),
            caller_id: "08044556678".into(),
            api_url: api_url(),
        }
    }

    #[test]
    fn the_connect_request_is_the_seeds_with_the_caller_id() {
        let s = section();
        s.check().unwrap();
        let r = s.request("+919876543210", "+914412345678");
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url,
            "https://api.exotel.com/v1/Accounts/acme1/Calls/connect.json\
             ?From=%2B919876543210&To=%2B914412345678&CallerId=08044556678"
        );
        let basic =
            base64::engine::general_purpose::STANDARD.encode("key-123:token-0123456789abcdef");
        assert_eq!(
            r.headers,
            vec![("Authorization".into(), format!("Basic {basic}"))]
        );
    }

    #[test]
    fn answers_and_refusals() {
        assert_eq!(
            read_answer(
                200,
                br#"{"Call": {"Sid": "b6cfaf0ac9e4", "Status": "in-progress"}}"#
            ),
            Ok(Some("b6cfaf0ac9e4".into()))
        );
        assert_eq!(read_answer(200, b"not json"), Ok(None));
        assert_eq!(
            read_answer(
                400,
                br#"{"RestException": {"Status": 400, "Message": "Invalid To"}}"#
            ),
            Err("Exotel answered 400: Invalid To".into())
        );
        assert_eq!(read_answer(502, b""), Err("Exotel answered 502".into()));
    }

    #[test]
    fn bad_sections_name_the_key() {
        for (f, key) in [
            (
                (|s: &mut ExotelDial| s.account_sid = "a/b".into()) as fn(&mut ExotelDial),
                "account_sid",
            ),
            (|s| s.api_token = "short".into(), "api_token"),
            (|s| s.caller_id = "abc".into(), "caller_id"),
            (|s| s.api_url = "http://exotel.example".into(), "api_url"),
        ] {
            let mut s = section();
            f(&mut s);
            let err = format!("{:#}", s.check().unwrap_err());
            assert!(err.starts_with(&format!("callback.exotel.{key}")), "{err}");
        }
    }
}
