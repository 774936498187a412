//! `/accept-invitation?token=`: the invitation mail's link. Signed in as
//! the invited email: join. Not signed in: sign in in place (an account
//! uses the email) or create the account in place. Calls
//! `organizations::joining`, as `POST /team/accept-invitation` does.

use crate::joining;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Form;
use axum::Router;
use landlord_core::http::client::ClientInfo;
use landlord_core::ApiError;
use landlord_identity::accounts;
use landlord_identity::store as identity_store;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Pages;
use landlord_console::base;
use landlord_console::Visitor;
use landlord_console::{limit, TokenQuery};
use landlord_console::{sentence, FormErrors, Page, PageError};

pub(super) fn routes() -> Router<Pages> {
    Router::new().route("/accept-invitation", get(accept_page).post(accept))
}

const TITLE: &str = "Join an organization";

#[derive(Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AcceptForm {
    #[serde(skip_serializing)]
    csrf: String,
    #[serde(skip_serializing)]
    token: String,
    mode: String,
    name: String,
    #[serde(skip_serializing)]
    password: String,
}

/// What an invitation's refusal says, as a sentence about the link.
fn problem_of(errors: &FormErrors) -> String {
    match errors.fields.get("token") {
        Some(reason) if reason.starts_with("This invitation") => reason.clone(),
        Some(reason) => {
            format!(
                "This invitation link {}",
                reason.trim_end_matches('.').to_lowercase()
            ) + "."
        }
        None => errors
            .general
            .clone()
            .unwrap_or_else(|| "This invitation cannot be used.".into()),
    }
}

async fn render(
    state: &Pages,
    visitor: &Visitor,
    token: &str,
    form: &AcceptForm,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let (mut context, form_token) = base(state, visitor, TITLE, "", None).await?;
    context.insert("token".into(), token.trim().into());
    context.insert(
        "form".into(),
        serde_json::to_value(form).unwrap_or_default(),
    );
    let pending = match joining::pending(state.identity(), token).await {
        Ok(pending) => pending,
        Err(error) => {
            let refusal = FormErrors::from_api(error)?;
            let status = refusal.status.unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            context.insert("problem".into(), problem_of(&refusal).into());
            return Ok(Page::render("accept_invitation.html", context)?
                .cookie(form_token.set_cookie)
                .status(status));
        }
    };
    let invitation = &pending.invitation;
    context.insert(
        "invitation".into(),
        json!({
            "organization_name": pending.organization.name,
            "email": invitation.email,
            "role": invitation.role.as_str(),
        }),
    );
    let mode = match &visitor.user {
        Some(user) => {
            let email = identity_store::user_by_id(state.identity().db.pool(), &user.user_id)
                .await
                .map_err(ApiError::from)?
                .map(|u| u.email)
                .unwrap_or_default();
            let mode = if email == invitation.email {
                "accept"
            } else {
                "wrong_account"
            };
            context.insert("signed_in_email".into(), email.into());
            mode
        }
        None if pending.has_account => "sign_in",
        None => "create",
    };
    context.insert("mode".into(), mode.into());
    let failed = errors.status.is_some();
    let status = errors.into_context(&mut context);
    let page = Page::render("accept_invitation.html", context)?.cookie(form_token.set_cookie);
    Ok(if failed { page.status(status) } else { page })
}

pub async fn accept_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Query(query): Query<TokenQuery>,
) -> Result<Page, PageError> {
    render(
        &state,
        &visitor,
        &query.token,
        &AcceptForm::default(),
        FormErrors::default(),
    )
    .await
}

pub async fn accept(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Form(mut form): Form<AcceptForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&state, &form.csrf)?;
    let password = std::mem::take(&mut form.password);
    let identity = state.identity();
    // A session started here (signing in, or the new account's).
    let mut new_session: Option<String> = None;
    let result = async {
        limit(&state, &client, "/api/v1/team/accept-invitation").await?;
        match &visitor.user {
            Some(user) => {
                joining::accept(
                    identity,
                    Some(&user.user_id),
                    &client,
                    &form.token,
                    None,
                    None,
                )
                .await
            }
            None if form.mode == "sign_in" => {
                let pending = joining::pending(identity, &form.token).await?;
                limit(&state, &client, "/api/v1/auth/login").await?;
                let signed_in =
                    accounts::sign_in(identity, &client, &pending.invitation.email, password)
                        .await?;
                new_session = Some(signed_in.refresh_token.clone());
                joining::accept(
                    identity,
                    Some(&signed_in.user.id),
                    &client,
                    &form.token,
                    None,
                    None,
                )
                .await
            }
            None => {
                let name = Some(form.name.as_str());
                let accepted =
                    joining::accept(identity, None, &client, &form.token, Some(password), name)
                        .await?;
                new_session = accepted.session.as_ref().map(|s| s.refresh_token.clone());
                Ok(accepted)
            }
        }
    }
    .await;
    let cookie = new_session.as_deref().map(|t| state.session_cookie(t));
    match result {
        Ok(accepted) => {
            Ok(Page::redirect(format!("/o/{}", accepted.organization.id)).cookie(cookie))
        }
        Err(error) => {
            let mut errors = FormErrors::from_api(error)?;
            if let Some(reason) = errors.fields.remove("token") {
                errors.general = Some(sentence(&reason));
            }
            if form.mode == "sign_in" && errors.status == Some(StatusCode::UNAUTHORIZED) {
                errors = errors.general_to_field("password");
            }
            // Signed in here but joining failed: the session cookie is
            // set all the same, and the error shown on the form.
            let token = form.token.clone();
            Ok(render(&state, &visitor, &token, &form, errors)
                .await?
                .cookie(cookie))
        }
    }
}
