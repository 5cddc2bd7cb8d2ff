//! Webhook providers' config sections: what every one has ([`Hook`]) and the trait each
//! implements ([`Section`]) to be checked and to yield the listener's [`HookSettings`].

use super::{HookSettings, ParseContext, Reply};
use crate::model::Provider;
use crate::phone::DefaultRegion;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The shortest secret the config accepts (tokens, passwords, the API token).
const SECRET_MIN_LEN: usize = 16;

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

impl Hook {
    /// An enabled hook at `/hooks/<provider>/<token>`, numbers in the agent's region.
    pub fn with_token(token: String) -> Hook {
        Hook {
            token: Some(token),
            enabled: true,
            region: None,
        }
    }
}

/// A webhook provider's section of the config, as `Config` aggregates it.
pub trait Section {
    /// Values that parse but make no sense; errors name the key.
    fn check(&self, provider: Provider) -> Result<()>;
    /// What the listener needs; `agent_region` reads numbers without a country code unless
    /// the provider says otherwise.
    fn settings(&self, provider: Provider, agent_region: DefaultRegion) -> HookSettings;
}

/// The sections that are nothing but a [`Hook`] (TelTel, the generic CTI format), and the
/// part every other section has.
impl Section for Hook {
    /// The token is a secret fit for a URL, the region is one.
    fn check(&self, provider: Provider) -> Result<()> {
        let key = format!("providers.{provider}");
        if let Some(t) = &self.token {
            check_secret(&format!("{key}.token"), t)?;
            if !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bail!("{key}.token: use only letters, digits, '-' and '_' (it is part of a URL)");
            }
        }
        if let Some(r) = &self.region {
            DefaultRegion::parse(r).map_err(|e| anyhow::anyhow!("{key}.region: {e}"))?;
        }
        Ok(())
    }

    /// Authenticated by the token, answered with a receipt; numbers in the hook's own region,
    /// else `agent_region`.
    fn settings(&self, provider: Provider, agent_region: DefaultRegion) -> HookSettings {
        HookSettings {
            provider,
            token: self.token.clone(),
            enabled: self.enabled,
            region: self
                .region
                .as_deref()
                .and_then(|r| DefaultRegion::parse(r).ok())
                .unwrap_or(agent_region),
            parse: ParseContext::default(),
            basic_auth: None,
            signature: None,
            reply: Reply::Receipt,
        }
    }
}

/// A secret from the config must be long enough to be one; errors name the key.
pub fn check_secret(key: &str, value: &str) -> Result<()> {
    if value.len() < SECRET_MIN_LEN {
        bail!("{key}: too short to be a secret; use at least {SECRET_MIN_LEN} characters");
    }
    Ok(())
}

/// The default of switches that are on unless turned off (`enabled`).
pub fn yes() -> bool {
    true
}
