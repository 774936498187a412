//! Routes that exist only for the test-suite (`enable_test_routes`): a
//! panicking handler, a slow one and a JSON echo. They exercise the real
//! middleware stack; they are never mounted unless configured.

use std::time::Duration;

use axum::extract::Query;
use axum::routing::{get, post};
use axum::Router;
use landlord_core::http::{ApiSuccess, Json};
use serde::Deserialize;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/__test/panic", get(panic_now))
        .route("/__test/sleep", get(sleep))
        .route("/__test/echo", post(echo))
}

async fn panic_now() -> &'static str {
    panic!("deliberate panic from /__test/panic")
}

#[derive(Deserialize)]
struct SleepQuery {
    ms: u64,
}

async fn sleep(Query(query): Query<SleepQuery>) -> ApiSuccess<u64> {
    tokio::time::sleep(Duration::from_millis(query.ms.min(60_000))).await;
    ApiSuccess::ok(query.ms)
}

#[derive(Deserialize, serde::Serialize)]
struct Echo {
    message: String,
    count: u32,
}

async fn echo(Json(body): Json<Echo>) -> ApiSuccess<Echo> {
    ApiSuccess::ok(body)
}
