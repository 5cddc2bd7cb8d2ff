//! What the fuzz targets share: reading an input as a webhook request, and the checks every
//! parse must pass.
//!
//! Inputs are in the fixtures' `.http` format (`tests/fixtures/<provider>/*.http`): a
//! request line (`POST /hooks/teltel?query`), header lines, a blank line, the body. The
//! fixtures are the seed corpus, so mutations start from real deliveries. Reading is lenient:
//! any byte string is some request.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use ringside_core::providers::ParseError;
use ringside_core::Provider;

pub struct Request {
    pub method: Method,
    /// The provider named by the path (`/hooks/<provider>...`), if any.
    pub provider: Option<Provider>,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Read `data` as a request; anything unreadable in the head is dropped, never refused.
pub fn request(data: &[u8]) -> Request {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or("");
    let mut words = request_line.split_whitespace();
    let method = words
        .next()
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(Method::POST);
    let target = words.next().unwrap_or("/");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (target, None),
    };
    let provider = path
        .trim_start_matches("/hooks/")
        .split('/')
        .next()
        .and_then(|name| name.parse().ok());
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(n, v);
        }
    }
    Request {
        method,
        provider,
        query,
        headers,
        body: body.to_vec(),
    }
}

#[path = "../../tests/support/parse_check.rs"]
mod parse_check;

/// Parse `req` for `provider` as the server does; see [`parse_check::checked_parse`] for what
/// must hold.
pub fn check(provider: Provider, req: &Request) {
    let parsed = parse_check::checked_parse_parts(
        provider,
        &req.method,
        req.query.as_deref(),
        &req.headers,
        &req.body,
    );
    match parsed {
        Ok(_)
        | Err(
            ParseError::Malformed { .. }
            | ParseError::Unsupported { .. }
            | ParseError::Method { .. },
        ) => {}
    }
}

/// The fuzz target of one provider: the input is a request to it, whatever its path says.
pub fn provider_target(provider: Provider, data: &[u8]) {
    check(provider, &request(data));
}
