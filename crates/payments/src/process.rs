//! Processing a stored provider event, as a job: find the cycle, check the
//! paid amount and currency against it, mark it paid, record the payment,
//! send the receipt. A failure is retried with backoff; after the last
//! attempt the event is `dead` with its error, for an operator to replay.

use landlord_audit::AuditEntry;
use landlord_billing::money::format_money;
use landlord_billing::store::{self as billing_store, CycleRow, CycleStatus};
use landlord_core::ids::{BillingCycleId, WebhookEventId};
use landlord_core::{Config, Db, Timestamp};
use landlord_events::payloads::{
    InvoicePaidPayload, PaymentFailedPayload, PaymentSucceededPayload,
};
use landlord_identity::store as identity_store;
use landlord_jobs::{Attempt, JobHandler, NewJob};
use landlord_mail::{Mail, Template};
use serde_json::Value;
use sqlx::AnyConnection;
use std::sync::Arc;

use crate::providers::{ProviderName, Providers};
use crate::store::{
    self, DiscrepancyKind, NewDiscrepancy, NewPayment, PaymentStatus, StoredEvent,
    WebhookEventStatus,
};

pub const PROCESS_EVENT_JOB: &str = "payments.process_event";

/// Where events of payments another feature started go: an event whose
/// object's metadata names `metadata_key` is verified and stored here,
/// then handed whole to the job `job` (`provider`, `event_type` and the
/// `object` in its payload). The binary registers one per feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRoute {
    pub metadata_key: &'static str,
    pub job: &'static str,
}

/// The event's object (Stripe's `data.object`, Paystack's `data`) and the
/// first route whose metadata key it names.
fn routed_object<'a>(
    routes: &'a [EventRoute],
    provider: ProviderName,
    body: &Value,
) -> Option<(&'a EventRoute, Value)> {
    let object = match provider {
        ProviderName::Stripe => &body["data"]["object"],
        ProviderName::Paystack => &body["data"],
    };
    routes
        .iter()
        .find(|route| object["metadata"][route.metadata_key].as_str().is_some())
        .map(|route| (route, object.clone()))
}

pub struct ProcessEvent {
    pub db: Db,
    pub config: Arc<Config>,
    pub providers: Providers,
    /// Events of other features' payments, handed to their jobs.
    pub routes: Arc<[EventRoute]>,
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
            .map(WebhookEventId::from_trusted)
            .ok_or_else(|| anyhow::anyhow!("payload without event"))?;
        let Some(event) = store::event(&self.db, &id).await? else {
            anyhow::bail!("event {id} does not exist");
        };
        if event.status == WebhookEventStatus::Processed {
            return Ok(());
        }
        store::count_attempt(&self.db, &id).await?;
        let provider = event.provider.as_str();
        match self.process(&event).await {
            Ok(()) => {
                store::mark_processed(&self.db, &id).await?;
                metrics::counter!("webhook_events_processed_total", "provider" => provider)
                    .increment(1);
                Ok(())
            }
            Err(error) => {
                let status = if attempt.last {
                    WebhookEventStatus::Dead
                } else {
                    WebhookEventStatus::Failed
                };
                store::mark_failed(&self.db, &id, status, &format!("{error:#}")).await?;
                metrics::counter!("webhook_events_failed_total", "provider" => provider)
                    .increment(1);
                Err(error)
            }
        }
    }
}

impl ProcessEvent {
    async fn process(&self, event: &StoredEvent) -> anyhow::Result<()> {
        let body: Value = serde_json::from_str(&event.payload)?;
        if let Some((route, object)) = routed_object(&self.routes, event.provider, &body) {
            let job = NewJob::new(
                route.job,
                serde_json::json!({
                    "provider": event.provider,
                    "event_type": event.event_type,
                    "object": object,
                }),
            );
            landlord_jobs::enqueue(self.db.pool(), job).await?;
            return Ok(());
        }
        let paid = match (event.provider, event.event_type.as_str()) {
            (ProviderName::Stripe, "checkout.session.completed") => {
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
            (ProviderName::Paystack, "charge.success") => {
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
            (ProviderName::Stripe, "checkout.session.async_payment_failed") => {
                let session = &body["data"]["object"];
                let reference = session["id"].as_str().unwrap_or_default();
                return self
                    .fail(
                        event.provider,
                        reference,
                        Some("the payment failed at Stripe"),
                    )
                    .await;
            }
            (ProviderName::Paystack, "charge.failed") => {
                let data = &body["data"];
                let reference = data["reference"].as_str().unwrap_or_default();
                let reason = data["gateway_response"].as_str();
                return self.fail(event.provider, reference, reason).await;
            }
            // Other events are stored for the record and need no action.
            _ => return Ok(()),
        };
        self.settle(event.provider, &paid).await
    }

    /// A provider reports the checkout `reference` failed: an initiated
    /// payment becomes `failed` and `payment.failed` is written, once; a
    /// payment that already succeeded stays so.
    async fn fail(
        &self,
        provider: ProviderName,
        reference: &str,
        reason: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut tx = self.db.begin().await?;
        if let Some(payment) = store::mark_payment_failed(&mut tx, provider, reference).await? {
            landlord_events::record(
                &mut *tx,
                &payment.organization_id,
                &PaymentFailedPayload {
                    organization_id: payment.organization_id.clone(),
                    payment_id: payment.id,
                    invoice_id: payment.billing_cycle_id,
                    provider: provider.as_str().to_string(),
                    amount: payment.amount,
                    currency: payment.currency,
                    reason: reason.map(str::to_string),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn settle(&self, provider: ProviderName, paid: &Paid) -> anyhow::Result<()> {
        let mut tx = self.db.begin().await?;
        let Some(cycle) = matching_cycle(&mut tx, provider, paid).await? else {
            // Recorded as a discrepancy: the cycle (if any) stays unpaid.
            tx.commit().await?;
            return Ok(());
        };
        // The conditional update decides, under concurrent events, which one
        // pays the cycle: the other finds it paid.
        let paid_at = Timestamp::now();
        let newly_paid = cycle.status != CycleStatus::Paid
            && billing_store::mark_paid(&mut tx, &cycle.id, paid_at).await?;
        // A cycle is paid once: money for a cycle another payment already
        // settled is a duplicate, recorded for a refund, never a success.
        let duplicate = !newly_paid
            && store::paid_by_another(&mut tx, &cycle.id, provider, &paid.reference).await?;
        let status = if duplicate {
            PaymentStatus::Duplicate
        } else {
            PaymentStatus::Succeeded
        };
        let previous = record_payment(&mut tx, provider, paid, &cycle, status).await?;
        if duplicate && previous != Some(PaymentStatus::Duplicate) {
            record_duplicate(&mut tx, provider, paid, &cycle).await?;
        }
        if status == PaymentStatus::Succeeded && previous != Some(PaymentStatus::Succeeded) {
            if let Some(payment_id) = store::payment_id(&mut tx, provider, &paid.reference).await? {
                landlord_events::record(
                    &mut *tx,
                    &cycle.organization_id,
                    &PaymentSucceededPayload {
                        organization_id: cycle.organization_id.clone(),
                        payment_id,
                        invoice_id: Some(cycle.id.clone()),
                        provider: provider.as_str().to_string(),
                        amount: paid.amount,
                        currency: paid.currency.clone(),
                    },
                )
                .await?;
            }
        }
        if newly_paid {
            self.receipt(&mut tx, provider, paid, &cycle).await?;
            landlord_events::record(
                &mut *tx,
                &cycle.organization_id,
                &InvoicePaidPayload {
                    organization_id: cycle.organization_id.clone(),
                    invoice_id: cycle.id.clone(),
                    period: cycle.period.clone(),
                    amount: cycle.amount,
                    currency: cycle.currency.clone(),
                    paid_at,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queues the receipt (to the billing address, if any) and records the
    /// payment in the audit log.
    async fn receipt(
        &self,
        conn: &mut AnyConnection,
        provider: ProviderName,
        paid: &Paid,
        cycle: &CycleRow,
    ) -> anyhow::Result<()> {
        let organization = identity_store::organization_by_id(&mut *conn, &cycle.organization_id)
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!("organization {} does not exist", cycle.organization_id)
            })?;
        if let Some(to) = organization.billing_email {
            let mail = Mail {
                to,
                template: Template::PaymentReceipt,
                context: serde_json::json!({
                    "organization_name": organization.name,
                    "amount": format_money(cycle.amount, &cycle.currency),
                    "period": cycle.period,
                    "provider": provider,
                    "reference": paid.reference,
                }),
            };
            landlord_mail::queue(&mut *conn, &mail).await?;
        }
        landlord_audit::record(
            &mut *conn,
            AuditEntry::new("billing.payment_received")
                .organization(&cycle.organization_id)
                .target("billing_cycle", &cycle.id)
                .details(serde_json::json!({ "provider": provider, "reference": paid.reference, "amount": cycle.amount })),
        )
        .await?;
        Ok(())
    }
}

/// Puts a failed or dead event back to be processed (operators). Returns
/// false when no such event is failed or dead. The caller wakes the worker.
pub async fn replay_event(db: &Db, event_id: &WebhookEventId) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    if !store::requeue_event(&mut tx, event_id).await? {
        return Ok(false);
    }
    landlord_jobs::enqueue(&mut *tx, process_job(event_id)).await?;
    tx.commit().await?;
    Ok(true)
}

/// The job that processes a stored event.
pub fn process_job(event_id: &WebhookEventId) -> NewJob {
    NewJob::new(PROCESS_EVENT_JOB, serde_json::json!({ "event": event_id }))
}

/// The billing cycle `paid` settles, when it names one and matches its
/// amount and currency; otherwise the difference is recorded as a
/// discrepancy for an operator, and `None`.
async fn matching_cycle(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    provider: ProviderName,
    paid: &Paid,
) -> anyhow::Result<Option<CycleRow>> {
    let theirs = format!("{} {}", paid.amount, paid.currency);
    let cycle = match BillingCycleId::parse(&paid.cycle_id) {
        Some(id) => billing_store::cycle_by_id(&mut **tx, &id).await?,
        None => None,
    };
    let Some(cycle) = cycle else {
        store::insert_discrepancy(
            &mut **tx,
            &NewDiscrepancy {
                provider,
                organization_id: None,
                billing_cycle_id: None,
                reference: &paid.reference,
                kind: DiscrepancyKind::UnknownCycle,
                ours: None,
                theirs: &theirs,
            },
        )
        .await?;
        return Ok(None);
    };
    if paid.amount == cycle.amount && paid.currency == cycle.currency {
        return Ok(Some(cycle));
    }
    let ours = format!("{} {}", cycle.amount, cycle.currency);
    store::insert_discrepancy(
        &mut **tx,
        &NewDiscrepancy {
            provider,
            organization_id: Some(&cycle.organization_id),
            billing_cycle_id: Some(&cycle.id),
            reference: &paid.reference,
            kind: DiscrepancyKind::AmountMismatch,
            ours: Some(&ours),
            theirs: &theirs,
        },
    )
    .await?;
    tracing::warn!(cycle = %cycle.id, ours, theirs, "payment does not match its billing cycle");
    Ok(None)
}

/// Records the payment of `cycle` with `status` (inserted, or its status
/// updated when the provider's reference is known); the status it had.
async fn record_payment(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    provider: ProviderName,
    paid: &Paid,
    cycle: &CycleRow,
    status: PaymentStatus,
) -> anyhow::Result<Option<PaymentStatus>> {
    let previous = store::payment_status(tx, provider, &paid.reference).await?;
    if previous.is_some() {
        store::set_payment_status(tx, provider, &paid.reference, status).await?;
    } else {
        store::insert_payment(
            &mut **tx,
            &NewPayment {
                organization_id: &cycle.organization_id,
                billing_cycle_id: &cycle.id,
                provider,
                reference: &paid.reference,
                checkout_url: None,
                amount: paid.amount,
                currency: &paid.currency,
                status,
            },
        )
        .await?;
    }
    Ok(previous)
}

/// A second payment for a paid cycle: a discrepancy (to refund) and an
/// audit entry, the first time it is seen.
async fn record_duplicate(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    provider: ProviderName,
    paid: &Paid,
    cycle: &CycleRow,
) -> anyhow::Result<()> {
    store::insert_discrepancy(
        &mut **tx,
        &NewDiscrepancy {
            provider,
            organization_id: Some(&cycle.organization_id),
            billing_cycle_id: Some(&cycle.id),
            reference: &paid.reference,
            kind: DiscrepancyKind::DuplicatePayment,
            ours: Some(&format!(
                "cycle already paid: {} {}",
                cycle.amount, cycle.currency
            )),
            theirs: &format!("paid again {} {}: refund", paid.amount, paid.currency),
        },
    )
    .await?;
    landlord_audit::record(
        &mut **tx,
        AuditEntry::new("billing.duplicate_payment")
            .organization(&cycle.organization_id)
            .target("billing_cycle", &cycle.id)
            .details(serde_json::json!({ "provider": provider, "reference": paid.reference, "amount": paid.amount })),
    )
    .await?;
    tracing::warn!(cycle = %cycle.id, reference = %paid.reference, "second payment for a paid cycle: to refund");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: [EventRoute; 2] = [
        EventRoute {
            metadata_key: "shop_order_id",
            job: "shop.payment",
        },
        EventRoute {
            metadata_key: "booking_id",
            job: "bookings.payment",
        },
    ];

    #[test]
    fn an_event_naming_a_routed_key_goes_to_its_job_with_its_object() {
        let stripe = serde_json::json!({
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_1", "metadata": {"booking_id": "b1"}}},
        });
        let (route, object) = routed_object(&ROUTES, ProviderName::Stripe, &stripe).unwrap();
        assert_eq!(route.job, "bookings.payment");
        assert_eq!(object, stripe["data"]["object"]);
        let paystack = serde_json::json!({
            "event": "charge.success",
            "data": {"reference": "r1", "metadata": {"shop_order_id": "o1"}},
        });
        let (route, object) = routed_object(&ROUTES, ProviderName::Paystack, &paystack).unwrap();
        assert_eq!(route.job, "shop.payment");
        assert_eq!(object, paystack["data"]);
    }

    #[test]
    fn a_billing_event_or_a_key_without_a_text_value_stays_here() {
        let cycle = serde_json::json!({
            "data": {"object": {"metadata": {"billing_cycle_id": "c1"}}},
        });
        assert!(routed_object(&ROUTES, ProviderName::Stripe, &cycle).is_none());
        let number = serde_json::json!({
            "data": {"object": {"metadata": {"booking_id": 7}}},
        });
        assert!(routed_object(&ROUTES, ProviderName::Stripe, &number).is_none());
        assert!(routed_object(&[], ProviderName::Stripe, &cycle).is_none());
    }
}
