//! Closing a period into billing cycles, and marking unpaid ones overdue.

use std::collections::HashMap;
use std::time::Duration;

use landlord_core::ids::{BillingCycleId, OrganizationId};
use landlord_core::{ApiError, Config, Db, Timestamp};
use landlord_events::payloads::{InvoiceCreatedPayload, InvoiceOverduePayload};
use landlord_identity::model::OrganizationRow;
use landlord_identity::store as identity_store;
use landlord_mail::{Mail, Template};
use sqlx::AnyConnection;

use crate::money::format_money;
use crate::period::Period;
use crate::pricing::{price_period, Priced};
use crate::store::{self, CycleStatus, NewCycle};

/// What a close did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// Cycles created by this run.
    pub created: u64,
    /// Organizations whose cycle already existed (closed before, or by
    /// another instance at the same moment).
    pub existing: u64,
}

/// Only a finished month can be closed: closing the current (or a future)
/// month would bill part of it and make the real close skip the
/// organization, leaving the rest of the month unbilled. The error names
/// the `month` field (422 over HTTP); every path to [`close_period`] goes
/// through this check.
pub fn ensure_finished(period: Period, now: Timestamp) -> Result<(), ApiError> {
    if period.end() > now {
        return Err(ApiError::invalid_field(
            "month",
            format!(
                "{} has not ended yet; only finished months can be closed",
                period.key()
            ),
        ));
    }
    Ok(())
}

/// Organizations closed per transaction: a few queries and one commit per
/// chunk instead of several round trips per organization.
const CHUNK: usize = 1_000;

/// Creates one cycle per organization for `period` (organizations created
/// before its end), priced by [`price_period`] from the plans in force
/// during the month. First applies the downgrades scheduled for the end of
/// the period (or earlier). Safe to run again and on several instances at
/// once: a cycle is unique per (organization, period), a scheduled change
/// is applied once. Refuses a month that has not ended
/// ([`ensure_finished`]; the error downcasts to [`ApiError`]).
///
/// Organizations are closed by chunks (ordered by id), each in one
/// transaction: its plan changes and usage read in two queries, priced in
/// memory, its cycles and invoice mails written in multi-row inserts. The
/// cost follows organizations, not their requests.
pub async fn close_period(db: &Db, config: &Config, period: Period) -> anyhow::Result<CloseReport> {
    ensure_finished(period, Timestamp::now())?;
    store::apply_scheduled_changes(db, config, period.end()).await?;
    let organizations =
        identity_store::organizations_created_before(db.pool(), period.end()).await?;
    let mut report = CloseReport::default();
    for chunk in organizations.chunks(CHUNK) {
        let mut tx = db.begin().await?;
        let created = close_chunk(&mut tx, config, period, chunk).await?;
        tx.commit().await?;
        report.created += created;
        report.existing += chunk.len() as u64 - created;
    }
    tracing::info!(
        period = period.key(),
        created = report.created,
        existing = report.existing,
        "billing period closed"
    );
    Ok(report)
}

/// Closes a chunk of organizations (ordered by id); returns how many
/// cycles it created. An organization already closed gets no new cycle
/// and no second invoice.
async fn close_chunk(
    conn: &mut AnyConnection,
    config: &Config,
    period: Period,
    organizations: &[OrganizationRow],
) -> anyhow::Result<u64> {
    let stretches =
        store::plan_stretches_of_chunk(conn, organizations, period.start(), period.end()).await?;
    let now = Timestamp::now();
    let due_at = now.plus(Duration::from_secs(
        u64::from(config.invoice_due_days) * 24 * 3600,
    ));
    let mut priced = Vec::with_capacity(organizations.len());
    for (organization, stretches) in organizations.iter().zip(&stretches) {
        let price = price_period(
            period.start_ms(),
            period.end_ms(),
            organization.created_at.millis(),
            stretches,
            &config.plans,
        )
        .map_err(anyhow::Error::msg)?;
        priced.push((organization, price));
    }
    let cycles: Vec<NewCycle> = priced
        .iter()
        .map(|(organization, price)| new_cycle(organization, period, price, now, due_at))
        .collect();
    let created: HashMap<OrganizationId, BillingCycleId> = store::insert_cycles(conn, &cycles)
        .await?
        .into_iter()
        .collect();
    // `invoice.created` for each cycle this run created, in multi-row
    // inserts, in the chunk's transaction.
    let events: Vec<(OrganizationId, InvoiceCreatedPayload)> = priced
        .iter()
        .filter_map(|(organization, price)| {
            let invoice_id = created.get(&organization.id)?;
            Some((
                organization.id.clone(),
                InvoiceCreatedPayload {
                    organization_id: organization.id.clone(),
                    invoice_id: invoice_id.clone(),
                    period: period.key(),
                    amount: price.amount,
                    currency: price.currency.clone(),
                },
            ))
        })
        .collect();
    landlord_events::record_many(conn, &events).await?;
    // Invoices only for the cycles this run created, and only when there
    // is something to pay and someone to ask.
    let invoices: Vec<Mail> = priced
        .iter()
        .filter(|(organization, price)| price.amount > 0 && created.contains_key(&organization.id))
        .filter_map(|(organization, price)| invoice(config, period, organization, price, due_at))
        .collect();
    landlord_mail::queue_many(conn, &invoices).await?;
    Ok(created.len() as u64)
}

/// The cycle of a priced organization.
fn new_cycle<'a>(
    organization: &'a OrganizationRow,
    period: Period,
    price: &'a Priced,
    now: Timestamp,
    due_at: Timestamp,
) -> NewCycle<'a> {
    // Nothing to pay: the cycle is recorded as settled, and nobody is asked.
    let (status, paid_at) = if price.amount == 0 {
        (CycleStatus::Paid, Some(now))
    } else {
        (CycleStatus::Pending, None)
    };
    NewCycle {
        organization_id: &organization.id,
        period: period.key(),
        start: period.start(),
        end: period.end(),
        plan: &price.plan,
        requests: price.requests,
        included: price.included,
        overage_requests: price.overage_requests,
        base_amount: price.base_amount,
        overage_amount: price.overage_amount,
        adjustments: price.adjustments,
        amount: price.amount,
        currency: &price.currency,
        status,
        due_at,
        paid_at,
    }
}

/// The invoice mail of a cycle, to the organization's billing email (none
/// without one).
fn invoice(
    config: &Config,
    period: Period,
    organization: &OrganizationRow,
    price: &Priced,
    due_at: Timestamp,
) -> Option<Mail> {
    let to = organization.billing_email.clone()?;
    Some(Mail {
        to,
        template: Template::Invoice,
        context: serde_json::json!({
            "organization_name": organization.name,
            "period": period.key(),
            "plan": price.plan,
            "requests": price.requests,
            "amount": format_money(price.amount, &price.currency),
            "due_date": due_at.date(),
            "link": format!("{}/billing", config.app_url()),
        }),
    })
}

/// Marks pending cycles past their due date `overdue` and mails each
/// organization's owners. Returns how many were marked.
pub async fn mark_overdue(db: &Db, config: &Config) -> anyhow::Result<u64> {
    let mut tx = db.begin().await?;
    let cycles = store::mark_overdue(&mut tx, Timestamp::now()).await?;
    for cycle in &cycles {
        let organization_name =
            identity_store::organization_by_id(&mut *tx, &cycle.organization_id)
                .await?
                .map(|o| o.name)
                .unwrap_or_default();
        let owners = identity_store::owner_emails(&mut *tx, &cycle.organization_id).await?;
        for email in owners {
            let mail = Mail {
                to: email,
                template: Template::OverduePayment,
                context: serde_json::json!({
                    "organization_name": &organization_name,
                    "period": cycle.period,
                    "amount": format_money(cycle.amount, &cycle.currency),
                    "due_date": cycle.due_at.date(),
                    "link": format!("{}/billing", config.app_url()),
                }),
            };
            landlord_mail::queue(&mut *tx, &mail).await?;
        }
        landlord_events::record(
            &mut *tx,
            &cycle.organization_id,
            &InvoiceOverduePayload {
                organization_id: cycle.organization_id.clone(),
                invoice_id: cycle.id.clone(),
                period: cycle.period.clone(),
                amount: cycle.amount,
                currency: cycle.currency.clone(),
            },
        )
        .await?;
        tracing::info!(cycle = %cycle.id, "billing cycle overdue");
    }
    tx.commit().await?;
    Ok(cycles.len() as u64)
}
