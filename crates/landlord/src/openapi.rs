//! The OpenAPI document (generated from the handlers' annotations) and the
//! interactive page that shows it.

use axum::http::{header, HeaderValue};
use axum::middleware;
use axum::response::Response;
use axum::Router;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as OpenApiDoc, Ref, RefOr, ResponseBuilder, Schema};
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
        (name = "Outgoing webhooks", description = "The organization's endpoints, delivered per \
Standard Webhooks. Each message is POSTed as JSON `{\"id\", \"type\", \"version\", \"timestamp\", \"data\"}` \
with `webhook-id` (the event id, the same on every retry), `webhook-timestamp` (Unix seconds) and \
`webhook-signature` (`v1,<base64 of HMAC-SHA256(\"{id}.{timestamp}.{body}\")>` keyed with the base64 after \
`whsec_`; two, space-separated, during a rotation's 24 hours). 2xx is success; 410 disables the endpoint; \
other answers and timeouts (15 s) are retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (±20 %, or \
a longer `Retry-After`); an endpoint failing for 5 days is disabled and its owners mailed."),
        (name = "Marketplace", description = "Module: stores are organizations, buyers are \
people. Public catalog with full-text and distance search; carts; checkout with an `Idempotency-Key` that \
splits one order into one vendor order per store and reserves stock (never beyond it); payment confirmed \
only by the provider's signed webhook; fees `round_half_up(subtotal × fee_bps ÷ 10,000)`; fulfilment, \
reviews after delivery, the stores' ledgers and payouts; `/admin/marketplace` for operators."),
        (name = "Apps", description = "Module: organizations publish apps (each an OAuth \
client), other organizations install them from the directory; `/admin/apps` reviews them."),
        (name = "OAuth", description = "Landlord as an OAuth 2.1 / OpenID Connect provider, at the root \
of the server: discovery, `/oauth/authorize` (the console's consent page), `/oauth/token`, \
`/oauth/revoke`, `/oauth/introspect`, `/oauth/userinfo`, `/oauth/jwks`. Errors here use OAuth's own \
shape (`error`, `error_description`), not the API's envelope."),
        (name = "admin", description = "Operators only: figures, failed webhooks, discrepancies"),
        (name = "messages", description = "The metered messaging API (API key)"),
        (name = "operations", description = "Liveness, readiness, metrics, security.txt")
    ),
    components(schemas(
        landlord_core::error::ErrorEnvelope,
        landlord_core::error::ErrorCode,
        // Named by `GET /team/invitations`' `status` parameter.
        landlord_organizations::store::InvitationStatus
    ))
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
            landlord_identity::permissions::markdown_table(&crate::routes::permission_matrix())
        ));
        publish_event_catalog(&mut doc);
        doc
    }
}

/// The event catalog's section: a tag "Events" listing the types, and each
/// payload's schema among the components (`EventPayload_invoice_paid`).
fn publish_event_catalog(doc: &mut OpenApiDoc) {
    use landlord_events::EventType;
    let tag = utoipa::openapi::tag::TagBuilder::new()
        .name("Events")
        .description(Some(format!(
            "What happened to the organization, written in the same transaction as the change: \
             its history (`GET /events`) and the catalog (`GET /webhooks/event-types`). \
             Each type's payload is the component `EventPayload_<type>` (dots as underscores).\n\n{}",
            EventType::markdown_table()
        )))
        .build();
    doc.tags.get_or_insert_with(Vec::new).push(tag);
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in EventType::referenced_schemas() {
        components.schemas.entry(name).or_insert(schema);
    }
    for t in EventType::all() {
        components
            .schemas
            .insert(t.schema_name(), t.payload_schema());
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

/// Declares, on every operation, the error answers that the shared layers
/// can give whatever the handler: the contract must list every status a
/// route can answer, and these come from middleware and extractors rather
/// than from the handler's own annotation.
///
/// - every operation: 500 (a failure, without internals) and 503 (the
///   request timeout, or a dependency that is down);
/// - a JSON body: 400 (unreadable or not JSON), 413 (over the body limit),
///   422 (a field of the wrong shape, named);
/// - query parameters: 422 (a parameter of the wrong shape, named);
/// - a security requirement: 401 (missing, malformed, expired or revoked
///   credentials);
/// - a sensitive route or an API-key route: 429 (per-address or per-plan
///   limit, with `Retry-After`).
///
/// A handler's own annotation wins where it already declares the status.
pub fn declare_shared_responses(mut openapi: OpenApiDoc) -> OpenApiDoc {
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            ("GET", item.get.as_mut()),
            ("PUT", item.put.as_mut()),
            ("POST", item.post.as_mut()),
            ("DELETE", item.delete.as_mut()),
            ("PATCH", item.patch.as_mut()),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                declare_for_operation(path, method, operation);
            }
        }
    }
    openapi
}

const SHARED_ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "The request body is not JSON, or not sent as application/json",
    ),
    ("401", "Missing, malformed, expired or revoked credentials"),
    ("413", "The request body is over the configured limit"),
    (
        "422",
        "A field or parameter is invalid; `details.fields` names it",
    ),
    (
        "429",
        "Too many requests; `Retry-After` says when to try again",
    ),
    (
        "500",
        "An internal failure; the request id ties it to the log",
    ),
    (
        "503",
        "The request timed out, or a dependency is unavailable",
    ),
];

fn declare_for_operation(path: &str, method: &str, operation: &mut Operation) {
    let has_body = operation.request_body.is_some();
    let has_query = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query));
    // A requirement is a map from scheme name to scopes; `{}` means "none".
    let schemes: Vec<String> = operation
        .security
        .iter()
        .flatten()
        .filter_map(|requirement| serde_json::to_value(requirement).ok())
        .filter_map(|value| {
            value
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
        })
        .flatten()
        .collect();
    let sensitive = landlord_keys::sensitive::SENSITIVE_ROUTES
        .iter()
        .any(|(m, p)| *m == method && *p == path);

    if has_query {
        require_non_empty_query_values(operation);
    }

    let mut statuses = vec!["500", "503"];
    if has_body {
        statuses.extend(["400", "413", "422"]);
    }
    if has_query {
        statuses.push("422");
    }
    if !schemes.is_empty() {
        statuses.push("401");
    }
    if sensitive || schemes.iter().any(|s| s == "api_key") {
        statuses.push("429");
    }
    let responses = &mut operation.responses.responses;
    for status in statuses {
        if responses.contains_key(status) {
            continue;
        }
        let description = SHARED_ERRORS
            .iter()
            .find(|(s, _)| *s == status)
            .map_or("Error", |(_, d)| *d);
        let response = ResponseBuilder::new().description(description).content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorEnvelope"))),
        );
        responses.insert(status.to_string(), response.into());
    }
}

/// The API's query extractor refuses an empty value of any parameter
/// (`?status=`): every inline string parameter says so, with `minLength: 1`
/// or a pattern that needs a character (enums and numbers already exclude
/// the empty string). `cursor` is the
/// exception: empty is the first page, as its pattern and description say.
fn require_non_empty_query_values(operation: &mut Operation) {
    use landlord_core::http::pagination::EMPTY_MEANS_FIRST_PAGE;
    use utoipa::openapi::schema::{SchemaType, Type};
    for parameter in operation.parameters.iter_mut().flatten() {
        if !matches!(parameter.parameter_in, ParameterIn::Query)
            || parameter.name == EMPTY_MEANS_FIRST_PAGE
        {
            continue;
        }
        let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() else {
            continue;
        };
        let is_string = match &schema.schema_type {
            SchemaType::Type(t) => *t == Type::String,
            SchemaType::Array(types) => types.contains(&Type::String),
            SchemaType::AnyValue => false,
        };
        if !is_string {
            continue;
        }
        // A pattern that allows empty (`^(…)?$`) loses its `?` rather than
        // gaining a `minLength`: fuzzers read the two apart and take a
        // one-character string for valid.
        match schema.pattern.as_deref().map(without_empty_alternative) {
            Some(Some(pattern)) => schema.pattern = Some(pattern),
            Some(None) => {}
            None if schema.min_length.unwrap_or(0) == 0 => schema.min_length = Some(1),
            None => {}
        }
    }
}

/// `^(X)?$` as `^(X)$` when the group spans the whole pattern; `None` when
/// the pattern has another shape (left as it is).
fn without_empty_alternative(pattern: &str) -> Option<String> {
    let inner = pattern.strip_prefix("^(")?.strip_suffix(")?$")?;
    // The group must close only at the end: track depth, skipping escapes
    // and character classes.
    let mut depth = 0i32;
    let mut chars = inner.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => {}
        }
    }
    (depth == 0).then(|| format!("^({inner})$"))
}

/// Rules the derive cannot state: the plan catalog comes from configuration,
/// so the names a plan field accepts are known only at start-up (published
/// as the field's enum); a PATCH needs at least one field.
pub fn declare_request_rules(mut openapi: OpenApiDoc, plans: &[String]) -> OpenApiDoc {
    let Some(components) = openapi.components.as_mut() else {
        return openapi;
    };
    // A PATCH with nothing to change is refused (utoipa 5.5 cannot say so:
    // its `min_properties` attribute comes out as `maxProperties`).
    if let Some(RefOr::T(Schema::Object(request))) =
        components.schemas.get_mut("UpdateOrganizationRequest")
    {
        request.min_properties = Some(1);
    }
    if let Some(RefOr::T(Schema::Object(request))) = components.schemas.get_mut("UpgradeRequest") {
        if let Some(RefOr::T(Schema::Object(plan))) = request.properties.get_mut("plan") {
            plan.enum_values = Some(plans.iter().map(|p| serde_json::json!(p)).collect());
        }
    }
    openapi
}
