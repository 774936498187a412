//! Billing's SQL: the plan stretches of a month with their usage, plan
//! changes, and downgrades scheduled for the end of the period.

use landlord_audit::AuditEntry;
use landlord_core::db::now_millis;
use landlord_core::{Config, Db};
use sqlx::AnyConnection;

use crate::pricing::Stretch;

/// The plan stretches of `[start, end)` for an organization now on
/// `current_plan`, each with the metered requests made during it.
///
/// The plan in force at a moment is the `from_plan` of the first change
/// after it (the current plan when none followed), so a close that runs
/// late, after later changes, still sees the plans of the month. A change
/// at exactly `start` (a downgrade applied when the previous month closed)
/// is already in force for the whole month.
///
/// Usage is counted from `usage_records`, one count per stretch; this is
/// the one place that counts, to be swapped for hourly roll-ups.
pub async fn plan_stretches(
    conn: &mut AnyConnection,
    organization_id: &str,
    current_plan: &str,
    start: i64,
    end: i64,
) -> Result<Vec<Stretch>, sqlx::Error> {
    let first_after: Option<(String,)> = sqlx::query_as(
        "SELECT from_plan FROM plan_changes WHERE organization_id = $1 AND created_at > $2 \
         ORDER BY created_at, id LIMIT 1",
    )
    .bind(organization_id)
    .bind(start)
    .fetch_optional(&mut *conn)
    .await?;
    let changes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT to_plan, created_at FROM plan_changes WHERE organization_id = $1 \
         AND created_at > $2 AND created_at < $3 ORDER BY created_at, id",
    )
    .bind(organization_id)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let mut plan = first_after
        .map(|(p,)| p)
        .unwrap_or_else(|| current_plan.to_string());
    let mut from = start;
    let mut bounds = Vec::with_capacity(changes.len() + 1);
    for (to_plan, at) in changes {
        bounds.push((plan, from, at));
        plan = to_plan;
        from = at;
    }
    bounds.push((plan, from, end));
    let mut stretches = Vec::with_capacity(bounds.len());
    for (plan, from_ms, to_ms) in bounds {
        let (requests,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM usage_records WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3",
        )
        .bind(organization_id)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_one(&mut *conn)
        .await?;
        stretches.push(Stretch {
            plan,
            from_ms,
            to_ms,
            requests,
        });
    }
    Ok(stretches)
}

/// A plan change taking effect now: the organization's plan and its record.
#[allow(clippy::too_many_arguments)]
pub async fn change_plan(
    conn: &mut AnyConnection,
    organization_id: &str,
    from_plan: &str,
    to_plan: &str,
    changed_by: Option<&str>,
    amount: i64,
    currency: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organizations SET plan = $2, scheduled_plan = NULL, scheduled_plan_at = NULL, \
         scheduled_by = NULL, updated_at = $3 WHERE id = $1",
    )
    .bind(organization_id)
    .bind(to_plan)
    .bind(now_millis())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO plan_changes (id, organization_id, from_plan, to_plan, changed_by, amount, currency, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(organization_id)
    .bind(from_plan)
    .bind(to_plan)
    .bind(changed_by)
    .bind(amount)
    .bind(currency)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Schedules a move to `plan` at `at` (replacing any scheduled one).
pub async fn schedule_plan(
    conn: &mut AnyConnection,
    organization_id: &str,
    plan: &str,
    at: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organizations SET scheduled_plan = $2, scheduled_plan_at = $3, scheduled_by = $4, updated_at = $5 \
         WHERE id = $1",
    )
    .bind(organization_id)
    .bind(plan)
    .bind(at)
    .bind(by)
    .bind(now_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Drops the scheduled change; returns it (plan, time) if there was one.
pub async fn cancel_scheduled(
    conn: &mut AnyConnection,
    organization_id: &landlord_core::ids::OrganizationId,
) -> Result<Option<(String, landlord_core::Timestamp)>, sqlx::Error> {
    let scheduled =
        landlord_identity::store::scheduled_plan_change(&mut *conn, organization_id).await?;
    let Some((plan, at)) = scheduled else {
        return Ok(None);
    };
    let cleared = sqlx::query(
        "UPDATE organizations SET scheduled_plan = NULL, scheduled_plan_at = NULL, scheduled_by = NULL, updated_at = $4 \
         WHERE id = $1 AND scheduled_plan = $2 AND scheduled_plan_at = $3",
    )
    .bind(organization_id)
    .bind(&plan)
    .bind(at)
    .bind(now_millis())
    .execute(&mut *conn)
    .await?;
    Ok((cleared.rows_affected() > 0).then_some((plan, at)))
}

#[derive(sqlx::FromRow)]
struct DueChange {
    id: String,
    plan: String,
    scheduled_plan: String,
    scheduled_plan_at: i64,
    scheduled_by: Option<String>,
}

/// Applies the scheduled plan changes due at or before `until`: each
/// organization moves to its scheduled plan, recorded as a plan change at
/// the scheduled time (the end of the period it was asked in), whenever
/// this runs. Safe to repeat and to run on several instances: the update
/// is conditional on the schedule still being there, so one run applies
/// each change. Returns how many were applied.
pub async fn apply_scheduled_changes(db: &Db, config: &Config, until: i64) -> anyhow::Result<u64> {
    let due: Vec<DueChange> = sqlx::query_as(
        "SELECT id, plan, scheduled_plan, scheduled_plan_at, scheduled_by FROM organizations \
         WHERE scheduled_plan IS NOT NULL AND scheduled_plan_at <= $1 ORDER BY id",
    )
    .bind(until)
    .fetch_all(db.pool())
    .await?;
    let mut applied = 0;
    for change in due {
        let mut tx = db.begin().await?;
        let updated = sqlx::query(
            "UPDATE organizations SET plan = $2, scheduled_plan = NULL, scheduled_plan_at = NULL, \
             scheduled_by = NULL, updated_at = $5 \
             WHERE id = $1 AND plan = $3 AND scheduled_plan = $2 AND scheduled_plan_at = $4",
        )
        .bind(&change.id)
        .bind(&change.scheduled_plan)
        .bind(&change.plan)
        .bind(change.scheduled_plan_at)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            // Applied or cancelled meanwhile, elsewhere.
            continue;
        }
        let currency = config
            .plan(&change.scheduled_plan)
            .map(|p| p.currency.clone())
            .unwrap_or_else(|| "USD".into());
        sqlx::query(
            "INSERT INTO plan_changes (id, organization_id, from_plan, to_plan, changed_by, amount, currency, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&change.id)
        .bind(&change.plan)
        .bind(&change.scheduled_plan)
        .bind(&change.scheduled_by)
        .bind(&currency)
        .bind(change.scheduled_plan_at)
        .execute(&mut *tx)
        .await?;
        let mut entry = AuditEntry::new("billing.scheduled_plan_applied")
            .organization(&landlord_core::ids::OrganizationId::from_trusted(
                change.id.clone(),
            ))
            .target("organization", &change.id)
            .details(serde_json::json!({
                "from": change.plan,
                "to": change.scheduled_plan,
                "effective_at": landlord_core::time::rfc3339(change.scheduled_plan_at),
            }));
        if let Some(by) = &change.scheduled_by {
            entry = entry.actor(&landlord_core::ids::UserId::from_trusted(by.clone()));
        }
        landlord_audit::record(&mut *tx, entry).await?;
        tx.commit().await?;
        applied += 1;
    }
    if applied > 0 {
        tracing::info!(applied, "scheduled plan changes applied");
    }
    Ok(applied)
}
