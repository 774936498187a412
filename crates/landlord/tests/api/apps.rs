//! Apps: creating an app — the slug's rules, exact redirect URIs, scopes,
//! the secret shown once and stored hashed, who may create one. Over
//! HTTP, on SQLite and PostgreSQL.

use serde_json::json;

use crate::backend_tests;
use crate::support::accounts::{data, signed_in};
use crate::support::app::{json, TestApp};
use crate::support::apps::publisher;
use crate::support::errors::{assert_error, assert_invalid_field};
use crate::support::Backend;

backend_tests!(
    an_app_is_created_as_a_draft_with_its_secret_shown_once,
    an_apps_fields_are_checked_one_by_one,
    a_slug_is_taken_once_on_the_platform,
    only_owners_and_admins_create_apps,
    with_the_module_off_its_routes_pages_and_links_are_gone,
    an_apps_notice_secret_is_there_before_its_first_installation,
);

async fn an_app_is_created_as_a_draft_with_its_secret_shown_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = publisher(&app, "dev@example.com", json!({})).await;
    assert_eq!(publisher.app["status"], "draft");
    assert_eq!(publisher.app["client_type"], "confidential");
    assert_eq!(publisher.app["id"], publisher.app["client_id"]);
    let secret = publisher.client_secret().unwrap().to_owned();
    assert!(secret.starts_with("llcs_"), "{secret}");
    // Stored hashed: the secret itself is nowhere in the table.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM apps WHERE client_secret_hash = $1",
            &[&secret]
        )
        .await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM apps", &[]).await, 1);
    // Listed without it.
    let listed = data(app.get_as("/api/v1/apps", &publisher.token).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["slug"], "notes");
    assert!(listed[0].get("client_secret").is_none(), "{listed}");
    assert!(!listed.to_string().contains(&secret));
    // A public client has none.
    let public = data(
        app.post_as(
            "/api/v1/apps",
            &publisher.token,
            &json!({"slug": "notes-web", "name": "Notes web", "client_type": "public",
                    "redirect_uris": ["https://notes.example.com/cb"], "scopes": ["openid"]}),
        )
        .await,
    )
    .await;
    assert!(public["client_secret"].is_null(), "{public}");
    // No webhook address: no endpoint for notices.
    let public_id = public["id"].as_str().unwrap();
    let path = format!("/api/v1/webhooks/endpoints/{public_id}/secret");
    assert_error(app.get_as(&path, &publisher.token).await, 404, "NOT_FOUND").await;
}

async fn an_apps_notice_secret_is_there_before_its_first_installation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = publisher(
        &app,
        "hooks@example.com",
        json!({"webhook_url": "https://notes.example.com/landlord-hooks"}),
    )
    .await;
    let id = publisher.client_id();
    let secret = data(
        app.get_as(
            &format!("/api/v1/webhooks/endpoints/{id}/secret"),
            &publisher.token,
        )
        .await,
    )
    .await;
    assert!(
        secret["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_")),
        "{secret}"
    );
    let endpoint = data(
        app.get_as(
            &format!("/api/v1/webhooks/endpoints/{id}"),
            &publisher.token,
        )
        .await,
    )
    .await;
    assert_eq!(endpoint["url"], "https://notes.example.com/landlord-hooks");
    // A new address moves it.
    let changed = app
        .client
        .patch(app.url(&format!("/api/v1/apps/{id}")))
        .bearer_auth(&publisher.token)
        .json(&json!({"webhook_url": "https://notes.example.com/v2/hooks"}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(changed.status(), 200);
    let endpoint = data(
        app.get_as(
            &format!("/api/v1/webhooks/endpoints/{id}"),
            &publisher.token,
        )
        .await,
    )
    .await;
    assert_eq!(endpoint["url"], "https://notes.example.com/v2/hooks");
}

async fn an_apps_fields_are_checked_one_by_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = signed_in(&app, "fields@example.com").await;
    let base = json!({"slug": "fields", "name": "Fields", "client_type": "public",
                      "redirect_uris": ["https://fields.example.com/cb"], "scopes": ["openid"]});
    let with = |key: &str, value: serde_json::Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    for (body, field) in [
        (with("slug", json!("ab")), "slug"),
        (with("slug", json!("Bad_Slug")), "slug"),
        (with("slug", json!("admin")), "slug"),
        (with("slug", json!("www")), "slug"),
        (with("name", json!("   ")), "name"),
        (with("category", json!("games")), "category"),
        (
            with("redirect_uris", json!(["http://fields.example.com/cb"])),
            "redirect_uris[0]",
        ),
        (
            with(
                "redirect_uris",
                json!(["https://fields.example.com/cb#frag"]),
            ),
            "redirect_uris[0]",
        ),
        (
            with(
                "redirect_uris",
                json!(["https://ok.example.com/cb", "/relative"]),
            ),
            "redirect_uris[1]",
        ),
        (
            with("scopes", json!(["openid", "admin:everything"])),
            "scopes",
        ),
        (
            with("organization_scopes", json!(["email"])),
            "organization_scopes",
        ),
    ] {
        let answer = app.post_as("/api/v1/apps", &token, &body).await;
        assert_invalid_field(answer, field).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM apps", &[]).await, 0);
    // Loopback http is allowed (a developer's machine).
    let answer = app
        .post_as(
            "/api/v1/apps",
            &token,
            &with(
                "redirect_uris",
                json!(["http://127.0.0.1:8080/cb", "http://notes.apps.localhost/cb"]),
            ),
        )
        .await;
    assert_eq!(answer.status(), 201, "{}", json(answer).await);
}

async fn a_slug_is_taken_once_on_the_platform(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    publisher(&app, "first@example.com", json!({"slug": "shared-name"})).await;
    let (other, _) = signed_in(&app, "second@example.com").await;
    let answer = app
        .post_as(
            "/api/v1/apps",
            &other,
            &json!({"slug": "shared-name", "name": "Mine", "client_type": "public",
                    "redirect_uris": ["https://mine.example.com/cb"]}),
        )
        .await;
    assert_error(answer, 409, "CONFLICT").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM apps", &[]).await, 1);
}

async fn only_owners_and_admins_create_apps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = publisher(&app, "boss@example.com", json!({})).await;
    let (member, member_data) = signed_in(&app, "member@example.com").await;
    let organization = data(app.get_as("/api/v1/organization", &owner.token).await).await;
    let member_id = member_data["user"]["id"].as_str().unwrap().to_owned();
    app.add_membership(organization["id"].as_str().unwrap(), &member_id, "member")
        .await;
    let switched = data(
        app.post_as(
            "/api/v1/auth/switch-organization",
            &member,
            &json!({"organization_id": organization["id"]}),
        )
        .await,
    )
    .await;
    let member = switched["access_token"].as_str().unwrap();
    let answer = app
        .post_as(
            "/api/v1/apps",
            member,
            &json!({"slug": "member-app", "name": "M", "client_type": "public", "redirect_uris": []}),
        )
        .await;
    assert_error(answer, 403, "FORBIDDEN").await;
    assert_error(app.get_as("/api/v1/apps", member).await, 403, "FORBIDDEN").await;
}

/// `[apps] enabled = false`: the API, the provider's endpoints, the
/// discovery documents and the console's pages answer 404 and no
/// navigation links to them; with it on, the same requests find them.
async fn with_the_module_off_its_routes_pages_and_links_are_gone(backend: Backend) {
    let off = TestApp::spawn_with(backend, |c| c.apps.enabled = false).await;
    let on = TestApp::spawn(backend).await;
    for (app, expected) in [(&off, 404), (&on, 200)] {
        let (token, _) = signed_in(app, "modules@example.com").await;
        assert_eq!(app.get_as("/api/v1/apps", &token).await.status(), expected);
        for path in [
            "/api/v1/directory/apps",
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
            "/oauth/jwks",
            "/static/apps.css",
        ] {
            assert_eq!(app.get(path).await.status(), expected, "{path}");
        }
        // The token endpoint exists (a refusal in OAuth's shape) or not at all.
        let token_endpoint = app
            .client
            .post(app.url("/oauth/token"))
            .form(&[("grant_type", "password")])
            .send()
            .await
            .expect("request sent");
        let status = token_endpoint.status().as_u16();
        if expected == 404 {
            assert_eq!(status, 404);
        } else {
            assert!(status == 400 || status == 401, "{status}");
            assert!(json(token_endpoint).await["error"].is_string());
        }
        let documented = json(app.get("/openapi.json").await).await;
        let has_provider = documented["paths"].get("/oauth/token").is_some()
            && documented["paths"].get("/api/v1/apps").is_some();
        assert_eq!(has_provider, expected == 200);
    }
    let browser = crate::console::Browser::new(&off);
    let overview = browser.sign_up("ada@apps-off.test", "Ada's").await;
    let page = browser.get(&overview).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for link in ["/apps\"", "/account/apps", "apps.css"] {
        assert!(!page.body.contains(link), "{link} in {}", page.body);
    }
    for path in ["/apps", "/account/apps", &format!("{overview}/apps")] {
        assert_eq!(browser.get(path).await.status, 404, "{path}");
    }
    let browser = crate::console::Browser::new(&on);
    let overview = browser.sign_up("ada@apps-on.test", "Ada's").await;
    let page = browser.get(&overview).await;
    assert!(page.body.contains("/account/apps"), "{}", page.body);
    assert_eq!(browser.get("/apps").await.status, 200);
}
