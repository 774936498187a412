//! Joining an organization by invitation: the rules of
//! `POST /team/accept-invitation`, written once for the API's route and the
//! console's `/accept-invitation` page.

use landlord_audit::AuditEntry;
use landlord_core::crypto::sha256_hex;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::UserId;
use landlord_core::{ApiError, Timestamp};
use landlord_events::payloads::{InvitationAcceptedPayload, MemberAddedPayload};
use landlord_identity::model::{OrganizationRow, OrganizationView};
use landlord_identity::sessions::{auth_response, start_session, AuthResponse};
use landlord_identity::validation::optional_name;
use landlord_identity::{password, store as identity_store, IdentityState, Role};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{self, InvitationRow, InvitationStatus};

landlord_core::text_enum!(
    /// Where an invitation stands as shown: its stored status, or
    /// `expired` for a pending invitation past its time.
    pub enum InvitationState {
        Pending = "pending",
        Accepted = "accepted",
        Declined = "declined",
        Cancelled = "cancelled",
        Expired = "expired",
    }
);

impl InvitationState {
    pub(crate) fn of(row: &InvitationRow, now: Timestamp) -> Self {
        match row.status {
            InvitationStatus::Pending if row.expires_at <= now => Self::Expired,
            InvitationStatus::Pending => Self::Pending,
            InvitationStatus::Accepted => Self::Accepted,
            InvitationStatus::Declined => Self::Declined,
            InvitationStatus::Cancelled => Self::Cancelled,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedInvitation {
    pub organization: OrganizationView,
    pub role: Role,
    /// Present when the invitation created the account: it is signed in.
    pub session: Option<AuthResponse>,
}

/// Why an invitation token cannot be used, if it cannot.
pub(crate) fn invitation_problem(invitation: &InvitationRow) -> Option<ApiError> {
    let reason = match InvitationState::of(invitation, Timestamp::now()) {
        InvitationState::Accepted => "has already been accepted",
        InvitationState::Declined => "was declined",
        InvitationState::Cancelled => "was cancelled by the organization",
        InvitationState::Expired => "has expired; ask for a new one",
        InvitationState::Pending => return None,
    };
    Some(ApiError::invalid_field(
        "token",
        format!("this invitation {reason}"),
    ))
}

pub(crate) async fn find_invitation(
    conn: &mut sqlx::AnyConnection,
    token: &str,
) -> Result<InvitationRow, ApiError> {
    let invitation = store::invitation_by_token_hash(conn, &sha256_hex(token.trim()))
        .await?
        .ok_or_else(|| ApiError::invalid_field("token", "is not a valid invitation token"))?;
    match invitation_problem(&invitation) {
        Some(problem) => Err(problem),
        None => Ok(invitation),
    }
}

/// A pending invitation as its page shows it before answering: the row,
/// its organization, and whether its email already has an account.
pub struct PendingInvitation {
    pub invitation: InvitationRow,
    pub organization: OrganizationRow,
    pub has_account: bool,
}

/// The pending invitation of `token`, or why it cannot be used (a 422
/// naming the field `token`).
pub async fn pending(state: &IdentityState, token: &str) -> Result<PendingInvitation, ApiError> {
    let mut conn = state.db.pool().acquire().await?;
    let invitation = find_invitation(&mut conn, token).await?;
    let organization = identity_store::organization_by_id(&mut *conn, &invitation.organization_id)
        .await?
        .ok_or_else(|| ApiError::invalid_field("token", "is not a valid invitation token"))?;
    let has_account = identity_store::user_by_email(&mut *conn, &invitation.email)
        .await?
        .is_some();
    Ok(PendingInvitation {
        invitation,
        organization,
        has_account,
    })
}

/// Accepts the invitation of `token`.
///
/// Someone who already has an account must be signed in as the invited
/// email (`signed_in`); they gain a membership. Someone without an account
/// gives `password` (and optionally `name`): the account is created, its
/// email counts as verified, and the answer carries a signed-in session.
pub async fn accept(
    state: &IdentityState,
    signed_in: Option<&UserId>,
    client: &ClientInfo,
    token: &str,
    password: Option<String>,
    name: Option<&str>,
) -> Result<AcceptedInvitation, ApiError> {
    let new_password = hash_for_new_account(state, token, password.as_deref()).await?;
    let mut tx = state.db.begin().await?;
    let invitation = find_invitation(&mut tx, token).await?;
    let role = invitation.role;
    let org = invitation.organization_id.clone();
    let joining = Joining {
        signed_in,
        password: password.as_deref(),
        new_password,
        name,
    };
    let (user_id, created) = joining_user(&mut tx, &invitation, joining).await?;
    if !store::respond_to_invitation(&mut tx, &invitation.id, InvitationStatus::Accepted).await? {
        return Err(ApiError::invalid_field(
            "token",
            "this invitation has already been answered",
        ));
    }
    identity_store::insert_membership(&mut tx, &org, &user_id, role).await?;
    let organization = identity_store::organization_by_id(&mut *tx, &org)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let session = if created {
        let (family, refresh) = start_session(&mut tx, state, &user_id, &org, client).await?;
        let user = identity_store::user_by_id(&mut *tx, &user_id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("user vanished")))?;
        Some(auth_response(
            state,
            &user,
            &organization,
            role,
            &family,
            refresh,
        )?)
    } else {
        None
    };
    record_joining(&mut tx, &invitation, &user_id, created, client).await?;
    tx.commit().await?;
    Ok(AcceptedInvitation {
        organization: OrganizationView::from(&organization),
        role,
        session,
    })
}

/// The password's hash when the invitation will create an account; `None`
/// when no password was given or the email already has an account. Cheap
/// checks first (the password's length, the invitation, whether an account
/// exists): hashing is slow, so it runs only for a new account, and before
/// the write lock is taken.
async fn hash_for_new_account(
    state: &IdentityState,
    token: &str,
    password: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(password) = password else {
        return Ok(None);
    };
    password::validate("password", password, "")?;
    let mut conn = state.db.pool().acquire().await?;
    let invitation = find_invitation(&mut conn, token).await?;
    let has_account = identity_store::user_by_email(&mut *conn, &invitation.email)
        .await?
        .is_some();
    drop(conn);
    if has_account {
        return Ok(None);
    }
    password::validate("password", password, &invitation.email)?;
    state.limit_password_work(&invitation.email).await?;
    Ok(Some(
        password::hash(&state.hashing, password.to_string()).await?,
    ))
}

/// What the person accepting brings.
struct Joining<'a> {
    signed_in: Option<&'a UserId>,
    password: Option<&'a str>,
    /// The password's hash, when it was computed for a new account.
    new_password: Option<String>,
    name: Option<&'a str>,
}

/// The user who joins: the signed-in owner of the invited email, or a new
/// account for it (its email verified: the invitation reached it). `true`
/// when the account was created.
async fn joining_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    invitation: &InvitationRow,
    joining: Joining<'_>,
) -> Result<(UserId, bool), ApiError> {
    let org = &invitation.organization_id;
    if let Some(user) = identity_store::user_by_email(&mut **tx, &invitation.email).await? {
        if joining.signed_in != Some(&user.id) {
            return Err(ApiError::Unauthorized(format!(
                "an account exists for {}: sign in as it to accept",
                invitation.email
            )));
        }
        if identity_store::role_in(&mut **tx, &user.id, org)
            .await?
            .is_some()
        {
            return Err(ApiError::Conflict(
                "you are already a member of this organization".into(),
            ));
        }
        return Ok((user.id, false));
    }
    let Some(hash) = joining.new_password else {
        return Err(ApiError::invalid_field(
            "password",
            "is required to create the account that joins",
        ));
    };
    password::validate(
        "password",
        joining.password.unwrap_or(""),
        &invitation.email,
    )?;
    let name = optional_name("name", joining.name)?;
    let id = identity_store::insert_user(tx, &invitation.email, name.as_deref(), &hash).await?;
    identity_store::mark_email_verified(&mut **tx, &id).await?;
    Ok((id, true))
}

/// The audit entry and the two events of a joining.
async fn record_joining(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    invitation: &InvitationRow,
    user_id: &UserId,
    created: bool,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let org = &invitation.organization_id;
    let role = invitation.role;
    landlord_audit::record(
        &mut **tx,
        AuditEntry::new("team.invitation_accepted")
            .organization(org)
            .actor(user_id)
            .target("invitation", &invitation.id)
            .client(client)
            .details(serde_json::json!({ "role": role.as_str(), "new_account": created })),
    )
    .await?;
    landlord_events::record(
        &mut **tx,
        org,
        &InvitationAcceptedPayload {
            organization_id: org.clone(),
            invitation_id: invitation.id.clone(),
            user_id: user_id.clone(),
            email: invitation.email.clone(),
            role: role.as_str().to_string(),
        },
    )
    .await?;
    landlord_events::record(
        &mut **tx,
        org,
        &MemberAddedPayload {
            organization_id: org.clone(),
            user_id: user_id.clone(),
            email: invitation.email.clone(),
            role: role.as_str().to_string(),
        },
    )
    .await?;
    Ok(())
}
