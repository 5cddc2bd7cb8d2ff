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
    // A webhook's secret is named by its URL, so it never goes to another receiver.
    for w in c.hub.iter_mut().flat_map(|h| h.webhooks.iter_mut()) {
        v.push((format!("hub.webhooks secret for {}", w.url), &mut w.secret));
    }
    if let Some(t) = c.team.as_mut() {
        let hub = t.hub_url.clone();
        if let Some(s) = t.token.as_mut() {
            v.push((format!("team.token for {hub}"), s));
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
    let settings = Settings::new(config, path);
    let outbox = crate::ringside::outbox_targets(&settings);
    r.shared_settings().replace(settings);
    r.engine.set_lookup(lookup).await?;
    r.engine
        .write(move |w| {
            w.set_outbox(outbox);
            Ok(((), Vec::new()))
        })
        .await?;
    tracing::info!("settings saved");
    Ok(view(r))
}

/// The keyring entry an agent's app keeps its hub token under.
pub const TEAM_KEYRING: &str = "team";

/// `config` linked to the hub at `url` with the agent's `token`: the token goes in the OS
/// keyring where there is one, else in the (owner-only) config file. The keyring is a
/// blocking D-Bus call: made off the async threads.
pub async fn link_team(mut config: Config, url: &str, token: &str) -> anyhow::Result<Config> {
    let (url, token) = (url.to_string(), token.trim().to_string());
    tokio::task::spawn_blocking(move || {
        let (token, token_keyring) = match crate::secrets::store_in_keyring(TEAM_KEYRING, &token) {
            Ok(()) => (None, Some(TEAM_KEYRING.to_string())),
            Err(why) => {
                tracing::info!("team: keeping the token in the config file ({why})");
                (Some(token), None)
            }
        };
        config.team = Some(ringside_core::team::TeamLink {
            hub_url: url.trim().trim_end_matches('/').to_string(),
            token,
            token_keyring,
        });
        config
    })
    .await
    .map_err(anyhow::Error::from)
}

/// "Connect to your team": check the hub takes `token` as an agent's, then link this app to
/// it (saved, in force at once).
pub async fn connect_team(r: &Ringside, url: &str, token: &str) -> Result<SettingsView> {
    let hub = crate::team_link::HubApi::new(url.trim(), token.trim())
        .map_err(|e| Error::invalid(Invalid::Settings, format!("team.hub_url: {e}")))?;
    let me: crate::agents::MeView = hub.get("/api/me").await.map_err(|e| Error::Invalid {
        what: Invalid::Settings,
        message: format!("the hub at {url} refused: {e}"),
        field: Some("team.token".into()),
    })?;
    if me.admin {
        return Err(Error::Invalid {
            what: Invalid::Settings,
            message: "that is the hub's admin token: use an agent's token".into(),
            field: Some("team.token".into()),
        });
    }
    let config = link_team(r.settings().config.clone(), url, token).await?;
    save(r, config).await
}

/// Leave the team: this app is standalone again.
pub async fn disconnect_team(r: &Ringside) -> Result<SettingsView> {
    let mut config = r.settings().config.clone();
    config.team = None;
    save(r, config).await
}
