//! Apps: the apps a person authorized — the account page `/account/apps`
//! and `GET/DELETE /api/v1/apps/authorized…` list them with their scopes
//! in words, and revoking one revokes its consent and every token it
//! produced at once. Over HTTP, on SQLite and PostgreSQL. Consents and
//! tokens are written here as the consent page and token endpoint write
//! them.

use serde_json::json;

use crate::backend_tests;
use crate::console::Browser;
use crate::support::accounts::{data, session_of};
use crate::support::app::json;
use crate::support::apps::{publisher, Publisher};
use crate::support::clock::now_ms;
use crate::support::{Backend, TestApp};

backend_tests!(
    a_person_sees_and_revokes_an_app_they_authorized,
    the_api_lists_and_revokes_authorizations,
);

/// A person's consent to `app_id` for `scopes`, and the tokens the app got
/// from it (an access and a refresh token of one family), as the provider
/// stores them. Returns the consent's id and the tokens' ids.
pub async fn authorize(
    app: &TestApp,
    user_id: &str,
    app_id: &str,
    scopes: &[&str],
) -> (String, Vec<String>) {
    let now = now_ms();
    let organization: String = sqlx::query_scalar(
        "SELECT organization_id FROM memberships WHERE user_id = $1 ORDER BY created_at LIMIT 1",
    )
    .bind(user_id)
    .fetch_one(app.db.pool())
    .await
    .expect("the person's organization");
    let consent = uuid::Uuid::now_v7().to_string();
    let scopes = json!(scopes).to_string();
    sqlx::query(
        "INSERT INTO oauth_consents (id, user_id, app_id, organization_id, scopes, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&consent)
    .bind(user_id)
    .bind(app_id)
    .bind(&organization)
    .bind(&scopes)
    .bind(now)
    .execute(app.db.pool())
    .await
    .expect("consent inserted");
    let family = uuid::Uuid::now_v7().to_string();
    let mut tokens = Vec::new();
    for (kind, ttl) in [("access", 900_000), ("refresh", 86_400_000)] {
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO oauth_tokens (id, token_hash, kind, app_id, user_id, organization_id, \
             consent_id, family_id, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&id)
        .bind(format!("hash-{id}"))
        .bind(kind)
        .bind(app_id)
        .bind(user_id)
        .bind(&organization)
        .bind(&consent)
        .bind(&family)
        .bind(&scopes)
        .bind(now)
        .bind(now + ttl)
        .execute(app.db.pool())
        .await
        .expect("token inserted");
        tokens.push(id);
    }
    (consent, tokens)
}

async fn revoked(app: &TestApp, table: &str, id: &str) -> bool {
    let at: Option<i64> =
        sqlx::query_scalar(&format!("SELECT revoked_at FROM {table} WHERE id = $1"))
            .bind(id)
            .fetch_one(app.db.pool())
            .await
            .expect("the row");
    at.is_some()
}

async fn a_person_sees_and_revokes_an_app_they_authorized(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let Publisher { app: notes, .. } = publisher(&app, "dev@notes.test", json!({})).await;
    let notes_id = notes["id"].as_str().unwrap().to_owned();
    let ada = Browser::new(&app);
    ada.sign_up("ada@authorized.test", "Acme").await;
    let ada_id = app.user_id("ada@authorized.test").await;
    let carl = Browser::new(&app);
    carl.sign_up("carl@authorized.test", "Carl's").await;
    let carl_id = app.user_id("carl@authorized.test").await;

    // Nothing authorized yet; the navigation leads here.
    let empty = ada.get("/account/apps").await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("You have not signed in to any app"));
    assert!(empty.body.contains("href=\"/account/apps\""));

    let (consent, tokens) =
        authorize(&app, &ada_id, &notes_id, &["openid", "profile", "email"]).await;
    let (carls_consent, carls_tokens) = authorize(&app, &carl_id, &notes_id, &["openid"]).await;

    let page = ada.get("/account/apps").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h2>Notes</h2>"), "{}", page.body);
    assert!(page.body.contains("by dev@notes.test org"), "{}", page.body);
    for words in [
        "confirm who you are",
        "see your name",
        "see your email address and whether it is verified",
    ] {
        assert!(page.body.contains(words), "{words}");
    }
    let action = format!("/account/apps/{notes_id}/revoke");
    assert!(page.body.contains(&format!("action=\"{action}\"")));

    // Without the form's token: refused, nothing revoked.
    let forged = ada.post(&action, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
    assert!(!revoked(&app, "oauth_consents", &consent).await);
    // Another person cannot revoke it: not found (nothing of theirs).
    let carl_page = carl.get("/account/apps").await;
    let other = carl
        .post(
            "/account/apps/01900000-0000-7000-8000-000000000000/revoke",
            &[("csrf", &carl_page.csrf())],
        )
        .await;
    assert_eq!(other.status, 404);
    assert!(!revoked(&app, "oauth_consents", &consent).await);

    // Revoke: back to the list with a notice, consent and tokens revoked.
    let done = ada.post(&action, &[("csrf", &page.csrf())]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/account/apps"));
    let after = ada.get("/account/apps").await;
    assert!(
        after.body.contains("Notes is revoked"),
        "a one-time notice: {}",
        after.body
    );
    assert!(after.body.contains("You have not signed in to any app"));
    assert!(!ada.get("/account/apps").await.body.contains("is revoked"));
    assert!(revoked(&app, "oauth_consents", &consent).await);
    for token in &tokens {
        assert!(revoked(&app, "oauth_tokens", token).await, "{token}");
    }
    // Carl's authorization of the same app is his own, untouched.
    assert!(!revoked(&app, "oauth_consents", &carls_consent).await);
    for token in &carls_tokens {
        assert!(!revoked(&app, "oauth_tokens", token).await);
    }
    // Revoked already: not found.
    let again = ada.post(&action, &[("csrf", &page.csrf())]).await;
    assert_eq!(again.status, 404);
    // Recorded, with who did it.
    let actions = app.audit_actions().await;
    assert!(
        actions.iter().any(
            |(action, actor, _, _)| action == "app.authorization_revoked"
                && actor.as_deref() == Some(ada_id.as_str())
        ),
        "{actions:?}"
    );
}

async fn the_api_lists_and_revokes_authorizations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let notes = publisher(&app, "dev@api-notes.test", json!({})).await;
    let notes_id = notes.client_id().to_owned();
    let calendar = data(
        app.post_as(
            "/api/v1/apps",
            &notes.token,
            &json!({"slug": "calendar", "name": "Calendar", "client_type": "public",
                    "redirect_uris": ["https://calendar.example.com/cb"],
                    "scopes": ["openid", "usage:read"]}),
        )
        .await,
    )
    .await;
    let calendar_id = calendar["id"].as_str().unwrap().to_owned();
    let (token, _) = crate::support::accounts::signed_in(&app, "ada@api-authorized.test").await;
    let ada_id = app.user_id("ada@api-authorized.test").await;
    let (notes_consent, notes_tokens) = authorize(&app, &ada_id, &notes_id, &["openid"]).await;
    // Asked again later for more: a second consent to the same app.
    let (notes_more, _) = authorize(&app, &ada_id, &notes_id, &["openid", "email"]).await;
    let (calendar_consent, _) =
        authorize(&app, &ada_id, &calendar_id, &["usage:read", "openid"]).await;

    let listed = data(app.get_as("/api/v1/apps/authorized", &token).await).await;
    let apps = listed.as_array().unwrap();
    assert_eq!(apps.len(), 2, "one entry per app: {listed}");
    let entry = apps
        .iter()
        .find(|a| a["app_id"] == notes_id.as_str())
        .unwrap();
    assert_eq!(entry["name"], "Notes");
    assert_eq!(entry["publisher"]["name"], "dev@api-notes.test org");
    assert_eq!(
        entry["scopes"],
        json!([
            {"name": "openid", "words": "confirm who you are (your Landlord account id)"},
            {"name": "email", "words": "see your email address and whether it is verified"},
        ])
    );
    assert!(entry["authorized_at"].is_string());

    // Someone else's list is their own; they cannot revoke Ada's.
    let (other, _) = crate::support::accounts::signed_in(&app, "eve@api-authorized.test").await;
    let theirs = data(app.get_as("/api/v1/apps/authorized", &other).await).await;
    assert_eq!(theirs, json!([]));
    let path = format!("/api/v1/apps/authorized/{notes_id}");
    let refused = app.delete_as(&path, &other).await;
    assert_eq!(refused.status(), 404, "{}", json(refused).await);
    assert!(!revoked(&app, "oauth_consents", &notes_consent).await);
    assert_eq!(
        app.delete_as("/api/v1/apps/authorized/not-an-id", &token)
            .await
            .status(),
        404
    );
    // Without a person's token: 401.
    let anonymous = app
        .client
        .get(app.url("/api/v1/apps/authorized"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let answer = data(app.delete_as(&path, &token).await).await;
    assert_eq!(answer, json!({"app_id": notes_id, "revoked": true}));
    for consent in [&notes_consent, &notes_more] {
        assert!(revoked(&app, "oauth_consents", consent).await);
    }
    for id in &notes_tokens {
        assert!(revoked(&app, "oauth_tokens", id).await);
    }
    assert!(!revoked(&app, "oauth_consents", &calendar_consent).await);
    let listed = data(app.get_as("/api/v1/apps/authorized", &token).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["app_id"], calendar_id.as_str());
    assert_eq!(app.delete_as(&path, &token).await.status(), 404);
    // The same through a second session of Ada's.
    let second = session_of(&app, "ada@api-authorized.test").await;
    let second = second["access_token"].as_str().unwrap();
    let calendar_path = format!("/api/v1/apps/authorized/{calendar_id}");
    assert_eq!(app.delete_as(&calendar_path, second).await.status(), 200);
    assert!(revoked(&app, "oauth_consents", &calendar_consent).await);
}
