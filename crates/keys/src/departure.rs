//! A person leaving an organization takes their API keys along: the keys
//! they created there are revoked in the transaction that ends the
//! membership, each revocation audited. An owner or admin who wants a key
//! to outlive its creator's membership transfers it first
//! (`POST /keys/{id}/transfer`).

use landlord_audit::AuditEntry;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::{ApiKeyId, OrganizationId, UserId};
use landlord_core::Timestamp;
use landlord_events::payloads::ApiKeyRevokedPayload;
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{self, KeyRow};
use crate::KeysState;

/// Why the keys of a departing member are revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// An owner or admin removed the member.
    Removed,
    /// The member left.
    Left,
}

impl Departure {
    pub fn reason(self) -> &'static str {
        match self {
            Departure::Removed => "member_removed",
            Departure::Left => "member_left",
        }
    }
}

/// A key revoked because its creator left the organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevokedKey {
    pub id: ApiKeyId,
    pub name: String,
    pub prefix: String,
    /// Not shown: used to drop the key from the cache.
    #[serde(skip)]
    pub key_hash: String,
}

/// Revokes, in the caller's transaction, every unrevoked key `member_id`
/// created in `organization_id`, and audits each as `api_key.revoked` with
/// the reason. Call [`KeysState::forget`] with the answer once the
/// transaction has committed.
pub async fn revoke_keys_of(
    conn: &mut sqlx::AnyConnection,
    organization_id: &OrganizationId,
    member_id: &UserId,
    actor_id: &UserId,
    client: &ClientInfo,
    departure: Departure,
) -> Result<Vec<RevokedKey>, sqlx::Error> {
    let keys: Vec<KeyRow> = store::unrevoked_created_by(conn, organization_id, member_id).await?;
    let now = Timestamp::now();
    let mut revoked = Vec::with_capacity(keys.len());
    for key in keys {
        if !store::revoke(&mut *conn, organization_id, &key.id, now).await? {
            continue;
        }
        landlord_audit::record(
            &mut *conn,
            AuditEntry::new("api_key.revoked")
                .organization(organization_id)
                .actor(actor_id)
                .target("api_key", &key.id)
                .client(client)
                .details(serde_json::json!({
                    "name": key.name,
                    "prefix": key.prefix,
                    "reason": departure.reason(),
                    "created_by": member_id,
                })),
        )
        .await?;
        landlord_events::record(
            &mut *conn,
            organization_id,
            &ApiKeyRevokedPayload {
                organization_id: organization_id.clone(),
                api_key_id: key.id.clone(),
                name: key.name.clone(),
                prefix: key.prefix.clone(),
                revoked_by: Some(actor_id.clone()),
            },
        )
        .await?;
        revoked.push(RevokedKey {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            key_hash: key.key_hash,
        });
    }
    Ok(revoked)
}

impl KeysState {
    /// Drops revoked keys from this instance's cache, so they stop working
    /// here at once (other instances within `api_key_cache_ms`).
    pub fn forget(&self, keys: &[RevokedKey]) {
        for key in keys {
            self.cache.invalidate(&key.key_hash);
        }
    }
}
