//! Pages for everyone: sign up, sign in, sign out, verify email, forgot and
//! reset password. Each calls the same `identity::accounts` function as its
//! API route, and counts against that route's per-address budget.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Form;
use axum::Router;
use landlord_core::http::client::ClientInfo;
use landlord_core::ApiError;
use landlord_identity::accounts::{self, Registration};
use landlord_identity::sensitive;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::base;
use crate::flash::Flash;
use crate::session::Visitor;
use crate::templates::Context;
use crate::web::{FormErrors, Page, PageError};
use crate::ConsoleState;

/// The pages anyone reaches without a session.
pub(crate) fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/sign-up", get(sign_up_page).post(sign_up))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/verify-email", get(verify_email).post(resend_verification))
        .route(
            "/forgot-password",
            get(forgot_password_page).post(forgot_password),
        )
        .route(
            "/reset-password",
            get(reset_password_page).post(reset_password),
        )
}

/// Takes one request from the API route `route`'s per-address budget.
pub async fn limit(state: &ConsoleState, client: &ClientInfo, route: &str) -> Result<(), ApiError> {
    let ip = client.ip.as_deref().unwrap_or("unknown");
    sensitive::check(&state.sensitive, route, ip).await
}

/// A form page's template, title and navigation entry.
#[derive(Clone, Copy)]
struct View {
    template: &'static str,
    title: &'static str,
    nav: &'static str,
}

const SIGN_UP: View = View {
    template: "sign_up.html",
    title: "Sign up",
    nav: "sign-up",
};
const SIGN_IN: View = View {
    template: "sign_in.html",
    title: "Sign in",
    nav: "sign-in",
};
const VERIFY: View = View {
    template: "verify_email.html",
    title: "Verify your email",
    nav: "",
};
const VERIFIED: View = View {
    template: "verify_email.html",
    title: "Email verified",
    nav: "",
};
const FORGOT: View = View {
    template: "forgot_password.html",
    title: "Forgot your password?",
    nav: "",
};
const RESET: View = View {
    template: "reset_password.html",
    title: "Choose a new password",
    nav: "",
};

/// Renders a form page: `form` holds what was typed (never a password).
async fn form_page<F: Serialize>(
    state: &ConsoleState,
    visitor: &Visitor,
    view: View,
    form: &F,
    errors: FormErrors,
    extra: impl FnOnce(&mut Context),
) -> Result<Page, PageError> {
    let (mut context, token) = base(state, visitor, view.title, view.nav, None).await?;
    context.insert(
        "form".into(),
        serde_json::to_value(form).unwrap_or_default(),
    );
    let failed = errors.status.is_some();
    let status = errors.into_context(&mut context);
    extra(&mut context);
    let page = Page::render(view.template, context)?.cookie(token.set_cookie);
    Ok(if failed { page.status(status) } else { page })
}

fn signed_in_home(visitor: &Visitor) -> Option<Page> {
    visitor
        .user
        .as_ref()
        .map(|user| Page::redirect(format!("/o/{}", user.organization_id)))
}

// ---- sign up ------------------------------------------------------------------------

#[derive(Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SignUpForm {
    #[serde(skip_serializing)]
    csrf: String,
    organization_name: String,
    name: String,
    email: String,
    #[serde(skip_serializing)]
    password: String,
}

pub async fn sign_up_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
) -> Result<Page, PageError> {
    if let Some(home) = signed_in_home(&visitor) {
        return Ok(home);
    }
    let form = SignUpForm::default();
    form_page(
        &state,
        &visitor,
        SIGN_UP,
        &form,
        FormErrors::default(),
        |_| {},
    )
    .await
}

pub async fn sign_up(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Form(mut form): Form<SignUpForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let password = std::mem::take(&mut form.password);
    let result = async {
        limit(&state, &client, "/api/v1/auth/register").await?;
        let input = Registration {
            organization_name: &form.organization_name,
            name: Some(form.name.as_str()),
            email: &form.email,
            password,
        };
        accounts::register(state.identity(), &client, input).await
    }
    .await;
    match result {
        Ok(signed_in) => Ok(Page::redirect(format!("/o/{}", signed_in.organization.id))
            .cookie(Some(state.session_cookie(&signed_in.refresh_token)))),
        Err(error) => {
            let conflict = matches!(error, ApiError::Conflict(_));
            let mut errors = FormErrors::from_api(error)?;
            if conflict {
                errors = errors.general_to_field("email");
            }
            form_page(&state, &visitor, SIGN_UP, &form, errors, |_| {}).await
        }
    }
}

// ---- sign in and out ---------------------------------------------------------------------

#[derive(Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SignInForm {
    #[serde(skip_serializing)]
    csrf: String,
    email: String,
    #[serde(skip_serializing)]
    password: String,
    /// Where to go once signed in (a path of this site; see [`return_path`]).
    next: String,
}

/// `?next=`: the page a person was on when asked to sign in.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct NextQuery {
    next: String,
}

/// `next` if it is a path of this site (`/…`, not `//host` nor `/\host`,
/// no control characters): where a person may be sent after signing in.
/// Anything else is ignored, so the sign-in page redirects nowhere else.
pub fn return_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && next.len() <= 4000;
    local.then_some(next)
}

/// The sign-in page, when it returns to a page (`next`): that page may
/// itself redirect on (an app's authorization request goes back to the
/// app's redirect URI, https or a loopback http address), and browsers
/// hold the whole chain of the form's redirects to its `form-action`.
fn returning(page: Page, next: &str) -> Page {
    if next.is_empty() {
        return page;
    }
    page.allow_checkout_redirect_to(
        [
            "http://127.0.0.1:*",
            "http://localhost:*",
            "http://*.localhost:*",
        ]
        .map(String::from)
        .to_vec(),
    )
}

pub async fn sign_in_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Query(query): Query<NextQuery>,
) -> Result<Page, PageError> {
    let next = return_path(&query.next);
    if let (Some(next), Some(_)) = (next, &visitor.user) {
        return Ok(Page::redirect(next));
    }
    if let Some(home) = signed_in_home(&visitor) {
        return Ok(home);
    }
    let stale = visitor.stale_cookie;
    let page = form_page(
        &state,
        &visitor,
        SIGN_IN,
        &SignInForm {
            next: next.unwrap_or_default().to_owned(),
            ..SignInForm::default()
        },
        FormErrors::default(),
        |context| {
            if stale {
                context.insert(
                    "notice".into(),
                    "Your session has ended; sign in again.".into(),
                );
            }
        },
    )
    .await?;
    let page = returning(page, next.unwrap_or_default());
    Ok(if stale {
        page.cookie(Some(state.clear_session_cookie()))
    } else {
        page
    })
}

pub async fn sign_in(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Form(mut form): Form<SignInForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let password = std::mem::take(&mut form.password);
    let result = async {
        limit(&state, &client, "/api/v1/auth/login").await?;
        accounts::sign_in(state.identity(), &client, &form.email, password).await
    }
    .await;
    match result {
        Ok(signed_in) => Ok(Page::redirect(
            return_path(&form.next)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("/o/{}", signed_in.organization.id)),
        )
        .cookie(Some(state.session_cookie(&signed_in.refresh_token)))),
        Err(error) => {
            let errors = FormErrors::from_api(error)?;
            let page = form_page(&state, &visitor, SIGN_IN, &form, errors, |_| {}).await?;
            Ok(returning(page, return_path(&form.next).unwrap_or_default()))
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /sign-out`: revokes the session (as `POST /auth/logout` does).
pub async fn sign_out(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let Some(user) = &visitor.user else {
        return Ok(Page::redirect("/sign-in").cookie(Some(state.clear_session_cookie())));
    };
    visitor.check_csrf(&state, &form.csrf)?;
    accounts::sign_out(state.identity(), user, &client).await?;
    Ok(Page::redirect("/sign-in").cookie(Some(state.clear_session_cookie())))
}

// ---- email verification ------------------------------------------------------------------

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct TokenQuery {
    pub token: String,
}

#[derive(Default, Deserialize, Serialize)]
#[serde(default)]
pub struct EmailForm {
    #[serde(skip_serializing)]
    csrf: String,
    email: String,
}

/// `GET /verify-email?token=`: the verification mail's link; verifies and
/// says so, or says why the link no longer works and offers a new one.
pub async fn verify_email(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Query(query): Query<TokenQuery>,
) -> Result<Page, PageError> {
    let form = EmailForm::default();
    if query.token.trim().is_empty() {
        return form_page(
            &state,
            &visitor,
            VERIFY,
            &form,
            FormErrors::default(),
            |_| {},
        )
        .await;
    }
    let result = async {
        limit(&state, &client, "/api/v1/auth/verify-email").await?;
        accounts::verify_email(state.identity(), &client, "token", &query.token).await
    }
    .await;
    match result {
        Ok(user) => {
            form_page(
                &state,
                &visitor,
                VERIFIED,
                &form,
                FormErrors::default(),
                |context| {
                    context.insert("verified".into(), user.email.into());
                },
            )
            .await
        }
        Err(error) => {
            let errors =
                FormErrors::from_api(error)?.field_to_general("token", "This verification link");
            let problem = errors.general.clone();
            let status = errors.status.unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let page = form_page(
                &state,
                &visitor,
                VERIFY,
                &form,
                FormErrors::default(),
                |context| {
                    context.insert("problem".into(), problem.into());
                },
            )
            .await?;
            Ok(page.status(status))
        }
    }
}

/// `POST /verify-email`: asks for a new verification mail, then back to
/// the form, which says so once.
pub async fn resend_verification(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Form(form): Form<EmailForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let result = async {
        limit(&state, &client, "/api/v1/auth/request-email-verification").await?;
        accounts::request_email_verification(state.identity(), &form.email).await
    }
    .await;
    match result {
        Ok(()) => {
            let flash = Flash::notice(
                "If an unverified account uses this email, a new verification mail is on its way.",
            );
            Page::redirect_with(&state, &visitor, "/verify-email", flash).await
        }
        Err(error) => {
            let errors = FormErrors::from_api(error)?;
            form_page(&state, &visitor, VERIFY, &form, errors, |_| {}).await
        }
    }
}

// ---- password reset ------------------------------------------------------------------------

pub async fn forgot_password_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
) -> Result<Page, PageError> {
    form_page(
        &state,
        &visitor,
        FORGOT,
        &EmailForm::default(),
        FormErrors::default(),
        |_| {},
    )
    .await
}

pub async fn forgot_password(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Form(form): Form<EmailForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let result = async {
        limit(&state, &client, "/api/v1/auth/request-password-reset").await?;
        accounts::request_password_reset(state.identity(), &client, &form.email).await
    }
    .await;
    match result {
        Ok(()) => {
            let flash = Flash::notice(
                "If an account uses this email, a password reset mail is on its way.",
            );
            Page::redirect_with(&state, &visitor, "/forgot-password", flash).await
        }
        Err(error) => {
            let errors = FormErrors::from_api(error)?;
            form_page(&state, &visitor, FORGOT, &form, errors, |_| {}).await
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ResetForm {
    csrf: String,
    token: String,
    password: String,
}

pub async fn reset_password_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Query(query): Query<TokenQuery>,
) -> Result<Page, PageError> {
    let mut errors = FormErrors::default();
    if query.token.trim().is_empty() {
        errors.general = Some("This page needs the link from the password reset mail.".into());
    }
    let token = query.token.trim().to_owned();
    form_page(&state, &visitor, RESET, &json!({}), errors, |context| {
        context.insert("token".into(), token.into());
    })
    .await
}

pub async fn reset_password(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Form(form): Form<ResetForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let result = async {
        limit(&state, &client, "/api/v1/auth/reset-password").await?;
        accounts::reset_password(
            state.identity(),
            &client,
            ("token", "password"),
            &form.token,
            form.password,
        )
        .await
    }
    .await;
    const CHANGED: &str =
        "Your password is changed and every session of the account is signed out.";
    match result {
        // Every session ended: the notice is the browser's (its CSRF
        // cookie), on the sign-in page.
        Ok(()) if visitor.browser_owner().is_some() => {
            if let Some(owner) = visitor.browser_owner() {
                crate::flash::put(&state, &owner, Flash::notice(CHANGED)).await?;
            }
            Ok(Page::redirect("/sign-in").cookie(Some(state.clear_session_cookie())))
        }
        // A browser without its own cookie (signed in when it opened the
        // link): said on this answer.
        Ok(()) => {
            let (mut context, _) =
                base(&state, &Visitor::signed_out(), "Password changed", "", None).await?;
            context.insert("message".into(), CHANGED.into());
            context.insert("kind".into(), "ok".into());
            context.insert(
                "links".into(),
                json!([{ "href": "/sign-in", "text": "Sign in" }]),
            );
            Ok(Page::render("message.html", context)?.cookie(Some(state.clear_session_cookie())))
        }
        Err(error) => {
            let errors = FormErrors::from_api(error)?.field_to_general("token", "This reset link");
            let token = form.token.trim().to_owned();
            form_page(&state, &visitor, RESET, &json!({}), errors, |context| {
                context.insert("token".into(), token.into());
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::return_path;

    #[test]
    fn only_this_sites_paths_are_returned_to() {
        for ok in ["/o/abc", "/oauth/authorize?client_id=x&state=a%20b"] {
            assert_eq!(return_path(ok), Some(ok));
        }
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "javascript:alert(1)",
            "/a\nb",
            "evil",
        ] {
            assert_eq!(return_path(bad), None, "{bad:?}");
        }
    }
}
