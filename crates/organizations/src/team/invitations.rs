//! Invitations: sending, accepting, declining, listing and cancelling them.

use std::time::Duration;

use axum::extract::{Path, State};
use landlord_audit::AuditEntry;
use landlord_core::crypto::{random_hex, sha256_hex};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::ids::{InvitationId, UserId};
use landlord_core::{ApiError, Timestamp};
use landlord_events::payloads::InvitationCreatedPayload;
use landlord_identity::auth::CurrentUser;
use landlord_identity::mail_limits::{self, MailKind};
use landlord_identity::permissions::{self, needs, Authorized};
use landlord_identity::validation::{normalize_email, EmailAddress};
use landlord_identity::{store as identity_store, IdentityState, Role};
use landlord_mail::{Mail, Template};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::joining::{self, find_invitation};
pub use crate::joining::{AcceptedInvitation, InvitationState};
use crate::store::{self, InvitationRow, InvitationStatus, NewInvitation};

const INVITATION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Deserialize, ToSchema)]
pub struct InviteRequest {
    #[schema(value_type = EmailAddress, example = "grace@acme.test")]
    pub email: String,
    /// `owner` (owners only), `admin` or `member`.
    pub role: Role,
}

#[derive(Deserialize, ToSchema)]
pub struct AcceptInvitationRequest {
    /// The token from the invitation mail.
    pub token: String,
    /// For a person without an account: the password of the new account.
    pub password: Option<String>,
    /// For a person without an account: their name.
    #[schema(max_length = 100)]
    pub name: Option<String>,
}

landlord_core::debug_redacted!(AcceptInvitationRequest { name } secret { token, password });

#[derive(Deserialize, ToSchema)]
pub struct DeclineInvitationRequest {
    pub token: String,
}

landlord_core::debug_redacted!(DeclineInvitationRequest {  } secret { token });

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub status: InvitationState,
    /// User id of who invited.
    pub invited_by: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub responded_at: Option<Timestamp>,
}

impl From<&InvitationRow> for InvitationView {
    fn from(row: &InvitationRow) -> Self {
        Self {
            id: row.id.clone(),
            email: row.email.clone(),
            role: row.role,
            status: InvitationState::of(row, Timestamp::now()),
            invited_by: row.invited_by.clone(),
            created_at: row.created_at,
            expires_at: row.expires_at,
            responded_at: row.responded_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationFilter {
    /// Only invitations with this stored status (`pending`, `accepted`,
    /// `declined`, `cancelled`).
    #[param(value_type = Option<InvitationStatus>)]
    pub status: Option<String>,
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `meta.next_cursor` of the previous page (left out or empty: the first page).
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// Invite someone to the organization by email (valid 7 days).
///
/// A new pending invitation to the same email replaces the previous one
/// (this is also how an invitation is sent again). At most
/// `mails_per_recipient_per_day` invitations a day to one address and
/// `invitations_per_organization_per_hour` per organization.
#[utoipa::path(
    post, path = "/api/v1/team/invite", tag = "team",
    security(("bearer" = [])),
    request_body = InviteRequest,
    responses(
        (status = 201, description = "Invitation sent", body = Envelope<InvitationView>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission invite_members (or change_roles to invite an owner)", body = ErrorEnvelope),
        (status = 409, description = "Already a member", body = ErrorEnvelope),
        (status = 422, description = "Invalid email or role", body = ErrorEnvelope),
        (status = 429, description = "Too many invitations to this address today, or from this organization this hour; see Retry-After", body = ErrorEnvelope),
    )
)]
pub async fn invite(
    State(state): State<IdentityState>,
    user: Authorized<needs::InviteMembers>,
    client: ClientInfo,
    Json(body): Json<InviteRequest>,
) -> Result<ApiSuccess<InvitationView>, ApiError> {
    Ok(ApiSuccess::created(
        send(&state, &user, &client, &body.email, body.role).await?,
    ))
}

/// Invites `email` to `user`'s organization as `role` (permission
/// `invite_members`; `change_roles` too for an owner), replacing a pending
/// invitation to the same address (how one is sent again), within the
/// mail limits. Queues the mail; audited as `team.invited`.
pub async fn send(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    email: &str,
    role: Role,
) -> Result<InvitationView, ApiError> {
    permissions::require(user, permissions::INVITE_MEMBERS)?;
    let email = normalize_email("email", email)?;
    if role == Role::Owner {
        // Inviting an owner is granting a role: owners only.
        permissions::require(user, permissions::CHANGE_ROLES)?;
    }
    let org = &user.organization_id;
    mail_limits::per_recipient(state, MailKind::Invitation, &email).await?;
    mail_limits::invitations_of(state, org).await?;
    let mut tx = state.db.begin().await?;
    // One pending invitation per address however many arrive at once: the
    // replacement below (cancel the pending one, insert the new) is one
    // decision while the organization is locked.
    identity_store::lock_organization(&mut tx, org).await?;
    if let Some(existing) = identity_store::user_by_email(&mut *tx, &email).await? {
        if identity_store::role_in(&mut *tx, &existing.id, org)
            .await?
            .is_some()
        {
            return Err(ApiError::Conflict(format!(
                "{email} is already a member of this organization"
            )));
        }
    }
    let token = random_hex(32);
    let invitation = NewInvitation {
        organization_id: org,
        email: &email,
        role,
        invited_by: &user.user_id,
        token_hash: &sha256_hex(&token),
        expires_at: Timestamp::now().plus(INVITATION_TTL),
    };
    let id = store::replace_invitation(&mut tx, invitation).await?;
    let organization = identity_store::organization_by_id(&mut *tx, org)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let inviter = identity_store::user_by_id(&mut *tx, &user.user_id).await?;
    let mail = Mail {
        to: email.clone(),
        template: Template::TeamInvitation,
        context: serde_json::json!({
            "inviter_name": inviter.as_ref().and_then(|u| u.name.clone()),
            "inviter_email": inviter.map(|u| u.email),
            "organization_name": organization.name,
            "role": role.as_str(),
            "link": format!("{}/accept-invitation?token={token}", state.config.app_url()),
            "token": token,
        }),
    };
    landlord_mail::queue_sealed(&mut *tx, &mail, &state.payload_cipher).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(user, client, "team.invited")
            .target("invitation", &id)
            .details(serde_json::json!({ "email": email, "role": role.as_str() })),
    )
    .await?;
    let invitation = store::invitation_by_id(&mut *tx, org, &id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("invitation vanished")))?;
    landlord_events::record(
        &mut *tx,
        org,
        &InvitationCreatedPayload {
            organization_id: org.clone(),
            invitation_id: invitation.id.clone(),
            email: invitation.email.clone(),
            role: invitation.role.as_str().to_string(),
            invited_by: user.user_id.clone(),
            expires_at: invitation.expires_at,
        },
    )
    .await?;
    landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    Ok(InvitationView::from(&invitation))
}

/// Accept an invitation with the token from its mail.
///
/// Someone who already has an account must be signed in as the invited
/// email; they gain a membership. Someone without an account sends
/// `password` (and optionally `name`): the account is created, its email
/// counts as verified, and the answer carries a signed-in session.
#[utoipa::path(
    post, path = "/api/v1/team/accept-invitation", tag = "team",
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "Joined", body = Envelope<AcceptedInvitation>),
        (status = 401, description = "The invited email has an account: sign in as it first", body = ErrorEnvelope),
        (status = 409, description = "Already a member", body = ErrorEnvelope),
        (status = 422, description = "Unknown, expired, cancelled, declined or used invitation; or a weak password", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address or for this account", body = ErrorEnvelope),
        (status = 503, description = "Password hashing is at its bound; retry after `Retry-After`", body = ErrorEnvelope),
    )
)]
pub async fn accept_invitation(
    State(state): State<IdentityState>,
    signed_in: Option<CurrentUser>,
    client: ClientInfo,
    Json(body): Json<AcceptInvitationRequest>,
) -> Result<ApiSuccess<AcceptedInvitation>, ApiError> {
    let accepted = joining::accept(
        &state,
        signed_in.as_ref().map(|user| &user.user_id),
        &client,
        &body.token,
        body.password,
        body.name.as_deref(),
    )
    .await?;
    Ok(ApiSuccess::ok(accepted))
}

/// Decline an invitation with the token from its mail.
#[utoipa::path(
    post, path = "/api/v1/team/decline-invitation", tag = "team",
    request_body = DeclineInvitationRequest,
    responses(
        (status = 200, description = "Declined", body = Envelope<InvitationView>),
        (status = 422, description = "Unknown, expired, cancelled or answered invitation", body = ErrorEnvelope),
    )
)]
pub async fn decline_invitation(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<DeclineInvitationRequest>,
) -> Result<ApiSuccess<InvitationView>, ApiError> {
    let mut tx = state.db.begin().await?;
    let invitation = find_invitation(&mut tx, &body.token).await?;
    if !store::respond_to_invitation(&mut tx, &invitation.id, InvitationStatus::Declined).await? {
        return Err(ApiError::invalid_field(
            "token",
            "this invitation has already been answered",
        ));
    }
    let actor = identity_store::user_by_email(&mut *tx, &invitation.email)
        .await?
        .map(|u| u.id);
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("team.invitation_declined")
            .organization(&invitation.organization_id)
            .maybe_actor(actor.as_ref())
            .target("invitation", &invitation.id)
            .client(&client)
            .details(serde_json::json!({ "email": invitation.email })),
    )
    .await?;
    let updated = store::invitation_by_id(&mut *tx, &invitation.organization_id, &invitation.id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("invitation vanished")))?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(InvitationView::from(&updated)))
}

/// The organization's invitations, newest first.
#[utoipa::path(
    get, path = "/api/v1/team/invitations", tag = "team",
    security(("bearer" = [])),
    params(InvitationFilter),
    responses(
        (status = 200, description = "Invitations; `meta.next_cursor` when more follow", body = Envelope<Vec<InvitationView>>),
        (status = 403, description = "Missing permission invite_members", body = ErrorEnvelope),
    )
)]
pub async fn list_invitations(
    State(state): State<IdentityState>,
    user: Authorized<needs::InviteMembers>,
    Query(filter): Query<InvitationFilter>,
) -> Result<ApiSuccess<Vec<InvitationView>>, ApiError> {
    let page = PageQuery {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .page()?;
    let status = filter
        .status
        .as_deref()
        .map(|text| {
            InvitationStatus::parse(text).ok_or_else(|| {
                ApiError::invalid_field(
                    "status",
                    "must be pending, accepted, declined or cancelled",
                )
            })
        })
        .transpose()?;
    let rows = list(&state, &user, status, page.cursor.as_deref(), page.fetch()).await?;
    Ok(page.respond(rows, |r| r.id.to_string(), |r| InvitationView::from(&r)))
}

/// `user`'s organization's invitations, newest first, with `status` when
/// given, `limit` after `after` (permission `invite_members`).
pub async fn list(
    state: &IdentityState,
    user: &CurrentUser,
    status: Option<InvitationStatus>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<InvitationRow>, ApiError> {
    permissions::require(user, permissions::INVITE_MEMBERS)?;
    Ok(store::invitations(state.db.pool(), &user.organization_id, status, after, limit).await?)
}

/// Cancel a pending invitation.
#[utoipa::path(
    delete, path = "/api/v1/team/invitations/{id}", tag = "team",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Invitation id")),
    responses(
        (status = 200, description = "Cancelled", body = Envelope<InvitationView>),
        (status = 403, description = "Missing permission invite_members", body = ErrorEnvelope),
        (status = 404, description = "No such invitation in this organization", body = ErrorEnvelope),
        (status = 409, description = "Already answered", body = ErrorEnvelope),
    )
)]
pub async fn cancel_invitation(
    State(state): State<IdentityState>,
    user: Authorized<needs::InviteMembers>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<InvitationView>, ApiError> {
    let id = InvitationId::parse(&id).ok_or_else(|| ApiError::not_found("invitation"))?;
    Ok(ApiSuccess::ok(cancel(&state, &user, &client, &id).await?))
}

/// Cancels the pending invitation `id` of `user`'s organization
/// (permission `invite_members`). Audited as `team.invitation_cancelled`.
pub async fn cancel(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &InvitationId,
) -> Result<InvitationView, ApiError> {
    permissions::require(user, permissions::INVITE_MEMBERS)?;
    let org = &user.organization_id;
    let mut tx = state.db.begin().await?;
    let invitation = store::invitation_by_id(&mut *tx, org, id)
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    if !store::respond_to_invitation(&mut tx, &invitation.id, InvitationStatus::Cancelled).await? {
        return Err(ApiError::Conflict(format!(
            "the invitation is already {}",
            invitation.status
        )));
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(user, client, "team.invitation_cancelled")
            .target("invitation", id)
            .details(serde_json::json!({ "email": invitation.email })),
    )
    .await?;
    let updated = store::invitation_by_id(&mut *tx, org, id)
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    tx.commit().await?;
    Ok(InvitationView::from(&updated))
}

/// Sends the pending invitation `id` of `user`'s organization again: a new
/// invitation to the same email and role replaces it (a new link, seven
/// days again), through [`send`] and its limits.
pub async fn resend(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &InvitationId,
) -> Result<InvitationView, ApiError> {
    permissions::require(user, permissions::INVITE_MEMBERS)?;
    let invitation = store::invitation_by_id(state.db.pool(), &user.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    if invitation.status != InvitationStatus::Pending {
        return Err(ApiError::Conflict(format!(
            "the invitation is already {}",
            invitation.status
        )));
    }
    send(state, user, client, &invitation.email, invitation.role).await
}
