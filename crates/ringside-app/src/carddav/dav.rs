//! The HTTP side of a CardDAV sync: PROPFIND, `sync-collection`, `addressbook-multiget` and
//! GET on one address book, with Basic auth, a timeout per request, redirects followed
//! (method and body kept; the credentials are not sent to another host), and answers capped
//! in size. Hrefs are resolved against the book's URL and must stay on its server; a member
//! is keyed by its decoded path, so the same card is the same key whichever way a server
//! percent-encodes it.

use super::xml::{self, Resource};
use percent_encoding::percent_decode_str;
use reqwest::header::{HeaderValue, CONTENT_TYPE, ETAG};
use reqwest::{Method, StatusCode, Url};
use std::time::Duration;

/// Every request gives up after this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read (a multiget of cards with photos can be big).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// Why a request to the server did not give what the sync needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DavError {
    /// 401 or 403: the server refused the credentials (the reason says how).
    Auth(String),
    /// Anything else: network, timeout, a server error, an answer CardDAV does not allow.
    Failed(String),
}

impl std::fmt::Display for DavError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DavError::Auth(m) | DavError::Failed(m) => f.write_str(m),
        }
    }
}

/// How `sync-collection` went when it did not give the changes.
#[derive(Debug)]
pub enum ChangesError {
    /// The server refused the token (RFC 6578 `valid-sync-token`: expired, unknown) or the
    /// report: a full sync will do instead.
    Refused(String),
    Dav(DavError),
}

/// A card in the address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// What the store keeps it by: its path, percent-decoded.
    pub key: String,
    /// Its URL on the server, as the server spells it.
    pub url: Url,
    pub etag: Option<String>,
}

/// Every card in the book and the book's sync token (if it supports `sync-collection`).
#[derive(Debug, Clone)]
pub struct Listing {
    pub members: Vec<Member>,
    pub sync_token: Option<String>,
}

/// What changed since a sync token.
#[derive(Debug, Clone)]
pub struct Changes {
    pub changed: Vec<Member>,
    /// Keys of the cards that are gone.
    pub removed: Vec<String>,
    pub sync_token: Option<String>,
    /// The server sent only part of the changes (507 on the book): ask again from the new
    /// token.
    pub truncated: bool,
}

/// A card fetched, or found gone (`text: None`).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub key: String,
    pub etag: Option<String>,
    pub text: Option<String>,
}

/// One address book on one server, with the credentials to read it.
pub struct Dav {
    http: reqwest::Client,
    url: Url,
    username: Option<String>,
    password: Option<String>,
}

impl Dav {
    /// For the address book at `url`. Credentials written into the URL are taken out of it
    /// (so no message or log shows them) and used when the config gives none.
    pub fn new(
        url: &str,
        username: Option<String>,
        password: Option<String>,
    ) -> Result<Dav, String> {
        let mut url = Url::parse(url).map_err(|e| format!("`{url}` is not a URL ({e})"))?;
        let in_url_user = (!url.username().is_empty()).then(|| decode(url.username()));
        let in_url_password = url.password().map(decode);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        if !url.path().ends_with('/') {
            // A collection's URL ends with a slash; servers redirect or refuse without it.
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("Ringside/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        let (username, password) = match username {
            Some(u) => (Some(u), password),
            None => (in_url_user, in_url_password.or(password)),
        };
        Ok(Dav {
            http,
            url,
            username,
            password,
        })
    }

    pub fn set_password(&mut self, password: Option<String>) {
        self.password = password;
    }

    /// The book's URL (without credentials).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// PROPFIND Depth 1: every card's ETag, and the book's sync token.
    pub async fn list(&self) -> Result<Listing, DavError> {
        let (status, base, body) = self
            .send(
                "PROPFIND",
                self.url.clone(),
                Some("1"),
                xml::PROPFIND_MEMBERS,
            )
            .await?;
        expect_multistatus("PROPFIND", status, &body)?;
        let answer = read_multistatus("PROPFIND", &body)?;
        let book = key_of(&base);
        let mut listing = Listing {
            members: Vec::new(),
            sync_token: None,
        };
        let mut books_inside = Vec::new();
        let mut is_addressbook = true;
        for r in &answer.resources {
            let Some((key, url)) = locate(&base, &r.href) else {
                continue;
            };
            if same_collection(&key, &book) {
                listing.sync_token = r.sync_token.clone();
                is_addressbook = !r.collection || r.addressbook;
            } else if r.addressbook {
                books_inside.push(url.to_string());
            } else if is_card(r, &key) {
                listing.members.push(Member {
                    key,
                    url,
                    etag: r.etag.clone(),
                });
            }
        }
        if !is_addressbook {
            let hint = match books_inside.as_slice() {
                [] => String::new(),
                found => format!("; it holds these: {}", found.join(", ")),
            };
            return Err(DavError::Failed(format!(
                "{} is a collection but not an address book{hint}",
                self.url
            )));
        }
        Ok(listing)
    }

    /// RFC 6578 `sync-collection` from `token`.
    pub async fn changes(&self, token: &str) -> Result<Changes, ChangesError> {
        let (status, base, body) = self
            .send(
                "REPORT",
                self.url.clone(),
                None,
                &xml::sync_collection(token),
            )
            .await
            .map_err(ChangesError::Dav)?;
        if status == StatusCode::UNAUTHORIZED {
            return Err(ChangesError::Dav(refused(status, &body)));
        }
        if status != StatusCode::MULTI_STATUS {
            let precondition = if xml::names_precondition(&body, "valid-sync-token") {
                " (valid-sync-token)"
            } else {
                ""
            };
            return Err(ChangesError::Refused(format!(
                "{}{precondition}",
                status_text(status)
            )));
        }
        let answer = read_multistatus("sync-collection", &body).map_err(ChangesError::Dav)?;
        let book = key_of(&base);
        let mut changes = Changes {
            changed: Vec::new(),
            removed: Vec::new(),
            sync_token: answer.sync_token,
            truncated: false,
        };
        for r in &answer.resources {
            let Some((key, url)) = locate(&base, &r.href) else {
                continue;
            };
            if same_collection(&key, &book) {
                changes.truncated |= r.status == Some(507);
            } else if matches!(r.status, Some(404 | 410)) {
                changes.removed.push(key);
            } else if is_card(r, &key) {
                changes.changed.push(Member {
                    key,
                    url,
                    etag: r.etag.clone(),
                });
            }
        }
        if changes.sync_token.is_none() {
            return Err(ChangesError::Refused(
                "the answer carries no new sync token".into(),
            ));
        }
        Ok(changes)
    }

    /// `addressbook-multiget`: these cards in one request. Cards the answer leaves out are
    /// not in the result.
    pub async fn multiget(&self, members: &[Member]) -> Result<Vec<Fetched>, DavError> {
        let hrefs: Vec<&str> = members.iter().map(|m| m.url.path()).collect();
        let (status, base, body) = self
            .send("REPORT", self.url.clone(), None, &xml::multiget(&hrefs))
            .await?;
        expect_multistatus("addressbook-multiget", status, &body)?;
        let answer = read_multistatus("addressbook-multiget", &body)?;
        let mut out = Vec::new();
        for r in answer.resources {
            let Some((key, _)) = locate(&base, &r.href) else {
                continue;
            };
            if matches!(r.status, Some(404 | 410)) {
                out.push(Fetched {
                    key,
                    etag: None,
                    text: None,
                });
            } else if let Some(text) = r.address_data {
                out.push(Fetched {
                    key,
                    etag: r.etag,
                    text: Some(text),
                });
            }
        }
        Ok(out)
    }

    /// GET one card; `text: None` when it is gone.
    pub async fn get(&self, member: &Member) -> Result<Fetched, DavError> {
        let what = format!("GET {}", member.url.path());
        let res = self
            .request(Method::GET, member.url.clone())
            .send()
            .await
            .map_err(|e| failed(&what, e))?;
        let status = res.status();
        self.check_redirect(status, res.url())?;
        let etag = res
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_capped(res, &what).await?;
        match status {
            s if s.is_success() => Ok(Fetched {
                key: member.key.clone(),
                etag: etag.or_else(|| member.etag.clone()),
                text: Some(String::from_utf8_lossy(&body).into_owned()),
            }),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(Fetched {
                key: member.key.clone(),
                etag: None,
                text: None,
            }),
            s if is_auth(s) => Err(refused(s, &body)),
            s => Err(DavError::Failed(format!(
                "{what}: {}{}",
                status_text(s),
                reason(&body).map(|r| format!(": {r}")).unwrap_or_default()
            ))),
        }
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let req = self.http.request(method, url);
        match &self.username {
            Some(u) => req.basic_auth(u, self.password.as_ref()),
            None => req,
        }
    }

    /// Send a WebDAV request with an XML body; the status, the final URL (after redirects)
    /// and the answer.
    async fn send(
        &self,
        method: &str,
        url: Url,
        depth: Option<&str>,
        body: &str,
    ) -> Result<(StatusCode, Url, Vec<u8>), DavError> {
        let what = format!("{method} {}", url.path());
        let method = Method::from_bytes(method.as_bytes()).expect("a valid method name");
        let mut req = self
            .request(method, url)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            )
            .body(body.to_string());
        if let Some(d) = depth {
            req = req.header("Depth", d);
        }
        let res = req.send().await.map_err(|e| failed(&what, e))?;
        let status = res.status();
        self.check_redirect(status, res.url())?;
        let base = res.url().clone();
        let body = read_capped(res, &what).await?;
        Ok((status, base, body))
    }

    /// A 401 after a redirect to another server: the credentials were not sent there (they
    /// go to the configured server only), and the person should know to use that URL.
    fn check_redirect(&self, status: StatusCode, reached: &Url) -> Result<(), DavError> {
        let elsewhere = reached.host_str() != self.url.host_str()
            || reached.port_or_known_default() != self.url.port_or_known_default();
        if status == StatusCode::UNAUTHORIZED && elsewhere {
            let mut at = reached.clone();
            at.set_query(None);
            return Err(DavError::Auth(format!(
                "the server redirected to {at}, which asks for credentials; Ringside sends them \
                 to the configured server only: use that URL"
            )));
        }
        Ok(())
    }
}

/// The answer's body, refused past [`MAX_ANSWER`].
async fn read_capped(mut res: reqwest::Response, what: &str) -> Result<Vec<u8>, DavError> {
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| failed(what, e))? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(DavError::Failed(format!(
                "{what}: the answer is larger than {} MiB",
                MAX_ANSWER / (1024 * 1024)
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn expect_multistatus(what: &str, status: StatusCode, body: &[u8]) -> Result<(), DavError> {
    match status {
        StatusCode::MULTI_STATUS => Ok(()),
        s if is_auth(s) => Err(refused(s, body)),
        s => Err(DavError::Failed(format!(
            "{what}: {}{}",
            status_text(s),
            reason(body).map(|r| format!(": {r}")).unwrap_or_default()
        ))),
    }
}

fn read_multistatus(what: &str, body: &[u8]) -> Result<xml::Multistatus, DavError> {
    xml::multistatus(body).map_err(|e| DavError::Failed(format!("{what}: {e}")))
}

fn is_auth(s: StatusCode) -> bool {
    s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN
}

fn refused(status: StatusCode, body: &[u8]) -> DavError {
    let what = if status == StatusCode::FORBIDDEN {
        "access to the address book"
    } else {
        "the credentials"
    };
    DavError::Auth(format!(
        "the server refused {what}: {}{}",
        status_text(status),
        reason(body).map(|r| format!(" ({r})")).unwrap_or_default()
    ))
}

/// `401 Unauthorized`.
fn status_text(s: StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
        .trim()
        .to_string()
}

/// What the server says about an error, if it says it in a line of text (an HTML page or
/// XML is not shown).
fn reason(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let line = text.lines().next()?.trim();
    if line.is_empty() || line.starts_with('<') {
        return None;
    }
    Some(line.chars().take(200).collect())
}

/// A request that never got an answer: the URL is left out of reqwest's message (the caller
/// names the path) and the chain of causes kept.
fn failed(what: &str, e: reqwest::Error) -> DavError {
    // The URL may carry credentials (user:password@): never in a message or the log.
    let e = e.without_url();
    if e.is_timeout() {
        return DavError::Failed(format!(
            "{what}: no answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        ));
    }
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    DavError::Failed(format!("{what}: {msg}"))
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// A URL's key: its path, percent-decoded.
fn key_of(url: &Url) -> String {
    decode(url.path())
}

fn same_collection(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// A member that is a card: not a collection, not a path ending in `/`, not gone.
fn is_card(r: &Resource, key: &str) -> bool {
    !r.collection && !key.ends_with('/') && r.status.is_none_or(|s| (200..300).contains(&s))
}

/// `href` resolved against the book's URL, if it stays on the book's server: its key and URL.
pub fn locate(base: &Url, href: &str) -> Option<(String, Url)> {
    let url = base.join(href).ok()?;
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default();
    if !same_origin || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    Some((key_of(&url), url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_resolve_on_the_books_server_only() {
        let base = Url::parse("https://dav.example.com/books/me/work/").unwrap();
        let (key, url) = locate(&base, "/books/me/work/J%C3%B6rg%20M.vcf").unwrap();
        assert_eq!(key, "/books/me/work/Jörg M.vcf");
        assert_eq!(url.path(), "/books/me/work/J%C3%B6rg%20M.vcf");
        // The same card, spelled another way, is the same key.
        let (other, _) = locate(&base, "https://dav.example.com/books/me/work/Jörg M.vcf").unwrap();
        assert_eq!(other, key);
        let (rel, _) = locate(&base, "a.vcf").unwrap();
        assert_eq!(rel, "/books/me/work/a.vcf");
        for elsewhere in [
            "https://evil.example.net/books/me/work/a.vcf",
            "http://dav.example.com/books/me/work/a.vcf",
            "https://dav.example.com:8443/a.vcf",
            "https://user:pw@dav.example.com/a.vcf",
        ] {
            assert_eq!(locate(&base, elsewhere), None, "{elsewhere}");
        }
    }

    #[test]
    fn credentials_in_the_url_are_taken_out_of_it() {
        let d = Dav::new("https://me:p%40ss@dav.example.com/book", None, None).unwrap();
        assert_eq!(d.url().as_str(), "https://dav.example.com/book/");
        assert_eq!(d.username.as_deref(), Some("me"));
        assert_eq!(d.password.as_deref(), Some("p@ss"));
        // The config's user name wins, with the config's password.
        let d = Dav::new(
            "https://me:x@dav.example.com/book/",
            Some("you".into()),
            Some("pw".into()),
        )
        .unwrap();
        assert_eq!(
            (d.username.as_deref(), d.password.as_deref()),
            (Some("you"), Some("pw"))
        );
        assert!(!d.url().as_str().contains('@'));
    }

    #[test]
    fn an_error_reason_is_one_line_of_text_or_nothing() {
        assert_eq!(
            reason(b"Access to the requested resource forbidden.\n"),
            Some("Access to the requested resource forbidden.".into())
        );
        assert_eq!(reason(b"<html><body>No</body></html>"), None);
        assert_eq!(reason(b""), None);
        assert_eq!(status_text(StatusCode::UNAUTHORIZED), "401 Unauthorized");
    }
}
