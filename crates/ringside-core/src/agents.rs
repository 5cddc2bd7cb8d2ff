//! The team's agents, as a hub knows them: their identities, their groups, whether they
//! supervise, do-not-disturb; and their tokens, long random secrets of which the hub keeps only
//! a hash, compared in constant time.

use crate::signature::secrets_equal;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

/// An agent of the team (`TeamAgent` in TypeScript, beside the config's `[agent]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, rename = "TeamAgent")]
pub struct Agent {
    #[ts(type = "number")]
    pub id: i64,
    /// Unique on the hub: letters, digits, `.`, `-`, `_`, `@`.
    pub name: String,
    /// Extensions, SIP users, user ids, numbers: who the agent is on the phone system.
    pub identities: Vec<String>,
    /// The `[hub.groups.<name>]` the agent belongs to.
    pub groups: Vec<String>,
    /// Sees every call and the team's presence.
    pub supervisor: bool,
    /// Do not disturb: no pops.
    pub dnd: bool,
    pub created_at: DateTime<Utc>,
    /// When the current token was made.
    pub token_at: DateTime<Utc>,
}

/// What `agents add` (and `POST /api/agents`) is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    pub name: String,
    #[serde(default)]
    pub identities: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub supervisor: bool,
}

impl NewAgent {
    /// The name and identities as kept: trimmed; errors say what is wrong.
    pub fn cleaned(mut self) -> Result<NewAgent, String> {
        self.name = self.name.trim().to_string();
        if !valid_name(&self.name) {
            return Err(format!(
                "agent name `{}`: use 1 to 64 letters, digits, '.', '-', '_' or '@'",
                self.name
            ));
        }
        self.identities = tidy(self.identities);
        self.groups = tidy(self.groups);
        if self.identities.iter().any(|i| i.chars().count() > 200) {
            return Err("an identity is longer than 200 characters".into());
        }
        if self.identities.is_empty() && !self.supervisor {
            return Err(format!(
                "agent `{}` needs an identity (an extension, SIP user, user id or number) to \
                 see any call",
                self.name
            ));
        }
        Ok(self)
    }
}

fn tidy(v: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = v
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    v.dedup();
    v
}

pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
}

/// A token's prefix: says what it is when it turns up in a log or a leak scanner.
const TOKEN_PREFIX: &str = "rsa";
/// Random bytes in a token (256 bits: beyond guessing, so a fast hash is enough to store it).
const TOKEN_BYTES: usize = 32;

/// A new token for agent `id`: `rsa_<id>_<64 hex digits>`. The id lets the hub find the one
/// agent to compare against; the secret part is what proves it.
pub fn new_token(id: i64) -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    bytes[..16].copy_from_slice(a.as_bytes());
    bytes[16..].copy_from_slice(b.as_bytes());
    format!("{TOKEN_PREFIX}_{id}_{}", hex::encode(bytes))
}

/// The agent a token names (not yet proof that it is theirs).
pub fn token_agent(token: &str) -> Option<i64> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    (secret.len() == TOKEN_BYTES * 2).then_some(())?;
    id.parse().ok()
}

/// What the hub keeps of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `token` is the one whose hash is `hash`, in constant time.
pub fn token_matches(token: &str, hash: &[u8]) -> bool {
    secrets_equal(&token_hash(token), hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_agent_and_only_the_right_one_matches() {
        let t = new_token(42);
        assert!(t.starts_with("rsa_42_"), "{t}");
        assert_eq!(t.len(), "rsa_42_".len() + 64);
        assert_ne!(t, new_token(42), "random");
        assert_eq!(token_agent(&t), Some(42));
        let hash = token_hash(&t);
        assert!(token_matches(&t, &hash));
        let mut wrong = t.clone();
        wrong.pop();
        wrong.push('x');
        assert!(!token_matches(&wrong, &hash));
        for bad in ["", "rsa_42", "rsa_x_00", "rsb_42_00", &t[..t.len() - 1]] {
            assert_eq!(token_agent(bad), None, "{bad}");
        }
    }

    #[test]
    fn new_agents_are_checked() {
        let a = NewAgent {
            name: " ana ".into(),
            identities: vec![" 201 ".into(), "".into()],
            groups: vec!["sales".into()],
            supervisor: false,
        }
        .cleaned()
        .unwrap();
        assert_eq!(
            (a.name.as_str(), a.identities.clone()),
            ("ana", vec!["201".to_string()])
        );
        let nameless = NewAgent {
            name: "a b".into(),
            ..a.clone()
        };
        assert!(nameless.cleaned().is_err());
        let nobody = NewAgent {
            identities: vec![],
            ..a.clone()
        };
        assert!(nobody.cleaned().unwrap_err().contains("needs an identity"));
        let boss = NewAgent {
            identities: vec![],
            supervisor: true,
            ..a
        };
        assert!(
            boss.cleaned().is_ok(),
            "a supervisor sees every call anyway"
        );
    }
}
