//! Limits and metering at the gateway: the publishing organization's plan
//! limits its apps' traffic (429 with Retry-After and the RateLimit
//! headers), its monthly quota counts gateway requests (a hard cap
//! answers 429 QUOTA_EXCEEDED), usage is counted per app and hour under
//! the publisher (and shows in its billing usage), and the app's traffic
//! per day is in the API and on the developer's page. Over HTTP, on
//! SQLite and PostgreSQL.

use std::time::Duration;

use futures::future::join_all;
use serde_json::Value;

use crate::backend_tests;
use crate::console::Browser;
use crate::support::accounts::{data, signed_in, PASSWORD};
use crate::support::app::{json, TestApp};
use crate::support::gateway::{allow_loopback_upstreams, get_at, host_of, published_app, Upstream};
use crate::support::Backend;

backend_tests!(
    a_plans_gateway_limit_refuses_past_it_and_counts_exactly_what_it_let_in,
    a_hard_capped_plan_refuses_gateway_requests_past_its_quota,
    an_apps_traffic_per_day_is_in_the_api_and_on_its_page,
    an_installations_requests_count_against_the_installers_limit_for_the_app,
);

/// The id usage rows carry for requests made without an API key.
const NO_KEY: &str = "00000000-0000-0000-0000-000000000000";

/// Settings with loopback upstreams and the free plan's gateway limit at
/// `limit` a minute.
fn gateway_limit(limit: u32) -> impl FnOnce(&mut landlord::settings::Settings) {
    move |settings| {
        allow_loopback_upstreams(settings);
        if let Some(free) = settings.core.plans.get_mut("free") {
            free.gateway_rate_limit_per_minute = Some(limit);
        }
    }
}

/// The publisher's usage counters for `app_id`: (route, key, requests).
async fn app_usage(
    app: &TestApp,
    organization_id: &str,
    app_id: &str,
) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT route, api_key_id, CAST(SUM(requests) AS BIGINT) FROM usage_hourly \
         WHERE organization_id = $1 AND app_id = $2 GROUP BY route, api_key_id",
    )
    .bind(organization_id)
    .bind(app_id)
    .fetch_all(app.db.pool())
    .await
    .expect("usage counters")
}

/// Waits until `check` holds (the writers flush every few seconds).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

async fn a_plans_gateway_limit_refuses_past_it_and_counts_exactly_what_it_let_in(backend: Backend) {
    const LIMIT: usize = 5;
    let app = TestApp::spawn_with(backend, gateway_limit(LIMIT as u32)).await;
    let upstream = Upstream::start().await;
    let publisher = published_app(&app, "dev@example.com", "notes", &upstream.url()).await;
    let organization_id = publisher.app["organization_id"]
        .as_str()
        .expect("the app's organization")
        .to_owned();
    let app_id = publisher.client_id().to_owned();

    // More requests at once than the plan allows: exactly the limit reach
    // the upstream, the rest are refused.
    let answers = join_all((0..LIMIT + 7).map(|i| {
        let app = &app;
        async move { get_at(app, &host_of("notes"), &format!("/page/{i}")).await }
    }))
    .await;
    let (admitted, refused): (Vec<_>, Vec<_>) =
        answers.into_iter().partition(|a| a.status() == 200);
    assert_eq!(admitted.len(), LIMIT);
    assert_eq!(refused.len(), 7);
    assert_eq!(upstream.received().len(), LIMIT);

    // The admitted answers carry the RateLimit headers of the API.
    let header = |answer: &reqwest::Response, name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    for answer in &admitted {
        assert_eq!(header(answer, "x-ratelimit-limit").as_deref(), Some("5"));
        assert!(header(answer, "x-ratelimit-remaining").is_some());
        assert!(header(answer, "x-ratelimit-reset").is_some());
        assert_eq!(
            header(answer, "ratelimit-policy").as_deref(),
            Some("\"plan\";q=5;w=60")
        );
    }
    // A refusal: 429 with Retry-After, the same headers, the envelope.
    let refusal = refused.into_iter().next().expect("a refusal");
    assert_eq!(refusal.status(), 429);
    let retry_after: u64 = header(&refusal, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        header(&refusal, "x-ratelimit-remaining").as_deref(),
        Some("0")
    );
    assert!(header(&refusal, "ratelimit").is_some_and(|v| v.starts_with("\"plan\";r=0;t=")));
    let body = json(refusal).await;
    assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");

    // A browser is refused with a page.
    let page =
        crate::support::gateway::at_host(&app, axum::http::Method::GET, &host_of("notes"), "/")
            .header("accept", "text/html")
            .send()
            .await
            .expect("sent");
    assert_eq!(page.status(), 429);
    assert!(page.headers().contains_key("retry-after"));
    assert!(page
        .text()
        .await
        .unwrap_or_default()
        .contains("Too many requests"));

    // Exactly the admitted requests are counted, under the publisher,
    // without a key, for the app, on its bounded route.
    eventually("the admitted requests are counted", || async {
        app_usage(&app, &organization_id, &app_id)
            .await
            .iter()
            .map(|(_, _, n)| n)
            .sum::<i64>()
            == LIMIT as i64
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let usage = app_usage(&app, &organization_id, &app_id).await;
    assert_eq!(
        usage,
        vec![("APP notes".to_owned(), NO_KEY.to_owned(), LIMIT as i64)]
    );
    let hours: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(DISTINCT hour) AS BIGINT) FROM usage_hourly WHERE app_id = $1",
    )
    .bind(&app_id)
    .fetch_one(app.db.pool())
    .await
    .expect("hours");
    assert!(hours >= 1);

    // They count in the publisher's usage this period, like API requests.
    let billed = data(app.get_as("/api/v1/billing/usage", &publisher.token).await).await;
    assert_eq!(billed["used"], LIMIT as i64, "{billed}");
}

async fn a_hard_capped_plan_refuses_gateway_requests_past_its_quota(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        allow_loopback_upstreams(settings);
        if let Some(free) = settings.core.plans.get_mut("free") {
            free.included_requests = Some(3);
            free.overage_price = None;
            free.gateway_rate_limit_per_minute = Some(1_000);
        }
    })
    .await;
    let upstream = Upstream::start().await;
    let publisher = published_app(&app, "capped@example.com", "capped", &upstream.url()).await;

    for _ in 0..3 {
        let answer = get_at(&app, &host_of("capped"), "/").await;
        assert_eq!(answer.status(), 200);
    }
    let refused = get_at(&app, &host_of("capped"), "/").await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After until the month ends");
    assert!(retry_after >= 1);
    assert!(refused.headers().contains_key("x-ratelimit-limit"));
    let body = json(refused).await;
    assert_eq!(body["error"]["code"], "QUOTA_EXCEEDED", "{body}");
    assert_eq!(upstream.received().len(), 3);

    eventually("the quota's requests are counted", || async {
        let billed = data(app.get_as("/api/v1/billing/usage", &publisher.token).await).await;
        billed["used"] == 3
    })
    .await;
}

async fn an_apps_traffic_per_day_is_in_the_api_and_on_its_page(backend: Backend) {
    let app = TestApp::spawn_with(backend, gateway_limit(1_000)).await;
    let upstream = Upstream::start().await;
    let publisher = published_app(&app, "traffic@example.com", "busy", &upstream.url()).await;
    let app_id = publisher.client_id().to_owned();
    let organization_id = publisher.app["organization_id"]
        .as_str()
        .expect("the app's organization")
        .to_owned();
    for i in 0..4 {
        let answer = get_at(&app, &host_of("busy"), &format!("/{i}")).await;
        assert_eq!(answer.status(), 200);
    }

    let traffic = format!("/api/v1/apps/{app_id}/traffic");
    let mut today = Value::Null;
    for _ in 0..100 {
        let answer = data(
            app.get_as(&format!("{traffic}?days=7"), &publisher.token)
                .await,
        )
        .await;
        let days = answer["days"].as_array().cloned().unwrap_or_default();
        assert_eq!(days.len(), 7, "{answer}");
        today = days.last().cloned().unwrap_or_default();
        if today["requests"] == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(today["requests"], 4, "{today}");
    assert_eq!(today["errors"], 0, "{today}");
    assert!(today["latency_ms_max"].as_i64() >= today["latency_ms_mean"].as_i64());
    let default = data(app.get_as(&traffic, &publisher.token).await).await;
    assert_eq!(default["days"].as_array().map(Vec::len), Some(30));
    assert_eq!(default["app_id"], app_id.as_str());

    // The days' bounds.
    for days in ["0", "91", "lots"] {
        let answer = app
            .get_as(&format!("{traffic}?days={days}"), &publisher.token)
            .await;
        assert_eq!(answer.status(), 422, "days={days}");
    }
    // Another organization does not see the app.
    let (stranger, _) = signed_in(&app, "stranger@example.com").await;
    let answer = app.get_as(&traffic, &stranger).await;
    assert_eq!(answer.status(), 404);

    // The developer's page draws the figures.
    let browser = Browser::new(&app);
    let signed = browser.sign_in("traffic@example.com", PASSWORD).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let page = browser
        .get(&format!("/o/{organization_id}/apps/{app_id}"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"traffic-title\""), "{}", page.body);
    assert!(page.body.contains("Requests and errors per day"));
    assert!(page.body.contains("Latency per day in milliseconds"));
    assert!(page.body.contains("4 requests, 0 errors"), "{}", page.body);
}

/// Installs `publisher`'s app into a new organization of `email` and
/// returns an installation token of it (the client-credentials grant).
async fn installation_token(
    app: &TestApp,
    publisher: &crate::support::apps::Publisher,
    email: &str,
) -> String {
    let (owner, _) = signed_in(app, email).await;
    let installed = data(
        app.post_as(
            "/api/v1/installations",
            &owner,
            &serde_json::json!({"app_id": publisher.client_id(), "scopes": ["organizations:read"]}),
        )
        .await,
    )
    .await;
    let installation_id = installed["id"]
        .as_str()
        .expect("an installation")
        .to_owned();
    let answer = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(publisher.client_id(), publisher.client_secret())
        .form(&[
            ("grant_type", "client_credentials"),
            ("installation_id", installation_id.as_str()),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), 200);
    json(answer).await["access_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

async fn an_installations_requests_count_against_the_installers_limit_for_the_app(
    backend: Backend,
) {
    const LIMIT: usize = 3;
    let app = TestApp::spawn_with(backend, gateway_limit(LIMIT as u32)).await;
    let upstream = Upstream::start().await;
    let publisher = crate::support::apps::publisher(
        &app,
        "dev@installer-limit.test",
        serde_json::json!({
            "slug": "notes",
            "name": "Notes",
            "upstream_url": upstream.url(),
            "organization_scopes": ["organizations:read"],
        }),
    )
    .await;
    // The publisher is on a plan with room to spare: only the installer's
    // (free) limit for the app can refuse.
    sqlx::query("UPDATE organizations SET plan = 'pro' WHERE id = $1")
        .bind(
            publisher.app["organization_id"]
                .as_str()
                .expect("its organization"),
        )
        .execute(app.db.pool())
        .await
        .expect("the publisher on pro");
    let id = publisher.client_id().to_owned();
    let submitted = app
        .post_as(
            &format!("/api/v1/apps/{id}/submit"),
            &publisher.token,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(submitted.status(), 200);
    let operator = crate::support::apps::operator(&app, "operator@installer-limit.test").await;
    let published = app
        .post_as(
            &format!("/api/v1/admin/apps/{id}/publish"),
            &operator,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(published.status(), 200);

    let acme = installation_token(&app, &publisher, "owner@acme-installer.test").await;
    let with_token = |token: String| {
        let app = &app;
        async move {
            crate::support::gateway::at_host(app, reqwest::Method::GET, &host_of("notes"), "/")
                .bearer_auth(token)
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16()
        }
    };
    let statuses = join_all((0..LIMIT + 2).map(|_| with_token(acme.clone()))).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        LIMIT,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );

    // Another installing organization has its own budget for the app, and
    // visitors without a token count only against the publisher's plan.
    let globex = installation_token(&app, &publisher, "owner@globex-installer.test").await;
    assert_eq!(with_token(globex).await, 200);
    assert_eq!(get_at(&app, &host_of("notes"), "/").await.status(), 200);
    // The upstream heard whose installation each admitted request was.
    let received = upstream.received();
    let with_installation = received
        .iter()
        .filter(|r| r.headers.contains_key("x-landlord-installation"))
        .count();
    assert_eq!(with_installation, LIMIT + 1);
    assert!(received
        .iter()
        .filter(|r| r.headers.contains_key("x-landlord-installation"))
        .all(|r| r.headers.contains_key("x-landlord-organization")));
}
