//! Apps: the public directory, installing an app into an organization,
//! the installation's tokens on Landlord's API (within their scopes and
//! their organization, metered), and uninstalling — the tokens stop
//! before the app hears of it, through a signed webhook. Over HTTP, on
//! SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::{data, signed_in};
use crate::support::app::{json, TestApp};
use crate::support::apps::{publisher, Publisher};
use crate::support::errors::{assert_error, assert_error_saying, assert_invalid_field};
use crate::support::eventually::eventually;
use crate::support::receiver::signature_verifies;
use crate::support::team::Team;
use crate::support::Backend;

backend_tests!(
    the_directory_lists_published_apps_only_with_search_category_and_pages,
    installing_takes_a_published_app_its_own_scopes_and_an_owner_or_admin,
    installation_tokens_act_within_their_scopes_and_organization,
    uninstalling_revokes_the_tokens_before_the_app_hears_of_it,
);

/// Publishes `slug` (the operator's review, done behind the API's back).
async fn publish(app: &TestApp, slug: &str) {
    sqlx::query("UPDATE apps SET status = 'published', published_at = updated_at WHERE slug = $1")
        .bind(slug)
        .execute(app.db.pool())
        .await
        .expect("published");
}

async fn set_status(app: &TestApp, slug: &str, status: &str) {
    sqlx::query("UPDATE apps SET status = $1 WHERE slug = $2")
        .bind(status)
        .bind(slug)
        .execute(app.db.pool())
        .await
        .expect("status set");
}

/// An app `slug` of `publisher`'s organization, as created.
async fn another_app(app: &TestApp, publisher: &Publisher, fields: Value) -> Value {
    data(app.post_as("/api/v1/apps", &publisher.token, &fields).await).await
}

/// The client-credentials grant for `client_id`'s installation: what
/// `/oauth/token` answers with `grant_type=client_credentials` (called
/// here directly, as the token endpoint calls it after authenticating
/// the client). `Err` is the OAuth error code.
async fn installation_token(
    app: &TestApp,
    client: (&str, &str),
    installation_id: &str,
    scope: &str,
) -> Result<Value, String> {
    let (client_id, client_secret) = client;
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("installation_id", installation_id),
    ];
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    let answer = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(client_id, Some(client_secret))
        .form(&form)
        .send()
        .await
        .expect("the token request");
    let status = answer.status();
    let body = json(answer).await;
    if status.is_success() {
        Ok(body)
    } else {
        assert_eq!(status, 400, "{body}");
        Err(body["error"].as_str().unwrap_or_default().to_owned())
    }
}

async fn patch_as(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("PATCH")
}

async fn the_directory_lists_published_apps_only_with_search_category_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dev = publisher(
        &app,
        "dir@example.com",
        json!({"description": "Shared notes for teams", "category": "productivity",
               "organization_scopes": ["organizations:read", "members:read"]}),
    )
    .await;
    another_app(
        &app,
        &dev,
        json!({"slug": "ledger", "name": "Ledger", "client_type": "confidential",
               "redirect_uris": ["https://ledger.example.com/cb"],
               "description": "Books and INVOICES", "category": "finance"}),
    )
    .await;
    another_app(
        &app,
        &dev,
        json!({"slug": "chatter", "name": "Chatter", "client_type": "public",
               "redirect_uris": ["https://chatter.example.com/cb"], "category": "communication"}),
    )
    .await;
    for (slug, status) in [
        ("draft-one", "draft"),
        ("in-review", "in_review"),
        ("gone", "suspended"),
    ] {
        another_app(
            &app,
            &dev,
            json!({"slug": slug, "name": format!("Hidden {slug}"), "client_type": "public",
                   "redirect_uris": ["https://hidden.example.com/cb"], "category": "finance"}),
        )
        .await;
        set_status(&app, slug, status).await;
    }
    for slug in ["notes", "ledger", "chatter"] {
        publish(&app, slug).await;
    }

    // Public: no token needed; only the published apps.
    let listed = json(app.get("/api/v1/directory/apps").await).await;
    let slugs: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["chatter", "ledger", "notes"], "{listed}");
    let notes = &listed["data"][2];
    assert_eq!(notes["publisher"]["name"], "dir@example.com org", "{notes}");
    assert_eq!(notes["organization_scopes"][0]["name"], "members:read");
    assert_eq!(
        notes["organization_scopes"][0]["description"],
        "see the organization's members and their roles"
    );
    assert!(notes.get("client_secret").is_none() && notes.get("redirect_uris").is_none());

    // Search: name, description, category; any case.
    for (q, expect) in [
        ("NOTES", "notes"),
        ("invoices", "ledger"),
        ("communic", "chatter"),
    ] {
        let found = json(app.get(&format!("/api/v1/directory/apps?q={q}")).await).await;
        let found = found["data"].as_array().unwrap().clone();
        assert_eq!(found.len(), 1, "{q}: {found:?}");
        assert_eq!(found[0]["slug"], expect, "{q}");
    }
    let none = json(app.get("/api/v1/directory/apps?q=100%25").await).await;
    assert_eq!(none["data"], json!([]));
    let finance = json(app.get("/api/v1/directory/apps?category=finance").await).await;
    assert_eq!(finance["data"].as_array().unwrap().len(), 1, "{finance}");
    assert_eq!(finance["data"][0]["slug"], "ledger");
    assert_invalid_field(
        app.get("/api/v1/directory/apps?category=games").await,
        "category",
    )
    .await;

    // Cursor pages.
    let first = json(app.get("/api/v1/directory/apps?limit=2").await).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["meta"]["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = json(
        app.get(&format!("/api/v1/directory/apps?limit=2&cursor={cursor}"))
            .await,
    )
    .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second["data"][0]["slug"], "notes");
    assert!(second["meta"]["next_cursor"].is_null(), "{second}");

    // One app's page: published only.
    let one = data(app.get("/api/v1/directory/apps/ledger").await).await;
    assert_eq!(one["name"], "Ledger");
    assert_eq!(one["publisher"]["name"], "dir@example.com org");
    for hidden in ["draft-one", "in-review", "gone", "nope"] {
        assert_error(
            app.get(&format!("/api/v1/directory/apps/{hidden}")).await,
            404,
            "NOT_FOUND",
        )
        .await;
    }
}

async fn installing_takes_a_published_app_its_own_scopes_and_an_owner_or_admin(backend: Backend) {
    let team = Team::new(backend, "installer").await;
    let app = &team.app;
    let dev = publisher(
        app,
        "maker@example.com",
        json!({"organization_scopes": ["organizations:read", "members:read", "events:read"]}),
    )
    .await;
    let app_id = dev.client_id().to_owned();

    // A draft cannot be installed.
    let draft = app
        .post_as(
            "/api/v1/installations",
            &team.owner,
            &json!({"app_id": app_id, "scopes": ["organizations:read"]}),
        )
        .await;
    assert_error(draft, 404, "NOT_FOUND").await;
    publish(app, "notes").await;

    // Only what the app asks for; only owners and admins.
    let unasked = app
        .post_as(
            "/api/v1/installations",
            &team.owner,
            &json!({"app_id": app_id, "scopes": ["organizations:read", "usage:read"]}),
        )
        .await;
    let body = assert_invalid_field(unasked, "scopes").await;
    assert!(body.to_string().contains("usage:read"), "{body}");
    let unknown = app
        .post_as(
            "/api/v1/installations",
            &team.owner,
            &json!({"app_id": app_id, "scopes": ["root"]}),
        )
        .await;
    assert_invalid_field(unknown, "scopes").await;
    let by_member = app
        .post_as(
            "/api/v1/installations",
            &team.member,
            &json!({"app_id": app_id, "scopes": ["organizations:read"]}),
        )
        .await;
    assert_error_saying(by_member, 403, "FORBIDDEN", "install_apps").await;

    let installed = app
        .post_as(
            "/api/v1/installations",
            &team.admin,
            &json!({"app_id": app_id, "scopes": ["organizations:read"]}),
        )
        .await;
    assert_eq!(installed.status(), 201);
    let installed = json(installed).await["data"].clone();
    assert_eq!(installed["app_slug"], "notes");
    assert_eq!(installed["organization_id"], team.org_id.as_str());
    assert_eq!(installed["scopes"][0]["name"], "organizations:read");
    let id = installed["id"].as_str().unwrap().to_owned();

    // Once per organization.
    let again = app
        .post_as(
            "/api/v1/installations",
            &team.owner,
            &json!({"app_id": app_id, "scopes": ["organizations:read"]}),
        )
        .await;
    assert_error(again, 409, "CONFLICT").await;

    // Members see it; the publisher's organization does not.
    let listed = data(app.get_as("/api/v1/installations", &team.member).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    let path = format!("/api/v1/installations/{id}");
    assert_eq!(
        data(app.get_as(&path, &team.member).await).await["id"],
        id.as_str()
    );
    assert_error(app.get_as(&path, &dev.token).await, 404, "NOT_FOUND").await;

    // More scopes later: the installation holds them.
    let widened = patch_as(
        app,
        &path,
        &team.owner,
        &json!({"scopes": ["organizations:read", "events:read"]}),
    )
    .await;
    let widened = data(widened).await;
    assert_eq!(widened["scopes"].as_array().unwrap().len(), 2, "{widened}");
    assert_invalid_field(
        patch_as(app, &path, &team.owner, &json!({"scopes": ["usage:read"]})).await,
        "scopes",
    )
    .await;
    let by_member = patch_as(app, &path, &team.member, &json!({"scopes": []})).await;
    assert_error(by_member, 403, "FORBIDDEN").await;

    // The catalog event is in the installing organization's history, and
    // every step is audited.
    let events = data(
        app.get_as("/api/v1/events?type=app.installed", &team.owner)
            .await,
    )
    .await;
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    assert_eq!(
        events[0]["payload"]["installation_id"],
        id.as_str(),
        "{events}"
    );
    let actions: Vec<String> = app.audit_actions().await.into_iter().map(|a| a.0).collect();
    assert!(
        actions.contains(&"app.installed".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"app.installation_updated".to_string()),
        "{actions:?}"
    );
}

async fn installation_tokens_act_within_their_scopes_and_organization(backend: Backend) {
    let team = Team::new(backend, "tokens").await;
    let app = &team.app;
    let dev = publisher(
        app,
        "tokens-dev@example.com",
        json!({"organization_scopes": ["organizations:read", "members:read", "events:read", "usage:read"]}),
    )
    .await;
    publish(app, "notes").await;
    let installed = data(
        app.post_as(
            "/api/v1/installations",
            &team.owner,
            &json!({"app_id": dev.client_id(), "scopes": ["organizations:read", "events:read"]}),
        )
        .await,
    )
    .await;
    let installation_id = installed["id"].as_str().unwrap().to_owned();

    // The grant: every scope of the installation by default, 1 hour.
    let granted = installation_token(
        app,
        (dev.client_id(), dev.client_secret().unwrap()),
        &installation_id,
        "",
    )
    .await
    .expect("a token");
    assert_eq!(granted["token_type"], "Bearer");
    assert_eq!(granted["expires_in"], 3600);
    assert_eq!(granted["scope"], "events:read organizations:read");
    assert!(granted.get("refresh_token").is_none(), "{granted}");
    let token = granted["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("lla_"), "{token}");
    // Stored hashed.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM oauth_tokens WHERE token_hash = $1",
            &[&token]
        )
        .await,
        0
    );
    // Narrower on request; never wider; this app's installations only.
    let narrow = installation_token(
        app,
        (dev.client_id(), dev.client_secret().unwrap()),
        &installation_id,
        "events:read",
    )
    .await
    .expect("a narrower token");
    assert_eq!(narrow["scope"], "events:read");
    assert_eq!(
        installation_token(
            app,
            (dev.client_id(), dev.client_secret().unwrap()),
            &installation_id,
            "members:read"
        )
        .await,
        Err("invalid_scope".to_owned())
    );
    let other = another_app(
        app,
        &dev,
        json!({"slug": "other", "name": "Other", "client_type": "confidential",
               "redirect_uris": ["https://other.example.com/cb"]}),
    )
    .await;
    let other_id = other["client_id"].as_str().unwrap();
    assert_eq!(
        installation_token(
            app,
            (other_id, other["client_secret"].as_str().unwrap()),
            &installation_id,
            ""
        )
        .await,
        Err("invalid_grant".to_owned())
    );
    assert_eq!(
        installation_token(
            app,
            (dev.client_id(), dev.client_secret().unwrap()),
            &uuid::Uuid::now_v7().to_string(),
            ""
        )
        .await,
        Err("invalid_grant".to_owned())
    );
    assert_eq!(
        installation_token(
            app,
            (dev.client_id(), dev.client_secret().unwrap()),
            "not-an-id",
            ""
        )
        .await,
        Err("invalid_grant".to_owned())
    );

    // Within its scopes: the installing organization's data.
    let organization = data(app.get_as("/api/v1/organization", &token).await).await;
    assert_eq!(organization["id"], team.org_id.as_str(), "{organization}");
    let events = data(app.get_as("/api/v1/events", &token).await).await;
    let installed_event = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "app.installed")
        .expect("app.installed in the installer's events")
        .clone();
    let one = data(
        app.get_as(
            &format!("/api/v1/events/{}", installed_event["id"].as_str().unwrap()),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(one["type"], "app.installed");

    // Outside them: 403 naming the scope.
    assert_error_saying(
        app.get_as("/api/v1/team/members", &token).await,
        403,
        "FORBIDDEN",
        "members:read",
    )
    .await;
    assert_error_saying(
        app.get_as("/api/v1/billing/usage", &token).await,
        403,
        "FORBIDDEN",
        "usage:read",
    )
    .await;
    assert_error_saying(
        app.get_as(
            "/api/v1/organization",
            narrow["access_token"].as_str().unwrap(),
        )
        .await,
        403,
        "FORBIDDEN",
        "organizations:read",
    )
    .await;
    // Routes that do not take app tokens say so.
    for path in [
        "/api/v1/keys",
        "/api/v1/installations",
        "/api/v1/webhooks/endpoints",
    ] {
        assert_error_saying(
            app.get_as(path, &token).await,
            403,
            "FORBIDDEN",
            "does not accept app tokens",
        )
        .await;
    }
    // API-key routes too.
    let by_key_route = app
        .get_as(
            &format!("/api/v1/messages/{}", uuid::Uuid::now_v7()),
            &token,
        )
        .await;
    assert_error_saying(by_key_route, 403, "FORBIDDEN", "does not accept app tokens").await;
    // Another organization's event: as if it did not exist.
    let (stranger, _) = signed_in(app, "stranger@example.com").await;
    data(
        patch_as(
            app,
            "/api/v1/organization",
            &stranger,
            &json!({"name": "Stranger Two"}),
        )
        .await,
    )
    .await;
    let theirs = data(app.get_as("/api/v1/events", &stranger).await).await;
    let theirs = theirs[0]["id"]
        .as_str()
        .expect("an event of theirs")
        .to_owned();
    assert_error(
        app.get_as(&format!("/api/v1/events/{theirs}"), &token)
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    // A token that is not ours, or made up: 401.
    assert_error(
        app.get_as("/api/v1/organization", &format!("lla_{}", "0".repeat(64)))
            .await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    // People still get what they got (their permissions, unchanged).
    assert_error(
        app.get_as("/api/v1/events", &team.member).await,
        403,
        "FORBIDDEN",
    )
    .await;
    data(app.get_as("/api/v1/team/members", &team.member).await).await;

    // Metered under the installing organization.
    let org = team.org_id.clone();
    eventually("the app's requests metered", Duration::from_secs(10), async || {
        let n = app
            .count(
                "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM usage_hourly WHERE organization_id = $1 \
                 AND route LIKE 'GET /api/v1/organization%'",
                &[&org],
            )
            .await;
        (n >= 1).then_some(())
    })
    .await;
}

/// What the app's server saw: each notice, and for `app.uninstalled` the
/// status Landlord answered its token with at that moment.
#[derive(Clone, Default)]
struct AppServer {
    landlord: String,
    token: Arc<Mutex<Option<String>>>,
    notices: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    status_at_uninstall: Arc<Mutex<Option<u16>>>,
    /// The app's client id and secret, to introspect its token.
    client: Arc<Mutex<Option<(String, String)>>>,
    /// What introspection said of the token when `app.uninstalled` arrived.
    introspected_at_uninstall: Arc<Mutex<Option<Value>>>,
}

async fn hear(State(server): State<AppServer>, headers: HeaderMap, body: Bytes) -> &'static str {
    let notice: Value = serde_json::from_slice(&body).unwrap_or_default();
    if notice["type"] == "app.uninstalled" {
        let token = server.token.lock().unwrap().clone().unwrap_or_default();
        let status = reqwest::Client::new()
            .get(format!("{}/api/v1/organization", server.landlord))
            .bearer_auth(&token)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        let (client_id, secret) = server.client.lock().unwrap().clone().unwrap_or_default();
        let introspected = reqwest::Client::new()
            .post(format!("{}/oauth/introspect", server.landlord))
            .basic_auth(client_id, Some(secret))
            .form(&[("token", token.as_str())])
            .send()
            .await;
        let introspected = match introspected {
            Ok(answer) => answer.json::<Value>().await.unwrap_or_default(),
            Err(_) => Value::Null,
        };
        server
            .introspected_at_uninstall
            .lock()
            .unwrap()
            .get_or_insert(introspected);
        server
            .status_at_uninstall
            .lock()
            .unwrap()
            .get_or_insert(status);
    }
    server.notices.lock().unwrap().push((headers, body));
    "ok"
}

async fn uninstalling_revokes_the_tokens_before_the_app_hears_of_it(backend: Backend) {
    let team = Team::new(backend, "uninstall").await;
    let app = &team.app;
    let server = AppServer {
        landlord: format!("http://{}", app.address),
        ..AppServer::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let router = Router::new()
        .route("/hook", post(hear))
        .with_state(server.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let dev = publisher(
        app,
        "hooks-dev@example.com",
        json!({"organization_scopes": ["organizations:read", "events:read"], "webhook_url": hook}),
    )
    .await;
    publish(app, "notes").await;
    let installed = data(
        app.post_as(
            "/api/v1/installations",
            &team.owner,
            &json!({"app_id": dev.client_id(), "scopes": ["organizations:read"]}),
        )
        .await,
    )
    .await;
    let id = installed["id"].as_str().unwrap().to_owned();
    let notices = || server.notices.lock().unwrap().clone();
    eventually(
        "app.installed at the app",
        Duration::from_secs(30),
        async || (!notices().is_empty()).then_some(()),
    )
    .await;

    // The notice is signed with the secret of the app's endpoint, which
    // the publisher's owner reads like any endpoint's.
    let secret = data(
        app.get_as(
            &format!("/api/v1/webhooks/endpoints/{}/secret", dev.client_id()),
            &dev.token,
        )
        .await,
    )
    .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let (headers, body) = notices()[0].clone();
    assert!(signature_verifies(&secret, &headers, &body));
    let notice: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(notice["type"], "app.installed", "{notice}");
    assert_eq!(notice["data"]["installation_id"], id.as_str());
    assert_eq!(notice["data"]["organization_id"], team.org_id.as_str());
    assert_eq!(notice["data"]["scopes"], json!(["organizations:read"]));

    // More scopes: app.scopes_accepted.
    let path = format!("/api/v1/installations/{id}");
    data(
        patch_as(
            app,
            &path,
            &team.owner,
            &json!({"scopes": ["organizations:read", "events:read"]}),
        )
        .await,
    )
    .await;
    eventually(
        "app.scopes_accepted at the app",
        Duration::from_secs(30),
        async || (notices().len() >= 2).then_some(()),
    )
    .await;
    let (headers, body) = notices()[1].clone();
    assert!(signature_verifies(&secret, &headers, &body));
    let accepted: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(accepted["type"], "app.scopes_accepted", "{accepted}");
    assert_eq!(accepted["data"]["added_scopes"], json!(["events:read"]));

    // The app's token works, until the app is uninstalled.
    let token = installation_token(
        app,
        (dev.client_id(), dev.client_secret().unwrap()),
        &id,
        "",
    )
    .await
    .expect("a token")["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    *server.token.lock().unwrap() = Some(token.clone());
    *server.client.lock().unwrap() = Some((
        dev.client_id().to_owned(),
        dev.client_secret().unwrap().to_owned(),
    ));
    // Introspection sees it working (the same call the app makes later).
    let active = app
        .client
        .post(app.url("/oauth/introspect"))
        .basic_auth(dev.client_id(), dev.client_secret())
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("introspection");
    let active = json(active).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["organization_id"], team.org_id.as_str(), "{active}");
    data(app.get_as("/api/v1/organization", &token).await).await;

    // Members may not uninstall; owners and admins may.
    let by_member = app.delete_as(&path, &team.member).await;
    assert_error(by_member, 403, "FORBIDDEN").await;
    let ended = data(app.delete_as(&path, &team.admin).await).await;
    assert!(ended["uninstalled_at"].is_string(), "{ended}");
    // The token failed already when the app heard of it.
    let status = eventually(
        "app.uninstalled at the app",
        Duration::from_secs(30),
        async || *server.status_at_uninstall.lock().unwrap(),
    )
    .await;
    assert_eq!(status, 401, "the app's token still worked when it was told");
    let introspected = server.introspected_at_uninstall.lock().unwrap().clone();
    assert_eq!(
        introspected,
        Some(json!({"active": false})),
        "introspection when the app was told"
    );
    let (headers, body) = notices().last().unwrap().clone();
    assert!(signature_verifies(&secret, &headers, &body));
    let gone: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(gone["type"], "app.uninstalled");
    assert_eq!(gone["data"]["installation_id"], id.as_str());
    assert_error(
        app.get_as("/api/v1/organization", &token).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(
        installation_token(
            app,
            (dev.client_id(), dev.client_secret().unwrap()),
            &id,
            ""
        )
        .await,
        Err("invalid_grant".to_owned())
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM oauth_tokens WHERE installation_id = $1 AND revoked_at IS NULL",
            &[&id]
        )
        .await,
        0
    );
    // Gone from the list; still readable by id; twice is 404.
    let listed = data(app.get_as("/api/v1/installations", &team.owner).await).await;
    assert_eq!(listed, json!([]));
    assert!(data(app.get_as(&path, &team.owner).await).await["uninstalled_at"].is_string());
    assert_error(app.delete_as(&path, &team.owner).await, 404, "NOT_FOUND").await;

    // Catalog events in the installer's history; audited.
    let events = data(app.get_as("/api/v1/events", &team.owner).await).await;
    let types: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"app.installed") && types.contains(&"app.uninstalled"),
        "{types:?}"
    );
    let actions: Vec<String> = app.audit_actions().await.into_iter().map(|a| a.0).collect();
    assert!(
        actions.contains(&"app.uninstalled".to_string()),
        "{actions:?}"
    );

    // Installing again makes a new installation.
    let again = data(
        app.post_as(
            "/api/v1/installations",
            &team.owner,
            &json!({"app_id": dev.client_id(), "scopes": ["organizations:read"]}),
        )
        .await,
    )
    .await;
    assert_ne!(again["id"], id.as_str());
    eventually(
        "the second app.installed",
        Duration::from_secs(30),
        async || (notices().len() >= 4).then_some(()),
    )
    .await;

    // An app without a webhook address is sent nothing (and needs no endpoint).
    let quiet = another_app(
        app,
        &dev,
        json!({"slug": "quiet", "name": "Quiet", "client_type": "confidential",
               "redirect_uris": ["https://quiet.example.com/cb"]}),
    )
    .await;
    publish(app, "quiet").await;
    data(
        app.post_as(
            "/api/v1/installations",
            &team.owner,
            &json!({"app_id": quiet["id"], "scopes": []}),
        )
        .await,
    )
    .await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM webhook_endpoints WHERE id = $1",
            &[quiet["id"].as_str().unwrap()]
        )
        .await,
        0
    );
}
