//! Settings: built-in defaults plus a TOML file holding what differs.
//!
//! Unknown keys and bad values are errors that name the file and the key; nothing is silently
//! ignored. The desktop app's settings page writes this same file. Each provider's section,
//! its checks and its webhook settings come from its folder under `providers/`; this file
//! aggregates them.

use crate::correlate::Timeouts;
use crate::links::{Callback, Template};
use crate::model::Provider;
use crate::phone::DefaultRegion;
use crate::providers::exotel::Exotel;
use crate::providers::hook::{check_secret, yes, Hook, Section};
use crate::providers::voiceshot::Voiceshot;
use crate::providers::whippy::Whippy;
use crate::providers::xelion::Xelion;
use crate::providers::HookSettings;
use anyhow::{bail, Context, Result};
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

impl Providers {
    /// The configured webhook providers' sections.
    fn hooks(&self) -> Vec<(Provider, &dyn Section)> {
        fn section<S: Section>(
            provider: Provider,
            s: &Option<S>,
        ) -> Option<(Provider, &dyn Section)> {
            s.as_ref().map(|s| (provider, s as &dyn Section))
        }
        [
            section(Provider::Voiceshot, &self.voiceshot),
            section(Provider::Whippy, &self.whippy),
            section(Provider::Teltel, &self.teltel),
            section(Provider::Exotel, &self.exotel),
            section(Provider::Generic, &self.generic),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// The agent identities of the demo configuration (and of test calls when the config names
/// fewer than two).
pub const DEMO_IDENTITIES: [&str; 2] = ["201", "202"];

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
        for (provider, section) in self.providers.hooks() {
            section.check(provider)?;
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
        if self.calls.ringing_s == 0 || self.calls.answered_s == 0 || self.calls.quiet_s == 0 {
            bail!("calls: timeouts must be at least 1 second");
        }
        Ok(())
    }

    /// Settings for every configured webhook provider.
    pub fn hooks(&self) -> Vec<HookSettings> {
        let region = self.region();
        self.providers
            .hooks()
            .into_iter()
            .map(|(provider, section)| section.settings(provider, region))
            .collect()
    }

    pub fn region(&self) -> DefaultRegion {
        DefaultRegion::parse(&self.agent.region).unwrap_or_default()
    }

    /// A working configuration for a first run: every webhook provider enabled with a fresh
    /// random token, demo agent identities.
    pub fn demo() -> Config {
        let hook = || Hook::with_token(random_token());
        Config {
            api: Api {
                token: Some(random_token()),
                allowed_hosts: Vec::new(),
            },
            agent: Agent {
                region: "US".into(),
                // The demo agents, and the VoiceShot campaign the test calls come in on.
                identities: DEMO_IDENTITIES
                    .into_iter()
                    .chain([crate::providers::voiceshot::DEMO_CAMPAIGN])
                    .map(String::from)
                    .collect(),
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
                exotel: Some(Exotel::new(hook())),
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
