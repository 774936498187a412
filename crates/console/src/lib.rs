//! The web console (DESIGN.md §13): server-rendered pages served by the
//! binary at the root of `public_url`.
//!
//! A page request flows: session cookie → [`session::Visitor`] (the refresh
//! session behind the cookie, checked live at every request) → the
//! organization in the URL (membership checked: 404 otherwise) → the same
//! feature function as the API route → a template. Every form carries a
//! CSRF token checked on POST. The routes are a plain axum `Router`, not
//! part of the OpenAPI document.

mod csrf;
mod pages;
mod session;
mod templates;
mod web;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use landlord_identity::IdentityState;
use landlord_keys::sensitive::SensitiveLimits;
use landlord_keys::KeysState;

pub use session::{CSRF_COOKIE, SESSION_COOKIE};

/// What the console's pages need: one `Arc`.
#[derive(Clone)]
pub struct ConsoleState(Arc<ConsoleInner>);

/// The services behind [`ConsoleState`], reached through `Deref`.
pub struct ConsoleInner {
    pub keys: KeysState,
    /// The per-address budgets of sensitive API routes, which the pages
    /// doing the same work share.
    pub sensitive: SensitiveLimits,
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
    pub fn new(keys: KeysState, sensitive: SensitiveLimits, secret: &str) -> Self {
        let secure_cookies = keys.config.public_url.starts_with("https://");
        Self(Arc::new(ConsoleInner {
            keys,
            sensitive,
            csrf_key: csrf::derive_key(secret),
            secure_cookies,
        }))
    }
}

/// The console's routes, ready to merge into the application's router.
pub fn router<S: Clone + Send + Sync + 'static>(state: ConsoleState) -> Router<S> {
    Router::new()
        .route("/", get(pages::organization::home))
        .route("/static/console.css", get(web::stylesheet))
        .route("/static/copy.js", get(web::copy_script))
        .route(
            "/sign-up",
            get(pages::public::sign_up_page).post(pages::public::sign_up),
        )
        .route(
            "/sign-in",
            get(pages::public::sign_in_page).post(pages::public::sign_in),
        )
        .route("/sign-out", post(pages::public::sign_out))
        .route(
            "/verify-email",
            get(pages::public::verify_email).post(pages::public::resend_verification),
        )
        .route(
            "/forgot-password",
            get(pages::public::forgot_password_page).post(pages::public::forgot_password),
        )
        .route(
            "/reset-password",
            get(pages::public::reset_password_page).post(pages::public::reset_password),
        )
        .route(
            "/accept-invitation",
            get(pages::invitation::accept_page).post(pages::invitation::accept),
        )
        .route("/o/{organization_id}", get(pages::organization::overview))
        .route(
            "/o/{organization_id}/keys",
            get(pages::keys::list).post(pages::keys::create),
        )
        .route("/o/{organization_id}/keys/new", get(pages::keys::new_page))
        .route(
            "/o/{organization_id}/keys/{key_id}/revoke",
            get(pages::keys::revoke_page).post(pages::keys::revoke),
        )
        .with_state(state)
}
