//! Processing a stored provider event, as a job: find the cycle, check the
//! paid amount and currency against it, mark it paid, record the payment,
//! send the receipt. A failure is retried with backoff; after the last
//! attempt the event is `dead` with its error, for an operator to replay.

use landlord_audit::AuditEntry;
use landlord_billing::money::format_money;
use landlord_core::db::now_millis;
use landlord_core::ids::OrganizationId;
use landlord_core::{Config, Db};
use landlord_jobs::{Attempt, JobHandler};
use landlord_mail::{Mail, Template};
use serde_json::Value;
use std::sync::Arc;

use crate::providers::Providers;

pub const PROCESS_EVENT_JOB: &str = "payments.process_event";

pub struct ProcessEvent {
    pub db: Db,
    pub config: Arc<Config>,
    pub providers: Providers,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    provider: String,
    event_type: String,
    payload: String,
    status: String,
}

#[derive(sqlx::FromRow)]
struct CycleToSettle {
    organization_id: String,
    period: String,
    amount: i64,
    currency: String,
    status: String,
    billing_email: Option<String>,
    organization_name: String,
}

/// A provider's claim that money arrived.
struct Paid {
    reference: String,
    cycle_id: String,
    amount: i64,
    currency: String,
}

#[async_trait::async_trait]
impl JobHandler for ProcessEvent {
    async fn handle(&self, payload: &Value, attempt: Attempt) -> anyhow::Result<()> {
        let id = payload["event"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("payload without event"))?;
        let Some(event) = sqlx::query_as::<_, EventRow>(
            "SELECT provider, event_type, payload, status FROM provider_webhook_events WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        else {
            anyhow::bail!("event {id} does not exist");
        };
        if event.status == "processed" {
            return Ok(());
        }
        sqlx::query("UPDATE provider_webhook_events SET attempts = attempts + 1 WHERE id = $1")
            .bind(id)
            .execute(self.db.pool())
            .await?;
        match self.process(&event).await {
            Ok(()) => {
                sqlx::query(
                    "UPDATE provider_webhook_events SET status = 'processed', processed_at = $2, last_error = NULL WHERE id = $1",
                )
                .bind(id)
                .bind(now_millis())
                .execute(self.db.pool())
                .await?;
                metrics::counter!("webhook_events_processed_total", "provider" => event.provider.clone()).increment(1);
                Ok(())
            }
            Err(error) => {
                let status = if attempt.last { "dead" } else { "failed" };
                sqlx::query(
                    "UPDATE provider_webhook_events SET status = $2, last_error = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(status)
                .bind(format!("{error:#}"))
                .execute(self.db.pool())
                .await?;
                metrics::counter!("webhook_events_failed_total", "provider" => event.provider.clone()).increment(1);
                Err(error)
            }
        }
    }
}

impl ProcessEvent {
    async fn process(&self, event: &EventRow) -> anyhow::Result<()> {
        let body: Value = serde_json::from_str(&event.payload)?;
        let paid = match (event.provider.as_str(), event.event_type.as_str()) {
            ("stripe", "checkout.session.completed") => {
                let session = &body["data"]["object"];
                if session["payment_status"] != "paid" {
                    return Ok(());
                }
                Paid {
                    reference: session["id"].as_str().unwrap_or_default().to_string(),
                    cycle_id: session["metadata"]["billing_cycle_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    amount: session["amount_total"].as_i64().unwrap_or(-1),
                    currency: session["currency"]
                        .as_str()
                        .unwrap_or_default()
                        .to_uppercase(),
                }
            }
            ("paystack", "charge.success") => {
                let data = &body["data"];
                let reference = data["reference"].as_str().unwrap_or_default().to_string();
                // Paystack events are confirmed with its verify call.
                let (status, amount, currency) = self.providers.paystack_verify(&reference).await?;
                if status != "success" {
                    anyhow::bail!("Paystack reports the transaction {reference} as {status}");
                }
                Paid {
                    reference,
                    cycle_id: data["metadata"]["billing_cycle_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    amount,
                    currency,
                }
            }
            // Other events are stored for the record and need no action.
            _ => return Ok(()),
        };
        self.settle(&event.provider, &paid).await
    }

    async fn settle(&self, provider: &str, paid: &Paid) -> anyhow::Result<()> {
        let now = now_millis();
        let mut tx = self.db.begin().await?;
        let cycle: Option<CycleToSettle> = sqlx::query_as(
            "SELECT c.organization_id, c.period, c.amount, c.currency, c.status, o.billing_email, \
                o.name AS organization_name \
             FROM billing_cycles c JOIN organizations o ON o.id = c.organization_id WHERE c.id = $1",
        )
        .bind(&paid.cycle_id)
        .fetch_optional(&mut *tx)
        .await?;
        let theirs = format!("{} {}", paid.amount, paid.currency);
        let Some(CycleToSettle {
            organization_id,
            period,
            amount,
            currency,
            status,
            billing_email,
            organization_name,
        }) = cycle
        else {
            discrepancy(
                &mut tx,
                provider,
                None,
                None,
                &paid.reference,
                "unknown_cycle",
                None,
                &theirs,
            )
            .await?;
            tx.commit().await?;
            return Ok(());
        };
        if paid.amount != amount || paid.currency != currency {
            // The cycle stays unpaid; an operator looks at the difference.
            let ours = format!("{amount} {currency}");
            discrepancy(
                &mut tx,
                provider,
                Some(&organization_id),
                Some(&paid.cycle_id),
                &paid.reference,
                "amount_mismatch",
                Some(&ours),
                &theirs,
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(cycle = %paid.cycle_id, ours, theirs, "payment does not match its billing cycle");
            return Ok(());
        }
        // The conditional update decides, under concurrent events, which one
        // pays the cycle: the other finds it paid.
        let newly_paid = status != "paid"
            && sqlx::query(
                "UPDATE billing_cycles SET status = 'paid', paid_at = $2 WHERE id = $1 AND status <> 'paid'",
            )
            .bind(&paid.cycle_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
        // A cycle is paid once: money for a cycle another payment already
        // settled is a duplicate, recorded for a refund, never a success.
        let duplicate = !newly_paid
            && paid_by_another(&mut tx, &paid.cycle_id, provider, &paid.reference).await?;
        let payment_status = if duplicate { "duplicate" } else { "succeeded" };
        let previous: Option<(String,)> = sqlx::query_as(
            "SELECT status FROM payments WHERE provider = $1 AND provider_reference = $2",
        )
        .bind(provider)
        .bind(&paid.reference)
        .fetch_optional(&mut *tx)
        .await?;
        match previous {
            Some(_) => {
                sqlx::query(
                    "UPDATE payments SET status = $3, updated_at = $4 WHERE provider = $1 AND provider_reference = $2",
                )
                .bind(provider)
                .bind(&paid.reference)
                .bind(payment_status)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO payments (id, organization_id, billing_cycle_id, provider, provider_reference, amount, currency, \
                     status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&organization_id)
                .bind(&paid.cycle_id)
                .bind(provider)
                .bind(&paid.reference)
                .bind(paid.amount)
                .bind(&paid.currency)
                .bind(payment_status)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        let first_time_duplicate = duplicate
            && previous
                .as_ref()
                .is_none_or(|(status,)| status != "duplicate");
        if first_time_duplicate {
            discrepancy(
                &mut tx,
                provider,
                Some(&organization_id),
                Some(&paid.cycle_id),
                &paid.reference,
                "duplicate_payment",
                Some(&format!("cycle already paid: {amount} {currency}")),
                &format!("paid again {theirs}: refund"),
            )
            .await?;
            landlord_audit::record(
                &mut *tx,
                AuditEntry::new("billing.duplicate_payment")
                    .organization(&OrganizationId::from_trusted(organization_id.clone()))
                    .target("billing_cycle", &paid.cycle_id)
                    .details(serde_json::json!({ "provider": provider, "reference": paid.reference, "amount": paid.amount })),
            )
            .await?;
            tracing::warn!(cycle = %paid.cycle_id, reference = %paid.reference, "second payment for a paid cycle: to refund");
        }
        if newly_paid {
            if let Some(to) = billing_email {
                let mail = Mail {
                    to,
                    template: Template::PaymentReceipt,
                    context: serde_json::json!({
                        "organization_name": organization_name,
                        "amount": format_money(amount, &currency),
                        "period": period,
                        "provider": provider,
                        "reference": paid.reference,
                    }),
                };
                landlord_mail::queue(&mut *tx, &mail).await?;
            }
            landlord_audit::record(
                &mut *tx,
                AuditEntry::new("billing.payment_received")
                    .organization(&OrganizationId::from_trusted(organization_id.clone()))
                    .target("billing_cycle", &paid.cycle_id)
                    .details(serde_json::json!({ "provider": provider, "reference": paid.reference, "amount": amount })),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Whether a payment other than `provider`/`reference` already succeeded
/// for the cycle.
async fn paid_by_another(
    tx: &mut sqlx::AnyConnection,
    cycle_id: &str,
    provider: &str,
    reference: &str,
) -> Result<bool, sqlx::Error> {
    let (others,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM payments WHERE billing_cycle_id = $1 AND status = 'succeeded' \
         AND NOT (provider = $2 AND provider_reference = $3)",
    )
    .bind(cycle_id)
    .bind(provider)
    .bind(reference)
    .fetch_one(tx)
    .await?;
    Ok(others > 0)
}

#[allow(clippy::too_many_arguments)]
async fn discrepancy(
    tx: &mut sqlx::AnyConnection,
    provider: &str,
    organization_id: Option<&str>,
    cycle_id: Option<&str>,
    reference: &str,
    kind: &str,
    ours: Option<&str>,
    theirs: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reconciliation_discrepancies (id, provider, organization_id, billing_cycle_id, provider_reference, \
         kind, ours, theirs, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(provider)
    .bind(organization_id)
    .bind(cycle_id)
    .bind(reference)
    .bind(kind)
    .bind(ours)
    .bind(theirs)
    .bind(now_millis())
    .execute(tx)
    .await?;
    Ok(())
}

/// Puts a failed or dead event back to be processed (operators). Returns
/// false when no such event is failed or dead.
pub async fn replay_event(db: &Db, event_id: &str) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    let updated = sqlx::query(
        "UPDATE provider_webhook_events SET status = 'received', last_error = NULL \
         WHERE id = $1 AND status IN ('failed', 'dead')",
    )
    .bind(event_id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    landlord_jobs::enqueue(
        &mut *tx,
        landlord_jobs::NewJob::new(PROCESS_EVENT_JOB, serde_json::json!({ "event": event_id })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
