//! Operator alerts: a rule fires once after its pending
//! period, stays quiet through its cooldown (also after a restart: a second
//! server on the same database), resolves exactly once; two instances
//! evaluating at once notify once; every channel receives its notification
//! (mail over SMTP, Slack JSON, a signed webhook); `GET /admin/alerts` is
//! for platform administrators only.
//!
//! Time is the test's: the evaluator task is off and each evaluation is
//! `landlord_alerts::evaluate_all` at an instant the test chooses.

use std::time::Duration;

use landlord::settings::Settings as Config;
use landlord_alerts::config::{
    AlertChannel, AlertChannels, AlertRule, AlertSeverity, AlertSignal, AlertsConfig,
};
use landlord_alerts::store::AlertStatus;
use landlord_alerts::{evaluate_all, Outcome, RequestLog};
use landlord_core::{Db, Timestamp};
use serde_json::Value;

use crate::backend_tests;
use crate::support::accounts::{data, signed_in, token_of};
use crate::support::app::{json, smtp_to};
use crate::support::receiver::Receiver;
use crate::support::smtp::SmtpServer;
use crate::support::{Backend, TestApp};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OPS: &str = "alerts@example.com";
const RULE: &str = "dead_jobs";

/// Alerts for the test: the evaluator off, one rule (dead-lettered jobs,
/// pending 60 s, cooldown 1 h) and its severity's three channels.
fn alerts_config(config: &mut Config, receiver: &Receiver, for_secs: u64) {
    config.alerts = AlertsConfig {
        evaluate: false,
        interval_secs: 30,
        rules: [(
            RULE.to_string(),
            AlertRule {
                signal: AlertSignal::DeadJobs,
                severity: AlertSeverity::Warning,
                threshold: 0.0,
                window_secs: 0,
                for_secs,
                cooldown_secs: 3600,
                enabled: true,
            },
        )]
        .into_iter()
        .collect(),
        channels: AlertChannels {
            warning: vec![
                AlertChannel::Email {
                    to: vec![OPS.into()],
                },
                AlertChannel::Slack {
                    url: receiver.url("/slack").into(),
                },
                AlertChannel::Webhook {
                    url: receiver.url("/hook"),
                    secret: SECRET.into(),
                },
            ],
            ..AlertChannels::default()
        },
    };
}

async fn spawn(
    backend: Backend,
    smtp: &SmtpServer,
    receiver: &Receiver,
    for_secs: u64,
    database: Option<landlord_core::Secret<String>>,
) -> TestApp {
    let port = smtp.port;
    TestApp::spawn_with(backend, |c| {
        smtp_to(c, port);
        alerts_config(c, receiver, for_secs);
        c.platform_admins = vec!["ops@example.com".into()];
        if let Some(database) = database {
            c.database_url = Some(database);
        }
    })
    .await
}

/// A job that used up its attempts (what the rule watches).
async fn dead_job(db: &Db) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let now = Timestamp::now().millis();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, status, attempts, run_at, created_at, updated_at) \
         VALUES ($1, 'test.broken', '{}', 'dead', 8, $2, $2, $2)",
    )
    .bind(&id)
    .bind(now)
    .execute(db.pool())
    .await
    .expect("a dead job");
    id
}

async fn job_done(db: &Db, id: &str) {
    sqlx::query("UPDATE jobs SET status = 'done' WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await
        .expect("the job is done");
}

async fn evaluate(app: &TestApp, at: Timestamp) -> Outcome {
    let outcomes = evaluate_all(&app.db, &app.config.alerts, RequestLog::Raw, at, None).await;
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    outcomes[0].1
}

fn moved(status: AlertStatus, notifications: usize) -> Outcome {
    Outcome::Moved {
        status,
        notifications,
    }
}

fn after(t0: Timestamp, secs: u64) -> Timestamp {
    t0.plus(Duration::from_secs(secs))
}

/// Checks the `n`th notification on each channel says `status`.
async fn delivered(smtp: &SmtpServer, receiver: &Receiver, n: usize, status: &str) {
    let mails = smtp.wait_for(OPS, n).await;
    let subject = mails[n - 1].subject();
    assert!(
        subject.contains(&format!("{}: {RULE}", status.to_uppercase())),
        "{subject}"
    );
    let slack = receiver.wait_for("/slack", n).await;
    let text: Value = serde_json::from_slice(&slack[n - 1].body).expect("Slack JSON");
    assert!(
        text["text"]
            .as_str()
            .is_some_and(|t| t.contains(&status.to_uppercase())),
        "{text}"
    );
    let hooks = receiver.wait_for("/hook", n).await;
    let hook = &hooks[n - 1];
    let header = |name: &str| {
        hook.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{name}"))
            .to_string()
    };
    let timestamp: i64 = header("webhook-timestamp").parse().expect("seconds");
    assert!(
        landlord_core::webhook_signature::verify(
            SECRET,
            &header("webhook-id"),
            timestamp,
            &hook.body,
            &header("webhook-signature"),
        ),
        "the webhook's signature verifies"
    );
    let body: Value = serde_json::from_slice(&hook.body).expect("webhook JSON");
    assert_eq!(body["rule"], RULE);
    assert_eq!(body["status"], status);
    assert_eq!(body["id"], header("webhook-id"));
}

/// Waits a little and checks that no further notification arrived.
async fn no_more(smtp: &SmtpServer, receiver: &Receiver, n: usize) {
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.at("/slack").len(), n);
    assert_eq!(receiver.at("/hook").len(), n);
    let mails = smtp
        .received()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(OPS)))
        .count();
    assert_eq!(mails, n);
}

async fn fires_once_stays_quiet_through_cooldown_and_resolves_once(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let receiver = Receiver::start("ok").await;
    let app = spawn(backend, &smtp, &receiver, 60, None).await;
    let t0 = Timestamp::now();

    assert_eq!(
        evaluate(&app, t0).await,
        Outcome::Unchanged,
        "nothing wrong yet"
    );
    let job = dead_job(&app.db).await;
    assert_eq!(evaluate(&app, t0).await, moved(AlertStatus::Pending, 0));
    assert_eq!(
        evaluate(&app, after(t0, 30)).await,
        Outcome::Unchanged,
        "still pending"
    );
    assert_eq!(
        evaluate(&app, after(t0, 61)).await,
        moved(AlertStatus::Firing, 3)
    );
    delivered(&smtp, &receiver, 1, "firing").await;
    assert_eq!(evaluate(&app, after(t0, 120)).await, Outcome::Unchanged);

    job_done(&app.db, &job).await;
    assert_eq!(
        evaluate(&app, after(t0, 180)).await,
        moved(AlertStatus::Inactive, 3)
    );
    delivered(&smtp, &receiver, 2, "resolved").await;
    assert_eq!(evaluate(&app, after(t0, 240)).await, Outcome::Unchanged);
    no_more(&smtp, &receiver, 2).await;

    // Fires again within the cooldown, evaluated by a restarted server (a
    // second one on the same database): recorded, not notified.
    let job = dead_job(&app.db).await;
    let restarted = spawn(backend, &smtp, &receiver, 60, Some(app.database_url())).await;
    assert_eq!(
        evaluate(&restarted, after(t0, 300)).await,
        moved(AlertStatus::Pending, 0)
    );
    assert_eq!(
        evaluate(&restarted, after(t0, 400)).await,
        moved(AlertStatus::Firing, 0),
        "within the cooldown"
    );
    assert_eq!(
        evaluate(&restarted, after(t0, 2000)).await,
        Outcome::Unchanged
    );
    no_more(&smtp, &receiver, 2).await;

    // Once the cooldown has passed and it still fires: notified once.
    assert_eq!(
        evaluate(&restarted, after(t0, 61 + 3600)).await,
        moved(AlertStatus::Firing, 3)
    );
    delivered(&smtp, &receiver, 3, "firing").await;
    job_done(&restarted.db, &job).await;
    assert_eq!(
        evaluate(&restarted, after(t0, 3700)).await,
        moved(AlertStatus::Inactive, 3)
    );
    delivered(&smtp, &receiver, 4, "resolved").await;
    assert_eq!(evaluate(&app, after(t0, 3760)).await, Outcome::Unchanged);
    no_more(&smtp, &receiver, 4).await;
}

async fn two_instances_evaluating_at_once_notify_once(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let receiver = Receiver::start("ok").await;
    let first = spawn(backend, &smtp, &receiver, 0, None).await;
    let second = spawn(backend, &smtp, &receiver, 0, Some(first.database_url())).await;
    dead_job(&first.db).await;
    let now = Timestamp::now();
    let (a, b) = tokio::join!(evaluate(&first, now), evaluate(&second, now));
    let notified: Vec<Outcome> = [a, b]
        .into_iter()
        .filter(|o| matches!(o, Outcome::Moved { .. }))
        .collect();
    assert_eq!(notified, vec![moved(AlertStatus::Firing, 3)], "{a:?} {b:?}");
    delivered(&smtp, &receiver, 1, "firing").await;
    no_more(&smtp, &receiver, 1).await;
}

async fn operators_see_active_alerts_and_history(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let receiver = Receiver::start("ok").await;
    let app = spawn(backend, &smtp, &receiver, 0, None).await;

    let signed_out = app.get("/api/v1/admin/alerts").await;
    assert_eq!(signed_out.status(), 401);
    let (member, _) = signed_in(&app, "member@example.com").await;
    let refused = app
        .client
        .get(app.url("/api/v1/admin/alerts"))
        .bearer_auth(&member)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let job = dead_job(&app.db).await;
    let t0 = Timestamp::now();
    assert_eq!(evaluate(&app, t0).await, moved(AlertStatus::Firing, 3));
    job_done(&app.db, &job).await;
    assert_eq!(
        evaluate(&app, after(t0, 60)).await,
        moved(AlertStatus::Inactive, 3)
    );
    dead_job(&app.db).await;
    assert_eq!(
        evaluate(&app, after(t0, 120)).await,
        moved(AlertStatus::Firing, 0)
    );

    // ops@example.com is listed in platform_admins: verified, it is one.
    let ops = token_of(
        &app.register("ops@example.com", "Operators").await,
        "access_token",
    );
    let mail = smtp
        .wait_for_subject("ops@example.com", "Confirm your email")
        .await;
    let verified = app
        .post_json(
            "/api/v1/auth/verify-email",
            &serde_json::json!({ "token": mail.token().expect("a token") }),
        )
        .await;
    assert_eq!(verified.status(), 200);

    let get = |path: &str| app.client.get(app.url(path)).bearer_auth(&ops).send();
    let overview = data(get("/api/v1/admin/alerts").await.unwrap()).await;
    assert_eq!(
        overview["active"].as_array().map(Vec::len),
        Some(1),
        "{overview}"
    );
    assert_eq!(overview["active"][0]["rule"], RULE);
    assert_eq!(overview["active"][0]["status"], "firing");
    assert_eq!(overview["active"][0]["severity"], "warning");
    let history: Vec<(String, bool)> = overview["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap().to_string(),
                h["notified"] == true,
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![
            ("firing".to_string(), false),
            ("resolved".to_string(), true),
            ("firing".to_string(), true)
        ]
    );

    // Cursor pages over the history.
    let first = json(get("/api/v1/admin/alerts?limit=2").await.unwrap()).await;
    assert_eq!(first["data"]["history"].as_array().map(Vec::len), Some(2));
    let cursor = first["meta"]["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_string();
    let rest = data(
        get(&format!("/api/v1/admin/alerts?limit=2&cursor={cursor}"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(rest["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["history"][0]["status"], "firing");
    let bad = get("/api/v1/admin/alerts?cursor=nope").await.unwrap();
    assert_eq!(bad.status(), 422);

    // A rule taken out of the configuration stops being active, quietly.
    let mut without = app.config.alerts.clone();
    without.rules.clear();
    assert!(
        evaluate_all(&app.db, &without, RequestLog::Raw, after(t0, 180), None)
            .await
            .is_empty()
    );
    let overview = data(get("/api/v1/admin/alerts").await.unwrap()).await;
    assert_eq!(
        overview["active"].as_array().map(Vec::len),
        Some(0),
        "{overview}"
    );
    assert_eq!(overview["history"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        evaluate(&app, after(t0, 240)).await,
        moved(AlertStatus::Firing, 0)
    );

    // The operator console's page shows the same.
    let page = console_page(&app, "ops@example.com", "/operator/alerts").await;
    assert!(page.contains("<code>dead_jobs</code>"), "{page}");
    assert!(page.contains("no (cooldown)"), "{page}");
    assert!(page.contains("resolved"), "{page}");
    assert!(
        page.contains("href=\"/operator/alerts\" aria-current=\"page\""),
        "{page}"
    );
}

/// Signs `email` in through the console's form and reads `path`'s HTML.
pub(crate) async fn console_page(app: &TestApp, email: &str, path: &str) -> String {
    let cookies = |response: &reqwest::Response| -> Vec<String> {
        response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|c| c.split(';').next().map(str::to_owned))
            .collect()
    };
    let form = app.get("/sign-in").await;
    let first = cookies(&form);
    let jar = first.join("; ");
    let body = form.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker).expect("a CSRF token") + marker.len();
    let csrf = &body[start..start + body[start..].find('"').unwrap()];
    let signed_in = app
        .client
        .post(app.url("/sign-in"))
        .header(reqwest::header::COOKIE, &jar)
        .form(&[
            ("csrf", csrf),
            ("email", email),
            ("password", crate::support::accounts::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    // Later cookies replace earlier ones of the same name.
    let mut named = std::collections::BTreeMap::new();
    for cookie in first.into_iter().chain(cookies(&signed_in)) {
        if let Some((name, _)) = cookie.split_once('=') {
            named.insert(name.to_string(), cookie.clone());
        }
    }
    let all: Vec<String> = named.into_values().collect();
    let response = app
        .client
        .get(app.url(path))
        .header(reqwest::header::COOKIE, all.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The 5xx rate without the raw request log: read from the hourly
/// counters of the hours the window touches (older hours left out); with
/// the raw log it reads the raw log, which here is empty.
async fn the_5xx_rate_reads_the_hourly_counters_without_the_raw_log(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.usage_raw_log = false).await;
    let (_, account) = signed_in(&app, "ada@five-hundred.test").await;
    let organization = account["organization"]["id"]
        .as_str()
        .expect("the organization's id")
        .to_string();
    let now = Timestamp::now();
    let hour = now.millis() - now.millis().rem_euclid(3_600_000);
    let two_hours_ago = hour - 2 * 3_600_000;
    for (status_class, at, requests) in [
        (2_i64, hour, 27_i64),
        (4, hour, 3),
        (5, hour, 10),
        (5, two_hours_ago, 1_000),
    ] {
        sqlx::query(
            "INSERT INTO usage_hourly \
             (organization_id, api_key_id, route, status_class, hour, requests) \
             VALUES ($1, '', 'GET /v1/things', $2, $3, $4)",
        )
        .bind(&organization)
        .bind(status_class)
        .bind(at)
        .bind(requests)
        .execute(app.db.pool())
        .await
        .expect("hourly counters");
    }
    let rate = |requests| {
        landlord_alerts::evaluate::measure(
            &app.db,
            AlertSignal::Http5xxRate,
            Duration::from_secs(300),
            now,
            requests,
        )
    };
    assert_eq!(rate(RequestLog::Hourly).await.unwrap(), 25.0);
    assert_eq!(rate(RequestLog::Raw).await.unwrap(), 0.0);
    assert_eq!(
        RequestLog::kept(app.config.usage_raw_log),
        RequestLog::Hourly
    );
}

/// The 5xx rate with the raw request log: read from the answers the usage
/// writer counts per minute beside the raw rows (added up across batches;
/// the window's first minute read whole, minutes before it left out), not
/// by counting the raw rows; the daily purge drops old minutes with the
/// raw log.
async fn the_5xx_rate_reads_the_raw_logs_counts_per_minute(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, account) = signed_in(&app, "grace@five-hundred.test").await;
    let organization = account["organization"]["id"]
        .as_str()
        .expect("the organization's id")
        .to_string();
    // Half a minute into a minute, so that a 5-minute window starts in the
    // middle of its first minute.
    let clock = Timestamp::now().millis();
    let now = Timestamp::from_millis(clock - clock.rem_euclid(60_000) + 30_000);
    let record = |status: u16, secs_ago: u64| landlord_metering::UsageRecord {
        caller: landlord_metering::UsageCaller::new(
            landlord_core::ids::OrganizationId::from_trusted(organization.clone()),
            landlord_core::ids::ApiKeyId::from_trusted(landlord_keys::admission::NO_KEY),
        ),
        endpoint: "/api/v1/messages/send".into(),
        method: "POST".into(),
        status,
        at: now.minus(Duration::from_secs(secs_ago)),
        app_id: None,
    };
    let mut batch = Vec::new();
    batch.extend(std::iter::repeat_n(record(202, 120), 27));
    batch.extend(std::iter::repeat_n(record(404, 180), 3));
    batch.extend(std::iter::repeat_n(record(500, 120), 4));
    // Before the window's start, in its first minute: counted.
    batch.extend(std::iter::repeat_n(record(500, 310), 10));
    // Twenty minutes ago: outside a 5-minute window.
    batch.extend(std::iter::repeat_n(record(503, 1_200), 1_000));
    let second = vec![record(502, 60); 6];
    for records in [&batch, &second] {
        landlord_metering::write_batch(&app.db, records, true, &landlord_keys::LastUsed)
            .await
            .expect("usage written");
    }
    let rate = |window_secs: u64| {
        landlord_alerts::evaluate::measure(
            &app.db,
            AlertSignal::Http5xxRate,
            Duration::from_secs(window_secs),
            now,
            RequestLog::Raw,
        )
    };
    // 20 of 50 in the minutes of the last five; 1,020 of 1,050 in the hour.
    assert_eq!(rate(300).await.unwrap(), 40.0);
    assert_eq!(rate(3_600).await.unwrap(), 1_020.0 * 100.0 / 1_050.0);
    // Kept as long as the raw log: a purge at 10 minutes ago drops the
    // older minute and its raw rows, and the hour's rate with them.
    let mut conn = app.db.pool().acquire().await.expect("a connection");
    let purged =
        landlord_metering::store::purge_raw_before(&mut conn, now.minus(Duration::from_secs(600)))
            .await
            .expect("purged");
    drop(conn);
    assert_eq!(purged, 1_000 + 1, "1,000 raw rows and one minute");
    assert_eq!(rate(3_600).await.unwrap(), 40.0);
}

backend_tests!(
    the_5xx_rate_reads_the_raw_logs_counts_per_minute,
    the_5xx_rate_reads_the_hourly_counters_without_the_raw_log,
    fires_once_stays_quiet_through_cooldown_and_resolves_once,
    two_instances_evaluating_at_once_notify_once,
    operators_see_active_alerts_and_history,
);
