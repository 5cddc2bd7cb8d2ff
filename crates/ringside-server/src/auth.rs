//! Who may use the API: every request carries the API token in its `Authorization: Bearer`
//! header and a loopback Host header (no DNS rebinding from a web page), unless
//! `[api] allowed_hosts` names the host. The live websocket alone may carry the token as
//! `?token=` (a browser cannot give a websocket a header); a browser's request for it must
//! come from the origin that served the UI. A token in the query of any other route is
//! refused: URLs end up in logs, proxies' too.

use crate::error::{HttpError, HttpErrorCode};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ringside_app::Ringside;
use ringside_core::signature::secrets_equal;

/// The one route that takes `?token=`.
pub const LIVE: &str = "/api/live";

/// Refuse requests without the token or naming a host that is not ours.
pub async fn guard(State(st): State<Ringside>, req: Request, next: Next) -> Response {
    let live = req.method() == Method::GET && req.uri().path() == LIVE;
    if let Err(e) = check(&st, req.headers(), req.uri().query(), live) {
        return e.into_response();
    }
    next.run(req).await
}

fn check(
    st: &Ringside,
    headers: &HeaderMap,
    query: Option<&str>,
    live: bool,
) -> Result<(), HttpError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let settings = st.settings();
    if !host_allowed(host, &settings.config.api.allowed_hosts) {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            HttpErrorCode::HostNotAllowed,
            format!("Host `{host}` is not allowed; the API answers on loopback names only"),
        ));
    }
    if live {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !same_origin(origin, host) {
                return Err(HttpError::new(
                    StatusCode::FORBIDDEN,
                    HttpErrorCode::OriginNotAllowed,
                    format!(
                        "a page from `{origin}` may not open the live stream; only the one \
                         Ringside served"
                    ),
                ));
            }
        }
    }
    let expected = settings.config.api.token.as_deref().unwrap_or("");
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let from_query = query.and_then(form_urlencoded_token);
    if from_query.is_some() && !live {
        return Err(HttpError::unauthorized(format!(
            "the token goes in the `Authorization: Bearer` header; `?token=` is taken by \
             {LIVE} only"
        )));
    }
    let given = bearer.map(str::to_string).or(from_query);
    match given {
        Some(t) if !expected.is_empty() && secrets_equal(t.as_bytes(), expected.as_bytes()) => {
            Ok(())
        }
        Some(_) => Err(HttpError::unauthorized("wrong API token")),
        None => Err(HttpError::unauthorized(
            "missing API token: send `Authorization: Bearer <token>`",
        )),
    }
}

/// Whether `headers` carry the API token as a Bearer header.
pub fn bearer_ok(st: &Ringside, headers: &HeaderMap) -> bool {
    let settings = st.settings();
    let expected = settings.config.api.token.as_deref().unwrap_or("");
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| {
            !expected.is_empty() && secrets_equal(t.trim().as_bytes(), expected.as_bytes())
        })
}

/// Whether a browser's `Origin` is the origin whose `Host` the request names: the page that
/// asks is one Ringside served (scheme aside: behind a TLS proxy the page is `https:`).
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let with_port = |h: &str| {
        let h = h.to_ascii_lowercase();
        let has_port = match h.rfind(']') {
            Some(end) => h[end..].contains(':'),
            None => h.contains(':'),
        };
        if has_port {
            h
        } else {
            format!("{h}{default_port}")
        }
    };
    !host.is_empty() && with_port(authority) == with_port(host)
}

fn form_urlencoded_token(q: &str) -> Option<String> {
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Loopback names, with or without a port, plus the configured extra names.
pub fn host_allowed(host: &str, extra: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let name = name.to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
        || extra.iter().any(|e| e.eq_ignore_ascii_case(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_pass() {
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "127.3.4.5",
            "[::1]:99",
            "app.localhost",
        ] {
            assert!(host_allowed(ok, &[]), "{ok}");
        }
        for bad in [
            "evil.com",
            "evil.com:80",
            "10.0.0.1",
            "",
            "localhost.evil.com",
            "[::2]:1",
        ] {
            assert!(!host_allowed(bad, &[]), "{bad}");
        }
        assert!(host_allowed("hub.example:443", &["hub.example".into()]));
    }

    #[test]
    fn only_the_served_origin_is_the_same_origin() {
        assert!(same_origin("http://127.0.0.1:8089", "127.0.0.1:8089"));
        assert!(same_origin(
            "https://ringside.example.com",
            "ringside.example.com"
        ));
        assert!(same_origin(
            "https://Ringside.example.com",
            "ringside.example.com:443"
        ));
        assert!(same_origin("http://[::1]:8089", "[::1]:8089"));
        for (origin, host) in [
            ("http://evil.example", "127.0.0.1:8089"),
            ("http://127.0.0.1:9999", "127.0.0.1:8089"),
            ("null", "127.0.0.1:8089"),
            ("http://127.0.0.1:8089", ""),
            ("file://", "127.0.0.1:8089"),
            ("https://ringside.example.com", "ringside.example.com:8089"),
        ] {
            assert!(!same_origin(origin, host), "{origin} {host}");
        }
    }

    #[test]
    fn query_token_is_decoded() {
        assert_eq!(
            form_urlencoded_token("a=1&token=ab%2Bc").as_deref(),
            Some("ab+c")
        );
        assert_eq!(form_urlencoded_token("a=%"), None);
        assert_eq!(form_urlencoded_token("token=%zz").as_deref(), Some("%zz"));
    }
}
