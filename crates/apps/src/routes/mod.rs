//! The module's routes (thin: each calls the feature): the API under
//! `/api/v1` ([`api_router`]) and the OAuth / OpenID Connect provider at
//! the root of the server ([`provider_router`]).

pub mod authorized;
pub mod developer;
pub mod discovery;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppsState;

pub const TAG: &str = "Apps";

/// The routes under `/api/v1`.
pub fn api_router() -> OpenApiRouter<AppsState> {
    OpenApiRouter::new()
        .routes(routes!(developer::create, developer::list))
        .routes(routes!(authorized::list))
        .routes(routes!(authorized::revoke))
}

/// The provider's endpoints: `/oauth/…` and the discovery documents.
pub fn provider_router() -> OpenApiRouter<AppsState> {
    OpenApiRouter::new()
        .routes(routes!(discovery::openid_configuration))
        .routes(routes!(discovery::authorization_server_metadata))
        .routes(routes!(discovery::jwks))
}
