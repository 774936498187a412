//! Issuing, listing and revoking keys: the rules `POST /keys`, `GET /keys`,
//! `DELETE /keys/{id}` and the console's keys page share.

use std::collections::HashMap;

use landlord_events::payloads::{ApiKeyCreatedPayload, ApiKeyRevokedPayload};

use landlord_audit::AuditEntry;
use landlord_core::crypto::{random_hex, sha256_hex};
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::{ApiKeyId, OrganizationId, UserId};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::auth::CurrentUser;
use landlord_identity::permissions;
use landlord_identity::store as identity_store;
use landlord_identity::validation::{required_name, Name};
use landlord_limits::month_start_ms;
use landlord_metering::store as usage_store;
use serde::{Deserialize, Serialize};
use sqlx::{Any, Executor};
use utoipa::ToSchema;

use crate::admission::KEY_PREFIX;
use crate::store::{self, KeyRow, KeyStatus, NewKey};
use crate::KeysState;

/// Most scopes one key may carry.
pub const MAX_SCOPES: usize = 20;

/// Largest per-key rate limit, per minute.
pub const MAX_KEY_RATE_LIMIT: u32 = 1_000_000;

/// The scopes API-key routes check today, with what each allows: the
/// console's checkboxes. `POST /keys` accepts any well-formed scope (for
/// routes a module adds later); these are the ones that do something now.
pub const SCOPE_CATALOG: &[(&str, &str)] = &[
    ("messages:send", "Send email and SMS messages"),
    ("messages:read", "Read a message's delivery status"),
];

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateKeyRequest {
    /// Shown in lists; surrounding spaces are trimmed.
    #[schema(value_type = Name, example = "production backend")]
    pub name: String,
    /// RFC 3339, in the future; the key stops working then. Absent: never
    /// expires.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// Scopes the key is limited to (e.g. `messages:send`,
    /// `messages:read`). Absent: every API-key route.
    #[schema(max_items = 20, inline, value_type = Option<Vec<Scope>>)]
    pub scopes: Option<Vec<String>>,
    /// A rate limit for this key alone, on top of the plan's.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub rate_limit_per_minute: Option<u32>,
}

/// A scope such as `messages:send`: lowercase letters, digits and `:_.-`.
#[derive(ToSchema)]
#[schema(pattern = r"^[a-z0-9:_.\-]{1,64}$", example = "messages:send")]
#[allow(dead_code)]
struct Scope(String);

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub id: ApiKeyId,
    /// The secret. Shown this once: only its hash is stored.
    #[schema(example = "sk_live_5f0c…")]
    pub key: String,
    /// What lists show to recognize the key.
    pub prefix: String,
    pub name: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<Timestamp>,
    pub rate_limit_per_minute: Option<u32>,
    pub created_at: Timestamp,
}

landlord_core::debug_redacted!(CreatedKey { id, prefix, name, scopes, expires_at, rate_limit_per_minute, created_at } secret { key });

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: ApiKeyId,
    pub prefix: String,
    pub name: String,
    /// User id of the creator.
    pub created_by: Option<UserId>,
    pub created_by_email: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// `active`, `expired` or `revoked`.
    pub status: KeyStatus,
    pub scopes: Option<Vec<String>>,
    pub rate_limit_per_minute: Option<i64>,
}

impl KeyView {
    fn new(row: KeyRow, created_by_email: Option<String>) -> Self {
        Self {
            status: row.status(),
            scopes: store::decode_scopes(row.scopes.as_deref()),
            id: row.id,
            prefix: row.prefix,
            name: row.name,
            created_by: row.created_by,
            created_by_email,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            rate_limit_per_minute: row.rate_limit_per_minute,
        }
    }
}

pub fn key_not_found() -> ApiError {
    ApiError::not_found("API key")
}

/// The creators' emails of `rows` (identity's, read through identity).
async fn creators<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    rows: &[KeyRow],
) -> Result<HashMap<UserId, String>, sqlx::Error> {
    let mut ids: Vec<UserId> = rows.iter().filter_map(|r| r.created_by.clone()).collect();
    ids.sort();
    ids.dedup();
    Ok(identity_store::emails_of(executor, &ids)
        .await?
        .into_iter()
        .collect())
}

/// Keys with their creators' emails.
async fn views<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    rows: Vec<KeyRow>,
) -> Result<Vec<KeyView>, sqlx::Error> {
    let emails = creators(executor, &rows).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let email = r.created_by.as_ref().and_then(|id| emails.get(id).cloned());
            KeyView::new(r, email)
        })
        .collect())
}

fn validate_scopes(scopes: Option<Vec<String>>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(scopes) = scopes else {
        return Ok(None);
    };
    if scopes.len() > MAX_SCOPES {
        return Err(ApiError::invalid_field(
            "scopes",
            format!("at most {MAX_SCOPES} scopes"),
        ));
    }
    for scope in &scopes {
        let ok = !scope.is_empty()
            && scope.len() <= 64
            && scope.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b':' | b'_' | b'.' | b'-')
            });
        if !ok {
            return Err(ApiError::invalid_field(
                "scopes",
                format!("'{scope}' is not a scope such as messages:send"),
            ));
        }
    }
    Ok(Some(scopes))
}

/// Issues a key in `user`'s organization (permission `create_api_keys`),
/// audited as `api_key.created`. The answer holds the secret, once.
pub async fn create(
    state: &KeysState,
    user: &CurrentUser,
    client: &ClientInfo,
    request: CreateKeyRequest,
) -> Result<CreatedKey, ApiError> {
    permissions::require(user, permissions::CREATE_API_KEYS)?;
    let name = required_name("name", &request.name)?;
    let now = Timestamp::now();
    let expires_at = match request.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let at = Timestamp::parse_rfc3339(text)
                .ok_or_else(|| ApiError::invalid_field("expires_at", "is not an RFC 3339 time"))?;
            if at <= now {
                return Err(ApiError::invalid_field(
                    "expires_at",
                    "must be in the future",
                ));
            }
            Some(at)
        }
    };
    let scopes = validate_scopes(request.scopes)?;
    if request.rate_limit_per_minute == Some(0) {
        return Err(ApiError::invalid_field(
            "rate_limit_per_minute",
            "must be at least 1",
        ));
    }
    if request.rate_limit_per_minute > Some(MAX_KEY_RATE_LIMIT) {
        return Err(ApiError::invalid_field(
            "rate_limit_per_minute",
            format!("must be at most {MAX_KEY_RATE_LIMIT}"),
        ));
    }
    let secret = random_hex(32);
    let key = format!("{KEY_PREFIX}{secret}");
    let prefix = format!("{KEY_PREFIX}{}", &secret[..8]);
    let id = ApiKeyId::generate();
    let mut tx = state.db.begin().await?;
    store::insert(
        &mut *tx,
        NewKey {
            id: &id,
            organization_id: &user.organization_id,
            created_by: &user.user_id,
            name: &name,
            prefix: &prefix,
            key_hash: &sha256_hex(&key),
            scopes: scopes.as_deref(),
            expires_at,
            rate_limit_per_minute: request.rate_limit_per_minute.map(i64::from),
            created_at: now,
        },
    )
    .await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(user, client, "api_key.created")
            .target("api_key", &id)
            .details(serde_json::json!({ "name": name, "prefix": prefix })),
    )
    .await?;
    landlord_events::record(
        &mut *tx,
        &user.organization_id,
        &ApiKeyCreatedPayload {
            organization_id: user.organization_id.clone(),
            api_key_id: id.clone(),
            name: name.clone(),
            prefix: prefix.clone(),
            created_by: user.user_id.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedKey {
        id,
        key,
        prefix,
        name,
        scopes,
        expires_at,
        rate_limit_per_minute: request.rate_limit_per_minute,
        created_at: now,
    })
}

/// Whose keys `user` manages in the console: every key with
/// `revoke_any_api_key` (owners, admins), else only the keys the person
/// created (members see and revoke their own).
pub fn managed_creator(user: &CurrentUser) -> Option<&UserId> {
    if permissions::allows(user.role, permissions::REVOKE_ANY_API_KEY) {
        None
    } else {
        Some(&user.user_id)
    }
}

/// Up to `limit` keys of the organization, newest first, after the cursor
/// `before` (a key id); only those `created_by` made when given.
pub async fn list(
    state: &KeysState,
    organization_id: &OrganizationId,
    created_by: Option<&UserId>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<KeyView>, ApiError> {
    let pool = state.db.pool();
    let rows = store::list(pool, organization_id, created_by, before, limit).await?;
    Ok(views(pool, rows).await?)
}

/// One key of `user`'s organization that `user` manages
/// ([`managed_creator`]); any other answers 404.
pub async fn find(
    state: &KeysState,
    user: &CurrentUser,
    id: &ApiKeyId,
) -> Result<KeyView, ApiError> {
    let pool = state.db.pool();
    let row = store::by_id(pool, &user.organization_id, id)
        .await?
        .filter(|row| match managed_creator(user) {
            None => true,
            Some(me) => row.created_by.as_ref() == Some(me),
        })
        .ok_or_else(key_not_found)?;
    let mut found = views(pool, vec![row]).await?;
    found.pop().ok_or_else(key_not_found)
}

/// Requests this month per key of the organization.
pub async fn requests_this_month(
    state: &KeysState,
    organization_id: &OrganizationId,
) -> Result<HashMap<ApiKeyId, i64>, ApiError> {
    let month_start = Timestamp::from_millis(month_start_ms(Timestamp::now().millis()));
    Ok(
        usage_store::counts_per_key_since(state.db.pool(), organization_id, month_start)
            .await?
            .into_iter()
            .collect(),
    )
}

/// Revokes a key of `user`'s organization at once, audited as
/// `api_key.revoked`. Someone else's key needs `revoke_any_api_key` (403
/// otherwise); a key of another organization is 404.
pub async fn revoke(
    state: &KeysState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &ApiKeyId,
) -> Result<KeyView, ApiError> {
    let org = &user.organization_id;
    let mut tx = state.db.begin().await?;
    let key = store::by_id(&mut *tx, org, id)
        .await?
        .ok_or_else(key_not_found)?;
    if key.created_by.as_ref() != Some(&user.user_id) {
        permissions::require(user, permissions::REVOKE_ANY_API_KEY)?;
    }
    if store::revoke(&mut *tx, org, id, Timestamp::now()).await? {
        landlord_audit::record(
            &mut *tx,
            AuditEntry::by(user, client, "api_key.revoked")
                .target("api_key", id)
                .details(serde_json::json!({ "name": key.name, "prefix": key.prefix })),
        )
        .await?;
        landlord_events::record(
            &mut *tx,
            org,
            &ApiKeyRevokedPayload {
                organization_id: org.clone(),
                api_key_id: id.clone(),
                name: key.name.clone(),
                prefix: key.prefix.clone(),
                revoked_by: Some(user.user_id.clone()),
            },
        )
        .await?;
    }
    let updated = store::by_id(&mut *tx, org, id)
        .await?
        .ok_or_else(key_not_found)?;
    let mut view = views(&mut *tx, vec![updated]).await?;
    tx.commit().await?;
    // This instance stops accepting the key now; others within
    // `api_key_cache_ms`.
    state.cache.invalidate(&key.key_hash);
    view.pop().ok_or_else(key_not_found)
}

/// One key as people see it, with its creator's email.
pub async fn view_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: KeyRow,
) -> Result<KeyView, ApiError> {
    views(executor, vec![row])
        .await?
        .pop()
        .ok_or_else(key_not_found)
}
