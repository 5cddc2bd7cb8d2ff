//! `[providers.voiceshot]`: the hook, HTTP Basic credentials and the Call Command to answer
//! with.

use crate::model::Provider;
use crate::phone::DefaultRegion;
use crate::providers::hook::{check_secret, Hook, Section};
use crate::providers::{HookSettings, Reply};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// VoiceShot reads the answer's body as a Call Command. Its Content-Type is unconfirmed.
const REPLY_CONTENT_TYPE: &str = "text/xml";

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

impl Section for Voiceshot {
    fn check(&self, provider: Provider) -> Result<()> {
        self.hook.check(provider)?;
        match (&self.username, &self.password) {
            (Some(_), None) | (None, Some(_)) => {
                bail!("providers.voiceshot: set both username and password, or neither")
            }
            (Some(_), Some(p)) => check_secret("providers.voiceshot.password", p)?,
            _ => {}
        }
        if let Some(reply) = &self.reply {
            if !reply.trim_start().starts_with('<') {
                bail!(
                    "providers.voiceshot.reply: a Call Command is XML, e.g. <prompt goto=\"2\" />"
                );
            }
        }
        Ok(())
    }

    fn settings(&self, provider: Provider, agent_region: DefaultRegion) -> HookSettings {
        HookSettings {
            basic_auth: self.username.clone().zip(self.password.clone()),
            // Empty means "carry on".
            reply: Reply::Text {
                content_type: REPLY_CONTENT_TYPE,
                body: self.reply.clone().unwrap_or_default(),
            },
            ..self.hook.settings(provider, agent_region)
        }
    }
}
