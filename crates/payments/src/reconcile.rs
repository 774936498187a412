//! Daily reconciliation: ask each configured provider for the state of
//! recent payments and record every difference with ours.

use std::sync::Arc;
use std::time::Duration;

use landlord_core::{Db, Timestamp};
use landlord_jobs::{Attempt, JobHandler};
use serde_json::Value;

use crate::providers::{NotFound, ProviderName, Providers};
use crate::store::{self, DiscrepancyKind, NewDiscrepancy};

pub use landlord_billing::schedule::RECONCILE_JOB;

/// Payments younger than this are compared.
const WINDOW: Duration = Duration::from_secs(35 * 24 * 3600);

/// What a reconciliation run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// New differences recorded (one already open is not recorded twice).
    pub recorded: u64,
    /// Payments the provider did not answer about (a timeout, a 5xx): not
    /// judged this time — an outage is not a difference — and looked at
    /// again on the next run.
    pub unanswered: u64,
}

/// Compares recent payments with the providers. Only an answer counts: the
/// payment's state there, or a definite "no such payment" (404), which is
/// "not paid there"; any other failure leaves the payment for the next run.
pub async fn reconcile(db: &Db, providers: &Providers) -> anyhow::Result<Reconciliation> {
    let payments = store::payments_since(db, Timestamp::now().minus(WINDOW)).await?;
    let mut run = Reconciliation::default();
    for payment in payments {
        let provider = payment.provider;
        if !providers.configured(provider) {
            continue;
        }
        let answer = match provider {
            ProviderName::Stripe => providers
                .stripe_session(&payment.provider_reference)
                .await
                .map(|(status, amount, currency)| (status == "paid", amount, currency)),
            ProviderName::Paystack => providers
                .paystack_verify(&payment.provider_reference)
                .await
                .map(|(status, amount, currency)| (status == "success", amount, currency)),
        };
        let (paid, amount, currency) = match answer {
            Ok(answer) => answer,
            // Unknown there (never created, or abandoned): not paid there.
            Err(error) if error.downcast_ref::<NotFound>().is_some() => {
                (false, payment.amount, payment.currency.clone())
            }
            Err(error) => {
                tracing::warn!(%provider, reference = %payment.provider_reference, error = format!("{error:#}"), "reconciliation: the provider did not answer; looked at again on the next run");
                run.unanswered += 1;
                continue;
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
        run.recorded += 1;
    }
    Ok(run)
}

/// The daily reconciliation job.
pub struct ReconcileJob {
    pub db: Db,
    pub providers: Arc<Providers>,
}

#[async_trait::async_trait]
impl JobHandler for ReconcileJob {
    async fn handle(&self, _payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let run = reconcile(&self.db, &self.providers).await?;
        tracing::info!(run.recorded, run.unanswered, "reconciliation finished");
        if run.unanswered > 0 {
            // Retried with backoff (what was recorded stays recorded once).
            anyhow::bail!(
                "{} payments could not be checked with their provider; reconciliation runs again",
                run.unanswered
            );
        }
        Ok(())
    }
}
