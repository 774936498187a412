//! People and their sessions: registering, signing in, the tokens they get.

use serde_json::{json, Value};

use super::app::{json, smtp_to};
use super::smtp::SmtpServer;
use super::{Backend, TestApp};

/// The password every test account registers with.
pub const PASSWORD: &str = "correct horse battery";

/// A server whose mail goes to a fresh test SMTP server.
pub async fn app_with_smtp(backend: Backend) -> (TestApp, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, |c| smtp_to(c, port)).await;
    (app, smtp)
}

/// The string `field` of `data` (a token, an id); fails the test when absent.
pub fn token_of(data: &Value, field: &str) -> String {
    data[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {data}"))
        .to_string()
}

/// Registers `email` with an organization of its own; returns the access
/// token and the registration's data.
pub async fn signed_in(app: &TestApp, email: &str) -> (String, Value) {
    let data = app.register(email, &format!("{email} org")).await;
    (token_of(&data, "access_token"), data)
}

/// The `data` of a successful answer; fails the test on any other.
pub async fn data(response: reqwest::Response) -> Value {
    let status = response.status();
    let body = json(response).await;
    assert!(status.is_success(), "{status}: {body}");
    body["data"].clone()
}

impl TestApp {
    /// Registers `email` as the owner of a new `organization`; returns `data`.
    pub async fn register(&self, email: &str, organization: &str) -> Value {
        let response = self
            .post_json(
                "/api/v1/auth/register",
                &json!({"organization_name": organization, "name": "Test User", "email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), 201, "register {email}");
        json(response).await["data"].clone()
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Audit actions recorded so far, oldest first:
    /// (action, actor, organization, client address).
    pub async fn audit_actions(
        &self,
    ) -> Vec<(String, Option<String>, Option<String>, Option<String>)> {
        sqlx::query_as(
            "SELECT action, actor_user_id, organization_id, ip FROM audit_log ORDER BY created_at, id",
        )
        .fetch_all(self.db.pool())
        .await
        .expect("audit log")
    }

    /// The id of the account registered as `email`.
    pub async fn user_id(&self, email: &str) -> String {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(self.db.pool())
            .await
            .expect("the user's id")
    }

    /// Adds `user_id` to `organization_id` as `role` behind the API's back
    /// (a shortcut past invitations); they then switch into it.
    pub async fn add_membership(&self, organization_id: &str, user_id: &str, role: &str) {
        sqlx::query("INSERT INTO memberships (id, organization_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(organization_id)
            .bind(user_id)
            .bind(role)
            .bind(super::clock::now_ms())
            .execute(self.db.pool())
            .await
            .expect("membership inserted");
    }
}

/// Registers `email` and verifies the address through the mail received;
/// the verification is followed by a welcome mail, awaited too.
pub async fn verified_account(app: &TestApp, smtp: &SmtpServer, email: &str, organization: &str) {
    app.register(email, organization).await;
    let mail = smtp
        .wait_for_subject(&email.to_lowercase(), "Confirm your email")
        .await;
    let token = mail.token().expect("a token in the mail");
    let verified = app
        .post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await;
    assert_eq!(verified.status(), 200);
}

/// Signs `email` in with [`PASSWORD`]; returns the session's `data`.
pub async fn session_of(app: &TestApp, email: &str) -> Value {
    let login = app.login(email, PASSWORD).await;
    assert_eq!(login.status(), 200, "sign in {email}");
    json(login).await["data"].clone()
}
