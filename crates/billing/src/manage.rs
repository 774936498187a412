//! The billing rules the API routes and the console's pages share: the
//! period so far ([`calculate`]), a plan change's effect ([`preview`]) and
//! the change itself ([`change_plan`]), cancelling a scheduled downgrade
//! ([`cancel_scheduled_change`]). Permissions are the caller's: the routes
//! extract `Authorized<…>`, the pages call `permissions::require`.

use crate::BillingState;
use landlord_audit::AuditEntry;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::OrganizationId;
use landlord_core::plans::Plan;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::store as identity_store;
use landlord_identity::CurrentUser;

use crate::money::format_money;
use crate::period::Period;
use crate::pricing::{floor_prorate, price_period};
use crate::store;
use crate::views::{Calculation, PlanChangeView, ScheduledChangeView, PLAN_CHANGES_PER_MINUTE};

/// The current period so far, with the same function as the invoice: each
/// stretch of the month billed by the plan in force during it.
pub async fn calculate(
    state: &BillingState,
    organization_id: &OrganizationId,
) -> Result<Calculation, ApiError> {
    let period = Period::of(Timestamp::now());
    let mut conn = state.db.pool().acquire().await?;
    let organization = identity_store::organization_by_id(&mut *conn, organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let stretches = store::plan_stretches(
        &mut conn,
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
        &state.config.plans,
    )
    .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    let scheduled = identity_store::scheduled_plan_change(&mut *conn, &organization.id).await?;
    Ok(Calculation {
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
    })
}

/// What moving from `current` to `target` at `now` does: an upgrade (a
/// plan with a higher price) takes effect now and charges the rest of the
/// month, rounded down; any other plan is a downgrade at the period's end.
fn effect(
    state: &BillingState,
    current: &str,
    target: &str,
    now: Timestamp,
) -> Result<(Plan, PlanChangeView), ApiError> {
    let new_plan = state.config.plan(target).cloned().ok_or_else(|| {
        let names: Vec<&str> = state.config.plans.keys().map(String::as_str).collect();
        ApiError::invalid_field(
            "plan",
            format!("is not a plan; choose one of {}", names.join(", ")),
        )
    })?;
    if current == target {
        return Err(ApiError::invalid_field(
            "plan",
            "is already the organization's plan (DELETE /billing/scheduled-change cancels a scheduled downgrade)",
        ));
    }
    let old_price = state.config.plan(current).map(|p| p.price).unwrap_or(0);
    let period = Period::of(now);
    let upgrade = new_plan.price > old_price;
    let (amount, effective_at) = if upgrade {
        let amount = floor_prorate(
            new_plan.price - old_price,
            period.end_ms() - now.millis(),
            period.end_ms() - period.start_ms(),
        );
        (amount, now)
    } else {
        (0, period.end())
    };
    let view = PlanChangeView {
        from_plan: current.to_string(),
        to_plan: target.to_string(),
        amount,
        currency: new_plan.currency.clone(),
        changed_at: now,
        scheduled: !upgrade,
        effective_at,
    };
    Ok((new_plan, view))
}

/// What [`change_plan`] would do now, without doing it (the console's
/// confirmation page).
pub async fn preview(
    state: &BillingState,
    organization_id: &OrganizationId,
    target: &str,
) -> Result<PlanChangeView, ApiError> {
    let organization = identity_store::organization_by_id(state.db.pool(), organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    Ok(effect(state, &organization.plan, target, Timestamp::now())?.1)
}

/// Moves the person's organization to `target` (the caller checked
/// `UpgradePlan`; 3 changes a minute): an upgrade now, prorated onto this
/// month's invoice, dropping a scheduled downgrade; a downgrade scheduled
/// for the end of the period, replacing a scheduled one. Audited. The
/// organization row is locked for the change, so two simultaneous requests
/// make one change: the one that waited answers 409 (the plan changed
/// meanwhile), or 422 when it arrives after and asks for the plan in force.
pub async fn change_plan(
    state: &BillingState,
    user: &CurrentUser,
    client: &ClientInfo,
    target: &str,
) -> Result<PlanChangeView, ApiError> {
    state
        .keys
        .limit(
            &format!("plan-change:{}", user.organization_id),
            PLAN_CHANGES_PER_MINUTE,
            "plan changes",
        )
        .await?;
    // The plan as the request found it, before waiting for the lock.
    let seen = identity_store::organization_by_id(state.db.pool(), &user.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?
        .plan;
    let mut tx = state.db.begin().await?;
    // One change at a time per organization: a second request (a double
    // click, two tabs, two instances) waits here and then reads the plan
    // the first one left, instead of both changing from the old one.
    identity_store::lock_organization(&mut tx, &user.organization_id).await?;
    let organization = identity_store::organization_by_id(&mut *tx, &user.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    if organization.plan != seen {
        return Err(ApiError::Conflict(format!(
            "the plan changed while this request waited: the organization is now on {}; nothing else was changed",
            organization.plan
        )));
    }
    let now = Timestamp::now();
    let (new_plan, view) = effect(state, &organization.plan, target, now)?;
    if view.scheduled {
        identity_store::schedule_plan(
            &mut tx,
            &organization.id,
            target,
            view.effective_at,
            &user.user_id,
        )
        .await?;
    } else {
        store::change_plan(
            &mut tx,
            &organization.id,
            &organization.plan,
            target,
            Some(&user.user_id),
            view.amount,
            &new_plan.currency,
            now,
        )
        .await?;
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(
            user,
            client,
            if view.scheduled {
                "billing.plan_change_scheduled"
            } else {
                "billing.plan_changed"
            },
        )
        .target("organization", &organization.id)
        .details(serde_json::json!({
            "from": organization.plan,
            "to": target,
            "amount": view.amount,
            "effective_at": view.effective_at,
        })),
    )
    .await?;
    tx.commit().await?;
    if !view.scheduled {
        // Cached key lookups carry the plan: forget them so the new limits
        // apply now on this instance (others within api_key_cache_ms).
        state.keys.cache.invalidate_all();
    }
    Ok(view)
}

/// Cancels the organization's scheduled downgrade (the caller checked
/// `UpgradePlan`); 404 when none is scheduled. Audited.
pub async fn cancel_scheduled_change(
    state: &BillingState,
    user: &CurrentUser,
    client: &ClientInfo,
) -> Result<ScheduledChangeView, ApiError> {
    let mut tx = state.db.begin().await?;
    let (plan, at) = store::cancel_scheduled(&mut tx, &user.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("scheduled plan change"))?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(user, client, "billing.plan_change_cancelled")
            .target("organization", &user.organization_id)
            .details(serde_json::json!({ "plan": plan, "effective_at": at })),
    )
    .await?;
    tx.commit().await?;
    Ok(ScheduledChangeView::new(plan, at))
}
