//! The `/team` routes, one file per subject: invitations, members,
//! ownership. What they share: the member's view and the refusals.

pub mod invitations;
pub mod members;
pub mod ownership;

use landlord_core::ids::UserId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::Role;
use serde::Serialize;
use utoipa::ToSchema;

use landlord_identity::store::MemberRow;

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// The member's user id (used in `/team/members/{id}`).
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub joined_at: Timestamp,
}

impl From<&MemberRow> for MemberView {
    fn from(row: &MemberRow) -> Self {
        Self {
            id: row.user_id.clone(),
            email: row.email.clone(),
            name: row.name.clone(),
            role: row.role,
            joined_at: row.joined_at,
        }
    }
}

/// Whether the organization is more than its first member: another
/// member, or an invitation still pending (not past its expiry) — the
/// overview's "invite a teammate" step.
pub async fn has_company(
    db: &landlord_core::Db,
    organization_id: &landlord_core::ids::OrganizationId,
) -> Result<bool, ApiError> {
    let members = landlord_identity::store::members(db.pool(), organization_id, None, 2).await?;
    if members.len() > 1 {
        return Ok(true);
    }
    let now = Timestamp::now();
    let pending = crate::store::invitations(
        db.pool(),
        organization_id,
        Some(crate::store::InvitationStatus::Pending),
        None,
        20,
    )
    .await?;
    Ok(pending.iter().any(|invitation| invitation.expires_at > now))
}

fn member_not_found() -> ApiError {
    ApiError::not_found("member")
}

fn last_owner() -> ApiError {
    ApiError::Conflict("an organization keeps at least one owner".into())
}
