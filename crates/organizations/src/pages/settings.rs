//! The organization's settings (`/o/{organization_id}/settings`): its name
//! and billing email, changed through `organization::update` (the API's
//! `PATCH /organization`) by the roles with `update_organization`; the
//! other roles see the values read-only.

use crate::organization::{self, UpdateOrganizationRequest};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Form;
use axum::Router;
use landlord_core::http::client::ClientInfo;
use landlord_core::ApiError;
use landlord_identity::permissions;
use landlord_identity::store::Membership;
use landlord_identity::CurrentUser;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Pages;
use landlord_console::base;
use landlord_console::Visitor;
use landlord_console::{sentence, Flash, FormErrors, Page, PageError};
use landlord_console::{tenant, Gate};

pub(super) fn routes() -> Router<Pages> {
    Router::new().route(
        "/o/{organization_id}/settings",
        get(settings_page).post(update),
    )
}

/// What the settings form sends (and shows back).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SettingsForm {
    #[serde(skip_serializing)]
    csrf: String,
    name: String,
    billing_email: String,
}

async fn render(
    state: &Pages,
    visitor: &Visitor,
    user: &CurrentUser,
    membership: &Membership,
    form: Option<SettingsForm>,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let current = organization::find(state.identity(), user)
        .await
        .map_err(|e| match e {
            ApiError::Forbidden(m) => PageError::Forbidden(sentence(&m)),
            other => PageError::Api(other),
        })?;
    let form = form.unwrap_or_else(|| SettingsForm {
        name: current.name.clone(),
        billing_email: current.billing_email.clone().unwrap_or_default(),
        ..SettingsForm::default()
    });
    let (mut context, _) = base(
        state,
        visitor,
        "Organization settings",
        "settings",
        Some(membership),
    )
    .await?;
    let status = errors.into_context(&mut context);
    context.insert(
        "organization".into(),
        serde_json::to_value(&current).map_err(ApiError::internal)?,
    );
    context.insert(
        "form".into(),
        serde_json::to_value(&form).map_err(ApiError::internal)?,
    );
    context.insert(
        "can_update".into(),
        permissions::allows(user.role, permissions::UPDATE_ORGANIZATION).into(),
    );
    context.insert("role".into(), user.role.as_str().into());
    context.insert("created".into(), json!(current.created_at.date()));
    let page = Page::render("settings.html", context)?;
    Ok(if status == StatusCode::OK {
        page
    } else {
        page.status(status)
    })
}

/// `GET /o/{organization_id}/settings`.
pub async fn settings_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    let errors = FormErrors {
        status: Some(StatusCode::OK),
        ..FormErrors::default()
    };
    render(&state, &visitor, &user, &membership, None, errors).await
}

/// `POST /o/{organization_id}/settings`: `organization::update`.
pub async fn update(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Result<Page, PageError> {
    let (user, membership) =
        tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    permissions::require(&user, permissions::UPDATE_ORGANIZATION)
        .map_err(|e| PageError::Forbidden(sentence(&e.to_string())))?;
    let request = UpdateOrganizationRequest {
        name: Some(form.name.clone()),
        billing_email: Some(form.billing_email.trim().to_owned()).filter(|e| !e.is_empty()),
    };
    match organization::update(state.identity(), &user, &client, &request).await {
        Ok(_) => {
            let location = format!("/o/{}/settings", user.organization_id);
            Page::redirect_with(&state, &visitor, location, Flash::notice("Settings saved.")).await
        }
        Err(error) => {
            let errors = FormErrors::from_api(error)?;
            render(&state, &visitor, &user, &membership, Some(form), errors).await
        }
    }
}
