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
    get, path = "/api/v1/admin/discrepancies", tag = "admin",
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
    Ok(ApiSuccess::ok(
        list(&state, filter.resolved.unwrap_or(false)).await?,
    ))
}

/// Unresolved (or resolved) discrepancies, newest first, at most 200:
/// `GET /admin/discrepancies` and the operator console alike.
pub async fn list(state: &PaymentsState, resolved: bool) -> Result<Vec<DiscrepancyView>, ApiError> {
    let rows = payments_store::discrepancies(&state.db, resolved, LIST_LIMIT).await?;
    Ok(rows.into_iter().map(DiscrepancyView::from).collect())
}

/// Mark a discrepancy resolved.
#[utoipa::path(
    post, path = "/api/v1/admin/discrepancies/{id}/resolve", tag = "admin",
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
    let id = resolve_discrepancy(&state, &admin, &client, &id, None).await?;
    Ok(ApiSuccess::ok(
        serde_json::json!({ "id": id, "resolved": true }),
    ))
}

/// Marks an unresolved discrepancy resolved, audited as
/// `admin.discrepancy_resolved` with the operator's `note` when given; 404
/// for any other id. The API's resolve and the operator console's.
pub async fn resolve_discrepancy(
    state: &PaymentsState,
    admin: &PlatformAdmin,
    client: &ClientInfo,
    id: &str,
    note: Option<&str>,
) -> Result<DiscrepancyId, ApiError> {
    let not_found = || ApiError::not_found("unresolved discrepancy");
    let id = DiscrepancyId::parse(id).ok_or_else(not_found)?;
    let mut entry = admin
        .audit(client, "admin.discrepancy_resolved")
        .target("discrepancy", &id);
    if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
        entry = entry.details(serde_json::json!({ "note": note }));
    }
    let mut tx = state.db.begin().await?;
    if !payments_store::resolve_discrepancy(&mut tx, &id, &admin.user_id).await? {
        return Err(not_found());
    }
    landlord_audit::record(&mut *tx, entry).await?;
    tx.commit().await?;
    Ok(id)
}
