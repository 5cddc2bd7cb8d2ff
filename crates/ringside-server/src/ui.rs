//! The web UI (the same one the desktop window shows), served from `ui/dist` with a strict
//! Content-Security-Policy. Found at `RINGSIDE_UI_DIR`, else next to an installed binary
//! (`../share/ringside/ui`), else in the source tree it was built from.

use crate::app::AppState;
use axum::http::{header, HeaderValue};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use std::path::PathBuf;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// No inline scripts, no third parties, no framing; the live websocket is same-origin.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self' ws://127.0.0.1:* ws://localhost:* ws://[::1]:*; \
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

pub fn router() -> Router<AppState> {
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
    match ui_dir() {
        Some(dir) => {
            let index = dir.join("index.html");
            Router::new()
                .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
                .layer(headers)
        }
        None => Router::new().route("/", get(no_ui)).layer(headers),
    }
}

async fn no_ui() -> Html<&'static str> {
    Html(
        "<!doctype html><title>Ringside</title><h1>Ringside is running</h1>\
         <p>The web UI is not built: run <code>npm ci && npm run build</code> in <code>ui/</code>. \
         Webhooks go to <code>/hooks/&lt;provider&gt;/&lt;token&gt;</code>; the API is under \
         <code>/api</code> (see README.md).</p>",
    )
}
