//! Webhook authentication in one place: constant-time secret comparison and the signature
//! schemes providers use, each with known-answer tests.

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

/// Hex HMAC-SHA256 of the body (optionally `sha256=`-prefixed), as Whippy is reported to send
/// in `X-Whippy-Signature`.
pub fn verify_hex_hmac_sha256(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader("x-whippy-signature"))?;
    let hex = header.trim().trim_start_matches("sha256=");
    let given = hex::decode(hex).map_err(|_| SignatureError::BadFormat)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// Standard Webhooks: `webhook-signature` holds space-separated `v1,<base64>` signatures of
/// `id.timestamp.body` with the base64 key after `whsec_`; timestamps more than `tolerance_s`
/// away from `now_unix` are refused.
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
    let key = B64
        .decode(secret.trim_start_matches("whsec_"))
        .map_err(|_| SignatureError::BadFormat)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts_text.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
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

/// Twilio's `X-Twilio-Signature`: Base64(HMAC-SHA1(auth token, full URL followed by each POST
/// parameter's name and value, sorted by name)).
pub fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader("x-twilio-signature"))?;
    let given = B64
        .decode(header.trim())
        .map_err(|_| SignatureError::BadFormat)?;
    let mut sorted: Vec<_> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn twilio_known_answer() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            verify_twilio("12345", url, &params, Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")),
            Ok(())
        );
        assert_eq!(
            verify_twilio("12346", url, &params, Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_twilio("12345", url, &params, None),
            Err(SignatureError::MissingHeader("x-twilio-signature"))
        );
    }

    #[test]
    fn hex_hmac_and_secret_compare() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
        let sig = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        let body = b"The quick brown fox jumps over the lazy dog";
        assert_eq!(verify_hex_hmac_sha256(b"key", body, Some(sig)), Ok(()));
        assert_eq!(
            verify_hex_hmac_sha256(b"key", body, Some(&format!("sha256={sig}"))),
            Ok(())
        );
        assert_eq!(
            verify_hex_hmac_sha256(b"kez", body, Some(sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_hex_hmac_sha256(b"key", body, Some("zz")),
            Err(SignatureError::BadFormat)
        );
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
    }
}
