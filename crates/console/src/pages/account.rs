//! The signed-in person's account (`/account`: name, password) and
//! sessions (`/account/sessions`: this browser marked, revoke one, every
//! other one, or all). Each calls the same identity function as its API
//! route (`/auth/change-password`, `/auth/sessions`); changing the password
//! revokes the other sessions, like the API; revoking this browser's
//! session signs it out.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Form;
use axum::Router;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::SessionId;
use landlord_core::ApiError;
use landlord_identity::accounts;
use landlord_identity::routes::{revoke_one, revoke_sessions, sessions_of};
use landlord_identity::store as identity_store;
use landlord_identity::CurrentUser;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::base;
use super::public::limit;
use crate::flash::Flash;
use crate::session::Visitor;
use crate::web::{FormErrors, Page, PageError};
use crate::ConsoleState;

pub(crate) fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/account", get(account_page))
        .route("/account/name", post(rename))
        .route("/account/password", post(change_password))
        .route("/account/sessions", get(sessions_page))
        .route("/account/sessions/revoke", post(revoke_many))
        .route("/account/sessions/{session_id}/revoke", post(revoke))
        .route("/organizations/new", get(new_organization_page))
        .route("/organizations", post(create_organization))
}

/// The API route whose per-address budget the password form shares.
const CHANGE_PASSWORD_ROUTE: &str = "/api/v1/auth/change-password";

/// The signed-in person, or the sign-in page.
fn person<'a>(state: &ConsoleState, visitor: &'a Visitor) -> Result<&'a CurrentUser, PageError> {
    crate::access::signed_in(state, visitor)
}

/// The name form's value as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct NameForm {
    #[serde(skip_serializing)]
    csrf: String,
    name: String,
}

/// The password form (never shown back).
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
}

/// Which form of the account page failed, with its errors.
enum Failed {
    None,
    Name(NameForm, FormErrors),
    Password(FormErrors),
}

async fn render_account(
    state: &ConsoleState,
    visitor: &Visitor,
    user: &CurrentUser,
    failed: Failed,
) -> Result<Page, PageError> {
    let account = identity_store::user_by_id(state.identity().db.pool(), &user.user_id)
        .await
        .map_err(ApiError::from)?
        .ok_or(PageError::NotFound)?;
    let (mut context, _) = base(state, visitor, "Your account", "account", None).await?;
    context.insert(
        "account".into(),
        json!({ "email": account.email, "name": account.name }),
    );
    let mut name = account.name.clone().unwrap_or_default();
    let mut status = StatusCode::OK;
    let empty = || json!({});
    let (mut name_errors, mut password_errors) = (empty(), empty());
    let (mut name_error, mut password_error) = (Value::Null, Value::Null);
    match failed {
        Failed::None => {}
        Failed::Name(form, errors) => {
            name = form.name;
            let mut scratch = crate::templates::context();
            status = errors.into_context(&mut scratch);
            name_errors = scratch.remove("errors").unwrap_or_else(empty);
            name_error = scratch.remove("error").unwrap_or_default();
        }
        Failed::Password(errors) => {
            let mut scratch = crate::templates::context();
            status = errors.into_context(&mut scratch);
            password_errors = scratch.remove("errors").unwrap_or_else(empty);
            password_error = scratch.remove("error").unwrap_or_default();
        }
    }
    context.insert("name".into(), name.into());
    context.insert("name_errors".into(), name_errors);
    context.insert("name_error".into(), name_error);
    context.insert("password_errors".into(), password_errors);
    context.insert("password_error".into(), password_error);
    Ok(Page::render("account.html", context)?.status(status))
}

/// `GET /account`.
pub async fn account_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
) -> Result<Page, PageError> {
    let user = person(&state, &visitor)?;
    render_account(&state, &visitor, user, Failed::None).await
}

/// `POST /account/name`: `accounts::rename`.
pub async fn rename(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Form(form): Form<NameForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let user = person(&state, &visitor)?;
    match accounts::rename(state.identity(), user, &client, &form.name).await {
        Ok(()) => {
            let flash = Flash::notice("Your name is changed.");
            Page::redirect_with(&state, &visitor, "/account", flash).await
        }
        Err(error) => {
            let errors = FormErrors::from_api(error)?;
            render_account(&state, &visitor, user, Failed::Name(form, errors)).await
        }
    }
}

/// `POST /account/password`: `accounts::change_password` (the other
/// sessions revoked, this browser's kept), limited like the API route.
pub async fn change_password(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Form(form): Form<PasswordForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let user = person(&state, &visitor)?;
    let result = match limit(&state, &client, CHANGE_PASSWORD_ROUTE).await {
        Ok(()) => {
            accounts::change_password(
                state.identity(),
                user,
                &client,
                form.current_password,
                form.new_password,
            )
            .await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => {
            let flash =
                Flash::notice("Your password is changed; your other sessions are signed out.");
            Page::redirect_with(&state, &visitor, "/account", flash).await
        }
        Err(error) => {
            let errors = FormErrors::from_api(error)?;
            render_account(&state, &visitor, user, Failed::Password(errors)).await
        }
    }
}

/// `GET /account/sessions`: the person's sessions, this browser's marked.
pub async fn sessions_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
) -> Result<Page, PageError> {
    let user = person(&state, &visitor)?;
    let sessions = sessions_of(state.identity(), user).await?;
    let (mut context, _) = base(&state, &visitor, "Your sessions", "account", None).await?;
    context.insert(
        "sessions".into(),
        serde_json::to_value(&sessions).map_err(ApiError::internal)?,
    );
    context.insert(
        "others".into(),
        sessions.iter().filter(|s| !s.current).count().into(),
    );
    Page::render("sessions.html", context)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RevokeForm {
    csrf: String,
    /// `others` (keep this browser) or `all`.
    which: String,
}

/// Where the browser goes after revoking: signed out when this browser's
/// session went too.
fn signed_out(state: &ConsoleState) -> Page {
    Page::redirect("/sign-in").cookie(Some(state.clear_session_cookie()))
}

/// `POST /account/sessions/revoke`: `revoke_sessions`, every other
/// session (`which=others`) or all of them, this browser's included.
pub async fn revoke_many(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Form(form): Form<RevokeForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let user = person(&state, &visitor)?;
    let keep_current = form.which != "all";
    revoke_sessions(state.identity(), user, &client, keep_current).await?;
    if keep_current {
        let flash = Flash::notice("Every other session is signed out.");
        Page::redirect_with(&state, &visitor, "/account/sessions", flash).await
    } else {
        Ok(signed_out(&state))
    }
}

/// `POST /account/sessions/{session_id}/revoke`: `revoke_one`; this
/// browser's own session signs it out.
pub async fn revoke(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path(session_id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let user = person(&state, &visitor)?;
    let id = SessionId::parse(&session_id).ok_or(PageError::NotFound)?;
    revoke_one(state.identity(), user, &client, &id).await?;
    if id == user.session_id {
        Ok(signed_out(&state))
    } else {
        let flash = Flash::notice("The session is signed out.");
        Page::redirect_with(&state, &visitor, "/account/sessions", flash).await
    }
}

/// The new organization's form, as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct OrganizationForm {
    #[serde(skip_serializing)]
    csrf: String,
    name: String,
}

async fn render_new_organization(
    state: &ConsoleState,
    visitor: &Visitor,
    form: &OrganizationForm,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let (mut context, _) =
        base(state, visitor, "New organization", "new-organization", None).await?;
    context.insert(
        "form".into(),
        serde_json::to_value(form).map_err(ApiError::internal)?,
    );
    let status = errors.into_context(&mut context);
    Ok(Page::render("new_organization.html", context)?.status(status))
}

/// `GET /organizations/new`: the form creating another organization.
pub async fn new_organization_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
) -> Result<Page, PageError> {
    person(&state, &visitor)?;
    render_new_organization(
        &state,
        &visitor,
        &OrganizationForm::default(),
        FormErrors::ok(),
    )
    .await
}

/// `POST /organizations`: `accounts::create_organization`, then the new
/// organization's overview (Post/Redirect/Get); a refused name is shown at
/// its field.
pub async fn create_organization(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Form(form): Form<OrganizationForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let user = person(&state, &visitor)?;
    match accounts::create_organization(state.identity(), user, &client, &form.name).await {
        Ok(organization) => Ok(Page::redirect(format!("/o/{}", organization.id))),
        Err(error) => {
            let errors = FormErrors::from_api(error)?.general_to_field("name");
            render_new_organization(&state, &visitor, &form, errors).await
        }
    }
}
