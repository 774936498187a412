//! `/keys`: issue, list and revoke keys (people), and verify a key
//! (programs).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use landlord_audit::AuditEntry;
use landlord_core::crypto::{random_hex, sha256_hex};
use landlord_core::db::now_millis;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::time::{parse_rfc3339, rfc3339, rfc3339_opt};
use landlord_core::ApiError;
use landlord_identity::auth::CurrentUser;
use landlord_identity::permissions::{self, needs, Authorized, Permission};
use landlord_identity::validation::{required_name, Name};
use landlord_metering::UsageRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admission::{rate_limit_headers, unauthorized_message, Refusal, KEY_PREFIX};
use crate::store::{self, KeyRow};
use crate::KeysState;

const MAX_SCOPES: usize = 20;

pub fn router() -> OpenApiRouter<KeysState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
        .routes(routes!(transfer_key))
        .routes(routes!(verify_key))
}

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
    pub id: String,
    /// The secret. Shown this once: only its hash is stored.
    #[schema(example = "sk_live_5f0c…")]
    pub key: String,
    /// What lists show to recognize the key.
    pub prefix: String,
    pub name: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<String>,
    pub rate_limit_per_minute: Option<u32>,
    pub created_at: String,
}

landlord_core::debug_redacted!(CreatedKey { id, prefix, name, scopes, expires_at, rate_limit_per_minute, created_at } secret { key });

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub prefix: String,
    pub name: String,
    /// User id of the creator.
    pub created_by: Option<String>,
    pub created_by_email: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    pub scopes: Option<Vec<String>>,
    pub rate_limit_per_minute: Option<i64>,
}

impl From<&KeyRow> for KeyView {
    fn from(row: &KeyRow) -> Self {
        Self {
            id: row.id.clone(),
            prefix: row.prefix.clone(),
            name: row.name.clone(),
            created_by: row.created_by.clone(),
            created_by_email: row.created_by_email.clone(),
            created_at: rfc3339(row.created_at),
            last_used_at: rfc3339_opt(row.last_used_at),
            expires_at: rfc3339_opt(row.expires_at),
            revoked_at: rfc3339_opt(row.revoked_at),
            status: row.status().to_string(),
            scopes: row
                .scopes
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            rate_limit_per_minute: row.rate_limit_per_minute,
        }
    }
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
    let now = now_millis();
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let at = parse_rfc3339(text)
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
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO api_keys (id, organization_id, created_by, name, prefix, key_hash, scopes, \
         expires_at, rate_limit_per_minute, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(&user.organization_id)
    .bind(&user.user_id)
    .bind(&name)
    .bind(&prefix)
    .bind(sha256_hex(&key))
    .bind(scopes.as_ref().map(|s| serde_json::json!(s).to_string()))
    .bind(expires_at)
    .bind(body.rate_limit_per_minute.map(i64::from))
    .bind(now)
    .execute(&mut *tx)
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
        expires_at: rfc3339_opt(expires_at),
        rate_limit_per_minute: body.rate_limit_per_minute,
        created_at: rfc3339(now),
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
    let mut rows = store::list(
        state.db.pool(),
        user.organization_id.as_str(),
        page.cursor.as_deref(),
        page.fetch(),
    )
    .await?;
    let meta = page.finish(&mut rows, |r| r.id.clone());
    Ok(ApiSuccess::ok(rows.iter().map(KeyView::from).collect()).with_meta(meta))
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
    let mut tx = state.db.begin().await?;
    let key = store::by_id(&mut *tx, user.organization_id.as_str(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    if key.created_by.as_deref() != Some(user.user_id.as_str()) {
        permissions::require(&user, Permission::RevokeAnyApiKey)?;
    }
    if key.revoked_at.is_none() {
        sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE organization_id = $1 AND id = $2")
            .bind(&user.organization_id)
            .bind(&id)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        landlord_audit::record(
            &mut *tx,
            AuditEntry::by(&user, &client, "api_key.revoked")
                .target("api_key", &id)
                .details(serde_json::json!({ "name": key.name, "prefix": key.prefix })),
        )
        .await?;
    }
    let updated = store::by_id(&mut *tx, user.organization_id.as_str(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    tx.commit().await?;
    // This instance stops accepting the key now; others within
    // `api_key_cache_ms`.
    state.cache.invalidate(&key.key_hash);
    Ok(ApiSuccess::ok(KeyView::from(&updated)))
}

/// Make yourself the creator of a key of the organization, so it keeps
/// working when the person who created it leaves or is removed (their keys
/// are revoked then).
#[utoipa::path(
    post, path = "/keys/{id}/transfer", tag = "keys",
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
    let org = &user.organization_id;
    let mut tx = state.db.begin().await?;
    let key = store::by_id(&mut *tx, org.as_str(), &id)
        .await?
        .filter(|k| k.revoked_at.is_none())
        .ok_or_else(|| ApiError::not_found("API key"))?;
    if !store::set_creator(&mut *tx, org.as_str(), &id, user.user_id.as_str()).await? {
        return Err(ApiError::not_found("API key"));
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("api_key.transferred")
            .organization(org)
            .actor(&user.user_id)
            .target("api_key", &id)
            .client(&client)
            .details(serde_json::json!({
                "name": key.name,
                "prefix": key.prefix,
                "from": key.created_by,
                "to": user.user_id,
            })),
    )
    .await?;
    let updated = store::by_id(&mut *tx, org.as_str(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(KeyView::from(&updated)))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyKeyRequest {
    /// The key your customer sent you.
    pub key: String,
}

landlord_core::debug_redacted!(VerifyKeyRequest {  } secret { key });

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyKeyResponse {
    /// The key exists, is not revoked and has not expired.
    pub valid: bool,
    /// The request may proceed: valid and within rate limit and quota.
    pub allowed: bool,
    /// Why not, when not: `missing`, `malformed`, `unknown`, `revoked`,
    /// `expired`, `rate_limited`, `quota_exceeded`.
    pub reason: Option<String>,
    pub message: Option<String>,
    pub organization_id: Option<String>,
    pub key_id: Option<String>,
    pub plan: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub rate_limit: Option<RateLimitView>,
    pub quota: Option<QuotaView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitView {
    /// Requests per minute.
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the whole minute's budget is back.
    pub reset_after_secs: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    /// Included requests per month; absent: unlimited.
    pub included: Option<i64>,
    /// Metered requests this month, this one included.
    pub used: i64,
    pub remaining: Option<i64>,
    pub resets_at: String,
}

/// Check a key from your own backend, and count it as one metered request.
///
/// Lets a product written in any language use Landlord's keys, limits and
/// metering: forward the key your customer sent, and proceed when
/// `allowed` is true. The answer is 200 either way; `reason` says why not —
/// except past `invalid_api_key_per_minute` bad keys a minute from one
/// client address, answered 429 with `Retry-After`.
#[utoipa::path(
    post, path = "/keys/verify", tag = "keys",
    request_body = VerifyKeyRequest,
    responses(
        (status = 200, description = "The verdict", body = Envelope<VerifyKeyResponse>),
        (status = 429, description = "Too many invalid keys from this client address", body = ErrorEnvelope),
    )
)]
pub async fn verify_key(
    State(state): State<KeysState>,
    client: ClientInfo,
    Json(body): Json<VerifyKeyRequest>,
) -> Result<Response, ApiError> {
    let outcome = state
        .admit(Some(body.key.trim()), client.ip.as_deref())
        .await;
    let mut verdict = VerifyKeyResponse {
        valid: false,
        allowed: false,
        reason: None,
        message: None,
        organization_id: None,
        key_id: None,
        plan: None,
        scopes: None,
        rate_limit: None,
        quota: None,
    };
    let rate = match outcome {
        Ok(context) => {
            state.usage.record(UsageRecord {
                organization_id: context.organization_id.to_string(),
                api_key_id: context.key_id.to_string(),
                endpoint: "/api/v1/keys/verify".into(),
                method: "POST".into(),
                status: 200,
                at: now_millis(),
            });
            verdict.valid = true;
            verdict.allowed = true;
            verdict.organization_id = Some(context.organization_id.into_string());
            verdict.key_id = Some(context.key_id.into_string());
            verdict.plan = Some(context.plan_name);
            verdict.scopes = context.scopes;
            verdict.quota = Some(QuotaView {
                included: context.quota.included,
                used: context.quota.used,
                remaining: context.quota.remaining(),
                resets_at: rfc3339(context.quota.resets_at),
            });
            Some(context.rate)
        }
        Err(Refusal::Internal(error)) => return Err(error),
        // Floods of bad keys are refused, not judged.
        Err(flood @ Refusal::InvalidKeyFlood { .. }) => return Err(flood.into_api_error()),
        Err(refusal) => {
            verdict.reason = Some(refusal.reason().to_string());
            let (message, rate) = match &refusal {
                Refusal::Unauthorized(reason) => (unauthorized_message(reason).to_string(), None),
                Refusal::RateLimited(decision) => {
                    verdict.valid = true;
                    (refusal_message(&refusal), Some(*decision))
                }
                Refusal::QuotaExceeded { quota, rate } => {
                    verdict.valid = true;
                    verdict.quota = Some(QuotaView {
                        included: quota.included,
                        used: quota.used,
                        remaining: quota.remaining(),
                        resets_at: rfc3339(quota.resets_at),
                    });
                    (refusal_message(&refusal), Some(*rate))
                }
                Refusal::Internal(_) | Refusal::InvalidKeyFlood { .. } => (String::new(), None),
            };
            verdict.message = Some(message);
            rate
        }
    };
    if let Some(decision) = rate {
        verdict.rate_limit = Some(RateLimitView {
            limit: decision.limit,
            remaining: decision.remaining,
            reset_after_secs: decision.reset_after.as_micros().div_ceil(1_000_000) as u64,
        });
    }
    let mut response = ApiSuccess::ok(verdict).into_response();
    if let Some(decision) = rate {
        rate_limit_headers(response.headers_mut(), &decision);
    }
    Ok(response)
}

fn refusal_message(refusal: &Refusal) -> String {
    match refusal {
        Refusal::RateLimited(d) => format!("rate limit of {} requests per minute reached", d.limit),
        Refusal::QuotaExceeded { quota, .. } => format!(
            "monthly quota of {} requests reached; it resets at {}",
            quota.included.unwrap_or(0),
            rfc3339(quota.resets_at)
        ),
        _ => String::new(),
    }
}
