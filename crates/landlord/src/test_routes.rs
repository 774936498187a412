//! Routes that exist only for the test-suite (`enable_test_routes`): a
//! panicking handler, a slow one and a JSON echo. They exercise the real
//! middleware stack; they are never mounted unless configured. With them
//! comes a slow job kind ([`SLOW_JOB`]) whose runs are counted, to watch
//! the job queue's leases.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
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
        .route("/__test/jobs/runs", get(job_runs))
        .route("/__test/apps/domains/recheck", post(recheck_domains))
}

/// A job kind of the test-suite: payload `{"marker": "…", "sleep_ms": n}`;
/// each run is counted under its marker, then sleeps.
pub const SLOW_JOB: &str = "test.slow";

/// Runs of [`SLOW_JOB`] by marker, for every instance in this process
/// (tests run several instances in one process).
static RUNS: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(Default::default);

/// Works [`SLOW_JOB`].
pub struct SlowJob;

#[async_trait::async_trait]
impl landlord_jobs::JobHandler for SlowJob {
    async fn handle(
        &self,
        payload: &serde_json::Value,
        _attempt: landlord_jobs::Attempt,
    ) -> anyhow::Result<()> {
        let marker = payload["marker"].as_str().unwrap_or_default().to_string();
        let sleep = payload["sleep_ms"].as_u64().unwrap_or(0).min(60_000);
        if let Ok(mut runs) = RUNS.lock() {
            *runs.entry(marker).or_default() += 1;
        }
        tokio::time::sleep(Duration::from_millis(sleep)).await;
        Ok(())
    }
}

#[derive(Deserialize)]
struct RunsQuery {
    marker: String,
}

/// How many times jobs of `marker` started.
async fn job_runs(Query(query): Query<RunsQuery>) -> ApiSuccess<u32> {
    let runs = RUNS
        .lock()
        .map(|runs| runs.get(&query.marker).copied().unwrap_or(0))
        .unwrap_or(0);
    ApiSuccess::ok(runs)
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

/// Runs the custom domains' check now, every verified domain included (as
/// if `apps.domain_recheck_hours` had passed); answers how many were
/// checked.
async fn recheck_domains(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<ApiSuccess<usize>, landlord_core::ApiError> {
    Ok(ApiSuccess::ok(
        landlord_apps::gateway::domains::check_due(&state.apps, true).await?,
    ))
}
