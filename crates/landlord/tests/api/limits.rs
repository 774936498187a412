//! Limits that hold across instances, races and Redis outages: failed
//! sign-ins counted before the password is checked (one window for every
//! instance sharing Redis), and the circuit breaker that turns a Redis
//! outage into local limits at once and shares them again afterwards.

use std::time::Duration;

use serde_json::json;

use crate::backend_tests;
use crate::support::accounts::{signed_in, PASSWORD};
use crate::support::app::assert_error;
use crate::support::eventually::eventually;
use crate::support::keys::create_key;
use crate::support::redis::RedisServer;
use crate::support::{Backend, TestApp};

backend_tests!(
    parallel_wrong_passwords_get_at_most_five_answers,
    parallel_wrong_passwords_get_at_most_five_answers_with_redis,
    two_instances_on_one_redis_share_the_failed_sign_in_limit,
);

/// The documented limit of failed sign-ins per (account, address).
const PER_ACCOUNT_AND_ADDRESS: usize = 5;

/// A second instance on `first`'s database and on `redis_url`.
async fn second_instance(first: &TestApp, redis_url: String) -> TestApp {
    let database = first.database_url();
    TestApp::spawn_with(first.backend, |c| {
        room_to_hash(c);
        c.redis_url = Some(redis_url.into());
        c.database_url = Some(database);
    })
    .await
}

/// Sends 20 wrong-password sign-ins for one account at once; returns how
/// many were answered 401 (the others must be 429 with `Retry-After`).
async fn twenty_guesses_at_once(app: &TestApp, email: &str) -> usize {
    let guesses = (0..20).map(|_| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": "not the password 1"}))
            .send()
    });
    let mut unauthorized = 0;
    for response in futures::future::join_all(guesses).await {
        let response = response.expect("answered");
        match response.status().as_u16() {
            401 => unauthorized += 1,
            429 => assert!(response.headers().contains_key("retry-after")),
            other => panic!("a guess answered {other}"),
        }
    }
    unauthorized
}

async fn guesses_in_parallel_are_counted(app: &TestApp) {
    app.register("target@example.com", "Target").await;
    let unauthorized = twenty_guesses_at_once(app, "target@example.com").await;
    assert!(
        (1..=PER_ACCOUNT_AND_ADDRESS).contains(&unauthorized),
        "{unauthorized} of 20 parallel guesses had their password checked"
    );
    // The address is now held off this account, right password or not.
    assert_error(
        app.login("target@example.com", PASSWORD).await,
        429,
        "RATE_LIMITED",
    )
    .await;
}

/// Room for every guess at the password hashing's bound: none is refused
/// with 503 for want of it, whatever the machine's cores.
fn room_to_hash(config: &mut landlord::settings::Settings) {
    config.password_hashing_queue = Some(64);
}

async fn parallel_wrong_passwords_get_at_most_five_answers(backend: Backend) {
    let app = TestApp::spawn_with(backend, room_to_hash).await;
    guesses_in_parallel_are_counted(&app).await;
}

async fn parallel_wrong_passwords_get_at_most_five_answers_with_redis(backend: Backend) {
    let test = "limits::parallel_wrong_passwords_get_at_most_five_answers_with_redis";
    let Some(redis) = RedisServer::start(test).await else {
        return;
    };
    let app = TestApp::spawn_with(backend, |c| {
        room_to_hash(c);
        c.redis_url = Some(redis.url().into());
    })
    .await;
    guesses_in_parallel_are_counted(&app).await;
}

async fn two_instances_on_one_redis_share_the_failed_sign_in_limit(backend: Backend) {
    let test = "limits::two_instances_on_one_redis_share_the_failed_sign_in_limit";
    let Some(redis) = RedisServer::start(test).await else {
        return;
    };
    let first = TestApp::spawn_with(backend, |c| {
        room_to_hash(c);
        c.redis_url = Some(redis.url().into());
    })
    .await;
    let second = second_instance(&first, redis.url()).await;
    first.register("owner@example.com", "Owner").await;
    first.register("target@example.com", "Target").await;

    // Signing in right never counts: more successes than the limit, on
    // both instances, all get in.
    for n in 0..PER_ACCOUNT_AND_ADDRESS + 2 {
        let instance = if n % 2 == 0 { &first } else { &second };
        let response = instance.login("owner@example.com", PASSWORD).await;
        assert_eq!(response.status(), 200, "sign-in {n}");
    }

    // Guesses alternate between the instances: one window of 5 for both.
    let mut unauthorized = 0;
    for n in 0..12 {
        let instance = if n % 2 == 0 { &first } else { &second };
        let response = instance
            .login("target@example.com", "not the password 1")
            .await;
        match response.status().as_u16() {
            401 => unauthorized += 1,
            429 => assert!(response.headers().contains_key("retry-after")),
            other => panic!("guess {n} answered {other}"),
        }
    }
    assert_eq!(
        unauthorized, PER_ACCOUNT_AND_ADDRESS,
        "one combined limit across both instances, not one each"
    );
    // And at once, too: 20 more from both instances together, none checked.
    let (a, b) = tokio::join!(
        twenty_guesses_at_once(&first, "target@example.com"),
        twenty_guesses_at_once(&second, "target@example.com"),
    );
    assert_eq!(a + b, 0);
}

/// `redis_breaker_open` for the Redis on `port`, as `/metrics` shows it:
/// how many of this process's instances have their breaker open.
async fn breakers_open(app: &TestApp, port: u16) -> Option<f64> {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    let series = format!("redis_breaker_open{{redis=\"127.0.0.1:{port}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .and_then(|value| value.trim().parse().ok())
}

/// Requests of `key` alternating between the instances; how many passed
/// the rate limit (the others: 429). Every answer carries the headers.
async fn allowed_across(instances: [&TestApp; 2], key: &str, requests: usize) -> usize {
    let path = "/api/v1/messages/00000000-0000-7000-8000-000000000000";
    let mut allowed = 0;
    for n in 0..requests {
        let response = instances[n % 2]
            .with_key(reqwest::Method::GET, path, key)
            .await;
        assert!(response.headers().contains_key("x-ratelimit-remaining"));
        match response.status().as_u16() {
            404 => allowed += 1,
            429 => {}
            other => panic!("request {n} answered {other}"),
        }
    }
    allowed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_falls_back_to_local_limits_and_sharing_resumes() {
    let test = "limits::a_redis_outage_falls_back_to_local_limits_and_sharing_resumes";
    let Some(redis) = RedisServer::start(test).await else {
        return;
    };
    let first =
        TestApp::spawn_with(Backend::Sqlite, |c| c.redis_url = Some(redis.url().into())).await;
    let second = second_instance(&first, redis.url()).await;
    let (token, _) = signed_in(&first, "outage@example.com").await;
    let key = create_key(&first, &token, json!({"name": "k"})).await["key"]
        .as_str()
        .expect("a key")
        .to_string();
    // The free plan: 10 a minute, shared by both instances.
    assert_eq!(allowed_across([&first, &second], &key, 4).await, 4);
    assert_eq!(breakers_open(&first, redis.port).await, Some(0.0));

    // Redis dies. Both instances keep answering, with rate limit headers,
    // and their breakers open: each limits on its own memory.
    let port = redis.kill().await;
    assert_eq!(allowed_across([&first, &second], &key, 2).await, 2);
    assert_eq!(breakers_open(&first, port).await, Some(2.0));
    // Each instance's own budget (never used before: Redis held it) holds.
    assert_eq!(allowed_across([&first, &first], &key, 12).await, 9);

    // Redis comes back on the same port, empty: the probes close both
    // breakers, and the budget is one for both instances again.
    let _redis = RedisServer::start_on(test, port)
        .await
        .expect("redis-server restarts");
    eventually(
        "both breakers closed",
        Duration::from_secs(15),
        async || (breakers_open(&first, port).await == Some(0.0)).then_some(()),
    )
    .await;
    assert_eq!(
        allowed_across([&first, &second], &key, 16).await,
        10,
        "one budget of 10 across both instances again"
    );
}
