//! Review by platform administrators: every organization's apps, and the
//! decisions — publish (from in review, or again after a suspension),
//! reject back to a draft with a reason, suspend with a reason. Each is
//! audited platform-wide; publishing records `app.published` in the
//! publisher's organization in the same transaction.

use landlord_admin::PlatformAdmin;
use landlord_core::http::client::ClientInfo;
use landlord_core::{ApiError, Timestamp};

use crate::events::AppPublishedPayload;
use crate::ids::AppId;
use crate::store::{self, AppRow, AppStatus};
use crate::views::AppView;
use crate::AppsState;

/// Longest reason an operator gives.
pub const MAX_REASON: usize = 500;

/// The app `id`, whoever publishes it (404 when there is none).
pub async fn app(state: &AppsState, id: &str) -> Result<AppRow, ApiError> {
    let id = AppId::parse_or_not_found(id, "app")?;
    store::app(state.db.pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))
}

/// A reason the publisher is shown: 1 to 500 characters, not blank.
pub fn check_reason(reason: &str) -> Result<&str, ApiError> {
    let reason = reason.trim();
    let length = reason.chars().count();
    if length == 0 || length > MAX_REASON {
        return Err(ApiError::invalid_field(
            "reason",
            format!("must be 1 to {MAX_REASON} characters, not blank: the publisher is shown it"),
        ));
    }
    Ok(reason)
}

/// An operator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// In review or suspended → published.
    Publish,
    /// In review → draft, with the reason.
    Reject,
    /// Draft, in review or published → suspended, with the reason.
    Suspend,
}

impl Decision {
    fn from(self) -> &'static [AppStatus] {
        match self {
            Decision::Publish => &[AppStatus::InReview, AppStatus::Suspended],
            Decision::Reject => &[AppStatus::InReview],
            Decision::Suspend => &[AppStatus::Draft, AppStatus::InReview, AppStatus::Published],
        }
    }

    fn to(self) -> AppStatus {
        match self {
            Decision::Publish => AppStatus::Published,
            Decision::Reject => AppStatus::Draft,
            Decision::Suspend => AppStatus::Suspended,
        }
    }

    fn action(self) -> &'static str {
        match self {
            Decision::Publish => "app.published",
            Decision::Reject => "app.rejected",
            Decision::Suspend => "app.suspended",
        }
    }

    /// Why the decision does not apply to an app in `status`.
    fn refusal(self, status: AppStatus) -> String {
        let now = match status {
            AppStatus::Draft => "a draft (its publisher has not submitted it)",
            AppStatus::InReview => "in review",
            AppStatus::Published => "published",
            AppStatus::Suspended => "suspended",
        };
        let rule = match self {
            Decision::Publish => "only an app in review or suspended can be published",
            Decision::Reject => "only an app in review can be rejected",
            Decision::Suspend => "it is suspended already",
        };
        format!("the app is {now}: {rule}")
    }
}

/// Applies `decision` to the app `id` (`reason`: required to reject or
/// suspend, shown to the publisher).
pub async fn decide(
    state: &AppsState,
    admin: &PlatformAdmin,
    client: &ClientInfo,
    id: &str,
    decision: Decision,
    reason: Option<&str>,
) -> Result<AppView, ApiError> {
    let reason = match decision {
        Decision::Publish => None,
        Decision::Reject | Decision::Suspend => Some(check_reason(reason.unwrap_or_default())?),
    };
    let row = app(state, id).await?;
    if !decision.from().contains(&row.status) {
        return Err(ApiError::Conflict(decision.refusal(row.status)));
    }
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    if !store::set_app_status(
        &mut *tx,
        &row.id,
        decision.from(),
        decision.to(),
        reason,
        now,
    )
    .await?
    {
        return Err(ApiError::Conflict(
            "the app's status changed meanwhile; reload it".into(),
        ));
    }
    if decision == Decision::Publish {
        landlord_events::store::record(
            &mut *tx,
            &row.organization_id,
            &AppPublishedPayload {
                organization_id: row.organization_id.clone(),
                app_id: row.id.clone(),
                slug: row.slug.clone(),
                name: row.name.clone(),
            },
        )
        .await?;
    }
    landlord_audit::record(
        &mut *tx,
        admin
            .audit(client, decision.action())
            .target("app", &row.id)
            .details(serde_json::json!({
                "slug": row.slug,
                "organization_id": row.organization_id,
                "from": row.status,
                "reason": reason,
            })),
    )
    .await?;
    tx.commit().await?;
    crate::gateway::hosts::routing_changed(state).await;
    if decision == Decision::Publish {
        // The outgoing webhooks' dispatcher picks the event up.
        state.identity.jobs.notify_one();
    }
    app(state, row.id.as_str()).await.map(AppView::new)
}
