//! `/admin/discrepancies`: differences reconciliation found, and marking
//! them resolved.

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Query};
use landlord_core::ids::{BillingCycleId, DiscrepancyId, OrganizationId};
use landlord_core::{ApiError, Timestamp};
use landlord_payments::providers::ProviderName;
use landlord_payments::routes::PaymentsState;
use landlord_payments::store::{self as payments_store, DiscrepancyKind, DiscrepancyRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{PlatformAdmin, LIST_LIMIT};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiscrepancyFilter {
    /// `true` lists resolved ones; default unresolved.
    pub resolved: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiscrepancyView {
    pub id: DiscrepancyId,
    pub provider: ProviderName,
    pub organization_id: Option<OrganizationId>,
    pub billing_cycle_id: Option<BillingCycleId>,
    pub provider_reference: Option<String>,
    pub kind: DiscrepancyKind,
    pub ours: Option<String>,
    pub theirs: Option<String>,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

impl From<DiscrepancyRow> for DiscrepancyView {
    fn from(r: DiscrepancyRow) -> Self {
        Self {
            id: r.id,
            provider: r.provider,
            organization_id: r.organization_id,
            billing_cycle_id: r.billing_cycle_id,
            provider_reference: r.provider_reference,
            kind: r.kind,
            ours: r.ours,
            theirs: r.theirs,
            created_at: r.created_at,
            resolved_at: r.resolved_at,
        }
    }
}

/// Differences between the providers' records and ours.
#[utoipa::path(
    get, path = "/admin/discrepancies", tag = "admin",
    security(("bearer" = [])),
    params(DiscrepancyFilter),
    responses(
        (status = 200, description = "Discrepancies, newest first (at most 200)", body = Envelope<Vec<DiscrepancyView>>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn discrepancies(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
    Query(filter): Query<DiscrepancyFilter>,
) -> Result<ApiSuccess<Vec<DiscrepancyView>>, ApiError> {
    let resolved = filter.resolved.unwrap_or(false);
    let rows = payments_store::discrepancies(&state.keys.db, resolved, LIST_LIMIT).await?;
    Ok(ApiSuccess::ok(
        rows.into_iter().map(DiscrepancyView::from).collect(),
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
    let not_found = || ApiError::not_found("unresolved discrepancy");
    let id = DiscrepancyId::parse(&id).ok_or_else(not_found)?;
    let mut tx = state.keys.db.begin().await?;
    if !payments_store::resolve_discrepancy(&mut tx, &id, &admin.user_id).await? {
        return Err(not_found());
    }
    landlord_audit::record(
        &mut *tx,
        admin
            .audit(&client, "admin.discrepancy_resolved")
            .target("discrepancy", &id),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(
        serde_json::json!({ "id": id, "resolved": true }),
    ))
}
