//! Webhook intake: `/hooks/<provider>/<token>`, or `/hooks/<provider>` with HTTP Basic auth
//! where the provider's settings have credentials. Authenticate on the raw request, check its
//! signature where the settings ask for one, parse, store durably, and only then answer 2xx
//! as the settings say ([`Reply`]).

use crate::error::HttpError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ringside_app::Ringside;
use ringside_core::engine::Receipt;
use ringside_core::providers::{HookSettings, Inbound, Reply};
use ringside_core::signature::secrets_equal;
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

/// `/hooks/{provider}`: for providers whose settings have HTTP Basic credentials.
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
    hook.verify(&headers, &body, (st.clock)().timestamp())
        .map_err(|e| HttpError::unauthorized(e.to_string()))?;
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
    Ok(match &hook.reply {
        Reply::Text { content_type, body } => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, *content_type)],
            body.clone(),
        )
            .into_response(),
        Reply::Receipt => match receipt {
            Receipt::Stored { seq, calls, notes } => Json(json!({
                "status": "stored",
                "seq": seq,
                "calls": calls.iter().map(|c| &c.id).collect::<Vec<_>>(),
                "notes": notes,
            })),
            Receipt::Duplicate => Json(json!({"status": "duplicate"})),
        }
        .into_response(),
    })
}

/// The settings of enabled provider `name`.
fn hook(r: &Ringside, name: &str) -> Result<HookSettings, HttpError> {
    let provider: Provider = name
        .parse()
        .map_err(|_| HttpError::not_found(format!("no provider called `{name}`")))?;
    r.settings()
        .hooks
        .iter()
        .find(|h| h.provider == provider && h.enabled)
        .cloned()
        .ok_or_else(|| HttpError::not_found(format!("{name} is not enabled in the config")))
}
