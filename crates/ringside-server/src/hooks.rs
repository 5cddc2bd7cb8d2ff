//! Webhook intake: `/hooks/<provider>/<token>`, or `/hooks/<provider>` with HTTP Basic auth
//! where the provider's settings have credentials. Authenticate on the raw request, check its
//! signature where the settings ask for one, parse, store durably, and only then answer 2xx
//! as the settings say ([`Reply`]).

use crate::app::MAX_BODY;
use crate::error::HttpError;
use crate::metrics::Metrics;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ringside_app::Ringside;
use ringside_core::engine::{Engine, IntakeError, Receipt};
use ringside_core::providers::{HookSettings, Inbound, Reply};
use ringside_core::signature::secrets_equal;
use ringside_core::Provider;
use serde_json::json;
use std::sync::Arc;

/// `/hooks/{provider}/{token}`. The token is checked before a byte of the body is read.
pub async fn with_token(
    State(st): State<Ringside>,
    Extension(m): Extension<Arc<Metrics>>,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Result<Response, HttpError> {
    let Ok(Path((name, token))) = path else {
        m.webhook("", "refused");
        return Err(refused("a path that does not decode"));
    };
    let hook = enabled(&st, &name);
    let expected = hook.as_ref().and_then(|h| h.token.as_deref());
    // Compared even when there is nothing to compare with, so the time taken does not tell
    // an enabled provider from another.
    let matches = secrets_equal(expected.unwrap_or(UNMATCHABLE).as_bytes(), token.as_bytes());
    let refusal = match hook {
        Some(hook) if expected.is_some() && matches => return intake(&st, &m, &hook, req).await,
        Some(_) => format!("wrong token for {name}"),
        None => not_enabled(&name),
    };
    m.webhook(&name, "refused");
    Err(refused(&refusal))
}

/// `/hooks/{provider}`: for providers whose settings have HTTP Basic credentials. They are
/// checked before a byte of the body is read.
pub async fn with_basic_auth(
    State(st): State<Ringside>,
    Extension(m): Extension<Arc<Metrics>>,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, HttpError> {
    let Ok(Path(name)) = path else {
        m.webhook("", "refused");
        return Err(refused("a path that does not decode"));
    };
    let hook = enabled(&st, &name);
    let expected = match hook.as_ref().and_then(|h| h.basic_auth.as_ref()) {
        Some((user, pass)) => format!("{user}:{pass}"),
        None => UNMATCHABLE.to_string(),
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| B64.decode(b.trim()).ok())
        .unwrap_or_default();
    let matches = secrets_equal(&given, expected.as_bytes());
    let refusal = match hook {
        Some(hook) if hook.basic_auth.is_some() && matches => {
            return intake(&st, &m, &hook, req).await
        }
        Some(hook) if hook.basic_auth.is_none() => {
            format!("{name} takes webhooks at /hooks/{name}/<token>, not with HTTP Basic auth")
        }
        Some(_) => format!("wrong HTTP Basic credentials for {name}"),
        None => not_enabled(&name),
    };
    m.webhook(&name, "refused");
    Err(refused(&refusal))
}

/// Compared against when there is no secret: no token or credentials are this long.
const UNMATCHABLE: &str = "\0no secret\0no secret\0no secret\0no secret\0no secret\0";

/// Every refused webhook gets the same answer, whether the provider is unknown, not enabled,
/// or the token or credentials are wrong: the answer tells a stranger nothing about which
/// providers are on. Why it was refused goes to the log (never the token).
fn refused(why: &str) -> HttpError {
    tracing::info!("webhook refused: {why}");
    HttpError::unauthorized("wrong or missing token or credentials").quiet()
}

fn not_enabled(name: &str) -> String {
    match name.parse::<Provider>() {
        Ok(_) => format!("{name} is not enabled in the config"),
        Err(_) => "no provider by that name".to_string(),
    }
}

async fn intake(
    st: &Ringside,
    m: &Metrics,
    hook: &HookSettings,
    req: Request,
) -> Result<Response, HttpError> {
    let provider = hook.provider.as_str();
    let answer = store(st, m, hook, req).await;
    m.webhook(
        provider,
        match &answer {
            Ok(_) => "stored",
            Err(e) if e.status.is_server_error() => "failed",
            Err(_) => "refused",
        },
    );
    answer
}

/// Read, verify, parse and store one authenticated delivery; answer as the settings say.
async fn store(
    st: &Ringside,
    m: &Metrics,
    hook: &HookSettings,
    req: Request,
) -> Result<Response, HttpError> {
    let (parts, body) = req.into_parts();
    let body: Bytes = crate::body::read(&parts.headers, body, MAX_BODY).await?;
    let (method, uri, headers): (Method, Uri, HeaderMap) = (parts.method, parts.uri, parts.headers);
    hook.verify(&headers, &body, (st.clock)().timestamp())
        .map_err(|e| HttpError::unauthorized(e.to_string()))?;
    let now = (st.clock)();
    let started = std::time::Instant::now();
    // Parsing grows with the request: off the async threads (see `Engine::prepare`).
    let (provider, parse, region) = (hook.provider, hook.parse.clone(), hook.region);
    let delivery = tokio::task::spawn_blocking(move || {
        let req = Inbound {
            method: &method,
            query: uri.query(),
            headers: &headers,
            body: &body,
        };
        Engine::prepare(provider, &req, &parse, region, now)
    })
    .await
    .map_err(|e| HttpError::internal(anyhow::anyhow!("parsing a delivery: {e}")))??;
    let receipt = st
        .engine
        .store(delivery)
        .await
        .map_err(IntakeError::Store)?;
    m.stored_in(started.elapsed().as_secs_f64());
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

/// The settings of provider `name`, if it is enabled.
fn enabled(r: &Ringside, name: &str) -> Option<HookSettings> {
    let provider: Provider = name.parse().ok()?;
    r.settings()
        .hooks
        .iter()
        .find(|h| h.provider == provider && h.enabled)
        .cloned()
}
