//! Webhook intake: `/hooks/<provider>/<token>` (and `/hooks/voiceshot` with Basic auth).
//! Authenticate on the raw request, parse, store durably, and only then answer 2xx.

use crate::error::HttpError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ringside_app::Ringside;
use ringside_core::config::HookSettings;
use ringside_core::engine::Receipt;
use ringside_core::providers::Inbound;
use ringside_core::signature::{secrets_equal, verify_whippy};
use ringside_core::Provider;
use serde_json::json;

/// `/hooks/{provider}/{token}`
pub async fn with_token(
    State(st): State<Ringside>,
    Path((name, token)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let hook = hook(&st, &name)?;
    let hook = &hook;
    match &hook.token {
        Some(expected) if secrets_equal(expected.as_bytes(), token.as_bytes()) => {}
        _ => return Err(HttpError::unauthorized(format!("wrong token for {name}"))),
    }
    intake(&st, hook, method, uri, headers, body).await
}

/// `/hooks/{provider}`: only VoiceShot, with HTTP Basic auth as its console configures it.
pub async fn with_basic_auth(
    State(st): State<Ringside>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let hook = hook(&st, &name)?;
    let hook = &hook;
    let Some((user, pass)) = &hook.basic_auth else {
        return Err(HttpError::not_found(format!(
            "{name} takes webhooks at /hooks/{name}/<token>"
        )));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| B64.decode(b.trim()).ok())
        .unwrap_or_default();
    let expected = format!("{user}:{pass}");
    if !secrets_equal(&given, expected.as_bytes()) {
        return Err(HttpError::unauthorized("HTTP Basic credentials required"));
    }
    intake(&st, hook, method, uri, headers, body).await
}

async fn intake(
    st: &Ringside,
    hook: &HookSettings,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    if let Some(secret) = &hook.signing_secret {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        verify_whippy(secret, header, &body, (st.clock)().timestamp())
            .map_err(|e| HttpError::unauthorized(e.to_string()))?;
    }
    let req = Inbound {
        method: &method,
        query: uri.query(),
        headers: &headers,
        body: &body,
    };
    let now = (st.clock)();
    let receipt = st
        .engine
        .receive(hook.provider, &req, &hook.parse, hook.region, now)
        .await?;
    if hook.provider == Provider::Voiceshot {
        // VoiceShot reads the body as a Call Command; empty means "carry on".
        let reply = hook.reply.clone().unwrap_or_default();
        return Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], reply).into_response());
    }
    Ok(match receipt {
        Receipt::Stored { seq, calls } => Json(json!({
            "status": "stored",
            "seq": seq,
            "calls": calls.iter().map(|c| &c.id).collect::<Vec<_>>(),
        })),
        Receipt::Duplicate => Json(json!({"status": "duplicate"})),
    }
    .into_response())
}

/// The settings of enabled provider `name`.
fn hook(st: &Ringside, name: &str) -> Result<HookSettings, HttpError> {
    let provider: Provider = name
        .parse()
        .map_err(|_| HttpError::not_found(format!("no provider called `{name}`")))?;
    st.settings()
        .hooks
        .iter()
        .find(|h| h.provider == provider && h.enabled)
        .cloned()
        .ok_or_else(|| HttpError::not_found(format!("{name} is not enabled in the config")))
}
