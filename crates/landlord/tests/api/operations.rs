//! Liveness, readiness, metrics, security.txt, the OpenAPI document and
//! its interactive page — on SQLite and PostgreSQL.

use crate::backend_tests;
use crate::support::app::{assert_error, json};
use crate::support::errors::assert_error_saying;
use crate::support::redis::RedisServer;
use crate::support::{Backend, TestApp};

backend_tests!(
    health_answers_in_the_envelope,
    ready_checks_the_database,
    ready_answers_503_naming_the_database_when_it_is_down,
    migrations_created_the_schema,
    migrating_a_migrated_database_again_changes_nothing,
    expired_rows_are_purged_and_live_ones_kept,
);

async fn health_answers_in_the_envelope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body = json(response).await;
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["status"], "ok");
}

async fn ready_checks_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["data"]["status"], "ready");
    assert_eq!(body["data"]["checks"]["database"], "up");
    assert_eq!(body["data"]["checks"]["redis"], "not_configured");
}

async fn ready_answers_503_naming_the_database_when_it_is_down(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Closing the pool is what the server sees when the database goes away.
    app.db.close().await;
    let body = assert_error_saying(
        app.get("/health/ready").await,
        503,
        "SERVICE_UNAVAILABLE",
        "database",
    )
    .await;
    assert_eq!(body["error"]["details"]["checks"]["database"], "down");
    // Liveness does not depend on the database.
    assert_eq!(app.get("/health").await.status(), 200);
}

async fn migrations_created_the_schema(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Every table of the schema exists and is empty.
    for table in [
        "organizations",
        "users",
        "memberships",
        "refresh_sessions",
        "one_time_tokens",
        "invitations",
        "api_keys",
        "usage_records",
        "usage_hourly",
        "usage_cuts",
        "plan_changes",
        "billing_cycles",
        "payments",
        "provider_webhook_events",
        "reconciliation_discrepancies",
        "idempotency_keys",
        "jobs",
        "audit_log",
        "messages",
        "events",
        "event_usage_thresholds",
    ] {
        let (count,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(app.db.pool())
            .await
            .unwrap_or_else(|e| panic!("table {table} on {:?}: {e}", app.backend));
        assert_eq!(count, 0, "{table}");
    }
}

/// The server migrated the database at its start (core's and every
/// module's migrations, one set in version order): each version is recorded
/// with the checksum the binary embeds, and migrating again changes nothing.
async fn migrating_a_migrated_database_again_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let modules = landlord::routes::MODULE_MIGRATIONS;
    let embedded: Vec<(i64, Vec<u8>)> =
        landlord_core::db::backend_migrator(modules, app.db.backend())
            .unwrap()
            .iter()
            .map(|migration| (migration.version, migration.checksum.to_vec()))
            .collect();
    let before = schema_snapshot(&app).await;
    let applied: Vec<(i64, Vec<u8>)> = before
        .0
        .iter()
        .map(|(version, checksum, _)| (*version, checksum.clone()))
        .collect();
    assert_eq!(applied, embedded, "{:?}", app.backend);
    assert!(
        before.1.len() > applied.len(),
        "{:?}: {:?}",
        app.backend,
        before.1
    );
    app.db.migrate(modules).await.unwrap();
    assert_eq!(schema_snapshot(&app).await, before, "{:?}", app.backend);
}

/// The applied migrations (version, checksum, when) and the schema's tables,
/// columns and indexes.
async fn schema_snapshot(app: &TestApp) -> (Vec<(i64, Vec<u8>, String)>, Vec<(String, String)>) {
    let applied = sqlx::query_as(
        "SELECT version, checksum, CAST(installed_on AS TEXT) FROM _sqlx_migrations \
         WHERE success ORDER BY version",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    let schema_sql = match app.backend {
        Backend::Sqlite => "SELECT name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name",
        Backend::Postgres => {
            "SELECT CAST(table_name || '.' || column_name AS TEXT), \
             CAST(data_type || ' ' || is_nullable AS TEXT) \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             UNION ALL SELECT CAST(indexname AS TEXT), indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() ORDER BY 1, 2"
        }
    };
    let schema = sqlx::query_as(schema_sql)
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    (applied, schema)
}

#[tokio::test]
async fn ready_checks_redis_when_configured() {
    let Some(redis) = RedisServer::start("operations::ready_checks_redis_when_configured").await
    else {
        return;
    };
    let app =
        TestApp::spawn_with(Backend::Sqlite, |c| c.redis_url = Some(redis.url().into())).await;
    let body = json(app.get("/health/ready").await).await;
    assert_eq!(body["data"]["checks"]["redis"], "up", "{body}");

    drop(redis); // the server goes away
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let body = assert_error(app.get("/health/ready").await, 503, "SERVICE_UNAVAILABLE").await;
    assert_eq!(body["error"]["details"]["checks"]["redis"], "down");
    assert_eq!(body["error"]["details"]["checks"]["database"], "up");
    assert!(body["error"]["message"].as_str().unwrap().contains("redis"));
}

#[tokio::test]
async fn ready_reports_an_unreachable_redis() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.redis_url = Some(format!("redis://127.0.0.1:{port}").into())
    })
    .await;
    let body = assert_error(app.get("/health/ready").await, 503, "SERVICE_UNAVAILABLE").await;
    assert_eq!(body["error"]["details"]["checks"]["redis"], "down");
}

#[tokio::test]
async fn metrics_show_the_database_pool_in_use_and_idle() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // A write: its transaction waits for a connection, and says how long.
    let registered = app
        .post_json(
            "/api/v1/auth/register",
            &serde_json::json!({"organization_name": "Pool", "email": "pool@example.com", "password": "long enough pass"}),
        )
        .await;
    assert!(registered.status().is_success(), "{}", registered.status());
    let text = app.get("/metrics").await.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let in_use = value(r#"db_pool_connections{state="in_use"}"#);
    let idle = value(r#"db_pool_connections{state="idle"}"#);
    let max = value("db_pool_max_connections");
    assert!(max >= 1.0, "{max}");
    assert!(
        in_use >= 0.0 && idle >= 0.0 && in_use + idle <= max,
        "{in_use} {idle} {max}"
    );
    assert!(value("db_pool_acquire_seconds_count") >= 1.0);
    assert!(
        text.contains("db_pool_acquire_seconds_bucket{le=\"0.001\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_method_and_status() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for _ in 0..3 {
        app.get("/health").await;
    }
    app.get("/api/v1/nowhere").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    let health_line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains(r#"route="/health""#)
                && l.contains(r#"method="GET""#)
                && l.contains(r#"status="200""#)
        })
        .unwrap_or_else(|| panic!("no /health counter in:\n{text}"));
    let count: f64 = health_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{health_line}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "histogram"
    );
    assert!(
        text.contains("process_resident_memory_bytes"),
        "process figures"
    );
    // Unknown paths are not used as labels (cardinality stays bounded).
    assert!(!text.contains("/api/v1/nowhere"));
}

#[tokio::test]
async fn security_txt_publishes_the_configured_contact() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.security_contact = "mailto:sec@landlord.test".into();
        c.public_url = "https://api.landlord.test".into();
    })
    .await;
    let response = app.get("/.well-known/security.txt").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("Contact: mailto:sec@landlord.test"), "{text}");
    assert!(text.contains("Expires: "), "{text}");
    assert!(
        text.contains("Canonical: https://api.landlord.test/.well-known/security.txt"),
        "{text}"
    );
}

/// The published document, from a fresh server.
async fn openapi_document() -> serde_json::Value {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    json(response).await
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_the_operations_endpoints() {
    let doc = openapi_document().await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Landlord");
    for path in [
        "/health",
        "/health/ready",
        "/metrics",
        "/.well-known/security.txt",
    ] {
        let operation = &doc["paths"][path]["get"];
        assert!(operation.is_object(), "{path} missing from the document");
        assert!(
            operation["responses"]["200"].is_object(),
            "{path} has no 200"
        );
    }
    let ready_503 = &doc["paths"]["/health/ready"]["get"]["responses"]["503"];
    assert!(ready_503["content"]["application/json"]["schema"].is_object());
}

#[tokio::test]
async fn every_api_route_is_documented_with_schemas() {
    let doc = openapi_document().await;
    for (path, method) in [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/verify-email", "post"),
        ("/api/v1/auth/request-email-verification", "post"),
        ("/api/v1/auth/request-password-reset", "post"),
        ("/api/v1/auth/reset-password", "post"),
        ("/api/v1/auth/change-password", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/auth/me", "patch"),
        ("/api/v1/auth/organizations", "get"),
        ("/api/v1/auth/switch-organization", "post"),
        ("/api/v1/auth/sessions", "get"),
        ("/api/v1/auth/sessions", "delete"),
        ("/api/v1/auth/sessions/{id}", "delete"),
        ("/api/v1/team/invite", "post"),
        ("/api/v1/team/accept-invitation", "post"),
        ("/api/v1/team/decline-invitation", "post"),
        ("/api/v1/team/invitations", "get"),
        ("/api/v1/team/invitations/{id}", "delete"),
        ("/api/v1/team/members", "get"),
        ("/api/v1/team/members/{id}", "delete"),
        ("/api/v1/team/members/{id}/role", "put"),
        ("/api/v1/team/leave", "post"),
        ("/api/v1/team/transfer-ownership", "post"),
        ("/api/v1/organization", "get"),
        ("/api/v1/organization", "patch"),
        ("/api/v1/audit-log", "get"),
        ("/api/v1/events", "get"),
        ("/api/v1/events/{id}", "get"),
        ("/api/v1/webhooks/event-types", "get"),
        ("/api/v1/keys", "post"),
        ("/api/v1/keys", "get"),
        ("/api/v1/keys/{id}", "delete"),
        ("/api/v1/keys/{id}/transfer", "post"),
        ("/api/v1/keys/verify", "post"),
        ("/api/v1/messages/send", "post"),
        ("/api/v1/messages/{id}", "get"),
        ("/api/v1/billing/usage", "get"),
        ("/api/v1/billing/history", "get"),
        ("/api/v1/billing/calculate", "get"),
        ("/api/v1/billing/upgrade", "post"),
        ("/api/v1/billing/scheduled-change", "delete"),
        ("/api/v1/billing/initiate-payment", "post"),
        ("/api/v1/dashboard/stats", "get"),
        ("/api/v1/dashboard/usage-graph", "get"),
        ("/api/v1/dashboard/api-keys", "get"),
        ("/api/v1/webhooks/stripe", "post"),
        ("/api/v1/webhooks/paystack", "post"),
        ("/api/v1/admin/figures", "get"),
        ("/api/v1/admin/webhook-events", "get"),
        ("/api/v1/admin/webhook-events/{id}/replay", "post"),
        ("/api/v1/admin/discrepancies", "get"),
        ("/api/v1/admin/discrepancies/{id}/resolve", "post"),
        ("/api/v1/admin/billing/close-period", "post"),
        ("/api/v1/admin/organizations", "get"),
        ("/api/v1/admin/organizations/{id}/plan", "post"),
        ("/api/v1/admin/jobs", "get"),
        ("/api/v1/admin/jobs/{id}/retry", "post"),
        ("/api/v1/admin/alerts", "get"),
    ] {
        let operation = &doc["paths"][path][method];
        assert!(
            operation.is_object(),
            "{method} {path} missing from the document"
        );
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses
                .values()
                .all(|r| r["content"]["application/json"]["schema"].is_object()),
            "{method} {path}: every answer has a schema"
        );
        if method == "post" && operation.get("requestBody").is_none() {
            assert!(
                path.ends_with("logout")
                    || path.ends_with("leave")
                    || path.ends_with("replay")
                    || path.ends_with("resolve")
                    || path.ends_with("retry")
                    || path.ends_with("transfer"),
                "{path} has no request body schema"
            );
        }
    }
}

#[tokio::test]
async fn the_permission_policy_and_security_schemes_are_published() {
    let doc = openapi_document().await;
    assert!(doc["paths"]["/api/v1/auth/me"]["get"]["security"].is_array());
    // The permission policy is published with the document.
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(
        description.contains("| `invite_members` | yes | yes | no |"),
        "{description}"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
}

#[tokio::test]
async fn test_routes_are_never_published() {
    let doc = openapi_document().await;
    assert!(doc["paths"].get("/__test/panic").is_none());
}

#[tokio::test]
async fn every_operation_declares_the_statuses_of_the_shared_layers() {
    let doc = openapi_document().await;
    let statuses = |path: &str, method: &str| -> Vec<String> {
        doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} missing"))
            .keys()
            .cloned()
            .collect()
    };
    // Every operation: a failure (500) and the timeout (503).
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for status in ["500", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path}: no {status}"
                );
            }
        }
    }
    // A JSON body: unreadable (400), too large (413), a wrong field (422);
    // a sensitive route: 429.
    let register = statuses("/api/v1/auth/register", "post");
    for status in ["400", "413", "422", "429"] {
        assert!(
            register.contains(&status.to_string()),
            "register: {register:?}"
        );
    }
    // Signed-in routes: 401; query parameters: 422.
    let keys = statuses("/api/v1/keys", "get");
    for status in ["401", "422"] {
        assert!(keys.contains(&status.to_string()), "keys: {keys:?}");
    }
    // API-key routes: 401 and 429.
    let message = statuses("/api/v1/messages/{id}", "get");
    for status in ["401", "404", "429"] {
        assert!(
            message.contains(&status.to_string()),
            "messages: {message:?}"
        );
    }
    // Unconfigured providers answer 503; bad signatures 400.
    let stripe = statuses("/api/v1/webhooks/stripe", "post");
    for status in ["400", "503"] {
        assert!(stripe.contains(&status.to_string()), "stripe: {stripe:?}");
    }
}

#[tokio::test]
async fn request_schemas_state_the_rules_the_server_enforces() {
    let doc = openapi_document().await;
    let schemas = &doc["components"]["schemas"];
    let email = &schemas["EmailAddress"];
    assert_eq!(email["maxLength"], 254);
    assert_eq!(
        email["pattern"].as_str().unwrap(),
        landlord_identity::validation::EMAIL_PATTERN
    );
    assert_eq!(schemas["Name"]["minLength"], 1);
    assert_eq!(schemas["Name"]["maxLength"], 100);
    assert_eq!(
        schemas["RegisterRequest"]["properties"]["email"]["$ref"],
        "#/components/schemas/EmailAddress"
    );
    assert_eq!(
        schemas["RegisterRequest"]["properties"]["password"]["minLength"],
        8
    );
    assert_eq!(
        schemas["RegisterRequest"]["properties"]["password"]["maxLength"],
        128
    );
    // The plan names come from the configured catalog.
    assert_eq!(
        schemas["UpgradeRequest"]["properties"]["plan"]["enum"],
        serde_json::json!(["free", "pro", "starter"])
    );
    assert_eq!(
        schemas["Role"]["enum"],
        serde_json::json!(["owner", "admin", "member"])
    );
    assert_eq!(schemas["UpdateOrganizationRequest"]["minProperties"], 1);
    let rate = &schemas["CreateKeyRequest"]["properties"]["rate_limit_per_minute"];
    assert_eq!(rate["minimum"], 1);
    assert_eq!(rate["maximum"], 1_000_000);
    // Pages: limit 1–100 and a UUID cursor, on every list.
    for path in [
        "/api/v1/keys",
        "/api/v1/team/members",
        "/api/v1/team/invitations",
        "/api/v1/audit-log",
        "/api/v1/events",
        "/api/v1/billing/history",
    ] {
        let parameters = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let limit = parameters.iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!(limit["schema"]["minimum"], 1, "{path}");
        assert_eq!(limit["schema"]["maximum"], 100, "{path}");
        let cursor = parameters.iter().find(|p| p["name"] == "cursor").unwrap();
        assert!(
            cursor["schema"]["pattern"]
                .as_str()
                .unwrap()
                .contains("[0-9a-fA-F]{8}"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn docs_serve_an_interactive_page_from_the_binary() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.get("/docs/").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    // Its assets come from this server, not a CDN.
    assert!(!html.contains("https://"), "external asset in {html}");
    let initializer = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status(), 200);
    assert!(initializer.text().await.unwrap().contains("/openapi.json"));
    assert_eq!(app.get("/docs/swagger-ui-bundle.js").await.status(), 200);
}

async fn expired_rows_are_purged_and_live_ones_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app
        .post_json(
            "/api/v1/auth/register",
            &serde_json::json!({"organization_name": "Purge", "email": "purge@example.com", "password": "long enough pass"}),
        )
        .await;
    assert_eq!(registered.status(), 201);
    let old = 1_000i64; // 1970: long expired
    for sql in [
        "UPDATE one_time_tokens SET expires_at = $1",
        "INSERT INTO jobs (id, kind, payload, status, attempts, run_at, created_at, updated_at) VALUES ('old-done', 'x', '{}', 'done', 1, $1, $1, $1)",
        "INSERT INTO jobs (id, kind, payload, status, attempts, run_at, created_at, updated_at) VALUES ('old-dead', 'x', '{}', 'dead', 8, $1, $1, $1)",
    ] {
        sqlx::query(sql).bind(old).execute(app.db.pool()).await.unwrap();
    }
    let removed = landlord::maintenance::purge(&app.db).await.unwrap();
    assert!(removed >= 2, "{removed}");
    let count = |sql: &'static str| {
        let pool = app.db.pool().clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&pool).await.unwrap();
            n
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM one_time_tokens").await, 0);
    assert_eq!(
        count("SELECT COUNT(*) FROM jobs WHERE id = 'old-done'").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM jobs WHERE id = 'old-dead'").await,
        1,
        "dead letters stay"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM refresh_sessions").await,
        1,
        "a live session stays"
    );
    assert_eq!(count("SELECT COUNT(*) FROM users").await, 1);
}

/// A SQLite database made before stores could apply without a payout
/// account: the rebuild of `marketplace_vendors` keeps its stores, and
/// deletes none of the products that refer to them.
#[tokio::test]
async fn the_vendor_table_rebuild_keeps_stores_and_their_products() {
    use landlord_core::config::DatabaseKind;
    use landlord_core::db::{backend_migrator, Db};
    use sqlx::migrate::Migrator;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let db = Db::connect_url(&url, DatabaseKind::Sqlite, 2)
        .await
        .unwrap();
    let all = backend_migrator(landlord::routes::MODULE_MIGRATIONS, DatabaseKind::Sqlite).unwrap();
    let old = Migrator {
        migrations: std::borrow::Cow::Owned(
            all.iter()
                .filter(|m| m.version < 20261206110001)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    old.run(db.pool()).await.unwrap();
    for statement in [
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('o1', 'Pots', 1, 1)",
        "INSERT INTO marketplace_vendors (organization_id, store_name, slug, payout_provider, \
         payout_account, status, created_at, updated_at) \
         VALUES ('o1', 'Pots', 'pots', 'stripe', 'acct_pots', 'approved', 1, 1)",
        "INSERT INTO marketplace_products (id, vendor_id, title, slug, price, currency, stock, \
         status, created_at, updated_at) \
         VALUES ('p1', 'o1', 'Pot', 'pot', 100, 'USD', 3, 'active', 1, 1)",
    ] {
        db.execute_raw(statement).await.unwrap();
    }
    db.migrate(landlord::routes::MODULE_MIGRATIONS)
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(db.pool()).await.unwrap();
            n
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM marketplace_products").await, 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM marketplace_vendors WHERE payout_account = 'acct_pots'").await,
        1
    );
    assert_eq!(count("PRAGMA foreign_keys").await, 1);
    // The new rules: no account, and a rejected application.
    db.execute_raw(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('o2', 'Mugs', 1, 1)",
    )
    .await
    .unwrap();
    db.execute_raw(
        "INSERT INTO marketplace_vendors (organization_id, store_name, slug, status, \
         created_at, updated_at) VALUES ('o2', 'Mugs', 'mugs', 'rejected', 1, 1)",
    )
    .await
    .unwrap();
    assert!(db
        .execute_raw(
            "UPDATE marketplace_vendors SET payout_provider = 'stripe' WHERE organization_id = 'o2'",
        )
        .await
        .is_err(),
        "a provider without an account is refused");
    // Deleting the store still deletes its products: the keys survived.
    db.execute_raw("DELETE FROM marketplace_vendors WHERE organization_id = 'o1'")
        .await
        .unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM marketplace_products").await, 0);
}
