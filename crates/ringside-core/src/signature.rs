//! Webhook authentication primitives: constant-time secret comparison, HMAC-SHA256 and
//! Standard Webhooks, each with known-answer tests. A provider's own scheme is built on these
//! in its folder (Whippy: `providers/whippy/signature.rs`).
//!
//! Every comparison of a secret or a MAC is constant-time: `subtle`'s `ct_eq` in
//! [`secrets_equal`], `hmac`'s `verify_slice` (which uses it too) for the MACs. Errors say
//! precisely what was wrong: a missing header (named), a header not in the scheme's format,
//! a timestamp outside the tolerance, or a signature that does not match.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Compare two secrets without leaking, through timing, how much of them matched.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    // Length is not secret here (tokens have a fixed size); ct_eq on unequal lengths is false.
    a.ct_eq(b).into()
}

/// How far a signed timestamp may be from now, either way: five minutes, what the Standard
/// Webhooks specification recommends.
pub const TOLERANCE_S: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing signature header `{0}`")]
    MissingHeader(&'static str),
    #[error("signature header is not in the expected format")]
    BadFormat,
    #[error("signature timestamp is too old or too far in the future")]
    StaleTimestamp,
    #[error("signature does not match")]
    Mismatch,
}

/// The HMAC key a signing secret stands for: base64 after `whsec_` (Standard Webhooks' form);
/// any other secret is used as its bytes.
pub fn signing_key(secret: &str) -> Result<Vec<u8>, SignatureError> {
    match secret.strip_prefix("whsec_") {
        Some(b64) => B64.decode(b64).map_err(|_| SignatureError::BadFormat),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// `signature` is the hex HMAC-SHA256 of `body` under `key`, optionally `sha256=`-prefixed.
pub fn verify_hex_hmac_sha256(
    key: &[u8],
    body: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    let hex = signature.trim().trim_start_matches("sha256=");
    let given = hex::decode(hex).map_err(|_| SignatureError::BadFormat)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// Standard Webhooks: `webhook-signature` holds space-separated `v1,<base64>` signatures of
/// `id.timestamp.body` (several during a key rotation: any one matching is enough) with the
/// base64 key after `whsec_` (another secret is used as its bytes); timestamps more than
/// `tolerance_s` away from `now_unix`, in the past or the future, are refused before any MAC
/// is computed.
pub fn verify_standard_webhooks(
    secret: &str,
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now_unix: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    let id = id.ok_or(SignatureError::MissingHeader("webhook-id"))?;
    let ts_text = timestamp.ok_or(SignatureError::MissingHeader("webhook-timestamp"))?;
    let sigs = signatures.ok_or(SignatureError::MissingHeader("webhook-signature"))?;
    let ts: i64 = ts_text
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadFormat)?;
    if (now_unix - ts).abs() > tolerance_s {
        return Err(SignatureError::StaleTimestamp);
    }
    let expected = standard_mac(&signing_key(secret)?, id, ts_text.trim(), body);
    let mut any = false;
    for sig in sigs.split_whitespace() {
        let Some(b64) = sig.strip_prefix("v1,") else {
            continue;
        };
        any = true;
        if let Ok(given) = B64.decode(b64) {
            if secrets_equal(&given, &expected) {
                return Ok(());
            }
        }
    }
    Err(if any {
        SignatureError::Mismatch
    } else {
        SignatureError::BadFormat
    })
}

/// The Standard Webhooks MAC of `id.timestamp.body` under `key`.
fn standard_mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The `webhook-signature` header for a message Ringside sends (Standard Webhooks): `v1,` and
/// the base64 MAC of `id.timestamp.body` under the key of `secret` (`whsec_` and base64).
pub fn sign_standard_webhooks(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let key = signing_key(secret)?;
    let mac = standard_mac(&key, id, &timestamp.to_string(), body);
    Ok(format!("v1,{}", B64.encode(mac)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_ringside_signs_is_the_standard_known_answer_and_verifies() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign_standard_webhooks(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
            .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let id = Some("msg_p5jXN8AQM9LWM0D4loKWxJek");
        let ts = Some("1614265330");
        assert_eq!(
            verify_standard_webhooks(secret, id, ts, Some(&sig), body, 1614265330, 300),
            Ok(())
        );
    }

    #[test]
    fn standard_webhooks_known_answer() {
        let ok = verify_standard_webhooks(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            Some("1614265330"),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            br#"{"test": 2432232314}"#,
            1614265330 + 10,
            300,
        );
        assert_eq!(ok, Ok(()));
        let stale = verify_standard_webhooks(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            Some("1614265330"),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            br#"{"test": 2432232314}"#,
            1614265330 + 301,
            300,
        );
        assert_eq!(stale, Err(SignatureError::StaleTimestamp));
        let tampered = verify_standard_webhooks(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            Some("1614265330"),
            Some("v1,bad v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            br#"{"test": 2432232315}"#,
            1614265330,
            300,
        );
        assert_eq!(tampered, Err(SignatureError::Mismatch));
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn standard(
        id: Option<&str>,
        ts: Option<&str>,
        sigs: Option<&str>,
        now: i64,
    ) -> Result<(), SignatureError> {
        verify_standard_webhooks(SECRET, id, ts, sigs, BODY, now, TOLERANCE_S)
    }

    #[test]
    fn standard_webhooks_errors_are_precise() {
        let ts = TS.to_string();
        let (id, ts, sig) = (Some(ID), Some(ts.as_str()), Some(SIG));
        assert_eq!(standard(id, ts, sig, TS), Ok(()));
        // Exactly five minutes either way is still fresh; a second more is not.
        assert_eq!(standard(id, ts, sig, TS + TOLERANCE_S), Ok(()));
        assert_eq!(standard(id, ts, sig, TS - TOLERANCE_S), Ok(()));
        assert_eq!(
            standard(id, ts, sig, TS + TOLERANCE_S + 1),
            Err(SignatureError::StaleTimestamp)
        );
        assert_eq!(
            standard(id, ts, sig, TS - TOLERANCE_S - 1),
            Err(SignatureError::StaleTimestamp),
            "from the future"
        );
        assert_eq!(
            standard(None, ts, sig, TS),
            Err(SignatureError::MissingHeader("webhook-id"))
        );
        assert_eq!(
            standard(id, None, sig, TS),
            Err(SignatureError::MissingHeader("webhook-timestamp"))
        );
        assert_eq!(
            standard(id, ts, None, TS),
            Err(SignatureError::MissingHeader("webhook-signature"))
        );
        assert_eq!(
            standard(id, Some("yesterday"), sig, TS),
            Err(SignatureError::BadFormat)
        );
        assert_eq!(
            standard(id, ts, Some("v2,abc"), TS),
            Err(SignatureError::BadFormat),
            "no v1 signature at all"
        );
        // A key rotation: the old signature first, the valid one second.
        let rotating =
            format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1,bm90IGJhc2U2NA {SIG}");
        assert_eq!(standard(id, ts, Some(&rotating), TS), Ok(()));
        // Another message id, another timestamp: the same signature no longer matches.
        assert_eq!(
            standard(Some("msg_other"), ts, sig, TS),
            Err(SignatureError::Mismatch)
        );
        let later = (TS + 1).to_string();
        assert_eq!(
            standard(id, Some(&later), sig, TS),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn hex_hmac_and_secret_compare() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
        let sig = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        let body = b"The quick brown fox jumps over the lazy dog";
        assert_eq!(verify_hex_hmac_sha256(b"key", body, sig), Ok(()));
        assert_eq!(
            verify_hex_hmac_sha256(b"key", body, &format!(" sha256={sig} ")),
            Ok(())
        );
        assert_eq!(
            verify_hex_hmac_sha256(b"kez", body, sig),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_hex_hmac_sha256(b"key", body, "zz"),
            Err(SignatureError::BadFormat)
        );
        assert_eq!(signing_key("key"), Ok(b"key".to_vec()));
        assert_eq!(signing_key("whsec_a2V5"), Ok(b"key".to_vec()));
        assert_eq!(signing_key("whsec_!"), Err(SignatureError::BadFormat));
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
    }
}
