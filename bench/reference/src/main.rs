//! One route, `GET /health`, answering `{"success":true,"data":{"status":"ok"}}`
//! as Landlord does, with nothing else: the ceiling Landlord's middleware
//! stack is measured against. Listens on the address given as the first
//! argument (default 127.0.0.1:3999).

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

#[derive(Serialize)]
struct Envelope<T> {
    success: bool,
    data: T,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

async fn health() -> Json<Envelope<Health>> {
    Json(Envelope {
        success: true,
        data: Health { status: "ok" },
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3999".to_string());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    axum::serve(listener, Router::new().route("/health", get(health))).await
}
