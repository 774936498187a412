//! `POST /keys/{id}/transfer`: a key outlives its creator's membership.

use axum::extract::{Path, State};
use landlord_audit::AuditEntry;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::ids::ApiKeyId;
use landlord_core::ApiError;
use landlord_identity::permissions::{needs, Authorized};

use super::{key_not_found, key_view, KeyView};
use crate::store;
use crate::KeysState;

/// Make yourself the creator of a key of the organization, so it keeps
/// working when the person who created it leaves or is removed (their keys
/// are revoked then).
#[utoipa::path(
    post, path = "/api/v1/keys/{id}/transfer", tag = "keys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 200, description = "Transferred: the key with you as its creator", body = Envelope<KeyView>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission transfer_api_keys", body = ErrorEnvelope),
        (status = 404, description = "No such key in this organization, or it is revoked", body = ErrorEnvelope),
    )
)]
pub async fn transfer_key(
    State(state): State<KeysState>,
    user: Authorized<needs::TransferApiKeys>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<KeyView>, ApiError> {
    let id = ApiKeyId::parse(&id).ok_or_else(key_not_found)?;
    let org = &user.organization_id;
    let mut tx = state.db.begin().await?;
    let key = store::by_id(&mut *tx, org, &id)
        .await?
        .filter(|k| k.revoked_at.is_none())
        .ok_or_else(key_not_found)?;
    if !store::set_creator(&mut *tx, org, &id, &user.user_id).await? {
        return Err(key_not_found());
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&user, &client, "api_key.transferred")
            .target("api_key", &id)
            .details(serde_json::json!({
                "name": key.name,
                "prefix": key.prefix,
                "from": key.created_by,
                "to": user.user_id,
            })),
    )
    .await?;
    let updated = store::by_id(&mut *tx, org, &id)
        .await?
        .ok_or_else(key_not_found)?;
    let view = key_view(&mut *tx, updated).await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(view))
}
