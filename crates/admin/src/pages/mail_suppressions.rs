//! `/operator/mail-suppressions`: the addresses Landlord no longer mails,
//! with a search and a Lift button — `GET /admin/mail-suppressions` and
//! `DELETE /admin/mail-suppressions/{address}` in the console.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_core::http::client::ClientInfo;
use landlord_core::ApiError;
use serde::Deserialize;

use landlord_console::{
    operator, operator_base, refusal, Flash, FormErrors, Page, PageError, Visitor,
};

use super::Pages;
use crate::mail_suppressions::{lift_suppression, suppressions, SuppressionFilter};
use crate::PlatformAdmin;

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/operator/mail-suppressions", get(page))
        .route("/operator/mail-suppressions/lift", post(lift))
}

/// The list's search.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    search: Option<String>,
}

/// `GET /operator/mail-suppressions`: suppressed addresses, newest first
/// (`?search=` part of an address).
pub async fn page(
    State(state): State<Pages>,
    visitor: Visitor,
    axum::extract::Query(query): axum::extract::Query<SearchQuery>,
) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    let search = query.search.filter(|s| !s.trim().is_empty());
    let filter = SuppressionFilter {
        search: search.clone(),
        limit: Some(crate::mail_suppressions::MAX_LIMIT),
    };
    let (rows, errors) = match suppressions(&state.payments, &filter).await {
        Ok(rows) => (rows, FormErrors::ok()),
        Err(error) => (Vec::new(), refusal(error)?),
    };
    let mut context =
        operator_base(&state, &visitor, "Mail suppressions", "mail_suppressions").await?;
    context.insert(
        "suppressions".into(),
        serde_json::to_value(&rows).map_err(ApiError::internal)?,
    );
    context.insert("search".into(), search.unwrap_or_default().into());
    let code = errors.into_context(&mut context);
    Ok(Page::render("operator_mail_suppressions.html", context)?.status(code))
}

/// The Lift button's form.
#[derive(Debug, Deserialize)]
pub struct LiftForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
}

/// `POST /operator/mail-suppressions/lift`: `lift_suppression` (audited),
/// back to the list.
pub async fn lift(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Form(form): Form<LiftForm>,
) -> Result<Page, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    visitor.check_csrf(&state, &form.csrf)?;
    let address = lift_suppression(&state.payments, &admin, &client, &form.address).await?;
    let flash = Flash::notice(format!(
        "{address} is no longer suppressed: Landlord mails it again."
    ));
    Page::redirect_with(&state, &visitor, "/operator/mail-suppressions", flash).await
}
