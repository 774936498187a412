//! `POST /billing/upgrade` and `DELETE /billing/scheduled-change`.

use axum::extract::State;
use landlord_audit::AuditEntry;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::permissions::{needs, Authorized};
use landlord_identity::store as identity_store;
use landlord_keys::KeysState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::history::ScheduledChangeView;
use crate::period::Period;
use crate::pricing::floor_prorate;
use crate::store;

/// Plan changes allowed per organization per minute (seed 001).
pub const PLAN_CHANGES_PER_MINUTE: u32 = 3;

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
    pub changed_at: Timestamp,
    /// `true`: a downgrade, taking effect at `effective_at` (the end of the
    /// period); `false`: an upgrade, in effect now.
    pub scheduled: bool,
    pub effective_at: Timestamp,
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
    let now = Timestamp::now();
    let period = Period::of(now);
    let upgrade = new_plan.price > old_price;
    let (amount, effective_at) = if upgrade {
        let amount = floor_prorate(
            new_plan.price - old_price,
            period.end_ms() - now.millis(),
            period.end_ms() - period.start_ms(),
        );
        store::change_plan(
            &mut tx,
            &organization.id,
            &organization.plan,
            target,
            Some(&user.user_id),
            amount,
            &new_plan.currency,
            now,
        )
        .await?;
        (amount, now)
    } else {
        identity_store::schedule_plan(
            &mut tx,
            &organization.id,
            target,
            period.end(),
            &user.user_id,
        )
        .await?;
        (0, period.end())
    };
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(
            &user,
            &client,
            if upgrade {
                "billing.plan_changed"
            } else {
                "billing.plan_change_scheduled"
            },
        )
        .target("organization", &organization.id)
        .details(serde_json::json!({
            "from": organization.plan,
            "to": target,
            "amount": amount,
            "effective_at": effective_at,
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
        changed_at: now,
        scheduled: !upgrade,
        effective_at,
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
