//! Phone numbers: normalize to E.164 with the configured default region, keep anything else
//! (extensions, SIP users, `anonymous`) exactly as received.

use phonenumber::country::Id as Region;
use phonenumber::Mode;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// A default region for numbers without a country code, parsed from an ISO 3166 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DefaultRegion(Region);

impl DefaultRegion {
    pub fn parse(code: &str) -> Result<Self, String> {
        code.trim()
            .to_ascii_uppercase()
            .parse::<Region>()
            .map(DefaultRegion)
            .map_err(|_| format!("`{code}` is not an ISO 3166 region code (e.g. US, GB, DE, IN)"))
    }

    pub fn code(&self) -> String {
        format!("{:?}", self.0)
    }
}

impl Default for DefaultRegion {
    fn default() -> Self {
        DefaultRegion(Region::US)
    }
}

/// Load the numbering metadata now (it takes a moment on first use) so that the first call
/// does not wait for it. Call once at start-up, off the hot path.
pub fn warm_up() {
    let _ = e164("+14155550100", DefaultRegion::default());
}

/// `raw` in E.164 when it is a valid number in `region` (or carries its own country code),
/// else `raw` trimmed, unchanged. Short extensions ("201") and names never become numbers.
pub fn normalize(raw: &str, region: DefaultRegion) -> String {
    let raw = raw.trim();
    e164(raw, region).unwrap_or_else(|| raw.to_string())
}

/// The E.164 form of `raw`, if it is a valid phone number.
///
/// Parsing and validating against the numbering metadata is slow (tens of microseconds) and
/// the same numbers come again and again (every event of a call carries them), so recent
/// answers are remembered.
pub fn e164(raw: &str, region: DefaultRegion) -> Option<String> {
    type Memo = HashMap<(DefaultRegion, String), Option<String>>;
    static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(Mutex::default);
    const MEMO_SIZE: usize = 4096;
    let key = (region, raw.to_string());
    if let Some(hit) = MEMO.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return hit;
    }
    let answer = e164_uncached(raw, region);
    if let Ok(mut m) = MEMO.lock() {
        if m.len() >= MEMO_SIZE {
            m.clear();
        }
        m.insert(key, answer.clone());
    }
    answer
}

fn e164_uncached(raw: &str, region: DefaultRegion) -> Option<String> {
    let digits = raw.chars().filter(|c| c.is_ascii_digit()).count();
    // Extensions and short codes are identities, not numbers.
    if digits < 6
        || raw
            .chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'x' && c != 'X')
    {
        return None;
    }
    // "00" international prefix, common in Europe and in provider payloads.
    let candidate = match raw.strip_prefix("00") {
        Some(rest) if !raw.starts_with("000") => format!("+{rest}"),
        _ => raw.to_string(),
    };
    // Numbers sent with their country code but without the "+" (TelTel, many PBXs).
    let parsed = phonenumber::parse(Some(region.0), &candidate)
        .ok()
        .filter(phonenumber::is_valid)
        .or_else(|| {
            (!candidate.starts_with('+') && !candidate.starts_with('0'))
                .then(|| phonenumber::parse(None, format!("+{candidate}")).ok())
                .flatten()
                .filter(phonenumber::is_valid)
        })?;
    Some(parsed.format().mode(Mode::E164).to_string())
}

/// How a hidden caller id reads (the UI translates it).
pub const WITHHELD: &str = "Withheld number";

/// `raw` for people to read: a valid number in the international format ("+1 415-555-0123"),
/// a withheld caller id as "Withheld number", anything else (extensions, SIP users) as it is.
///
/// Formatting is slow too, and every list of calls shows the same numbers again: recent
/// answers are remembered.
pub fn display(raw: &str, region: DefaultRegion) -> String {
    type Memo = HashMap<(DefaultRegion, String), String>;
    static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(Mutex::default);
    const MEMO_SIZE: usize = 4096;
    let key = (region, raw.to_string());
    if let Some(hit) = MEMO.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return hit;
    }
    let answer = if is_withheld(raw) {
        WITHHELD.to_string()
    } else {
        e164(raw, region)
            .and_then(|e| phonenumber::parse(None, &e).ok())
            .map(|n| n.format().mode(Mode::International).to_string())
            .unwrap_or_else(|| raw.trim().to_string())
    };
    if let Ok(mut m) = MEMO.lock() {
        if m.len() >= MEMO_SIZE {
            m.clear();
        }
        m.insert(key, answer.clone());
    }
    answer
}

/// Whether `raw` is how providers say the caller id is hidden (`anonymous`, `private`,
/// `withheld`, `restricted`, `unknown`, `unavailable`, ...) or empty.
pub fn is_withheld(raw: &str) -> bool {
    let r = raw.trim().trim_start_matches("sip:").to_ascii_lowercase();
    let user = r.split('@').next().unwrap_or("");
    user.is_empty()
        || [
            "anonymous",
            "private",
            "withheld",
            "restricted",
            "unknown",
            "unavailable",
            "blocked",
            "hidden",
            "clid withheld",
            "number withheld",
        ]
        .contains(&user)
}

/// The digits of `raw` up to an extension marker (`x`, `ext`, `;ext=`, `,`): "+1 (415)
/// 555-0123 x45" gives "14155550123".
pub fn digits_before_extension(raw: &str) -> String {
    let mut seen_digit = false;
    let mut out = String::new();
    for c in raw.chars() {
        if c.is_ascii_digit() {
            seen_digit = true;
            out.push(c);
        } else if seen_digit && (c.is_ascii_alphabetic() || c == ';' || c == ',' || c == '#') {
            break;
        }
    }
    out
}

/// Normalize every number an event carries (caller, callee, agents) with `region`.
pub fn normalize_event(ev: &mut crate::model::CallEvent, region: DefaultRegion) {
    use crate::model::EventKind;
    let norm = |s: &mut String| *s = normalize(s, region);
    for s in [&mut ev.facts.from, &mut ev.facts.to, &mut ev.facts.line]
        .into_iter()
        .flatten()
    {
        norm(s);
    }
    match &mut ev.kind {
        EventKind::Ringing { agent: Some(a) }
        | EventKind::Answered { by: Some(a) }
        | EventKind::Transferred { to: Some(a) }
        | EventKind::Missed { agent: Some(a) }
        | EventKind::AttemptEnded { agent: a }
        | EventKind::LegStopped { agent: a, .. } => norm(a),
        EventKind::Ringing { agent: None }
        | EventKind::Answered { by: None }
        | EventKind::Transferred { to: None }
        | EventKind::Missed { agent: None }
        | EventKind::Started
        | EventKind::Keypress { .. }
        | EventKind::Ended { .. }
        | EventKind::Details => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(code: &str) -> DefaultRegion {
        DefaultRegion::parse(code).unwrap()
    }

    #[test]
    fn numbers_become_e164_with_the_region() {
        assert_eq!(normalize("8182238964", r("US")), "+18182238964");
        assert_eq!(normalize("(818) 223-8964", r("US")), "+18182238964");
        assert_eq!(normalize("+14244023931", r("GB")), "+14244023931");
        assert_eq!(normalize("07874762218", r("IN")), "+917874762218");
        assert_eq!(normalize("020 7946 0018", r("GB")), "+442079460018");
        assert_eq!(normalize("0049 30 901820", r("US")), "+4930901820");
        assert_eq!(normalize("37120000000", r("US")), "+37120000000");
    }

    #[test]
    fn identities_and_oddities_stay_as_received() {
        assert_eq!(normalize("201", r("US")), "201");
        assert_eq!(normalize("anonymous", r("US")), "anonymous");
        assert_eq!(normalize(" sip:alice@pbx ", r("US")), "sip:alice@pbx");
        assert_eq!(normalize("12345", r("US")), "12345");
    }

    #[test]
    fn bad_region_is_a_clear_error() {
        assert!(DefaultRegion::parse("XX").unwrap_err().contains("ISO 3166"));
        assert_eq!(r("in").code(), "IN");
    }
}
