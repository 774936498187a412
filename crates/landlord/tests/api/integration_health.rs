//! Integration health: the payments' Stripe stand-in made slow turns
//! Stripe degraded, made failing turns it down after three failed probes;
//! each alert rule (degraded, down) fires once and resolves when Stripe
//! answers well again; `GET /api/v1/admin/integrations` shows every
//! configured integration to platform administrators only.
//!
//! A WhatsApp channel is an integration of its own: its stand-in made
//! slow then failing turns it degraded then down, each alert firing once.
//! Real calls count: Paystack calls answered 500 and WhatsApp sends
//! answered 500 turn them degraded then down by their error rate, which
//! forgets them once they are older than the window.
//!
//! Time is the test's: the evaluator task is off, and each round is
//! `probe_all` then `evaluate_all` at an instant the test chooses.

use std::time::Duration;

use landlord::settings::Settings as Config;
use landlord_alerts::config::{
    AlertChannel, AlertChannels, AlertRule, AlertSeverity, AlertSignal, AlertsConfig,
};
use landlord_alerts::integrations::{probe_all, IntegrationStatus, Targets};
use landlord_alerts::store::{AlertStatus, HealthRow};
use landlord_alerts::{evaluate_all, Outcome, RequestLog};
use landlord_core::sealed::PayloadCipher;
use landlord_core::Timestamp;
use landlord_payments::providers::Providers;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::{data, signed_in, token_of};
use crate::support::app::smtp_to;
use crate::support::clock::now_secs;
use crate::support::eventually::eventually;
use crate::support::providers::ProviderStandIn;
use crate::support::receiver::Receiver;
use crate::support::smtp::SmtpServer;
use crate::support::whatsapp::{incoming_text, post_signed, WhatsAppStandIn};
use crate::support::{Backend, TestApp};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn rule(signal: AlertSignal, severity: AlertSeverity) -> AlertRule {
    AlertRule {
        signal,
        severity,
        threshold: 0.0,
        window_secs: 0,
        for_secs: 0,
        cooldown_secs: 3600,
        enabled: true,
    }
}

/// The two integration rules, each notifying a signed webhook.
fn alerts_config(config: &mut Config, receiver: &Receiver) {
    let hook = |path: &str| AlertChannel::Webhook {
        url: receiver.url(path),
        secret: SECRET.into(),
    };
    config.alerts = AlertsConfig {
        evaluate: false,
        interval_secs: 30,
        rules: [
            (
                "integration_degraded".to_string(),
                rule(AlertSignal::IntegrationsDegraded, AlertSeverity::Warning),
            ),
            (
                "integration_down".to_string(),
                rule(AlertSignal::IntegrationsDown, AlertSeverity::Critical),
            ),
        ]
        .into_iter()
        .collect(),
        channels: AlertChannels {
            warning: vec![hook("/warning")],
            critical: vec![hook("/critical")],
            ..AlertChannels::default()
        },
    };
}

fn after(t0: Timestamp, secs: u64) -> Timestamp {
    t0.plus(Duration::from_secs(secs))
}

/// One round at `at`: probes, then evaluates; Stripe's status and each
/// rule's outcome.
async fn round(
    app: &TestApp,
    targets: &Targets,
    at: Timestamp,
) -> (IntegrationStatus, Vec<(String, Outcome)>) {
    let rows = probe_all(&app.db, targets, at)
        .await
        .expect("a probe round");
    let stripe = rows
        .iter()
        .find(|r| r.integration == "stripe")
        .expect("Stripe is configured")
        .status;
    let outcomes = evaluate_all(&app.db, &app.config.alerts, RequestLog::Raw, at, None).await;
    (stripe, outcomes)
}

fn outcome(outcomes: &[(String, Outcome)], rule: &str) -> Outcome {
    outcomes
        .iter()
        .find(|(name, _)| name == rule)
        .map(|(_, o)| *o)
        .unwrap_or_else(|| panic!("{rule} in {outcomes:?}"))
}

fn moved(status: AlertStatus, notifications: usize) -> Outcome {
    Outcome::Moved {
        status,
        notifications,
    }
}

async fn a_slow_then_failing_provider_degrades_then_goes_down_and_alerts_once(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let receiver = Receiver::start("ok").await;
    let stand_in = ProviderStandIn::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, |c| {
        smtp_to(c, port);
        stand_in.configure(c);
        alerts_config(c, &receiver);
        c.platform_admins = vec!["ops@example.com".into()];
    })
    .await;
    let targets = Targets::of(&app.config);
    let t0 = Timestamp::now();

    // Healthy: every configured integration is listed, nothing fires.
    let (stripe, outcomes) = round(&app, &targets, t0).await;
    assert_eq!(stripe, IntegrationStatus::Healthy);
    assert!(
        outcomes.iter().all(|(_, o)| *o == Outcome::Unchanged),
        "{outcomes:?}"
    );

    // Slow: degraded, the warning fires once.
    stand_in.state.lock().unwrap().balance_delay_ms = 1300;
    let (stripe, outcomes) = round(&app, &targets, after(t0, 30)).await;
    assert_eq!(stripe, IntegrationStatus::Degraded);
    assert_eq!(
        outcome(&outcomes, "integration_degraded"),
        moved(AlertStatus::Firing, 1)
    );
    assert_eq!(outcome(&outcomes, "integration_down"), Outcome::Unchanged);

    // Failing: degraded twice more, then down after the third failure in
    // a row; the critical alert fires once, the warning does not again.
    {
        let mut state = stand_in.state.lock().unwrap();
        state.balance_delay_ms = 0;
        state.balance_fails = true;
    }
    for (n, expected) in [
        (1, IntegrationStatus::Degraded),
        (2, IntegrationStatus::Degraded),
        (3, IntegrationStatus::Down),
    ] {
        let (stripe, outcomes) = round(&app, &targets, after(t0, 30 + 30 * n)).await;
        assert_eq!(stripe, expected, "failure {n}");
        assert_eq!(
            outcome(&outcomes, "integration_degraded"),
            Outcome::Unchanged
        );
        let down = outcome(&outcomes, "integration_down");
        if n < 3 {
            assert_eq!(down, Outcome::Unchanged, "failure {n}");
        } else {
            assert_eq!(down, moved(AlertStatus::Firing, 1));
        }
    }
    let (stripe, outcomes) = round(&app, &targets, after(t0, 150)).await;
    assert_eq!(stripe, IntegrationStatus::Down);
    assert!(
        outcomes.iter().all(|(_, o)| *o == Outcome::Unchanged),
        "still down: no second notification {outcomes:?}"
    );

    // The operator sees it.
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
    let listed = data(
        app.client
            .get(app.url("/api/v1/admin/integrations"))
            .bearer_auth(&ops)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let names: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|i| i["integration"].as_str())
        .collect();
    assert_eq!(
        names,
        ["paystack", "smtp", "stripe", "webhooks"],
        "{listed}"
    );
    let stripe_view = listed
        .as_array()
        .and_then(|l| l.iter().find(|i| i["integration"] == "stripe"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(stripe_view["status"], "down", "{stripe_view}");
    assert_eq!(stripe_view["kind"], "stripe");
    assert_eq!(stripe_view["consecutive_failures"], 4);
    assert!(
        stripe_view["reason"]
            .as_str()
            .is_some_and(|r| r.contains("in a row")),
        "{stripe_view}"
    );
    assert_eq!(
        stripe_view["since"],
        serde_json::to_value(after(t0, 120)).unwrap()
    );
    // Paystack shares the stand-in's failing balance call; SMTP and the
    // webhooks (no attempts yet) are healthy.
    for (name, status) in [("smtp", "healthy"), ("webhooks", "healthy")] {
        let view = listed
            .as_array()
            .and_then(|l| l.iter().find(|i| i["integration"] == name))
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(view["status"], status, "{view}");
    }

    // The operator console's page shows the same.
    let page = crate::alerts::console_page(&app, "ops@example.com", "/operator/integrations").await;
    assert!(page.contains("<code>stripe</code>"), "{page}");
    assert!(page.contains("status down"), "{page}");
    assert!(page.contains("failed 4 times in a row"), "{page}");
    assert!(
        page.contains("href=\"/operator/integrations\" aria-current=\"page\""),
        "{page}"
    );

    // Healthy again: both alerts resolve, each notified once.
    stand_in.state.lock().unwrap().balance_fails = false;
    let (stripe, outcomes) = round(&app, &targets, after(t0, 180)).await;
    assert_eq!(stripe, IntegrationStatus::Healthy);
    assert_eq!(
        outcome(&outcomes, "integration_degraded"),
        moved(AlertStatus::Inactive, 1)
    );
    assert_eq!(
        outcome(&outcomes, "integration_down"),
        moved(AlertStatus::Inactive, 1)
    );

    // Delivered: one firing and one resolution per severity.
    for path in ["/warning", "/critical"] {
        let hooks = receiver.wait_for(path, 2).await;
        let statuses: Vec<Value> = hooks
            .iter()
            .map(|h| serde_json::from_slice::<Value>(&h.body).expect("JSON")["status"].clone())
            .collect();
        assert_eq!(statuses, ["firing", "resolved"], "{path}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.at("/warning").len(), 2);
    assert_eq!(receiver.at("/critical").len(), 2);
}

async fn only_platform_administrators_see_integrations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let signed_out = app.get("/api/v1/admin/integrations").await;
    assert_eq!(signed_out.status(), 401);
    let (member, _) = signed_in(&app, "member@example.com").await;
    let refused = app
        .client
        .get(app.url("/api/v1/admin/integrations"))
        .bearer_auth(&member)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

const PAYLOAD_KEY: &str = "a-payload-key-for-the-integration-health-tests-0123";
const APP_SECRET: &str = "app-secret-of-the-health-test";
const ACCESS_TOKEN: &str = "EAAG-access-token-of-the-health-test";
const WABA: &str = "102290129340398";
const PHONE_NUMBER_ID: &str = "106540352242922";
const CONTACT: &str = "447700900123";

/// One round at `at`: every integration's stored row, and each rule's
/// outcome.
async fn round_all(
    app: &TestApp,
    targets: &Targets,
    at: Timestamp,
) -> (Vec<HealthRow>, Vec<(String, Outcome)>) {
    let rows = probe_all(&app.db, targets, at)
        .await
        .expect("a probe round");
    let outcomes = evaluate_all(&app.db, &app.config.alerts, RequestLog::Raw, at, None).await;
    (rows, outcomes)
}

fn row<'a>(rows: &'a [HealthRow], integration: &str) -> &'a HealthRow {
    rows.iter()
        .find(|r| r.integration == integration)
        .unwrap_or_else(|| panic!("{integration} in {rows:?}"))
}

/// The operator's bearer token (a platform administrator).
async fn operator(app: &TestApp, smtp: &SmtpServer) -> String {
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
            &json!({ "token": mail.token().expect("a token") }),
        )
        .await;
    assert_eq!(verified.status(), 200);
    ops
}

async fn listed(app: &TestApp, token: &str) -> Vec<Value> {
    let body = data(
        app.client
            .get(app.url("/api/v1/admin/integrations"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    body.as_array().expect("a list").clone()
}

async fn a_whatsapp_channel_and_failing_real_calls_turn_degraded_then_down(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let receiver = Receiver::start("ok").await;
    let stand_in = ProviderStandIn::start().await;
    let graph = WhatsAppStandIn::start().await;
    let port = smtp.port;
    let base = graph.base_url();
    let app = TestApp::spawn_with(backend, |c| {
        smtp_to(c, port);
        stand_in.configure(c);
        alerts_config(c, &receiver);
        c.platform_admins = vec!["ops@example.com".into()];
        c.inbox.whatsapp_api_base = base;
        c.payload_encryption_key = Some(PAYLOAD_KEY.to_owned().into());
        c.jobs_max_attempts = 1;
    })
    .await;
    // The sections (the inbox's Graph API base) as the server has them.
    let targets = Targets::of(&app.config.clone().into_config())
        .with_whatsapp(PayloadCipher::new(PAYLOAD_KEY))
        .expect("the Graph API client");
    let ops = operator(&app, &smtp).await;
    let (owner, _) = signed_in(&app, "owner@example.com").await;
    let channel = data(
        app.post_as(
            "/api/v1/inbox/channels",
            &owner,
            &json!({
                "name": "Support line",
                "phone_number_id": PHONE_NUMBER_ID,
                "business_account_id": WABA,
                "access_token": ACCESS_TOKEN,
                "app_secret": APP_SECRET,
                "verify_token": "verify-token-of-the-health-test",
            }),
        )
        .await,
    )
    .await;
    let whatsapp = format!("whatsapp:{}", channel["id"].as_str().expect("an id"));
    let t0 = Timestamp::now();

    // Healthy: the channel is an integration of its own; the mails sent so
    // far (two confirmations) are real SMTP calls that worked.
    let (rows, outcomes) = round_all(&app, &targets, t0).await;
    assert_eq!(
        row(&rows, &whatsapp).status,
        IntegrationStatus::Healthy,
        "{rows:?}"
    );
    assert!(row(&rows, "smtp").calls >= 1, "{rows:?}");
    assert_eq!(row(&rows, "smtp").failed_calls, 0);
    assert!(
        outcomes.iter().all(|(_, o)| *o == Outcome::Unchanged),
        "{outcomes:?}"
    );

    // Meta's side slow: degraded, the warning fires once.
    graph.slow_numbers(1300);
    let (rows, outcomes) = round_all(&app, &targets, after(t0, 30)).await;
    let channel_row = row(&rows, &whatsapp);
    assert_eq!(channel_row.status, IntegrationStatus::Degraded);
    assert!(channel_row.latency_ms.is_some_and(|ms| ms >= 1300));
    assert_eq!(
        outcome(&outcomes, "integration_degraded"),
        moved(AlertStatus::Firing, 1)
    );
    assert_eq!(outcome(&outcomes, "integration_down"), Outcome::Unchanged);

    // Failing: down at the third failed probe in a row, the critical
    // alert fires once, nothing fires again while it stays down.
    graph.slow_numbers(0);
    graph.fail_numbers(true);
    for n in 1..=4 {
        let (rows, outcomes) = round_all(&app, &targets, after(t0, 30 + 30 * n)).await;
        let expected = if n < 3 {
            IntegrationStatus::Degraded
        } else {
            IntegrationStatus::Down
        };
        assert_eq!(row(&rows, &whatsapp).status, expected, "failure {n}");
        assert_eq!(row(&rows, "stripe").status, IntegrationStatus::Healthy);
        assert_eq!(
            outcome(&outcomes, "integration_degraded"),
            Outcome::Unchanged
        );
        let down = outcome(&outcomes, "integration_down");
        if n == 3 {
            assert_eq!(down, moved(AlertStatus::Firing, 1));
        } else {
            assert_eq!(down, Outcome::Unchanged, "failure {n}");
        }
    }

    // The operator sees it, in the API and on the page; the channel's own
    // organization (not a platform administrator) sees neither.
    let list = listed(&app, &ops).await;
    let view = list
        .iter()
        .find(|i| i["integration"] == whatsapp.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(view["kind"], "whatsapp", "{view}");
    assert_eq!(view["status"], "down", "{view}");
    assert_eq!(view["consecutive_failures"], 4);
    assert!(
        view["reason"]
            .as_str()
            .is_some_and(|r| r.contains("in a row")),
        "{view}"
    );
    let page = crate::alerts::console_page(&app, "ops@example.com", "/operator/integrations").await;
    assert!(page.contains(&format!("<code>{whatsapp}</code>")), "{page}");
    assert!(page.contains("status down"), "{page}");
    let refused = app
        .client
        .get(app.url("/api/v1/admin/integrations"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // Healthy again: both alerts resolve.
    graph.fail_numbers(false);
    let (rows, outcomes) = round_all(&app, &targets, after(t0, 180)).await;
    assert_eq!(row(&rows, &whatsapp).status, IntegrationStatus::Healthy);
    assert_eq!(
        outcome(&outcomes, "integration_degraded"),
        moved(AlertStatus::Inactive, 1)
    );
    assert_eq!(
        outcome(&outcomes, "integration_down"),
        moved(AlertStatus::Inactive, 1)
    );

    // Real Paystack calls: 3 answered (an unknown reference is an answer)
    // and 3 failing with 500 — half failed: degraded, its probe fine.
    let providers = Providers::from_config(&app.config);
    for n in 0..3 {
        let unknown = providers.paystack_verify(&format!("ll_unknown_{n}")).await;
        assert!(unknown.is_err(), "no such transaction");
    }
    stand_in.state.lock().unwrap().verify_fails = true;
    for n in 0..3 {
        assert!(providers
            .paystack_verify(&format!("ll_failing_{n}"))
            .await
            .is_err());
    }
    let (rows, _) = round_all(&app, &targets, after(t0, 210)).await;
    let paystack = row(&rows, "paystack");
    assert_eq!(paystack.status, IntegrationStatus::Degraded, "{paystack:?}");
    assert_eq!((paystack.calls, paystack.failed_calls), (6, 3));
    assert!(
        paystack
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("50 % of 6 calls")),
        "{paystack:?}"
    );
    assert_eq!(paystack.consecutive_failures, 0, "the probe works");

    // Three more failures: two thirds failed, down.
    for n in 3..6 {
        assert!(providers
            .paystack_verify(&format!("ll_failing_{n}"))
            .await
            .is_err());
    }
    // WhatsApp sends answered 500 (one attempt each): every send failed.
    let payload = incoming_text(
        WABA,
        PHONE_NUMBER_ID,
        CONTACT,
        "Ada Lovelace",
        "wamid.HEALTH1",
        "Where is my order?",
        now_secs(),
    );
    let hook = format!(
        "/api/v1/inbox/webhooks/whatsapp/{}",
        channel["id"].as_str().expect("an id")
    );
    let accepted = post_signed(&app.client, &app.url(&hook), APP_SECRET, &payload).await;
    assert_eq!(accepted.status(), 200);
    let conversation = eventually(
        "the conversation opened",
        Duration::from_secs(20),
        async || {
            let list = data(app.get_as("/api/v1/inbox/conversations", &owner).await).await;
            list.as_array()?.first()?["id"].as_str().map(str::to_string)
        },
    )
    .await;
    for n in 0..5 {
        graph.fail_next(500);
        let queued = app
            .post_as(
                &format!("/api/v1/inbox/conversations/{conversation}/messages"),
                &owner,
                &json!({ "text": format!("reply {n}") }),
            )
            .await;
        assert_eq!(queued.status(), 202);
    }
    eventually("five sends failed", Duration::from_secs(30), async || {
        let list = data(
            app.get_as(
                &format!("/api/v1/inbox/conversations/{conversation}/messages?limit=100"),
                &owner,
            )
            .await,
        )
        .await;
        let failed = list
            .as_array()?
            .iter()
            .filter(|m| m["status"] == "failed")
            .count();
        (failed == 5).then_some(())
    })
    .await;
    let (rows, _) = round_all(&app, &targets, after(t0, 240)).await;
    let paystack = row(&rows, "paystack");
    assert_eq!(paystack.status, IntegrationStatus::Down, "{paystack:?}");
    assert_eq!((paystack.calls, paystack.failed_calls), (9, 6));
    let channel_row = row(&rows, &whatsapp);
    assert_eq!(
        channel_row.status,
        IntegrationStatus::Down,
        "{channel_row:?}"
    );
    assert_eq!((channel_row.calls, channel_row.failed_calls), (5, 5));
    assert_eq!(channel_row.consecutive_failures, 0, "its probe works");
    assert!(
        channel_row
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("100 % of 5 calls")),
        "{channel_row:?}"
    );
    let view = listed(&app, &ops).await;
    let view = view
        .iter()
        .find(|i| i["integration"] == "paystack")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        (view["calls"].clone(), view["failed_calls"].clone()),
        (json!(9), json!(6))
    );

    // Past the window the failures no longer count.
    let (rows, _) = round_all(&app, &targets, after(t0, 240 + 20 * 60)).await;
    for name in ["paystack", whatsapp.as_str()] {
        let healthy = row(&rows, name);
        assert_eq!(healthy.status, IntegrationStatus::Healthy, "{healthy:?}");
        assert_eq!(healthy.calls, 0, "{healthy:?}");
    }
}

backend_tests!(
    a_slow_then_failing_provider_degrades_then_goes_down_and_alerts_once,
    only_platform_administrators_see_integrations,
    a_whatsapp_channel_and_failing_real_calls_turn_degraded_then_down,
);
