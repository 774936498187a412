//! Admitting an API-key request: authenticate, rate-limit, reserve quota.
//! Shared by the guard of API-key routes and by `POST /keys/verify`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use landlord_core::crypto::sha256_hex_inline;
use landlord_core::ids::{ApiKeyId, OrganizationId};
use landlord_core::plans::Plan;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::store as identity_store;
use landlord_limits::{month_key, month_start_ms, next_month_start_ms, Decision};
use landlord_metering::UsageCaller;

use crate::store;
use crate::KeysState;

/// Every key starts with this; 64 lowercase hex characters follow.
pub const KEY_PREFIX: &str = "sk_live_";

/// What authenticating a key needs, cached by key hash (behind an `Arc`:
/// a cache hit and every clone of the request's context share it): the
/// key's row, its organization's plan from the catalog and its scopes,
/// resolved once when the cache is filled, and the names the limiters
/// and the quota count it under, built once rather than per request.
#[derive(Debug)]
pub struct KeyRecord {
    pub id: ApiKeyId,
    pub organization_id: OrganizationId,
    /// The plan the key's requests are counted under: the organization's,
    /// or the default plan when the catalog lacks it.
    pub plan_name: String,
    pub plan: Plan,
    /// `None`: the key may call every API-key route.
    pub scopes: Option<Arc<[String]>>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub rate_limit_per_minute: Option<i64>,
    /// `org:{organization}`: the organization's rate limit.
    organization_rate_key: String,
    /// `key:{key}`: the key's own rate limit.
    key_rate_key: String,
    /// The quota counter of the month the record was read in.
    quota_month: QuotaMonth,
    /// Who the key's requests are metered for.
    pub usage_caller: Arc<UsageCaller>,
}

/// An organization's quota counter name for one month.
#[derive(Debug)]
struct QuotaMonth {
    /// Unix ms of the month's first instant.
    start_ms: i64,
    /// `YYYY-MM`.
    month: String,
    /// `{organization}:YYYY-MM`.
    counter: String,
}

impl QuotaMonth {
    fn of(organization_id: &OrganizationId, now_ms: i64) -> Self {
        let month = month_key(now_ms);
        Self {
            start_ms: month_start_ms(now_ms),
            counter: format!("{organization_id}:{month}"),
            month,
        }
    }
}

/// An admitted API-key request: who is calling and what is left. Cheap to
/// clone (the key's record is shared), as extracting it in a handler does.
#[derive(Debug, Clone)]
pub struct ApiKeyContext {
    pub key: Arc<KeyRecord>,
    pub rate: Decision,
    pub quota: QuotaState,
}

impl ApiKeyContext {
    pub fn organization_id(&self) -> &OrganizationId {
        &self.key.organization_id
    }

    pub fn key_id(&self) -> &ApiKeyId {
        &self.key.id
    }

    /// 403 unless the key's scopes allow `scope`.
    pub fn require_scope(&self, scope: &'static str) -> Result<(), ApiError> {
        match &self.key.scopes {
            Some(scopes) if !scopes.iter().any(|s| s == scope) => {
                Err(Refusal::MissingScope(scope).into_api_error())
            }
            _ => Ok(()),
        }
    }
}

/// The monthly quota after this request.
#[derive(Debug, Clone, Copy)]
pub struct QuotaState {
    /// Metered requests this month, this one included.
    pub used: i64,
    /// `None`: unlimited.
    pub included: Option<i64>,
    /// When the month ends.
    pub resets_at: Timestamp,
}

impl QuotaState {
    pub fn remaining(&self) -> Option<i64> {
        self.included.map(|i| (i - self.used).max(0))
    }
}

/// What is wrong with the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadKey {
    Missing,
    Malformed,
    Unknown,
    Revoked,
    Expired,
}

impl BadKey {
    /// The machine-readable reason `POST /keys/verify` answers.
    pub fn reason(self) -> &'static str {
        match self {
            BadKey::Missing => "missing",
            BadKey::Malformed => "malformed",
            BadKey::Unknown => "unknown",
            BadKey::Revoked => "revoked",
            BadKey::Expired => "expired",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            BadKey::Missing => {
                "missing API key: send X-API-Key: sk_live_… or Authorization: Bearer sk_live_…"
            }
            BadKey::Malformed => {
                "malformed API key: expected sk_live_ followed by 64 hexadecimal characters"
            }
            BadKey::Revoked => "this API key has been revoked",
            BadKey::Expired => "this API key has expired",
            BadKey::Unknown => "unknown API key",
        }
    }
}

/// Why a request was not admitted: every refusal's reason and message,
/// for the guard (an error answer) and `POST /keys/verify` (a verdict).
#[derive(Debug)]
pub enum Refusal {
    Unauthorized(BadKey),
    /// The key works, but not for this route.
    MissingScope(&'static str),
    RateLimited(Decision),
    /// Too many requests with bad keys from this client address.
    InvalidKeyFlood {
        limit: u32,
        retry_after: Duration,
    },
    QuotaExceeded {
        quota: QuotaState,
        rate: Decision,
    },
    Internal(ApiError),
}

impl Refusal {
    /// A short machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Unauthorized(bad) => bad.reason(),
            Refusal::MissingScope(_) => "missing_scope",
            Refusal::RateLimited(_) => "rate_limited",
            Refusal::InvalidKeyFlood { .. } => "too_many_invalid_keys",
            Refusal::QuotaExceeded { .. } => "quota_exceeded",
            Refusal::Internal(_) => "internal_error",
        }
    }

    /// What the client is told.
    pub fn message(&self) -> String {
        match self {
            Refusal::Unauthorized(bad) => bad.message().to_string(),
            Refusal::MissingScope(scope) => format!("this API key lacks the scope {scope}"),
            Refusal::RateLimited(decision) => format!(
                "rate limit of {} requests per minute reached",
                decision.limit
            ),
            Refusal::InvalidKeyFlood { limit, .. } => format!(
                "too many requests with invalid API keys from this address; at most {limit} a minute"
            ),
            Refusal::QuotaExceeded { quota, .. } => format!(
                "monthly quota of {} requests reached; it resets at {}",
                quota.included.unwrap_or(0),
                quota.resets_at
            ),
            Refusal::Internal(_) => String::new(),
        }
    }

    /// The limiter's decision to show in rate-limit headers, if any.
    pub fn rate(&self) -> Option<Decision> {
        match self {
            Refusal::RateLimited(decision) => Some(*decision),
            Refusal::QuotaExceeded { rate, .. } => Some(*rate),
            _ => None,
        }
    }

    pub fn into_api_error(self) -> ApiError {
        let message = self.message();
        match self {
            Refusal::Unauthorized(_) => ApiError::Unauthorized(message),
            Refusal::MissingScope(_) => ApiError::Forbidden(message),
            Refusal::RateLimited(decision) => ApiError::RateLimited {
                message,
                retry_after_secs: ceil_secs(decision.retry_after),
            },
            Refusal::InvalidKeyFlood { retry_after, .. } => ApiError::RateLimited {
                message,
                retry_after_secs: ceil_secs(retry_after),
            },
            Refusal::QuotaExceeded { quota, .. } => ApiError::QuotaExceeded {
                message,
                retry_after_secs: (quota.resets_at.since(Timestamp::now()).as_millis() as u64)
                    .div_ceil(1000),
            },
            Refusal::Internal(error) => error,
        }
    }
}

pub fn ceil_secs(duration: Duration) -> u64 {
    duration.as_micros().div_ceil(1_000_000).max(1) as u64
}

fn well_formed(key: &str) -> bool {
    key.strip_prefix(KEY_PREFIX).is_some_and(|rest| {
        rest.len() == 64
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The key of a request: `X-API-Key`, or `Authorization: Bearer sk_…`.
pub fn key_from_headers(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && token.trim().starts_with("sk_")).then(|| token.trim())
}

impl KeysState {
    /// Looks a key up by hash: from the cache, or the database. A found key
    /// is cached for `api_key_cache_ms`; a key that does not exist goes to
    /// the separate, small negative cache (so random keys cannot push real
    /// ones out). Before going to the database for a key neither cache
    /// knows, a client address over its invalid-key budget is refused.
    async fn lookup(
        &self,
        key_hash: &str,
        address: impl FnOnce() -> String,
    ) -> Result<Option<Arc<KeyRecord>>, Refusal> {
        if let Some(hit) = self.cache.get(key_hash) {
            return Ok(Some(hit));
        }
        if self.missing.contains_key(key_hash) {
            return Ok(None);
        }
        if let Some(until) = self.invalid_key_blocked.get(&address()) {
            let now = Instant::now();
            if until > now {
                return Err(Refusal::InvalidKeyFlood {
                    limit: self.config.invalid_api_key_per_minute,
                    retry_after: until - now,
                });
            }
        }
        let record = self
            .read_key(key_hash)
            .await
            .map_err(|e| Refusal::Internal(e.into()))?;
        let record = record.map(Arc::new);
        match &record {
            Some(found) => self.cache.insert(key_hash.to_string(), found.clone()),
            None => self.missing.insert(key_hash.to_string(), ()),
        }
        Ok(record)
    }

    /// The key with `key_hash` and its organization's plan, from the
    /// database; its scopes parsed for the cache.
    async fn read_key(&self, key_hash: &str) -> Result<Option<KeyRecord>, sqlx::Error> {
        let Some(row) = store::by_hash(self.db.pool(), key_hash).await? else {
            return Ok(None);
        };
        let Some(organization) =
            identity_store::organization_by_id(self.db.pool(), &row.organization_id).await?
        else {
            return Ok(None);
        };
        let (plan_name, plan) = self.plan_of(&organization.plan);
        Ok(Some(KeyRecord {
            scopes: store::decode_scopes(row.scopes.as_deref()).map(Arc::from),
            organization_rate_key: format!("org:{}", row.organization_id),
            key_rate_key: format!("key:{}", row.id),
            quota_month: QuotaMonth::of(&row.organization_id, Timestamp::now().millis()),
            usage_caller: UsageCaller::new(row.organization_id.clone(), row.id.clone()),
            id: row.id,
            organization_id: row.organization_id,
            plan_name,
            plan,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            rate_limit_per_minute: row.rate_limit_per_minute,
        }))
    }

    /// A bad key (malformed, unknown, revoked, expired) from `address`: 401
    /// naming `reason` while the address is within
    /// `invalid_api_key_per_minute`, 429 beyond (and, for the time the
    /// limiter says, no more database lookups for that address).
    async fn refuse_bad_key(&self, address: &str, bad: BadKey) -> Refusal {
        let limit = self.config.invalid_api_key_per_minute;
        let decision = self
            .limiter
            .check(&format!("invalid-key:ip:{address}"), limit)
            .await;
        if decision.allowed {
            return Refusal::Unauthorized(bad);
        }
        self.invalid_key_blocked
            .insert(address.to_string(), Instant::now() + decision.retry_after);
        Refusal::InvalidKeyFlood {
            limit,
            retry_after: decision.retry_after,
        }
    }

    /// Authenticates `key` (sent from `client`, the caller's address) and
    /// applies limits and quota. The address is written as text only when
    /// a refusal or a cache miss needs it.
    pub async fn admit(
        &self,
        key: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<ApiKeyContext, Refusal> {
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return Err(Refusal::Unauthorized(BadKey::Missing));
        };
        let address = || client.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        // Malformed keys take the same path as unknown ones (hash and
        // lookup), so the answer's timing does not tell them apart.
        let formed = well_formed(key);
        let record = self
            .lookup(sha256_hex_inline(key).as_str(), address)
            .await?;
        let now = Timestamp::now();
        let record = match (formed, record) {
            (false, _) => return Err(self.refuse_bad_key(&address(), BadKey::Malformed).await),
            (true, None) => return Err(self.refuse_bad_key(&address(), BadKey::Unknown).await),
            (true, Some(record)) if record.revoked_at.is_some() => {
                return Err(self.refuse_bad_key(&address(), BadKey::Revoked).await)
            }
            (true, Some(record)) if record.expires_at.is_some_and(|t| t <= now) => {
                return Err(self.refuse_bad_key(&address(), BadKey::Expired).await)
            }
            (true, Some(record)) => record,
        };
        // The request's span (its log lines, its exported trace) names the
        // organization acted on.
        tracing::Span::current().record("organization_id", record.organization_id.as_str());
        let plan = &record.plan;

        let mut rate = self
            .limiter
            .check(&record.organization_rate_key, plan.rate_limit_per_minute)
            .await;
        if !rate.allowed {
            return Err(Refusal::RateLimited(rate));
        }
        if let Some(per_key) = record.rate_limit_per_minute {
            let key_rate = self
                .limiter
                .check(&record.key_rate_key, per_key.max(1) as u32)
                .await;
            if !key_rate.allowed {
                return Err(Refusal::RateLimited(key_rate));
            }
            if key_rate.remaining < rate.remaining {
                rate = key_rate;
            }
        }

        // The record's month, unless it was read before this month began.
        let this_month;
        let quota_month = if record.quota_month.start_ms == month_start_ms(now.millis()) {
            &record.quota_month
        } else {
            this_month = QuotaMonth::of(&record.organization_id, now.millis());
            &this_month
        };
        let quota_key = quota_month.counter.as_str();
        let initial = if self.quota.known_locally(quota_key) {
            0
        } else {
            let month_start = Timestamp::from_millis(quota_month.start_ms);
            landlord_metering::count_since(&self.db, &record.organization_id, month_start)
                .await
                .map_err(|e| Refusal::Internal(e.into()))?
        };
        let cap = if plan.hard_capped() {
            plan.included_requests
        } else {
            None
        };
        let resets_at = Timestamp::from_millis(next_month_start_ms(now.millis()));
        let quota = match self.quota.reserve(quota_key, initial, cap).await {
            Ok(used) => {
                if let Some(included) = plan.included_requests {
                    self.note_usage(&record.organization_id, &quota_month.month, used, included)
                        .await;
                }
                QuotaState {
                    used,
                    included: plan.included_requests,
                    resets_at,
                }
            }
            Err(used) => {
                let quota = QuotaState {
                    used,
                    included: plan.included_requests,
                    resets_at,
                };
                return Err(Refusal::QuotaExceeded { quota, rate });
            }
        };
        Ok(ApiKeyContext {
            key: record,
            rate,
            quota,
        })
    }

    fn plan_of(&self, name: &str) -> (String, Plan) {
        if let Some(plan) = self.config.plan(name) {
            return (name.to_string(), plan.clone());
        }
        tracing::error!(
            plan = name,
            "organization on a plan missing from the catalog; using the default plan"
        );
        let fallback = self.config.default_plan.clone();
        let plan = self
            .config
            .plan(&fallback)
            .cloned()
            .unwrap_or_else(|| landlord_core::plans::default_catalog()["free"].clone());
        (fallback, plan)
    }
}

/// Adds the rate-limit headers (`X-RateLimit-Limit`, `-Remaining`, `-Reset`,
/// `RateLimit-Policy`, `RateLimit`) to `headers`. The five values are
/// written into one buffer and each header shares its slice of it: two
/// allocations for the five instead of one or two each.
pub fn rate_limit_headers(headers: &mut HeaderMap, decision: &Decision) {
    let reset_secs = decision.reset_after.as_micros().div_ceil(1_000_000) as u64;
    let reset_at = (Timestamp::now().millis() / 1000) as u64 + reset_secs;
    // Numbers through `itoa` rather than `format!`'s machinery.
    let mut digits = itoa::Buffer::new();
    let mut text = Vec::with_capacity(96);
    let mut ends = [0usize; 5];
    text.extend_from_slice(digits.format(decision.limit).as_bytes());
    ends[0] = text.len();
    text.extend_from_slice(digits.format(decision.remaining).as_bytes());
    ends[1] = text.len();
    text.extend_from_slice(digits.format(reset_at).as_bytes());
    ends[2] = text.len();
    text.extend_from_slice(b"\"plan\";q=");
    text.extend_from_slice(digits.format(decision.limit).as_bytes());
    text.extend_from_slice(b";w=60");
    ends[3] = text.len();
    text.extend_from_slice(b"\"plan\";r=");
    text.extend_from_slice(digits.format(decision.remaining).as_bytes());
    text.extend_from_slice(b";t=");
    text.extend_from_slice(digits.format(reset_secs).as_bytes());
    ends[4] = text.len();
    let shared = axum::body::Bytes::from(text);
    let names = [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "ratelimit-policy",
        "ratelimit",
    ];
    let mut start = 0;
    for (name, end) in names.into_iter().zip(ends) {
        // Digits, quotes, letters and punctuation: always a valid value.
        if let Ok(value) = HeaderValue::from_maybe_shared(shared.slice(start..end)) {
            headers.insert(HeaderName::from_static(name), value);
        }
        start = end;
    }
}

/// The id usage rows carry for work metered without an API key (a
/// module's outgoing messages): no key has it, so key lists never show it,
/// while quotas and invoices count it like any request.
pub const NO_KEY: &str = "00000000-0000-0000-0000-000000000000";

impl KeysState {
    /// Takes one unit of the organization's monthly quota for work done
    /// without an API key (a module's outgoing message) and records it as
    /// usage on `route`, so the quota, the dashboard and the invoice count
    /// it. A hard-capped plan at its cap answers 429 QUOTA_EXCEEDED.
    pub async fn meter_without_key(
        &self,
        organization_id: &OrganizationId,
        route: &str,
    ) -> Result<QuotaState, ApiError> {
        let organization =
            landlord_identity::store::organization_by_id(self.db.pool(), organization_id)
                .await?
                .ok_or_else(|| ApiError::not_found("organization"))?;
        let (_, plan) = self.plan_of(&organization.plan);
        let now = Timestamp::now();
        let quota_key = format!("{}:{}", organization_id, month_key(now.millis()));
        let initial = if self.quota.known_locally(&quota_key) {
            0
        } else {
            let month_start = Timestamp::from_millis(month_start_ms(now.millis()));
            landlord_metering::count_since(&self.db, organization_id, month_start).await?
        };
        let cap = if plan.hard_capped() {
            plan.included_requests
        } else {
            None
        };
        let resets_at = Timestamp::from_millis(next_month_start_ms(now.millis()));
        let used = match self.quota.reserve(&quota_key, initial, cap).await {
            Ok(used) => used,
            Err(used) => {
                let quota = QuotaState {
                    used,
                    included: plan.included_requests,
                    resets_at,
                };
                return Err(ApiError::QuotaExceeded {
                    message: format!(
                        "monthly quota of {} requests reached; it resets at {}",
                        quota.included.unwrap_or(0),
                        quota.resets_at.rfc3339()
                    ),
                    retry_after_secs: (resets_at.since(now).as_millis() as u64).div_ceil(1000),
                });
            }
        };
        if let Some(included) = plan.included_requests {
            self.note_usage(organization_id, &month_key(now.millis()), used, included)
                .await;
        }
        self.usage
            .record(landlord_metering::UsageRecord {
                caller: UsageCaller::new(organization_id.clone(), ApiKeyId::from_trusted(NO_KEY)),
                endpoint: self.usage.endpoint(route),
                method: "POST".into(),
                status: 202,
                at: now,
                app_id: None,
            })
            .await;
        Ok(QuotaState {
            used,
            included: plan.included_requests,
            resets_at,
        })
    }
}

impl KeysState {
    /// The catalog's plan called `name` (the default plan when the catalog
    /// lacks it), for features that meter without a key (the apps'
    /// gateway).
    pub fn plan_named(&self, name: &str) -> Plan {
        self.plan_of(name).1
    }

    /// Takes one unit of the organization's monthly quota under `plan`,
    /// as an API-key request does (the database is read once a month per
    /// organization and instance, when the counter is not known yet): the
    /// quota after it, or — a hard-capped plan at its cap — the refusal.
    /// The caller records the usage.
    pub async fn reserve_quota(
        &self,
        organization_id: &OrganizationId,
        plan: &Plan,
    ) -> Result<QuotaState, Result<QuotaState, ApiError>> {
        let now = Timestamp::now();
        let month = month_key(now.millis());
        let quota_key = format!("{organization_id}:{month}");
        let initial = if self.quota.known_locally(&quota_key) {
            0
        } else {
            let month_start = Timestamp::from_millis(month_start_ms(now.millis()));
            landlord_metering::count_since(&self.db, organization_id, month_start)
                .await
                .map_err(|e| Err(ApiError::from(e)))?
        };
        let cap = if plan.hard_capped() {
            plan.included_requests
        } else {
            None
        };
        let resets_at = Timestamp::from_millis(next_month_start_ms(now.millis()));
        match self.quota.reserve(&quota_key, initial, cap).await {
            Ok(used) => {
                if let Some(included) = plan.included_requests {
                    self.note_usage(organization_id, &month, used, included)
                        .await;
                }
                Ok(QuotaState {
                    used,
                    included: plan.included_requests,
                    resets_at,
                })
            }
            Err(used) => Err(Ok(QuotaState {
                used,
                included: plan.included_requests,
                resets_at,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sk_live_and_64_lowercase_hex_is_well_formed() {
        assert!(well_formed(&format!("sk_live_{}", "a1".repeat(32))));
        assert!(!well_formed(&format!("sk_live_{}", "A1".repeat(32))));
        assert!(!well_formed(&format!("sk_test_{}", "a1".repeat(32))));
        assert!(!well_formed(&format!("sk_live_{}", "a1".repeat(31))));
        assert!(!well_formed("sk_live_"));
    }

    #[test]
    fn rate_limit_headers_carry_each_value_apart() {
        let decision = Decision {
            allowed: true,
            limit: 600,
            remaining: 17,
            reset_after: Duration::from_millis(4_200),
            retry_after: Duration::ZERO,
        };
        let mut headers = HeaderMap::new();
        rate_limit_headers(&mut headers, &decision);
        assert_eq!(headers["x-ratelimit-limit"], "600");
        assert_eq!(headers["x-ratelimit-remaining"], "17");
        assert_eq!(headers["ratelimit-policy"], "\"plan\";q=600;w=60");
        assert_eq!(headers["ratelimit"], "\"plan\";r=17;t=5");
        let reset: u64 = headers["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let now = (Timestamp::now().millis() / 1000) as u64;
        assert!((now + 4..=now + 6).contains(&reset), "{reset} vs {now}");
    }

    #[test]
    fn keys_come_from_either_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk_live_x"),
        );
        assert_eq!(key_from_headers(&headers), Some("sk_live_x"));
        headers.insert("x-api-key", HeaderValue::from_static("sk_live_y"));
        assert_eq!(key_from_headers(&headers), Some("sk_live_y"));
        let mut jwt = HeaderMap::new();
        jwt.insert(
            "authorization",
            HeaderValue::from_static("Bearer eyJhbGciOi"),
        );
        assert_eq!(key_from_headers(&jwt), None);
    }
}
