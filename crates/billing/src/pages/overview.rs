//! The organization's overview (`/o/{organization_id}`): this month's
//! requests against the quota and by day, and the bill so far. The
//! organization comes from the URL and must be one the person belongs to:
//! any other answers 404, like a missing one.

use crate::{manage as billing, Period};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use landlord_core::Timestamp;
use landlord_identity::permissions;
use landlord_keys::overview;
use landlord_metering::daily::{self, DailyUsage, KeyFilter};
use serde_json::{json, Value};

use super::Pages;
use landlord_console::base;
use landlord_console::Visitor;
use landlord_console::{tenant, Gate};
use landlord_console::{Page, PageError};

pub(super) fn routes() -> Router<Pages> {
    Router::new().route("/o/{organization_id}", get(overview))
}

/// Height of the chart's tallest bar, in the SVG's units (a bar is 10
/// wide with a gap of 2).
const CHART_HEIGHT: i64 = 100;

/// This month's requests by day as the overview's chart draws them: one
/// bar per day of the month, scaled to the busiest day, today marked
/// (`today` is `YYYY-MM-DD`, which sorts as dates do).
fn chart(days: &[DailyUsage], today: &str) -> Value {
    let busiest = days.iter().map(|d| d.requests).max().unwrap_or(0);
    let bars: Vec<Value> = days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let height = if busiest > 0 {
                // At least 1 unit, so a day with any request shows.
                (day.requests.saturating_mul(CHART_HEIGHT) / busiest)
                    .max(i64::from(day.requests > 0))
            } else {
                0
            };
            json!({
                "date": day.date,
                "requests": day.requests,
                "x": i * 12 + 1,
                "y": CHART_HEIGHT - height,
                "height": height,
                "today": day.date == today,
                "future": day.date.as_str() > today,
            })
        })
        .collect();
    json!({
        "bars": bars,
        "width": days.len() * 12,
        "height": CHART_HEIGHT,
        "busiest": busiest,
        "first": days.first().map(|d| d.date.clone()),
        "today": today,
    })
}

/// `GET /o/{organization_id}`: this month's requests against the quota and
/// by day, requests today, active keys (`GET /dashboard/stats`' and `GET
/// /dashboard/usage-graph`'s figures), and the bill so far for those who
/// may see billing (`GET /billing/calculate`'s).
pub async fn overview(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    permissions::require(&user, permissions::VIEW_DASHBOARD)
        .map_err(|e| PageError::Forbidden(e.to_string()))?;
    let stats = overview::stats(&state.billing.keys, &user.organization_id).await?;
    let now = Timestamp::now();
    let today = daily::start_of_day(now);
    // The whole month, days to come drawn empty.
    let period = Period::of(now);
    let days = daily::requests_by_day(
        &state.billing.db,
        &user.organization_id,
        period.start(),
        Timestamp::from_millis(period.end_ms() - daily::DAY_MS),
        &KeyFilter::All,
    )
    .await?;
    let bill = if permissions::allows(user.role, permissions::VIEW_BILLING) {
        let calculation = billing::calculate(&state.billing, &user.organization_id).await?;
        json!({ "amount_display": calculation.amount_display, "period": calculation.period })
    } else {
        Value::Null
    };
    let percent = stats
        .usage
        .included
        .filter(|included| *included > 0)
        .map(|included| stats.requests_this_month.saturating_mul(100) / included);
    let quota_state = match percent {
        Some(p) if p >= 100 => "over",
        Some(p) if p >= 80 => "warn",
        _ => "ok",
    };
    // Until the address is verified, the overview says so first.
    let unverified_email =
        landlord_identity::store::user_by_id(state.billing.db.pool(), &user.user_id)
            .await
            .map_err(landlord_core::ApiError::from)?
            .filter(|account| account.email_verified_at.is_none())
            .map(|account| account.email);
    let (mut context, _) =
        base(&state, &visitor, "Overview", "overview", Some(&membership)).await?;
    context.insert("unverified_email".into(), unverified_email.into());
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    context.insert("role".into(), membership.role.as_str().into());
    context.insert("resets".into(), stats.usage.resets_at.date().into());
    context.insert("chart".into(), chart(&days, &today.date()));
    context.insert("bill".into(), bill);
    context.insert("percent".into(), percent.unwrap_or(0).into());
    context.insert("quota_state".into(), quota_state.into());
    context.insert(
        "stats".into(),
        serde_json::to_value(&stats).map_err(landlord_core::ApiError::internal)?,
    );
    Page::render("overview.html", context)
}
