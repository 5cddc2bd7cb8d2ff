//! Passwords for the servers Ringside logs in to (Xelion, CardDAV address books): given in
//! the config, or kept in the OS keyring (Secret Service on Linux, the Keychain on macOS, the
//! Credential Manager on Windows) under service `ringside` and a name the config gives.
//! Errors name the config key; no message ever carries a password.

/// The keyring service every entry lives under.
pub const KEYRING_SERVICE: &str = "ringside";

/// The password to log in with: `password` when the config gives one, else the keyring entry
/// `keyring` (its name; `key` is the config key that named it, for error messages). Reading
/// the keyring blocks, so it runs off the async threads.
pub async fn password(
    password: Option<&str>,
    keyring: Option<&str>,
    key: &str,
) -> Result<String, String> {
    if let Some(p) = password {
        return Ok(p.to_string());
    }
    let name = keyring.unwrap_or_default().to_string();
    let key = key.to_string();
    tokio::task::spawn_blocking(move || keyring_password(&key, &name))
        .await
        .map_err(|e| format!("reading the OS keyring: {e}"))?
}

/// The password stored in the OS keyring under service `ringside`, user `name`.
pub fn keyring_password(key: &str, name: &str) -> Result<String, String> {
    let entry =
        keyring::Entry::new(KEYRING_SERVICE, name).map_err(|e| format!("{key} `{name}`: {e}"))?;
    entry.get_password().map_err(|e| match e {
        keyring::Error::NoEntry => format!(
            "{key} `{name}`: the OS keyring has no such entry (service `{KEYRING_SERVICE}`)"
        ),
        other => format!("{key} `{name}`: the OS keyring cannot be read: {other}"),
    })
}

/// Keep `secret` in the OS keyring under service `ringside`, user `name`; why not, if it
/// cannot (no keyring on a headless server).
pub fn store_in_keyring(name: &str, secret: &str) -> Result<(), String> {
    keyring::Entry::new(KEYRING_SERVICE, name)
        .and_then(|e| e.set_password(secret))
        .map_err(|e| format!("the OS keyring: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_keyring_without_the_entry_is_a_clear_error_not_a_panic() {
        let key = "providers.xelion.password_keyring";
        let e = password(None, Some("ringside-test-no-such-entry"), key)
            .await
            .unwrap_err();
        assert!(
            e.starts_with("providers.xelion.password_keyring `ringside-test-no-such-entry`"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_password_in_the_config_needs_no_keyring() {
        let p = password(Some("s3cret"), None, "x").await.unwrap();
        assert_eq!(p, "s3cret");
    }
}
