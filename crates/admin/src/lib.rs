//! `/admin`: for platform administrators only — business figures, failed
//! and dead-lettered webhook events (and their replay), reconciliation
//! discrepancies, closing a billing period.

use std::collections::BTreeMap;

use axum::extract::{FromRef, FromRequestParts, Path, State};
use axum::http::request::Parts;
use landlord_billing::Period;
use landlord_core::db::now_millis;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, Query};
use landlord_core::time::{rfc3339, rfc3339_opt};
use landlord_core::ApiError;
use landlord_identity::auth::CurrentUser;
use landlord_identity::{store as identity_store, IdentityState};
use landlord_payments::routes::PaymentsState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<PaymentsState> {
    OpenApiRouter::new()
        .routes(routes!(figures))
        .routes(routes!(webhook_events))
        .routes(routes!(replay))
        .routes(routes!(discrepancies))
        .routes(routes!(resolve))
        .routes(routes!(close_period))
}

/// A signed-in platform administrator: designated with `landlord
/// make-admin`, or listed in `platform_admins` (compared without letter
/// case) once that account's email address is verified — otherwise whoever
/// registered a listed address first, without owning it, would be one.
/// Anyone else gets 403.
#[derive(Debug, Clone)]
pub struct PlatformAdmin {
    pub user_id: landlord_core::ids::UserId,
}

impl<S> FromRequestParts<S> for PlatformAdmin
where
    S: Send + Sync,
    IdentityState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let current = CurrentUser::from_request_parts(parts, state).await?;
        let identity = IdentityState::from_ref(state);
        let user = identity_store::user_by_id(identity.db.pool(), &current.user_id)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
        let listed = user.email_verified_at.is_some()
            && identity
                .config
                .platform_admins
                .iter()
                .any(|email| email.eq_ignore_ascii_case(&user.email));
        if user.platform_admin_at.is_none() && !listed {
            return Err(ApiError::Forbidden(
                "only platform administrators reach /admin (a listed address must be verified first)"
                    .into(),
            ));
        }
        Ok(PlatformAdmin { user_id: user.id })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Figures {
    /// Monthly recurring revenue by currency: the sum of every
    /// organization's plan price (minor units).
    pub mrr: BTreeMap<String, i64>,
    pub organizations_by_plan: BTreeMap<String, i64>,
    /// Payments received this month, by currency (minor units).
    pub revenue_this_month: BTreeMap<String, i64>,
    /// Amount of overdue billing cycles, by currency (minor units).
    pub overdue_total: BTreeMap<String, i64>,
    /// Processed webhook events ÷ events that finished (processed, failed
    /// or dead); absent with no events.
    pub webhook_success_rate: Option<f64>,
    /// Cycles that became overdue ÷ cycles that were due (paid with an
    /// amount, or overdue); absent when none was due.
    pub payment_failure_rate: Option<f64>,
}

/// Business figures.
#[utoipa::path(
    get, path = "/admin/figures", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Figures", body = Envelope<Figures>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn figures(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
) -> Result<ApiSuccess<Figures>, ApiError> {
    let db = &state.keys.db;
    let config = &state.keys.config;
    let plans: Vec<(String, i64)> =
        sqlx::query_as("SELECT plan, COUNT(*) FROM organizations GROUP BY plan")
            .fetch_all(db.pool())
            .await?;
    let mut mrr = BTreeMap::new();
    let mut organizations_by_plan = BTreeMap::new();
    for (plan, count) in plans {
        if let Some(p) = config.plan(&plan) {
            *mrr.entry(p.currency.clone()).or_insert(0) += p.price * count;
        }
        organizations_by_plan.insert(plan, count);
    }
    let month_start = Period::containing(now_millis()).start_ms();
    let revenue: Vec<(String, i64)> = sqlx::query_as(
        "SELECT currency, CAST(SUM(amount) AS BIGINT) FROM payments WHERE status = 'succeeded' AND updated_at >= $1 GROUP BY currency",
    )
    .bind(month_start)
    .fetch_all(db.pool())
    .await?;
    let overdue: Vec<(String, i64)> = sqlx::query_as(
        "SELECT currency, CAST(SUM(amount) AS BIGINT) FROM billing_cycles WHERE status = 'overdue' GROUP BY currency",
    )
    .fetch_all(db.pool())
    .await?;
    let (processed, finished): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'processed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN status IN ('processed', 'failed', 'dead') THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM provider_webhook_events",
    )
    .fetch_one(db.pool())
    .await?;
    let (late, due): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'overdue' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN status = 'overdue' OR (status = 'paid' AND amount > 0) THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM billing_cycles",
    )
    .fetch_one(db.pool())
    .await?;
    let rate = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
    Ok(ApiSuccess::ok(Figures {
        mrr,
        organizations_by_plan,
        revenue_this_month: revenue.into_iter().collect(),
        overdue_total: overdue.into_iter().collect(),
        webhook_success_rate: rate(processed, finished),
        payment_failure_rate: rate(late, due),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// `failed`, `dead`, `processed` or `received`; default failed and dead.
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct WebhookEventView {
    pub id: String,
    pub provider: String,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[schema(value_type = String)]
    pub created_at: i64,
}

/// Provider webhook events that failed or were dead-lettered.
#[utoipa::path(
    get, path = "/admin/webhook-events", tag = "admin",
    security(("bearer" = [])),
    params(EventFilter),
    responses(
        (status = 200, description = "Events, newest first (at most 200)", body = Envelope<Vec<WebhookEventView>>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 422, description = "Unknown `status`", body = ErrorEnvelope),
    )
)]
pub async fn webhook_events(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
    Query(filter): Query<EventFilter>,
) -> Result<ApiSuccess<Vec<serde_json::Value>>, ApiError> {
    let statuses: Vec<&str> = match filter.status.as_deref() {
        None => vec!["failed", "dead"],
        Some(s @ ("failed" | "dead" | "processed" | "received")) => vec![s],
        Some(_) => {
            return Err(ApiError::invalid_field(
                "status",
                "must be failed, dead, processed or received",
            ))
        }
    };
    let rows: Vec<WebhookEventView> = sqlx::query_as(
        "SELECT id, provider, event_id, event_type, status, attempts, last_error, created_at \
         FROM provider_webhook_events WHERE status = $1 OR status = $2 ORDER BY id DESC LIMIT 200",
    )
    .bind(statuses[0])
    .bind(statuses.get(1).copied().unwrap_or(statuses[0]))
    .fetch_all(state.keys.db.pool())
    .await?;
    Ok(ApiSuccess::ok(
        rows.into_iter()
            .map(|r| {
                let mut value = serde_json::to_value(&r).unwrap_or_default();
                value["created_at"] = serde_json::Value::String(rfc3339(r.created_at));
                value
            })
            .collect(),
    ))
}

/// Process a failed or dead-lettered event again.
#[utoipa::path(
    post, path = "/admin/webhook-events/{id}/replay", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Event id (ours)")),
    responses(
        (status = 202, description = "Queued again", body = Envelope<Object>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No failed or dead event with that id", body = ErrorEnvelope),
    )
)]
pub async fn replay(
    State(state): State<PaymentsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<serde_json::Value>, ApiError> {
    if !landlord_payments::replay_event(&state.keys.db, &id)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::not_found("failed or dead webhook event"));
    }
    landlord_audit::record(
        state.keys.db.pool(),
        landlord_audit::AuditEntry::new("admin.webhook_replayed")
            .actor(&admin.user_id)
            .client(&client)
            .target("webhook_event", &id),
    )
    .await?;
    state.keys.identity.jobs.notify_one();
    Ok(ApiSuccess::accepted(
        serde_json::json!({ "id": id, "status": "received" }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiscrepancyFilter {
    /// `true` lists resolved ones; default unresolved.
    pub resolved: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct DiscrepancyRow {
    pub id: String,
    pub provider: String,
    pub organization_id: Option<String>,
    pub billing_cycle_id: Option<String>,
    pub provider_reference: Option<String>,
    /// `amount_mismatch`, `unknown_cycle`, `provider_paid_we_did_not`…
    pub kind: String,
    pub ours: Option<String>,
    pub theirs: Option<String>,
    #[schema(value_type = String)]
    pub created_at: i64,
    #[schema(value_type = Option<String>)]
    pub resolved_at: Option<i64>,
}

/// Differences between the providers' records and ours.
#[utoipa::path(
    get, path = "/admin/discrepancies", tag = "admin",
    security(("bearer" = [])),
    params(DiscrepancyFilter),
    responses(
        (status = 200, description = "Discrepancies, newest first (at most 200)", body = Envelope<Vec<DiscrepancyRow>>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn discrepancies(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
    Query(filter): Query<DiscrepancyFilter>,
) -> Result<ApiSuccess<Vec<serde_json::Value>>, ApiError> {
    let resolved = filter.resolved.unwrap_or(false);
    let rows: Vec<DiscrepancyRow> = sqlx::query_as(&format!(
        "SELECT id, provider, organization_id, billing_cycle_id, provider_reference, kind, ours, theirs, created_at, resolved_at \
         FROM reconciliation_discrepancies WHERE resolved_at IS {} NULL ORDER BY id DESC LIMIT 200",
        if resolved { "NOT" } else { "" }
    ))
    .fetch_all(state.keys.db.pool())
    .await?;
    Ok(ApiSuccess::ok(
        rows.into_iter()
            .map(|r| {
                let mut value = serde_json::to_value(&r).unwrap_or_default();
                value["created_at"] = serde_json::Value::String(rfc3339(r.created_at));
                value["resolved_at"] = serde_json::json!(rfc3339_opt(r.resolved_at));
                value
            })
            .collect(),
    ))
}

/// Mark a discrepancy resolved.
#[utoipa::path(
    post, path = "/admin/discrepancies/{id}/resolve", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Discrepancy id")),
    responses(
        (status = 200, description = "Resolved", body = Envelope<Object>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No unresolved discrepancy with that id", body = ErrorEnvelope),
    )
)]
pub async fn resolve(
    State(state): State<PaymentsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<serde_json::Value>, ApiError> {
    let mut tx = state.keys.db.begin().await?;
    let updated = sqlx::query(
        "UPDATE reconciliation_discrepancies SET resolved_at = $2, resolved_by = $3 WHERE id = $1 AND resolved_at IS NULL",
    )
    .bind(&id)
    .bind(now_millis())
    .bind(&admin.user_id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::not_found("unresolved discrepancy"));
    }
    landlord_audit::record(
        &mut *tx,
        landlord_audit::AuditEntry::new("admin.discrepancy_resolved")
            .actor(&admin.user_id)
            .client(&client)
            .target("discrepancy", &id),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(
        serde_json::json!({ "id": id, "resolved": true }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ClosePeriodRequest {
    /// `YYYY-MM` (UTC), a month that has ended.
    pub month: String,
}

/// Close a finished month into billing cycles now (safe to repeat).
///
/// The current month and future months are refused (422 naming `month`).
#[utoipa::path(
    post, path = "/admin/billing/close-period", tag = "admin",
    security(("bearer" = [])),
    request_body = ClosePeriodRequest,
    responses(
        (status = 200, description = "Cycles created and already existing", body = Envelope<Object>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 422, description = "`month` is not `YYYY-MM`, or has not ended yet", body = ErrorEnvelope),
    )
)]
pub async fn close_period(
    State(state): State<PaymentsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Json(body): Json<ClosePeriodRequest>,
) -> Result<ApiSuccess<serde_json::Value>, ApiError> {
    let period = Period::from_field("month", body.month.trim())?;
    let report = landlord_billing::close_period(&state.keys.db, &state.keys.config, period)
        .await
        .map_err(|error| {
            error
                .downcast::<ApiError>()
                .unwrap_or_else(ApiError::internal)
        })?;
    landlord_audit::record(
        state.keys.db.pool(),
        landlord_audit::AuditEntry::new("admin.period_closed")
            .actor(&admin.user_id)
            .client(&client)
            .details(serde_json::json!({ "period": period.key(), "created": report.created })),
    )
    .await?;
    state.keys.identity.jobs.notify_one();
    Ok(ApiSuccess::ok(serde_json::json!({
        "period": period.key(),
        "created": report.created,
        "existing": report.existing,
    })))
}
