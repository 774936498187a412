//! The OpenAPI document (generated from the handlers' annotations) and the
//! interactive page that shows it.

use axum::http::{header, HeaderValue};
use axum::middleware;
use axum::response::Response;
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Landlord",
        description = "The multi-tenant backend of a SaaS product: organizations and teams, \
sign-up and sessions, roles, API keys, per-plan rate limits and quotas, usage metering, \
invoices and payments.\n\nEvery JSON answer is an envelope: `{\"success\": true, \"data\": …, \"meta\": …}` \
or `{\"success\": false, \"error\": {\"code\", \"message\", \"details\", \"request_id\"}}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerSecurity),
    tags(
        (name = "auth", description = "Accounts, sessions, email verification, password reset"),
        (name = "team", description = "Members, roles, invitations, ownership"),
        (name = "organization", description = "The active organization's settings"),
        (name = "audit", description = "The organization's audit trail"),
        (name = "keys", description = "API keys for programs; verifying a key from another service"),
        (name = "usage", description = "Metered usage and dashboard figures"),
        (name = "billing", description = "Monthly billing cycles, plan changes and payments"),
        (name = "webhooks", description = "Signed events from Stripe and Paystack"),
        (name = "admin", description = "Operators only: figures, failed webhooks, discrepancies"),
        (name = "messages", description = "The metered messaging API (API key)"),
        (name = "operations", description = "Liveness, readiness, metrics, security.txt")
    ),
    components(schemas(landlord_core::error::ErrorEnvelope, landlord_core::error::ErrorCode))
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme that signed-in routes require.
struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from /api/v1/auth/login, /register or /refresh",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The configured metrics_token (GET /metrics)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "sk_live_ followed by 64 hex characters (also accepted as Authorization: Bearer)",
            ))),
        );
    }
}

impl ApiDoc {
    pub fn build() -> OpenApiDoc {
        let mut doc = Self::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        // Publish the permission policy from the one place it is defined.
        let description = doc.info.description.take().unwrap_or_default();
        doc.info.description = Some(format!(
            "{description}\n\n## Permissions\n\nOrganization-scoped routes need a permission; \
             a role without it gets 403 FORBIDDEN naming it. Members may always revoke their own API keys.\n\n{}",
            landlord_identity::permissions::markdown_table()
        ));
        doc
    }
}

/// `GET /openapi.json` and the Swagger UI at `/docs`, served from files
/// embedded in the binary (no CDN).
pub fn docs_router(openapi: OpenApiDoc) -> Router<AppState> {
    let swagger: Router<AppState> = SwaggerUi::new("/docs").url("/openapi.json", openapi).into();
    swagger.layer(middleware::map_response(docs_content_security_policy))
}

/// Swagger UI styles its widgets inline and shows data: images; the rest
/// of the API keeps the strict `default-src 'self'`.
async fn docs_content_security_policy(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
        ),
    );
    response
}
