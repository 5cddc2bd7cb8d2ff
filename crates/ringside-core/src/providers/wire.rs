//! Decoding shared by the adapters: JSON, urlencoded and multipart bodies and query strings
//! into one case-insensitive field map, timestamps and durations. Wire *types* stay in each
//! provider's module; this is only the envelope.

use super::{Inbound, ParseError};
use crate::model::Provider;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Fields of a form, query string or flat JSON object, keyed by lower-cased name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(BTreeMap<String, Value>);

impl Fields {
    /// The field's value as text; `None` when absent, empty, JSON null or the string `"null"`
    /// (Exotel sends that).
    pub fn text(&self, name: &str) -> Option<String> {
        match self.0.get(&name.to_ascii_lowercase())? {
            Value::Null => None,
            Value::String(s) => {
                let s = s.trim();
                (!s.is_empty() && !s.eq_ignore_ascii_case("null")).then(|| s.to_string())
            }
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            other => Some(other.to_string()),
        }
    }

    /// The first of `names` that has a value.
    pub fn first_text(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.text(n))
    }

    /// The raw JSON value (objects and arrays stay structured).
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.0.get(&name.to_ascii_lowercase())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn insert(&mut self, name: &str, value: Value) {
        self.0.insert(name.to_ascii_lowercase(), value);
    }

    fn from_object(obj: Map<String, Value>) -> Self {
        let mut f = Fields::default();
        for (k, v) in obj {
            f.insert(&k, v);
        }
        f
    }
}

/// Deserialize a JSON body into a provider's private wire type. JSON is UTF-8 (RFC 8259):
/// the whole body is checked first, since serde_json skips the fields a wire type ignores
/// without looking at their bytes.
pub fn json<T: DeserializeOwned>(provider: Provider, body: &[u8]) -> Result<T, ParseError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ParseError::malformed(provider, format!("body is not valid UTF-8: {e}")))?;
    serde_json::from_str(text).map_err(|e| ParseError::malformed(provider, format!("{e}")))
}

/// The request's fields: the query string for GET, else the body as JSON, urlencoded or
/// multipart form, chosen by Content-Type (sniffed when the header is missing or generic).
pub fn fields(provider: Provider, req: &Inbound<'_>) -> Result<Fields, ParseError> {
    if req.method == http::Method::GET {
        return urlencoded(provider, req.query.unwrap_or("").as_bytes());
    }
    let ct = req.content_type().unwrap_or("").to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        return multipart(provider, req.content_type().unwrap_or(""), req.body);
    }
    let trimmed = trim_ascii_start(req.body);
    if ct.contains("json") || matches!(trimmed.first(), Some(b'{') | Some(b'[')) {
        let v: Value = json(provider, req.body)?;
        return match v {
            Value::Object(obj) => Ok(Fields::from_object(obj)),
            _ => Err(ParseError::malformed(provider, "expected a JSON object")),
        };
    }
    if ct.starts_with("application/x-www-form-urlencoded") || ct.is_empty() || ct == "text/plain" {
        if std::str::from_utf8(req.body).is_err() {
            return Err(ParseError::malformed(provider, "body is not valid UTF-8"));
        }
        let f = urlencoded(provider, req.body)?;
        if f.is_empty() {
            return Err(ParseError::malformed(provider, "empty form body"));
        }
        return Ok(f);
    }
    Err(ParseError::malformed(
        provider,
        format!("unsupported Content-Type `{ct}`: send JSON or a form"),
    ))
}

/// A query string or urlencoded form. Percent-escapes must decode to UTF-8: a field that does
/// not is refused, not patched up with replacement characters (it could name a call).
fn urlencoded(provider: Provider, bytes: &[u8]) -> Result<Fields, ParseError> {
    let decode = |raw: &[u8]| {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| {
                ParseError::malformed(provider, "a form field is not valid UTF-8 once decoded")
            })
    };
    let mut f = Fields::default();
    for pair in bytes.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        f.insert(&decode(name)?, Value::String(decode(value)?));
    }
    Ok(f)
}

fn multipart(provider: Provider, content_type: &str, body: &[u8]) -> Result<Fields, ParseError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| ParseError::malformed(provider, format!("multipart: {e}")))?;
    let stream = futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(
        bytes::Bytes::copy_from_slice(body),
    )));
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut f = Fields::default();
    // The whole body is already in memory, so every future here is ready at once.
    futures_executor::block_on(async {
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| ParseError::malformed(provider, format!("multipart: {e}")))?
        {
            let name = field.name().unwrap_or("").to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| ParseError::malformed(provider, format!("multipart: {e}")))?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                ParseError::malformed(provider, format!("multipart field `{name}` is not UTF-8"))
            })?;
            // A JSON-valued part (Exotel sends `Legs` as JSON text) stays structured.
            let value = match text.trim_start().as_bytes().first() {
                Some(b'[') | Some(b'{') => {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                }
                _ => Value::String(text),
            };
            f.insert(&name, value);
        }
        Ok::<_, ParseError>(())
    })?;
    if f.is_empty() {
        return Err(ParseError::malformed(provider, "empty multipart body"));
    }
    Ok(f)
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// Parse a timestamp: RFC 3339 (any offset); `YYYY-MM-DD HH:MM:SS[.frac]` or ISO without a
/// zone, read in `local` (the provider account's offset; UTC for providers that say UTC), or
/// with a `+hhmm` offset; `DD-MM-YYYY HH:MM:SS` in `local`; Unix seconds, or milliseconds once
/// the number is too large to be seconds of this era. A time before 2000 or from 2100 on is
/// no time any provider sends: `None`, like anything else that does not read.
pub fn timestamp(s: &str, local: FixedOffset) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let t = if let Ok(n) = s.parse::<i64>() {
        if n.unsigned_abs() >= 100_000_000_000 {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        }
    } else if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        Some(t.with_timezone(&Utc))
    } else {
        let zoned = ["%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%z"]
            .iter()
            .find_map(|fmt| DateTime::parse_from_str(s, fmt).ok())
            .map(|t| t.with_timezone(&Utc));
        zoned.or_else(|| {
            [
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M:%S%.f",
                "%d-%m-%Y %H:%M:%S",
            ]
            .iter()
            .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
            .and_then(|n| local.from_local_datetime(&n).single())
            .map(|t| t.with_timezone(&Utc))
        })
    };
    t.filter(plausible)
}

/// Whether `t` is a time a provider could mean: from 2000 up to 2100.
pub fn plausible(t: &DateTime<Utc>) -> bool {
    (946_684_800..4_102_444_800).contains(&t.timestamp())
}

/// The time field `name` holds (`value`), read by [`timestamp`]. One that is there but does
/// not read is left unknown, so Ringside uses its receive time, and `notes` says so.
pub fn time_field(
    name: &str,
    value: Option<&str>,
    local: FixedOffset,
    notes: &mut Vec<String>,
) -> Option<DateTime<Utc>> {
    let value = value?;
    let t = timestamp(value, local);
    if t.is_none() {
        notes.push(format!(
            "`{name}` is `{value}`, not a time Ringside reads; the receive time is used"
        ));
    }
    t
}

/// A fraction of a second beyond this (some 31 million years) is no duration: the bound keeps
/// the cast to whole seconds exact.
const LONGEST_FRACTIONAL_S: f64 = 1e15;

/// Whole seconds from a duration field, for every provider: `"42"`; `"42.5"` rounded to the
/// nearest second (halves up); `"01:02"` or `"1:00:05"` (minutes or hours first). Blanks around
/// it are ignored. Anything else (negative, not a number, too large) is no duration.
pub fn seconds(v: &str) -> Option<u64> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(s);
    }
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && (0.0..LONGEST_FRACTIONAL_S).contains(&s))
            .then(|| s.round() as u64);
    }
    let parts: Vec<u64> = v
        .split(':')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [m, s] => m.checked_mul(60)?.checked_add(*s),
        [h, m, s] => h
            .checked_mul(3600)?
            .checked_add(m.checked_mul(60)?)?
            .checked_add(*s),
        _ => None,
    }
}

pub fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("zero offset")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method};

    fn req<'a>(m: &'a Method, h: &'a HeaderMap, q: Option<&'a str>, body: &'a [u8]) -> Inbound<'a> {
        Inbound {
            method: m,
            query: q,
            headers: h,
            body,
        }
    }

    #[test]
    fn fields_from_every_encoding_read_the_same() {
        let get = Method::GET;
        let post = Method::POST;
        let none = HeaderMap::new();
        let q = req(
            &get,
            &none,
            Some("CallSid=a1&Callfrom=0123&EndTime=null"),
            b"",
        );
        let f = fields(Provider::Exotel, &q).unwrap();
        assert_eq!(f.text("CallSid").as_deref(), Some("a1"));
        assert_eq!(f.text("CallFrom").as_deref(), Some("0123"));
        assert_eq!(f.text("EndTime"), None);

        let mut json_h = HeaderMap::new();
        json_h.insert("content-type", HeaderValue::from_static("application/json"));
        let j = req(
            &post,
            &json_h,
            None,
            br#"{"CallSid":"a1","Legs":[{"Status":"completed"}],"N":3}"#,
        );
        let f = fields(Provider::Exotel, &j).unwrap();
        assert_eq!(f.text("callsid").as_deref(), Some("a1"));
        assert_eq!(f.text("n").as_deref(), Some("3"));
        assert!(f.value("legs").unwrap().is_array());

        let mut mp_h = HeaderMap::new();
        mp_h.insert(
            "content-type",
            HeaderValue::from_static("multipart/form-data; boundary=XyZ"),
        );
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"CallSid\"\r\n\r\na1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"Legs\"\r\n\r\n[{\"Status\":\"completed\"}]\r\n--XyZ--\r\n";
        let f = fields(Provider::Exotel, &req(&post, &mp_h, None, body)).unwrap();
        assert_eq!(f.text("CallSid").as_deref(), Some("a1"));
        assert!(f.value("Legs").unwrap().is_array());
    }

    #[test]
    fn bad_bodies_are_malformed_not_panics() {
        let post = Method::POST;
        let none = HeaderMap::new();
        for body in [
            &b"{not json"[..],
            b"",
            b"\xff\xfe=1",
            b"[1,2]",
            b"event=newCall&callId=%FF%FE",
            b"%C3%28=x",
        ] {
            assert!(fields(Provider::Generic, &req(&post, &none, None, body)).is_err());
        }
        let get = Method::GET;
        let bad_query = req(&get, &none, Some("CallSid=%E2%28%A1"), b"");
        assert!(fields(Provider::Exotel, &bad_query).is_err());
        let mut mp_h = HeaderMap::new();
        mp_h.insert(
            "content-type",
            HeaderValue::from_static("multipart/form-data; boundary=XyZ"),
        );
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"CallSid\"\r\n\r\n\xff\xfe\r\n--XyZ--\r\n";
        assert!(fields(Provider::Exotel, &req(&post, &mp_h, None, body)).is_err());
        // Plus is a space, escapes decode, a bare name has an empty value.
        let ok = req(&get, &none, Some("a=x+y%21&flag&b=%7E"), b"");
        let f = fields(Provider::Exotel, &ok).unwrap();
        assert_eq!(f.text("a").as_deref(), Some("x y!"));
        assert_eq!(f.text("flag"), None);
        assert_eq!(f.text("b").as_deref(), Some("~"));
    }

    #[test]
    fn timestamps_in_local_time_become_utc() {
        let ist = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        assert_eq!(
            timestamp("2022-04-06 10:44:40", ist).unwrap().to_rfc3339(),
            "2022-04-06T05:14:40+00:00"
        );
        assert_eq!(
            timestamp("2023-08-24T10:05:18.432652Z", utc())
                .unwrap()
                .timestamp(),
            1692871518
        );
        assert_eq!(timestamp("garbage", utc()), None);
        let t = |s| timestamp(s, utc()).map(|t| t.to_rfc3339());
        let utc_930 = Some("2024-03-05T09:30:00+00:00".to_string());
        assert_eq!(t("2024-03-05 09:30:00"), utc_930);
        assert_eq!(t("2024-03-05T10:30:00+01:00"), utc_930);
        assert_eq!(t("2024-03-05 10:30:00.000+0100"), utc_930);
        assert_eq!(t("05-03-2024 09:30:00"), utc_930);
        assert_eq!(t("1709631000"), utc_930, "Unix seconds");
        assert_eq!(t("1709631000000"), utc_930, "Unix milliseconds");
        // No provider sends these: not times.
        assert_eq!(t("1709631000000000"), None, "microseconds");
        assert_eq!(t("0"), None);
        assert_eq!(t("9999-12-31 23:59:59"), None);
        assert_eq!(t("1999-12-31T23:59:59Z"), None);
    }

    #[test]
    fn durations_read_one_way_for_every_provider() {
        for (text, want) in [
            ("31", Some(31)),
            (" 42 ", Some(42)),
            ("3.6", Some(4)),
            ("61.4", Some(61)),
            ("95.6", Some(96)),
            ("31.9", Some(32)),
            ("0.5", Some(1)),
            ("01:02", Some(62)),
            ("1:00:05", Some(3605)),
            ("18446744073709551615", Some(u64::MAX)),
            ("-4", None),
            ("-0.6", None),
            ("NaN", None),
            ("inf", None),
            ("1e300", None),
            ("abc", None),
            ("", None),
            ("1:2:3:4", None),
            ("99999999999999999999:0", None),
        ] {
            assert_eq!(seconds(text), want, "{text:?}");
        }
    }
}
