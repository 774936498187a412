//! `/apps/{id}/domains…`: an app's custom domains, as its developers
//! manage them (see [`crate::gateway::domains`]).

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ApiError;
use landlord_identity::permissions::Authorized;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateway::domains::{self, AddDomainRequest, DeletedDomain, DomainView};
use crate::permissions::needs;
use crate::AppsState;

/// The routes, merged into the module's API.
pub fn router() -> OpenApiRouter<AppsState> {
    OpenApiRouter::new()
        .routes(routes!(add, list))
        .routes(routes!(verify))
        .routes(routes!(remove))
}

/// Add a custom domain to an app. It is `pending` until the TXT record in
/// the answer (`_landlord-challenge.{domain}`, holding the challenge) is
/// found; then it is verified and routed to the app. At most 10 domains
/// per app.
#[utoipa::path(
    post, path = "/api/v1/apps/{id}/domains", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id (its client_id)")),
    request_body = AddDomainRequest,
    responses(
        (status = 201, description = "Added, pending; the record to publish is in `record`", body = Envelope<DomainView>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
        (status = 409, description = "The app already has this domain, another app verified it, or it is reserved after another organization removed it", body = ErrorEnvelope),
        (status = 422, description = "`domain` is not a lower-case DNS name of two labels or more (at most 253 characters), is an IP address, is under the platform's apps domain or its own host, or the app has 10 domains already", body = ErrorEnvelope),
    )
)]
pub async fn add(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<AddDomainRequest>,
) -> Result<ApiSuccess<DomainView>, ApiError> {
    Ok(ApiSuccess::created(
        domains::add(&state, &user, &client, &id, body).await?,
    ))
}

/// An app's custom domains, oldest first, with their records and states.
#[utoipa::path(
    get, path = "/api/v1/apps/{id}/domains", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id (its client_id)")),
    responses(
        (status = 200, description = "The app's domains", body = Envelope<Vec<DomainView>>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<Vec<DomainView>>, ApiError> {
    Ok(ApiSuccess::ok(
        domains::list(&state, &user.organization_id, &id).await?,
    ))
}

/// Check a domain's TXT record now: verified (and routed), or a 422 that
/// says what was found (also kept as the domain's `last_error`).
#[utoipa::path(
    post, path = "/api/v1/apps/{id}/domains/{domain_id}/verify", tag = "Apps",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The app's id (its client_id)"),
        ("domain_id" = String, Path, description = "The domain's id"),
    ),
    responses(
        (status = 200, description = "Verified: the domain is routed to the app", body = Envelope<DomainView>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app or domain in this organization", body = ErrorEnvelope),
        (status = 409, description = "Another app verified this domain", body = ErrorEnvelope),
        (status = 422, description = "Not verified: the record is missing or holds something else, or the lookup failed (the message says what was found)", body = ErrorEnvelope),
    )
)]
pub async fn verify(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    client: ClientInfo,
    Path((id, domain_id)): Path<(String, String)>,
) -> Result<ApiSuccess<DomainView>, ApiError> {
    Ok(ApiSuccess::ok(
        domains::verify(&state, &user, &client, &id, &domain_id).await?,
    ))
}

/// Remove a custom domain: it stops reaching the app at once, and stays
/// reserved for this organization for `apps.slug_quarantine_days` (30 by
/// default).
#[utoipa::path(
    delete, path = "/api/v1/apps/{id}/domains/{domain_id}", tag = "Apps",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The app's id (its client_id)"),
        ("domain_id" = String, Path, description = "The domain's id"),
    ),
    responses(
        (status = 200, description = "Removed; the domain as it was, and until when it stays reserved", body = Envelope<DeletedDomain>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app or domain in this organization", body = ErrorEnvelope),
    )
)]
pub async fn remove(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    client: ClientInfo,
    Path((id, domain_id)): Path<(String, String)>,
) -> Result<ApiSuccess<DeletedDomain>, ApiError> {
    Ok(ApiSuccess::ok(
        domains::remove(&state, &user, &client, &id, &domain_id).await?,
    ))
}
