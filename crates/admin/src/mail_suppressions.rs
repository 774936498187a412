//! `/admin/mail-suppressions`: the addresses Landlord no longer mails
//! (permanent SMTP refusals, bounces, complaints), and lifting one.

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Query};
use landlord_core::{ApiError, Timestamp};
use landlord_mail::store::{self as mail_store, SuppressionRow};
use landlord_mail::suppression::{normalize, SuppressionReason};
use landlord_payments::routes::PaymentsState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::PlatformAdmin;

/// Most suppressions one list shows.
pub const MAX_LIMIT: u32 = 500;
const DEFAULT_LIMIT: u32 = 100;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuppressionFilter {
    /// Only addresses containing this text (case-insensitive).
    #[param(min_length = 1, max_length = 320)]
    pub search: Option<String>,
    /// At most this many, newest first (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// A suppressed address.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SuppressionView {
    /// The address, lowercased.
    pub address: String,
    pub reason: SuppressionReason,
    /// The SMTP reply code of a refusal (e.g. 550).
    pub smtp_code: Option<i64>,
    /// The SMTP server's message, or the provider's description.
    pub description: Option<String>,
    /// What reported it: `smtp` (a refusal while sending) or `webhook`
    /// (the bounce webhook).
    pub source: String,
    pub created_at: Timestamp,
}

impl From<SuppressionRow> for SuppressionView {
    fn from(row: SuppressionRow) -> Self {
        Self {
            address: row.address,
            reason: row.reason,
            smtp_code: row.smtp_code,
            description: row.description,
            source: row.source,
            created_at: row.created_at,
        }
    }
}

/// What lifting did.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiftedSuppression {
    pub address: String,
    pub lifted: bool,
}

/// Suppressed addresses matching `filter`, newest first: the API's list
/// and the operator console's.
pub async fn suppressions(
    state: &PaymentsState,
    filter: &SuppressionFilter,
) -> Result<Vec<SuppressionView>, ApiError> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let search = filter
        .search
        .as_deref()
        .map(normalize)
        .filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.chars().count() > 320) {
        return Err(ApiError::invalid_field(
            "search",
            "must be at most 320 characters",
        ));
    }
    let rows = mail_store::list(&state.db, search.as_deref(), i64::from(limit)).await?;
    Ok(rows.into_iter().map(SuppressionView::from).collect())
}

/// Lifts the suppression of `address` (audited as
/// `admin.mail_suppression_lifted`): mail to it is sent again. 404 when it
/// is not suppressed. The API's and the operator console's.
pub async fn lift_suppression(
    state: &PaymentsState,
    admin: &PlatformAdmin,
    client: &ClientInfo,
    address: &str,
) -> Result<String, ApiError> {
    let address = normalize(address);
    let mut tx = state.db.begin().await?;
    let Some(row) = mail_store::find(&mut *tx, &address).await? else {
        return Err(ApiError::not_found("suppressed address"));
    };
    mail_store::delete(&mut *tx, &address).await?;
    landlord_audit::record(
        &mut *tx,
        admin
            .audit(client, "admin.mail_suppression_lifted")
            .target("email", &address)
            .details(serde_json::json!({
                "reason": row.reason,
                "smtp_code": row.smtp_code,
                "source": row.source,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(address)
}

/// Addresses Landlord no longer mails.
#[utoipa::path(
    get, path = "/api/v1/admin/mail-suppressions", tag = "admin", operation_id = "list_mail_suppressions",
    security(("bearer" = [])),
    params(SuppressionFilter),
    responses(
        (status = 200, description = "Suppressed addresses, newest first", body = Envelope<Vec<SuppressionView>>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 422, description = "A parameter is invalid", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
    Query(filter): Query<SuppressionFilter>,
) -> Result<ApiSuccess<Vec<SuppressionView>>, ApiError> {
    Ok(ApiSuccess::ok(suppressions(&state, &filter).await?))
}

/// Lift an address's suppression: Landlord mails it again.
#[utoipa::path(
    delete, path = "/api/v1/admin/mail-suppressions/{address}", tag = "admin", operation_id = "lift_mail_suppression",
    security(("bearer" = [])),
    params(("address" = String, Path, description = "The suppressed address (any case)")),
    responses(
        (status = 200, description = "Lifted", body = Envelope<LiftedSuppression>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "The address is not suppressed", body = ErrorEnvelope),
    )
)]
pub async fn lift(
    State(state): State<PaymentsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(address): Path<String>,
) -> Result<ApiSuccess<LiftedSuppression>, ApiError> {
    let address = lift_suppression(&state, &admin, &client, &address).await?;
    Ok(ApiSuccess::ok(LiftedSuppression {
        address,
        lifted: true,
    }))
}
