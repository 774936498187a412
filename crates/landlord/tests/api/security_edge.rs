//! Issue 9's edges: forwarded addresses read from the right, sign-in limits
//! that cannot lock the owner out, bounded password hashing, limited floods
//! of bad API keys, and a `/metrics` that is not public.

use serde_json::{json, Value};

use crate::backend_tests;
use crate::identity::PASSWORD;
use crate::support::app::{assert_error, json};
use crate::support::{Backend, TestApp};

backend_tests!(
    rotating_the_leftmost_forwarded_address_escapes_no_limit,
    failures_from_one_address_do_not_lock_the_owner_out,
);

impl TestApp {
    /// `POST path` with `body` as if through a proxy chain `forwarded_for`.
    pub async fn post_forwarded(
        &self,
        path: &str,
        forwarded_for: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("x-forwarded-for", forwarded_for)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds")
}

async fn rotating_the_leftmost_forwarded_address_escapes_no_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trust_forwarded_for = true;
        c.trusted_proxy_hops = 1;
        c.login_max_failures_per_ip = 3;
    })
    .await;
    app.register("victim@example.com", "Victim").await;
    // The proxy appends the real client (203.0.113.9); the client forges a
    // new leftmost value every time, across accounts.
    for n in 0..3 {
        let response = app
            .post_forwarded(
                "/api/v1/auth/login",
                &format!("10.{n}.{n}.{n}, 203.0.113.9"),
                &json!({"email": format!("guess{n}@example.com"), "password": "wrong password 1"}),
            )
            .await;
        assert_error(response, 401, "UNAUTHORIZED").await;
    }
    let limited = app
        .post_forwarded(
            "/api/v1/auth/login",
            "10.99.99.99, 203.0.113.9",
            &json!({"email": "victim@example.com", "password": "wrong password 1"}),
        )
        .await;
    assert!(retry_after(&limited) >= 1);
    assert_error(limited, 429, "RATE_LIMITED").await;

    // The audit trail names the address the proxy saw, not the forged one.
    let addresses: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT ip FROM audit_log WHERE action = 'auth.login_failed'")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    assert_eq!(addresses.len(), 3);
    assert!(
        addresses
            .iter()
            .all(|(ip,)| ip.as_deref() == Some("203.0.113.9")),
        "{addresses:?}"
    );

    // Another real client behind the same proxy is not affected.
    let other = app
        .post_forwarded(
            "/api/v1/auth/login",
            "10.99.99.99, 198.51.100.20",
            &json!({"email": "victim@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(other.status(), 200);
}

async fn failures_from_one_address_do_not_lock_the_owner_out(backend: Backend) {
    // Default sign-in limits: 5 per (account, address), 100 per account.
    let app = TestApp::spawn_with(backend, |c| c.trust_forwarded_for = true).await;
    app.register("owner@example.com", "Owned").await;
    let attacker = "192.0.2.66";
    for _ in 0..5 {
        let response = app
            .post_forwarded(
                "/api/v1/auth/login",
                attacker,
                &json!({"email": "owner@example.com", "password": "not the password"}),
            )
            .await;
        assert_error(response, 401, "UNAUTHORIZED").await;
    }
    // The attacker's address is throttled on this account, even with the
    // right password…
    let limited = app
        .post_forwarded(
            "/api/v1/auth/login",
            attacker,
            &json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert!(retry_after(&limited) >= 1);
    assert_error(limited, 429, "RATE_LIMITED").await;
    // …while the owner, from elsewhere, signs in.
    let owner = app
        .post_forwarded(
            "/api/v1/auth/login",
            "198.51.100.7",
            &json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(owner.status(), 200);
    let body = json(owner).await;
    assert_eq!(body["data"]["user"]["email"], "owner@example.com");
}
