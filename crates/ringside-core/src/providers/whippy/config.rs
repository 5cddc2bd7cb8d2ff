//! `[providers.whippy]`: the hook and the secret deliveries are signed with.

use super::signature;
use crate::model::Provider;
use crate::phone::DefaultRegion;
use crate::providers::hook::{Hook, Section};
use crate::providers::{HookSettings, Signature};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

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

impl Section for Whippy {
    fn check(&self, provider: Provider) -> Result<()> {
        self.hook.check(provider)
    }

    fn settings(&self, provider: Provider, agent_region: DefaultRegion) -> HookSettings {
        HookSettings {
            signature: self.signing_secret.clone().map(|secret| Signature {
                secret,
                verify: signature::verify,
            }),
            ..self.hook.settings(provider, agent_region)
        }
    }
}
