//! What the example servers share: where they listen.

use std::io::Write;

/// The port from the first argument (default 0 = any free one).
pub fn port_arg() -> u16 {
    std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// Binds 127.0.0.1:`port` and prints `listening on http://ADDR` (flushed:
/// scripts wait for that line).
pub async fn listen(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    Ok(listener)
}
