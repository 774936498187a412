//! The web console's shell: server-rendered pages served by the binary at
//! the root of `public_url`, and the interface through which a feature
//! brings its own pages.
//!
//! A page request flows: session cookie → [`Visitor`] (the refresh
//! session behind the cookie, checked live at every request) → the
//! organization in the URL (membership checked by [`tenant`] or
//! [`member`]: 404 otherwise) → the same feature function as the API
//! route → a template ([`Page::render`]). Every form carries a CSRF token
//! checked on POST ([`Gate::Form`]). The routes are a plain axum
//! `Router`, not part of the OpenAPI document.
//!
//! # What the shell keeps
//!
//! What every page shares: the layout and its navigation, the session and
//! visitor, CSRF tokens, one-time notices after a redirect ([`Flash`],
//! [`Page::redirect_with`]), form errors ([`FormErrors`]), error pages
//! ([`PageError`]), the template environment, the static assets
//! (stylesheet, copy buttons), the access checks, and the session pages
//! themselves (sign-up, sign-in, account, invitations).
//!
//! # How a feature brings its pages
//!
//! A feature crate keeps its pages in `src/pages/` and its templates in
//! `templates/`, and offers one function building a [`Module`]:
//!
//! ```ignore
//! pub fn console_pages(library: LibraryState) -> Module {
//!     Module::new("library")
//!         .templates(TEMPLATES) // [(name, include_str!(…))]
//!         .stylesheet(include_str!("../../static/library.css"))
//!         .routes(move |console| routes().with_state(Pages::new(console, library)))
//!         .organization_nav(NavEntry::new("books", "Books", "/books", 10)
//!             .in_group(NavGroup::new("library", "Library", 70))
//!             .requires(permissions::LEND_BOOKS))
//! }
//! ```
//!
//! The binary decides which modules are on, in one place:
//! `Console::new(…).with(keys_pages).with(library_pages).router()`. A
//! module left out has no routes (404), no templates and no navigation
//! entries. The navigation lists each group ([`NavGroup`]: the core's
//! Organization, Developers and Billing, then one per module) with the
//! entries the person's role allows; a group left empty is not shown. A module's routes get the shell's [`ConsoleState`] when the
//! router is built and may wrap it in their own state (anything the shell
//! state can be taken from with `FromRef`, which [`Visitor`] needs); its
//! template names must not collide with another's (prefix them with the
//! module's name).

mod access;
pub mod chart;
mod csrf;
mod flash;
pub mod format;
mod pages;
mod session;
mod templates;
mod web;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use landlord_identity::permissions::Permission;
use landlord_identity::sensitive::SensitiveLimits;
use landlord_identity::IdentityState;

pub use access::{member, operator, operator_base, signed_in, tenant, Found, Gate, Operator};
pub use flash::{Flash, FLASH_TTL};
pub use pages::base;
pub use pages::public::{limit, TokenQuery};
pub use session::{FormToken, Visitor, CSRF_COOKIE, SESSION_COOKIE};
pub use templates::{check_templates, context, Context, Templates};
pub use web::{
    api, csp_with, encode, finish, refusal, script, script_version, sentence, FormErrors, Page,
    PageError,
};

/// What the console's pages need: one `Arc`.
#[derive(Clone)]
pub struct ConsoleState(Arc<ConsoleInner>);

/// The services behind [`ConsoleState`], reached through `Deref`.
pub struct ConsoleInner {
    /// Accounts, sessions and the server's configuration.
    pub identity: IdentityState,
    /// The per-address budgets of sensitive API routes, which the pages
    /// doing the same work share.
    pub sensitive: SensitiveLimits,
    /// The navigation entries the registered modules bring.
    navigation: Navigation,
    /// The registered modules' stylesheets (`/static/{module}.css?v=…`),
    /// linked by every page after the shell's, in registration order.
    stylesheets: Vec<String>,
    /// Key of the CSRF tokens (derived from the server's signing key).
    csrf_key: Vec<u8>,
    /// `Secure` cookies: `public_url` is https.
    secure_cookies: bool,
}

impl std::ops::Deref for ConsoleState {
    type Target = ConsoleInner;

    fn deref(&self) -> &ConsoleInner {
        &self.0
    }
}

impl ConsoleInner {
    pub fn identity(&self) -> &IdentityState {
        &self.identity
    }
}

/// A titled group of the navigation's links: the core's groups, or a
/// module's own (one group per module, so switching the module off takes
/// its heading away with its links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavGroup {
    pub key: &'static str,
    pub label: &'static str,
    /// Place among the groups, smallest first (the core's take 10 to 30).
    pub order: u16,
}

impl NavGroup {
    /// Overview, team, settings, audit log.
    pub const ORGANIZATION: NavGroup = NavGroup::new("organization", "Organization", 10);
    /// API keys, webhooks, events, the API's documentation.
    pub const DEVELOPERS: NavGroup = NavGroup::new("developers", "Developers", 20);
    /// Plan, invoices and payments.
    pub const BILLING: NavGroup = NavGroup::new("billing", "Billing", 30);

    /// A module's group, placed after the core's when `order` is above 30.
    pub const fn new(key: &'static str, label: &'static str, order: u16) -> Self {
        Self { key, label, order }
    }
}

/// A link of the console's navigation.
#[derive(Debug, Clone)]
pub struct NavEntry {
    /// The page's `nav` (organization and personal entries) or `section`
    /// (operator entries) value, which marks the link as current.
    pub key: &'static str,
    pub label: &'static str,
    /// Organization entries: the path under `/o/{organization_id}` (`""`
    /// for the overview) unless [`NavEntry::absolute`]; other entries:
    /// the absolute path.
    pub path: &'static str,
    /// Shown only to members whose role allows it (organization entries).
    pub permission: Option<Permission>,
    /// Place among the entries of its group, smallest first.
    pub order: u16,
    /// The group it is listed in (organization and personal entries).
    pub group: NavGroup,
    /// An organization entry whose path is not under the organization's.
    pub absolute: bool,
}

impl NavEntry {
    /// An entry of the "Organization" group (see [`NavEntry::in_group`]).
    pub fn new(key: &'static str, label: &'static str, path: &'static str, order: u16) -> Self {
        Self {
            key,
            label,
            path,
            permission: None,
            order,
            group: NavGroup::ORGANIZATION,
            absolute: false,
        }
    }

    /// Shown only to members whose role allows `permission`.
    pub fn requires(mut self, permission: Permission) -> Self {
        self.permission = Some(permission);
        self
    }

    /// Listed in `group`.
    pub fn in_group(mut self, group: NavGroup) -> Self {
        self.group = group;
        self
    }

    /// An organization entry leading to `path` as it is (a page outside
    /// the organization's, such as the API's documentation).
    pub fn absolute(mut self) -> Self {
        self.absolute = true;
        self
    }
}

/// Every module's navigation entries, in order.
#[derive(Debug, Default, Clone)]
struct Navigation {
    /// The organization's navigation (`/o/{organization_id}…`).
    organization: Vec<NavEntry>,
    /// The signed-in person's own links (absolute paths), listed in their
    /// group beside the organization's.
    personal: Vec<NavEntry>,
    /// The operator console's sub-navigation, after the core's sections.
    operator: Vec<NavEntry>,
}

impl Navigation {
    fn add(&mut self, other: Navigation) {
        self.organization.extend(other.organization);
        self.personal.extend(other.personal);
        self.operator.extend(other.operator);
        for list in [
            &mut self.organization,
            &mut self.personal,
            &mut self.operator,
        ] {
            list.sort_by_key(|entry| (entry.group.order, entry.order));
        }
    }
}

type Routes = Box<dyn FnOnce(ConsoleState) -> Router + Send>;

/// What a feature brings to the console: its routes, templates and
/// navigation entries.
pub struct Module {
    name: &'static str,
    routes: Option<Routes>,
    templates: Templates,
    stylesheet: Option<&'static str>,
    navigation: Navigation,
}

impl Module {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            routes: None,
            templates: &[],
            stylesheet: None,
            navigation: Navigation::default(),
        }
    }

    /// The module's name (for logs).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The module's routes, built from the shell's state once the console
    /// is assembled.
    pub fn routes(mut self, routes: impl FnOnce(ConsoleState) -> Router + Send + 'static) -> Self {
        self.routes = Some(Box::new(routes));
        self
    }

    /// The module's templates: `(name, source)` pairs, usually
    /// `include_str!` of the files in the crate's `templates/`.
    pub fn templates(mut self, templates: Templates) -> Self {
        self.templates = templates;
        self
    }

    /// The module's styles, served at `/static/{name}.css` and linked by
    /// every page after the shell's stylesheet (the module's pages use
    /// them; a module switched off takes them away).
    pub fn stylesheet(mut self, css: &'static str) -> Self {
        self.stylesheet = Some(css);
        self
    }

    /// An entry of the organization's navigation.
    pub fn organization_nav(mut self, entry: NavEntry) -> Self {
        self.navigation.organization.push(entry);
        self
    }

    /// An entry of the signed-in person's own links (an absolute path,
    /// listed in its group beside the organization's entries).
    pub fn personal_nav(mut self, entry: NavEntry) -> Self {
        self.navigation.personal.push(entry);
        self
    }

    /// An entry of the operator console's sub-navigation.
    pub fn operator_nav(mut self, entry: NavEntry) -> Self {
        self.navigation.operator.push(entry);
        self
    }
}

/// The console being assembled: the shell's services and the modules
/// registered so far.
pub struct Console {
    identity: IdentityState,
    sensitive: SensitiveLimits,
    csrf_key: Vec<u8>,
    modules: Vec<Module>,
}

impl Console {
    /// `secret` is the server's token signing key; the CSRF key is derived
    /// from it, so every instance computes the same tokens.
    pub fn new(identity: IdentityState, sensitive: SensitiveLimits, secret: &str) -> Self {
        Self {
            identity,
            sensitive,
            csrf_key: csrf::derive_key(secret),
            modules: Vec::new(),
        }
    }

    /// Registers `module`'s pages, templates and navigation entries.
    pub fn with(mut self, module: Module) -> Self {
        self.modules.push(module);
        self
    }

    /// The console's routes (the shell's and every registered module's),
    /// ready to merge into the application's router.
    pub fn router(self) -> Router {
        self.build().0
    }

    /// [`Console::router`], and the shell's state for
    /// [`with_navigation`] (a layer over the application's whole router,
    /// so that its fallback's 404 page keeps the navigation too).
    pub fn build(self) -> (Router, ConsoleState) {
        let mut navigation = Navigation::default();
        let mut routes = Vec::new();
        let mut stylesheets = Vec::new();
        let mut stylesheet_routes = Router::new();
        for module in self.modules {
            templates::register(module.templates);
            navigation.add(module.navigation);
            routes.extend(module.routes);
            if let Some(css) = module.stylesheet {
                let path = format!("/static/{}.css", module.name);
                stylesheets.push(format!("{path}?v={}", web::script_version(css)));
                stylesheet_routes =
                    stylesheet_routes.route(&path, get(move || async move { web::css(css) }));
            }
            tracing::debug!(module = module.name, "console module registered");
        }
        let secure_cookies = self.identity.config.public_url.starts_with("https://");
        let state = ConsoleState(Arc::new(ConsoleInner {
            identity: self.identity,
            sensitive: self.sensitive,
            navigation,
            stylesheets,
            csrf_key: self.csrf_key,
            secure_cookies,
        }));
        let mut router = pages::router()
            .with_state(state.clone())
            .merge(stylesheet_routes);
        for module_routes in routes {
            router = router.merge(module_routes(state.clone()));
        }
        (router, state)
    }
}

/// Whether `request` carries a console session: the requests
/// [`with_navigation`] is for (`OnlyWhenLayer`); the others pass by it.
pub fn carries_session(request: &axum::extract::Request) -> bool {
    session::cookie_in(request.headers(), SESSION_COOKIE).is_some()
}

/// A middleware: an error page answered to a signed-in person (the 404
/// page, a refused form, a failure) is rendered again with the layout's
/// navigation, in the organization of the URL when it is theirs, so that
/// the person is never left without a way on. Other answers pass as they
/// are.
pub async fn with_navigation(
    axum::extract::State(state): axum::extract::State<ConsoleState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let token = session::cookie_in(request.headers(), SESSION_COOKIE).map(str::to_owned);
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let (Some(token), Some(view)) = (
        token,
        response.extensions().get::<web::ErrorView>().cloned(),
    ) else {
        return response;
    };
    match pages::error_context(&state, &token, &path).await {
        Ok(Some(context)) => {
            let body = view.render(context);
            response
                .headers_mut()
                .remove(axum::http::header::CONTENT_LENGTH);
            *response.body_mut() = axum::body::Body::from(body);
            response
        }
        // Signed out (or the session is over): the page as it was.
        Ok(None) => response,
        Err(error) => {
            tracing::warn!(?error, "the error page's navigation could not be built");
            response
        }
    }
}

/// The answer to a browser asking for a path nobody serves: the console's
/// readable 404 page rather than the API's JSON envelope. `None` for API
/// paths and for clients that do not ask for HTML.
pub fn not_found_page(
    path: &str,
    headers: &axum::http::HeaderMap,
) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    let wants_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    (wants_html && !path.starts_with("/api/")).then(|| web::PageError::NotFound.into_response())
}

/// The shell's static assets.
fn static_routes() -> Router<ConsoleState> {
    Router::new()
        .route("/static/console.css", get(web::stylesheet))
        .route("/static/copy.js", get(web::copy_script))
        .route("/static/nav.js", get(web::nav_script))
}
