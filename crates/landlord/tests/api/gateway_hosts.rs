//! Routing by host: unknown and unpublished apps are 404 (a page for
//! browsers, the envelope for programs), a host no one serves is 421 (a
//! DNS-rebinding page cannot reach the console or the API), a suspended
//! app is 403, and a change — a new slug, a suspension, a verified domain
//! — reaches every instance's cache: at once on the instance that made it,
//! within a second through Redis, within the poll's interval without it.
//! On SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::json;

use crate::backend_tests;
use crate::support::app::TestApp;
use crate::support::apps::{operator, patch_as, publisher};
use crate::support::eventually::eventually;
use crate::support::gateway::{
    allow_loopback_upstreams, at_host, get_at, host_of, published_app, Upstream,
};
use crate::support::redis::RedisServer;
use crate::support::Backend;

backend_tests!(
    unknown_apps_are_a_404_page_for_browsers_and_the_envelope_for_programs,
    a_host_no_one_serves_is_misdirected_even_for_the_console_and_the_api,
    a_suspended_app_answers_403_with_a_page_that_says_so,
    a_draft_or_reviewed_app_is_not_found,
    a_new_slug_moves_the_app_at_once,
    a_verified_custom_domain_reaches_the_app_through_the_same_cache,
    two_instances_on_one_redis_see_a_suspension_within_a_second,
    without_redis_the_poll_carries_a_change_to_the_other_instance,
);

/// `GET path` on `host` as a browser asks for it.
async fn browse(app: &TestApp, host: &str, path: &str) -> reqwest::Response {
    at_host(app, Method::GET, host, path)
        .header(reqwest::header::ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("request sent")
}

/// An operator's decision (`publish`, `suspend`) on the app `id`.
async fn decide(app: &TestApp, operator: &str, id: &str, decision: &str) {
    let answer = app
        .post_as(
            &format!("/api/v1/admin/apps/{id}/{decision}"),
            operator,
            &if decision == "suspend" {
                json!({ "reason": "Reported for phishing" })
            } else {
                json!({})
            },
        )
        .await;
    assert_eq!(answer.status(), 200, "{decision}");
}

async fn unknown_apps_are_a_404_page_for_browsers_and_the_envelope_for_programs(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let page = browse(&app, &host_of("nothing-here"), "/").await;
    assert_eq!(page.status(), 404);
    let headers = page.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.starts_with("default-src 'none'") && !policy.contains("unsafe"),
        "{policy}"
    );
    assert_eq!(headers["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("No app here") && html.contains("404"),
        "{html}"
    );
    assert!(
        html.contains("class=\"card\""),
        "the console's card: {html}"
    );

    // Asked twice (now from the cache's negative entry): the same answer.
    for _ in 0..2 {
        let envelope = get_at(&app, &host_of("nothing-here"), "/api/v1/x").await;
        assert_eq!(envelope.status(), 404);
        let body: serde_json::Value = envelope.json().await.unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "NOT_FOUND");
    }

    // Names no slug can have, deeper names and the apps domain itself.
    for host in [
        "a.apps.localhost",
        "x.notes.apps.localhost",
        "apps.localhost",
    ] {
        assert_eq!(get_at(&app, host, "/").await.status(), 404, "{host}");
    }
}

async fn a_host_no_one_serves_is_misdirected_even_for_the_console_and_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = crate::support::accounts::signed_in(&app, "owner@example.com").await;
    // The same request on the platform's host works.
    let own = app.get_as("/api/v1/organization", &token).await;
    assert_eq!(own.status(), 200);

    // A DNS-rebinding page: the attacker's name now points at this server,
    // and the browser sends its own Host header.
    let api = at_host(
        &app,
        Method::GET,
        "evil.example.com",
        "/api/v1/organization",
    )
    .bearer_auth(&token)
    .send()
    .await
    .unwrap();
    assert_eq!(api.status(), 421);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "MISDIRECTED_REQUEST");
    let console = browse(&app, "evil.example.com:8080", "/sign-in").await;
    assert_eq!(console.status(), 421);
    let html = console.text().await.unwrap();
    assert!(html.contains("Unknown host"), "{html}");
    assert!(!html.contains("Sign in"), "not the console's page: {html}");

    // A bare name and a name that is no domain at all.
    for host in ["intranet", "evil.example.com.", "x.localhost"] {
        assert_eq!(get_at(&app, host, "/health").await.status(), 421, "{host}");
    }
    // The platform's own names and IP literals still serve the console.
    for host in ["localhost", "127.0.0.1", "[::1]:8080"] {
        assert_eq!(get_at(&app, host, "/health").await.status(), 200, "{host}");
    }
}

async fn a_suspended_app_answers_403_with_a_page_that_says_so(backend: Backend) {
    let app = TestApp::spawn_with(backend, allow_loopback_upstreams).await;
    let upstream = Upstream::start().await;
    let notes = published_app(&app, "dev@example.com", "notes", &upstream.url()).await;
    assert_eq!(get_at(&app, &host_of("notes"), "/").await.status(), 200);

    let operator = operator(&app, "ops@example.com").await;
    decide(&app, &operator, notes.client_id(), "suspend").await;

    let page = browse(&app, &host_of("notes"), "/anything").await;
    assert_eq!(page.status(), 403);
    let html = page.text().await.unwrap();
    assert!(html.contains("This app is suspended"), "{html}");
    assert!(html.contains("App notes has been suspended"), "{html}");
    let envelope = get_at(&app, &host_of("notes"), "/anything").await;
    assert_eq!(envelope.status(), 403);
    let body: serde_json::Value = envelope.json().await.unwrap();
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    assert_eq!(upstream.received().len(), 1, "nothing reached the upstream");

    // Published again: it answers again.
    decide(&app, &operator, notes.client_id(), "publish").await;
    assert_eq!(get_at(&app, &host_of("notes"), "/").await.status(), 200);
}

async fn a_draft_or_reviewed_app_is_not_found(backend: Backend) {
    let app = TestApp::spawn_with(backend, allow_loopback_upstreams).await;
    let upstream = Upstream::start().await;
    let draft = publisher(
        &app,
        "dev@example.com",
        json!({ "slug": "drafty", "upstream_url": upstream.url() }),
    )
    .await;
    assert_eq!(get_at(&app, &host_of("drafty"), "/").await.status(), 404);
    let submitted = app
        .post_as(
            &format!("/api/v1/apps/{}/submit", draft.client_id()),
            &draft.token,
            &json!({}),
        )
        .await;
    assert_eq!(submitted.status(), 200);
    assert_eq!(get_at(&app, &host_of("drafty"), "/").await.status(), 404);

    // Published: the cached 404 is gone at once.
    let operator = operator(&app, "ops@example.com").await;
    decide(&app, &operator, draft.client_id(), "publish").await;
    assert_eq!(get_at(&app, &host_of("drafty"), "/").await.status(), 200);
    assert!(upstream.received().len() == 1);
}

async fn a_new_slug_moves_the_app_at_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, allow_loopback_upstreams).await;
    let upstream = Upstream::start().await;
    let notes = published_app(&app, "dev@example.com", "notes", &upstream.url()).await;
    // Both names cached: the app on the old one, a miss on the new one.
    assert_eq!(get_at(&app, &host_of("notes"), "/").await.status(), 200);
    assert_eq!(get_at(&app, &host_of("jottings"), "/").await.status(), 404);

    let renamed = patch_as(
        &app,
        &format!("/api/v1/apps/{}", notes.client_id()),
        &notes.token,
        &json!({ "slug": "jottings" }),
    )
    .await;
    assert_eq!(renamed.status(), 200);

    assert_eq!(get_at(&app, &host_of("notes"), "/").await.status(), 404);
    assert_eq!(get_at(&app, &host_of("jottings"), "/").await.status(), 200);

    // A new upstream is followed at once too.
    let other = Upstream::start().await;
    let moved = patch_as(
        &app,
        &format!("/api/v1/apps/{}", notes.client_id()),
        &notes.token,
        &json!({ "upstream_url": other.url() }),
    )
    .await;
    assert_eq!(moved.status(), 200);
    assert_eq!(get_at(&app, &host_of("jottings"), "/").await.status(), 200);
    assert_eq!(other.received().len(), 1);

    // Deleted: gone at once.
    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/apps/{}", notes.client_id())))
        .bearer_auth(&notes.token)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert_eq!(get_at(&app, &host_of("jottings"), "/").await.status(), 404);
}

async fn a_verified_custom_domain_reaches_the_app_through_the_same_cache(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        allow_loopback_upstreams(c);
        c.apps.routing_poll_ms = 50;
    })
    .await;
    let upstream = Upstream::start().await;
    published_app(&app, "dev@example.com", "notes", &upstream.url()).await;
    let domain = "notes.customer.test";
    // Not (yet) verified: no one's, and remembered as such.
    assert_eq!(get_at(&app, domain, "/").await.status(), 421);
    assert_eq!(get_at(&app, domain, "/").await.status(), 421);

    // A pending domain is not routed; a verified one is, once the routing
    // version moves (what verifying a domain does).
    for (id, status) in [("dom_pending", "pending"), ("dom_verified", "verified")] {
        let host = if status == "pending" {
            "pending.customer.test"
        } else {
            domain
        };
        sqlx::query(
            "INSERT INTO app_domains (id, app_id, organization_id, domain, challenge, status, \
             created_at, updated_at) \
             SELECT CAST($1 AS TEXT), id, organization_id, CAST($2 AS TEXT), 'challenge', \
             CAST($3 AS TEXT), 1, 1 FROM apps WHERE slug = 'notes'",
        )
        .bind(id)
        .bind(host)
        .bind(status)
        .execute(app.db.pool())
        .await
        .expect("a domain");
    }
    sqlx::query("UPDATE app_routing_version SET version = version + 1 WHERE id = 1")
        .execute(app.db.pool())
        .await
        .expect("the routing version moves");
    eventually(
        "the verified domain to route",
        Duration::from_secs(5),
        async || (get_at(&app, "Notes.Customer.Test:443", "/").await.status() == 200).then_some(()),
    )
    .await;
    assert_eq!(
        get_at(&app, "pending.customer.test", "/").await.status(),
        421
    );
    assert_eq!(upstream.received().len(), 1);
}

/// Two instances on one database (and `redis`, when given), polling the
/// routing version every `poll_ms`; returns them and the published app's
/// id and the operator's token (on the first).
async fn two_instances(
    backend: Backend,
    redis: Option<String>,
    poll_ms: u64,
    upstream: &Upstream,
) -> (TestApp, TestApp, String, String) {
    let settings = |c: &mut landlord::settings::Settings| {
        allow_loopback_upstreams(c);
        c.token_signing_key = Some("a token signing key for two servers, 32+".into());
        c.payload_encryption_key = Some("a payload key for two servers, long enough".into());
        c.redis_url = redis.clone().map(Into::into);
        c.apps.routing_poll_ms = poll_ms;
    };
    let first = TestApp::spawn_with(backend, settings).await;
    let database = first.database_url();
    let second = TestApp::spawn_with(backend, |c| {
        settings(c);
        c.database_url = Some(database);
        c.jobs_poll_interval_ms = 3_600_000;
    })
    .await;
    let notes = published_app(&first, "dev@example.com", "notes", &upstream.url()).await;
    let operator = operator(&first, "ops@example.com").await;
    (first, second, notes.client_id().to_owned(), operator)
}

/// How long until `instance` answers `status` on `host` (fails after 5 s).
async fn time_until(instance: &TestApp, host: &str, status: u16) -> Duration {
    let started = Instant::now();
    eventually(
        format!("{host} to answer {status}"),
        Duration::from_secs(5),
        async || (get_at(instance, host, "/").await.status() == status).then_some(()),
    )
    .await;
    started.elapsed()
}

async fn two_instances_on_one_redis_see_a_suspension_within_a_second(backend: Backend) {
    let test = "gateway_hosts::two_instances_on_one_redis_see_a_suspension_within_a_second";
    let Some(redis) = RedisServer::start(test).await else {
        return;
    };
    let upstream = Upstream::start().await;
    // Only Redis can tell the second instance in time.
    let (first, second, id, operator) =
        two_instances(backend, Some(redis.url()), 60_000, &upstream).await;
    let host = host_of("notes");
    // The second instance has the app cached (it was published before
    // its first look, so it looks it up now).
    assert_eq!(get_at(&second, &host, "/").await.status(), 200);
    assert_eq!(get_at(&second, &host, "/").await.status(), 200);

    decide(&first, &operator, &id, "suspend").await;
    let took = time_until(&second, &host, 403).await;
    assert!(
        took < Duration::from_secs(1),
        "the suspension took {took:?}"
    );
    assert_eq!(get_at(&first, &host, "/").await.status(), 403);

    decide(&first, &operator, &id, "publish").await;
    let took = time_until(&second, &host, 200).await;
    assert!(
        took < Duration::from_secs(1),
        "publishing again took {took:?}"
    );
}

async fn without_redis_the_poll_carries_a_change_to_the_other_instance(backend: Backend) {
    let upstream = Upstream::start().await;
    let (first, second, id, operator) = two_instances(backend, None, 200, &upstream).await;
    let host = host_of("notes");
    assert_eq!(get_at(&second, &host, "/").await.status(), 200);

    decide(&first, &operator, &id, "suspend").await;
    let took = time_until(&second, &host, 403).await;
    // One poll interval, and some room for a loaded machine.
    assert!(
        took < Duration::from_millis(1_500),
        "the suspension took {took:?}"
    );
}

/// The host lookup's cost with many apps: 100,000 published apps (or
/// `LANDLORD_BENCH_APPS`) in the database, then `Hosts::destination` timed
/// for random slugs, each first from an empty cache (a query) and then
/// from the cache. On SQLite, and on PostgreSQL when it is installed.
///
/// `cargo test -p landlord --test api gateway_hosts::host_lookup_benchmark
/// -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark, run by hand"]
async fn host_lookup_benchmark() {
    let apps: u64 = std::env::var("LANDLORD_BENCH_APPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let samples = 2_000;
    let mut backends = vec![Backend::Sqlite];
    if crate::support::app::postgres_ready("gateway_hosts::host_lookup_benchmark") {
        backends.push(Backend::Postgres);
    }
    for backend in backends {
        let app = TestApp::spawn_with(backend, allow_loopback_upstreams).await;
        published_app(&app, "bench@example.com", "seed-app", "http://127.0.0.1:9").await;
        let started = Instant::now();
        sqlx::query(
            "INSERT INTO apps (id, organization_id, slug, name, status, client_type, \
             upstream_url, published_at, created_at, updated_at) \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             SELECT 'bench_' || i, (SELECT organization_id FROM apps WHERE slug = 'seed-app'), \
             'bench-' || i, 'Bench ' || i, 'published', 'public', 'http://127.0.0.1:9', 1, 1, 1 \
             FROM n",
        )
        .bind(i64::try_from(apps).unwrap_or(i64::MAX))
        .execute(app.db.pool())
        .await
        .expect("the apps inserted");
        let inserted = started.elapsed();

        // A server of its own on the same database, whose gateway is
        // called directly.
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let mut config = crate::support::app::test_config(&data_dir);
        config.database_url = Some(app.database_url());
        allow_loopback_upstreams(&mut config);
        let server = landlord::Application::build(config.into_config())
            .await
            .expect("the application starts");
        let gateway = &server.state().gateway;

        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut slugs = Vec::with_capacity(samples);
        while slugs.len() < samples {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let slug = format!("bench-{}", 1 + seed % apps);
            if !slugs.contains(&slug) {
                slugs.push(slug);
            }
        }
        let mut figures = Vec::new();
        for pass in ["cold (a query)", "warm (the cache)"] {
            let hosts: Vec<String> = slugs.iter().map(|s| host_of(s)).collect();
            let mut times = Vec::with_capacity(samples);
            for host in hosts {
                let started = Instant::now();
                let destination = gateway.hosts.destination(&gateway.apps, Some(host)).await;
                times.push(started.elapsed());
                assert!(matches!(
                    destination,
                    landlord_apps::gateway::hosts::Destination::App(_)
                ));
            }
            times.sort();
            let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)];
            figures.push(format!(
                "{pass}: p50 {:?}, p99 {:?}, max {:?}",
                at(50),
                at(99),
                times[times.len() - 1]
            ));
        }
        println!(
            "host lookup, {backend:?}, {apps} apps (inserted in {inserted:?}), {samples} slugs: {}",
            figures.join("; ")
        );
    }
}
