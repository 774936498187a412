//! Payment fixtures: a starter organization with a closed October cycle,
//! local stand-ins for Stripe and Paystack, and webhook bodies signed as
//! each provider signs them.

use std::time::Duration;

use landlord_payments::signature::sign_paystack;
use serde_json::json;

use super::accounts::token_of;
use super::app::{json, smtp_to};
use super::billing::planted_counters;
use super::eventually::eventually;
use super::providers::{ProviderStandIn, PAYSTACK_KEY};
use super::smtp::SmtpServer;
use super::{Backend, TestApp};

pub const OCTOBER: &str = "2026-10";

pub struct Billed {
    pub app: TestApp,
    pub smtp: SmtpServer,
    pub stand_in: ProviderStandIn,
    pub owner: String,
    pub cycle_id: String,
    pub organization_id: String,
}

/// Puts `organization_id` on the starter plan since before October, with
/// 15,000 requests in October, and closes October: an open cycle of
/// 60.00 USD (the months a browser journey cannot wait for).
pub async fn bill_october(app: &TestApp, organization_id: &str) {
    sqlx::query("UPDATE organizations SET plan = 'starter', created_at = 1 WHERE id = $1")
        .bind(organization_id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let period = landlord_billing::Period::parse(OCTOBER).unwrap();
    let mut tx = app.db.pool().begin().await.unwrap();
    for chunk in 0..30 {
        let values: Vec<String> = (0..500)
            .map(|i| format!("(${}, '/x', 'GET', 200, ${})", i * 2 + 1, i * 2 + 2))
            .collect();
        let sql = format!("INSERT INTO usage_records (organization_id, endpoint, method, status, created_at) VALUES {}", values.join(", "));
        let mut query = sqlx::query(&sql);
        for _ in 0..500 {
            query = query.bind(organization_id).bind(period.start_ms() + chunk);
        }
        query.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    for chunk in 0..30 {
        planted_counters(app, organization_id, "", 500, period.start_ms() + chunk).await;
    }
    landlord_billing::close_period(&app.db, &app.config, period)
        .await
        .unwrap();
}

/// A starter organization with a closed October cycle of 60.00 USD.
pub async fn billed(backend: Backend, max_attempts: u32) -> Billed {
    let smtp = SmtpServer::start().await;
    let stand_in = ProviderStandIn::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, |c| {
        smtp_to(c, port);
        stand_in.configure(c);
        c.jobs_max_attempts = max_attempts;
        c.platform_admins = vec!["ops@example.com".into()];
    })
    .await;
    let data = app.register("payer@example.com", "Payer").await;
    let organization_id = data["organization"]["id"].as_str().unwrap().to_string();
    bill_october(&app, &organization_id).await;
    let owner = token_of(&data, "access_token");
    let history = json(app.get_as("/api/v1/billing/history", &owner).await).await;
    assert_eq!(history["data"][0]["amount"], 6000);
    let cycle_id = history["data"][0]["id"].as_str().unwrap().to_string();
    Billed {
        app,
        smtp,
        stand_in,
        owner,
        cycle_id,
        organization_id,
    }
}

impl Billed {
    /// Registers ops@example.com (listed in `platform_admins`) and verifies
    /// its address through the mail received: only then is it an operator.
    pub async fn verified_operator(&self) -> String {
        let ops = token_of(
            &self.app.register("ops@example.com", "Operators").await,
            "access_token",
        );
        let mail = self
            .smtp
            .wait_for_subject("ops@example.com", "Confirm your email")
            .await;
        let token = mail.token().expect("a verification token");
        let verified = self
            .app
            .post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
            .await;
        assert_eq!(verified.status(), 200);
        ops
    }

    pub async fn initiate(&self, provider: &str, idempotency: Option<&str>) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .post(self.app.url("/api/v1/billing/initiate-payment"))
            .bearer_auth(&self.owner)
            .json(&json!({"billing_cycle_id": self.cycle_id, "provider": provider}));
        if let Some(key) = idempotency {
            request = request.header("idempotency-key", key);
        }
        request.send().await.unwrap()
    }

    pub fn stripe_event(&self, event_id: &str, amount: i64, currency: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": event_id,
            "object": "event",
            "type": "checkout.session.completed",
            "data": {"object": {
                "id": "cs_test_1",
                "object": "checkout.session",
                "amount_total": amount,
                "currency": currency,
                "payment_status": "paid",
                "metadata": {"billing_cycle_id": self.cycle_id, "organization_id": self.organization_id},
            }},
        }))
        .unwrap()
    }

    pub async fn post_stripe(&self, body: &[u8], signature: Option<String>) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .post(self.app.url("/api/v1/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        request.send().await.unwrap()
    }

    pub async fn cycle_status(&self) -> String {
        let (status,): (String,) =
            sqlx::query_as("SELECT status FROM billing_cycles WHERE id = $1")
                .bind(&self.cycle_id)
                .fetch_one(self.app.db.pool())
                .await
                .unwrap();
        status
    }

    pub async fn wait_for_cycle(&self, status: &str) {
        eventually(
            format_args!("the cycle to become {status}"),
            Duration::from_secs(15),
            async || (self.cycle_status().await == status).then_some(()),
        )
        .await;
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(self.app.db.pool())
            .await
            .unwrap();
        n
    }
}

pub fn paystack_event(reference: &str, id: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "charge.success",
        "data": {"id": id, "reference": reference, "amount": 6000, "currency": "USD", "status": "success"},
    }))
    .unwrap()
}

pub async fn post_paystack(b: &Billed, body: &[u8]) -> reqwest::Response {
    b.app
        .client
        .post(b.app.url("/api/v1/webhooks/paystack"))
        .header("content-type", "application/json")
        .header("x-paystack-signature", sign_paystack(body, PAYSTACK_KEY))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

pub fn paid_session(
    session: &str,
    cycle_id: &str,
    organization_id: &str,
    event_id: &str,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "data": {"object": {
            "id": session,
            "object": "checkout.session",
            "amount_total": 6000,
            "currency": "usd",
            "payment_status": "paid",
            "metadata": {"billing_cycle_id": cycle_id, "organization_id": organization_id},
        }},
    }))
    .unwrap()
}

impl Billed {
    /// Posts a Stripe checkout event for this cycle, signed with the
    /// configured secret; returns the answer.
    pub async fn post_signed_stripe(&self, event_id: &str, amount: i64) -> reqwest::Response {
        let body = self.stripe_event(event_id, amount, "usd");
        let signature = landlord_payments::signature::sign_stripe(
            &body,
            super::providers::STRIPE_WEBHOOK_SECRET,
            super::clock::now_secs(),
        );
        self.post_stripe(&body, Some(signature)).await
    }
}
