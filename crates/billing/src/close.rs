//! Closing a period into billing cycles, and marking unpaid ones overdue.

use std::time::Duration;

use landlord_core::{ApiError, Config, Db, Timestamp};
use landlord_identity::model::OrganizationRow;
use landlord_identity::store as identity_store;
use landlord_mail::{Mail, Template};
use sqlx::AnyConnection;

use crate::money::format_money;
use crate::period::Period;
use crate::pricing::price_period;
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

/// Creates one cycle per organization for `period` (organizations created
/// before its end), priced by [`price_period`] from the plans in force
/// during the month. First applies the downgrades scheduled for the end of
/// the period (or earlier). Safe to run again and on several instances at
/// once: a cycle is unique per (organization, period), a scheduled change
/// is applied once. Refuses a month that has not ended
/// ([`ensure_finished`]; the error downcasts to [`ApiError`]).
pub async fn close_period(db: &Db, config: &Config, period: Period) -> anyhow::Result<CloseReport> {
    ensure_finished(period, Timestamp::now())?;
    store::apply_scheduled_changes(db, config, period.end()).await?;
    let organizations =
        identity_store::organizations_created_before(db.pool(), period.end()).await?;
    let mut report = CloseReport::default();
    for organization in organizations {
        let mut tx = db.begin().await?;
        if close_one(&mut tx, config, period, &organization).await? {
            report.created += 1;
        } else {
            report.existing += 1;
        }
        tx.commit().await?;
    }
    tracing::info!(
        period = period.key(),
        created = report.created,
        existing = report.existing,
        "billing period closed"
    );
    Ok(report)
}

async fn close_one(
    conn: &mut AnyConnection,
    config: &Config,
    period: Period,
    organization: &OrganizationRow,
) -> anyhow::Result<bool> {
    let stretches = store::plan_stretches(
        conn,
        &organization.id,
        &organization.plan,
        period.start(),
        period.end(),
    )
    .await?;
    let priced = price_period(
        period.start_ms(),
        period.end_ms(),
        organization.created_at.millis(),
        &stretches,
        &config.plans,
    )
    .map_err(anyhow::Error::msg)?;
    let amount = priced.amount;
    let now = Timestamp::now();
    let due_at = now.plus(Duration::from_secs(
        u64::from(config.invoice_due_days) * 24 * 3600,
    ));
    // Nothing to pay: the cycle is recorded as settled, and nobody is asked.
    let (status, paid_at) = if amount == 0 {
        (CycleStatus::Paid, Some(now))
    } else {
        (CycleStatus::Pending, None)
    };
    let cycle = NewCycle {
        organization_id: &organization.id,
        period: period.key(),
        start: period.start(),
        end: period.end(),
        plan: &priced.plan,
        requests: priced.requests,
        included: priced.included,
        overage_requests: priced.overage_requests,
        base_amount: priced.base_amount,
        overage_amount: priced.overage_amount,
        adjustments: priced.adjustments,
        amount,
        currency: &priced.currency,
        status,
        due_at,
        paid_at,
    };
    if !store::insert_cycle(conn, &cycle).await? {
        return Ok(false);
    }
    if amount > 0 {
        if let Some(to) = organization.billing_email.clone() {
            let mail = Mail {
                to,
                template: Template::Invoice,
                context: serde_json::json!({
                    "organization_name": organization.name,
                    "period": period.key(),
                    "plan": priced.plan,
                    "requests": priced.requests,
                    "amount": format_money(amount, &priced.currency),
                    "due_date": due_at.date(),
                    "link": format!("{}/billing", config.app_url()),
                }),
            };
            landlord_mail::queue(&mut *conn, &mail).await?;
        }
    }
    Ok(true)
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
        tracing::info!(cycle = %cycle.id, "billing cycle overdue");
    }
    tx.commit().await?;
    Ok(cycles.len() as u64)
}
