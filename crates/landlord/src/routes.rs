//! The whole router: every feature's routes under `/api/v1`, operations
//! endpoints at the root, the OpenAPI document and its interactive page,
//! all wrapped in the baseline middleware.

use axum::http::{HeaderMap, Uri};
use axum::middleware;
use axum::response::IntoResponse;
use axum::Router;
use landlord_core::error::ApiError;

use landlord_core::http::baseline::apply_baseline;
use landlord_core::http::layers::OnlyWhenLayer;
use landlord_core::http::middleware::RecordMetricsLayer;
use tower::Layer;
use utoipa_axum::router::OpenApiRouter;

use landlord_console::{Console, ConsoleState, Module, NavEntry, NavGroup};
use landlord_events::EventType;
use landlord_identity::permissions::{self, Permission};
use landlord_keys::sensitive::SensitiveLimits;
use sqlx::migrate::Migrator;

use crate::openapi::{declare_request_rules, declare_shared_responses, docs_router, ApiDoc};
use crate::state::AppState;
use crate::{operations, test_routes};

/// Builds the application's router for `state`.
pub fn build_router(state: AppState) -> Router {
    let config = state.config.clone();
    let modules = Modules::of(&state);
    let gateway = state.gateway.clone();
    let sensitive_limits = SensitiveLimits {
        limiter: state.keys.limiter.clone(),
        per_minute: config.sensitive_rate_limit_per_minute,
    };
    let api_v1: OpenApiRouter<AppState> = OpenApiRouter::new()
        .merge(landlord_identity::routes::router().with_state(state.identity.clone()))
        .merge(landlord_organizations::router().with_state(state.keys.clone()))
        .merge(landlord_metering::routes::router().with_state(state.identity.clone()))
        .merge(landlord_keys::routes::router().with_state(state.keys.clone()))
        .merge(landlord_billing::routes::router().with_state(state.billing.clone()))
        .merge(landlord_payments::routes::router().with_state(state.payments.clone()))
        .merge(landlord_admin::router().with_state(state.payments.clone()))
        .merge(landlord_alerts::router().with_state(state.payments.clone()))
        .merge(
            landlord_backup::router().with_state(landlord_backup::BackupsApi::new(
                state.identity.clone(),
                state.backups.clone(),
                backup_wait(&config),
            )),
        )
        .merge(landlord_webhooks::router().with_state(state.identity.clone()))
        .merge(if modules.inbox {
            landlord_inbox::router()
                .layer(axum::Extension(state.inbox_live.clone()))
                .with_state(state.inbox.clone())
        } else {
            OpenApiRouter::new()
        })
        .merge(if modules.marketplace {
            landlord_marketplace::router().with_state(state.marketplace.clone())
        } else {
            OpenApiRouter::new()
        })
        .merge(if modules.apps {
            landlord_apps::api_router().with_state(state.apps.clone())
        } else {
            OpenApiRouter::new()
        })
        .merge(
            // Twilio's status callbacks: no key, a signature.
            landlord_messages::routes::callbacks_router().with_state(state.messages.clone()),
        )
        .merge(
            // API-key routes: the guard authenticates, limits and meters.
            landlord_messages::routes::router()
                .route_layer(landlord_keys::ApiKeyGuardLayer::new(state.keys.clone()))
                .with_state(state.messages.clone()),
        );
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::build())
        .merge(operations::router())
        .merge(if modules.apps {
            // The OAuth / OpenID Connect provider lives at the root, where
            // clients look for it.
            landlord_apps::provider_router().with_state(state.apps.clone())
        } else {
            OpenApiRouter::new()
        })
        // The API's operations carry their whole path (`/api/v1/…`) and
        // are merged, not nested: a nested router strips its prefix from
        // every request's URI, rebuilding it (an allocation and a parse
        // per API request).
        .merge(api_v1)
        .split_for_parts();

    let plans: Vec<String> = config.plans.keys().cloned().collect();
    let openapi = declare_request_rules(declare_shared_responses(openapi), &plans);
    let mut router = router.merge(docs_router(openapi));
    let console = config.console;
    let mut console_state = None;
    if config.console {
        // Plain axum routes: the console's pages are not API operations
        // and stay out of the OpenAPI document.
        let (pages, shell) = console_router(&state, sensitive_limits.clone());
        router = router.merge(pages);
        console_state = Some(shell);
    }
    if config.enable_test_routes {
        router = router.merge(test_routes::router());
    }
    // Every layer a matched route needs, in one `route_layer`: axum wraps
    // each route once per call and clones the wrapped stack per request,
    // so one level costs less than three.
    let route_layers = tower::ServiceBuilder::new()
        // Built after `build_state` installed the recorder.
        .layer(RecordMetricsLayer::new())
        .layer(OnlyWhenLayer::new(
            landlord_keys::sensitive::is_sensitive,
            middleware::from_fn_with_state(
                sensitive_limits,
                landlord_keys::sensitive::limit_sensitive_routes,
            ),
        ))
        // Requests made with an installed app's token are metered under
        // its organization.
        .option_layer(modules.apps.then(|| {
            OnlyWhenLayer::new(
                |request: &axum::extract::Request| {
                    request.uri().path().starts_with("/api/v1/")
                        && landlord_apps::app_tokens::carries_app_token(request)
                },
                middleware::from_fn_with_state(
                    state.keys.usage.clone(),
                    landlord_apps::app_tokens::meter,
                ),
            )
        }));
    let router = router
        .route_layer(route_layers)
        .fallback(move |uri: Uri, headers: HeaderMap| async move {
            // A browser that followed a wrong link gets a page it can read.
            let page = console
                .then(|| landlord_console::not_found_page(uri.path(), &headers))
                .flatten();
            page.unwrap_or_else(|| ApiError::NotFound("no such route".into()).into_response())
        })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("this route does not accept that method".into())
        })
        .with_state(state);
    // Every error page (the fallback's 404 included) keeps a signed-in
    // person's navigation.
    let navigation = console_state.map(|shell| {
        OnlyWhenLayer::new(
            landlord_console::carries_session,
            middleware::from_fn_with_state(shell, landlord_console::with_navigation),
        )
    });
    let platform = apply_baseline(tower::util::option_layer(navigation).layer(router), &config);
    if modules.apps {
        // The first thing a request meets: its host says whether it is
        // the platform's (on to the above), an app's (the gateway serves
        // it, with its own limits, timeouts and headers) or no one's.
        Router::new().fallback_service(landlord_apps::gateway::HostDispatch::new(gateway, platform))
    } else {
        Router::new().fallback_service(platform)
    }
}

/// The modules switched on: each one's API routes, console pages and
/// navigation entries are there, or none of them.
#[derive(Debug, Clone, Copy)]
struct Modules {
    inbox: bool,
    marketplace: bool,
    apps: bool,
}

impl Modules {
    fn of(state: &AppState) -> Self {
        Self {
            inbox: state
                .config
                .section::<landlord_inbox::config::InboxConfig>()
                .enabled,
            marketplace: state
                .config
                .section::<landlord_marketplace::config::MarketplaceConfig>()
                .enabled,
            apps: state
                .config
                .section::<landlord_apps::config::AppsConfig>()
                .enabled,
        }
    }
}

/// The event catalog, in its order: the core's types, then each module's.
/// A module's types stay in it when the module is switched off: the
/// catalog, the filters and the OpenAPI document do not depend on the
/// configuration. Installed once at start-up (`Application::build`).
pub fn event_catalog() -> Vec<EventType> {
    [
        landlord_events::payloads::CORE,
        landlord_inbox::events::EVENT_TYPES,
        landlord_marketplace::events::EVENT_TYPES,
        landlord_apps::events::EVENT_TYPES,
    ]
    .concat()
}

/// Every module's migrations, passed to `Db::migrate` with core's. They are
/// applied whether or not the module is switched on: its tables then exist
/// when it is turned on later, and every database keeps the one history of
/// versions (sqlx refuses a database that applied a version it does not
/// know).
pub static MODULE_MIGRATIONS: &[&Migrator] = &[
    &landlord_inbox::MIGRATOR,
    &landlord_marketplace::MIGRATOR,
    &landlord_apps::MIGRATOR,
    &landlord_backup::MIGRATOR,
];

/// Every permission, in the order the documentation's matrix lists them:
/// the organization's, each module's (switched on or not), then billing's.
pub fn permission_matrix() -> Vec<Permission> {
    [
        permissions::ORGANIZATION,
        landlord_inbox::permissions::PERMISSIONS,
        landlord_marketplace::permissions::PERMISSIONS,
        landlord_apps::permissions::PERMISSIONS,
        permissions::BILLING,
    ]
    .concat()
}

/// The console: the shell and the pages of every module switched on, and
/// the shell's state (for the error pages' navigation).
fn console_router(
    state: &AppState,
    sensitive_limits: SensitiveLimits,
) -> (Router<AppState>, ConsoleState) {
    let modules = Modules::of(state);
    let mut console = Console::new(
        state.identity.clone(),
        sensitive_limits,
        &state.token_signing_key,
    );
    console = console
        .with(landlord_billing::pages::console_pages(
            state.billing.clone(),
        ))
        .with(landlord_keys::pages::console_pages(state.keys.clone()))
        .with(landlord_payments::pages::console_pages(
            state.payments.clone(),
        ))
        .with(landlord_organizations::pages::console_pages(
            state.keys.clone(),
        ))
        .with(landlord_admin::pages::console_pages(state.payments.clone()))
        .with(landlord_webhooks::pages::console_pages())
        .with(docs_nav())
        .with(landlord_alerts::pages::console_pages(
            state.payments.clone(),
        ))
        .with(landlord_backup::pages::console_pages(
            state.backups.clone(),
            backup_wait(&state.config),
        ));
    if modules.inbox {
        console = console.with(landlord_inbox::pages::console_pages(
            state.inbox_live.clone(),
            state.inbox.clone(),
        ));
    }
    if modules.marketplace {
        console = console.with(landlord_marketplace::pages::console_pages(
            state.marketplace.clone(),
        ));
    }
    if modules.apps {
        console = console.with(landlord_apps::pages::console_pages(state.apps.clone()));
    }
    let (router, shell) = console.build();
    (router.with_state(()), shell)
}

/// How long "back up now" waits for its snapshot before answering that it
/// runs on in the background: well within the request timeout.
fn backup_wait(config: &landlord_core::Config) -> std::time::Duration {
    landlord_backup::routes::WAIT_FOR_SNAPSHOT.min(config.request_timeout() * 2 / 3)
}

/// The API's documentation (`/docs`, served beside the API) in the
/// console's Developers group.
fn docs_nav() -> Module {
    Module::new("docs").organization_nav(
        NavEntry::new("docs", "API docs", "/docs", 90)
            .in_group(NavGroup::DEVELOPERS)
            .absolute(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use landlord_core::db::combined_migrator;
    use landlord_identity::Role;

    use super::*;

    /// The `.sql` files of core's and the modules' migration folders, by
    /// version.
    fn migration_files() -> Vec<(i64, String)> {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for folder in ["core", "inbox", "marketplace", "apps", "backup"] {
            let dir = crates.join(folder).join("migrations");
            for entry in std::fs::read_dir(&dir).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                let Some(stem) = name.strip_suffix(".sql") else {
                    continue;
                };
                let version = stem.split('_').next().unwrap().parse().unwrap();
                files.push((version, name));
            }
        }
        files.sort();
        files
    }

    #[test]
    fn the_combined_migrations_are_the_five_folders_in_version_order() {
        let migrator = combined_migrator(MODULE_MIGRATIONS).unwrap();
        let versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
        assert!(
            versions.windows(2).all(|pair| pair[0] < pair[1]),
            "{versions:?}"
        );
        let files: Vec<i64> = migration_files().iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, files);
        let parts = landlord_core::db::MIGRATOR.iter().count()
            + MODULE_MIGRATIONS
                .iter()
                .map(|m| m.iter().count())
                .sum::<usize>();
        assert_eq!(versions.len(), parts);
        assert!(MODULE_MIGRATIONS.iter().all(|m| m.iter().count() > 0));
    }

    #[test]
    fn every_permission_has_exactly_one_row_in_the_matrix() {
        let matrix = permission_matrix();
        for permission in &matrix {
            let rows = matrix
                .iter()
                .filter(|p| p.as_str() == permission.as_str())
                .count();
            assert_eq!(rows, 1, "{}", permission.as_str());
        }
        assert_eq!(matrix.len(), 27);
        assert_eq!(matrix.first().map(|p| p.as_str()), Some("view_dashboard"));
        assert_eq!(matrix.last().map(|p| p.as_str()), Some("pay_invoices"));
        let table = permissions::markdown_table(&matrix);
        assert!(table.contains("| `use_inbox` | yes | yes | yes |"));
        assert!(table.contains("| `view_earnings` | yes | yes | no |"));
        assert!(permissions::allows(
            Role::Member,
            landlord_marketplace::permissions::FULFIL_ORDERS
        ));
    }
}
