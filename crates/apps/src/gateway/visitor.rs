//! Who is calling an app: a person signed in to it (the app's own session
//! cookie set by the gateway's sign-in, or a person's access token), or an
//! installation (its client-credentials token).

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::Response;
use landlord_core::ids::{OrganizationId, UserId};

use super::hosts::AppRoute;
use super::Gateway;
use crate::ids::InstallationId;

/// What the gateway knows of the caller.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    /// A person signed in to this app.
    pub user_id: Option<UserId>,
    /// The organization the caller acts in (an installation's, or the
    /// person's token's).
    pub organization_id: Option<OrganizationId>,
    /// The installation whose token was sent.
    pub installation_id: Option<InstallationId>,
}

/// Who sent `headers` to the app of `route`: a token or cookie issued to
/// another app identifies no one here.
pub async fn identify(_gateway: &Gateway, _route: &AppRoute, _headers: &HeaderMap) -> Visitor {
    Visitor::default()
}

/// The gateway's own paths on an app's host (signing in and out), if
/// `request` is for one of them.
pub async fn own_routes(
    _gateway: &Gateway,
    _route: &AppRoute,
    _request: &mut Request,
) -> Option<Response> {
    None
}
