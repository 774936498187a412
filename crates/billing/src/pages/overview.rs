//! The organization's overview (`/o/{organization_id}`): this month's
//! requests against the quota and by day, and the bill so far. The
//! organization comes from the URL and must be one the person belongs to:
//! any other answers 404, like a missing one.

use crate::{manage as billing, Period};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Form;
use axum::Router;
use landlord_console::chart::{usage_chart, Day};
use landlord_core::Timestamp;
use landlord_identity::permissions;
use landlord_keys::overview;
use landlord_metering::daily::{self, DailyUsage, KeyFilter};
use serde_json::{json, Value};

use super::onboarding::{self, Progress};
use super::Pages;
use landlord_console::base;
use landlord_console::Visitor;
use landlord_console::{tenant, Gate};
use landlord_console::{Page, PageError};

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/o/{organization_id}", get(overview))
        .route("/o/{organization_id}/onboarding/hide", post(hide_checklist))
}

/// This month's days as the chart takes them.
fn chart_days(days: &[DailyUsage]) -> Vec<Day> {
    days.iter()
        .map(|d| Day {
            date: d.date.clone(),
            requests: d.requests,
        })
        .collect()
}

/// `GET /o/{organization_id}`: this month's requests against the quota and
/// by day, requests today, active keys (`GET /dashboard/stats`' and `GET
/// /dashboard/usage-graph`'s figures), and the bill so far for those who
/// may see billing (`GET /billing/calculate`'s).
pub async fn overview(
    State(state): State<Pages>,
    visitor: Visitor,
    headers: HeaderMap,
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
    let account = landlord_identity::store::user_by_id(state.billing.db.pool(), &user.user_id)
        .await
        .map_err(landlord_core::ApiError::from)?;
    let email = account
        .as_ref()
        .map(|a| a.email.clone())
        .unwrap_or_default();
    let unverified_email = account
        .filter(|account| account.email_verified_at.is_none())
        .map(|account| account.email);
    let checklist = if checklist_hidden(&headers, &organization_id) {
        None
    } else {
        first_steps(&state, &user, &membership, &stats, &email).await?
    };
    let (mut context, _) =
        base(&state, &visitor, "Overview", "overview", Some(&membership)).await?;
    context.insert("unverified_email".into(), unverified_email.into());
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    context.insert("role".into(), membership.role.as_str().into());
    context.insert("resets".into(), stats.usage.resets_at.date().into());
    context.insert(
        "chart".into(),
        usage_chart(
            &chart_days(&days),
            &today.date(),
            stats.usage.included,
            "Included in the plan",
        ),
    );
    context.insert("checklist".into(), checklist.into());
    context.insert("bill".into(), bill);
    context.insert("percent".into(), percent.unwrap_or(0).into());
    context.insert("quota_state".into(), quota_state.into());
    context.insert(
        "stats".into(),
        serde_json::to_value(&stats).map_err(landlord_core::ApiError::internal)?,
    );
    Page::render("overview.html", context)
}

/// The first steps still open for this person (`None`: none to show),
/// each ticked from the organization's state.
async fn first_steps(
    state: &Pages,
    user: &landlord_identity::CurrentUser,
    membership: &landlord_identity::store::Membership,
    stats: &overview::DashboardStats,
    email: &str,
) -> Result<Option<Value>, PageError> {
    let org = &user.organization_id;
    let db = &state.billing.db;
    let mut conn = db
        .pool()
        .acquire()
        .await
        .map_err(landlord_core::ApiError::from)?;
    let chose_plan = crate::store::ever_chose_a_plan(&mut conn, org)
        .await
        .map_err(landlord_core::ApiError::from)?;
    drop(conn);
    let progress = Progress {
        key: stats.active_api_keys > 0,
        // This month's count answers most visits without reading history.
        request: stats.requests_this_month > 0 || daily::any_requests(db, org).await?,
        teammate: landlord_organizations::team::has_company(db, org).await?,
        plan: chose_plan || membership.organization.plan != state.billing.config.default_plan,
    };
    Ok(onboarding::checklist(
        progress,
        user.role,
        membership.organization.id.as_ref(),
        &state.billing.config.public_url,
        email,
    ))
}

/// The cookie that hides the checklist of one organization in this
/// browser.
fn hidden_cookie(organization_id: &str) -> String {
    format!("landlord_onboarding_{organization_id}")
}

/// Whether this browser hid the organization's checklist.
fn checklist_hidden(headers: &HeaderMap, organization_id: &str) -> bool {
    let name = hidden_cookie(organization_id);
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(key, value)| key == name && value == "hidden")
}

#[derive(Debug, serde::Deserialize)]
pub struct HideForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /o/{organization_id}/onboarding/hide`: hides the checklist in
/// this browser (a year-long cookie), back to the overview.
pub async fn hide_checklist(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Form(form): Form<HideForm>,
) -> Result<Page, PageError> {
    let (user, _) = tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let org = user.organization_id.to_string();
    let cookie = state.cookie(&hidden_cookie(&org), "hidden", Some(365 * 24 * 3600));
    Ok(Page::redirect(format!("/o/{org}")).cookie(Some(cookie)))
}
