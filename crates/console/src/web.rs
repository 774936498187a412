//! What every page answer shares: HTML with the console's CSP, cookies,
//! redirects, the stylesheet, readable error pages, and form errors taken
//! from the features' `ApiError`s.

use std::collections::BTreeMap;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use landlord_core::error::Enveloped;
use landlord_core::http::request_id::current_request_id;
use landlord_core::ApiError;
use serde_json::Value;

use crate::templates::{self, Context};

/// The console's Content-Security-Policy: scripts, styles and forms from
/// this origin only, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; frame-ancestors 'none'; form-action 'self'";

/// The console's policy with what a page adds: images from any https
/// host (images a module's users link, such as product photos), and form answers that
/// redirect to a provider's checkout — on https, or at `origins` (a
/// provider configured at a plain-http base, such as a local stand-in):
/// browsers apply `form-action` to the redirect's target too.
pub fn csp_with(https_images: bool, checkout: Option<&[String]>) -> String {
    let images = if https_images {
        "img-src 'self' data: https:"
    } else {
        "img-src 'self' data:"
    };
    let forms = match checkout {
        None => "form-action 'self'".to_string(),
        Some(origins) => {
            let mut forms = "form-action 'self' https:".to_string();
            for origin in origins {
                forms.push(' ');
                forms.push_str(origin);
            }
            forms
        }
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; {images}; \
         frame-ancestors 'none'; {forms}"
    )
}

const STYLESHEET: &str = include_str!("../static/console.css");

/// `GET /static/console.css`: embedded, cached for a year (its URL carries
/// a hash of its content).
pub async fn stylesheet() -> Response {
    css(STYLESHEET)
}

/// An embedded stylesheet (the shell's or a module's), cached for a year:
/// its URL carries a hash of its content.
pub fn css(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        source,
    )
        .into_response()
}

const COPY_SCRIPT: &str = include_str!("../static/copy.js");
const NAV_SCRIPT: &str = include_str!("../static/nav.js");

/// `GET /static/nav.js`: closes the header's menus on a click elsewhere or
/// Escape (they work without it), cached like the stylesheet.
pub async fn nav_script() -> Response {
    script(NAV_SCRIPT)
}

/// The first 12 hex digits of the menus' script's SHA-256, for its URL.
pub fn nav_script_version() -> String {
    script_version(NAV_SCRIPT)
}

/// `GET /static/copy.js`: the copy buttons (a file, for `script-src
/// 'self'`), cached like the stylesheet.
pub async fn copy_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        COPY_SCRIPT,
    )
        .into_response()
}

/// A module's script (a file, for `script-src 'self'`), served like the
/// shell's: embedded, cached for a year (its URL carries
/// [`script_version`]).
pub fn script(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        source,
    )
        .into_response()
}

/// The first 12 hex digits of a script's SHA-256, for its URL.
pub fn script_version(source: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(source.as_bytes())[..6])
}

/// The first 12 hex digits of the copy script's SHA-256, for its URL.
pub fn copy_script_version() -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(COPY_SCRIPT.as_bytes())[..6])
}

/// The first 12 hex digits of the stylesheet's SHA-256, for its URL.
pub fn stylesheet_version() -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(STYLESHEET.as_bytes())[..6])
}

/// An answer of the console: a rendered page or a redirect, with cookies.
#[derive(Debug)]
pub struct Page {
    status: StatusCode,
    body: Option<String>,
    location: Option<String>,
    cookies: Vec<String>,
    /// Its forms may redirect to a provider's https checkout.
    to_checkout: bool,
    /// Plain-http origins its forms may redirect to, beside https.
    checkout_origins: Vec<String>,
    /// It shows images from https hosts (product images).
    https_images: bool,
}

impl Page {
    /// Renders `template` with `context`, status 200.
    pub fn render(template: &str, context: Context) -> Result<Self, PageError> {
        Ok(Self {
            status: StatusCode::OK,
            body: Some(templates::render(template, context)?),
            location: None,
            cookies: Vec::new(),
            to_checkout: false,
            checkout_origins: Vec::new(),
            https_images: false,
        })
    }

    /// 303 See Other to `location` (after a POST, and for `/`).
    pub fn redirect(location: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SEE_OTHER,
            body: None,
            location: Some(location.into()),
            cookies: Vec::new(),
            to_checkout: false,
            checkout_origins: Vec::new(),
            https_images: false,
        }
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Its forms may redirect to a payment provider's checkout (https).
    pub fn allow_checkout_redirect(mut self) -> Self {
        self.to_checkout = true;
        self
    }

    /// Its forms may redirect to a payment provider's checkout: https, and
    /// `origins` (plain-http providers' origins).
    pub fn allow_checkout_redirect_to(mut self, origins: Vec<String>) -> Self {
        self.to_checkout = true;
        self.checkout_origins = origins;
        self
    }

    /// It shows images from https hosts (a vendor's product images).
    pub fn allow_https_images(mut self) -> Self {
        self.https_images = true;
        self
    }

    pub fn cookie(mut self, cookie: Option<String>) -> Self {
        self.cookies.extend(cookie);
        self
    }
}

/// Marks an HTML answer as final, so the API's envelope guard keeps it.
pub fn finish(mut response: Response, status: StatusCode) -> Response {
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    response.extensions_mut().insert(Enveloped);
    response
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => {
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
            }
            None => ().into_response(),
        };
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        for cookie in self.cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        let mut response = finish(response, self.status);
        if self.to_checkout || self.https_images {
            let origins = self.to_checkout.then_some(self.checkout_origins.as_slice());
            if let Ok(value) = HeaderValue::from_str(&csp_with(self.https_images, origins)) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, value);
            }
        }
        response
    }
}

/// A page that cannot be shown: answered as a readable HTML page.
#[derive(Debug)]
pub enum PageError {
    /// Signed out: the redirect to the sign-in page (clearing a stale
    /// session cookie), answered as it is.
    SignIn(Box<Page>),
    NotFound,
    /// The form's CSRF token is missing or not this visitor's.
    Csrf,
    Forbidden(String),
    Api(ApiError),
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            PageError::SignIn(page) => return page.into_response(),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no such page, or it is not yours to see.".to_string(),
            ),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was not sent from this site's page, or your session changed since. \
                 Go back, reload the page and try again."
                    .to_string(),
            ),
            PageError::Forbidden(message) => (StatusCode::FORBIDDEN, "Not allowed", message),
            PageError::Api(ApiError::NotFound(_)) => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no such page, or it is not yours to see.".to_string(),
            ),
            PageError::Api(error) => {
                let status = error.status();
                if let ApiError::Internal(cause) = &error {
                    tracing::error!(error = format!("{cause:#}"), "console page failed");
                    (
                        status,
                        "Something went wrong",
                        "An internal error occurred. Try again in a moment.".to_string(),
                    )
                } else {
                    (status, "Something went wrong", error.to_string())
                }
            }
        };
        let view = ErrorView {
            title,
            message,
            request_id: current_request_id().unwrap_or_default(),
        };
        // Rendered without the visitor's session (no header links that
        // would be wrong for them); `with_navigation` renders it again with
        // the navigation for a signed-in person.
        let body = view.render(templates::context());
        let mut response =
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
        response.extensions_mut().insert(view);
        finish(response, status)
    }
}

/// What an error page says, kept on its answer so that it can be rendered
/// again with the signed-in person's navigation.
#[derive(Debug, Clone)]
pub(crate) struct ErrorView {
    title: &'static str,
    message: String,
    request_id: String,
}

impl ErrorView {
    /// The error page over `context` (the layout's values: none for a
    /// signed-out visitor, the session's for a signed-in one).
    pub(crate) fn render(&self, mut context: Context) -> String {
        let (title, message) = (self.title, &self.message);
        context.insert("title".into(), title.into());
        context.insert("message".into(), message.clone().into());
        context.insert("error_page".into(), true.into());
        context.insert("request_id".into(), self.request_id.clone().into());
        templates::render("error.html", context).unwrap_or_else(|_| {
            // The error template itself failed: plain text says enough.
            format!("{title}\n\n{message}\n")
        })
    }
}

/// A feature's refusal as the page that cannot be shown: a refused
/// permission reads as a sentence, a missing (or another organization's)
/// thing is the 404 page.
pub fn api(error: ApiError) -> PageError {
    match error {
        ApiError::Forbidden(message) => PageError::Forbidden(sentence(&message)),
        ApiError::NotFound(_) => PageError::NotFound,
        other => PageError::Api(other),
    }
}

/// A feature's refusal shown on the form; a missing (or another
/// organization's) thing is the 404 page, a refused permission the 403
/// page, an internal failure an error page.
pub fn refusal(error: ApiError) -> Result<FormErrors, PageError> {
    match error {
        ApiError::NotFound(_) | ApiError::Forbidden(_) => Err(api(error)),
        other => FormErrors::from_api(other),
    }
}

/// `value` percent-encoded for a URL's query (unreserved characters
/// kept).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A form's errors: next to each field, and for the whole form.
#[derive(Debug, Default)]
pub struct FormErrors {
    pub status: Option<StatusCode>,
    pub fields: BTreeMap<String, String>,
    pub general: Option<String>,
}

impl FormErrors {
    /// No error, status 200 (a form shown afresh).
    pub fn ok() -> Self {
        Self {
            status: Some(StatusCode::OK),
            ..Self::default()
        }
    }

    /// No error yet, status 422 (a form whose errors the page adds).
    pub fn invalid() -> Self {
        Self {
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            ..Self::default()
        }
    }

    /// What a feature's refusal says about the form; an internal failure
    /// stays an error page.
    pub fn from_api(error: ApiError) -> Result<Self, PageError> {
        let status = error.status();
        let mut errors = FormErrors {
            status: Some(status),
            ..Self::default()
        };
        match error {
            ApiError::Internal(_) => return Err(PageError::Api(error)),
            ApiError::Validation {
                details, message, ..
            } => {
                for field in details
                    .as_ref()
                    .and_then(|d| d.get("fields"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let (Some(name), Some(reason)) = (
                        field.get("field").and_then(Value::as_str),
                        field.get("reason").and_then(Value::as_str),
                    ) {
                        errors.fields.insert(name.to_owned(), sentence(reason));
                    }
                }
                if errors.fields.is_empty() {
                    errors.general = Some(sentence(&message));
                }
            }
            other => errors.general = Some(sentence(&other.to_string())),
        }
        Ok(errors)
    }

    /// Moves the error of `field` (e.g. a hidden one) to the whole form.
    pub fn field_to_general(mut self, field: &str, prefix: &str) -> Self {
        if let Some(reason) = self.fields.remove(field) {
            let reason = reason.trim_end_matches('.').to_lowercase();
            self.general = Some(format!("{prefix} {reason}."));
        }
        self
    }

    /// Puts the whole form's error next to `field` instead.
    pub fn general_to_field(mut self, field: &str) -> Self {
        if let Some(message) = self.general.take() {
            self.fields.insert(field.to_owned(), message);
        }
        self
    }

    pub fn into_context(self, context: &mut Context) -> StatusCode {
        context.insert(
            "errors".into(),
            serde_json::to_value(&self.fields).unwrap_or_default(),
        );
        context.insert("error".into(), self.general.into());
        self.status.unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
    }
}

/// `reason` as a sentence: capital first letter, final period.
pub fn sentence(reason: &str) -> String {
    let mut chars = reason.trim().chars();
    let mut text: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_sentences() {
        assert_eq!(
            sentence("must be at least 8 characters long"),
            "Must be at least 8 characters long."
        );
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn page_policies_add_only_what_the_page_needs() {
        assert_eq!(csp_with(false, None), CSP);
        assert_eq!(
            csp_with(false, Some(&[])),
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self' https:"
        );
        let both = csp_with(true, Some(&["http://127.0.0.1:9".to_string()]));
        assert!(both.contains("img-src 'self' data: https:;"), "{both}");
        assert!(
            both.ends_with("form-action 'self' https: http://127.0.0.1:9"),
            "{both}"
        );
    }

    #[test]
    fn a_features_refusal_lands_next_to_its_field() {
        let errors =
            FormErrors::from_api(ApiError::invalid_field("email", "is not an email address"))
                .expect("not internal");
        assert_eq!(errors.fields["email"], "Is not an email address.");
        assert_eq!(errors.status, Some(StatusCode::UNPROCESSABLE_ENTITY));
        let errors = FormErrors::from_api(ApiError::Unauthorized(
            "email or password is incorrect".into(),
        ))
        .expect("not internal");
        assert_eq!(
            errors.general.as_deref(),
            Some("Email or password is incorrect.")
        );
        assert!(FormErrors::from_api(ApiError::internal(std::io::Error::other("x"))).is_err());
    }
}
