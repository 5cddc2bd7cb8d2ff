//! Xelion's REST calls the client needs: `me/login`, `me/renew`, `me/websocket`, and the
//! session they keep (saved in the data directory so a restart of Ringside can go on with it:
//! logging in again with the same user space while the old session lives is refused, 10005).

use super::timing;
use anyhow::{anyhow, Context, Result};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A REST call's failure: the server refused us, or something else went wrong.
#[derive(Debug)]
pub enum RestError {
    /// 401/403: wrong credentials, or a token that expired or was revoked.
    Rejected {
        status: u16,
        code: Option<i64>,
        message: Option<String>,
    },
    /// Network, 5xx, an answer Ringside cannot read: worth retrying later.
    Failed(anyhow::Error),
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestError::Rejected {
                status,
                code,
                message,
            } => {
                write!(f, "refused (HTTP {status}")?;
                if let Some(c) = code {
                    write!(f, ", code {c}")?;
                }
                write!(f, ")")?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                Ok(())
            }
            RestError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

/// A logged-in session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Sent as `Authorization: xelion <authentication>`.
    pub authentication: String,
    pub renewal_token: Option<String>,
    /// As Xelion wrote it (no zone).
    pub valid_until: Option<String>,
}

impl Session {
    pub fn valid_until(&self) -> Option<NaiveDateTime> {
        self.valid_until
            .as_deref()
            .and_then(timing::parse_valid_until)
    }
}

/// Who is logging in where: the REST client for one account.
#[derive(Clone)]
pub struct Account {
    http: reqwest::Client,
    /// Ends with `/`.
    base: String,
    pub username: String,
    pub user_space: String,
    pub app_key: Option<String>,
}

impl Account {
    pub fn new(
        base_url: &str,
        username: &str,
        user_space: &str,
        app_key: Option<String>,
        timeout: Duration,
    ) -> Result<Account> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("Ringside/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let mut base = base_url.trim().to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Account {
            http,
            base,
            username: username.to_string(),
            user_space: user_space.to_string(),
            app_key,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST me/login`.
    pub async fn login(&self, password: &str) -> Result<Session, RestError> {
        let mut body = json!({
            "userName": self.username,
            "password": password,
            "userSpace": self.user_space,
        });
        if let Some(k) = &self.app_key {
            body["appKey"] = json!(k);
        }
        let v = self.post("me/login", None, &body).await?;
        session_from(&v, None)
    }

    /// `POST me/renew` with the renewal token as a JSON string.
    pub async fn renew(&self, session: &Session) -> Result<Session, RestError> {
        let token = session
            .renewal_token
            .as_deref()
            .ok_or(RestError::Rejected {
                status: 401,
                code: None,
                message: Some("no renewal token".into()),
            })?;
        let v = self
            .post("me/renew", Some(session), &Value::String(token.into()))
            .await?;
        session_from(&v, Some(session))
    }

    /// `POST me/websocket`: a fresh websocket URL for this session.
    pub async fn websocket_url(&self, session: &Session) -> Result<String, RestError> {
        let v = self.post("me/websocket", Some(session), &json!({})).await?;
        websocket_url_from(&v, &self.base).ok_or_else(|| {
            RestError::Failed(anyhow!(
                "me/websocket answered without a websocket URL: {v}"
            ))
        })
    }

    async fn post(
        &self,
        path: &str,
        session: Option<&Session>,
        body: &Value,
    ) -> Result<Value, RestError> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(s) = session {
            req = req.header("Authorization", format!("xelion {}", s.authentication));
        }
        let res = req
            .send()
            .await
            .map_err(|e| RestError::Failed(anyhow!("{path}: {}", without_url(&e))))?;
        let status = res.status().as_u16();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| RestError::Failed(anyhow!("{path}: {}", without_url(&e))))?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match status {
            200..=299 => Ok(v),
            401 | 403 => Err(RestError::Rejected {
                status,
                code: find(&v, "code")
                    .and_then(|c| c.as_i64().or_else(|| c.as_str()?.parse().ok())),
                message: find(&v, "message").and_then(|m| m.as_str().map(str::to_string)),
            }),
            _ => Err(RestError::Failed(anyhow!(
                "{path}: HTTP {status} {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ))),
        }
    }
}

/// reqwest's errors name the URL; keep it short and the message readable.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({detail})")
    }
}

/// The shallowest value under key `name` (any case).
fn find<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let mut queue = VecDeque::from([v]);
    while let Some(v) = queue.pop_front() {
        match v {
            Value::Object(o) => {
                if let Some((_, found)) = o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                    return Some(found);
                }
                queue.extend(o.values());
            }
            Value::Array(a) => queue.extend(a.iter()),
            _ => {}
        }
    }
    None
}

/// A login or renewal answer: `authentication`, `renewalToken`, `validUntil`, wherever they
/// sit. A renewal that omits the renewal token keeps the old one.
fn session_from(v: &Value, old: Option<&Session>) -> Result<Session, RestError> {
    let text = |name| find(v, name).and_then(Value::as_str).map(str::to_string);
    let authentication = text("authentication").ok_or_else(|| {
        RestError::Failed(anyhow!("the answer carries no `authentication` token"))
    })?;
    Ok(Session {
        authentication,
        renewal_token: text("renewalToken").or_else(|| old.and_then(|o| o.renewal_token.clone())),
        valid_until: text("validUntil"),
    })
}

/// `{"object": "wss://..."}`, tolerantly: the shallowest string that is a ws(s) URL (an
/// http(s) URL is turned into one; a path is taken relative to the base URL's host).
fn websocket_url_from(v: &Value, base: &str) -> Option<String> {
    let mut queue = VecDeque::from([v]);
    let mut path = None;
    while let Some(v) = queue.pop_front() {
        match v {
            Value::String(s) => {
                let s = s.trim();
                let lower = s.to_ascii_lowercase();
                if lower.starts_with("ws://") || lower.starts_with("wss://") {
                    return Some(s.to_string());
                }
                if let Some(rest) = lower.strip_prefix("https://") {
                    return Some(format!("wss://{}", &s[s.len() - rest.len()..]));
                }
                if let Some(rest) = lower.strip_prefix("http://") {
                    return Some(format!("ws://{}", &s[s.len() - rest.len()..]));
                }
                if s.starts_with('/') && path.is_none() {
                    path = Some(s.to_string());
                }
            }
            Value::Object(o) => queue.extend(o.values()),
            Value::Array(a) => queue.extend(a.iter()),
            _ => {}
        }
    }
    let path = path?;
    let (scheme, rest) = base.split_once("://")?;
    let host = rest.split('/').next()?;
    let ws = if scheme.eq_ignore_ascii_case("https") {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{ws}://{host}{path}"))
}

/// Where the session is kept between runs, and for which account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SavedSession {
    base_url: String,
    username: String,
    user_space: String,
    session: Session,
}

/// The session file in `data_dir`.
pub fn session_file(data_dir: &Path) -> PathBuf {
    data_dir.join("xelion-session.json")
}

/// The saved session, if it belongs to `account`.
pub fn load_session(path: &Path, account: &Account) -> Option<Session> {
    let text = std::fs::read(path).ok()?;
    let saved: SavedSession = serde_json::from_slice(&text).ok()?;
    (saved.base_url == account.base
        && saved.username == account.username
        && saved.user_space == account.user_space)
        .then_some(saved.session)
}

/// Save `session` for the next run (owner-only: it is as good as a login while it lives), or
/// remove the file when there is none.
pub fn save_session(path: &Path, account: &Account, session: Option<&Session>) -> Result<()> {
    let Some(session) = session else {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        };
    };
    let saved = SavedSession {
        base_url: account.base.clone(),
        username: account.username.clone(),
        user_space: account.user_space.clone(),
        session: session.clone(),
    };
    ringside_core::files::write_private(path, &serde_json::to_vec(&saved)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_answers_are_read_wherever_the_fields_sit() {
        let flat = json!({"authentication": "a1", "renewalToken": "r1",
                          "validUntil": "2026-11-20 10:00:00", "serverVersion": "8.1"});
        let s = session_from(&flat, None).unwrap();
        assert_eq!(s.authentication, "a1");
        assert_eq!(s.renewal_token.as_deref(), Some("r1"));
        assert!(s.valid_until().is_some());
        let wrapped = json!({"object": {"authentication": "a2"}});
        let s2 = session_from(&wrapped, Some(&s)).unwrap();
        assert_eq!(s2.renewal_token.as_deref(), Some("r1"), "kept from before");
        assert!(matches!(
            session_from(&json!({"x": 1}), None),
            Err(RestError::Failed(_))
        ));
    }

    #[test]
    fn websocket_urls_are_found_and_made_absolute() {
        let base = "https://pbx.example.com/api/v1/master/";
        let url = |v: Value| websocket_url_from(&v, base);
        assert_eq!(
            url(json!({"object": "wss://pbx.example.com/ws/abc"})).as_deref(),
            Some("wss://pbx.example.com/ws/abc")
        );
        assert_eq!(
            url(json!({"object": {"url": "https://pbx.example.com/ws/abc"}})).as_deref(),
            Some("wss://pbx.example.com/ws/abc")
        );
        assert_eq!(
            url(json!({"object": "/ws/abc"})).as_deref(),
            Some("wss://pbx.example.com/ws/abc")
        );
        assert_eq!(url(json!({"object": null})), None);
    }

    #[test]
    fn a_saved_session_is_used_only_for_its_own_account() {
        let dir = tempfile::tempdir().unwrap();
        let path = session_file(dir.path());
        let t = Duration::from_secs(5);
        let a = Account::new("https://pbx/api/v1/master", "u", "ringside-h", None, t).unwrap();
        let other = Account::new("https://pbx/api/v1/master/", "v", "ringside-h", None, t).unwrap();
        let s = Session {
            authentication: "a".into(),
            renewal_token: Some("r".into()),
            valid_until: None,
        };
        save_session(&path, &a, Some(&s)).unwrap();
        assert_eq!(load_session(&path, &a), Some(s));
        assert_eq!(load_session(&path, &other), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        save_session(&path, &a, None).unwrap();
        assert_eq!(load_session(&path, &a), None);
        save_session(&path, &a, None).unwrap();
    }
}
