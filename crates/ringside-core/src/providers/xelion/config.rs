//! `[providers.xelion]`: the PBX Ringside logs in to, the account, what to subscribe to and the
//! connection's timing.

use super::{Notification, NOTIFICATIONS};
use crate::phone::DefaultRegion;
use crate::providers::hook::yes;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
    NOTIFICATIONS.iter().map(|n| n.to_string()).collect()
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
            let Some(known) = Notification::from_wire(n) else {
                bail!(
                    "{KEY}.notifications: `{n}` is not one of {}",
                    NOTIFICATIONS.join(", ")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A `[providers.xelion]` section's body, read and checked.
    fn read(text: &str) -> Result<Xelion> {
        let x: Xelion = toml::from_str(text)?;
        x.check()?;
        Ok(x)
    }

    #[test]
    fn bad_xelion_values_name_the_key() {
        let x = |body: &str| body.to_string();
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
            let err = format!("{:#}", read(&text).unwrap_err());
            assert!(err.contains(key), "{key:?} not in {err}");
        }
        // Plain http is for a PBX (or a test double) on this machine only.
        for url in [
            "http://127.0.0.1:8080/api/v1/master/",
            "http://localhost/api/v1/x/",
        ] {
            let text = format!("base_url = \"{url}\"\nusername = \"u\"\npassword = \"p\"");
            assert!(read(&text).is_ok(), "{url}");
        }
    }
}
