//! The application layer's one error: what can go wrong when an agent or admin asks for
//! something, with a code a UI switches on (never on the message). `ringside-server` maps it
//! to an HTTP status; the desktop's commands send it as it serializes, `{code, message,
//! field}`, the same body the HTTP API's `error` holds.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What went wrong, for a program to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No such call, contact, scenario, ...
    NotFound,
    /// A contact's fields are not acceptable.
    InvalidContact,
    /// A contacts file cannot be read.
    InvalidFile,
    /// A CSV file's columns cannot be told apart, or a column mapping names what is not there:
    /// the agent says which column is which.
    InvalidMapping,
    /// Settings that do not check out; `field` names the setting.
    InvalidSettings,
    /// A request that is not acceptable otherwise (a bad parameter).
    InvalidRequest,
    /// The contact comes from a synced address book: it is edited there.
    ReadOnly,
    /// There is no number to call.
    NotCallable,
    /// The phone system refused to dial, or did not answer.
    DialFailed,
    /// Ringside itself failed (storing, reading); its log says more.
    Internal,
}

/// What kind of request was not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    Contact,
    File,
    Mapping,
    Settings,
    Request,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Invalid {
        what: Invalid,
        message: String,
        /// The setting or field at fault, as the settings file names it (`api.token`).
        field: Option<String>,
    },
    #[error("{0}")]
    ReadOnly(String),
    #[error("{0}")]
    NotCallable(String),
    #[error("{0}")]
    DialFailed(String),
    /// Logged where it is turned into an answer; the answer says little.
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error as a UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// The setting or field at fault, when one is (`api.token`, `contacts.carddav[0].url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
}

/// What an internal failure tells the client: the details are in the log.
pub const INTERNAL_MESSAGE: &str = "internal error; see Ringside's log";

impl Error {
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::NotFound(message.into())
    }

    pub fn invalid(what: Invalid, message: impl Into<String>) -> Error {
        Error::Invalid {
            what,
            message: message.into(),
            field: None,
        }
    }

    /// Settings refused by `Config::check`: its message starts with the key at fault
    /// (`api.token: too short ...`), which becomes `field`.
    pub fn settings(e: &anyhow::Error) -> Error {
        let message = format!("{e:#}");
        let field = message
            .split_once(": ")
            .map(|(key, _)| key)
            .filter(|k| {
                !k.is_empty()
                    && k.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-')
                    })
            })
            .map(str::to_string);
        Error::Invalid {
            what: Invalid::Settings,
            message,
            field,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Invalid { what, .. } => match what {
                Invalid::Contact => ErrorCode::InvalidContact,
                Invalid::File => ErrorCode::InvalidFile,
                Invalid::Mapping => ErrorCode::InvalidMapping,
                Invalid::Settings => ErrorCode::InvalidSettings,
                Invalid::Request => ErrorCode::InvalidRequest,
            },
            Error::ReadOnly(_) => ErrorCode::ReadOnly,
            Error::NotCallable(_) => ErrorCode::NotCallable,
            Error::DialFailed(_) => ErrorCode::DialFailed,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The body a client gets. An internal failure is logged here and told in general terms.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            Error::Internal(e) => {
                tracing::error!("{e:#}");
                INTERNAL_MESSAGE.to_string()
            }
            other => other.to_string(),
        };
        ErrorBody {
            code: self.code(),
            message,
            field: match self {
                Error::Invalid { field, .. } => field.clone(),
                _ => None,
            },
        }
    }
}

/// A Tauri command's error: the same `{code, message, field}` as the HTTP body's `error`.
impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.body().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_errors_name_their_field() {
        let e = Error::settings(&anyhow::anyhow!("api.token: too short to be a secret"));
        let body = e.body();
        assert_eq!(body.code, ErrorCode::InvalidSettings);
        assert_eq!(body.field.as_deref(), Some("api.token"));
        let e = Error::settings(&anyhow::anyhow!(
            "contacts.carddav[0].url: `x` is not a URL"
        ));
        assert_eq!(e.body().field.as_deref(), Some("contacts.carddav[0].url"));
        let e = Error::settings(&anyhow::anyhow!("expected a table, found a string"));
        assert_eq!(e.body().field, None);
    }

    #[test]
    fn internal_errors_say_little() {
        let e = Error::from(anyhow::anyhow!("disk I/O error at /secret/path"));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["code"], "internal");
        assert_eq!(json["message"], INTERNAL_MESSAGE);
    }
}
