//! Who may use the API: every request carries the API token (Bearer header; `?token=` too
//! for the websocket, which browsers cannot give headers) and a loopback Host header (no DNS
//! rebinding from a web page), unless `[api] allowed_hosts` names the host.

use crate::error::{HttpError, HttpErrorCode};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ringside_app::Ringside;
use ringside_core::signature::secrets_equal;

/// Refuse requests without the token or naming a host that is not ours.
pub async fn guard(State(st): State<Ringside>, req: Request, next: Next) -> Response {
    if let Err(e) = check(&st, req.headers(), req.uri().query()) {
        return e.into_response();
    }
    next.run(req).await
}

fn check(st: &Ringside, headers: &HeaderMap, query: Option<&str>) -> Result<(), HttpError> {
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
    let expected = settings.config.api.token.as_deref().unwrap_or("");
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let from_query = query.and_then(form_urlencoded_token);
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
    fn query_token_is_decoded() {
        assert_eq!(
            form_urlencoded_token("a=1&token=ab%2Bc").as_deref(),
            Some("ab+c")
        );
        assert_eq!(form_urlencoded_token("a=%"), None);
        assert_eq!(form_urlencoded_token("token=%zz").as_deref(), Some("%zz"));
    }
}
