//! Dialling: what [`ringside_core::dial`] planned, carried out. A link goes back to the caller
//! (the browser or the desktop opens it, after `links::openable`); a request to the phone
//! system is sent here, with no redirects, and its answer read.

use crate::error::{Error, Result};
use ringside_core::dial::{DialRequest, DialVia};
use ringside_core::providers::exotel;
use std::time::Duration;

/// How long the phone system has to take a dial request.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Send `req` to the phone system `via` names. Ok once it took the request.
pub async fn send(via: DialVia, req: &DialRequest) -> Result<()> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| Error::Internal(e.into()))?;
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|e| Error::Internal(e.into()))?;
    let mut r = client.request(method, &req.url);
    for (k, v) in &req.headers {
        r = r.header(k, v);
    }
    if let Some((content_type, body)) = &req.body {
        r = r
            .header(reqwest::header::CONTENT_TYPE, *content_type)
            .body(body.clone());
    }
    let who = match via {
        DialVia::Exotel => "Exotel",
        _ => "the phone system",
    };
    let res = r.send().await.map_err(|e| {
        let why = if e.is_timeout() {
            format!("no answer within {} s", TIMEOUT.as_secs())
        } else if e.is_connect() {
            "could not connect".to_string()
        } else {
            "the request failed".to_string()
        };
        tracing::warn!("dialling through {who}: {e}");
        Error::DialFailed(format!("{who} could not be asked to dial: {why}"))
    })?;
    let status = res.status().as_u16();
    let body = res.bytes().await.unwrap_or_default();
    match via {
        DialVia::Exotel => exotel::dial::read_answer(status, &body)
            .map(|sid| {
                tracing::info!("Exotel is connecting the call {}", sid.unwrap_or_default());
            })
            .map_err(Error::DialFailed),
        _ if (200..300).contains(&status) => Ok(()),
        _ => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_string();
            Err(Error::DialFailed(if text.is_empty() {
                format!("{who} refused to dial ({status})")
            } else {
                format!("{who} refused to dial ({status}): {text}")
            }))
        }
    }
}
