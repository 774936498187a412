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

/// Plan changes allowed per organization per minute (seed 001).
pub const PLAN_CHANGES_PER_MINUTE: u32 = 3;

pub fn router() -> OpenApiRouter<KeysState> {
    OpenApiRouter::new()
        .routes(routes!(history))
        .routes(routes!(calculate))
        .routes(routes!(upgrade))
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

#[derive(Debug, Serialize, ToSchema)]
pub struct Calculation {
    pub period: String,
    pub plan: String,
    pub requests: i64,
    pub included: Option<i64>,
    pub overage_requests: i64,
    pub base_amount: i64,
    pub overage_amount: i64,
    pub adjustments: i64,
    /// What the period would cost if it ended now.
    pub amount: i64,
    pub currency: String,
    pub amount_display: String,
}

/// The current period so far, with the same formula as the invoice.
#[utoipa::path(
    get, path = "/billing/calculate", tag = "billing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The period so far", body = Envelope<Calculation>),
        (status = 403, description = "Missing permission view_billing", body = ErrorEnvelope),
    )
)]
pub async fn calculate(
    State(state): State<KeysState>,
    user: Authorized<needs::ViewBilling>,
) -> Result<ApiSuccess<Calculation>, ApiError> {
    let now = now_millis();
    let period = Period::containing(now);
    let organization = identity_store::organization_by_id(state.db.pool(), &user.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let requests =
        landlord_metering::count_since(&state.db, &organization.id, period.start_ms()).await?;
    let (adjustments,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM plan_changes WHERE organization_id = $1 AND created_at >= $2",
    )
    .bind(&organization.id)
    .bind(period.start_ms())
    .fetch_one(state.db.pool())
    .await?;
    let first: Option<(String,)> = sqlx::query_as(
        "SELECT from_plan FROM plan_changes WHERE organization_id = $1 AND created_at >= $2 ORDER BY created_at, id LIMIT 1",
    )
    .bind(&organization.id)
    .bind(period.start_ms())
    .fetch_optional(state.db.pool())
    .await?;
    let plan = state
        .config
        .plan(&organization.plan)
        .cloned()
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!(
                "plan {} not in the catalog",
                organization.plan
            ))
        })?;
    let start_plan = first
        .and_then(|(p,)| state.config.plan(&p).cloned())
        .unwrap_or_else(|| plan.clone());
    let month = period.end_ms() - period.start_ms();
    let billed_from = organization_created_at(&state, &organization.id)
        .await?
        .max(period.start_ms());
    let base_amount = start_plan.price * (period.end_ms() - billed_from) / month;
    let overage_requests = plan.overage_requests(requests);
    let overage_amount = overage_requests * plan.overage_price.unwrap_or(0);
    let amount = (base_amount + adjustments + overage_amount).max(0);
    Ok(ApiSuccess::ok(Calculation {
        period: period.key(),
        plan: organization.plan,
        requests,
        included: plan.included_requests,
        overage_requests,
        base_amount,
        overage_amount,
        adjustments,
        amount,
        amount_display: format_money(amount, &plan.currency),
        currency: plan.currency,
    }))
}

async fn organization_created_at(state: &KeysState, id: &str) -> Result<i64, ApiError> {
    let (created_at,): (i64,) =
        sqlx::query_as("SELECT created_at FROM organizations WHERE id = $1")
            .bind(id)
            .fetch_one(state.db.pool())
            .await?;
    Ok(created_at)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpgradeRequest {
    /// A plan of the catalog, e.g. `starter`.
    pub plan: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanChangeView {
    pub from_plan: String,
    pub to_plan: String,
    /// Prorated charge (negative: credit) added to this month's invoice.
    pub amount: i64,
    pub currency: String,
    pub changed_at: String,
}

/// Move the organization to another plan (owners only; 3 a minute).
///
/// New limits apply at once. The rest of the month is charged, or credited
/// for a downgrade, as `(new price − old price) × remaining time ÷ month
/// length`, added to this month's invoice.
#[utoipa::path(
    post, path = "/billing/upgrade", tag = "billing",
    security(("bearer" = [])),
    request_body = UpgradeRequest,
    responses(
        (status = 200, description = "Changed", body = Envelope<PlanChangeView>),
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
    let target = body.plan.trim();
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
            "is already the organization's plan",
        ));
    }
    let old_price = state
        .config
        .plan(&organization.plan)
        .map(|p| p.price)
        .unwrap_or(0);
    let now = now_millis();
    let period = Period::containing(now);
    let amount = (new_plan.price - old_price) * (period.end_ms() - now)
        / (period.end_ms() - period.start_ms());
    sqlx::query("UPDATE organizations SET plan = $2, updated_at = $3 WHERE id = $1")
        .bind(&organization.id)
        .bind(target)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO plan_changes (id, organization_id, from_plan, to_plan, changed_by, amount, currency, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&organization.id)
    .bind(&organization.plan)
    .bind(target)
    .bind(&user.user_id)
    .bind(amount)
    .bind(&new_plan.currency)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("billing.plan_changed")
            .organization(&organization.id)
            .actor(&user.user_id)
            .target("organization", &organization.id)
            .client(&client)
            .details(
                serde_json::json!({ "from": organization.plan, "to": target, "amount": amount }),
            ),
    )
    .await?;
    tx.commit().await?;
    // Cached key lookups carry the plan: forget them so the new limits
    // apply now on this instance (others within api_key_cache_ms).
    state.cache.invalidate_all();
    Ok(ApiSuccess::ok(PlanChangeView {
        from_plan: organization.plan,
        to_plan: target.to_string(),
        amount,
        currency: new_plan.currency,
        changed_at: rfc3339(now),
    }))
}
