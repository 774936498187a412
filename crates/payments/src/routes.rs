//! `POST /billing/initiate-payment` and the provider webhooks.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use landlord_core::db::now_millis;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::extract::parse_json;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::idempotency::{self, Claim};
use landlord_core::ApiError;
use landlord_identity::permissions::{needs, Authorized};
use landlord_keys::KeysState;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::providers::{CheckoutRequest, ProviderName, Providers};
use crate::signature::{verify_paystack, verify_stripe};
use crate::PROCESS_EVENT_JOB;

/// Checkouts per organization per minute (seed 001).
pub const CHECKOUTS_PER_MINUTE: u32 = 5;

#[derive(Clone)]
pub struct PaymentsState {
    pub keys: KeysState,
    pub providers: Providers,
}

impl axum::extract::FromRef<PaymentsState> for landlord_identity::IdentityState {
    fn from_ref(state: &PaymentsState) -> Self {
        state.keys.identity.clone()
    }
}

pub fn router() -> OpenApiRouter<PaymentsState> {
    OpenApiRouter::new()
        .routes(routes!(initiate_payment))
        .routes(routes!(stripe_webhook))
        .routes(routes!(paystack_webhook))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InitiatePaymentRequest {
    /// The billing cycle to pay (`GET /billing/history`).
    #[schema(format = Uuid)]
    pub billing_cycle_id: String,
    /// `stripe` or `paystack`.
    #[schema(pattern = "^(stripe|paystack)$", example = "stripe")]
    pub provider: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentCheckout {
    pub provider: String,
    /// Send the customer here to pay.
    pub checkout_url: String,
    /// Stripe Checkout Session id or Paystack reference.
    pub reference: String,
    pub amount: i64,
    pub currency: String,
}

#[derive(sqlx::FromRow)]
struct PayableCycle {
    id: String,
    period: String,
    amount: i64,
    currency: String,
    status: String,
}

/// Start paying a billing cycle: answers the provider's checkout URL
/// (owners only; 5 a minute; `Idempotency-Key` makes retries answer the
/// same checkout).
#[utoipa::path(
    post, path = "/billing/initiate-payment", tag = "billing",
    security(("bearer" = [])),
    request_body = InitiatePaymentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe for 24 hours")),
    responses(
        (status = 200, description = "The checkout", body = Envelope<PaymentCheckout>),
        (status = 403, description = "Missing permission pay_invoices", body = ErrorEnvelope),
        (status = 404, description = "No such cycle in this organization", body = ErrorEnvelope),
        (status = 409, description = "Already paid, void, or nothing to pay", body = ErrorEnvelope),
        (status = 429, description = "More than 5 a minute", body = ErrorEnvelope),
        (status = 503, description = "The provider is not configured or did not answer", body = ErrorEnvelope),
    )
)]
pub async fn initiate_payment(
    State(state): State<PaymentsState>,
    user: Authorized<needs::PayInvoices>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    state
        .keys
        .limit(
            &format!("checkout:{}", user.organization_id),
            CHECKOUTS_PER_MINUTE,
            "payment checkouts",
        )
        .await?;
    let request: InitiatePaymentRequest = parse_json(&body)?;
    let provider = ProviderName::parse(&request.provider)
        .ok_or_else(|| ApiError::invalid_field("provider", "must be stripe or paystack"))?;
    if !state.providers.configured(provider) {
        return Err(ApiError::ServiceUnavailable {
            message: format!(
                "{} payments are not configured on this server",
                provider.as_str()
            ),
            details: None,
        });
    }
    let db = &state.keys.db;
    let cycle: PayableCycle = sqlx::query_as(
        "SELECT id, period, amount, currency, status FROM billing_cycles WHERE organization_id = $1 AND id = $2",
    )
    .bind(&user.organization_id)
    .bind(request.billing_cycle_id.trim())
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| ApiError::not_found("billing cycle"))?;
    if !matches!(cycle.status.as_str(), "pending" | "overdue") || cycle.amount <= 0 {
        return Err(ApiError::Conflict(format!(
            "this billing cycle is {} and has nothing to pay",
            cycle.status
        )));
    }
    let reservation = match idempotency::key_from(&headers)? {
        None => None,
        Some(key) => match idempotency::claim(
            db,
            user.organization_id.as_str(),
            "POST /billing/initiate-payment",
            &key,
            &body,
        )
        .await?
        {
            Claim::Replay { status, body } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                return Ok((status, axum::Json(body)).into_response());
            }
            Claim::New(reservation) => Some((reservation, key)),
        },
    };
    let email: Option<(Option<String>,)> =
        sqlx::query_as("SELECT billing_email FROM organizations WHERE id = $1")
            .bind(&user.organization_id)
            .fetch_optional(db.pool())
            .await?;
    let checkout_request = CheckoutRequest {
        billing_cycle_id: cycle.id.clone(),
        organization_id: user.organization_id.to_string(),
        period: cycle.period.clone(),
        amount: cycle.amount,
        currency: cycle.currency.clone(),
        email: email.and_then(|(e,)| e).unwrap_or_default(),
        idempotency_key: reservation
            .as_ref()
            .map(|(_, key)| format!("{}-{key}", cycle.id))
            .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string()),
    };
    let checkout = match state.providers.checkout(provider, &checkout_request).await {
        Ok(checkout) => checkout,
        Err(error) => {
            tracing::warn!(
                provider = provider.as_str(),
                error = format!("{error:#}"),
                "checkout failed"
            );
            if let Some((reservation, _)) = reservation {
                idempotency::release(db, reservation).await;
            }
            return Err(ApiError::ServiceUnavailable {
                message: format!(
                    "{} did not start the checkout; try again",
                    provider.as_str()
                ),
                details: None,
            });
        }
    };
    let now = now_millis();
    sqlx::query(
        "INSERT INTO payments (id, organization_id, billing_cycle_id, provider, provider_reference, checkout_url, \
         amount, currency, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'initiated', $9, $9) \
         ON CONFLICT (provider, provider_reference) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&user.organization_id)
    .bind(&cycle.id)
    .bind(provider.as_str())
    .bind(&checkout.reference)
    .bind(&checkout.url)
    .bind(cycle.amount)
    .bind(&cycle.currency)
    .bind(now)
    .execute(db.pool())
    .await?;
    let view = PaymentCheckout {
        provider: provider.as_str().into(),
        checkout_url: checkout.url,
        reference: checkout.reference,
        amount: cycle.amount,
        currency: cycle.currency,
    };
    if let Some((reservation, _)) = reservation {
        let stored = serde_json::json!({ "success": true, "data": view });
        idempotency::complete(db, reservation, 200, &stored).await?;
        return Ok((StatusCode::OK, axum::Json(stored)).into_response());
    }
    Ok(ApiSuccess::ok(view).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    /// This event id was seen before; nothing changed.
    pub duplicate: bool,
}

fn refuse_signature(provider: &'static str, error: crate::signature::SignatureError) -> ApiError {
    // Nothing of an unsigned request is stored: only this counter moves.
    metrics::counter!("webhook_signature_failures_total", "provider" => provider).increment(1);
    ApiError::InvalidSignature(error.message().into())
}

/// Stores a verified event once and queues its processing.
async fn accept_event(
    state: &PaymentsState,
    provider: &str,
    event_id: &str,
    event_type: &str,
    body: &[u8],
) -> Result<ApiSuccess<WebhookAck>, ApiError> {
    let db = &state.keys.db;
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO provider_webhook_events (id, provider, event_id, event_type, payload, status, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'received', 0, $6) ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(&id)
    .bind(provider)
    .bind(event_id)
    .bind(event_type)
    .bind(String::from_utf8_lossy(body).into_owned())
    .bind(now_millis())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        tx.commit().await?;
        return Ok(ApiSuccess::ok(WebhookAck {
            received: true,
            duplicate: true,
        }));
    }
    landlord_jobs::enqueue(
        &mut *tx,
        landlord_jobs::NewJob::new(PROCESS_EVENT_JOB, serde_json::json!({ "event": id })),
    )
    .await?;
    tx.commit().await?;
    state.keys.identity.jobs.notify_one();
    metrics::counter!("webhook_events_received_total", "provider" => provider.to_string())
        .increment(1);
    Ok(ApiSuccess::ok(WebhookAck {
        received: true,
        duplicate: false,
    }))
}

fn webhook_secret(
    secret: &Option<landlord_core::Secret<String>>,
    provider: &str,
) -> Result<String, ApiError> {
    secret
        .as_ref()
        .map(|s| s.expose_str().to_string())
        .ok_or_else(|| ApiError::ServiceUnavailable {
            message: format!("{provider} webhooks are not configured on this server"),
            details: None,
        })
}

/// Stripe webhook: `Stripe-Signature` checked on the raw body (HMAC-SHA256,
/// 5-minute tolerance); events deduplicated by id.
#[utoipa::path(
    post, path = "/webhooks/stripe", tag = "webhooks",
    params(("Stripe-Signature" = String, Header, pattern = r"^t=[0-9]+(,[a-z0-9]+=[0-9a-fA-F]+)+$", description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"{t}.{body}\">` (several `v1` during a secret roll)")),
    request_body(content = Object, description = "A Stripe event", content_type = "application/json"),
    responses(
        (status = 200, description = "Received (or a duplicate)", body = Envelope<WebhookAck>),
        (status = 400, description = "Missing, wrong or stale signature", body = ErrorEnvelope),
    )
)]
pub async fn stripe_webhook(
    State(state): State<PaymentsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiSuccess<WebhookAck>, ApiError> {
    let secret = webhook_secret(&state.keys.config.stripe_webhook_secret, "stripe")?;
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    verify_stripe(header, &body, &secret, now_millis() / 1000)
        .map_err(|e| refuse_signature("stripe", e))?;
    let event: Value = parse_json(&body)?;
    let event_id = event["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid_field("id", "is required"))?;
    let event_type = event["type"].as_str().unwrap_or("");
    accept_event(&state, "stripe", event_id, event_type, &body).await
}

/// Paystack webhook: `x-paystack-signature` checked on the raw body
/// (HMAC-SHA512 with the secret key); deduplicated on the event and the
/// transaction id (Paystack events carry no id of their own).
#[utoipa::path(
    post, path = "/webhooks/paystack", tag = "webhooks",
    params(("x-paystack-signature" = String, Header, pattern = "^[0-9a-f]{128}$", description = "Hex HMAC-SHA512 of the raw body with the secret key")),
    request_body(content = Object, description = "A Paystack event", content_type = "application/json"),
    responses(
        (status = 200, description = "Received (or a duplicate)", body = Envelope<WebhookAck>),
        (status = 400, description = "Missing or wrong signature", body = ErrorEnvelope),
    )
)]
pub async fn paystack_webhook(
    State(state): State<PaymentsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiSuccess<WebhookAck>, ApiError> {
    let secret = webhook_secret(&state.keys.config.paystack_secret_key, "paystack")?;
    let header = headers
        .get("x-paystack-signature")
        .and_then(|v| v.to_str().ok());
    verify_paystack(header, &body, &secret).map_err(|e| refuse_signature("paystack", e))?;
    let event: Value = parse_json(&body)?;
    let event_type = event["event"].as_str().unwrap_or("");
    let data_id = match &event["data"]["id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => event["data"]["reference"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    };
    if event_type.is_empty() || data_id.is_empty() {
        return Err(ApiError::invalid_field(
            "data",
            "needs event and data.id or data.reference",
        ));
    }
    accept_event(
        &state,
        "paystack",
        &format!("{event_type}:{data_id}"),
        event_type,
        &body,
    )
    .await
}
