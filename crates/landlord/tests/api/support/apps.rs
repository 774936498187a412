//! Apps: an organization that publishes an app, over HTTP.

use serde_json::{json, Value};

use crate::support::accounts::{data, signed_in};
use crate::support::app::TestApp;

/// An organization's owner and one of its apps, as created.
pub struct Publisher {
    /// The owner's access token.
    pub token: String,
    /// The app as `POST /api/v1/apps` answered it (with `client_secret`).
    pub app: Value,
}

impl Publisher {
    pub fn client_id(&self) -> &str {
        self.app["client_id"].as_str().unwrap_or_default()
    }

    pub fn client_secret(&self) -> Option<&str> {
        self.app["client_secret"].as_str()
    }
}

/// Signs up `email` with an organization and creates the app `fields`
/// describe (a confidential client asking for `openid profile email` when
/// the fields do not say).
pub async fn publisher(app: &TestApp, email: &str, fields: Value) -> Publisher {
    let (token, _) = signed_in(app, email).await;
    let mut body = json!({
        "slug": "notes",
        "name": "Notes",
        "client_type": "confidential",
        "redirect_uris": ["http://127.0.0.1:9/callback"],
        "scopes": ["openid", "profile", "email"],
    });
    if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
        for (key, value) in fields {
            body.insert(key.clone(), value.clone());
        }
    }
    let created = data(app.post_as("/api/v1/apps", &token, &body).await).await;
    Publisher {
        token,
        app: created,
    }
}

/// Registers `email` and makes it a platform administrator (an operator,
/// who reviews apps); returns its access token.
pub async fn operator(app: &TestApp, email: &str) -> String {
    let registered = app.register(email, "Operators").await;
    let token = crate::support::accounts::token_of(&registered, "access_token");
    let user_id = crate::support::accounts::token_of(&registered["user"], "id");
    sqlx::query("UPDATE users SET platform_admin_at = $1 WHERE id = $2")
        .bind(1_i64)
        .bind(&user_id)
        .execute(app.db.pool())
        .await
        .expect("make the operator");
    token
}

/// `PATCH path` with `token` and `body`.
pub async fn patch_as(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request sent")
}
