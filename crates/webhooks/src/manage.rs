//! The rules of an organization's webhook endpoints, which the
//! `/webhooks/endpoints` routes and the console's webhook pages share:
//! creating, listing, changing and deleting endpoints; showing and
//! rotating their secret; the attempt log; resending, recovering and
//! test messages. The caller has checked the permission.

use landlord_audit::AuditEntry;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::{
    EventId, OrganizationId, WebhookAttemptId, WebhookDeliveryId, WebhookEndpointId,
};
use landlord_core::{ApiError, Timestamp};
use landlord_events::payloads::{WebhookTestPayload, WEBHOOK_TEST};
use landlord_events::EventType;
use landlord_identity::auth::CurrentUser;
use landlord_identity::IdentityState;
use serde::{Deserialize, Serialize};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::address;
use crate::config::WebhooksConfig;
use crate::deliver::{self, DeliverPayload};
use crate::endpoint::{self, EventFilter, MAX_DESCRIPTION_LEN, MAX_ENDPOINTS, MAX_URL_LEN};
use crate::store::{
    self, AttemptCause, AttemptFilter, AttemptOutcome, AttemptRow, EndpointChange, EndpointRow,
    NewDelivery,
};

/// Most deliveries one recovery puts back in the queue.
pub const MAX_RECOVER: i64 = 1_000;

pub fn endpoint_not_found() -> ApiError {
    ApiError::not_found("webhook endpoint")
}

// ---- views and requests ------------------------------------------------------------

/// A catalog type an endpoint may subscribe to (every type but
/// `webhook.test`, which goes only where it is sent).
pub struct SubscribableEventType;

impl PartialSchema for SubscribableEventType {
    fn schema() -> RefOr<Schema> {
        let names: Vec<&str> = EventType::all()
            .iter()
            .filter(|t| **t != WEBHOOK_TEST)
            .map(|t| t.as_str())
            .collect();
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(names))
            .into()
    }
}

impl ToSchema for SubscribableEventType {}

/// An endpoint as shown (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: WebhookEndpointId,
    pub url: String,
    pub description: String,
    /// The types it receives; empty: every type.
    #[schema(value_type = Vec<SubscribableEventType>)]
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    /// Why Landlord disabled it (410 Gone, or failing for days); `null`
    /// when enabled or disabled by a person.
    pub disabled_reason: Option<String>,
    /// Since when every attempt failed; `null` after a success.
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl EndpointView {
    pub fn new(row: EndpointRow) -> Self {
        Self {
            event_types: EventFilter::decode(&row.event_types).0,
            id: row.id,
            url: row.url,
            description: row.description,
            enabled: row.enabled == 1,
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A new endpoint and its secret (shown here, and later to owners only).
#[derive(Serialize, ToSchema)]
pub struct CreatedEndpoint {
    pub endpoint: EndpointView,
    /// `whsec_` + base64 of 32 random bytes: verify signatures with it.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

landlord_core::debug_redacted!(CreatedEndpoint { endpoint } secret { secret });

/// An endpoint's signing secrets.
#[derive(Serialize, ToSchema)]
pub struct SecretView {
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
    /// The secret before the last rotation, while it still signs.
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing.
    pub previous_secret_expires_at: Option<Timestamp>,
}

landlord_core::debug_redacted!(SecretView { previous_secret_expires_at } secret { secret, previous_secret });

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateEndpointRequest {
    /// Where messages are POSTed: https (http only when the server
    /// allows it), a host that resolves to public addresses only.
    #[schema(
        max_length = 2048,
        pattern = r"^https?://\S+$",
        example = "https://hooks.example.com/landlord"
    )]
    pub url: String,
    /// For people; at most 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// The types to receive; absent or empty: every type.
    #[schema(max_items = 64, value_type = Option<Vec<SubscribableEventType>>)]
    pub event_types: Option<Vec<String>>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// The fields to change; absent ones stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateEndpointRequest {
    #[schema(
        max_length = 2048,
        pattern = r"^https?://\S+$",
        example = "https://hooks.example.com/landlord"
    )]
    pub url: Option<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Empty: every type.
    #[schema(max_items = 64, value_type = Option<Vec<SubscribableEventType>>)]
    pub event_types: Option<Vec<String>>,
    /// Enabling a disabled endpoint clears its failure streak.
    pub enabled: Option<bool>,
}

/// An attempt of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub id: WebhookAttemptId,
    /// The message (event) id: the `webhook-id` header.
    pub message_id: EventId,
    pub event_type: String,
    /// 1 for the message's first attempt to this endpoint.
    pub attempt: i64,
    pub cause: AttemptCause,
    /// A 2xx answer came back.
    pub succeeded: bool,
    /// `null` when no answer came (timeout, connection refused, address refused).
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    /// The answer's first 4 KiB.
    pub response_excerpt: String,
    /// Why no answer came (for an interrupted attempt: that it was cut off).
    pub error: Option<String>,
    pub attempted_at: Timestamp,
    /// `in_flight` while the attempt is being made; `completed` once it
    /// ended (see `succeeded`); `interrupted` when the instance making it
    /// stopped before it ended — whether the endpoint received it is
    /// unknown, and the message is attempted again.
    pub outcome: AttemptOutcome,
}

impl AttemptView {
    pub fn new(row: AttemptRow) -> Self {
        Self {
            id: row.id,
            message_id: row.event_id,
            event_type: row.event_type,
            attempt: row.attempt,
            cause: row.cause,
            succeeded: row.succeeded == 1,
            status_code: row.status_code,
            duration_ms: row.duration_ms,
            response_excerpt: row.response_excerpt,
            error: row.error,
            attempted_at: row.attempted_at,
            outcome: row.outcome,
        }
    }
}

/// A message queued for delivery (a resend or a test).
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedMessage {
    pub message_id: EventId,
    pub delivery_id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RecoverRequest {
    /// Resend every message whose delivery failed since this time (RFC 3339).
    #[schema(format = DateTime)]
    pub since: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoverView {
    /// Deliveries queued again (at most 1,000 per call).
    pub recovered: usize,
    /// More failed deliveries remain: call again with the same `since`.
    pub more: bool,
}

// ---- rules -------------------------------------------------------------------------

/// A checked URL, as stored.
async fn checked_url(state: &IdentityState, url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(ApiError::invalid_field("url", "is required"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(ApiError::invalid_field(
            "url",
            format!("must be at most {MAX_URL_LEN} characters"),
        ));
    }
    let config = state.config.section::<WebhooksConfig>();
    address::check(url, config)
        .await
        .map(|parsed| parsed.to_string())
        .map_err(|refusal| ApiError::invalid_field("url", refusal.to_string()))
}

fn checked_description(description: Option<&str>) -> Result<String, ApiError> {
    let description = description.unwrap_or_default().trim();
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(ApiError::invalid_field(
            "description",
            format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    if description.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "description",
            "must not contain control characters",
        ));
    }
    Ok(description.to_string())
}

fn checked_filter(names: Option<&[String]>) -> Result<EventFilter, ApiError> {
    let names = names.unwrap_or_default();
    if names.len() > 64 {
        return Err(ApiError::invalid_field("event_types", "at most 64 types"));
    }
    EventFilter::parse(names).map_err(|bad| {
        ApiError::invalid_field(
            "event_types",
            format!("{bad:?} is not an event type endpoints can subscribe to"),
        )
    })
}

/// The organization's endpoint, or 404.
pub async fn find_row(
    state: &IdentityState,
    organization_id: &OrganizationId,
    id: &str,
) -> Result<EndpointRow, ApiError> {
    let id = WebhookEndpointId::parse(id).ok_or_else(endpoint_not_found)?;
    store::endpoint(state.db.pool(), organization_id, &id)
        .await?
        .ok_or_else(endpoint_not_found)
}

/// Creates an endpoint with a new secret.
pub async fn create(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    request: CreateEndpointRequest,
) -> Result<CreatedEndpoint, ApiError> {
    let (url, description, filter) = {
        let url = checked_url(state, &request.url).await;
        let description = checked_description(request.description.as_deref());
        let filter = checked_filter(request.event_types.as_deref());
        match (url, description, filter) {
            (Ok(u), Ok(d), Ok(f)) => (u, d, f),
            (u, d, f) => {
                return Err(ApiError::all_fields([u.err(), d.err(), f.err()]));
            }
        }
    };
    let id = WebhookEndpointId::generate();
    let secret = endpoint::new_secret();
    let sealed = endpoint::seal(&state.payload_cipher, &id, &secret).map_err(ApiError::internal)?;
    let now = Timestamp::now();
    let row = EndpointRow {
        id: id.clone(),
        organization_id: user.organization_id.clone(),
        url,
        description,
        event_types: filter.encode(),
        enabled: i64::from(request.enabled.unwrap_or(true)),
        disabled_reason: None,
        secret_sealed: sealed,
        previous_secret_sealed: None,
        previous_secret_until: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    // The limit holds however many creations run at once: they take turns.
    landlord_identity::store::hold_organization(&mut tx, state.db.backend(), &user.organization_id)
        .await?;
    if store::count_endpoints(&mut *tx, &user.organization_id).await? >= MAX_ENDPOINTS {
        return Err(ApiError::Conflict(format!(
            "the organization has {MAX_ENDPOINTS} webhook endpoints, the most allowed: delete one first"
        )));
    }
    store::insert_endpoint(&mut *tx, &row).await?;
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "webhook_endpoint.created")
            .target("webhook_endpoint", &id)
            .details(serde_json::json!({ "url": row.url })),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedEndpoint {
        endpoint: EndpointView::new(row),
        secret,
    })
}

/// A page of the organization's endpoints, newest first.
pub async fn list(
    state: &IdentityState,
    organization_id: &OrganizationId,
    cursor: Option<&str>,
    fetch: i64,
) -> Result<Vec<EndpointRow>, ApiError> {
    let before = cursor.map(WebhookEndpointId::from_trusted);
    Ok(store::endpoints(state.db.pool(), organization_id, before.as_ref(), fetch).await?)
}

/// Changes the fields `request` gives.
pub async fn update(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &str,
    request: UpdateEndpointRequest,
) -> Result<EndpointView, ApiError> {
    let current = find_row(state, &user.organization_id, id).await?;
    let url = match request.url.as_deref() {
        Some(url) => checked_url(state, url).await,
        None => Ok(current.url.clone()),
    };
    let description = match request.description.as_deref() {
        Some(d) => checked_description(Some(d)),
        None => Ok(current.description.clone()),
    };
    let filter = match request.event_types.as_deref() {
        Some(names) => checked_filter(Some(names)),
        None => Ok(EventFilter::decode(&current.event_types)),
    };
    let (url, description, filter) = match (url, description, filter) {
        (Ok(u), Ok(d), Ok(f)) => (u, d, f),
        (u, d, f) => return Err(ApiError::all_fields([u.err(), d.err(), f.err()])),
    };
    let enabled = request.enabled.unwrap_or(current.enabled == 1);
    // Landlord's reason stays while the endpoint stays disabled; enabling
    // (or a person disabling) clears it.
    let disabled_reason = match (enabled, request.enabled) {
        (false, None) => current.disabled_reason.as_deref(),
        _ => None,
    };
    let encoded = filter.encode();
    let mut tx = state.db.begin().await?;
    let changed = store::update_endpoint(
        &mut *tx,
        &user.organization_id,
        &current.id,
        EndpointChange {
            url: &url,
            description: &description,
            event_types: &encoded,
            enabled,
            disabled_reason,
        },
    )
    .await?;
    if !changed {
        return Err(endpoint_not_found());
    }
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "webhook_endpoint.updated")
            .target("webhook_endpoint", &current.id)
            .details(serde_json::json!({ "url": url, "enabled": enabled })),
    )
    .await?;
    let row = store::endpoint(&mut *tx, &user.organization_id, &current.id)
        .await?
        .ok_or_else(endpoint_not_found)?;
    tx.commit().await?;
    Ok(EndpointView::new(row))
}

/// Deletes the endpoint, its deliveries and its attempt log.
pub async fn delete(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &str,
) -> Result<EndpointView, ApiError> {
    let current = find_row(state, &user.organization_id, id).await?;
    let mut tx = state.db.begin().await?;
    if !store::delete_endpoint(&mut *tx, &user.organization_id, &current.id).await? {
        return Err(endpoint_not_found());
    }
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "webhook_endpoint.deleted")
            .target("webhook_endpoint", &current.id)
            .details(serde_json::json!({ "url": current.url })),
    )
    .await?;
    tx.commit().await?;
    Ok(EndpointView::new(current))
}

/// The endpoint's secrets in the clear (owners).
pub async fn secret(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &str,
) -> Result<SecretView, ApiError> {
    let row = find_row(state, &user.organization_id, id).await?;
    let view = secret_view(state, &row)?;
    landlord_audit::store::record(
        state.db.pool(),
        AuditEntry::by(user, client, "webhook_endpoint.secret_viewed")
            .target("webhook_endpoint", &row.id),
    )
    .await?;
    Ok(view)
}

fn secret_view(state: &IdentityState, row: &EndpointRow) -> Result<SecretView, ApiError> {
    let cipher = &state.payload_cipher;
    let secret = endpoint::open(cipher, &row.id, &row.secret_sealed).map_err(ApiError::internal)?;
    let now = Timestamp::now();
    let previous = match (&row.previous_secret_sealed, row.previous_secret_until) {
        (Some(sealed), Some(until)) if until > now => Some((
            endpoint::open(cipher, &row.id, sealed).map_err(ApiError::internal)?,
            until,
        )),
        _ => None,
    };
    Ok(SecretView {
        secret,
        previous_secret: previous.as_ref().map(|(s, _)| s.clone()),
        previous_secret_expires_at: previous.map(|(_, until)| until),
    })
}

/// A new secret; the current one keeps signing for 24 hours beside it.
pub async fn rotate(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &str,
) -> Result<SecretView, ApiError> {
    let row = find_row(state, &user.organization_id, id).await?;
    let secret = endpoint::new_secret();
    let cipher = &state.payload_cipher;
    let sealed = endpoint::seal(cipher, &row.id, &secret).map_err(ApiError::internal)?;
    let until = Timestamp::now().plus(endpoint::ROTATION_OVERLAP);
    let mut tx = state.db.begin().await?;
    if !store::rotate_secret(
        &mut *tx,
        &user.organization_id,
        &row.id,
        &sealed,
        &row.secret_sealed,
        until,
    )
    .await?
    {
        return Err(endpoint_not_found());
    }
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "webhook_endpoint.secret_rotated")
            .target("webhook_endpoint", &row.id),
    )
    .await?;
    let rotated = store::endpoint(&mut *tx, &user.organization_id, &row.id)
        .await?
        .ok_or_else(endpoint_not_found)?;
    tx.commit().await?;
    secret_view(state, &rotated)
}

/// A page of the endpoint's attempts, newest first.
pub async fn attempts(
    state: &IdentityState,
    organization_id: &OrganizationId,
    endpoint_id: &str,
    filter: AttemptFilter<'_>,
) -> Result<Vec<AttemptRow>, ApiError> {
    let row = find_row(state, organization_id, endpoint_id).await?;
    Ok(store::attempts(state.db.pool(), organization_id, &row.id, filter).await?)
}

fn require_enabled(row: &EndpointRow) -> Result<(), ApiError> {
    if row.enabled == 1 {
        Ok(())
    } else {
        Err(ApiError::Conflict(
            "the endpoint is disabled: enable it first".into(),
        ))
    }
}

/// Sends message `message_id` to the endpoint again, now: a new attempt
/// under the same `webhook-id`. A message the endpoint never had (it
/// was created later, or filtered the type out) is delivered to it.
pub async fn resend(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    endpoint_id: &str,
    message_id: &str,
) -> Result<QueuedMessage, ApiError> {
    let row = find_row(state, &user.organization_id, endpoint_id).await?;
    let not_found = || ApiError::not_found("message");
    let message_id = EventId::parse(message_id).ok_or_else(not_found)?;
    let event = landlord_events::store::event(state.db.pool(), &user.organization_id, &message_id)
        .await?
        .ok_or_else(not_found)?;
    require_enabled(&row)?;
    let mut tx = state.db.begin().await?;
    let delivery_id = queue_again(
        &mut tx,
        &user.organization_id,
        &row,
        &event.id,
        AttemptCause::Resend,
    )
    .await?;
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "webhook_message.resent")
            .target("webhook_endpoint", &row.id)
            .details(serde_json::json!({ "message_id": event.id })),
    )
    .await?;
    landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    Ok(QueuedMessage {
        message_id: event.id,
        delivery_id,
        endpoint_id: row.id,
    })
}

/// Makes the (endpoint, event) delivery due now under a new `seq`, or
/// creates it, and queues its job.
async fn queue_again(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    organization_id: &OrganizationId,
    endpoint: &EndpointRow,
    event_id: &EventId,
    cause: AttemptCause,
) -> Result<WebhookDeliveryId, ApiError> {
    let now = Timestamp::now();
    let existing = store::delivery_of(&mut **tx, organization_id, &endpoint.id, event_id).await?;
    let (delivery_id, seq) = match existing {
        Some(delivery) => {
            let seq = store::reschedule_now(&mut **tx, &delivery.id, now)
                .await?
                .ok_or_else(|| ApiError::not_found("message"))?;
            (delivery.id, seq)
        }
        None => {
            let added = store::insert_deliveries(
                tx,
                &[NewDelivery {
                    id: WebhookDeliveryId::generate(),
                    organization_id: organization_id.clone(),
                    endpoint_id: endpoint.id.clone(),
                    event_id: event_id.clone(),
                }],
                now,
            )
            .await?;
            let id = added
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::Conflict("the message is being queued; retry".into()))?;
            (id, 0)
        }
    };
    landlord_jobs::enqueue(
        &mut **tx,
        deliver::job(
            &DeliverPayload {
                delivery_id: delivery_id.clone(),
                seq,
                cause,
            },
            None,
        ),
    )
    .await?;
    Ok(delivery_id)
}

/// Queues again every delivery to the endpoint that failed and was created
/// since `since` (at most [`MAX_RECOVER`] per call).
pub async fn recover(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    endpoint_id: &str,
    since: &str,
) -> Result<RecoverView, ApiError> {
    let row = find_row(state, &user.organization_id, endpoint_id).await?;
    let since = Timestamp::parse_rfc3339(since)
        .ok_or_else(|| ApiError::invalid_field("since", "is not an RFC 3339 time"))?;
    require_enabled(&row)?;
    let mut tx = state.db.begin().await?;
    let failed = store::failed_since(
        &mut *tx,
        &user.organization_id,
        &row.id,
        since,
        MAX_RECOVER + 1,
    )
    .await?;
    let more = failed.len() as i64 > MAX_RECOVER;
    let mut recovered = 0;
    for delivery in failed.into_iter().take(MAX_RECOVER as usize) {
        queue_again(
            &mut tx,
            &user.organization_id,
            &row,
            &delivery.event_id,
            AttemptCause::Recover,
        )
        .await?;
        recovered += 1;
    }
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "webhook_endpoint.recovered")
            .target("webhook_endpoint", &row.id)
            .details(serde_json::json!({ "since": since, "recovered": recovered })),
    )
    .await?;
    landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    Ok(RecoverView { recovered, more })
}

/// Sends a `webhook.test` message to this endpoint only.
pub async fn send_test(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    endpoint_id: &str,
) -> Result<QueuedMessage, ApiError> {
    let row = find_row(state, &user.organization_id, endpoint_id).await?;
    require_enabled(&row)?;
    let mut tx = state.db.begin().await?;
    let event_id = landlord_events::store::record_without_dispatch(
        &mut *tx,
        &user.organization_id,
        &WebhookTestPayload {
            organization_id: user.organization_id.clone(),
            endpoint_id: row.id.clone(),
            sent_by: user.user_id.clone(),
            message: "This is a test message from Landlord.".into(),
        },
    )
    .await?;
    let delivery_id = queue_again(
        &mut tx,
        &user.organization_id,
        &row,
        &event_id,
        AttemptCause::Test,
    )
    .await?;
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "webhook_endpoint.tested")
            .target("webhook_endpoint", &row.id)
            .details(serde_json::json!({ "message_id": event_id })),
    )
    .await?;
    landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    Ok(QueuedMessage {
        message_id: event_id,
        delivery_id,
        endpoint_id: row.id,
    })
}
