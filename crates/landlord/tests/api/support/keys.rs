//! API keys as tests make and use them: creating one, asking the
//! verification route about it, sending with it, and reading what was
//! metered and audited for it.

use std::time::Duration;

use serde_json::{json, Value};

use super::app::json;
use super::errors::assert_error;
use super::eventually::eventually;
use super::TestApp;

/// Creates a key as `token` with `body` (`name`, `scopes`…); returns its data.
pub async fn create_key(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app.post_as("/api/v1/keys", token, &body).await;
    assert_eq!(response.status(), 201, "create key {body}");
    json(response).await["data"].clone()
}

/// Puts an organization on `plan` behind the API's back.
pub async fn set_plan(app: &TestApp, organization_id: &str, plan: &str) {
    sqlx::query("UPDATE organizations SET plan = $2 WHERE id = $1")
        .bind(organization_id)
        .bind(plan)
        .execute(app.db.pool())
        .await
        .expect("plan set");
}

/// A valid email message to `to`.
pub fn email_message(to: &str) -> Value {
    json!({"channel": "email", "to": to, "subject": "Hello", "body": "Hi there,\nthis is a test."})
}

/// A long key cache, so a revoked key that stays in the cache would still
/// be accepted: the tests prove the cache forgets it.
pub fn long_key_cache(config: &mut landlord::settings::Settings) {
    config.api_key_cache_ms = 600_000;
}

/// `POST /keys/verify`'s verdict for `key`.
pub async fn verdict(app: &TestApp, key: &Value) -> Value {
    let response = app
        .post_json("/api/v1/keys/verify", &json!({ "key": key["key"] }))
        .await;
    assert_eq!(response.status(), 200);
    json(response).await["data"].clone()
}

/// Sends an email message with `key`.
pub async fn send_with(app: &TestApp, key: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/messages/send"))
        .header("x-api-key", key["key"].as_str().expect("the key's secret"))
        .json(&json!({"channel": "email", "to": "someone@example.com", "subject": "Hi", "body": "Hello"}))
        .send()
        .await
        .expect("request sent")
}

/// Asserts `key` is refused as revoked by both the verification route and
/// an API-key route.
pub async fn assert_revoked(app: &TestApp, key: &Value) {
    let verdict = verdict(app, key).await;
    assert_eq!(verdict["valid"], false, "{verdict}");
    assert_eq!(verdict["reason"], "revoked", "{verdict}");
    let body = assert_error(send_with(app, key).await, 401, "UNAUTHORIZED").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("revoked")),
        "{body}"
    );
}

/// Asserts the verification route accepts `key`.
pub async fn assert_works(app: &TestApp, key: &Value) {
    let verdict = verdict(app, key).await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["allowed"], true, "{verdict}");
}

/// The `api_key.revoked` audit entries: (key id, actor, details).
pub async fn revocations(app: &TestApp) -> Vec<(String, Option<String>, Value)> {
    let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT target_id, actor_user_id, details FROM audit_log \
         WHERE action = 'api_key.revoked' ORDER BY created_at, id",
    )
    .fetch_all(app.db.pool())
    .await
    .expect("audit log");
    rows.into_iter()
        .map(|(id, actor, details)| {
            let details = details
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or(Value::Null);
            (id, actor, details)
        })
        .collect()
}

impl TestApp {
    /// Usage records stored for the organization so far.
    pub async fn usage_count(&self, organization_id: &str) -> i64 {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM usage_records WHERE organization_id = $1")
                .bind(organization_id)
                .fetch_one(self.db.pool())
                .await
                .expect("usage count");
        count
    }

    /// Waits until `n` usage records exist for the organization, then a
    /// little longer so that a late flush would show as an over-count;
    /// returns the count then.
    pub async fn wait_for_usage(&self, organization_id: &str, n: i64) -> i64 {
        eventually(
            format_args!("{n} usage records"),
            Duration::from_secs(10),
            async || (self.usage_count(organization_id).await >= n).then_some(()),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.usage_count(organization_id).await
    }
}

/// `GET /messages/{id}` with `key`: the message's view.
pub async fn message_view(app: &TestApp, key: &str, id: &str) -> Value {
    let response = app
        .with_key(reqwest::Method::GET, &format!("/api/v1/messages/{id}"), key)
        .await;
    json(response).await["data"].clone()
}

/// Waits until message `id` is sent; returns its view then.
pub async fn wait_until_sent(app: &TestApp, key: &str, id: &str) -> Value {
    eventually(
        format_args!("message {id} to be sent"),
        Duration::from_secs(10),
        async || {
            let view = message_view(app, key, id).await;
            (view["status"] == "sent").then_some(view)
        },
    )
    .await
}

/// An organization on `pro` whose key made 25 metered requests (sent,
/// refused with 422, and reads answered 404), plus one refused before the
/// handler with a bad key; all of it flushed to the database.
pub struct MeteredTraffic {
    pub token: String,
    pub organization_id: String,
    pub key: Value,
    /// Requests answered by a handler: what must be metered.
    pub answered: i64,
}

pub async fn metered_traffic(app: &TestApp, email: &str) -> MeteredTraffic {
    let (token, data) = super::accounts::signed_in(app, email).await;
    let organization_id = data["organization"]["id"].as_str().unwrap().to_string();
    set_plan(app, &organization_id, "pro").await;
    let key = create_key(app, &token, json!({"name": "k"})).await;
    let secret = key["key"].as_str().unwrap().to_string();
    let mut answered = 0;
    for n in 0..25 {
        let response = if n % 5 == 0 {
            app.send_message(
                &secret,
                &json!({"channel": "email", "to": "nope", "subject": "s", "body": "b"}),
                None,
            )
            .await
        } else if n % 2 == 0 {
            app.send_message(&secret, &email_message("m@example.com"), None)
                .await
        } else {
            app.with_key(
                reqwest::Method::GET,
                "/api/v1/messages/00000000-0000-7000-8000-000000000000",
                &secret,
            )
            .await
        };
        assert!([202, 404, 422].contains(&response.status().as_u16()));
        answered += 1;
    }
    // Requests refused before the handler are not metered.
    app.with_key(reqwest::Method::GET, "/api/v1/messages/x", "sk_live_bad")
        .await;
    assert_eq!(
        app.wait_for_usage(&organization_id, answered).await,
        answered,
        "N answered → N records"
    );
    MeteredTraffic {
        token,
        organization_id,
        key,
        answered,
    }
}
