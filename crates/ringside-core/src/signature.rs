//! Webhook authentication in one place: constant-time secret comparison and the signature
//! schemes providers use, each with known-answer tests.
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
    let key = match secret.strip_prefix("whsec_") {
        Some(b64) => B64.decode(b64).map_err(|_| SignatureError::BadFormat)?,
        None => secret.as_bytes().to_vec(),
    };
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

/// A Whippy delivery's signature. Whippy's format is unconfirmed, so both plausible ones are
/// read: Standard Webhooks headers when a `webhook-signature` is present (with replay
/// protection: a timestamp more than [`TOLERANCE_S`] from `now_unix` is refused), else
/// `X-Whippy-Signature`, a hex HMAC-SHA256 of the body. A `whsec_` secret is base64 after
/// the prefix (Standard Webhooks' form); any other secret is used as its bytes.
pub fn verify_whippy(
    secret: &str,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    if let Some(signatures) = header("webhook-signature") {
        return verify_standard_webhooks(
            secret,
            header("webhook-id").as_deref(),
            header("webhook-timestamp").as_deref(),
            Some(&signatures),
            body,
            now_unix,
            TOLERANCE_S,
        );
    }
    let key = match secret.strip_prefix("whsec_") {
        Some(b64) => B64.decode(b64).map_err(|_| SignatureError::BadFormat)?,
        None => secret.as_bytes().to_vec(),
    };
    verify_hex_hmac_sha256(&key, body, header("x-whippy-signature").as_deref())
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
        // The parameters are sorted before signing: any order verifies; the header's
        // surrounding blanks do not matter.
        let mut shuffled = params.clone();
        shuffled.reverse();
        let sig = Some(" 0/KCTR6DLpKmkAf8muzZqo1nDgQ= ");
        assert_eq!(verify_twilio("12345", url, &shuffled, sig), Ok(()));
        shuffled[1].1 = "1235".into();
        assert_eq!(
            verify_twilio("12345", url, &shuffled, sig),
            Err(SignatureError::Mismatch),
            "a changed parameter"
        );
        assert_eq!(
            verify_twilio(
                "12345",
                "https://mycompany.com/myapp.php?foo=1",
                &params,
                sig
            ),
            Err(SignatureError::Mismatch),
            "another URL"
        );
        assert_eq!(
            verify_twilio("12345", url, &params, Some("not base64!")),
            Err(SignatureError::BadFormat)
        );
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
    fn whippy_takes_either_scheme() {
        let h = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        // Standard Webhooks, known answer.
        let std_headers: &'static [(&str, &str)] = &[
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", SIG),
        ];
        assert_eq!(verify_whippy(SECRET, h(std_headers), BODY, TS), Ok(()));
        assert_eq!(
            verify_whippy(SECRET, h(std_headers), BODY, TS + 3600),
            Err(SignatureError::StaleTimestamp)
        );
        // Hex HMAC-SHA256 with a plain secret: HMAC("key", "The quick brown fox ...").
        let fox = b"The quick brown fox jumps over the lazy dog";
        let hex: &'static [(&str, &str)] = &[(
            "x-whippy-signature",
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
        )];
        assert_eq!(verify_whippy("key", h(hex), fox, 0), Ok(()));
        assert_eq!(
            verify_whippy("key", h(&[]), fox, 0),
            Err(SignatureError::MissingHeader("x-whippy-signature"))
        );
        assert_eq!(
            verify_whippy("kez", h(hex), fox, 0),
            Err(SignatureError::Mismatch)
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
