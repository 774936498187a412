//! The web console (DESIGN.md §13): server-rendered pages served by the
//! binary at the root of `public_url`.
//!
//! A page request flows: session cookie → [`session::Visitor`] (the refresh
//! session behind the cookie, checked live at every request) → the
//! organization in the URL (membership checked: 404 otherwise) → the same
//! feature function as the API route → a template. Every form carries a
//! CSRF token checked on POST. The routes are a plain axum `Router`, not
//! part of the OpenAPI document.

mod access;
mod csrf;
mod pages;
mod session;
mod templates;
mod web;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use landlord_identity::IdentityState;
use landlord_keys::sensitive::SensitiveLimits;
use landlord_keys::KeysState;
use landlord_payments::routes::PaymentsState;

pub use session::{CSRF_COOKIE, SESSION_COOKIE};

/// What the console's pages need: one `Arc`.
#[derive(Clone)]
pub struct ConsoleState(Arc<ConsoleInner>);

/// The services behind [`ConsoleState`], reached through `Deref`.
pub struct ConsoleInner {
    pub keys: KeysState,
    /// Payment providers and the admin's services (billing and operator
    /// pages); holds the same `KeysState` as `keys`.
    pub payments: PaymentsState,
    /// The per-address budgets of sensitive API routes, which the pages
    /// doing the same work share.
    pub sensitive: SensitiveLimits,
    /// The Inbox's realtime wake-ups (the inbox page's stream, replies).
    pub inbox_live: landlord_inbox::live::Live,
    /// The Marketplace's services (its buyer, store and operator pages);
    /// holds the same `KeysState` as `keys`.
    pub marketplace: landlord_marketplace::MarketplaceState,
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
        &self.keys.identity
    }
}

impl ConsoleState {
    /// `secret` is the server's token signing key; the CSRF key is derived
    /// from it, so every instance computes the same tokens.
    pub fn new(
        payments: PaymentsState,
        sensitive: SensitiveLimits,
        secret: &str,
        inbox_live: landlord_inbox::live::Live,
        marketplace: landlord_marketplace::MarketplaceState,
    ) -> Self {
        let keys = payments.keys.clone();
        let secure_cookies = keys.config.public_url.starts_with("https://");
        Self(Arc::new(ConsoleInner {
            keys,
            payments,
            sensitive,
            inbox_live,
            marketplace,
            csrf_key: csrf::derive_key(secret),
            secure_cookies,
        }))
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

/// The console's routes, ready to merge into the application's router:
/// each page module brings its own.
pub fn router<S: Clone + Send + Sync + 'static>(state: ConsoleState) -> Router<S> {
    Router::new()
        .route("/static/console.css", get(web::stylesheet))
        .route("/static/copy.js", get(web::copy_script))
        .route("/static/inbox.js", get(web::inbox_script))
        .merge(pages::public::routes())
        .merge(pages::invitation::routes())
        .merge(pages::organization::routes())
        .merge(pages::keys::routes())
        .merge(pages::billing::routes())
        .merge(pages::team::routes())
        .merge(pages::account::routes())
        .merge(pages::settings::routes())
        .merge(pages::audit::routes())
        .merge(pages::events::routes())
        .merge(pages::webhooks::routes())
        .merge(pages::inbox::routes())
        .merge(pages::operator::routes())
        .merge(pages::operator_marketplace::routes())
        .merge(pages::market::routes())
        .merge(pages::store::routes())
        .with_state(state)
}
