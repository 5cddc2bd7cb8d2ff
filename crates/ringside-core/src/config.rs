//! Settings: built-in defaults plus a TOML file holding what differs.
//!
//! Unknown keys and bad values are errors that name the file and the key; nothing is silently
//! ignored. The desktop app's settings page writes this same file. Each provider's section,
//! its checks and its webhook settings come from its folder under `providers/`; this file
//! aggregates them.

use crate::correlate::Timeouts;
use crate::dial::Callback;
use crate::links::{check_remote_url, Template};
use crate::model::Provider;
use crate::phone::DefaultRegion;
use crate::providers::exotel::Exotel;
use crate::providers::hook::{check_secret, yes, Hook, Section};
use crate::providers::voiceshot::Voiceshot;
use crate::providers::whippy::Whippy;
use crate::providers::xelion::Xelion;
use crate::providers::HookSettings;
use crate::team::{Hub, TeamLink};
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
    /// What an agent notes after a call.
    #[serde(default)]
    pub wrapup: WrapupSettings,
    /// Where callers' names come from.
    #[serde(default)]
    pub contacts: Contacts,
    /// This Ringside is a team's hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<Hub>,
    /// This desktop app is an agent's app of a team's hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamLink>,
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
    /// Do not disturb: no pops and no ring sound; calls still show on the panels.
    pub dnd: bool,
    /// Pop only for callers whose number has at least this many digits (0: every caller;
    /// e.g. 5 keeps colleagues' extensions from popping).
    pub min_caller_digits: u32,
    /// Desktop: a small always-on-top window with the ringing call, for agents whose
    /// notifications are hidden (full-screen apps, remote desktops).
    pub mini_window: bool,
    /// Ring in the app (browser tab and window) while a call for me rings.
    pub sound: bool,
}

impl Default for ScreenPop {
    fn default() -> Self {
        ScreenPop {
            inbound: PopWhen::Ringing,
            outbound: PopWhen::Never,
            raise_window: false,
            dnd: false,
            min_caller_digits: 0,
            mini_window: false,
            sound: false,
        }
    }
}

impl ScreenPop {
    fn check(&self) -> Result<()> {
        if self.min_caller_digits > 15 {
            bail!(
                "screenpop.min_caller_digits: {} is more digits than any number has (0 to 15)",
                self.min_caller_digits
            );
        }
        Ok(())
    }
}

/// The languages the UI ships, by BCP 47 tag.
pub const LOCALES: [&str; 5] = ["en", "de", "nl", "es", "hi"];

/// After a call: a note and a disposition chosen from a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields, default)]
pub struct WrapupSettings {
    /// What an agent can say a call came to, in the order the list shows them.
    pub dispositions: Vec<String>,
}

impl Default for WrapupSettings {
    fn default() -> Self {
        WrapupSettings {
            dispositions: [
                "Resolved",
                "Needs follow-up",
                "Sale",
                "No sale",
                "Voicemail left",
                "Wrong number",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// The longest disposition, and how many a list may hold.
pub const MAX_DISPOSITION: usize = 40;
const MAX_DISPOSITIONS: usize = 30;

impl WrapupSettings {
    fn check(&self) -> Result<()> {
        if self.dispositions.len() > MAX_DISPOSITIONS {
            bail!("wrapup.dispositions: more than {MAX_DISPOSITIONS}");
        }
        for (i, d) in self.dispositions.iter().enumerate() {
            if d.trim().is_empty() || d.chars().count() > MAX_DISPOSITION || d.trim() != d {
                bail!(
                    "wrapup.dispositions[{i}]: use 1 to {MAX_DISPOSITION} characters, no spaces around"
                );
            }
            if d.chars().any(char::is_control) {
                bail!("wrapup.dispositions[{i}]: has control characters");
            }
            if self.dispositions[..i].contains(d) {
                bail!("wrapup.dispositions[{i}]: `{d}` is listed twice");
            }
        }
        Ok(())
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields, default)]
pub struct App {
    /// Start Ringside when I log in (desktop app).
    pub autostart: bool,
    /// The UI's language (`en`, `de`, `nl`, `es`, `hi`); none: the system's or browser's.
    pub locale: Option<String>,
    /// Desktop: the key that brings up the current caller from any app, e.g. `Ctrl+Alt+R`;
    /// empty: none.
    pub shortcut_caller: String,
    /// Desktop: the key that calls back the newest missed call from any app; empty: none.
    pub shortcut_call_back: String,
}

impl Default for App {
    fn default() -> Self {
        App {
            autostart: false,
            locale: None,
            shortcut_caller: "Ctrl+Alt+R".into(),
            shortcut_call_back: "Ctrl+Alt+B".into(),
        }
    }
}

impl App {
    fn check(&self) -> Result<()> {
        if let Some(l) = &self.locale {
            if !LOCALES.contains(&l.as_str()) {
                bail!("app.locale: `{l}` is not one of {}", LOCALES.join(", "));
            }
        }
        for (key, s) in [
            ("app.shortcut_caller", &self.shortcut_caller),
            ("app.shortcut_call_back", &self.shortcut_call_back),
        ] {
            if !s.is_empty() && !is_shortcut(s) {
                bail!("{key}: `{s}` is not a shortcut like Ctrl+Alt+R (modifiers, then one key)");
            }
        }
        if !self.shortcut_caller.is_empty()
            && self
                .shortcut_caller
                .eq_ignore_ascii_case(&self.shortcut_call_back)
        {
            bail!("app.shortcut_call_back: the same key as app.shortcut_caller");
        }
        Ok(())
    }
}

/// `Ctrl+Alt+R`: at least one modifier, then a letter, digit or F1-F24.
fn is_shortcut(s: &str) -> bool {
    let parts: Vec<&str> = s.split('+').map(str::trim).collect();
    let Some((key, mods)) = parts.split_last() else {
        return false;
    };
    let modifier = |m: &&str| {
        [
            "ctrl",
            "control",
            "alt",
            "shift",
            "super",
            "commandorcontrol",
            "cmdorctrl",
        ]
        .contains(&m.to_ascii_lowercase().as_str())
    };
    let key_ok = (key.len() == 1 && key.chars().all(|c| c.is_ascii_alphanumeric()))
        || key
            .strip_prefix(['F', 'f'])
            .and_then(|n| n.parse::<u8>().ok())
            .is_some_and(|n| (1..=24).contains(&n));
    !mods.is_empty() && mods.iter().all(modifier) && key_ok
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
        // It holds every token: one left readable by others (by hand, an older Ringside) is
        // narrowed, and said so.
        if crate::files::narrow(path).unwrap_or(false) {
            tracing::warn!(
                "{} was readable by other users: made owner-only",
                path.display()
            );
        }
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
        self.callback.check()?;
        self.screenpop.check()?;
        self.app.check()?;
        self.wrapup.check()?;
        self.contacts.check()?;
        if let Some(h) = &self.hub {
            h.check()?;
        }
        if let Some(t) = &self.team {
            t.check()?;
        }
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
            wrapup: WrapupSettings::default(),
            contacts: Contacts::default(),
            hub: None,
            team: None,
        }
    }

    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Write to `path` (creating its directory), readable by the owner only: it holds secrets.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = format!(
            "# Ringside configuration. See README.md for every key.\n{}",
            self.to_toml()?
        );
        // It holds every token: owner-only from the first byte (never written, then narrowed).
        crate::files::write_private(path, text.as_bytes())?;
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
        assert_eq!(c.wrapup, WrapupSettings::default());
    }

    #[test]
    fn new_settings_are_checked_naming_the_key() {
        for (text, key) in [
            (
                "[screenpop]\nmin_caller_digits = 16",
                "screenpop.min_caller_digits",
            ),
            ("[app]\nlocale = \"fr\"", "app.locale"),
            ("[app]\nshortcut_caller = \"R\"", "app.shortcut_caller"),
            (
                "[app]\nshortcut_call_back = \"Ctrl+Alt+R\"",
                "app.shortcut_call_back",
            ),
            (
                "[wrapup]\ndispositions = [\"Sale\", \"Sale\"]",
                "wrapup.dispositions[1]",
            ),
            ("[wrapup]\ndispositions = [\"\"]", "wrapup.dispositions[0]"),
            ("[callback]\nvia = \"http\"", "callback.http"),
        ] {
            let err = format!(
                "{:#}",
                Config::parse(&format!("{TOKEN}{text}")).unwrap_err()
            );
            assert!(err.contains(key), "{key:?} not in {err}");
        }
        let ok = Config::parse(&format!(
            "{TOKEN}[app]\nlocale = \"de\"\nshortcut_caller = \"Ctrl+Shift+F9\"\nshortcut_call_back = \"\"\n\
             [screenpop]\ndnd = true\nmin_caller_digits = 5\n[wrapup]\ndispositions = [\"Sale\"]\n"
        ))
        .unwrap();
        assert_eq!(ok.app.locale.as_deref(), Some("de"));
        assert!(ok.screenpop.dnd);
        assert_eq!(Config::parse(&ok.to_toml().unwrap()).unwrap(), ok);
    }
}
