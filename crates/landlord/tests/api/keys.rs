//! API keys, rate limits, quotas, metering and the messaging API — on
//! SQLite and PostgreSQL, with Redis for shared limits.

use std::time::Duration;

use serde_json::json;

use crate::backend_tests;
use crate::support::accounts::{app_with_smtp, signed_in, token_of, PASSWORD};
use crate::support::app::{assert_error, json, smtp_to};
use crate::support::billing::planted_counters;
use crate::support::errors::assert_error_saying;
use crate::support::eventually::eventually;
use crate::support::keys::{
    create_key, email_message, message_view, metered_traffic, set_plan, wait_until_sent,
    MeteredTraffic,
};
use crate::support::redis::RedisServer;
use crate::support::smtp::SmtpServer;
use crate::support::{Backend, TestApp};

backend_tests!(
    keys_are_created_used_listed_and_revoked_at_once,
    every_key_of_a_creator_names_them,
    bad_keys_answer_401_each_with_its_reason,
    members_revoke_only_their_own_keys,
    keys_of_another_organization_answer_404,
    a_free_organization_is_held_to_10_requests_a_minute,
    a_free_organization_stops_at_its_1000th_request_of_the_month,
    per_key_limits_and_scopes_apply,
    every_answered_request_is_metered_once_with_its_route_template,
    usage_and_dashboard_figures_show_the_metered_requests,
    the_usage_graph_counts_by_day_and_filters_by_key,
    the_usage_graph_refuses_bad_ranges,
    key_verification_for_other_services,
    email_messages_are_delivered_over_smtp,
    email_messages_to_a_refused_address_fail_and_suppress_it,
    sms_messages_and_invalid_addresses,
    idempotent_replays_and_conflicts,
);

/// Three keys of one person: the list names their creator on each, not
/// only on the first.
async fn every_key_of_a_creator_names_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = signed_in(&app, "maker@example.com").await;
    for name in ["one", "two", "three"] {
        create_key(&app, &token, json!({ "name": name })).await;
    }
    let list = json(app.get_as("/api/v1/keys", &token).await).await;
    let keys = list["data"].as_array().expect("the keys");
    assert_eq!(keys.len(), 3, "{list}");
    for key in keys {
        assert_eq!(key["created_by_email"], "maker@example.com", "{key}");
    }
}

async fn keys_are_created_used_listed_and_revoked_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = signed_in(&app, "keys@example.com").await;
    let created = create_key(&app, &token, json!({"name": "backend"})).await;
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk_live_") && key.len() == 8 + 64, "{key}");
    assert!(key[8..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created["prefix"], &key[..16]);
    assert_eq!(created["name"], "backend");
    // Only the hash is stored.
    let (stored,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM api_keys WHERE key_hash = $1 OR prefix = $1")
            .bind(&key)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(stored, 0);

    // Used through either header.
    let sent = app
        .send_message(&key, &email_message("a@example.com"), None)
        .await;
    assert_eq!(sent.status(), 202);
    let id = json(sent).await["data"]["id"].as_str().unwrap().to_string();
    let by_bearer = app
        .client
        .get(app.url(&format!("/api/v1/messages/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(by_bearer.status(), 200);

    let list = json(app.get_as("/api/v1/keys", &token).await).await;
    let listed = &list["data"][0];
    assert_eq!(listed["prefix"], created["prefix"]);
    assert_eq!(listed["status"], "active");
    assert_eq!(listed["created_by_email"], "keys@example.com");
    assert!(listed.get("key").is_none(), "the secret is never listed");
    // last_used_at is kept (by the batched usage writer).
    eventually(
        "last_used_at to be set",
        Duration::from_secs(5),
        async || {
            let list = json(app.get_as("/api/v1/keys", &token).await).await;
            list["data"][0]["last_used_at"].is_string().then_some(())
        },
    )
    .await;

    let key_id = created["id"].as_str().unwrap();
    let revoked = app
        .delete_as(&format!("/api/v1/keys/{key_id}"), &token)
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(json(revoked).await["data"]["status"], "revoked");
    // Refused at once.
    let refused = app
        .send_message(&key, &email_message("a@example.com"), None)
        .await;
    assert_error_saying(refused, 401, "UNAUTHORIZED", "revoked").await;

    // Bad input names the field.
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (
            json!({"name": "x", "expires_at": "2000-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (json!({"name": "x", "expires_at": "soon"}), "expires_at"),
        (json!({"name": "x", "scopes": ["Not A Scope"]}), "scopes"),
        (
            json!({"name": "x", "rate_limit_per_minute": 0}),
            "rate_limit_per_minute",
        ),
    ] {
        let error = assert_error(
            app.post_as("/api/v1/keys", &token, &body).await,
            422,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(
            error["error"]["details"]["fields"][0]["field"], field,
            "{body}"
        );
    }
}

async fn bad_keys_answer_401_each_with_its_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = signed_in(&app, "bad@example.com").await;
    let revoked = create_key(&app, &token, json!({"name": "old"})).await;
    app.delete_as(
        &format!("/api/v1/keys/{}", revoked["id"].as_str().unwrap()),
        &token,
    )
    .await;
    let expiring = create_key(
        &app,
        &token,
        json!({"name": "short", "expires_at": "2999-01-01T00:00:00Z"}),
    )
    .await;
    sqlx::query("UPDATE api_keys SET expires_at = 1 WHERE id = $1")
        .bind(expiring["id"].as_str().unwrap())
        .execute(app.db.pool())
        .await
        .unwrap();
    let path = "/api/v1/messages/00000000-0000-7000-8000-000000000000";
    let missing = app.get(path).await;
    let mut messages =
        vec![assert_error(missing, 401, "UNAUTHORIZED").await["error"]["message"].clone()];
    for (key, word) in [
        ("sk_live_tooshort".to_string(), "malformed"),
        (format!("sk_live_{}", "0".repeat(64)), "unknown"),
        (revoked["key"].as_str().unwrap().to_string(), "revoked"),
        (expiring["key"].as_str().unwrap().to_string(), "expired"),
    ] {
        let body = assert_error(
            app.with_key(reqwest::Method::GET, path, &key).await,
            401,
            "UNAUTHORIZED",
        )
        .await;
        let message = body["error"]["message"].clone();
        assert!(
            message.as_str().unwrap().contains(word),
            "{word}: {message}"
        );
        messages.push(message);
    }
    assert!(messages[0].as_str().unwrap().contains("missing"));
    let distinct: std::collections::HashSet<String> =
        messages.iter().map(|m| m.to_string()).collect();
    assert_eq!(distinct.len(), 5, "each reason has its own message");
    // A person's access token is not an API key.
    assert_error(app.get_as(path, &token).await, 401, "UNAUTHORIZED").await;
}

async fn members_revoke_only_their_own_keys(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let (owner, _) = signed_in(&app, "own@example.com").await;
    app.post_as(
        "/api/v1/team/invite",
        &owner,
        &json!({"email": "mem@example.com", "role": "member"}),
    )
    .await;
    let token = smtp
        .wait_for_subject("mem@example.com", "invited you")
        .await
        .token()
        .unwrap();
    let accepted = json(
        app.post_json(
            "/api/v1/team/accept-invitation",
            &json!({"token": token, "password": PASSWORD}),
        )
        .await,
    )
    .await;
    let member = token_of(&accepted["data"]["session"], "access_token");
    let owners_key = create_key(&app, &owner, json!({"name": "owner's"})).await;
    let members_key = create_key(&app, &member, json!({"name": "member's"})).await;
    assert_error_saying(
        app.delete_as(
            &format!("/api/v1/keys/{}", owners_key["id"].as_str().unwrap()),
            &member,
        )
        .await,
        403,
        "FORBIDDEN",
        "revoke_any_api_key",
    )
    .await;
    assert_eq!(
        app.delete_as(
            &format!("/api/v1/keys/{}", members_key["id"].as_str().unwrap()),
            &member
        )
        .await
        .status(),
        200
    );
    // The owner may revoke anyone's.
    let another = create_key(&app, &member, json!({"name": "member's second"})).await;
    assert_eq!(
        app.delete_as(
            &format!("/api/v1/keys/{}", another["id"].as_str().unwrap()),
            &owner
        )
        .await
        .status(),
        200
    );
    let _ = smtp;
}

async fn keys_of_another_organization_answer_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (a, _) = signed_in(&app, "a@example.com").await;
    let (b, _) = signed_in(&app, "b@example.com").await;
    let b_key = create_key(&app, &b, json!({"name": "b"})).await;
    let b_secret = b_key["key"].as_str().unwrap().to_string();
    let b_id = b_key["id"].as_str().unwrap().to_string();
    assert_error(
        app.delete_as(&format!("/api/v1/keys/{b_id}"), &a).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let list = json(app.get_as("/api/v1/keys", &a).await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    // B's key still works, and B's message is not A's to read.
    let sent = app
        .send_message(&b_secret, &email_message("x@example.com"), None)
        .await;
    let message_id = json(sent).await["data"]["id"].as_str().unwrap().to_string();
    let a_key = create_key(&app, &a, json!({"name": "a"})).await;
    let a_secret = a_key["key"].as_str().unwrap();
    assert_error(
        app.with_key(
            reqwest::Method::GET,
            &format!("/api/v1/messages/{message_id}"),
            a_secret,
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(
        app.with_key(
            reqwest::Method::GET,
            &format!("/api/v1/messages/{message_id}"),
            &b_secret
        )
        .await
        .status(),
        200
    );
    // A's usage views show none of B's traffic.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let usage = json(app.get_as("/api/v1/dashboard/api-keys", &a).await).await;
    assert!(usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["key_id"] != b_id.as_str()));
    let graph = json(
        app.get_as(&format!("/api/v1/dashboard/usage-graph?key_id={b_id}"), &a)
            .await,
    )
    .await;
    assert!(graph["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["requests"] == 0));
    let (b_status,): (Option<i64>,) =
        sqlx::query_as("SELECT revoked_at FROM api_keys WHERE id = $1")
            .bind(&b_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(b_status.is_none(), "B's key untouched");
}

async fn a_free_organization_is_held_to_10_requests_a_minute(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = signed_in(&app, "free@example.com").await;
    let key = create_key(&app, &token, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let path = "/api/v1/messages/00000000-0000-7000-8000-000000000000";
    for n in 0..10u32 {
        let response = app.with_key(reqwest::Method::GET, path, &key).await;
        assert_eq!(response.status(), 404, "request {n} passes the limit");
        let headers = response.headers();
        assert_eq!(headers["x-ratelimit-limit"], "10");
        assert_eq!(
            headers["x-ratelimit-remaining"],
            (9 - n).to_string().as_str()
        );
        let reset: u64 = headers["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(reset >= now && reset <= now + 61, "reset {reset} now {now}");
        assert_eq!(headers["ratelimit-policy"], "\"plan\";q=10;w=60");
        assert!(headers["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with(&format!("\"plan\";r={};t=", 9 - n)));
    }
    let limited = app.with_key(reqwest::Method::GET, path, &key).await;
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=6).contains(&retry),
        "Retry-After {retry}: one request every 6 s"
    );
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert_error(limited, 429, "RATE_LIMITED").await;
}

async fn a_free_organization_stops_at_its_1000th_request_of_the_month(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, data) = signed_in(&app, "cap@example.com").await;
    let org = data["organization"]["id"].as_str().unwrap().to_string();
    let key = create_key(&app, &token, json!({"name": "k"})).await;
    // 995 requests already metered this month.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut tx = app.db.pool().begin().await.unwrap();
    for _ in 0..995 {
        sqlx::query("INSERT INTO usage_records (organization_id, api_key_id, endpoint, method, status, created_at) VALUES ($1, $2, '/api/v1/messages/send', 'POST', 202, $3)")
            .bind(&org)
            .bind(key["id"].as_str().unwrap())
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    planted_counters(&app, &org, key["id"].as_str().unwrap(), 995, now).await;
    let secret = key["key"].as_str().unwrap();
    let path = "/api/v1/messages/00000000-0000-7000-8000-000000000000";
    for n in 996..=1000 {
        assert_eq!(
            app.with_key(reqwest::Method::GET, path, secret)
                .await
                .status(),
            404,
            "request {n}"
        );
    }
    let over = app.with_key(reqwest::Method::GET, path, secret).await;
    let retry: i64 = over.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        retry > 0 && retry <= 31 * 24 * 3600,
        "until the month ends: {retry}"
    );
    let body = assert_error_saying(over, 429, "QUOTA_EXCEEDED", "1000").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("resets at"));
    assert_eq!(
        app.wait_for_usage(&org, 1000).await,
        1000,
        "the refused request is not metered"
    );
    let usage = json(app.get_as("/api/v1/billing/usage", &token).await).await;
    assert_eq!(usage["data"]["used"], 1000);
    assert_eq!(usage["data"]["remaining"], 0);
    assert_eq!(usage["data"]["included"], 1000);
}

async fn per_key_limits_and_scopes_apply(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, data) = signed_in(&app, "scoped@example.com").await;
    set_plan(&app, data["organization"]["id"].as_str().unwrap(), "pro").await;
    let slow = create_key(
        &app,
        &token,
        json!({"name": "slow", "rate_limit_per_minute": 2}),
    )
    .await;
    let path = "/api/v1/messages/00000000-0000-7000-8000-000000000000";
    let slow_key = slow["key"].as_str().unwrap();
    assert_eq!(
        app.with_key(reqwest::Method::GET, path, slow_key)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.with_key(reqwest::Method::GET, path, slow_key)
            .await
            .status(),
        404
    );
    assert_error(
        app.with_key(reqwest::Method::GET, path, slow_key).await,
        429,
        "RATE_LIMITED",
    )
    .await;

    let read_only = create_key(
        &app,
        &token,
        json!({"name": "reader", "scopes": ["messages:read"]}),
    )
    .await;
    let reader = read_only["key"].as_str().unwrap();
    assert_eq!(
        app.with_key(reqwest::Method::GET, path, reader)
            .await
            .status(),
        404
    );
    assert_error_saying(
        app.send_message(reader, &email_message("a@example.com"), None)
            .await,
        403,
        "FORBIDDEN",
        "messages:send",
    )
    .await;
}

async fn every_answered_request_is_metered_once_with_its_route_template(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let traffic = metered_traffic(&app, "meter@example.com").await;
    let (templated,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM usage_records WHERE organization_id = $1 AND endpoint = '/api/v1/messages/{id}' AND method = 'GET' AND status = 404")
        .bind(&traffic.organization_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(
        templated, 10,
        "route templates, methods and statuses are recorded"
    );
}

async fn usage_and_dashboard_figures_show_the_metered_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let MeteredTraffic {
        token, answered, ..
    } = metered_traffic(&app, "meter@example.com").await;
    let usage = json(app.get_as("/api/v1/billing/usage", &token).await).await["data"].clone();
    assert_eq!(usage["used"], answered);
    assert_eq!(usage["plan"], "pro");
    assert!(usage["included"].is_null() && usage["remaining"].is_null());
    let stats = json(app.get_as("/api/v1/dashboard/stats", &token).await).await["data"].clone();
    assert_eq!(stats["requests_today"], answered);
    assert_eq!(stats["requests_this_month"], answered);
    assert_eq!(stats["active_api_keys"], 1);
    let per_key =
        json(app.get_as("/api/v1/dashboard/api-keys", &token).await).await["data"].clone();
    assert_eq!(per_key[0]["requests_this_month"], answered);
}

async fn the_usage_graph_counts_by_day_and_filters_by_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let MeteredTraffic {
        token,
        key,
        answered,
        ..
    } = metered_traffic(&app, "meter@example.com").await;
    let graph =
        json(app.get_as("/api/v1/dashboard/usage-graph", &token).await).await["data"].clone();
    let days = graph.as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days.last().unwrap()["requests"], answered);
    assert_eq!(
        days.iter()
            .map(|d| d["requests"].as_i64().unwrap())
            .sum::<i64>(),
        answered
    );
    let key_id = key["id"].as_str().unwrap();
    let today = days.last().unwrap()["date"].as_str().unwrap().to_string();
    let filtered = json(
        app.get_as(
            &format!("/api/v1/dashboard/usage-graph?key_id={key_id}&from={today}&to={today}"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(
        filtered["data"],
        json!([{"date": today, "requests": answered}])
    );
    let other_key = json!({"date": today, "requests": 0});
    let none = json(
        app.get_as(
            &format!(
                "/api/v1/dashboard/usage-graph?key_id={}&from={today}&to={today}",
                uuid::Uuid::now_v7()
            ),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(none["data"], json!([other_key]));
}

async fn the_usage_graph_refuses_bad_ranges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = signed_in(&app, "meter@example.com").await;
    for bad in [
        "from=yesterday",
        "from=2026-02-01&to=2026-01-01",
        "from=2020-01-01&to=2026-01-01",
    ] {
        assert_error(
            app.get_as(&format!("/api/v1/dashboard/usage-graph?{bad}"), &token)
                .await,
            422,
            "VALIDATION_ERROR",
        )
        .await;
    }
}

async fn key_verification_for_other_services(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, data) = signed_in(&app, "verify@example.com").await;
    let org = data["organization"]["id"].as_str().unwrap().to_string();
    let key = create_key(
        &app,
        &token,
        json!({"name": "k", "scopes": ["messages:send"]}),
    )
    .await;
    let verdict = json(
        app.post_json("/api/v1/keys/verify", &json!({"key": key["key"]}))
            .await,
    )
    .await["data"]
        .clone();
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["allowed"], true);
    assert_eq!(verdict["organization_id"], org.as_str());
    assert_eq!(verdict["key_id"], key["id"]);
    assert_eq!(verdict["plan"], "free");
    assert_eq!(verdict["scopes"], json!(["messages:send"]));
    assert_eq!(verdict["rate_limit"]["limit"], 10);
    assert_eq!(verdict["rate_limit"]["remaining"], 9);
    assert_eq!(verdict["quota"]["included"], 1000);
    assert_eq!(verdict["quota"]["used"], 1);
    assert_eq!(verdict["quota"]["remaining"], 999);
    let unknown = json(
        app.post_json(
            "/api/v1/keys/verify",
            &json!({"key": format!("sk_live_{}", "1".repeat(64))}),
        )
        .await,
    )
    .await;
    assert_eq!(unknown["data"]["valid"], false);
    assert_eq!(unknown["data"]["reason"], "unknown");
    assert!(unknown["data"]["organization_id"].is_null());
    // Each verification is one metered request.
    assert_eq!(app.wait_for_usage(&org, 1).await, 1);
    for _ in 0..9 {
        app.post_json("/api/v1/keys/verify", &json!({"key": key["key"]}))
            .await;
    }
    let limited = json(
        app.post_json("/api/v1/keys/verify", &json!({"key": key["key"]}))
            .await,
    )
    .await["data"]
        .clone();
    assert_eq!(limited["valid"], true);
    assert_eq!(limited["allowed"], false);
    assert_eq!(limited["reason"], "rate_limited");
    assert_eq!(app.wait_for_usage(&org, 10).await, 10);
}

async fn email_messages_are_delivered_over_smtp(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, |c| smtp_to(c, port)).await;
    let (token, _) = signed_in(&app, "sender@example.com").await;
    let key = create_key(&app, &token, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = app
        .send_message(&key, &email_message("Customer@Example.com"), None)
        .await;
    assert_eq!(sent.status(), 202);
    let message = json(sent).await["data"].clone();
    assert_eq!(message["status"], "queued");
    assert_eq!(message["to"], "customer@example.com");
    let id = message["id"].as_str().unwrap().to_string();
    let mail = smtp.wait_for_subject("customer@example.com", "Hello").await;
    assert!(mail.decoded().contains("this is a test."));
    let view = wait_until_sent(&app, &key, &id).await;
    assert!(view["sent_at"].is_string());
}

async fn email_messages_to_a_refused_address_fail_and_suppress_it(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.refuse_recipient("gone@example.com");
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, |c| smtp_to(c, port)).await;
    let (token, _) = signed_in(&app, "sender@example.com").await;
    let key = create_key(&app, &token, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let message_status = async |id: &str| {
        eventually(
            format_args!("message {id} to fail"),
            Duration::from_secs(15),
            async || {
                let view = message_view(&app, &key, id).await;
                (view["status"] == "failed").then_some(view)
            },
        )
        .await
    };

    // The SMTP server answers 550: the message fails at once, with the
    // server's words, and the address is suppressed.
    let sent = app
        .send_message(&key, &email_message("Gone@Example.com"), None)
        .await;
    assert_eq!(sent.status(), 202);
    let first = json(sent).await["data"]["id"].as_str().unwrap().to_string();
    let view = message_status(&first).await;
    let reason = view["failure_reason"].as_str().unwrap();
    assert!(reason.contains("550"), "{reason}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM mail_suppressions WHERE address = 'gone@example.com'",
            &[]
        )
        .await,
        1
    );

    // The next one to it is not handed to the server, even though it
    // would take it now.
    smtp.accept_recipient("gone@example.com");
    let sent = app
        .send_message(&key, &email_message("gone@example.com"), None)
        .await;
    let second = json(sent).await["data"]["id"].as_str().unwrap().to_string();
    let view = message_status(&second).await;
    let reason = view["failure_reason"].as_str().unwrap();
    assert!(reason.contains("suppression list"), "{reason}");
    assert!(
        smtp.received().iter().all(|m| !m
            .to
            .iter()
            .any(|t| t.eq_ignore_ascii_case("gone@example.com"))),
        "nothing reached the server for the suppressed address"
    );

    // Other addresses are mailed as before.
    let sent = app
        .send_message(&key, &email_message("other@example.com"), None)
        .await;
    let third = json(sent).await["data"]["id"].as_str().unwrap().to_string();
    smtp.wait_for_subject("other@example.com", "Hello").await;
    wait_until_sent(&app, &key, &third).await;
}

async fn sms_messages_and_invalid_addresses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, data) = signed_in(&app, "sms@example.com").await;
    set_plan(&app, data["organization"]["id"].as_str().unwrap(), "pro").await;
    let key = create_key(&app, &token, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = app
        .send_message(
            &key,
            &json!({"channel": "sms", "to": "+14155550123", "body": "Your code is 123456"}),
            None,
        )
        .await;
    assert_eq!(sent.status(), 202);
    let id = json(sent).await["data"]["id"].as_str().unwrap().to_string();
    // No SMS provider, on loopback: the development outbox writes a file,
    // and the message says it was simulated, not sent.
    eventually(
        format_args!("message {id} to be simulated"),
        Duration::from_secs(10),
        async || (message_view(&app, &key, &id).await["status"] == "simulated").then_some(()),
    )
    .await;
    let file = std::fs::read_dir(app.data_dir().join("sms"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains("+14155550123") && text.contains("123456"));

    for (body, field) in [
        (
            json!({"channel": "email", "to": "not-an-email", "subject": "s", "body": "b"}),
            "to",
        ),
        (
            json!({"channel": "sms", "to": "4155550123", "body": "b"}),
            "to",
        ),
        (
            json!({"channel": "sms", "to": "+1 415 555 0123", "body": "b"}),
            "to",
        ),
        (
            json!({"channel": "email", "to": "a@example.com", "body": "b"}),
            "subject",
        ),
        (
            json!({"channel": "email", "to": "a@example.com", "subject": "s", "body": " "}),
            "body",
        ),
        (
            json!({"channel": "fax", "to": "a@example.com", "body": "b"}),
            "channel",
        ),
        (
            json!({"channel": "sms", "to": "+14155550123", "body": "x".repeat(10_001)}),
            "body",
        ),
    ] {
        let error = assert_error(
            app.send_message(&key, &body, None).await,
            422,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(
            error["error"]["details"]["fields"][0]["field"], field,
            "{body}"
        );
    }
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(count, 1, "refused messages are not stored");
}

async fn idempotent_replays_and_conflicts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = signed_in(&app, "idem@example.com").await;
    let key = create_key(&app, &token, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let body = email_message("once@example.com");
    let first = app.send_message(&key, &body, Some("order-42")).await;
    assert_eq!(first.status(), 202);
    let first = json(first).await;
    let replay = app.send_message(&key, &body, Some("order-42")).await;
    assert_eq!(replay.status(), 202);
    assert_eq!(json(replay).await, first, "the first answer, again");
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(count, 1, "one message for one key");
    let conflict = app
        .send_message(&key, &email_message("other@example.com"), Some("order-42"))
        .await;
    assert_error(conflict, 409, "IDEMPOTENCY_CONFLICT").await;
    // Another organization may use the same key string independently.
    let (other_token, _) = signed_in(&app, "idem2@example.com").await;
    let other_key = create_key(&app, &other_token, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = json(app.send_message(&other_key, &body, Some("order-42")).await).await;
    assert_ne!(theirs["data"]["id"], first["data"]["id"]);
    // Expired keys (24 h) start afresh.
    sqlx::query("UPDATE idempotency_keys SET expires_at = 0")
        .execute(app.db.pool())
        .await
        .unwrap();
    let fresh = json(app.send_message(&key, &body, Some("order-42")).await).await;
    assert_ne!(fresh["data"]["id"], first["data"]["id"]);
    let long = "k".repeat(256);
    assert_error(
        app.send_message(&key, &body, Some(&long)).await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
}

#[tokio::test]
async fn two_servers_on_one_redis_share_one_organizations_rate() {
    let test = "keys::two_servers_on_one_redis_share_one_organizations_rate";
    let Some(redis) = RedisServer::start(test).await else {
        return;
    };
    let first =
        TestApp::spawn_with(Backend::Sqlite, |c| c.redis_url = Some(redis.url().into())).await;
    let database = format!(
        "sqlite://{}?mode=rwc",
        first.data_dir().join("landlord.db").display()
    );
    let url = redis.url();
    let second = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.redis_url = Some(url.into());
        c.database_url = Some(database.into());
    })
    .await;
    let (token, _) = signed_in(&first, "shared@example.com").await;
    let key = create_key(&first, &token, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let path = "/api/v1/messages/00000000-0000-7000-8000-000000000000";
    let mut allowed = 0;
    for n in 0..16 {
        let server = if n % 2 == 0 { &first } else { &second };
        let status = server
            .with_key(reqwest::Method::GET, path, &key)
            .await
            .status()
            .as_u16();
        assert!(status == 404 || status == 429, "{status}");
        if status == 404 {
            allowed += 1;
        }
    }
    assert_eq!(
        allowed, 10,
        "one budget of 10 per minute across both servers"
    );

    // Redis goes away: both keep answering, each on its own memory.
    drop(redis);
    let (token2, _) = signed_in(&first, "fallback@example.com").await;
    let key2 = create_key(&first, &token2, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let response = second.with_key(reqwest::Method::GET, path, &key2).await;
    assert_eq!(response.status(), 404, "served without Redis");
    assert!(response.headers().contains_key("x-ratelimit-remaining"));
}
