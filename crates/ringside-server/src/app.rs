//! The router: `app(ringside)` is the whole HTTP surface (webhooks, the API, the live stream,
//! the UI), so tests drive it without a socket and the desktop embeds it unchanged.

use crate::{api, auth, hooks, ui};
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use axum::Router;
use ringside_app::Ringside;

/// Largest webhook body accepted; providers send a few KiB at most.
pub const MAX_BODY: usize = 64 * 1024;

/// Largest contacts file the API imports (tens of thousands of contacts).
pub const MAX_CONTACTS_FILE: usize = 32 * 1024 * 1024;

pub fn app(ringside: Ringside) -> Router {
    let api = Router::new()
        .route("/api/calls", get(api::calls))
        .route("/api/calls.csv", get(api::calls_csv))
        .route("/api/calls/done", post(api::done_many))
        .route("/api/calls/{id}", get(api::call))
        .route("/api/calls/{id}/done", post(api::done))
        .route("/api/calls/{id}/callback", post(api::callback))
        .route("/api/calls/{id}/wrapup", post(api::wrapup))
        .route("/api/calls/{id}/context", get(api::context))
        .route("/api/calls/{id}/recording", get(api::recording))
        .route("/api/dial", post(api::dial))
        .route("/api/calls/{id}/record", get(api::record))
        .route("/api/missed", get(api::missed))
        .route("/api/missed/done", post(api::all_done))
        .route("/api/settings", get(api::settings).put(api::save_settings))
        .route("/api/scenarios", get(api::scenarios))
        .route("/api/simulate", post(api::simulate))
        .route("/api/live", get(api::live))
        .route("/api/status", get(api::status))
        .route(
            "/api/contacts",
            get(api::contacts).post(api::create_contact),
        )
        .route(
            "/api/contacts/{id}",
            get(api::contact)
                .put(api::update_contact)
                .delete(api::delete_contact),
        )
        .route(
            "/api/contacts/import",
            post(api::import_contacts).layer(DefaultBodyLimit::max(MAX_CONTACTS_FILE)),
        )
        .route("/api/contacts.csv", get(api::contacts_csv))
        .route("/api/contacts.vcf", get(api::contacts_vcf))
        .route("/api/lookup", get(api::lookup))
        .route("/api/contacts/sync", post(api::sync_contacts))
        .route_layer(axum::middleware::from_fn_with_state(
            ringside.clone(),
            auth::guard,
        ));
    // Every method reaches the hook: the adapter says which its provider uses, so another one
    // gets the same JSON 405 as any refusal (after authentication, which comes first).
    let hooks = Router::new()
        .route("/hooks/{provider}/{token}", any(hooks::with_token))
        .route("/hooks/{provider}", any(hooks::with_basic_auth))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(api)
        .merge(hooks)
        .merge(ui::router())
        .with_state(ringside)
}
