//! `/admin/organizations`: finding an organization (name, billing email or
//! a member's email; plan) with its usage this month and standing, and
//! moving it to another plan at once.

use axum::extract::{Path, State};
use landlord_billing::store as billing_store;
use landlord_billing::Period;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, Query};
use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::model::OrganizationRow;
use landlord_identity::store as identity_store;
use landlord_metering::store as metering_store;
use landlord_payments::routes::PaymentsState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::PlatformAdmin;

/// Most organizations a search answers.
const SEARCH_LIMIT: i64 = 100;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganizationFilter {
    /// Part of the name, the billing email or a member's email (letter
    /// case ignored).
    pub q: Option<String>,
    /// Only organizations on this plan.
    pub plan: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationSummary {
    pub id: OrganizationId,
    pub name: String,
    pub billing_email: Option<String>,
    pub plan: String,
    pub created_at: Timestamp,
    /// Metered requests since the 1st of this month (UTC).
    pub requests_this_month: i64,
    /// Whether a billing cycle of it is overdue.
    pub overdue: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SetPlanRequest {
    /// A plan of the catalog.
    pub plan: String,
}

/// The search of `GET /admin/organizations` and the operator console:
/// newest first, at most 100.
pub async fn search(
    state: &PaymentsState,
    query: &str,
    plan: &str,
) -> Result<Vec<OrganizationSummary>, ApiError> {
    // A search tolerates lag: a replica may answer when one is configured.
    let (query, plan) = (query.trim(), plan.trim());
    let rows = state
        .db
        .read(|reader| async move {
            identity_store::search_organizations(&reader, query, plan, SEARCH_LIMIT).await
        })
        .await?;
    summaries(state, rows).await
}

async fn summaries(
    state: &PaymentsState,
    rows: Vec<OrganizationRow>,
) -> Result<Vec<OrganizationSummary>, ApiError> {
    let pool = state.db.pool();
    let ids: Vec<OrganizationId> = rows.iter().map(|r| r.id.clone()).collect();
    let overdue = billing_store::overdue_organizations(pool, &ids).await?;
    let month_start = Period::of(Timestamp::now()).start();
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let requests_this_month = metering_store::count_since(pool, &row.id, month_start).await?;
        found.push(OrganizationSummary {
            overdue: overdue.contains(&row.id),
            requests_this_month,
            id: row.id,
            name: row.name,
            billing_email: row.billing_email,
            plan: row.plan,
            created_at: row.created_at,
        });
    }
    Ok(found)
}

/// Organizations, newest first (at most 100).
#[utoipa::path(
    get, path = "/api/v1/admin/organizations", tag = "admin",
    security(("bearer" = [])),
    params(OrganizationFilter),
    responses(
        (status = 200, description = "Organizations, newest first (at most 100)", body = Envelope<Vec<OrganizationSummary>>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn organizations(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
    Query(filter): Query<OrganizationFilter>,
) -> Result<ApiSuccess<Vec<OrganizationSummary>>, ApiError> {
    Ok(ApiSuccess::ok(
        search(
            &state,
            filter.q.as_deref().unwrap_or(""),
            filter.plan.as_deref().unwrap_or(""),
        )
        .await?,
    ))
}

/// Moves the organization to `plan` at once, as `landlord set-plan` does
/// (recorded as a plan change, so the month bills by the plans in force
/// before and after; a scheduled downgrade is dropped), audited as
/// `admin.plan_set`. 404 for an unknown organization, 422 (`plan`) for a
/// plan not in the catalog. The API's route and the operator console's.
pub async fn set_plan(
    state: &PaymentsState,
    admin: &PlatformAdmin,
    client: &ClientInfo,
    id: &OrganizationId,
    plan: &str,
) -> Result<OrganizationSummary, ApiError> {
    let not_found = || ApiError::not_found("organization");
    let plan = plan.trim();
    let Some(target) = state.config.plan(plan) else {
        let names: Vec<&str> = state.config.plans.keys().map(String::as_str).collect();
        return Err(ApiError::invalid_field(
            "plan",
            format!("must be a plan of the catalog ({})", names.join(", ")),
        ));
    };
    let currency = target.currency.clone();
    let mut tx = state.db.begin().await?;
    let organization = identity_store::organization_by_id(&mut *tx, id)
        .await?
        .ok_or_else(not_found)?;
    if organization.plan != plan {
        billing_store::change_plan(
            &mut tx,
            &organization.id,
            &organization.plan,
            plan,
            Some(&admin.user_id),
            0,
            &currency,
            Timestamp::now(),
        )
        .await?;
        landlord_audit::record(
            &mut *tx,
            admin
                .audit(client, "admin.plan_set")
                .target("organization", &organization.id)
                .details(serde_json::json!({ "from": organization.plan, "to": plan })),
        )
        .await?;
    }
    tx.commit().await?;
    let row = OrganizationRow {
        plan: plan.to_owned(),
        ..organization
    };
    let mut summary = summaries(state, vec![row]).await?;
    summary.pop().ok_or_else(not_found)
}

/// Move an organization to another plan now.
///
/// Recorded as a plan change: the month bills by the plans in force before
/// and after; a scheduled downgrade is dropped.
#[utoipa::path(
    post, path = "/api/v1/admin/organizations/{id}/plan", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Organization id")),
    request_body = SetPlanRequest,
    responses(
        (status = 200, description = "The organization on its new plan", body = Envelope<OrganizationSummary>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No organization with that id", body = ErrorEnvelope),
        (status = 422, description = "`plan` is not a plan of the catalog", body = ErrorEnvelope),
    )
)]
pub async fn plan(
    State(state): State<PaymentsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<SetPlanRequest>,
) -> Result<ApiSuccess<OrganizationSummary>, ApiError> {
    let id = OrganizationId::parse_or_not_found(&id, "organization")?;
    Ok(ApiSuccess::ok(
        set_plan(&state, &admin, &client, &id, &body.plan).await?,
    ))
}
