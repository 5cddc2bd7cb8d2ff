//! What an admin does on the settings page: see the settings (secrets masked, the webhook
//! URLs to paste into each provider's console) and save them (checked, written, put in force
//! at once; the background tasks follow).

use crate::error::{Error, Invalid, Result};
use crate::ringside::Ringside;
use crate::settings::Settings;
use ringside_core::config::Config;
use ringside_core::phone;
use serde::Serialize;
use ts_rs::TS;

/// A webhook to paste into a provider's console.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Webhook {
    pub provider: String,
    /// `/hooks/<provider>/<token>` (or `/hooks/voiceshot` with Basic auth).
    pub path: String,
    /// This listener's URL plus the path; behind a proxy, use the proxy's host instead.
    pub url: String,
    pub enabled: bool,
    /// `token` or `basic`.
    pub auth: String,
}

/// What `GET /api/settings` shows instead of a stored password or signing secret; sending it
/// back unchanged keeps the stored one.
pub const KEPT_SECRET: &str = "********";

/// The settings page's view: the config plus what follows from it. Passwords and signing
/// secrets read [`KEPT_SECRET`]; tokens are shown, as they are part of the webhook URLs.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SettingsView {
    pub config: Config,
    pub config_path: String,
    pub listen_url: String,
    /// `[agent] identities` as people read them (numbers as calls show numbers).
    pub identities: Vec<String>,
    pub webhooks: Vec<Webhook>,
}

pub fn view(r: &Ringside) -> SettingsView {
    let s = r.settings();
    let region = s.config.region();
    let webhooks = s
        .hooks
        .iter()
        .flat_map(|h| {
            let token = h.token.as_ref().map(|t| {
                let path = format!("/hooks/{}/{t}", h.provider);
                (path, "token")
            });
            let basic = h
                .basic_auth
                .as_ref()
                .map(|_| (format!("/hooks/{}", h.provider), "basic"));
            [token, basic]
                .into_iter()
                .flatten()
                .map(|(path, auth)| Webhook {
                    provider: h.provider.to_string(),
                    url: format!("{}{path}", r.listen_url),
                    path,
                    enabled: h.enabled,
                    auth: auth.into(),
                })
        })
        .collect();
    SettingsView {
        identities: s
            .config
            .agent
            .identities
            .iter()
            .map(|i| phone::display(i, region))
            .collect(),
        config: redacted(&s.config),
        config_path: s.path.display().to_string(),
        listen_url: r.listen_url.clone(),
        webhooks,
    }
}

/// Every secret in `c`, by a stable name: passwords, signing secrets, CRM header values. A
/// CardDAV password is named by its book's name and URL, so it never goes to another server.
fn secrets(c: &mut Config) -> Vec<(String, &mut String)> {
    let mut v: Vec<(String, &mut String)> = Vec::new();
    let p = &mut c.providers;
    if let Some(s) = p.voiceshot.as_mut().and_then(|x| x.password.as_mut()) {
        v.push(("providers.voiceshot.password".into(), s));
    }
    if let Some(s) = p.whippy.as_mut().and_then(|x| x.signing_secret.as_mut()) {
        v.push(("providers.whippy.signing_secret".into(), s));
    }
    if let Some(s) = p.xelion.as_mut().and_then(|x| x.password.as_mut()) {
        v.push(("providers.xelion.password".into(), s));
    }
    for b in &mut c.contacts.carddav {
        if let Some(s) = b.password.as_mut() {
            v.push((
                format!("contacts.carddav `{}` password for {}", b.name, b.url),
                s,
            ));
        }
    }
    if let Some(crm) = c.contacts.crm.as_mut() {
        for (k, val) in crm.headers.iter_mut() {
            v.push((format!("contacts.crm.headers.{k}"), val));
        }
    }
    if let Some(http) = c.callback.http.as_mut() {
        for (k, val) in http.headers.iter_mut() {
            v.push((format!("callback.http.headers.{k}"), val));
        }
    }
    if let Some(x) = c.callback.exotel.as_mut() {
        // Named with the account and the API it goes to, so it never goes elsewhere.
        v.push((
            format!(
                "callback.exotel.api_token for {} at {}",
                x.account_sid, x.api_url
            ),
            &mut x.api_token,
        ));
    }
    v
}

fn redacted(c: &Config) -> Config {
    let mut c = c.clone();
    for (_, s) in secrets(&mut c) {
        *s = KEPT_SECRET.to_string();
    }
    c
}

/// Put back the stored secrets where the settings page sent [`KEPT_SECRET`]. A kept secret
/// with nothing stored under its name (a new entry, or a changed URL) must be typed again.
fn keep_secrets(new: &mut Config, old: &Config) -> Result<()> {
    let mut old = old.clone();
    let stored: std::collections::HashMap<String, String> = secrets(&mut old)
        .into_iter()
        .map(|(k, v)| (k, v.clone()))
        .collect();
    for (name, slot) in secrets(new) {
        if slot == KEPT_SECRET {
            match stored.get(&name) {
                Some(v) => *slot = v.clone(),
                None => {
                    // The setting's key, without what its name adds (the book, the account).
                    let field = name.split(' ').next().unwrap_or(&name).to_string();
                    return Err(Error::Invalid {
                        what: Invalid::Settings,
                        message: format!("{name}: nothing is stored to keep; type the secret"),
                        field: Some(field),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Check, save and apply new settings. Nothing changes when they are refused.
pub async fn save(r: &Ringside, mut config: Config) -> Result<SettingsView> {
    keep_secrets(&mut config, &r.settings().config)?;
    config.check().map_err(|e| Error::settings(&e))?;
    let path = r.settings().path.clone();
    config
        .save(&path)
        .map_err(|e| Error::Internal(e.context(format!("saving {}", path.display()))))?;
    let lookup = config.contacts.lookup_settings();
    r.shared_settings().replace(Settings::new(config, path));
    r.engine.set_lookup(lookup).await?;
    tracing::info!("settings saved");
    Ok(view(r))
}
