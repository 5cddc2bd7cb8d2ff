//! The web UI (the same one the desktop window shows), served from `ui/dist` with a strict
//! Content-Security-Policy. Found at `RINGSIDE_UI_DIR`, else next to an installed binary
//! (`../share/ringside/ui`), else in the source tree it was built from.

use crate::error::{HttpError, HttpErrorCode};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use ringside_app::Ringside;
use std::path::PathBuf;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// No inline scripts, no third parties, no framing; the live websocket is same-origin.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; media-src 'self' blob:; connect-src 'self' ws://127.0.0.1:* ws://localhost:*; \
frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'";

pub fn ui_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("RINGSIDE_UI_DIR").map(PathBuf::from),
        std::env::current_exe()
            .ok()
            .and_then(|e| Some(e.parent()?.join("../share/ringside/ui"))),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../ui/dist"
        ))),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("index.html").is_file())
}

/// Everything no other route takes: the UI's files for GET (the SPA's `index.html` for any
/// path it routes itself), a JSON 404 under `/api` and `/hooks`, 405 for other methods.
pub fn router() -> Router<Ringside> {
    let headers = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    let dir = ui_dir();
    Router::new()
        .fallback(move |req: Request| serve(dir.clone(), req))
        .layer(headers)
}

async fn serve(dir: Option<PathBuf>, req: Request) -> Response {
    let path = req.uri().path();
    let ours = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if ours("/api") || ours("/hooks") {
        return HttpError::not_found(format!("nothing at {path}")).into_response();
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            HttpErrorCode::Method,
            format!("{} {path} is not a route", req.method()),
        )
        .into_response();
    }
    match dir {
        Some(dir) => {
            let index = dir.join("index.html");
            match ServeDir::new(dir)
                .fallback(ServeFile::new(index))
                .oneshot(req)
                .await
            {
                Ok(res) => res.map(Body::new),
                Err(never) => match never {},
            }
        }
        None if path == "/" => no_ui().into_response(),
        None => HttpError::not_found(format!("nothing at {path}")).into_response(),
    }
}

fn no_ui() -> Html<&'static str> {
    Html(
        "<!doctype html><title>Ringside</title><h1>Ringside is running</h1>\
         <p>The web UI is not built: run <code>npm ci && npm run build</code> in <code>ui/</code>. \
         Webhooks go to <code>/hooks/&lt;provider&gt;/&lt;token&gt;</code>; the API is under \
         <code>/api</code> (see README.md).</p>",
    )
}
