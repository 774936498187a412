//! Usage as people see it: `/billing/usage` and the `/dashboard` figures.
//! These read recorded usage, which trails live traffic by at most one
//! flush interval.

use axum::extract::State;
use chrono::{NaiveDate, TimeZone, Utc};
use landlord_core::db::now_millis;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Query};
use landlord_core::time::{rfc3339, rfc3339_opt};
use landlord_core::ApiError;
use landlord_identity::permissions::{needs, Authorized};
use landlord_identity::{store as identity_store, IdentityState};
use landlord_limits::{month_key, month_start_ms, next_month_start_ms};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const DAY_MS: i64 = 24 * 3600 * 1000;
const MAX_GRAPH_DAYS: i64 = 366;

pub fn router() -> OpenApiRouter<IdentityState> {
    OpenApiRouter::new()
        .routes(routes!(billing_usage))
        .routes(routes!(dashboard_stats))
        .routes(routes!(usage_graph))
        .routes(routes!(api_key_usage))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodUsage {
    /// `YYYY-MM` (UTC).
    pub period: String,
    pub plan: String,
    /// Metered requests this period.
    pub used: i64,
    /// Included requests; absent: unlimited.
    pub included: Option<i64>,
    pub remaining: Option<i64>,
    pub overage_requests: i64,
    /// Overage so far, minor units of `currency`.
    pub overage_amount: i64,
    pub currency: String,
    pub resets_at: String,
}

async fn period_usage(
    state: &IdentityState,
    organization_id: &landlord_core::ids::OrganizationId,
) -> Result<PeriodUsage, ApiError> {
    let now = now_millis();
    let organization = identity_store::organization_by_id(state.db.pool(), organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let plan = state
        .config
        .plan(&organization.plan)
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow_plan(&organization.plan)))?;
    let used = crate::count_since(&state.db, organization_id.as_str(), month_start_ms(now)).await?;
    let overage_requests = plan.overage_requests(used);
    Ok(PeriodUsage {
        period: month_key(now),
        plan: organization.plan,
        used,
        included: plan.included_requests,
        remaining: plan.included_requests.map(|i| (i - used).max(0)),
        overage_requests,
        overage_amount: overage_requests * plan.overage_price.unwrap_or(0),
        currency: plan.currency,
        resets_at: rfc3339(next_month_start_ms(now)),
    })
}

fn anyhow_plan(name: &str) -> std::io::Error {
    std::io::Error::other(format!("plan {name} is not in the catalog"))
}

/// This period's metered usage against the plan.
#[utoipa::path(
    get, path = "/billing/usage", tag = "usage",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Usage this period", body = Envelope<PeriodUsage>),
        (status = 403, description = "Missing permission view_billing", body = ErrorEnvelope),
    )
)]
pub async fn billing_usage(
    State(state): State<IdentityState>,
    user: Authorized<needs::ViewBilling>,
) -> Result<ApiSuccess<PeriodUsage>, ApiError> {
    Ok(ApiSuccess::ok(
        period_usage(&state, &user.organization_id).await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardStats {
    pub requests_today: i64,
    pub requests_this_month: i64,
    pub active_api_keys: i64,
    pub usage: PeriodUsage,
}

/// Headline figures for the dashboard.
#[utoipa::path(
    get, path = "/dashboard/stats", tag = "usage",
    security(("bearer" = [])),
    responses((status = 200, description = "Figures", body = Envelope<DashboardStats>))
)]
pub async fn dashboard_stats(
    State(state): State<IdentityState>,
    user: Authorized<needs::ViewDashboard>,
) -> Result<ApiSuccess<DashboardStats>, ApiError> {
    let now = now_millis();
    let today = now - now.rem_euclid(DAY_MS);
    let usage = period_usage(&state, &user.organization_id).await?;
    let requests_today =
        crate::count_since(&state.db, user.organization_id.as_str(), today).await?;
    let (active_api_keys,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(&user.organization_id)
    .bind(now)
    .fetch_one(state.db.pool())
    .await?;
    Ok(ApiSuccess::ok(DashboardStats {
        requests_today,
        requests_this_month: usage.used,
        active_api_keys,
        usage,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphQuery {
    /// First day, `YYYY-MM-DD` (UTC); default 29 days before `to`; at
    /// most 366 days before `to`.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC), inclusive; default today.
    #[param(format = Date)]
    pub to: Option<String>,
    /// Only this API key.
    pub key_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DailyUsage {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub requests: i64,
}

fn parse_day(field: &str, text: &str) -> Result<i64, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t).timestamp_millis())
        .ok_or_else(|| ApiError::invalid_field(field, "is not a date such as 2026-11-22"))
}

/// Requests per day (UTC), zeros included; filter by key and period.
#[utoipa::path(
    get, path = "/dashboard/usage-graph", tag = "usage",
    security(("bearer" = [])),
    params(GraphQuery),
    responses(
        (status = 200, description = "Daily buckets, oldest first", body = Envelope<Vec<DailyUsage>>),
        (status = 422, description = "Bad dates or a range over 366 days", body = ErrorEnvelope),
    )
)]
pub async fn usage_graph(
    State(state): State<IdentityState>,
    user: Authorized<needs::ViewDashboard>,
    Query(query): Query<GraphQuery>,
) -> Result<ApiSuccess<Vec<DailyUsage>>, ApiError> {
    let now = now_millis();
    let to = match query.to.as_deref() {
        Some(text) => parse_day("to", text)?,
        None => now - now.rem_euclid(DAY_MS),
    };
    let from = match query.from.as_deref() {
        Some(text) => parse_day("from", text)?,
        None => to - 29 * DAY_MS,
    };
    if from > to {
        return Err(ApiError::invalid_field("from", "must not be after to"));
    }
    let days = (to - from) / DAY_MS + 1;
    if days > MAX_GRAPH_DAYS {
        return Err(ApiError::invalid_field(
            "from",
            format!("the range is at most {MAX_GRAPH_DAYS} days"),
        ));
    }
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT (created_at - $2) / $4 AS day, COUNT(*) FROM usage_records \
         WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3 \
           AND ($5 = '' OR api_key_id = $5) \
         GROUP BY (created_at - $2) / $4",
    )
    .bind(&user.organization_id)
    .bind(from)
    .bind(to + DAY_MS)
    .bind(DAY_MS)
    .bind(query.key_id.as_deref().unwrap_or(""))
    .fetch_all(state.db.pool())
    .await?;
    let mut buckets: Vec<DailyUsage> = (0..days)
        .map(|d| DailyUsage {
            date: rfc3339(from + d * DAY_MS)[..10].to_string(),
            requests: 0,
        })
        .collect();
    for (day, count) in rows {
        if let Some(bucket) = usize::try_from(day).ok().and_then(|d| buckets.get_mut(d)) {
            bucket.requests = count;
        }
    }
    Ok(ApiSuccess::ok(buckets))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyUsage {
    pub key_id: String,
    pub name: String,
    pub prefix: String,
    pub status: String,
    pub requests_this_month: i64,
    pub last_used_at: Option<String>,
}

#[derive(sqlx::FromRow)]
struct KeyUsageRow {
    id: String,
    name: String,
    prefix: String,
    revoked_at: Option<i64>,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    requests: i64,
}

/// Requests this month per API key.
#[utoipa::path(
    get, path = "/dashboard/api-keys", tag = "usage",
    security(("bearer" = [])),
    responses((status = 200, description = "Per key, busiest first", body = Envelope<Vec<KeyUsage>>))
)]
pub async fn api_key_usage(
    State(state): State<IdentityState>,
    user: Authorized<needs::ViewDashboard>,
) -> Result<ApiSuccess<Vec<KeyUsage>>, ApiError> {
    let now = now_millis();
    let rows: Vec<KeyUsageRow> = sqlx::query_as(
        "SELECT k.id, k.name, k.prefix, k.revoked_at, k.expires_at, k.last_used_at, \
                CAST(COUNT(u.id) AS BIGINT) AS requests \
         FROM api_keys k LEFT JOIN usage_records u \
           ON u.api_key_id = k.id AND u.created_at >= $2 \
         WHERE k.organization_id = $1 \
         GROUP BY k.id, k.name, k.prefix, k.revoked_at, k.expires_at, k.last_used_at \
         ORDER BY requests DESC, k.id",
    )
    .bind(&user.organization_id)
    .bind(month_start_ms(now))
    .fetch_all(state.db.pool())
    .await?;
    Ok(ApiSuccess::ok(
        rows.into_iter()
            .map(|r| KeyUsage {
                status: if r.revoked_at.is_some() {
                    "revoked".into()
                } else if r.expires_at.is_some_and(|t| t <= now) {
                    "expired".into()
                } else {
                    "active".into()
                },
                key_id: r.id,
                name: r.name,
                prefix: r.prefix,
                requests_this_month: r.requests,
                last_used_at: rfc3339_opt(r.last_used_at),
            })
            .collect(),
    ))
}
