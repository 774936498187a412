//! Issuing, listing and revoking keys.

use axum::extract::{Path, State};
use landlord_audit::AuditEntry;
use landlord_core::crypto::{random_hex, sha256_hex};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::ids::ApiKeyId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::auth::CurrentUser;
use landlord_identity::permissions::{self, needs, Authorized, Permission};
use landlord_identity::validation::{required_name, Name};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{creators, key_not_found, key_view, KeyView};
use crate::admission::KEY_PREFIX;
use crate::store::{self, NewKey};
use crate::KeysState;

const MAX_SCOPES: usize = 20;

#[derive(Debug, Deserialize, ToSchema)]
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

/// Largest per-key rate limit, per minute.
const MAX_KEY_RATE_LIMIT: u32 = 1_000_000;

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

/// Create an API key. The secret is in this answer only.
#[utoipa::path(
    post, path = "/keys", tag = "keys",
    security(("bearer" = [])),
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "Created", body = Envelope<CreatedKey>),
        (status = 403, description = "Missing permission create_api_keys", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn create_key(
    State(state): State<KeysState>,
    user: Authorized<needs::CreateApiKeys>,
    client: ClientInfo,
    Json(body): Json<CreateKeyRequest>,
) -> Result<ApiSuccess<CreatedKey>, ApiError> {
    let name = required_name("name", &body.name)?;
    let now = Timestamp::now();
    let expires_at = match body.expires_at.as_deref() {
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
    let scopes = validate_scopes(body.scopes)?;
    if body.rate_limit_per_minute == Some(0) {
        return Err(ApiError::invalid_field(
            "rate_limit_per_minute",
            "must be at least 1",
        ));
    }
    if body.rate_limit_per_minute > Some(MAX_KEY_RATE_LIMIT) {
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
            rate_limit_per_minute: body.rate_limit_per_minute.map(i64::from),
            created_at: now,
        },
    )
    .await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&user, &client, "api_key.created")
            .target("api_key", &id)
            .details(serde_json::json!({ "name": name, "prefix": prefix })),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::created(CreatedKey {
        id,
        key,
        prefix,
        name,
        scopes,
        expires_at,
        rate_limit_per_minute: body.rate_limit_per_minute,
        created_at: now,
    }))
}

/// The organization's API keys, newest first.
#[utoipa::path(
    get, path = "/keys", tag = "keys",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "Keys; `meta.next_cursor` when more follow", body = Envelope<Vec<KeyView>>))
)]
pub async fn list_keys(
    State(state): State<KeysState>,
    user: Authorized<needs::ViewDashboard>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<KeyView>>, ApiError> {
    let page = query.page()?;
    let pool = state.db.pool();
    let rows = store::list(
        pool,
        &user.organization_id,
        page.cursor.as_deref(),
        page.fetch(),
    )
    .await?;
    let mut emails = creators(pool, &rows).await?;
    Ok(page.respond(
        rows,
        |r| r.id.to_string(),
        |r| {
            let email = r.created_by.as_ref().and_then(|id| emails.remove(id));
            KeyView::new(r, email)
        },
    ))
}

/// Revoke an API key, at once. Members may revoke only keys they created.
#[utoipa::path(
    delete, path = "/keys/{id}", tag = "keys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 200, description = "Revoked", body = Envelope<KeyView>),
        (status = 403, description = "Someone else's key without permission revoke_any_api_key", body = ErrorEnvelope),
        (status = 404, description = "No such key in this organization", body = ErrorEnvelope),
    )
)]
pub async fn revoke_key(
    State(state): State<KeysState>,
    user: CurrentUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<KeyView>, ApiError> {
    let id = ApiKeyId::parse(&id).ok_or_else(key_not_found)?;
    let org = &user.organization_id;
    let mut tx = state.db.begin().await?;
    let key = store::by_id(&mut *tx, org, &id)
        .await?
        .ok_or_else(key_not_found)?;
    if key.created_by.as_ref() != Some(&user.user_id) {
        permissions::require(&user, Permission::RevokeAnyApiKey)?;
    }
    if store::revoke(&mut *tx, org, &id, Timestamp::now()).await? {
        landlord_audit::record(
            &mut *tx,
            AuditEntry::by(&user, &client, "api_key.revoked")
                .target("api_key", &id)
                .details(serde_json::json!({ "name": key.name, "prefix": key.prefix })),
        )
        .await?;
    }
    let updated = store::by_id(&mut *tx, org, &id)
        .await?
        .ok_or_else(key_not_found)?;
    let view = key_view(&mut *tx, updated).await?;
    tx.commit().await?;
    // This instance stops accepting the key now; others within
    // `api_key_cache_ms`.
    state.cache.invalidate(&key.key_hash);
    Ok(ApiSuccess::ok(view))
}
