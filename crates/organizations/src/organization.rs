//! `GET /organization` and `PATCH /organization`: the active organization.

use axum::extract::State;
use landlord_audit::AuditEntry;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::{ApiError, Timestamp};
use landlord_events::payloads::OrganizationUpdatedPayload;
use landlord_identity::auth::CurrentUser;
use landlord_identity::delegated::{scope, PersonOrApp};
use landlord_identity::model::OrganizationView;
use landlord_identity::permissions::{self, needs, Authorized};
use landlord_identity::validation::{normalize_email, required_name, EmailAddress, Name};
use landlord_identity::{store as identity_store, IdentityState};
use serde::{Deserialize, Serialize};

use utoipa::ToSchema;

/// At least one field; an absent field is left unchanged (`null` is not
/// a value: omit the field instead).
// `minProperties: 1` is set by the OpenAPI document's builder
// (`landlord::openapi::declare_request_rules`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateOrganizationRequest {
    /// A new name.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Name)]
    pub name: Option<String>,
    /// Where invoices and receipts go.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = EmailAddress)]
    pub billing_email: Option<String>,
}

/// A field that may be absent but, when present, is a string.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

/// A plan change waiting for the end of the period (a downgrade).
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledPlanView {
    /// The plan the organization moves to.
    pub plan: String,
    /// When: the first instant of the next period.
    pub effective_at: Timestamp,
}

/// The organization, with its scheduled plan change.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationDetails {
    #[serde(flatten)]
    pub organization: OrganizationView,
    /// A downgrade scheduled for the end of the period; absent: none.
    pub scheduled_change: Option<ScheduledPlanView>,
}

/// The active organization.
#[utoipa::path(
    get, path = "/api/v1/organization", tag = "organization",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organization", body = Envelope<OrganizationDetails>),
        (status = 401, description = "Not signed in, or the app token no longer works", body = ErrorEnvelope),
        (status = 403, description = "Missing permission view_dashboard, or the app token lacks scope organizations:read", body = ErrorEnvelope),
    )
)]
pub async fn get_organization(
    State(state): State<IdentityState>,
    // Also an installed app's token with `organizations:read`.
    who: PersonOrApp<needs::ViewDashboard, scope::OrganizationsRead>,
) -> Result<ApiSuccess<OrganizationDetails>, ApiError> {
    let organization = identity_store::organization_by_id(state.db.pool(), &who.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let scheduled =
        identity_store::scheduled_plan_change(state.db.pool(), &who.organization_id).await?;
    Ok(ApiSuccess::ok(OrganizationDetails {
        organization: OrganizationView::from(&organization),
        scheduled_change: scheduled.map(|(plan, at)| ScheduledPlanView {
            plan,
            effective_at: at,
        }),
    }))
}

/// Rename the active organization or change its billing email.
#[utoipa::path(
    patch, path = "/api/v1/organization", tag = "organization",
    security(("bearer" = [])),
    request_body = UpdateOrganizationRequest,
    responses(
        (status = 200, description = "Updated", body = Envelope<OrganizationView>),
        (status = 403, description = "Missing permission update_organization", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn update_organization(
    State(state): State<IdentityState>,
    user: Authorized<needs::UpdateOrganization>,
    client: ClientInfo,
    Json(body): Json<UpdateOrganizationRequest>,
) -> Result<ApiSuccess<OrganizationView>, ApiError> {
    Ok(ApiSuccess::ok(update(&state, &user, &client, &body).await?))
}

/// `user`'s organization (permission `view_dashboard`).
pub async fn find(state: &IdentityState, user: &CurrentUser) -> Result<OrganizationView, ApiError> {
    permissions::require(user, permissions::VIEW_DASHBOARD)?;
    let organization = identity_store::organization_by_id(state.db.pool(), &user.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    Ok(OrganizationView::from(&organization))
}

/// Renames `user`'s organization and/or changes its billing email
/// (permission `update_organization`; at least one field). Audited as
/// `organization.updated`.
pub async fn update(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    body: &UpdateOrganizationRequest,
) -> Result<OrganizationView, ApiError> {
    permissions::require(user, permissions::UPDATE_ORGANIZATION)?;
    let name = body
        .name
        .as_deref()
        .map(|n| required_name("name", n))
        .transpose()?;
    let billing_email = body
        .billing_email
        .as_deref()
        .map(|e| normalize_email("billing_email", e))
        .transpose()?;
    if name.is_none() && billing_email.is_none() {
        return Err(ApiError::invalid_field(
            "body",
            "give name or billing_email to change",
        ));
    }
    let mut tx = state.db.begin().await?;
    identity_store::update_organization(
        &mut *tx,
        &user.organization_id,
        name.as_deref(),
        billing_email.as_deref(),
    )
    .await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(user, client, "organization.updated")
            .target("organization", &user.organization_id)
            .details(serde_json::json!({ "name": name, "billing_email": billing_email })),
    )
    .await?;
    let organization = identity_store::organization_by_id(&mut *tx, &user.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    landlord_events::record(
        &mut *tx,
        &user.organization_id,
        &OrganizationUpdatedPayload {
            organization_id: user.organization_id.clone(),
            name: organization.name.clone(),
            updated_by: user.user_id.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(OrganizationView::from(&organization))
}
