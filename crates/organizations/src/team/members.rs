//! Members: listing them, removing one, changing a role, leaving.

use axum::extract::{Path, State};
use landlord_audit::AuditEntry;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::ids::UserId;
use landlord_core::{ApiError, Timestamp};
use landlord_events::payloads::{MemberRemovedPayload, MemberRoleChangedPayload};
use landlord_identity::auth::CurrentUser;
use landlord_identity::delegated::{scope, PersonOrApp};
use landlord_identity::permissions::{self, needs, Authorized};
use landlord_identity::{IdentityState, Role};
use landlord_keys::departure::{revoke_keys_of, Departure, RevokedKey};
use landlord_keys::KeysState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{last_owner, member_not_found, MemberView};
use landlord_identity::store::{self, MemberRow};

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeRoleRequest {
    pub role: Role,
}

/// A member who left or was removed, and the keys that went with them.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartedMember {
    /// The former member's user id.
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub joined_at: Timestamp,
    /// The API keys this person had created in the organization, revoked
    /// with the departure (transfer a key first to keep it:
    /// `POST /keys/{id}/transfer`).
    pub revoked_keys: Vec<RevokedKey>,
}

impl DepartedMember {
    fn new(row: &MemberRow, revoked_keys: Vec<RevokedKey>) -> Self {
        let member = MemberView::from(row);
        Self {
            id: member.id,
            email: member.email,
            name: member.name,
            role: member.role,
            joined_at: member.joined_at,
            revoked_keys,
        }
    }
}

/// The organization's members, in the order they joined.
#[utoipa::path(
    get, path = "/api/v1/team/members", tag = "team",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Members; `meta.next_cursor` when more follow", body = Envelope<Vec<MemberView>>),
        (status = 401, description = "Not signed in, or the app token no longer works", body = ErrorEnvelope),
        (status = 403, description = "Missing permission view_team, or the app token lacks scope members:read", body = ErrorEnvelope),
    )
)]
pub async fn list_members(
    State(state): State<IdentityState>,
    // Also an installed app's token with `members:read`.
    who: PersonOrApp<needs::ViewTeam, scope::MembersRead>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<MemberView>>, ApiError> {
    let page = query.page()?;
    // `who` holds view_team (a person) or members:read (an app).
    let rows = store::members(
        state.db.pool(),
        &who.organization_id,
        page.cursor.as_deref(),
        page.fetch(),
    )
    .await?;
    Ok(page.respond(
        rows,
        |r| r.membership_id.to_string(),
        |r| MemberView::from(&r),
    ))
}

/// `user`'s organization's members in the order they joined, `limit`
/// after the membership `after` (permission `view_team`).
pub async fn list(
    state: &IdentityState,
    user: &CurrentUser,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberRow>, ApiError> {
    permissions::require(user, permissions::VIEW_TEAM)?;
    Ok(store::members(state.db.pool(), &user.organization_id, after, limit).await?)
}

/// Remove a member from the organization.
///
/// Only owners remove owners, and the last owner cannot be removed. To
/// leave yourself, use `POST /team/leave`. The API keys the member created
/// in the organization are revoked at once, in the same change, and listed
/// in `revoked_keys`; transfer a key first (`POST /keys/{id}/transfer`) to
/// keep it.
#[utoipa::path(
    delete, path = "/api/v1/team/members/{id}", tag = "team",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The member's user id")),
    responses(
        (status = 200, description = "Removed; their keys revoked", body = Envelope<DepartedMember>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission remove_members (or change_roles to remove an owner)", body = ErrorEnvelope),
        (status = 404, description = "No such member in this organization", body = ErrorEnvelope),
        (status = 409, description = "The last owner", body = ErrorEnvelope),
    )
)]
pub async fn remove_member(
    State(state): State<KeysState>,
    user: Authorized<needs::RemoveMembers>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<DepartedMember>, ApiError> {
    let id = UserId::parse(&id).ok_or_else(member_not_found)?;
    Ok(ApiSuccess::ok(remove(&state, &user, &client, &id).await?))
}

/// Removes member `id` from `user`'s organization (permission
/// `remove_members`; `change_roles` too for an owner), revoking the keys
/// they created; the last owner stays. Audited as `team.member_removed`.
pub async fn remove(
    state: &KeysState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &UserId,
) -> Result<DepartedMember, ApiError> {
    permissions::require(user, permissions::REMOVE_MEMBERS)?;
    let org = &user.organization_id;
    let mut tx = state.db.begin().await?;
    store::lock_organization(&mut tx, org).await?;
    let member = store::member(&mut *tx, org, id)
        .await?
        .ok_or_else(member_not_found)?;
    if member.role == Role::Owner {
        permissions::require(user, permissions::CHANGE_ROLES)?;
        if store::owner_count(&mut tx, org).await? <= 1 {
            return Err(last_owner());
        }
    }
    store::delete_membership(&mut tx, org, id).await?;
    let revoked =
        revoke_keys_of(&mut tx, org, id, &user.user_id, client, Departure::Removed).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(user, client, "team.member_removed")
            .target("user", id)
            .details(serde_json::json!({
                "email": member.email,
                "role": member.role,
                "revoked_keys": revoked.iter().map(|k| &k.id).collect::<Vec<_>>(),
            })),
    )
    .await?;
    landlord_events::record(
        &mut *tx,
        org,
        &MemberRemovedPayload {
            organization_id: org.clone(),
            user_id: id.clone(),
            removed_by: Some(user.user_id.clone()),
        },
    )
    .await?;
    tx.commit().await?;
    state.forget(&revoked);
    state.identity.access_ended(id);
    Ok(DepartedMember::new(&member, revoked))
}

/// Change a member's role (owners only). The last owner cannot be demoted.
#[utoipa::path(
    put, path = "/api/v1/team/members/{id}/role", tag = "team",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The member's user id")),
    request_body = ChangeRoleRequest,
    responses(
        (status = 200, description = "Changed", body = Envelope<MemberView>),
        (status = 403, description = "Missing permission change_roles", body = ErrorEnvelope),
        (status = 404, description = "No such member in this organization", body = ErrorEnvelope),
        (status = 409, description = "Would leave no owner", body = ErrorEnvelope),
    )
)]
pub async fn change_role(
    State(state): State<IdentityState>,
    user: Authorized<needs::ChangeRoles>,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<ChangeRoleRequest>,
) -> Result<ApiSuccess<MemberView>, ApiError> {
    let id = UserId::parse(&id).ok_or_else(member_not_found)?;
    Ok(ApiSuccess::ok(
        set_role(&state, &user, &client, &id, body.role).await?,
    ))
}

/// Gives member `id` of `user`'s organization `role` (permission
/// `change_roles`); the last owner is not demoted. Audited as
/// `team.role_changed`.
pub async fn set_role(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &UserId,
    role: Role,
) -> Result<MemberView, ApiError> {
    permissions::require(user, permissions::CHANGE_ROLES)?;
    let org = &user.organization_id;
    let mut tx = state.db.begin().await?;
    store::lock_organization(&mut tx, org).await?;
    let member = store::member(&mut *tx, org, id)
        .await?
        .ok_or_else(member_not_found)?;
    if member.role == Role::Owner
        && role != Role::Owner
        && store::owner_count(&mut tx, org).await? <= 1
    {
        return Err(last_owner());
    }
    store::set_role(&mut tx, org, id, role).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(user, client, "team.role_changed")
            .target("user", id)
            .details(serde_json::json!({ "from": member.role, "to": role })),
    )
    .await?;
    if member.role != role {
        landlord_events::record(
            &mut *tx,
            org,
            &MemberRoleChangedPayload {
                organization_id: org.clone(),
                user_id: id.clone(),
                previous_role: member.role.as_str().to_string(),
                role: role.as_str().to_string(),
                changed_by: user.user_id.clone(),
            },
        )
        .await?;
    }
    let updated = store::member(&mut *tx, org, id)
        .await?
        .ok_or_else(member_not_found)?;
    tx.commit().await?;
    Ok(MemberView::from(&updated))
}

/// Leave the active organization. The last owner cannot leave.
///
/// The API keys you created in the organization are revoked at once, in the
/// same change, and listed in `revoked_keys`; an owner or admin can transfer
/// a key to themselves first to keep it.
#[utoipa::path(
    post, path = "/api/v1/team/leave", tag = "team",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Left; the access token no longer works in this organization, your keys are revoked", body = Envelope<DepartedMember>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 409, description = "The last owner", body = ErrorEnvelope),
    )
)]
pub async fn leave(
    State(state): State<KeysState>,
    user: CurrentUser,
    client: ClientInfo,
) -> Result<ApiSuccess<DepartedMember>, ApiError> {
    Ok(ApiSuccess::ok(depart(&state, &user, &client).await?))
}

/// What stops the last owner from leaving.
pub const LAST_OWNER_CANNOT_LEAVE: &str = "the last owner cannot leave: transfer ownership first";

/// `user` leaves their organization, revoking the keys they created; the
/// last owner cannot. Audited as `team.member_left`.
pub async fn depart(
    state: &KeysState,
    user: &CurrentUser,
    client: &ClientInfo,
) -> Result<DepartedMember, ApiError> {
    let org = &user.organization_id;
    let mut tx = state.db.begin().await?;
    store::lock_organization(&mut tx, org).await?;
    let member = store::member(&mut *tx, org, &user.user_id)
        .await?
        .ok_or_else(member_not_found)?;
    if member.role == Role::Owner && store::owner_count(&mut tx, org).await? <= 1 {
        return Err(ApiError::Conflict(LAST_OWNER_CANNOT_LEAVE.into()));
    }
    store::delete_membership(&mut tx, org, &user.user_id).await?;
    let revoked = revoke_keys_of(
        &mut tx,
        org,
        &user.user_id,
        &user.user_id,
        client,
        Departure::Left,
    )
    .await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(user, client, "team.member_left")
            .target("user", &user.user_id)
            .details(serde_json::json!({
                "revoked_keys": revoked.iter().map(|k| &k.id).collect::<Vec<_>>(),
            })),
    )
    .await?;
    landlord_events::record(
        &mut *tx,
        org,
        &MemberRemovedPayload {
            organization_id: org.clone(),
            user_id: user.user_id.clone(),
            removed_by: None,
        },
    )
    .await?;
    tx.commit().await?;
    state.forget(&revoked);
    state.identity.access_ended(&user.user_id);
    Ok(DepartedMember::new(&member, revoked))
}
