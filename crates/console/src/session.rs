//! Who is visiting: the session cookie (a refresh token of the identity
//! feature's sessions, checked live at every request) and the signed-out
//! visitor's CSRF cookie.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use landlord_core::crypto::random_hex;
use landlord_identity::sessions::browser_session;
use landlord_identity::CurrentUser;

use crate::web::PageError;
use crate::{csrf, ConsoleState};

/// The session cookie: the refresh token of the browser's session family.
pub const SESSION_COOKIE: &str = "landlord_session";
/// The signed-out visitor's random value, seed of its CSRF tokens.
pub const CSRF_COOKIE: &str = "landlord_csrf";

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    cookie_in(&parts.headers, name)
}

/// The value of cookie `name` in `headers`' `Cookie` lines.
pub(crate) fn cookie_in<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The visitor of a page: signed in (a live session) or not.
pub struct Visitor {
    pub user: Option<CurrentUser>,
    /// The signed-out visitor's CSRF cookie, when it has one.
    anonymous: Option<String>,
    /// A session cookie was sent but its session is over (to clear it).
    pub stale_cookie: bool,
    /// The request may change state (not GET or HEAD): its handler must
    /// check a CSRF token (see `access::Gate`).
    submits: bool,
    /// The request is not a page the person navigates to: a script's
    /// `fetch` (the inbox's catch-up) or a prefetch, as the browser's
    /// `Sec-Fetch-*` and `Sec-Purpose` headers say. It must not take a
    /// one-time notice meant for the page itself.
    background: bool,
}

/// Whether the browser says this GET is not a navigation: `Sec-Fetch-Mode`
/// other than `navigate`, `Sec-Fetch-Dest` other than `document`, or a
/// prefetch (`Sec-Purpose`, `Purpose`). A client sending none of them (an
/// older browser, a test's plain HTTP client) navigates.
fn in_background(parts: &Parts) -> bool {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    header("sec-fetch-mode").is_some_and(|mode| mode != "navigate")
        || header("sec-fetch-dest").is_some_and(|dest| dest != "document")
        || header("sec-purpose").is_some_and(|p| p.contains("prefetch"))
        || header("purpose").is_some_and(|p| p.contains("prefetch"))
}

/// Any page state the shell's can be taken from: a module's pages may
/// hold their own state beside the shell's.
impl<S> FromRequestParts<S> for Visitor
where
    S: Send + Sync,
    ConsoleState: FromRef<S>,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ConsoleState::from_ref(state);
        let token = cookie(parts, SESSION_COOKIE);
        let user = match token {
            Some(token) => browser_session(state.identity(), token).await?,
            None => None,
        };
        Ok(Visitor {
            stale_cookie: token.is_some() && user.is_none(),
            user,
            anonymous: cookie(parts, CSRF_COOKIE).map(str::to_owned),
            submits: !parts.method.is_safe(),
            background: in_background(parts),
        })
    }
}

/// The CSRF token for a form, and the cookie to set when the signed-out
/// visitor has no CSRF cookie yet.
pub struct FormToken {
    pub csrf: String,
    pub set_cookie: Option<String>,
}

impl Visitor {
    /// A visitor with no session (a page shown after signing out).
    pub fn signed_out() -> Self {
        Visitor {
            user: None,
            anonymous: None,
            stale_cookie: false,
            submits: false,
            background: false,
        }
    }

    /// A signed-in visitor reading a page (an error page shown to them).
    pub(crate) fn reading(user: CurrentUser) -> Self {
        Visitor {
            user: Some(user),
            anonymous: None,
            stale_cookie: false,
            submits: false,
            background: false,
        }
    }

    /// Whose one-time notices this visitor reads and leaves: the signed-in
    /// session's, or else the signed-out browser's (its CSRF cookie, kept
    /// only as a hash). `None`: a browser without either.
    pub(crate) fn flash_owner(&self) -> Option<String> {
        match &self.user {
            Some(user) => Some(user.session_id.to_string()),
            None => self.browser_owner(),
        }
    }

    /// The browser's own notices (its CSRF cookie), whether or not it is
    /// signed in: for a notice that outlives the session, such as the one
    /// after a password reset, which ends every session.
    pub(crate) fn browser_owner(&self) -> Option<String> {
        self.anonymous
            .as_deref()
            .map(|value| format!("browser:{}", landlord_core::crypto::sha256_hex(value)))
    }

    /// Whether the request may change state (anything but GET and HEAD).
    pub fn submits(&self) -> bool {
        self.submits
    }

    /// Whether the page is the one the person navigates to, which takes a
    /// one-time notice waiting for it (not a form's answer, not a script's
    /// fetch or a prefetch).
    pub fn reads_notices(&self) -> bool {
        !self.submits && !self.background
    }

    fn seed(&self) -> Option<String> {
        if let Some(user) = &self.user {
            return Some(format!("session:{}", user.session_id));
        }
        self.anonymous.as_ref().map(|value| format!("anon:{value}"))
    }

    /// The token every form of the page carries.
    pub fn form_token(&self, state: &ConsoleState) -> FormToken {
        match self.seed() {
            Some(seed) => FormToken {
                csrf: csrf::token(&state.csrf_key, &seed),
                set_cookie: None,
            },
            None => {
                let value = random_hex(16);
                FormToken {
                    csrf: csrf::token(&state.csrf_key, &format!("anon:{value}")),
                    set_cookie: Some(state.cookie(CSRF_COOKIE, &value, None)),
                }
            }
        }
    }

    /// Refuses a POST whose `csrf` field is not this visitor's token.
    pub fn check_csrf(&self, state: &ConsoleState, presented: &str) -> Result<(), PageError> {
        match self.seed() {
            Some(seed) if csrf::verify(&state.csrf_key, &seed, presented) => Ok(()),
            _ => Err(PageError::Csrf),
        }
    }
}

impl ConsoleState {
    /// A `Set-Cookie` value: `HttpOnly; SameSite=Lax; Path=/`, `Secure`
    /// when `public_url` is https; `max_age` in seconds (none: until the
    /// browser closes).
    pub fn cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> String {
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(max_age) = max_age {
            cookie.push_str(&format!("; Max-Age={max_age}"));
        }
        if self.secure_cookies {
            cookie.push_str("; Secure");
        }
        cookie
    }

    /// The session cookie holding `refresh_token`, as long as the session.
    pub fn session_cookie(&self, refresh_token: &str) -> String {
        let days = self.identity.config.refresh_token_ttl_days;
        self.cookie(SESSION_COOKIE, refresh_token, Some(days * 24 * 3600))
    }

    /// Clears the session cookie.
    pub fn clear_session_cookie(&self) -> String {
        self.cookie(SESSION_COOKIE, "", Some(0))
    }
}
