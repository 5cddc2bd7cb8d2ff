//! The ingest benchmark's ceiling: an axum server that answers every request with an empty 200
//! and does nothing else, on the same tokio runtime setup as `ringside-server`
//! (multi-threaded, all drivers). Prints `listening on http://HOST:PORT` like the server.
//!
//! `bench-baseline [ADDR]` (default 127.0.0.1:0).

use axum::http::StatusCode;
use axum::Router;
use std::io::Write;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        let app = Router::new().fallback(|| async { StatusCode::OK });
        axum::serve(listener, app).await
    })
}
