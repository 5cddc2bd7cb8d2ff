//! Whippy's signature. Its format is unconfirmed, so both plausible ones are read: Standard
//! Webhooks headers when a `webhook-signature` is present (with replay protection: a
//! timestamp more than [`TOLERANCE_S`] from now is refused), else `X-Whippy-Signature`, a hex
//! HMAC-SHA256 of the body. A `whsec_` secret is base64 after the prefix; any other secret is
//! used as its bytes.

use crate::signature::{
    signing_key, verify_hex_hmac_sha256, verify_standard_webhooks, SignatureError, TOLERANCE_S,
};
use http::HeaderMap;

const HEX_SIGNATURE: &str = "x-whippy-signature";
const STANDARD_SIGNATURE: &str = "webhook-signature";
const STANDARD_ID: &str = "webhook-id";
const STANDARD_TIMESTAMP: &str = "webhook-timestamp";

/// Check a Whippy delivery against `secret` at `now_unix`.
pub fn verify(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(signatures) = header(STANDARD_SIGNATURE) {
        return verify_standard_webhooks(
            secret,
            header(STANDARD_ID),
            header(STANDARD_TIMESTAMP),
            Some(signatures),
            body,
            now_unix,
            TOLERANCE_S,
        );
    }
    let signature = header(HEX_SIGNATURE).ok_or(SignatureError::MissingHeader(HEX_SIGNATURE))?;
    verify_hex_hmac_sha256(&signing_key(secret)?, body, signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Standard Webhooks' own known answer.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn whippy_takes_either_scheme() {
        let standard = headers(&[
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            (
                "webhook-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
        ]);
        assert_eq!(verify(SECRET, &standard, BODY, TS), Ok(()));
        assert_eq!(
            verify(SECRET, &standard, BODY, TS + 3600),
            Err(SignatureError::StaleTimestamp)
        );
        // Hex HMAC-SHA256 with a plain secret: HMAC("key", "The quick brown fox ...").
        let fox = b"The quick brown fox jumps over the lazy dog";
        let hex = headers(&[(
            "x-whippy-signature",
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
        )]);
        assert_eq!(verify("key", &hex, fox, 0), Ok(()));
        assert_eq!(
            verify("key", &HeaderMap::new(), fox, 0),
            Err(SignatureError::MissingHeader("x-whippy-signature"))
        );
        assert_eq!(verify("kez", &hex, fox, 0), Err(SignatureError::Mismatch));
    }
}
