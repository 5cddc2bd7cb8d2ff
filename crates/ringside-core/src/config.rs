//! Settings: built-in defaults plus a TOML file holding what differs.
//!
//! Unknown keys and bad values are errors that name the file and the key; nothing is silently
//! ignored. The desktop app's settings page writes this same file.

use crate::correlate::Timeouts;
use crate::links::{Callback, Template};
use crate::phone::DefaultRegion;
use crate::providers::ParseContext;
use crate::Provider;
use anyhow::{bail, Context, Result};
use chrono::FixedOffset;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use ts_rs::TS;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub api: Api,
    #[serde(default)]
    pub agent: Agent,
    /// When Ringside ends calls whose final event never came.
    #[serde(default)]
    pub calls: Timeouts,
    #[serde(default)]
    pub providers: Providers,
    /// When the desktop app pops a notification.
    #[serde(default)]
    pub screenpop: ScreenPop,
    /// How "Call back" dials.
    #[serde(default)]
    pub callback: Callback,
    /// The CRM record to open for a caller.
    #[serde(default)]
    pub crm: Crm,
    #[serde(default)]
    pub app: App,
    /// Where callers' names come from.
    #[serde(default)]
    pub contacts: Contacts,
}

/// Caller lookup: contacts kept in Ringside (entered, imported, synced from CardDAV) and an
/// optional CRM asked over HTTP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields, default)]
pub struct Contacts {
    /// A number stored in a format that does not parse matches a caller when their last this
    /// many digits agree. Default 9.
    pub tail_digits: u32,
    /// Which source's matches come first: `local`, `carddav`, `crm`.
    pub order: Vec<String>,
    /// CardDAV address books synced into Ringside.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub carddav: Vec<CardDav>,
    /// A CRM asked for each new caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm: Option<CrmLookup>,
}

impl Default for Contacts {
    fn default() -> Self {
        let d = crate::contacts::LookupSettings::default();
        Contacts {
            tail_digits: d.tail_digits as u32,
            order: d.order,
            carddav: Vec::new(),
            crm: None,
        }
    }
}

impl Contacts {
    pub fn lookup_settings(&self) -> crate::contacts::LookupSettings {
        crate::contacts::LookupSettings {
            tail_digits: self.tail_digits as usize,
            order: self.order.clone(),
        }
    }

    fn check(&self) -> Result<()> {
        if !(4..=15).contains(&self.tail_digits) {
            bail!(
                "contacts.tail_digits: {} is not between 4 and 15",
                self.tail_digits
            );
        }
        for o in &self.order {
            if !["local", "carddav", "crm"].contains(&o.as_str()) {
                bail!("contacts.order: `{o}` is not one of local, carddav, crm");
            }
        }
        let mut names = Vec::new();
        for (i, b) in self.carddav.iter().enumerate() {
            let key = format!("contacts.carddav[{i}]");
            if b.name.is_empty()
                || b.name.len() > 40
                || !b
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bail!("{key}.name: use 1 to 40 letters, digits, '-' or '_'");
            }
            if names.contains(&&b.name) {
                bail!("{key}.name: `{}` is used twice", b.name);
            }
            names.push(&b.name);
            check_remote_url(&b.url).map_err(|m| anyhow::anyhow!("{key}.url: {m}"))?;
            if b.password.is_some() && b.password_keyring.is_some() {
                bail!("{key}.password_keyring: set password or password_keyring, not both");
            }
            if b.password.is_some() && b.username.is_none() {
                bail!("{key}.username: missing (a password needs a user name)");
            }
            if !(10..=86_400).contains(&b.interval_s) {
                bail!(
                    "{key}.interval_s: {} is not between 10 and 86400",
                    b.interval_s
                );
            }
        }
        if let Some(c) = &self.crm {
            let key = "contacts.crm";
            Template::parse(&c.url).map_err(|e| anyhow::anyhow!("{key}.url: {e}"))?;
            check_remote_url(&c.url).map_err(|m| anyhow::anyhow!("{key}.url: {m}"))?;
            if !(100..=10_000).contains(&c.timeout_ms) {
                bail!(
                    "{key}.timeout_ms: {} is not between 100 and 10000",
                    c.timeout_ms
                );
            }
            if c.cache_s > 86_400 {
                bail!("{key}.cache_s: {} is more than a day", c.cache_s);
            }
            for (k, v) in &c.headers {
                if http::HeaderName::from_bytes(k.as_bytes()).is_err()
                    || http::HeaderValue::from_str(v).is_err()
                {
                    bail!("{key}.headers: `{k}` is not a valid HTTP header");
                }
            }
            for (field, pointer) in [
                ("results", Some(&c.results)),
                ("name", Some(&c.name)),
                ("company", c.company.as_ref()),
                ("record_url", c.record_url.as_ref()),
            ] {
                if let Some(p) = pointer {
                    if !(p.is_empty() || p.starts_with('/')) {
                        bail!("{key}.{field}: `{p}` is not a JSON pointer (like /data/0/name)");
                    }
                }
            }
        }
        Ok(())
    }
}

/// A CardDAV address book (Nextcloud, Radicale, iCloud, Fastmail, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct CardDav {
    /// Short name; contacts from it show as source `carddav:<name>`.
    pub name: String,
    /// The address book collection, e.g.
    /// `https://cloud.example.com/remote.php/dav/addressbooks/users/me/contacts/`.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Or: the name of an OS keyring entry (service `ringside`) holding the password.
    pub password_keyring: Option<String>,
    /// Sync every this many seconds. Default 300.
    #[serde(default = "carddav_interval")]
    pub interval_s: u32,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn carddav_interval() -> u32 {
    300
}

/// A CRM asked over HTTP who a number is. The answer is JSON; pointers say where the
/// matches and their fields are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct CrmLookup {
    /// e.g. `https://crm.example.com/api/contacts?phone={e164}` (placeholders as for
    /// `[crm] url`; every value URL-encoded).
    pub url: String,
    /// Sent with every request, e.g. `{ Authorization = "Bearer ..." }`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Give up after this long; the pop never waits for it. Default 1500.
    #[serde(default = "crm_timeout")]
    pub timeout_ms: u32,
    /// Remember an answer this long. Default 300.
    #[serde(default = "crm_cache")]
    pub cache_s: u32,
    /// JSON pointer to the array (or the one object) of matches; empty: the whole answer.
    #[serde(default)]
    pub results: String,
    /// JSON pointers within a match.
    #[serde(default = "crm_name")]
    pub name: String,
    pub company: Option<String>,
    pub record_url: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn crm_timeout() -> u32 {
    1500
}
fn crm_cache() -> u32 {
    300
}
fn crm_name() -> String {
    "/name".into()
}

/// An http(s) URL of a server Ringside talks to; plain http only to this machine.
fn check_remote_url(url: &str) -> std::result::Result<(), String> {
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

/// When to pop for a call in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum PopWhen {
    Ringing,
    Answered,
    Never,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields, default)]
pub struct ScreenPop {
    pub inbound: PopWhen,
    pub outbound: PopWhen,
    /// Bring the window to the front when a call for me rings.
    pub raise_window: bool,
}

impl Default for ScreenPop {
    fn default() -> Self {
        ScreenPop {
            inbound: PopWhen::Ringing,
            outbound: PopWhen::Never,
            raise_window: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum CrmOpen {
    /// When the agent clicks "Open record".
    #[default]
    Click,
    /// Automatically when I answer.
    Answered,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields, default)]
pub struct Crm {
    /// e.g. `https://crm.example.com/search?phone={e164}`; placeholders: `{e164}`, `{national}`,
    /// `{digits}`, `{name}`, `{call_id}`, `{agent}` (see `crate::links`).
    pub url: Option<String>,
    pub open_on: CrmOpen,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields, default)]
pub struct App {
    /// Start Ringside when I log in (desktop app).
    pub autostart: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Bearer token for `/api/*` and `/api/live`. Required.
    pub token: Option<String>,
    /// Extra Host header names the API answers to besides loopback ones (for a hub behind a
    /// name). Requests naming any other host are refused (DNS rebinding).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// ISO 3166 region for numbers without a country code.
    #[serde(default = "default_region")]
    pub region: String,
    /// Who "I" am: extensions, SIP users, user ids, numbers.
    #[serde(default)]
    pub identities: Vec<String>,
    /// Show everyone's calls, not only mine.
    #[serde(default)]
    pub supervisor: bool,
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            region: default_region(),
            identities: Vec::new(),
            supervisor: false,
        }
    }
}

fn default_region() -> String {
    "US".into()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Providers {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voiceshot: Option<Voiceshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whippy: Option<Whippy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teltel: Option<Hook>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exotel: Option<Exotel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generic: Option<Hook>,
    /// Not a webhook: Ringside logs in to the Xelion PBX and opens a websocket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xelion: Option<Xelion>,
}

/// What every webhook provider has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// Secret path segment: the webhook URL is `/hooks/<provider>/<token>`.
    pub token: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Region for this provider's numbers, when it differs from `[agent] region`.
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Voiceshot {
    #[serde(flatten)]
    pub hook: Hook,
    /// HTTP Basic credentials VoiceShot is configured with; enables `/hooks/voiceshot`.
    pub username: Option<String>,
    pub password: Option<String>,
    /// A Call Command to answer each event with, e.g. `<prompt goto="2" />`. Empty 200 if unset.
    pub reply: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Whippy {
    #[serde(flatten)]
    pub hook: Hook,
    /// If set, requests must be signed with this secret: Standard Webhooks headers
    /// (`webhook-id`, `webhook-timestamp` within 5 minutes, `webhook-signature`), or
    /// `X-Whippy-Signature`, hex HMAC-SHA256 of the body. (Whippy's exact format is
    /// unconfirmed; the secret URL token is required as well.)
    pub signing_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Exotel {
    #[serde(flatten)]
    pub hook: Hook,
    /// The account's UTC offset: Exotel sends local times without a zone. Default `+05:30`.
    #[serde(default = "ist")]
    pub utc_offset: String,
}

/// The Xelion PBX. Ringside is the client here: it logs in, opens a websocket and subscribes to
/// call events (see README, "Xelion").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct Xelion {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `https://HOST/api/v1/TENANT/` (tenant `master` on single-tenant systems).
    pub base_url: String,
    /// The Xelion user Ringside logs in as. Only an administrator receives every call event;
    /// any other user gets missed calls only.
    pub username: String,
    /// The password. Or leave it out and set `password_keyring`.
    pub password: Option<String>,
    /// The name of an entry in the OS keyring (service `ringside`) holding the password.
    pub password_keyring: Option<String>,
    /// Xelion's per-device session name. Default `ringside-<hostname>`.
    pub user_space: Option<String>,
    /// The app key Xelion issued for this integration, if any.
    pub app_key: Option<String>,
    /// Which notifications to subscribe to. Default: all five.
    #[serde(default = "xelion_notifications")]
    pub notifications: Vec<String>,
    /// Region for numbers without a country code, when it differs from `[agent] region`.
    pub region: Option<String>,
    /// Keep-alive: a ping every this many seconds; a connection silent for twice as long is
    /// dead and is replaced. Default 30.
    #[serde(default = "xelion_ping_s")]
    pub ping_s: f64,
    /// The longest wait between two connection attempts, in seconds (the wait doubles from one
    /// second up to this, with jitter). Default 60.
    #[serde(default = "xelion_backoff_max_s")]
    pub backoff_max_s: f64,
    /// Renew the session at least this often, in seconds; sooner when `validUntil` asks.
    /// Default 900.
    #[serde(default = "xelion_renew_s")]
    pub renew_s: f64,
}

fn xelion_notifications() -> Vec<String> {
    crate::providers::xelion::NOTIFICATIONS
        .iter()
        .map(|n| n.to_string())
        .collect()
}
fn xelion_ping_s() -> f64 {
    30.0
}
fn xelion_backoff_max_s() -> f64 {
    60.0
}
fn xelion_renew_s() -> f64 {
    900.0
}

impl Xelion {
    /// A configuration for `base_url` and `username` with every default.
    pub fn new(base_url: &str, username: &str) -> Xelion {
        Xelion {
            enabled: true,
            base_url: base_url.into(),
            username: username.into(),
            password: None,
            password_keyring: None,
            user_space: None,
            app_key: None,
            notifications: xelion_notifications(),
            region: None,
            ping_s: xelion_ping_s(),
            backoff_max_s: xelion_backoff_max_s(),
            renew_s: xelion_renew_s(),
        }
    }

    /// Values that parse but make no sense; errors name the key.
    pub fn check(&self) -> Result<()> {
        const KEY: &str = "providers.xelion";
        check_xelion_url(&self.base_url).map_err(|m| anyhow::anyhow!("{KEY}.base_url: {m}"))?;
        if self.username.trim().is_empty() {
            bail!("{KEY}.username: empty");
        }
        match (&self.password, &self.password_keyring) {
            (None, None) => bail!("{KEY}.password: missing; set password or password_keyring"),
            (Some(_), Some(_)) => {
                bail!("{KEY}.password_keyring: set password or password_keyring, not both")
            }
            (Some(p), None) if p.is_empty() => bail!("{KEY}.password: empty"),
            (None, Some(k)) if k.trim().is_empty() => bail!("{KEY}.password_keyring: empty"),
            _ => {}
        }
        if let Some(u) = &self.user_space {
            if u.trim().is_empty() || u.len() > 100 {
                bail!("{KEY}.user_space: use 1 to 100 characters");
            }
        }
        if self.notifications.is_empty() {
            bail!("{KEY}.notifications: empty; Ringside would receive nothing");
        }
        let mut seen = Vec::new();
        for n in &self.notifications {
            let Some(known) = crate::providers::xelion::Notification::from_wire(n) else {
                bail!(
                    "{KEY}.notifications: `{n}` is not one of {}",
                    crate::providers::xelion::NOTIFICATIONS.join(", ")
                );
            };
            if seen.contains(&known) {
                bail!("{KEY}.notifications: `{n}` is listed twice");
            }
            seen.push(known);
        }
        if let Some(r) = &self.region {
            DefaultRegion::parse(r).map_err(|e| anyhow::anyhow!("{KEY}.region: {e}"))?;
        }
        for (name, value, min, max) in [
            ("ping_s", self.ping_s, 0.1, 3600.0),
            ("backoff_max_s", self.backoff_max_s, 0.1, 3600.0),
            ("renew_s", self.renew_s, 1.0, 86400.0),
        ] {
            if !(value.is_finite() && (min..=max).contains(&value)) {
                bail!("{KEY}.{name}: {value} is not between {min} and {max} seconds");
            }
        }
        Ok(())
    }
}

/// `http(s)://host[:port]/path`: https, or http to this machine only (the password would
/// travel in clear text).
fn check_xelion_url(url: &str) -> std::result::Result<(), String> {
    let example = "like https://pbx.example.com/api/v1/master/";
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL {example}"))?;
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if host.is_empty() || authority.contains('@') || rest.contains(['?', '#', ' ']) {
        return Err(format!("`{url}` is not a URL {example}"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if ["127.0.0.1", "localhost", "::1"].contains(&host) => Ok(()),
        "http" => Err(format!(
            "use https:// (the password would cross the network in clear text), {example}"
        )),
        _ => Err(format!("`{url}` is not an http(s) URL {example}")),
    }
}

fn yes() -> bool {
    true
}
fn ist() -> String {
    "+05:30".into()
}

/// A provider's settings, reduced to what the listener needs.
#[derive(Debug, Clone)]
pub struct HookSettings {
    pub provider: Provider,
    pub token: Option<String>,
    pub enabled: bool,
    pub region: DefaultRegion,
    pub parse: ParseContext,
    pub basic_auth: Option<(String, String)>,
    pub reply: Option<String>,
    pub signing_secret: Option<String>,
}

impl Config {
    /// Read and check `path`. Errors name the file and the key.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("in config {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        config.check()?;
        Ok(config)
    }

    /// Values that parse but make no sense.
    pub fn check(&self) -> Result<()> {
        DefaultRegion::parse(&self.agent.region)
            .map_err(|e| anyhow::anyhow!("agent.region: {e}"))?;
        match &self.api.token {
            None => bail!("api.token: missing; every API call is authenticated, so set a secret"),
            Some(t) => check_secret("api.token", t)?,
        }
        for h in self.hooks() {
            let key = format!("providers.{}", h.provider);
            if let Some(t) = &h.token {
                check_secret(&format!("{key}.token"), t)?;
                if !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    bail!(
                        "{key}.token: use only letters, digits, '-' and '_' (it is part of a URL)"
                    );
                }
            }
        }
        for (name, hook) in self.hook_configs() {
            if let Some(r) = &hook.region {
                DefaultRegion::parse(r)
                    .map_err(|e| anyhow::anyhow!("providers.{name}.region: {e}"))?;
            }
        }
        if let Some(v) = &self.providers.voiceshot {
            match (&v.username, &v.password) {
                (Some(_), None) | (None, Some(_)) => {
                    bail!("providers.voiceshot: set both username and password, or neither")
                }
                (Some(_), Some(p)) => check_secret("providers.voiceshot.password", p)?,
                _ => {}
            }
            if let Some(reply) = &v.reply {
                if !reply.trim_start().starts_with('<') {
                    bail!("providers.voiceshot.reply: a Call Command is XML, e.g. <prompt goto=\"2\" />");
                }
            }
        }
        if let Some(e) = &self.providers.exotel {
            parse_offset(&e.utc_offset)
                .map_err(|m| anyhow::anyhow!("providers.exotel.utc_offset: {m}"))?;
        }
        if let Some(x) = &self.providers.xelion {
            x.check()?;
        }
        if let Some(url) = &self.crm.url {
            Template::parse(url).map_err(|e| anyhow::anyhow!("crm.url: {e}"))?;
        }
        if let Some(d) = &self.callback.sip_domain {
            if d.is_empty()
                || !d
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                bail!("callback.sip_domain: `{d}` is not a host name");
            }
        }
        self.contacts.check()?;
        if self.calls.ringing_s == 0 || self.calls.answered_s == 0 {
            bail!("calls: timeouts must be at least 1 second");
        }
        Ok(())
    }

    fn hook_configs(&self) -> Vec<(Provider, &Hook)> {
        let p = &self.providers;
        [
            p.voiceshot.as_ref().map(|v| (Provider::Voiceshot, &v.hook)),
            p.whippy.as_ref().map(|v| (Provider::Whippy, &v.hook)),
            p.teltel.as_ref().map(|v| (Provider::Teltel, v)),
            p.exotel.as_ref().map(|v| (Provider::Exotel, &v.hook)),
            p.generic.as_ref().map(|v| (Provider::Generic, v)),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Settings for every configured webhook provider.
    pub fn hooks(&self) -> Vec<HookSettings> {
        let agent_region = DefaultRegion::parse(&self.agent.region).unwrap_or_default();
        self.hook_configs()
            .into_iter()
            .map(|(provider, hook)| {
                let default_region = match provider {
                    // Exotel is an Indian provider: national numbers with a leading 0 are Indian.
                    Provider::Exotel => DefaultRegion::parse("IN").unwrap_or_default(),
                    _ => agent_region,
                };
                let mut s = HookSettings {
                    provider,
                    token: hook.token.clone(),
                    enabled: hook.enabled,
                    region: hook
                        .region
                        .as_deref()
                        .and_then(|r| DefaultRegion::parse(r).ok())
                        .unwrap_or(default_region),
                    parse: ParseContext::default(),
                    basic_auth: None,
                    reply: None,
                    signing_secret: None,
                };
                match provider {
                    Provider::Voiceshot => {
                        let v = self.providers.voiceshot.as_ref();
                        s.basic_auth = v.and_then(|v| v.username.clone().zip(v.password.clone()));
                        s.reply = v.and_then(|v| v.reply.clone());
                    }
                    Provider::Whippy => {
                        s.signing_secret = self
                            .providers
                            .whippy
                            .as_ref()
                            .and_then(|w| w.signing_secret.clone());
                    }
                    Provider::Exotel => {
                        if let Some(off) = self
                            .providers
                            .exotel
                            .as_ref()
                            .and_then(|e| parse_offset(&e.utc_offset).ok())
                        {
                            s.parse.local_offset = off;
                        }
                    }
                    _ => {}
                }
                s
            })
            .collect()
    }

    pub fn region(&self) -> DefaultRegion {
        DefaultRegion::parse(&self.agent.region).unwrap_or_default()
    }

    /// A working configuration for a first run: every webhook provider enabled with a fresh
    /// random token, demo agent identities.
    pub fn demo() -> Config {
        let hook = || Hook {
            token: Some(random_token()),
            enabled: true,
            region: None,
        };
        Config {
            api: Api {
                token: Some(random_token()),
                allowed_hosts: Vec::new(),
            },
            agent: Agent {
                region: "US".into(),
                identities: vec!["201".into(), "202".into()],
                supervisor: false,
            },
            calls: Timeouts::default(),
            providers: Providers {
                voiceshot: Some(Voiceshot {
                    hook: hook(),
                    username: None,
                    password: None,
                    reply: None,
                }),
                whippy: Some(Whippy {
                    hook: hook(),
                    signing_secret: None,
                }),
                teltel: Some(hook()),
                exotel: Some(Exotel {
                    hook: hook(),
                    utc_offset: ist(),
                }),
                generic: Some(hook()),
                xelion: None,
            },
            screenpop: ScreenPop::default(),
            callback: Callback::default(),
            crm: Crm::default(),
            app: App::default(),
            contacts: Contacts::default(),
        }
    }

    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Write to `path` (creating its directory), readable by the owner only: it holds secrets.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = format!(
            "# Ringside configuration. See README.md for every key.\n{}",
            self.to_toml()?
        );
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

fn check_secret(key: &str, value: &str) -> Result<()> {
    if value.len() < 16 {
        bail!("{key}: too short to be a secret; use at least 16 characters");
    }
    Ok(())
}

/// `+05:30`, `-08:00`, `Z`.
pub fn parse_offset(s: &str) -> std::result::Result<FixedOffset, String> {
    let bad = || format!("`{s}` is not a UTC offset like +05:30");
    if s.trim() == "Z" {
        return Ok(FixedOffset::east_opt(0).expect("zero"));
    }
    let s = s.trim();
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

/// 32 hex characters from the OS's random source.
pub fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Where Ringside keeps its data and settings unless told otherwise (XDG on Linux).
pub struct Paths;

impl Paths {
    fn dirs() -> Option<directories::ProjectDirs> {
        directories::ProjectDirs::from("", "", "ringside")
    }
    pub fn data_dir() -> PathBuf {
        Self::dirs()
            .map(|d| d.data_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from(".ringside"))
    }
    pub fn config_file() -> PathBuf {
        Self::dirs()
            .map(|d| d.config_dir().join("config.toml"))
            .unwrap_or_else(|| PathBuf::from(".ringside/config.toml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[api]
token = "0123456789abcdef0123"
[agent]
region = "GB"
identities = ["201", "+14155550100"]
[providers.teltel]
token = "teltel-secret-token-1"
[providers.exotel]
token = "exotel-secret-token-1"
utc_offset = "+05:30"
[providers.voiceshot]
username = "vs"
password = "a-long-voiceshot-password"
"#;

    #[test]
    fn a_full_config_reads_and_yields_hooks() {
        let c = Config::parse(GOOD).unwrap();
        let hooks = c.hooks();
        assert_eq!(hooks.len(), 3);
        let ex = hooks
            .iter()
            .find(|h| h.provider == Provider::Exotel)
            .unwrap();
        assert_eq!(ex.region.code(), "IN");
        assert_eq!(ex.parse.local_offset.local_minus_utc(), 19800);
        let vs = hooks
            .iter()
            .find(|h| h.provider == Provider::Voiceshot)
            .unwrap();
        assert!(vs.basic_auth.is_some() && vs.token.is_none());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let cases = [
            ("[api]\ntoken = \"0123456789abcdef0123\"\ncolour = 1", "colour"),
            ("[api]\ntoken = \"0123456789abcdef0123\"\n[agent]\nregion = \"XX\"", "agent.region"),
            ("[api]\ntoken = \"short\"", "api.token"),
            ("", "api.token"),
            (
                "[api]\ntoken = \"0123456789abcdef0123\"\n[providers.exotel]\nutc_offset = \"IST\"",
                "utc_offset",
            ),
            (
                "[api]\ntoken = \"0123456789abcdef0123\"\n[providers.skype]\ntoken = \"x\"",
                "skype",
            ),
            (
                "[api]\ntoken = \"0123456789abcdef0123\"\n[crm]\nurl = \"javascript:alert(1)\"",
                "crm.url",
            ),
            (
                "[api]\ntoken = \"0123456789abcdef0123\"\n[crm]\nurl = \"https://crm/?q={nope}\"",
                "crm.url",
            ),
            (
                "[api]\ntoken = \"0123456789abcdef0123\"\n[screenpop]\ninbound = \"sometimes\"",
                "sometimes",
            ),
            (
                "[api]\ntoken = \"0123456789abcdef0123\"\n[providers.generic]\ntoken = \"has/slash/aaaaaaaaaaa\"",
                "providers.generic.token",
            ),
        ];
        for (text, key) in cases {
            let err = format!("{:#}", Config::parse(text).unwrap_err());
            assert!(err.contains(key), "{key:?} not in {err}");
        }
    }

    #[test]
    fn demo_config_round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        let demo = Config::demo();
        demo.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), demo);
        assert_eq!(demo.hooks().len(), 5);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    const TOKEN: &str = "[api]\ntoken = \"0123456789abcdef0123\"\n";

    #[test]
    fn a_xelion_section_reads_with_its_defaults_and_round_trips() {
        let c = Config::parse(&format!(
            "{TOKEN}[providers.xelion]\nbase_url = \"https://pbx.example.com/api/v1/master/\"\n\
             username = \"ringside\"\npassword_keyring = \"xelion-pbx\"\n"
        ))
        .unwrap();
        let x = c.providers.xelion.clone().unwrap();
        let mut expected = Xelion::new("https://pbx.example.com/api/v1/master/", "ringside");
        expected.password_keyring = Some("xelion-pbx".into());
        assert_eq!(x, expected);
        assert_eq!(x.notifications.len(), 5);
        assert!(x.enabled && x.ping_s == 30.0 && x.backoff_max_s == 60.0);
        assert_eq!(Config::parse(&c.to_toml().unwrap()).unwrap(), c);
        assert!(c.hooks().is_empty(), "Xelion is not a webhook");
    }

    #[test]
    fn bad_xelion_values_name_the_key() {
        let x = |body: &str| format!("{TOKEN}[providers.xelion]\n{body}\n");
        let base = "base_url = \"https://pbx.example.com/api/v1/master/\"\nusername = \"u\"";
        let cases = [
            (x("username = \"u\"\npassword = \"p\""), "base_url"),
            (
                x("base_url = \"http://pbx.example.com/api/v1/master/\"\nusername = \"u\"\npassword = \"p\""),
                "providers.xelion.base_url: use https://",
            ),
            (x("base_url = \"pbx\"\nusername = \"u\"\npassword = \"p\""), "providers.xelion.base_url"),
            (x(base), "providers.xelion.password: missing"),
            (
                x(&format!("{base}\npassword = \"p\"\npassword_keyring = \"k\"")),
                "providers.xelion.password_keyring",
            ),
            (
                x(&format!("{base}\npassword = \"p\"\nnotifications = [\"ringEvent\"]")),
                "providers.xelion.notifications",
            ),
            (
                x(&format!("{base}\npassword = \"p\"\nnotifications = []")),
                "providers.xelion.notifications",
            ),
            (x(&format!("{base}\npassword = \"p\"\nping_s = 0")), "providers.xelion.ping_s"),
            (
                x(&format!("{base}\npassword = \"p\"\nregion = \"XX\"")),
                "providers.xelion.region",
            ),
            (x(&format!("{base}\npassword = \"p\"\ntoken = \"x\"")), "token"),
        ];
        for (text, key) in cases {
            let err = format!("{:#}", Config::parse(&text).unwrap_err());
            assert!(err.contains(key), "{key:?} not in {err}");
        }
        // Plain http is for a PBX (or a test double) on this machine only.
        for url in [
            "http://127.0.0.1:8080/api/v1/master/",
            "http://localhost/api/v1/x/",
        ] {
            let text = format!("{TOKEN}[providers.xelion]\nbase_url = \"{url}\"\nusername = \"u\"\npassword = \"p\"");
            assert!(Config::parse(&text).is_ok(), "{url}");
        }
    }

    #[test]
    fn defaults_cover_every_field() {
        // A file with only the required key gives the built-in defaults for the rest.
        let c = Config::parse("[api]\ntoken = \"0123456789abcdef0123\"").unwrap();
        assert_eq!(c.agent, Agent::default());
        assert_eq!(c.calls, Timeouts::default());
        assert_eq!(c.providers, Providers::default());
        assert_eq!(c.screenpop, ScreenPop::default());
        assert_eq!(c.callback, Callback::default());
        assert_eq!(c.crm, Crm::default());
        assert_eq!(c.app, App::default());
    }
}
