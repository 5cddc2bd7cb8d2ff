//! Who may use the API, and who they are. Every request carries a token in its
//! `Authorization: Bearer` header: the API token (the admin) or, on a hub, an agent's; the
//! handlers get the [`Viewer`] it names. The live websocket alone may carry the token as
//! `?token=` (a browser cannot give a websocket a header), and a browser's request for it must
//! come from the origin that served the UI; a token in the query of any other route is refused
//! (URLs end up in logs, proxies' too). The Host header must be a loopback name, one of
//! `[api] allowed_hosts`, or the host of `[hub] public_url` (no DNS rebinding from a web page).
//! Failed authentication is logged and limited per client: after [`FAILURES_PER_MINUTE`] a
//! client gets 429 until the minute is over.

use crate::error::{HttpError, HttpErrorCode};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ringside_app::agents;
use ringside_app::viewer::Viewer;
use ringside_app::Ringside;
use ringside_core::signature::secrets_equal;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The one route that takes `?token=`.
pub const LIVE: &str = "/api/live";

/// Failed authentications a client may make per minute.
pub const FAILURES_PER_MINUTE: u32 = 20;
const WINDOW: Duration = Duration::from_secs(60);
/// Clients remembered at most (the oldest windows are dropped beyond).
const CLIENTS: usize = 10_000;

/// What the guard keeps between requests.
#[derive(Clone)]
pub struct Guard {
    pub ringside: Ringside,
    failures: Arc<Mutex<HashMap<IpAddr, (Instant, u32)>>>,
}

impl Guard {
    pub fn new(ringside: Ringside) -> Guard {
        Guard {
            ringside,
            failures: Arc::default(),
        }
    }

    /// Whether `client` used up its failures this minute.
    fn limited(&self, client: IpAddr) -> bool {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&client)
            .is_some_and(|(since, n)| since.elapsed() < WINDOW && *n >= FAILURES_PER_MINUTE)
    }

    /// `client` failed once more; whether it is now limited.
    fn failed(&self, client: IpAddr) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CLIENTS {
            map.retain(|_, (since, _)| since.elapsed() < WINDOW);
        }
        let entry = map.entry(client).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
        entry.1 == FAILURES_PER_MINUTE
    }
}

/// Refuse requests without a valid token or naming a host that is not ours; hand the
/// handlers the [`Viewer`] the token names.
pub async fn guard(State(g): State<Guard>, mut req: Request, next: Next) -> Response {
    let client = client_of(&req);
    if g.limited(client) {
        return HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            HttpErrorCode::TooManyFailures,
            "too many failed attempts; wait a minute",
        )
        .into_response();
    }
    let live = req.method() == Method::GET && req.uri().path() == LIVE;
    match check(&g.ringside, req.headers(), req.uri().query(), live).await {
        Ok(viewer) => {
            req.extensions_mut().insert(viewer);
            next.run(req).await
        }
        Err(e) => {
            if e.status == StatusCode::UNAUTHORIZED {
                tracing::warn!("refused a request from {client}: {}", e.message());
                if g.failed(client) {
                    tracing::warn!(
                        "{client} failed to authenticate {FAILURES_PER_MINUTE} times within a                          minute: refused until the minute is over"
                    );
                }
            }
            e.into_response()
        }
    }
}

/// Who sent `req`: the peer, or behind a proxy on this machine, the client the proxy names
/// last in `X-Forwarded-For`.
fn client_of(req: &Request) -> IpAddr {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
    if !peer.is_loopback() {
        return peer;
    }
    req.headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|ip| ip.trim().parse().ok())
        .unwrap_or(peer)
}

async fn check(
    r: &Ringside,
    headers: &HeaderMap,
    query: Option<&str>,
    live: bool,
) -> Result<Viewer, HttpError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let settings = r.settings();
    let mut allowed = settings.config.api.allowed_hosts.clone();
    allowed.extend(public_host(&settings.config));
    if !host_allowed(host, &allowed) {
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
    let Some(given) = bearer.map(str::to_string).or(from_query) else {
        return Err(HttpError::unauthorized(
            "missing API token: send `Authorization: Bearer <token>`",
        ));
    };
    agents::viewer(r, &given)
        .await?
        .ok_or_else(|| HttpError::unauthorized("wrong API token"))
}

/// The host of `[hub] public_url`, which the API answers besides loopback names.
pub fn public_host(config: &ringside_core::config::Config) -> Option<String> {
    let url = config.hub.as_ref()?.public_url.as_deref()?;
    url::Url::parse(url).ok()?.host_str().map(str::to_string)
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
