//! `GET /admin/alerts`: the active alerts and a page of the history.

use axum::extract::State;
use landlord_admin::PlatformAdmin;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Meta, Page, PageQuery, Query};
use landlord_core::ids::AlertEventId;
use landlord_core::{ApiError, Timestamp};
use landlord_payments::routes::PaymentsState;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::integrations::{IntegrationKind, IntegrationStatus};
use crate::store::{
    self, AlertHistoryStatus, AlertStatus, HealthRow, HistoryRow, Severity, StateRow,
};

pub fn router() -> OpenApiRouter<PaymentsState> {
    OpenApiRouter::new()
        .routes(routes!(alerts))
        .routes(routes!(integrations))
}

/// A rule that is pending or firing.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveAlertView {
    pub rule: String,
    pub severity: Severity,
    /// `pending` (crossed, waiting for the rule's pending period) or `firing`.
    pub status: AlertStatus,
    /// The signal's value at the last transition.
    pub value: f64,
    /// Since when the rule has this status.
    pub since: Option<Timestamp>,
    /// Last firing notification (the cooldown runs from it).
    pub last_notified_at: Option<Timestamp>,
}

impl From<StateRow> for ActiveAlertView {
    fn from(row: StateRow) -> Self {
        Self {
            rule: row.rule,
            severity: row.severity,
            status: row.status,
            value: row.value,
            since: row.since,
            last_notified_at: row.last_notified_at,
        }
    }
}

/// A firing or a resolution.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertHistoryView {
    pub id: AlertEventId,
    pub rule: String,
    pub severity: Severity,
    pub status: AlertHistoryStatus,
    pub value: f64,
    /// Whether it was notified (a firing within the cooldown is not).
    pub notified: bool,
    pub at: Timestamp,
}

impl From<HistoryRow> for AlertHistoryView {
    fn from(row: HistoryRow) -> Self {
        Self {
            id: row.id,
            rule: row.rule,
            severity: row.severity,
            status: row.status,
            value: row.value,
            notified: row.notified != 0,
            at: row.at,
        }
    }
}

/// Active alerts and one page of the history, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsOverview {
    pub active: Vec<ActiveAlertView>,
    pub history: Vec<AlertHistoryView>,
}

/// The active alerts and a page of the history, with the meta whose
/// `next_cursor` pages the history: `GET /admin/alerts` and the operator
/// console's alerts page alike.
pub async fn overview(
    state: &PaymentsState,
    page: &Page,
) -> Result<(AlertsOverview, Meta), ApiError> {
    let db = &state.db;
    let active = store::active(db).await?;
    let mut history = store::history(db, page.cursor.as_deref(), page.fetch()).await?;
    let meta = page.finish(&mut history, |row| row.id.to_string());
    let overview = AlertsOverview {
        active: active.into_iter().map(ActiveAlertView::from).collect(),
        history: history.into_iter().map(AlertHistoryView::from).collect(),
    };
    Ok((overview, meta))
}

/// Operator alerts: the rules pending or firing, and their history.
#[utoipa::path(
    get, path = "/api/v1/admin/alerts", tag = "admin",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Active alerts and a page of the history (newest first)", body = Envelope<AlertsOverview>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 422, description = "Bad `limit` or `cursor`", body = ErrorEnvelope),
    )
)]
pub async fn alerts(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<AlertsOverview>, ApiError> {
    let (overview, meta) = overview(&state, &query.page()?).await?;
    Ok(ApiSuccess::ok(overview).with_meta(meta))
}

/// An integration's latest status.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationView {
    /// `smtp`, `stripe`, `paystack`, `webhooks`, or
    /// `whatsapp:<channel id>` for each WhatsApp channel.
    pub integration: String,
    pub kind: IntegrationKind,
    /// `healthy`, `degraded` (slow or failing probe, or more than 5 % of
    /// the real calls failed) or `down` (the probe failed 3 times in a
    /// row, or more than 50 % of the real calls failed).
    pub status: IntegrationStatus,
    /// The last probe's latency; `null` for an integration not probed
    /// (outgoing webhooks).
    #[schema(minimum = 0)]
    pub latency_ms: Option<i64>,
    /// Real calls in the last 15 minutes, from every instance: mails sent
    /// over SMTP, calls to the payment providers, WhatsApp sends,
    /// outgoing webhooks' delivery attempts. Probes are not counted.
    #[schema(minimum = 0)]
    pub calls: i64,
    /// How many of those failed.
    #[schema(minimum = 0)]
    pub failed_calls: i64,
    /// Probes that failed in a row.
    #[schema(minimum = 0)]
    pub consecutive_failures: i64,
    /// Why it is not healthy.
    pub reason: Option<String>,
    /// The last probe round.
    pub checked_at: Timestamp,
    /// Since when it has this status.
    pub since: Timestamp,
}

impl From<HealthRow> for IntegrationView {
    fn from(row: HealthRow) -> Self {
        Self {
            integration: row.integration,
            kind: row.kind,
            status: row.status,
            latency_ms: row.latency_ms,
            calls: row.calls,
            failed_calls: row.failed_calls,
            consecutive_failures: row.consecutive_failures,
            reason: row.reason,
            checked_at: row.checked_at,
            since: row.since,
        }
    }
}

/// Every configured integration's latest status, by name:
/// `GET /admin/integrations` and the operator console alike.
pub async fn integration_health(state: &PaymentsState) -> Result<Vec<IntegrationView>, ApiError> {
    let rows = store::health(&state.db).await?;
    Ok(rows.into_iter().map(IntegrationView::from).collect())
}

/// Integration health: each configured integration's status from the
/// latest probe round.
#[utoipa::path(
    get, path = "/api/v1/admin/integrations", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every configured integration's latest status, by name (empty before the first probe round)", body = Envelope<Vec<IntegrationView>>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn integrations(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
) -> Result<ApiSuccess<Vec<IntegrationView>>, ApiError> {
    Ok(ApiSuccess::ok(integration_health(&state).await?))
}
