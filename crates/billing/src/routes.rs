//! `/billing`: history, the current period so far, plan changes.

use axum::extract::State;
use landlord_audit::AuditEntry;
use landlord_core::db::now_millis;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::time::{rfc3339, rfc3339_opt};
use landlord_core::ApiError;
use landlord_identity::permissions::{needs, Authorized};
use landlord_identity::store as identity_store;
use landlord_keys::KeysState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::money::format_money;
use crate::period::Period;
use crate::pricing::{floor_prorate, price_period};
use crate::store;

/// Plan changes allowed per organization per minute (seed 001).
pub const PLAN_CHANGES_PER_MINUTE: u32 = 3;

pub fn router() -> OpenApiRouter<KeysState> {
    OpenApiRouter::new()
        .routes(routes!(history))
        .routes(routes!(calculate))
        .routes(routes!(upgrade))
        .routes(routes!(cancel_scheduled_change))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CycleView {
    pub id: String,
    /// `YYYY-MM`.
    pub period: String,
    pub plan: String,
    pub requests: i64,
    /// Included requests; absent: unlimited.
    pub included: Option<i64>,
    pub overage_requests: i64,
    /// Minor units of `currency`, like every amount.
    pub base_amount: i64,
    pub overage_amount: i64,
    /// Prorated plan changes during the period.
    pub adjustments: i64,
    pub amount: i64,
    pub currency: String,
    /// e.g. `60.00 USD`.
    pub amount_display: String,
    /// `pending`, `paid`, `overdue` or `void`.
    pub status: String,
    pub due_at: String,
    pub paid_at: Option<String>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct CycleRow {
    id: String,
    period: String,
    plan: String,
    requests: i64,
    included: Option<i64>,
    overage_requests: i64,
    base_amount: i64,
    overage_amount: i64,
    adjustments: i64,
    amount: i64,
    currency: String,
    status: String,
    due_at: i64,
    paid_at: Option<i64>,
    created_at: i64,
}

impl From<CycleRow> for CycleView {
    fn from(r: CycleRow) -> Self {
        Self {
            amount_display: format_money(r.amount, &r.currency),
            id: r.id,
            period: r.period,
            plan: r.plan,
            requests: r.requests,
            included: r.included,
            overage_requests: r.overage_requests,
            base_amount: r.base_amount,
            overage_amount: r.overage_amount,
            adjustments: r.adjustments,
            amount: r.amount,
            currency: r.currency,
            status: r.status,
            due_at: rfc3339(r.due_at),
            paid_at: rfc3339_opt(r.paid_at),
            created_at: rfc3339(r.created_at),
        }
    }
}

/// The organization's billing cycles, newest first.
#[utoipa::path(
    get, path = "/billing/history", tag = "billing",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Cycles; `meta.next_cursor` when more follow", body = Envelope<Vec<CycleView>>),
        (status = 403, description = "Missing permission view_billing", body = ErrorEnvelope),
    )
)]
pub async fn history(
    State(state): State<KeysState>,
    user: Authorized<needs::ViewBilling>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<CycleView>>, ApiError> {
    let page = query.page()?;
    let mut rows: Vec<CycleRow> = sqlx::query_as(
        "SELECT id, period, plan, requests, included, overage_requests, base_amount, overage_amount, \
                adjustments, amount, currency, status, due_at, paid_at, created_at \
         FROM billing_cycles WHERE organization_id = $1 AND ($2 = '' OR id < $2) \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(&user.organization_id)
    .bind(page.cursor.as_deref().unwrap_or(""))
    .bind(page.fetch())
    .fetch_all(state.db.pool())
    .await?;
    let meta = page.finish(&mut rows, |r| r.id.clone());
    Ok(ApiSuccess::ok(rows.into_iter().map(CycleView::from).collect()).with_meta(meta))
}

/// A plan change waiting for the end of the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledChangeView {
    /// The plan the organization moves to.
    pub plan: String,
    /// When (RFC 3339): the first instant of the next period.
    pub effective_at: String,
}

impl ScheduledChangeView {
    pub fn new(plan: String, at: landlord_core::Timestamp) -> Self {
        Self {
            plan,
            effective_at: at.rfc3339(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Calculation {
    pub period: String,
    /// The plan in force now.
    pub plan: String,
    pub requests: i64,
    pub included: Option<i64>,
    pub overage_requests: i64,
    /// The price of the plan in force at the start of the period (prorated
    /// from the organization's creation).
    pub base_amount: i64,
    pub overage_amount: i64,
    /// Prorated upgrades during the period.
    pub adjustments: i64,
    /// What the period would cost if it ended now.
    pub amount: i64,
    pub currency: String,
    pub amount_display: String,
    /// A downgrade waiting for the end of the period; absent: none.
    pub scheduled_change: Option<ScheduledChangeView>,
}

/// The current period so far, with the same function as the invoice: each
/// stretch of the month billed by the plan in force during it.
#[utoipa::path(
    get, path = "/billing/calculate", tag = "billing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The period so far", body = Envelope<Calculation>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission view_billing", body = ErrorEnvelope),
    )
)]
pub async fn calculate(
    State(state): State<KeysState>,
    user: Authorized<needs::ViewBilling>,
) -> Result<ApiSuccess<Calculation>, ApiError> {
    let now = now_millis();
    let period = Period::containing(now);
    let mut conn = state.db.pool().acquire().await?;
    let organization = identity_store::organization_by_id(&mut *conn, &user.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let stretches = store::plan_stretches(
        &mut conn,
        organization.id.as_str(),
        &organization.plan,
        period.start_ms(),
        period.end_ms(),
    )
    .await?;
    let priced = price_period(
        period.start_ms(),
        period.end_ms(),
        organization.created_at.millis(),
        &stretches,
        &state.config.plans,
    )
    .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    let scheduled = identity_store::scheduled_plan_change(&mut *conn, &organization.id).await?;
    Ok(ApiSuccess::ok(Calculation {
        period: period.key(),
        plan: priced.plan,
        requests: priced.requests,
        included: priced.included,
        overage_requests: priced.overage_requests,
        base_amount: priced.base_amount,
        overage_amount: priced.overage_amount,
        adjustments: priced.adjustments,
        amount: priced.amount,
        amount_display: format_money(priced.amount, &priced.currency),
        currency: priced.currency,
        scheduled_change: scheduled.map(|(plan, at)| ScheduledChangeView::new(plan, at)),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpgradeRequest {
    /// A plan of the catalog other than the current one, e.g. `starter`.
    pub plan: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanChangeView {
    pub from_plan: String,
    pub to_plan: String,
    /// Prorated charge added to this month's invoice (0 for a scheduled
    /// downgrade).
    pub amount: i64,
    pub currency: String,
    pub changed_at: String,
    /// `true`: a downgrade, taking effect at `effective_at` (the end of the
    /// period); `false`: an upgrade, in effect now.
    pub scheduled: bool,
    pub effective_at: String,
}

/// Move the organization to another plan (owners only; 3 a minute).
///
/// An upgrade (a plan with a higher price) takes effect at once, limits
/// included; the rest of the month is charged `(new price − old price) ×
/// remaining time ÷ month length` (rounded down), added to this month's
/// invoice, and any scheduled downgrade is dropped. A downgrade (any other
/// plan) is scheduled for the end of the period: the month is billed on the
/// current plan, usage already made included; `GET /billing/calculate` and
/// `GET /organization` show it, and `DELETE /billing/scheduled-change`
/// cancels it. A new downgrade replaces a scheduled one.
#[utoipa::path(
    post, path = "/billing/upgrade", tag = "billing",
    security(("bearer" = [])),
    request_body = UpgradeRequest,
    responses(
        (status = 200, description = "Changed now (upgrade) or scheduled (downgrade)", body = Envelope<PlanChangeView>),
        (status = 400, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission upgrade_plan", body = ErrorEnvelope),
        (status = 422, description = "Unknown plan, or the current one", body = ErrorEnvelope),
        (status = 429, description = "More than 3 changes a minute", body = ErrorEnvelope),
    )
)]
pub async fn upgrade(
    State(state): State<KeysState>,
    user: Authorized<needs::UpgradePlan>,
    client: ClientInfo,
    Json(body): Json<UpgradeRequest>,
) -> Result<ApiSuccess<PlanChangeView>, ApiError> {
    state
        .limit(
            &format!("plan-change:{}", user.organization_id),
            PLAN_CHANGES_PER_MINUTE,
            "plan changes",
        )
        .await?;
    let target = body.plan.as_str();
    let new_plan = state.config.plan(target).cloned().ok_or_else(|| {
        let names: Vec<&str> = state.config.plans.keys().map(String::as_str).collect();
        ApiError::invalid_field(
            "plan",
            format!("is not a plan; choose one of {}", names.join(", ")),
        )
    })?;
    let mut tx = state.db.begin().await?;
    let organization = identity_store::organization_by_id(&mut *tx, &user.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    if organization.plan == target {
        return Err(ApiError::invalid_field(
            "plan",
            "is already the organization's plan (DELETE /billing/scheduled-change cancels a scheduled downgrade)",
        ));
    }
    let old_price = state
        .config
        .plan(&organization.plan)
        .map(|p| p.price)
        .unwrap_or(0);
    let now = now_millis();
    let period = Period::containing(now);
    let upgrade = new_plan.price > old_price;
    let (amount, effective_at) = if upgrade {
        let amount = floor_prorate(
            new_plan.price - old_price,
            period.end_ms() - now,
            period.end_ms() - period.start_ms(),
        );
        store::change_plan(
            &mut tx,
            organization.id.as_str(),
            &organization.plan,
            target,
            Some(user.user_id.as_str()),
            amount,
            &new_plan.currency,
            now,
        )
        .await?;
        (amount, now)
    } else {
        store::schedule_plan(
            &mut tx,
            organization.id.as_str(),
            target,
            period.end_ms(),
            user.user_id.as_str(),
        )
        .await?;
        (0, period.end_ms())
    };
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new(if upgrade {
            "billing.plan_changed"
        } else {
            "billing.plan_change_scheduled"
        })
        .organization(&organization.id)
        .actor(&user.user_id)
        .target("organization", &organization.id)
        .client(&client)
        .details(serde_json::json!({
            "from": organization.plan,
            "to": target,
            "amount": amount,
            "effective_at": rfc3339(effective_at),
        })),
    )
    .await?;
    tx.commit().await?;
    if upgrade {
        // Cached key lookups carry the plan: forget them so the new limits
        // apply now on this instance (others within api_key_cache_ms).
        state.cache.invalidate_all();
    }
    Ok(ApiSuccess::ok(PlanChangeView {
        from_plan: organization.plan,
        to_plan: target.to_string(),
        amount,
        currency: new_plan.currency,
        changed_at: rfc3339(now),
        scheduled: !upgrade,
        effective_at: rfc3339(effective_at),
    }))
}

/// Cancel the scheduled downgrade (owners only). The organization stays on
/// its current plan.
#[utoipa::path(
    delete, path = "/billing/scheduled-change", tag = "billing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled: the change that was scheduled", body = Envelope<ScheduledChangeView>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission upgrade_plan", body = ErrorEnvelope),
        (status = 404, description = "No change is scheduled", body = ErrorEnvelope),
    )
)]
pub async fn cancel_scheduled_change(
    State(state): State<KeysState>,
    user: Authorized<needs::UpgradePlan>,
    client: ClientInfo,
) -> Result<ApiSuccess<ScheduledChangeView>, ApiError> {
    let mut tx = state.db.begin().await?;
    let (plan, at) = store::cancel_scheduled(&mut tx, &user.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("scheduled plan change"))?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&user, &client, "billing.plan_change_cancelled")
            .target("organization", &user.organization_id)
            .details(serde_json::json!({ "plan": plan, "effective_at": at })),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(ScheduledChangeView::new(plan, at)))
}
