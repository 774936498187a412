//! `/account/apps`: the apps the signed-in person authorized, each with
//! its publisher, the scopes in words and when, and "Revoke" (the consent
//! and every token it produced, at once — [`crate::authorized::revoke`],
//! as the API's `DELETE /api/v1/apps/authorized/{app_id}`).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_console::{base, signed_in, Flash, Module, NavEntry, Page, PageError, Visitor};
use landlord_core::http::client::ClientInfo;
use landlord_core::ApiError;
use serde::Deserialize;

use super::{Pages, GROUP};
use crate::authorized;
use crate::ids::AppId;

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/account/apps", get(authorized_page))
        .route("/account/apps/{app_id}/revoke", post(revoke))
}

/// This family's navigation entries.
pub(super) fn navigation(module: Module) -> Module {
    module.personal_nav(
        NavEntry::new("authorized-apps", "Authorized apps", "/account/apps", 90).in_group(GROUP),
    )
}

/// `GET /account/apps`.
async fn authorized_page(State(pages): State<Pages>, visitor: Visitor) -> Result<Page, PageError> {
    let user = signed_in(&pages, &visitor)?;
    let apps = authorized::list(&pages.apps, &user.user_id).await?;
    let (mut context, _) =
        base(&pages, &visitor, "Authorized apps", "authorized-apps", None).await?;
    context.insert(
        "apps".into(),
        serde_json::to_value(&apps).map_err(ApiError::internal)?,
    );
    Page::render("authorized_apps.html", context)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RevokeForm {
    csrf: String,
}

/// `POST /account/apps/{app_id}/revoke`: the person's consent and the
/// app's tokens for them are revoked; back to the list with a notice.
async fn revoke(
    State(pages): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(app_id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Result<Page, PageError> {
    visitor.check_csrf(&pages, &form.csrf)?;
    let user = signed_in(&pages, &visitor)?;
    let app_id = AppId::parse(&app_id).ok_or(PageError::NotFound)?;
    let name = authorized::list(&pages.apps, &user.user_id)
        .await?
        .into_iter()
        .find(|app| app.app_id == app_id)
        .map(|app| app.name)
        .ok_or(PageError::NotFound)?;
    authorized::revoke(&pages.apps, &user.user_id, &client, &app_id).await?;
    let flash = Flash::notice(format!(
        "{name} is revoked: it is signed out and can no longer use your account."
    ));
    Page::redirect_with(&pages, &visitor, "/account/apps", flash).await
}
