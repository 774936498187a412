//! Closing a period into billing cycles, and marking unpaid ones overdue.

use landlord_core::db::now_millis;
use landlord_core::{ApiError, Config, Db};
use landlord_mail::{Mail, Template};
use sqlx::AnyConnection;

use crate::money::format_money;
use crate::period::Period;
use crate::pricing::price_period;

/// What a close did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// Cycles created by this run.
    pub created: u64,
    /// Organizations whose cycle already existed (closed before, or by
    /// another instance at the same moment).
    pub existing: u64,
}

#[derive(sqlx::FromRow)]
struct OrgToBill {
    id: String,
    name: String,
    plan: String,
    billing_email: Option<String>,
    created_at: i64,
}

/// Only a finished month can be closed: closing the current (or a future)
/// month would bill part of it and make the real close skip the
/// organization, leaving the rest of the month unbilled. The error names
/// the `month` field (422 over HTTP); every path to [`close_period`] goes
/// through this check.
pub fn ensure_finished(period: Period, now: i64) -> Result<(), ApiError> {
    if period.end_ms() > now {
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
    ensure_finished(period, now_millis())?;
    crate::store::apply_scheduled_changes(db, config, period.end_ms()).await?;
    let organizations: Vec<OrgToBill> = sqlx::query_as(
        "SELECT id, name, plan, billing_email, created_at FROM organizations WHERE created_at < $1 ORDER BY id",
    )
    .bind(period.end_ms())
    .fetch_all(db.pool())
    .await?;
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
    organization: &OrgToBill,
) -> anyhow::Result<bool> {
    let stretches = crate::store::plan_stretches(
        conn,
        &organization.id,
        &organization.plan,
        period.start_ms(),
        period.end_ms(),
    )
    .await?;
    let priced = price_period(
        period.start_ms(),
        period.end_ms(),
        organization.created_at,
        &stretches,
        &config.plans,
    )
    .map_err(anyhow::Error::msg)?;
    let amount = priced.amount;
    let now = now_millis();
    let due_at = now + i64::from(config.invoice_due_days) * 24 * 3600 * 1000;
    // Nothing to pay: the cycle is recorded as settled, and nobody is asked.
    let (status, paid_at) = if amount == 0 {
        ("paid", Some(now))
    } else {
        ("pending", None)
    };
    let id = uuid::Uuid::now_v7().to_string();
    let inserted = sqlx::query(
        "INSERT INTO billing_cycles (id, organization_id, period, period_start, period_end, plan, requests, included, \
         overage_requests, base_amount, overage_amount, adjustments, amount, currency, status, due_at, paid_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
         ON CONFLICT (organization_id, period) DO NOTHING",
    )
    .bind(&id)
    .bind(&organization.id)
    .bind(period.key())
    .bind(period.start_ms())
    .bind(period.end_ms())
    .bind(&priced.plan)
    .bind(priced.requests)
    .bind(priced.included)
    .bind(priced.overage_requests)
    .bind(priced.base_amount)
    .bind(priced.overage_amount)
    .bind(priced.adjustments)
    .bind(amount)
    .bind(&priced.currency)
    .bind(status)
    .bind(due_at)
    .bind(paid_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
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
                    "due_date": landlord_core::time::rfc3339(due_at)[..10].to_string(),
                    "link": format!("{}/billing", config.app_url()),
                }),
            };
            landlord_mail::queue(&mut *conn, &mail).await?;
        }
    }
    Ok(true)
}

#[derive(sqlx::FromRow)]
struct OverdueCycle {
    id: String,
    organization_id: String,
    period: String,
    amount: i64,
    currency: String,
    due_at: i64,
}

/// Marks pending cycles past their due date `overdue` and mails each
/// organization's owners. Returns how many were marked.
pub async fn mark_overdue(db: &Db, config: &Config) -> anyhow::Result<u64> {
    let now = now_millis();
    let mut tx = db.begin().await?;
    let cycles: Vec<OverdueCycle> = sqlx::query_as(
        "UPDATE billing_cycles SET status = 'overdue' WHERE status = 'pending' AND due_at < $1 \
         RETURNING id, organization_id, period, amount, currency, due_at",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    for cycle in &cycles {
        let owners: Vec<(String, String)> = sqlx::query_as(
            "SELECT u.email, o.name FROM memberships m JOIN users u ON u.id = m.user_id \
             JOIN organizations o ON o.id = m.organization_id \
             WHERE m.organization_id = $1 AND m.role = 'owner'",
        )
        .bind(&cycle.organization_id)
        .fetch_all(&mut *tx)
        .await?;
        for (email, organization_name) in owners {
            let mail = Mail {
                to: email,
                template: Template::OverduePayment,
                context: serde_json::json!({
                    "organization_name": organization_name,
                    "period": cycle.period,
                    "amount": format_money(cycle.amount, &cycle.currency),
                    "due_date": landlord_core::time::rfc3339(cycle.due_at)[..10].to_string(),
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
