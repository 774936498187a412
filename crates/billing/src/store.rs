//! Billing's SQL: its tables are `billing_cycles` and `plan_changes`. The
//! organization's plan columns are identity's, moved through
//! `landlord_identity::store`.

use std::collections::HashMap;

use landlord_audit::AuditEntry;
use landlord_core::db::values_placeholders;
use landlord_core::ids::{BillingCycleId, OrganizationId, PlanChangeId, UserId};
use landlord_core::{Config, Db, Timestamp};
use landlord_identity::model::OrganizationRow;
use landlord_identity::store as identity_store;
use landlord_metering::store as metering_store;
use sqlx::{Any, AnyConnection, Executor};

use crate::pricing::Stretch;

landlord_core::text_enum!(
    /// Where a billing cycle is: waiting for payment, paid, past its due
    /// date unpaid, or cancelled.
    pub enum CycleStatus {
        Pending = "pending",
        Paid = "paid",
        Overdue = "overdue",
        Void = "void",
    }
);

impl CycleStatus {
    /// Whether a payment is still expected.
    pub fn is_payable(self) -> bool {
        matches!(self, CycleStatus::Pending | CycleStatus::Overdue)
    }
}

// ---- plan changes -------------------------------------------------------------------

/// A plan change after the start of a period being billed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanChangeAfter {
    pub organization_id: OrganizationId,
    pub from_plan: String,
    pub to_plan: String,
    pub created_at: Timestamp,
}

/// The plans in force during `[start, end)` for an organization now on
/// `current_plan`, from its `changes` after `start` (ordered by time): one
/// (plan, from, to) per stretch.
///
/// The plan in force at a moment is the `from_plan` of the first change
/// after it (the current plan when none followed), so a close that runs
/// late, after later changes, still sees the plans of the month. A change
/// at exactly `start` (a downgrade applied when the previous month closed)
/// is already in force for the whole month.
fn stretch_bounds(
    current_plan: &str,
    changes: &[PlanChangeAfter],
    start: Timestamp,
    end: Timestamp,
) -> Vec<(String, Timestamp, Timestamp)> {
    let mut plan = changes
        .first()
        .map_or(current_plan, |change| change.from_plan.as_str())
        .to_string();
    let mut from = start;
    let mut bounds = Vec::with_capacity(changes.len() + 1);
    for change in changes.iter().take_while(|change| change.created_at < end) {
        bounds.push((plan, from, change.created_at));
        plan = change.to_plan.clone();
        from = change.created_at;
    }
    bounds.push((plan, from, end));
    bounds
}

/// The plan stretches of `[start, end)` for an organization now on
/// `current_plan`, each with the metered requests made during it (see
/// [`stretch_bounds`] for the plans).
///
/// Usage is counted by metering ([`metering_store::count_between`]), one
/// count per stretch over its hourly counters, inside the caller's
/// transaction so the close sees the usage it bills. Every plan change
/// cuts the counters at its instant ([`metering_store::record_cut`]), so a
/// stretch beginning mid-hour counts exactly.
pub async fn plan_stretches(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    current_plan: &str,
    start: Timestamp,
    end: Timestamp,
) -> Result<Vec<Stretch>, sqlx::Error> {
    let changes: Vec<PlanChangeAfter> = sqlx::query_as(
        "SELECT organization_id, from_plan, to_plan, created_at FROM plan_changes \
         WHERE organization_id = $1 AND created_at > $2 ORDER BY created_at, id",
    )
    .bind(organization_id)
    .bind(start)
    .fetch_all(&mut *conn)
    .await?;
    let bounds = stretch_bounds(current_plan, &changes, start, end);
    counted_stretches(conn, organization_id, bounds).await
}

/// Counts each stretch's requests, one count per stretch.
async fn counted_stretches(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    bounds: Vec<(String, Timestamp, Timestamp)>,
) -> Result<Vec<Stretch>, sqlx::Error> {
    let mut stretches = Vec::with_capacity(bounds.len());
    for (plan, from, to) in bounds {
        let requests = metering_store::count_between(&mut *conn, organization_id, from, to).await?;
        stretches.push(Stretch {
            plan,
            from_ms: from.millis(),
            to_ms: to.millis(),
            requests,
        });
    }
    Ok(stretches)
}

/// The plan stretches of `[start, end)` of each of `organizations` (a
/// chunk ordered by id), as [`plan_stretches`] gives them one by one, in
/// two queries for the whole chunk: its plan changes, and its usage per
/// organization. Only an organization whose plan changed during the month
/// (rare) costs one more count per stretch.
pub async fn plan_stretches_of_chunk(
    conn: &mut AnyConnection,
    organizations: &[OrganizationRow],
    start: Timestamp,
    end: Timestamp,
) -> Result<Vec<Vec<Stretch>>, sqlx::Error> {
    let (Some(first), Some(last)) = (organizations.first(), organizations.last()) else {
        return Ok(Vec::new());
    };
    let changes: Vec<PlanChangeAfter> = sqlx::query_as(
        "SELECT organization_id, from_plan, to_plan, created_at FROM plan_changes \
         WHERE organization_id >= $1 AND organization_id <= $2 AND created_at > $3 \
         ORDER BY organization_id, created_at, id",
    )
    .bind(&first.id)
    .bind(&last.id)
    .bind(start)
    .fetch_all(&mut *conn)
    .await?;
    let mut changes_of: HashMap<OrganizationId, Vec<PlanChangeAfter>> = HashMap::new();
    for change in changes {
        changes_of
            .entry(change.organization_id.clone())
            .or_default()
            .push(change);
    }
    let requests_of: HashMap<OrganizationId, i64> =
        metering_store::counts_between_per_organization(
            &mut *conn, &first.id, &last.id, start, end,
        )
        .await?
        .into_iter()
        .collect();
    let mut chunk = Vec::with_capacity(organizations.len());
    for organization in organizations {
        let changes = changes_of
            .get(&organization.id)
            .map_or(&[][..], Vec::as_slice);
        let bounds = stretch_bounds(&organization.plan, changes, start, end);
        let stretches = match <[_; 1]>::try_from(bounds) {
            // One plan all month: the whole month's count.
            Ok([(plan, from, to)]) => vec![Stretch {
                plan,
                from_ms: from.millis(),
                to_ms: to.millis(),
                requests: requests_of.get(&organization.id).copied().unwrap_or(0),
            }],
            Err(bounds) => counted_stretches(conn, &organization.id, bounds).await?,
        };
        chunk.push(stretches);
    }
    Ok(chunk)
}

/// A row of `plan_changes`.
struct NewPlanChange<'a> {
    organization_id: &'a OrganizationId,
    from_plan: &'a str,
    to_plan: &'a str,
    changed_by: Option<&'a UserId>,
    amount: i64,
    currency: &'a str,
    at: Timestamp,
}

async fn insert_plan_change(
    conn: &mut AnyConnection,
    change: NewPlanChange<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO plan_changes (id, organization_id, from_plan, to_plan, changed_by, amount, currency, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(PlanChangeId::generate())
    .bind(change.organization_id)
    .bind(change.from_plan)
    .bind(change.to_plan)
    .bind(change.changed_by)
    .bind(change.amount)
    .bind(change.currency)
    .bind(change.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A plan change taking effect now: the organization's plan and its record.
#[allow(clippy::too_many_arguments)]
pub async fn change_plan(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    from_plan: &str,
    to_plan: &str,
    changed_by: Option<&UserId>,
    amount: i64,
    currency: &str,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    identity_store::set_plan(&mut *conn, organization_id, to_plan).await?;
    // The stretches before and after `at` bill on different plans.
    metering_store::record_cut(&mut *conn, organization_id, at).await?;
    insert_plan_change(
        conn,
        NewPlanChange {
            organization_id,
            from_plan,
            to_plan,
            changed_by,
            amount,
            currency,
            at,
        },
    )
    .await
}

/// Drops the scheduled change; returns it (plan, time) if there was one.
pub async fn cancel_scheduled(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
) -> Result<Option<(String, Timestamp)>, sqlx::Error> {
    let scheduled = identity_store::scheduled_plan_change(&mut *conn, organization_id).await?;
    let Some((plan, at)) = scheduled else {
        return Ok(None);
    };
    let cleared = identity_store::clear_scheduled_plan(conn, organization_id, &plan, at).await?;
    Ok(cleared.then_some((plan, at)))
}

/// Applies the scheduled plan changes due at or before `until`: each
/// organization moves to its scheduled plan, recorded as a plan change at
/// the scheduled time (the end of the period it was asked in), whenever
/// this runs. Safe to repeat and to run on several instances: the update
/// is conditional on the schedule still being there, so one run applies
/// each change. Returns how many were applied.
pub async fn apply_scheduled_changes(
    db: &Db,
    config: &Config,
    until: Timestamp,
) -> anyhow::Result<u64> {
    let due = identity_store::scheduled_plans_due(db.pool(), until).await?;
    let mut applied = 0;
    for change in due {
        let mut tx = db.begin().await?;
        if !identity_store::apply_scheduled_plan(&mut tx, &change).await? {
            // Applied or cancelled meanwhile, elsewhere.
            continue;
        }
        let currency = config
            .plan(&change.scheduled_plan)
            .map(|p| p.currency.clone())
            .unwrap_or_else(|| "USD".into());
        metering_store::record_cut(&mut tx, &change.organization_id, change.scheduled_plan_at)
            .await?;
        insert_plan_change(
            &mut tx,
            NewPlanChange {
                organization_id: &change.organization_id,
                from_plan: &change.plan,
                to_plan: &change.scheduled_plan,
                changed_by: change.scheduled_by.as_ref(),
                amount: 0,
                currency: &currency,
                at: change.scheduled_plan_at,
            },
        )
        .await?;
        let entry = AuditEntry::new("billing.scheduled_plan_applied")
            .organization(&change.organization_id)
            .maybe_actor(change.scheduled_by.as_ref())
            .target("organization", &change.organization_id)
            .details(serde_json::json!({
                "from": change.plan,
                "to": change.scheduled_plan,
                "effective_at": change.scheduled_plan_at,
            }));
        landlord_audit::record(&mut *tx, entry).await?;
        tx.commit().await?;
        applied += 1;
    }
    if applied > 0 {
        tracing::info!(applied, "scheduled plan changes applied");
    }
    Ok(applied)
}

// ---- billing cycles -----------------------------------------------------------------

/// A billing cycle as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CycleRow {
    pub id: BillingCycleId,
    pub organization_id: OrganizationId,
    /// `YYYY-MM`.
    pub period: String,
    pub plan: String,
    pub requests: i64,
    pub included: Option<i64>,
    pub overage_requests: i64,
    pub base_amount: i64,
    pub overage_amount: i64,
    pub adjustments: i64,
    pub amount: i64,
    pub currency: String,
    pub status: CycleStatus,
    pub due_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

const CYCLE_COLUMNS: &str = "id, organization_id, period, plan, requests, included, overage_requests, \
     base_amount, overage_amount, adjustments, amount, currency, status, due_at, paid_at, created_at";

/// The organization's cycles, newest first, after `cursor` (a cycle id).
pub async fn cycles<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Vec<CycleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CYCLE_COLUMNS} FROM billing_cycles WHERE organization_id = $1 AND ($2 = '' OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(organization_id)
    .bind(cursor.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// One of the organization's cycles.
pub async fn cycle_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &BillingCycleId,
) -> Result<Option<CycleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CYCLE_COLUMNS} FROM billing_cycles WHERE organization_id = $1 AND id = $2"
    ))
    .bind(organization_id)
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// A cycle by id alone (a provider's event names it; the organization
/// comes from the row).
pub async fn cycle_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &BillingCycleId,
) -> Result<Option<CycleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CYCLE_COLUMNS} FROM billing_cycles WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// A new cycle, priced.
#[derive(Debug, Clone)]
pub struct NewCycle<'a> {
    pub organization_id: &'a OrganizationId,
    pub period: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub plan: &'a str,
    pub requests: i64,
    pub included: Option<i64>,
    pub overage_requests: i64,
    pub base_amount: i64,
    pub overage_amount: i64,
    pub adjustments: i64,
    pub amount: i64,
    pub currency: &'a str,
    pub status: CycleStatus,
    pub due_at: Timestamp,
    pub paid_at: Option<Timestamp>,
}

/// Columns per inserted cycle.
const CYCLE_INSERT_COLUMNS: usize = 18;

/// Cycles per statement of [`insert_cycles`]: 18,000 parameters, under the
/// databases' limits on bound parameters (SQLite: 32,766).
const CYCLE_INSERT_ROWS: usize = 1_000;

/// Inserts the cycles in multi-row statements, skipping each organization
/// that already has one for the period (closed before, or by another
/// instance at the same moment); returns the organizations whose cycle
/// this call inserted, with their new cycle's id.
pub async fn insert_cycles(
    conn: &mut AnyConnection,
    cycles: &[NewCycle<'_>],
) -> Result<Vec<(OrganizationId, BillingCycleId)>, sqlx::Error> {
    let now = Timestamp::now();
    let mut inserted = Vec::with_capacity(cycles.len());
    for chunk in cycles.chunks(CYCLE_INSERT_ROWS) {
        let values = values_placeholders(conn, chunk.len(), CYCLE_INSERT_COLUMNS);
        let sql = format!(
            "INSERT INTO billing_cycles (id, organization_id, period, period_start, period_end, plan, requests, included, \
             overage_requests, base_amount, overage_amount, adjustments, amount, currency, status, due_at, paid_at, created_at) \
             VALUES {values} ON CONFLICT (organization_id, period) DO NOTHING RETURNING organization_id, id"
        );
        let mut query = sqlx::query_as::<_, (OrganizationId, BillingCycleId)>(&sql);
        for cycle in chunk {
            query = query
                .bind(BillingCycleId::generate())
                .bind(cycle.organization_id)
                .bind(&cycle.period)
                .bind(cycle.start)
                .bind(cycle.end)
                .bind(cycle.plan)
                .bind(cycle.requests)
                .bind(cycle.included)
                .bind(cycle.overage_requests)
                .bind(cycle.base_amount)
                .bind(cycle.overage_amount)
                .bind(cycle.adjustments)
                .bind(cycle.amount)
                .bind(cycle.currency)
                .bind(cycle.status)
                .bind(cycle.due_at)
                .bind(cycle.paid_at)
                .bind(now);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        inserted.extend(rows);
    }
    Ok(inserted)
}

/// Marks pending cycles due before `now` overdue; returns them.
pub async fn mark_overdue(
    conn: &mut AnyConnection,
    now: Timestamp,
) -> Result<Vec<CycleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE billing_cycles SET status = $2 WHERE status = $3 AND due_at < $1 \
         RETURNING {CYCLE_COLUMNS}"
    ))
    .bind(now)
    .bind(CycleStatus::Overdue)
    .bind(CycleStatus::Pending)
    .fetch_all(conn)
    .await
}

/// Marks the cycle paid at `at` unless it already is; returns whether this
/// call paid it (under concurrent events, exactly one does).
pub async fn mark_paid(
    conn: &mut AnyConnection,
    id: &BillingCycleId,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE billing_cycles SET status = $3, paid_at = $2 WHERE id = $1 AND status <> $3",
    )
    .bind(id)
    .bind(at)
    .bind(CycleStatus::Paid)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() > 0)
}

/// Amount of overdue cycles, by currency (minor units).
pub async fn overdue_totals<'c, E: Executor<'c, Database = Any>>(
    executor: E,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT currency, CAST(SUM(amount) AS BIGINT) FROM billing_cycles WHERE status = 'overdue' GROUP BY currency",
    )
    .fetch_all(executor)
    .await
}

/// Cycles that became overdue, and cycles that were due (paid with an
/// amount, or overdue).
pub async fn late_and_due<'c, E: Executor<'c, Database = Any>>(
    executor: E,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'overdue' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN status = 'overdue' OR (status = 'paid' AND amount > 0) THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM billing_cycles",
    )
    .fetch_one(executor)
    .await
}

/// Recurring revenue billed for each period from `since` (`YYYY-MM`) on:
/// the sum of the cycles' `base_amount` (the plan's price, prorated),
/// void cycles left out, by period and currency, oldest first.
pub async fn base_amounts_by_period<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    since: &str,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT period, currency, CAST(SUM(base_amount) AS BIGINT) FROM billing_cycles \
         WHERE status <> 'void' AND period >= $1 GROUP BY period, currency ORDER BY period, currency",
    )
    .bind(since)
    .fetch_all(executor)
    .await
}

/// The organizations among `ids` with an overdue billing cycle.
pub async fn overdue_organizations<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    ids: &[OrganizationId],
) -> Result<Vec<OrganizationId>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT DISTINCT organization_id FROM billing_cycles WHERE status = 'overdue' AND organization_id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, (OrganizationId,)>(&sql);
    for id in ids {
        query = query.bind(id);
    }
    Ok(query
        .fetch_all(executor)
        .await?
        .into_iter()
        .map(|(id,)| id)
        .collect())
}

/// Plan changes from `since` on, oldest first: (organization, from, to).
pub async fn plan_moves_since<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    since: Timestamp,
) -> Result<Vec<(OrganizationId, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT organization_id, from_plan, to_plan FROM plan_changes \
         WHERE created_at >= $1 ORDER BY created_at, id",
    )
    .bind(since)
    .fetch_all(executor)
    .await
}

/// Whether the organization ever chose a plan: a recorded plan change or
/// one scheduled for the end of the period.
pub async fn ever_chose_a_plan(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
) -> Result<bool, sqlx::Error> {
    let (changes,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM plan_changes WHERE organization_id = $1")
            .bind(organization_id)
            .fetch_one(&mut *conn)
            .await?;
    if changes > 0 {
        return Ok(true);
    }
    Ok(identity_store::scheduled_plan_change(conn, organization_id)
        .await?
        .is_some())
}
