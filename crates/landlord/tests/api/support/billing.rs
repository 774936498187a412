//! Billing fixtures: organizations that existed before the month being
//! billed, usage planted in bulk, the billing history as the API shows it.

use serde_json::Value;

use super::accounts::token_of;
use super::app::json;
use super::TestApp;

pub const OCTOBER_START: i64 = 1_790_812_800_000; // 2026-10-01T00:00:00Z
pub const NOVEMBER_START: i64 = 1_793_491_200_000; // 2026-11-01T00:00:00Z

/// Registers an organization that existed before October 2026, on `plan`.
pub async fn organization(app: &TestApp, email: &str, plan: &str) -> (String, String) {
    let data = app.register(email, &format!("{email} org")).await;
    let id = data["organization"]["id"]
        .as_str()
        .expect("usage recorded")
        .to_string();
    sqlx::query("UPDATE organizations SET plan = $2, created_at = $3 WHERE id = $1")
        .bind(&id)
        .bind(plan)
        .bind(OCTOBER_START - 1)
        .execute(app.db.pool())
        .await
        .expect("usage recorded");
    (token_of(&data, "access_token"), id)
}

/// Adds `count` requests at `at` to the organization's hourly counters
/// (key `key`, '' for none), as the usage writer does.
pub async fn planted_counters(
    app: &TestApp,
    organization_id: &str,
    key: &str,
    count: i64,
    at: i64,
) {
    sqlx::query(
        "INSERT INTO usage_hourly (organization_id, api_key_id, route, status_class, hour, requests) \
         VALUES ($1, $2, 'POST /api/v1/messages/send', 2, $3, $4) \
         ON CONFLICT (organization_id, api_key_id, route, status_class, hour, app_id) \
         DO UPDATE SET requests = usage_hourly.requests + excluded.requests",
    )
    .bind(organization_id)
    .bind(key)
    .bind(at - at.rem_euclid(3_600_000))
    .bind(count)
    .execute(app.db.pool())
    .await
    .expect("usage counted");
}

/// Records `count` metered requests at `at`, in multi-row inserts, and
/// counts them.
pub async fn usage(app: &TestApp, organization_id: &str, count: usize, at: i64) {
    let mut tx = app.db.pool().begin().await.expect("usage recorded");
    let mut left = count;
    while left > 0 {
        let rows = left.min(400);
        let values: Vec<String> = (0..rows)
            .map(|i| {
                format!(
                    "(${}, '/api/v1/messages/send', 'POST', 202, ${})",
                    i * 2 + 1,
                    i * 2 + 2
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO usage_records (organization_id, endpoint, method, status, created_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for _ in 0..rows {
            query = query.bind(organization_id).bind(at);
        }
        query.execute(&mut *tx).await.expect("usage recorded");
        left -= rows;
    }
    tx.commit().await.expect("usage recorded");
    planted_counters(app, organization_id, "", count as i64, at).await;
}

/// The organization's billing cycles, newest first.
pub async fn history(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app.get_as("/api/v1/billing/history", token).await;
    assert_eq!(response.status(), 200);
    json(response).await["data"]
        .as_array()
        .expect("usage recorded")
        .clone()
}

/// Registers a free organization's owner and creates an API key; returns
/// (owner's access token, organization id, the key's secret).
pub async fn free_owner_with_key(app: &TestApp) -> (String, String, String) {
    let owner_data = app.register("boss@example.com", "Boss").await;
    let owner = token_of(&owner_data, "access_token");
    let organization_id = token_of(&owner_data["organization"], "id");
    let created = app
        .post_as("/api/v1/keys", &owner, &serde_json::json!({"name": "k"}))
        .await;
    let key = token_of(&json(created).await["data"], "key");
    (owner, organization_id, key)
}

/// The per-minute limit (`X-RateLimit-Limit`) an API-key request is held to now.
pub async fn rate_limit_of(app: &TestApp, key: &str) -> String {
    let response = app
        .with_key(
            reqwest::Method::GET,
            "/api/v1/messages/00000000-0000-7000-8000-000000000000",
            key,
        )
        .await;
    response.headers()["x-ratelimit-limit"]
        .to_str()
        .expect("a number")
        .to_string()
}

/// `POST /billing/upgrade` to `plan` as `token`.
pub async fn change_plan(app: &TestApp, token: &str, plan: &str) -> reqwest::Response {
    app.post_as(
        "/api/v1/billing/upgrade",
        token,
        &serde_json::json!({ "plan": plan }),
    )
    .await
}
