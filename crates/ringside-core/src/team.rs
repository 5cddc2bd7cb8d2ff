//! Settings of a team: `[hub]` makes `ringside-server` the team's hub (its groups, claims,
//! public name, outbound webhooks); `[team]` connects an agent's desktop app to a hub.

use crate::me::Me;
use crate::phone::DefaultRegion;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ts_rs::TS;

/// `[hub]`: this Ringside is the team's hub. Agents live in its store (`ringside-server
/// agents ...`); each sees only their calls and their groups'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Hub {
    /// The hub's address as the team reaches it, behind the team's TLS proxy, e.g.
    /// `https://ringside.example.com`. Its host is the only one besides loopback names the API
    /// answers, and its origin the only one the live stream accepts from a browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// How long a claim ("I am calling back") holds before it lapses, in minutes. Default 15.
    #[serde(default = "claim_minutes")]
    pub claim_minutes: u32,
    /// Groups (queues): the calls on a group's lines belong to every member.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, Group>,
    /// Where each finished call (and each missed call resolved) is posted, signed the Standard
    /// Webhooks way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<OutboundWebhook>,
}

fn claim_minutes() -> u32 {
    15
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            public_url: None,
            claim_minutes: claim_minutes(),
            groups: BTreeMap::new(),
            webhooks: Vec::new(),
        }
    }
}

/// `[hub.groups.<name>]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The numbers or lines whose calls belong to the group (`+14155550100`).
    #[serde(default)]
    pub lines: Vec<String>,
    /// The provider's queue names whose calls belong to the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<String>,
}

/// `[[hub.webhooks]]`: a URL every finished call and missed-call resolution is posted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct OutboundWebhook {
    /// `https://...` (plain http only to this machine).
    pub url: String,
    /// The signing secret, `whsec_` and base64 (Standard Webhooks).
    pub secret: String,
    /// Which events: `call.ended`, `call.missed`, `missed.resolved` (the customer was reached),
    /// `missed.done` (an agent marked it done or called back), `call.wrapup` (an agent noted
    /// how it went). Default all.
    #[serde(default = "all_events")]
    pub events: Vec<String>,
}

/// The events a hub posts.
pub const EVENTS: [&str; 5] = [
    "call.ended",
    "call.missed",
    "missed.resolved",
    "missed.done",
    "call.wrapup",
];

fn all_events() -> Vec<String> {
    EVENTS.map(String::from).to_vec()
}

impl Hub {
    /// Values that parse but make no sense; errors name the key.
    pub fn check(&self) -> Result<()> {
        if let Some(u) = &self.public_url {
            let parsed = url::Url::parse(u)
                .map_err(|e| anyhow::anyhow!("hub.public_url: `{u}` is not a URL ({e})"))?;
            if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
                bail!(
                    "hub.public_url: `{u}` is not an http(s) URL like https://ringside.example.com"
                );
            }
        }
        if !(1..=24 * 60).contains(&self.claim_minutes) {
            bail!(
                "hub.claim_minutes: {} is not between 1 and 1440",
                self.claim_minutes
            );
        }
        for (name, g) in &self.groups {
            if !crate::agents::valid_name(name) {
                bail!("hub.groups.{name}: use 1 to 64 letters, digits, '.', '-', '_' or '@'");
            }
            if g.lines.is_empty() && g.queues.is_empty() {
                bail!("hub.groups.{name}.lines: a group needs lines or queues");
            }
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            let key = format!("hub.webhooks[{i}]");
            crate::links::check_remote_url(&w.url)
                .map_err(|m| anyhow::anyhow!("{key}.url: {m}"))?;
            if !w.secret.starts_with("whsec_") {
                bail!("{key}.secret: a signing secret is `whsec_` and base64 (Standard Webhooks)");
            }
            crate::signature::signing_key(&w.secret)
                .map_err(|e| anyhow::anyhow!("{key}.secret: {e}"))?;
            for e in &w.events {
                if !EVENTS.contains(&e.as_str()) {
                    bail!("{key}.events: `{e}` is not one of {}", EVENTS.join(", "));
                }
            }
        }
        Ok(())
    }

    /// The lines of `groups` (numbers and queue names): what makes a call a member's.
    pub fn lines_of(&self, groups: &[String]) -> Vec<String> {
        groups
            .iter()
            .filter_map(|g| self.groups.get(g))
            .flat_map(|g| g.lines.iter().chain(&g.queues).cloned())
            .collect()
    }

    /// How an agent with `identities` in `groups` sees the hub's calls.
    pub fn me(
        &self,
        identities: &[String],
        groups: &[String],
        supervisor: bool,
        region: DefaultRegion,
    ) -> Me {
        Me::new(identities, region, supervisor).with_lines(&self.lines_of(groups), region)
    }
}

/// `[team]`: this desktop app is an agent's app of a team hub.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct TeamLink {
    /// The hub, e.g. `https://ringside.example.com`.
    pub hub_url: String,
    /// The agent's token. Or leave it out and set `token_keyring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The name of an OS keyring entry (service `ringside`) holding the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_keyring: Option<String>,
}

impl TeamLink {
    pub fn check(&self) -> Result<()> {
        let u = url::Url::parse(&self.hub_url)
            .map_err(|e| anyhow::anyhow!("team.hub_url: `{}` is not a URL ({e})", self.hub_url))?;
        let host = u.host_str().unwrap_or("");
        match u.scheme() {
            "https" if !host.is_empty() => {}
            "http" if ["127.0.0.1", "localhost", "[::1]"].contains(&host) => {}
            _ => bail!(
                "team.hub_url: use https:// (the token would cross the network in clear text)"
            ),
        }
        match (&self.token, &self.token_keyring) {
            (None, None) => bail!("team.token: missing; set token or token_keyring"),
            (Some(_), Some(_)) => bail!("team.token_keyring: set token or token_keyring, not both"),
            _ => Ok(()),
        }
    }
}
