//! Who is a platform administrator: the one rule, for the API's
//! `/admin` extractor and the console's `/operator` pages alike.

use landlord_core::ids::UserId;
use landlord_core::ApiError;

use crate::{store, IdentityState};

/// `user_id` if that account is a platform administrator: designated with
/// `landlord make-admin`, or listed in `platform_admins` (compared without
/// letter case) once that account's email address is verified — otherwise
/// whoever registered a listed address first, without owning it, would be
/// one. Anyone else gets 403; an account that no longer exists, 401.
pub async fn platform_admin(
    identity: &IdentityState,
    user_id: &UserId,
) -> Result<UserId, ApiError> {
    let user = store::user_by_id(identity.db.pool(), user_id)
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
    Ok(user.id)
}
