//! Integration health: the payments' Stripe stand-in made slow turns
//! Stripe degraded, made failing turns it down after three failed probes;
//! each alert rule (degraded, down) fires once and resolves when Stripe
//! answers well again; `GET /api/v1/admin/integrations` shows every
//! configured integration to platform administrators only.
//!
//! Time is the test's: the evaluator task is off, and each round is
//! `probe_all` then `evaluate_all` at an instant the test chooses.

use std::time::Duration;

use landlord::settings::Settings as Config;
use landlord_alerts::config::{
    AlertChannel, AlertChannels, AlertRule, AlertSeverity, AlertSignal, AlertsConfig,
};
use landlord_alerts::integrations::{probe_all, IntegrationStatus, Targets};
use landlord_alerts::store::AlertStatus;
use landlord_alerts::{evaluate_all, Outcome, RequestLog};
use landlord_core::Timestamp;
use serde_json::Value;

use crate::backend_tests;
use crate::support::accounts::{data, signed_in, token_of};
use crate::support::app::smtp_to;
use crate::support::providers::ProviderStandIn;
use crate::support::receiver::Receiver;
use crate::support::smtp::SmtpServer;
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

backend_tests!(
    a_slow_then_failing_provider_degrades_then_goes_down_and_alerts_once,
    only_platform_administrators_see_integrations,
);
