//! Daily reconciliation: ask each configured provider for the state of
//! recent payments and record every difference with ours.

use std::sync::Arc;

use landlord_core::db::now_millis;
use landlord_core::Db;
use landlord_jobs::{Attempt, JobHandler};
use serde_json::Value;

use crate::providers::{ProviderName, Providers};

pub use landlord_billing::schedule::RECONCILE_JOB;

/// Payments younger than this are compared.
const WINDOW_MS: i64 = 35 * 24 * 3600 * 1000;

#[derive(sqlx::FromRow)]
struct PaymentRow {
    organization_id: String,
    billing_cycle_id: Option<String>,
    provider: String,
    provider_reference: String,
    amount: i64,
    currency: String,
    status: String,
}

/// Compares recent payments with the providers; returns how many new
/// differences were recorded (one already open is not recorded twice).
pub async fn reconcile(db: &Db, providers: &Providers) -> anyhow::Result<u64> {
    let payments: Vec<PaymentRow> = sqlx::query_as(
        "SELECT organization_id, billing_cycle_id, provider, provider_reference, amount, currency, status \
         FROM payments WHERE created_at >= $1 ORDER BY created_at",
    )
    .bind(now_millis() - WINDOW_MS)
    .fetch_all(db.pool())
    .await?;
    let mut recorded = 0;
    for payment in payments {
        let Some(provider) = ProviderName::parse(&payment.provider) else {
            continue;
        };
        if !providers.configured(provider) {
            continue;
        }
        let (paid, amount, currency) = match provider {
            ProviderName::Stripe => {
                match providers.stripe_session(&payment.provider_reference).await {
                    Ok((status, amount, currency)) => (status == "paid", amount, currency),
                    Err(error) => {
                        tracing::warn!(reference = %payment.provider_reference, error = format!("{error:#}"), "reconciliation: Stripe lookup failed");
                        continue;
                    }
                }
            }
            ProviderName::Paystack => {
                match providers.paystack_verify(&payment.provider_reference).await {
                    Ok((status, amount, currency)) => (status == "success", amount, currency),
                    // Unknown or abandoned at Paystack: not paid there.
                    Err(_) => (false, payment.amount, payment.currency.clone()),
                }
            }
        };
        // A duplicate was paid too (and is already flagged for a refund).
        let ours_paid = payment.status == "succeeded" || payment.status == "duplicate";
        let ours = format!("{} {} {}", payment.status, payment.amount, payment.currency);
        let theirs = format!(
            "{} {amount} {currency}",
            if paid { "paid" } else { "unpaid" }
        );
        let kind = if paid && !ours_paid {
            Some("provider_paid_we_did_not")
        } else if !paid && ours_paid {
            Some("we_paid_provider_did_not")
        } else if paid && (amount != payment.amount || currency != payment.currency) {
            Some("amount_mismatch")
        } else {
            None
        };
        let Some(kind) = kind else { continue };
        let open: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM reconciliation_discrepancies WHERE provider = $1 AND provider_reference = $2 \
             AND kind = $3 AND resolved_at IS NULL",
        )
        .bind(&payment.provider)
        .bind(&payment.provider_reference)
        .bind(kind)
        .fetch_optional(db.pool())
        .await?;
        if open.is_some() {
            continue;
        }
        sqlx::query(
            "INSERT INTO reconciliation_discrepancies (id, provider, organization_id, billing_cycle_id, provider_reference, \
             kind, ours, theirs, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&payment.provider)
        .bind(&payment.organization_id)
        .bind(&payment.billing_cycle_id)
        .bind(&payment.provider_reference)
        .bind(kind)
        .bind(&ours)
        .bind(&theirs)
        .bind(now_millis())
        .execute(db.pool())
        .await?;
        tracing::warn!(provider = %payment.provider, reference = %payment.provider_reference, kind, "reconciliation difference");
        recorded += 1;
    }
    Ok(recorded)
}

/// The daily reconciliation job.
pub struct ReconcileJob {
    pub db: Db,
    pub providers: Arc<Providers>,
}

#[async_trait::async_trait]
impl JobHandler for ReconcileJob {
    async fn handle(&self, _payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let recorded = reconcile(&self.db, &self.providers).await?;
        tracing::info!(recorded, "reconciliation finished");
        Ok(())
    }
}
