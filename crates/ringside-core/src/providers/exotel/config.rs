//! `[providers.exotel]`: the hook and the account's UTC offset. Exotel is an Indian provider:
//! its times are local without a zone, and national numbers with a leading 0 are Indian.

use crate::model::Provider;
use crate::phone::DefaultRegion;
use crate::providers::hook::{Hook, Section};
use crate::providers::HookSettings;
use anyhow::Result;
use chrono::FixedOffset;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// India Standard Time: the default `utc_offset`.
pub(super) const IST: &str = "+05:30";
/// The region of numbers without a country code, unless the section names another.
const ACCOUNT_REGION: &str = "IN";
/// The largest offset from UTC any zone uses (UTC+14, Kiribati).
const MAX_OFFSET_H: i32 = 14;

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

fn ist() -> String {
    IST.into()
}

impl Exotel {
    /// A section for `hook` with every default.
    pub fn new(hook: Hook) -> Exotel {
        Exotel {
            hook,
            utc_offset: ist(),
        }
    }
}

impl Section for Exotel {
    fn check(&self, provider: Provider) -> Result<()> {
        self.hook.check(provider)?;
        parse_offset(&self.utc_offset)
            .map_err(|m| anyhow::anyhow!("providers.exotel.utc_offset: {m}"))?;
        Ok(())
    }

    fn settings(&self, provider: Provider, _agent_region: DefaultRegion) -> HookSettings {
        let mut s = self.hook.settings(
            provider,
            DefaultRegion::parse(ACCOUNT_REGION).unwrap_or_default(),
        );
        if let Ok(offset) = parse_offset(&self.utc_offset) {
            s.parse.local_offset = offset;
        }
        s
    }
}

/// `+05:30`, `-08:00`, `Z`.
pub(super) fn parse_offset(s: &str) -> std::result::Result<FixedOffset, String> {
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
    if h > MAX_OFFSET_H || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}
