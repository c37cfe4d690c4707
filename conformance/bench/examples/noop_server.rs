//! The machine's HTTP ceiling for scripts/bench.sh: an axum server (the
//! reference server's own HTTP stack) whose every answer is an empty 200,
//! with no store behind it. Binds 127.0.0.1 (port from the first argument,
//! default 0 = any free one) and prints `listening on http://ADDR`.
//!
//! `cargo run --release -p ds-bench --example noop_server -- [PORT]`

use std::io::Write;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::OK });
    axum::serve(listener, app).await
}
