//! The organization's pages (signed in; `/o/{organization_id}/…`). The
//! organization comes from the URL and must be one the person belongs to:
//! any other answers 404, like a missing one.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use landlord_core::ids::OrganizationId;
use landlord_identity::permissions::{self, Permission};
use landlord_identity::sessions::in_organization;
use landlord_identity::store::{self as identity_store, Membership};
use landlord_identity::CurrentUser;
use landlord_keys::overview;
use serde_json::json;

use super::base;
use crate::session::Visitor;
use crate::web::{Page, PageError};
use crate::ConsoleState;

pub(crate) fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/", get(home))
        .route("/o/{organization_id}", get(overview))
}

/// `GET /`: the overview when signed in, the sign-in page otherwise.
pub async fn home(visitor: Visitor) -> Page {
    match &visitor.user {
        Some(user) => Page::redirect(format!("/o/{}", user.organization_id)),
        None => Page::redirect("/sign-in"),
    }
}

/// The signed-in person acting in the URL's organization, with its
/// membership; the sign-in page when signed out; 404 for an organization
/// the person does not belong to (or a malformed id).
pub(crate) async fn tenant(
    state: &ConsoleState,
    visitor: &Visitor,
    organization_id: &str,
) -> Result<Result<(CurrentUser, Membership), Page>, PageError> {
    let Some(user) = &visitor.user else {
        return Ok(Err(Page::redirect("/sign-in").cookie(
            visitor.stale_cookie.then(|| state.clear_session_cookie()),
        )));
    };
    let organization_id = OrganizationId::parse(organization_id).ok_or(PageError::NotFound)?;
    let acting = in_organization(state.identity(), user, &organization_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let membership = identity_store::memberships(state.identity().db.pool(), &acting.user_id)
        .await
        .map_err(landlord_core::ApiError::from)?
        .into_iter()
        .find(|m| m.organization.id == organization_id)
        .ok_or(PageError::NotFound)?;
    Ok(Ok((acting, membership)))
}

/// `GET /o/{organization_id}`: this month's requests against the quota,
/// requests today, active keys (`GET /dashboard/stats`' figures).
pub async fn overview(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let (user, membership) = match tenant(&state, &visitor, &organization_id).await? {
        Ok(found) => found,
        Err(sign_in) => return Ok(sign_in),
    };
    permissions::require(&user, Permission::ViewDashboard)
        .map_err(|e| PageError::Forbidden(e.to_string()))?;
    let stats = overview::stats(&state.keys, &user.organization_id).await?;
    let percent = stats
        .usage
        .included
        .filter(|included| *included > 0)
        .map(|included| stats.requests_this_month.saturating_mul(100) / included);
    let quota_state = match percent {
        Some(p) if p >= 100 => "over",
        Some(p) if p >= 80 => "warn",
        _ => "ok",
    };
    let (mut context, _) =
        base(&state, &visitor, "Overview", "overview", Some(&membership)).await?;
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    context.insert("role".into(), membership.role.as_str().into());
    context.insert("resets".into(), stats.usage.resets_at.date().into());
    context.insert("percent".into(), percent.unwrap_or(0).into());
    context.insert("quota_state".into(), quota_state.into());
    context.insert(
        "stats".into(),
        serde_json::to_value(&stats).map_err(landlord_core::ApiError::internal)?,
    );
    Page::render("overview.html", context)
}
