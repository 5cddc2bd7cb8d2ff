//! Built-in test calls: each provider's scenarios (in its folder, `scenarios.rs`) build the
//! HTTP requests of one call in the provider's real wire format. Pure: sending them is the
//! server's job (`ringside-server simulate`, `POST /api/simulate`).

use super::{Inbound, ParseContext, ParseError, Parsed};
use crate::model::{CallState, Provider};
use chrono::{DateTime, Utc};

/// One HTTP request of a scenario, relative to the provider's webhook URL.
#[derive(Debug, Clone)]
pub struct WireRequest {
    pub method: &'static str,
    /// Appended to the webhook URL, e.g. `?CallSid=...` for a GET; usually empty.
    pub query: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Pause before sending this request, so a person watching sees each state.
    pub delay_ms: u64,
}

impl WireRequest {
    pub fn post(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        WireRequest {
            method: "POST",
            query: String::new(),
            content_type: Some(content_type.to_string()),
            body: body.into(),
            delay_ms: 0,
        }
    }
    pub fn get(query: String) -> Self {
        WireRequest {
            method: "GET",
            query,
            content_type: None,
            body: Vec::new(),
            delay_ms: 0,
        }
    }
    pub fn after(mut self, delay_ms: u64) -> Self {
        self.delay_ms = delay_ms;
        self
    }

    /// What Ringside's adapter for `provider` makes of this request, as its webhook would
    /// receive it.
    pub fn parse(&self, provider: Provider, ctx: &ParseContext) -> Result<Parsed, ParseError> {
        let method = http::Method::from_bytes(self.method.as_bytes()).unwrap_or(http::Method::POST);
        let mut headers = http::HeaderMap::new();
        if let Some(ct) = self.content_type.as_deref().and_then(|c| c.parse().ok()) {
            headers.insert(http::header::CONTENT_TYPE, ct);
        }
        let inbound = Inbound {
            method: &method,
            query: self.query.strip_prefix('?').filter(|q| !q.is_empty()),
            headers: &headers,
            body: &self.body,
        };
        super::parse(provider, &inbound, ctx)
    }
}

/// What varies between runs of one scenario, so that every run is a new call.
#[derive(Debug, Clone)]
pub struct Run {
    /// A fresh unique id, usable as (part of) the provider's call id and event ids.
    pub id: String,
    pub now: DateTime<Utc>,
    /// The caller's number as the provider would send it.
    pub caller: String,
    /// Agents to ring: two of the configured identities, or demo ones.
    pub agents: Vec<String>,
}

pub struct Scenario {
    pub name: &'static str,
    pub provider: Provider,
    pub description: &'static str,
    pub build: fn(&Run) -> Vec<WireRequest>,
    /// What the call is once every request was sent, in any order.
    pub sent: CallState,
    /// What it is once Ringside's `[calls] quiet_s` passed too: the same, unless the provider
    /// says nothing more about such a call (the Exotel applet's unanswered attempts, a
    /// VoiceShot outbound campaign call), which Ringside then ends.
    pub settled: CallState,
}

impl Scenario {
    /// What Ringside's adapter makes of each request of `run`, in order.
    pub fn parse(&self, run: &Run, ctx: &ParseContext) -> Result<Vec<Parsed>, ParseError> {
        (self.build)(run)
            .iter()
            .map(|req| req.parse(self.provider, ctx))
            .collect()
    }
}

/// Every scenario, grouped by provider in the registry's order.
pub fn all() -> Vec<&'static Scenario> {
    Provider::ALL
        .into_iter()
        .filter_map(super::adapter)
        .flat_map(|a| a.scenarios)
        .collect()
}

/// The scenario called `name`.
pub fn named(name: &str) -> Option<&'static Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// `application/x-www-form-urlencoded` serialization of `pairs`, in order.
pub fn form<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        .finish()
}

/// What the scenarios' tests share.
#[cfg(test)]
pub(crate) mod check {
    use super::{Run, Scenario};
    use crate::model::{CallEvent, EventKind};
    use crate::providers::ParseContext;

    /// The scenario called `name`, which must exist.
    pub fn scenario(name: &str) -> &'static Scenario {
        super::named(name).unwrap_or_else(|| panic!("no scenario {name}"))
    }

    /// Every event of `run`, read as the provider's default settings read it.
    pub fn events(scenario: &Scenario, run: &Run) -> Vec<CallEvent> {
        let parsed = scenario.parse(run, &ParseContext::default()).unwrap();
        parsed.into_iter().flat_map(|p| p.events).collect()
    }

    pub fn kinds(events: &[CallEvent]) -> Vec<EventKind> {
        events.iter().map(|e| e.kind.clone()).collect()
    }

    pub fn ringing(agent: &str) -> EventKind {
        EventKind::Ringing {
            agent: Some(agent.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_encode_as_browsers_do() {
        assert_eq!(
            form(&[("a b", "x&y=z"), ("user[]", "Bob & Co"), ("t", "-._*~+")]),
            "a+b=x%26y%3Dz&user%5B%5D=Bob+%26+Co&t=-._*%7E%2B"
        );
    }

    #[test]
    fn every_provider_but_xelion_has_scenarios_and_names_are_unique() {
        let all = all();
        for p in Provider::WEBHOOK {
            assert!(all.iter().any(|s| s.provider == p), "{p}");
        }
        let mut names: Vec<_> = all.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
