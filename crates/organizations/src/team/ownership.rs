//! Ownership: an owner hands it to another member.

use axum::extract::State;
use landlord_audit::AuditEntry;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ids::UserId;
use landlord_core::ApiError;
use landlord_events::payloads::MemberRoleChangedPayload;
use landlord_identity::auth::CurrentUser;
use landlord_identity::permissions::{self, needs, Authorized};
use landlord_identity::{IdentityState, Role};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{member_not_found, MemberView};
use landlord_identity::store;

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferOwnershipRequest {
    /// The member (user id) who becomes an owner; you become an admin.
    pub user_id: String,
}

/// Make another member an owner and become an admin yourself.
#[utoipa::path(
    post, path = "/api/v1/team/transfer-ownership", tag = "team",
    security(("bearer" = [])),
    request_body = TransferOwnershipRequest,
    responses(
        (status = 200, description = "Transferred: the new owner", body = Envelope<MemberView>),
        (status = 403, description = "Missing permission transfer_ownership", body = ErrorEnvelope),
        (status = 404, description = "No such member in this organization", body = ErrorEnvelope),
        (status = 422, description = "Transferring to yourself", body = ErrorEnvelope),
    )
)]
pub async fn transfer_ownership(
    State(state): State<IdentityState>,
    user: Authorized<needs::TransferOwnership>,
    client: ClientInfo,
    Json(body): Json<TransferOwnershipRequest>,
) -> Result<ApiSuccess<MemberView>, ApiError> {
    Ok(ApiSuccess::ok(
        transfer(&state, &user, &client, &body.user_id).await?,
    ))
}

/// Makes member `target` (a user id as sent) an owner of `user`'s
/// organization and `user` an admin (permission `transfer_ownership`).
/// Audited as `team.ownership_transferred`.
pub async fn transfer(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    target: &str,
) -> Result<MemberView, ApiError> {
    permissions::require(user, permissions::TRANSFER_OWNERSHIP)?;
    let org = &user.organization_id;
    let target = target.trim();
    if target == user.user_id.as_str() {
        return Err(ApiError::invalid_field(
            "user_id",
            "is you: choose another member",
        ));
    }
    let target = UserId::parse(target).ok_or_else(member_not_found)?;
    let mut tx = state.db.begin().await?;
    store::lock_organization(&mut tx, org).await?;
    let previous = store::member(&mut *tx, org, &target)
        .await?
        .ok_or_else(member_not_found)?;
    store::set_role(&mut tx, org, &target, Role::Owner).await?;
    store::set_role(&mut tx, org, &user.user_id, Role::Admin).await?;
    let changes = [
        (&target, previous.role, Role::Owner),
        (&user.user_id, user.role, Role::Admin),
    ];
    for (member, from, to) in changes {
        if from != to {
            landlord_events::record(
                &mut *tx,
                org,
                &MemberRoleChangedPayload {
                    organization_id: org.clone(),
                    user_id: member.clone(),
                    previous_role: from.as_str().to_string(),
                    role: to.as_str().to_string(),
                    changed_by: user.user_id.clone(),
                },
            )
            .await?;
        }
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(user, client, "team.ownership_transferred").target("user", &target),
    )
    .await?;
    let updated = store::member(&mut *tx, org, &target)
        .await?
        .ok_or_else(member_not_found)?;
    tx.commit().await?;
    Ok(MemberView::from(&updated))
}
