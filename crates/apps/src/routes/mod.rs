//! The module's routes (thin: each calls the feature): the API under
//! `/api/v1` ([`api_router`]) and the OAuth / OpenID Connect provider at
//! the root of the server ([`provider_router`]).

pub mod admin;
pub mod authorized;
pub mod developer;
pub mod directory;
pub mod discovery;
pub mod domains;
pub mod installations;
pub mod provider;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppsState;

pub const TAG: &str = "Apps";

/// The routes under `/api/v1`.
pub fn api_router() -> OpenApiRouter<AppsState> {
    OpenApiRouter::new()
        .routes(routes!(developer::create, developer::list))
        // Managing an app, and its review.
        .routes(routes!(
            developer::get,
            developer::update,
            developer::delete
        ))
        .routes(routes!(developer::rotate_secret))
        .routes(routes!(developer::rotate_gateway_secret))
        .routes(routes!(developer::submit))
        .routes(routes!(admin::list))
        .routes(routes!(admin::publish))
        .routes(routes!(admin::suspend))
        .routes(routes!(admin::reject))
        .routes(routes!(directory::list))
        .routes(routes!(directory::get))
        .routes(routes!(installations::install, installations::list))
        .routes(routes!(
            installations::get,
            installations::update,
            installations::uninstall
        ))
        .routes(routes!(authorized::list))
        .routes(routes!(authorized::revoke))
        .merge(domains::router())
        .routes(routes!(developer::traffic))
}

/// The provider's endpoints: `/oauth/…` and the discovery documents.
pub fn provider_router() -> OpenApiRouter<AppsState> {
    use utoipa::OpenApi;
    OpenApiRouter::new()
        .routes(routes!(discovery::openid_configuration))
        .routes(routes!(discovery::authorization_server_metadata))
        .routes(routes!(discovery::jwks))
        // The authorization code flow: `/oauth/authorize` is the console's
        // page (described here), the rest are the client's endpoints.
        .merge(OpenApiRouter::with_openapi(
            provider::AuthorizeDoc::openapi(),
        ))
        .routes(routes!(provider::token))
        .routes(routes!(provider::revoke))
        .routes(routes!(provider::introspect))
        .routes(routes!(provider::userinfo, provider::userinfo_post))
}
