//! `POST /keys/verify`: the guard's admission, as a verdict for a product's
//! own backend.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientAddress;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ids::{ApiKeyId, OrganizationId};
use landlord_core::{ApiError, Timestamp};
use landlord_limits::Decision;
use landlord_metering::UsageRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::admission::{rate_limit_headers, QuotaState, Refusal};
use crate::KeysState;

#[derive(Deserialize, ToSchema)]
pub struct VerifyKeyRequest {
    /// The key your customer sent you.
    pub key: String,
}

landlord_core::debug_redacted!(VerifyKeyRequest {  } secret { key });

// The verdict borrows from the cached key record instead of copying its
// ids, plan and scopes (a plain comment: a doc comment would become the
// schema's description).
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyKeyResponse<'a> {
    /// The key exists, is not revoked and has not expired.
    pub valid: bool,
    /// The request may proceed: valid and within rate limit and quota.
    pub allowed: bool,
    /// Why not, when not: `missing`, `malformed`, `unknown`, `revoked`,
    /// `expired`, `rate_limited`, `quota_exceeded`.
    pub reason: Option<&'static str>,
    pub message: Option<String>,
    pub organization_id: Option<&'a OrganizationId>,
    pub key_id: Option<&'a ApiKeyId>,
    pub plan: Option<&'a str>,
    pub scopes: Option<&'a [String]>,
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
    pub resets_at: Timestamp,
}

impl From<&QuotaState> for QuotaView {
    fn from(quota: &QuotaState) -> Self {
        Self {
            included: quota.included,
            used: quota.used,
            remaining: quota.remaining(),
            resets_at: quota.resets_at,
        }
    }
}

impl From<&Decision> for RateLimitView {
    fn from(decision: &Decision) -> Self {
        Self {
            limit: decision.limit,
            remaining: decision.remaining,
            reset_after_secs: decision.reset_after.as_micros().div_ceil(1_000_000) as u64,
        }
    }
}

/// Check a key from your own backend, and count it as one metered request.
///
/// Lets a product written in any language use Landlord's keys, limits and
/// metering: forward the key your customer sent, and proceed when
/// `allowed` is true. The answer is 200 either way; `reason` says why not —
/// except past `invalid_api_key_per_minute` bad keys a minute from one
/// client address, answered 429 with `Retry-After`.
#[utoipa::path(
    post, path = "/api/v1/keys/verify", tag = "keys",
    request_body = VerifyKeyRequest,
    responses(
        (status = 200, description = "The verdict", body = Envelope<VerifyKeyResponse<'static>>),
        (status = 429, description = "Too many invalid keys from this client address", body = ErrorEnvelope),
    )
)]
pub async fn verify_key(
    State(state): State<KeysState>,
    ClientAddress(client): ClientAddress,
    Json(body): Json<VerifyKeyRequest>,
) -> Result<Response, ApiError> {
    let outcome = match state.admit(Some(body.key.trim()), client).await {
        Err(Refusal::Internal(error)) => return Err(error),
        // Floods of bad keys are refused, not judged.
        Err(flood @ Refusal::InvalidKeyFlood { .. }) => return Err(flood.into_api_error()),
        judged => judged,
    };
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
    let rate = match &outcome {
        Ok(context) => {
            let key = &context.key;
            state
                .usage
                .record(UsageRecord {
                    caller: key.usage_caller.clone(),
                    endpoint: state.usage.endpoint("/api/v1/keys/verify"),
                    method: "POST".into(),
                    status: 200,
                    at: Timestamp::now(),
                    app_id: None,
                })
                .await;
            verdict.valid = true;
            verdict.allowed = true;
            verdict.quota = Some(QuotaView::from(&context.quota));
            verdict.organization_id = Some(&key.organization_id);
            verdict.key_id = Some(&key.id);
            verdict.plan = Some(&key.plan_name);
            verdict.scopes = key.scopes.as_deref();
            Some(context.rate)
        }
        Err(refusal) => {
            verdict.reason = Some(refusal.reason());
            verdict.message = Some(refusal.message());
            // A key refused for its limits is valid.
            verdict.valid = refusal.rate().is_some();
            if let Refusal::QuotaExceeded { quota, .. } = refusal {
                verdict.quota = Some(QuotaView::from(quota));
            }
            refusal.rate()
        }
    };
    verdict.rate_limit = rate.as_ref().map(RateLimitView::from);
    let mut response = ApiSuccess::ok(verdict).into_response();
    if let Some(decision) = rate {
        rate_limit_headers(response.headers_mut(), &decision);
    }
    Ok(response)
}
