//! The machine's HTTP ceiling for scripts/bench.sh: the reference server's
//! own HTTP stack (`axum::serve` running a plain tower service, as
//! `ds-server` does) with no store behind it. Every request's body is read
//! to its end and discarded, then answered with an empty 200: a GET costs
//! what HTTP costs, and a POST shaped like an append (`ds-bench ceiling
//! --method POST --size 64`) what HTTP costs for an append, body included.
//! Binds 127.0.0.1 (port from the first argument, default 0 = any free one)
//! and prints `listening on http://ADDR`.
//!
//! `cargo run --release -p ds-bench --example noop_server -- [PORT]`

mod common;

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use axum::ServiceExt as _;
use http_body_util::BodyExt as _;

/// Reads the body to its end (each frame dropped as it comes), then 200;
/// a body that cannot be read is a 400.
async fn answer(req: Request) -> Result<Response, Infallible> {
    let mut body = req.into_body();
    let mut status = StatusCode::OK;
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            status = StatusCode::BAD_REQUEST;
            break;
        }
    }
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    Ok(res)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = common::listen(common::port_arg()).await?;
    let app = tower::service_fn(answer).into_make_service();
    axum::serve(listener, app).await
}
