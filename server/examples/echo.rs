//! The serving benchmark's baseline: a bare axum server that parses a JSON body and answers it
//! back, on the same runtime and machine as `ferry serve` (`bench/serving.sh`).

use axum::Json;
use axum::routing::post;
use serde_json::Value;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let app = axum::Router::new().route(
        "/echo",
        post(|Json(body): Json<Value>| async move { Json(body) }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("echo serving on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
