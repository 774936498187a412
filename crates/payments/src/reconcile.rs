//! Daily reconciliation: ask each configured provider for the state of
//! recent payments and record every difference with ours.

use std::sync::Arc;
use std::time::Duration;

use landlord_core::{Db, Timestamp};
use landlord_jobs::{Attempt, JobHandler};
use serde_json::Value;

use crate::providers::{ProviderName, Providers};
use crate::store::{self, DiscrepancyKind, NewDiscrepancy};

pub use landlord_billing::schedule::RECONCILE_JOB;

/// Payments younger than this are compared.
const WINDOW: Duration = Duration::from_secs(35 * 24 * 3600);

/// Compares recent payments with the providers; returns how many new
/// differences were recorded (one already open is not recorded twice).
pub async fn reconcile(db: &Db, providers: &Providers) -> anyhow::Result<u64> {
    let payments = store::payments_since(db, Timestamp::now().minus(WINDOW)).await?;
    let mut recorded = 0;
    for payment in payments {
        let provider = payment.provider;
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
        let ours_paid = payment.status.is_paid();
        let ours = format!("{} {} {}", payment.status, payment.amount, payment.currency);
        let theirs = format!(
            "{} {amount} {currency}",
            if paid { "paid" } else { "unpaid" }
        );
        let kind = if paid && !ours_paid {
            Some(DiscrepancyKind::ProviderPaidWeDidNot)
        } else if !paid && ours_paid {
            Some(DiscrepancyKind::WePaidProviderDidNot)
        } else if paid && (amount != payment.amount || currency != payment.currency) {
            Some(DiscrepancyKind::AmountMismatch)
        } else {
            None
        };
        let Some(kind) = kind else { continue };
        if store::discrepancy_open(db, provider, &payment.provider_reference, kind).await? {
            continue;
        }
        store::insert_discrepancy(
            db.pool(),
            &NewDiscrepancy {
                provider,
                organization_id: Some(&payment.organization_id),
                billing_cycle_id: payment.billing_cycle_id.as_ref(),
                reference: &payment.provider_reference,
                kind,
                ours: Some(&ours),
                theirs: &theirs,
            },
        )
        .await?;
        tracing::warn!(%provider, reference = %payment.provider_reference, %kind, "reconciliation difference");
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
