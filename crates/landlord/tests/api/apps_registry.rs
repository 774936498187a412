//! Apps: managing an app (read, change, delete with its slug quarantined,
//! rotate its secret, submit it) and its review by platform
//! administrators (publish, reject, suspend). Over HTTP, on SQLite and
//! PostgreSQL.

use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::{data, signed_in};
use crate::support::app::{json, TestApp};
use crate::support::apps::{operator, patch_as, publisher};
use crate::support::errors::{assert_error, assert_error_saying, assert_invalid_field};
use crate::support::Backend;

backend_tests!(
    an_app_is_read_and_changed_with_the_rules_of_its_creation,
    a_new_slug_quarantines_the_old_one,
    another_organizations_app_is_not_found,
    members_may_not_manage_apps_nor_review_them,
    a_rotated_secret_replaces_the_old_one_at_once,
    a_deleted_apps_slug_is_quarantined_then_free,
    an_app_goes_through_review_along_its_edges,
    the_review_list_pages_and_filters,
);

fn app_path(publisher: &crate::support::apps::Publisher, tail: &str) -> String {
    format!("/api/v1/apps/{}{tail}", publisher.client_id())
}

async fn stored_hash(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT client_secret_hash FROM apps WHERE id = $1")
        .bind(id)
        .fetch_one(app.db.pool())
        .await
        .expect("the app's secret hash")
}

fn sha256(text: &str) -> String {
    landlord_core::crypto::sha256_hex(text)
}

async fn an_app_is_read_and_changed_with_the_rules_of_its_creation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dev = publisher(&app, "dev@example.com", json!({})).await;
    let got = data(app.get_as(&app_path(&dev, ""), &dev.token).await).await;
    assert_eq!(got["slug"], "notes");
    assert!(got.get("client_secret").is_none(), "{got}");

    let changed = data(
        patch_as(
            &app,
            &app_path(&dev, ""),
            &dev.token,
            &json!({"name": "  Notes Pro ", "description": "Take notes.", "category": "productivity",
                    "redirect_uris": ["https://notes.example.com/cb", "http://127.0.0.1:8080/cb"],
                    "scopes": ["openid", "email"], "organization_scopes": ["members:read"],
                    "homepage_url": "https://notes.example.com", "icon_url": "https://notes.example.com/i.png",
                    "webhook_url": "https://notes.example.com/hooks"}),
        )
        .await,
    )
    .await;
    assert_eq!(changed["name"], "Notes Pro");
    assert_eq!(changed["category"], "productivity");
    assert_eq!(changed["redirect_uris"][1], "http://127.0.0.1:8080/cb");
    assert_eq!(changed["scopes"], json!(["email", "openid"]));
    assert_eq!(changed["organization_scopes"], json!(["members:read"]));
    assert_eq!(changed["status"], "draft");
    // An empty address removes it; fields left out stay.
    let cleared = data(
        patch_as(
            &app,
            &app_path(&dev, ""),
            &dev.token,
            &json!({"icon_url": ""}),
        )
        .await,
    )
    .await;
    assert!(cleared["icon_url"].is_null(), "{cleared}");
    assert_eq!(cleared["homepage_url"], "https://notes.example.com");
    assert_eq!(cleared["name"], "Notes Pro");

    for (body, field) in [
        (json!({"slug": "ab"}), "slug"),
        (json!({"slug": "admin"}), "slug"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(81)}), "name"),
        (json!({"description": "x".repeat(2001)}), "description"),
        (json!({"category": "games"}), "category"),
        (
            json!({"redirect_uris": ["http://notes.example.com/cb"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"redirect_uris": ["https://a.example.com/cb", "https://b.example.com/cb#x"]}),
            "redirect_uris[1]",
        ),
        (json!({"scopes": ["openid", "root"]}), "scopes"),
        (
            json!({"organization_scopes": ["profile"]}),
            "organization_scopes",
        ),
        (
            json!({"homepage_url": "ftp://notes.example.com"}),
            "homepage_url",
        ),
        (
            json!({"webhook_url": "http://notes.example.com/hooks"}),
            "webhook_url",
        ),
    ] {
        let answer = patch_as(&app, &app_path(&dev, ""), &dev.token, &body).await;
        assert_invalid_field(answer, field).await;
    }
    let unchanged = data(app.get_as(&app_path(&dev, ""), &dev.token).await).await;
    assert_eq!(unchanged["name"], "Notes Pro");

    // A published app's change keeps it published.
    let ops = operator(&app, "ops@example.com").await;
    data(
        app.post_as(&app_path(&dev, "/submit"), &dev.token, &json!({}))
            .await,
    )
    .await;
    let published = data(
        app.post_as(
            &format!("/api/v1/admin/apps/{}/publish", dev.client_id()),
            &ops,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(published["status"], "published");
    let renamed = data(
        patch_as(
            &app,
            &app_path(&dev, ""),
            &dev.token,
            &json!({"name": "Notes 2"}),
        )
        .await,
    )
    .await;
    assert_eq!(renamed["status"], "published");
    assert_eq!(renamed["published_at"], published["published_at"]);
    let actions: Vec<String> = app.audit_actions().await.into_iter().map(|a| a.0).collect();
    for action in [
        "app.created",
        "app.updated",
        "app.submitted",
        "app.published",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}

async fn a_new_slug_quarantines_the_old_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dev = publisher(&app, "dev@example.com", json!({"slug": "old-name"})).await;
    let changed = data(
        patch_as(
            &app,
            &app_path(&dev, ""),
            &dev.token,
            &json!({"slug": "new-name"}),
        )
        .await,
    )
    .await;
    assert_eq!(changed["slug"], "new-name");
    // Another organization may not take the old slug…
    let (other, _) = signed_in(&app, "other@example.com").await;
    let body = json!({"slug": "old-name", "name": "Mine", "client_type": "public",
                      "redirect_uris": ["https://mine.example.com/cb"]});
    assert_error(
        app.post_as("/api/v1/apps", &other, &body).await,
        409,
        "CONFLICT",
    )
    .await;
    // …nor the new one, which is in use.
    let mut taken = body.clone();
    taken["slug"] = json!("new-name");
    assert_error(
        app.post_as("/api/v1/apps", &other, &taken).await,
        409,
        "CONFLICT",
    )
    .await;
    // A rename onto a taken slug is refused too.
    let theirs = data(
        app.post_as(
            "/api/v1/apps",
            &other,
            &json!({"slug": "theirs", "name": "Theirs", "client_type": "public", "redirect_uris": []}),
        )
        .await,
    )
    .await;
    assert_error(
        patch_as(
            &app,
            &app_path(&dev, ""),
            &dev.token,
            &json!({"slug": "theirs"}),
        )
        .await,
        409,
        "CONFLICT",
    )
    .await;
    assert_error(
        patch_as(
            &app,
            &format!("/api/v1/apps/{}", theirs["id"].as_str().unwrap()),
            &other,
            &json!({"slug": "old-name"}),
        )
        .await,
        409,
        "CONFLICT",
    )
    .await;
    // The same organization takes it back.
    let back = data(
        patch_as(
            &app,
            &app_path(&dev, ""),
            &dev.token,
            &json!({"slug": "old-name"}),
        )
        .await,
    )
    .await;
    assert_eq!(back["slug"], "old-name");
}

async fn another_organizations_app_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dev = publisher(&app, "dev@example.com", json!({})).await;
    let (other, _) = signed_in(&app, "other@example.com").await;
    let path = app_path(&dev, "");
    assert_error(app.get_as(&path, &other).await, 404, "NOT_FOUND").await;
    assert_error(
        patch_as(&app, &path, &other, &json!({"name": "Mine"})).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(app.delete_as(&path, &other).await, 404, "NOT_FOUND").await;
    for tail in ["/rotate-secret", "/submit"] {
        let answer = app.post_as(&app_path(&dev, tail), &other, &json!({})).await;
        assert_error(answer, 404, "NOT_FOUND").await;
    }
    // Nothing changed; an id that is not one is not found either.
    let same = data(app.get_as(&path, &dev.token).await).await;
    assert_eq!(same["name"], "Notes");
    assert_eq!(same["status"], "draft");
    assert_eq!(
        stored_hash(&app, dev.client_id()).await,
        sha256(dev.client_secret().unwrap())
    );
    assert_error(
        app.get_as("/api/v1/apps/not-an-id", &dev.token).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.get_as(
            "/api/v1/apps/01890000-0000-7000-8000-000000000000",
            &dev.token,
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
}

async fn members_may_not_manage_apps_nor_review_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dev = publisher(&app, "boss@example.com", json!({})).await;
    let (member, member_data) = signed_in(&app, "member@example.com").await;
    let organization = data(app.get_as("/api/v1/organization", &dev.token).await).await;
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
    let path = app_path(&dev, "");
    assert_error(app.get_as(&path, member).await, 403, "FORBIDDEN").await;
    assert_error(
        patch_as(&app, &path, member, &json!({"name": "Mine"})).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_error(app.delete_as(&path, member).await, 403, "FORBIDDEN").await;
    for tail in ["/rotate-secret", "/submit"] {
        let answer = app.post_as(&app_path(&dev, tail), member, &json!({})).await;
        assert_error(answer, 403, "FORBIDDEN").await;
    }
    // The review is the platform administrators': an owner is refused.
    assert_error(
        app.get_as("/api/v1/admin/apps", &dev.token).await,
        403,
        "FORBIDDEN",
    )
    .await;
    for (action, body) in [
        ("publish", json!({})),
        ("suspend", json!({"reason": "no"})),
        ("reject", json!({"reason": "no"})),
    ] {
        let answer = app
            .post_as(
                &format!("/api/v1/admin/apps/{}/{action}", dev.client_id()),
                &dev.token,
                &body,
            )
            .await;
        assert_error(answer, 403, "FORBIDDEN").await;
    }
    let same = data(app.get_as(&path, &dev.token).await).await;
    assert_eq!(same["status"], "draft");
}

async fn a_rotated_secret_replaces_the_old_one_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dev = publisher(&app, "dev@example.com", json!({})).await;
    let old = dev.client_secret().unwrap().to_owned();
    assert_eq!(stored_hash(&app, dev.client_id()).await, sha256(&old));
    let rotated = data(
        app.post_as(&app_path(&dev, "/rotate-secret"), &dev.token, &json!({}))
            .await,
    )
    .await;
    let new = rotated["client_secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("llcs_"), "{new}");
    assert_ne!(new, old);
    assert_eq!(rotated["id"], dev.app["id"]);
    // Only the new secret's hash is stored: the old one matches nothing.
    assert_eq!(stored_hash(&app, dev.client_id()).await, sha256(&new));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM apps WHERE client_secret_hash = $1",
            &[&sha256(&old)]
        )
        .await,
        0
    );
    // Shown once: reading the app does not show it.
    let got = data(app.get_as(&app_path(&dev, ""), &dev.token).await).await;
    assert!(!got.to_string().contains(&new));
    // The old secret no longer authenticates the client at the token
    // endpoint, when it is served.
    let token = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(dev.client_id(), Some(&old))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    if token.status() != 404 {
        assert_eq!(token.status(), 401, "the old secret still works");
    }
    // A public client has no secret to rotate.
    let public = data(
        app.post_as(
            "/api/v1/apps",
            &dev.token,
            &json!({"slug": "notes-web", "name": "Notes web", "client_type": "public",
                    "redirect_uris": ["https://notes.example.com/cb"]}),
        )
        .await,
    )
    .await;
    let answer = app
        .post_as(
            &format!(
                "/api/v1/apps/{}/rotate-secret",
                public["id"].as_str().unwrap()
            ),
            &dev.token,
            &json!({}),
        )
        .await;
    assert_error_saying(answer, 409, "CONFLICT", "public client").await;
    let actions: Vec<String> = app.audit_actions().await.into_iter().map(|a| a.0).collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "app.secret_rotated")
            .count(),
        1
    );
}

async fn a_deleted_apps_slug_is_quarantined_then_free(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dev = publisher(&app, "dev@example.com", json!({"slug": "gone-app"})).await;
    // A token of the app goes with it.
    sqlx::query(
        "INSERT INTO oauth_tokens (id, token_hash, kind, app_id, scopes, created_at, expires_at) \
         VALUES ($1, $2, 'access', $3, '[]', $4, $5)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(sha256("lla_test"))
    .bind(dev.client_id())
    .bind(1_i64)
    .bind(i64::MAX / 2)
    .execute(app.db.pool())
    .await
    .expect("a token");
    let deleted = data(app.delete_as(&app_path(&dev, ""), &dev.token).await).await;
    assert_eq!(deleted["slug"], "gone-app");
    assert!(deleted["slug_reserved_until"].is_string(), "{deleted}");
    assert_error(
        app.get_as(&app_path(&dev, ""), &dev.token).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM apps", &[]).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM oauth_tokens", &[]).await, 0);
    let until: i64 =
        sqlx::query_scalar("SELECT until FROM app_slug_quarantine WHERE slug = 'gone-app'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    let days = (until - crate::support::clock::now_ms()) as f64 / 86_400_000.0;
    assert!((29.9..=30.1).contains(&days), "{days}");

    let body = json!({"slug": "gone-app", "name": "Taken", "client_type": "public",
                      "redirect_uris": ["https://taken.example.com/cb"]});
    let (other, _) = signed_in(&app, "other@example.com").await;
    let refused = app.post_as("/api/v1/apps", &other, &body).await;
    assert_error_saying(refused, 409, "CONFLICT", "slug").await;
    // The same organization may take it again…
    let again = data(app.post_as("/api/v1/apps", &dev.token, &body).await).await;
    assert_eq!(again["slug"], "gone-app");
    data(
        app.delete_as(
            &format!("/api/v1/apps/{}", again["id"].as_str().unwrap()),
            &dev.token,
        )
        .await,
    )
    .await;
    assert_error(
        app.post_as("/api/v1/apps", &other, &body).await,
        409,
        "CONFLICT",
    )
    .await;
    // …and once the quarantine ends, anyone may.
    sqlx::query("UPDATE app_slug_quarantine SET until = $1 WHERE slug = 'gone-app'")
        .bind(crate::support::clock::now_ms() - 1000)
        .execute(app.db.pool())
        .await
        .unwrap();
    let theirs = app.post_as("/api/v1/apps", &other, &body).await;
    assert_eq!(theirs.status(), 201, "{}", json(theirs).await);
    let actions: Vec<String> = app.audit_actions().await.into_iter().map(|a| a.0).collect();
    assert_eq!(actions.iter().filter(|a| *a == "app.deleted").count(), 2);
}

async fn decide(
    app: &TestApp,
    ops: &str,
    id: &str,
    action: &str,
    body: Value,
) -> reqwest::Response {
    app.post_as(&format!("/api/v1/admin/apps/{id}/{action}"), ops, &body)
        .await
}

async fn an_app_goes_through_review_along_its_edges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dev = publisher(&app, "dev@example.com", json!({"redirect_uris": []})).await;
    let id = dev.client_id().to_owned();
    let ops = operator(&app, "ops@example.com").await;
    let submit_path = app_path(&dev, "/submit");
    let empty = json!({});
    let submit = || app.post_as(&submit_path, &dev.token, &empty);

    // No redirect URI: not submitted.
    assert_error_saying(submit().await, 409, "CONFLICT", "redirect URI").await;
    patch_as(
        &app,
        &app_path(&dev, ""),
        &dev.token,
        &json!({"redirect_uris": ["https://notes.example.com/cb"]}),
    )
    .await;
    // A draft cannot be published nor rejected.
    assert_error_saying(
        decide(&app, &ops, &id, "publish", json!({})).await,
        409,
        "CONFLICT",
        "draft",
    )
    .await;
    let submitted = data(submit().await).await;
    assert_eq!(submitted["status"], "in_review");
    assert_error_saying(submit().await, 409, "CONFLICT", "in review already").await;
    let queue = data(
        app.get_as("/api/v1/admin/apps?status=in_review", &ops)
            .await,
    )
    .await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["id"], id.as_str());

    // Rejected with a reason: a draft again, the reason shown to the developer.
    for (body, field) in [
        (json!({"reason": ""}), "reason"),
        (json!({"reason": "   "}), "reason"),
        (json!({"reason": "x".repeat(501)}), "reason"),
    ] {
        assert_invalid_field(decide(&app, &ops, &id, "reject", body).await, field).await;
    }
    let rejected = data(
        decide(
            &app,
            &ops,
            &id,
            "reject",
            json!({"reason": "Add a privacy policy."}),
        )
        .await,
    )
    .await;
    assert_eq!(rejected["status"], "draft");
    let seen = data(app.get_as(&app_path(&dev, ""), &dev.token).await).await;
    assert_eq!(seen["status_reason"], "Add a privacy policy.");
    assert_error_saying(
        decide(&app, &ops, &id, "reject", json!({"reason": "again"})).await,
        409,
        "CONFLICT",
        "only an app in review",
    )
    .await;

    // Submitted again (the reason cleared), then published: the event is
    // in the publisher's organization.
    let again = data(submit().await).await;
    assert!(again["status_reason"].is_null(), "{again}");
    let published = data(decide(&app, &ops, &id, "publish", json!({})).await).await;
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string(), "{published}");
    assert_error_saying(submit().await, 409, "CONFLICT", "published already").await;
    assert_error(
        decide(&app, &ops, &id, "publish", json!({})).await,
        409,
        "CONFLICT",
    )
    .await;
    let events = data(
        app.get_as("/api/v1/events?type=app.published", &dev.token)
            .await,
    )
    .await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["payload"]["app_id"], id.as_str());
    assert_eq!(events[0]["payload"]["slug"], "notes");
    let ops_events = data(app.get_as("/api/v1/events?type=app.published", &ops).await).await;
    assert_eq!(ops_events.as_array().unwrap().len(), 0);

    // Suspended with a reason: its tokens stop; published again later.
    assert_invalid_field(
        decide(&app, &ops, &id, "suspend", json!({"reason": " "})).await,
        "reason",
    )
    .await;
    let missing = decide(&app, &ops, &id, "suspend", json!({})).await;
    assert!(
        matches!(missing.status().as_u16(), 400 | 422),
        "{}",
        json(missing).await
    );
    let suspended = data(
        decide(
            &app,
            &ops,
            &id,
            "suspend",
            json!({"reason": "Phishing reports."}),
        )
        .await,
    )
    .await;
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["status_reason"], "Phishing reports.");
    assert_error_saying(
        decide(&app, &ops, &id, "suspend", json!({"reason": "again"})).await,
        409,
        "CONFLICT",
        "suspended already",
    )
    .await;
    assert_error_saying(submit().await, 409, "CONFLICT", "suspended").await;
    assert_error(
        decide(&app, &ops, &id, "reject", json!({"reason": "no"})).await,
        409,
        "CONFLICT",
    )
    .await;
    let back = data(decide(&app, &ops, &id, "publish", json!({})).await).await;
    assert_eq!(back["status"], "published");
    assert!(back["status_reason"].is_null(), "{back}");
    assert_error(
        decide(
            &app,
            &ops,
            "01890000-0000-7000-8000-000000000000",
            "publish",
            json!({}),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    let events = data(
        app.get_as("/api/v1/events?type=app.published", &dev.token)
            .await,
    )
    .await;
    assert_eq!(events.as_array().unwrap().len(), 2);
    let actions: Vec<String> = app.audit_actions().await.into_iter().map(|a| a.0).collect();
    for (action, times) in [
        ("app.submitted", 2),
        ("app.rejected", 1),
        ("app.published", 2),
        ("app.suspended", 1),
    ] {
        assert_eq!(
            actions.iter().filter(|a| *a == action).count(),
            times,
            "{action}: {actions:?}"
        );
    }
}

async fn the_review_list_pages_and_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ops = operator(&app, "ops@example.com").await;
    let dev = publisher(&app, "dev@example.com", json!({"slug": "first"})).await;
    for slug in ["second", "third"] {
        data(
            app.post_as(
                "/api/v1/apps",
                &dev.token,
                &json!({"slug": slug, "name": slug, "client_type": "public",
                        "redirect_uris": ["https://x.example.com/cb"]}),
            )
            .await,
        )
        .await;
    }
    data(
        app.post_as(&app_path(&dev, "/submit"), &dev.token, &json!({}))
            .await,
    )
    .await;
    let first = json(app.get_as("/api/v1/admin/apps?limit=2", &ops).await).await;
    let page: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["slug"].as_str().unwrap())
        .collect();
    assert_eq!(page, ["third", "second"]);
    let cursor = first["meta"]["next_cursor"].as_str().unwrap();
    let second = json(
        app.get_as(&format!("/api/v1/admin/apps?limit=2&cursor={cursor}"), &ops)
            .await,
    )
    .await;
    assert_eq!(second["data"][0]["slug"], "first");
    assert!(second["meta"]["next_cursor"].is_null(), "{second}");
    let queue = data(
        app.get_as("/api/v1/admin/apps?status=in_review", &ops)
            .await,
    )
    .await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["slug"], "first");
    let drafts = data(app.get_as("/api/v1/admin/apps?status=draft", &ops).await).await;
    assert_eq!(drafts.as_array().unwrap().len(), 2);
    let bad = app.get_as("/api/v1/admin/apps?limit=0", &ops).await;
    assert_invalid_field(bad, "limit").await;
    let bad = app.get_as("/api/v1/admin/apps?status=gone", &ops).await;
    assert!(
        matches!(bad.status().as_u16(), 400 | 422),
        "{}",
        json(bad).await
    );
}
