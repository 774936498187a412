//! The "Domains" section of the developer's app page: the app's own
//! address, its custom domains with the TXT record each needs (copyable),
//! their state and last error; add, verify now and remove (after a
//! confirmation). Each action calls the same `gateway::domains` function
//! as its API route, audited alike.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_console::{refusal, Flash, Gate, Page, PageError, Visitor};
use landlord_core::http::client::ClientInfo;
use landlord_core::ApiError;
use serde_json::Value;

use super::developer::{self, ActionForm};
use super::Pages;
use crate::gateway::domains::{self, AddDomainRequest, DomainView};
use crate::store::domains::DomainStatus;
use crate::views::AppView;

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/o/{organization_id}/apps/{app_id}/domains", post(add))
        .route(
            "/o/{organization_id}/apps/{app_id}/domains/{domain_id}/verify",
            post(verify),
        )
        .route(
            "/o/{organization_id}/apps/{app_id}/domains/{domain_id}/remove",
            get(remove_page).post(remove),
        )
}

/// The words people read for a domain's state.
fn status_label(status: DomainStatus) -> &'static str {
    match status {
        DomainStatus::Pending => "Pending",
        DomainStatus::Verified => "Verified",
        DomainStatus::Failed => "Failed",
    }
}

fn domain_value(domain: &DomainView) -> Value {
    let mut value = serde_json::to_value(domain).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("status_label".into(), status_label(domain.status).into());
    }
    value
}

/// The app's address on the platform: `{slug}.{apps domain}` with the
/// public URL's scheme and port.
fn app_url(state: &Pages, slug: &str) -> String {
    let apps_domain = &state.apps.settings().domain;
    match url::Url::parse(&state.apps.config.public_url) {
        Ok(public) => {
            let port = public.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{slug}.{apps_domain}{port}", public.scheme())
        }
        Err(_) => format!("https://{slug}.{apps_domain}"),
    }
}

/// The section's values on the app's page: its address, its domains and
/// the add form's value (`domain`).
pub(super) async fn insert(
    state: &Pages,
    app: &AppView,
    context: &mut landlord_console::Context,
    domain: &str,
) -> Result<(), PageError> {
    let listed = domains::list(&state.apps, &app.organization_id, app.id.as_str())
        .await
        .map_err(landlord_console::api)?;
    context.insert("app_url".into(), app_url(state, &app.slug).into());
    context.insert(
        "domains".into(),
        listed.iter().map(domain_value).collect::<Vec<_>>().into(),
    );
    context.insert("domain_value".into(), domain.into());
    context.insert("max_domains".into(), domains::MAX_DOMAINS_PER_APP.into());
    Ok(())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct DomainForm {
    csrf: String,
    domain: String,
}

fn back(organization_id: &impl std::fmt::Display, app_id: &str) -> String {
    format!("/o/{organization_id}/apps/{}#domains", app_id.trim())
}

/// `POST /o/{organization_id}/apps/{app_id}/domains`: adds the domain (the
/// name lower-cased), then 303 to the app's page, which shows its record;
/// a refusal is shown beside the field.
pub async fn add(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, app_id)): Path<(String, String)>,
    Form(form): Form<DomainForm>,
) -> Result<Page, PageError> {
    let (user, membership) =
        developer::developer(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let app = developer::own_app(&state, &user, &app_id).await?;
    let domain = form
        .domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let request = AddDomainRequest {
        domain: domain.clone(),
    };
    match domains::add(&state.apps, &user, &client, &app_id, request).await {
        Ok(added) => {
            let notice = format!(
                "{} is added. Publish its TXT record, then verify it.",
                added.domain
            );
            Page::redirect_with(
                &state,
                &visitor,
                back(&user.organization_id, &app_id),
                Flash::notice(notice),
            )
            .await
        }
        Err(error) => {
            let error = match error {
                ApiError::Conflict(message) => ApiError::invalid_field(
                    "domain",
                    message.trim_start_matches("domain: ").to_owned(),
                ),
                other => other,
            };
            let mut errors = refusal(error)?;
            errors.status = Some(axum::http::StatusCode::UNPROCESSABLE_ENTITY);
            developer::domain_refused(&state, &visitor, &membership, &app, errors, &form.domain)
                .await
        }
    }
}

/// `POST …/domains/{domain_id}/verify`: checks the record now; the
/// outcome (verified, or what was found) is said on the app's page.
pub async fn verify(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, app_id, domain_id)): Path<(String, String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let (user, _) =
        developer::developer(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let notice = match domains::verify(&state.apps, &user, &client, &app_id, &domain_id).await {
        Ok(verified) => format!("{} is verified: it reaches the app now.", verified.domain),
        Err(ApiError::Validation { message, .. }) => {
            landlord_console::sentence(message.trim_start_matches("domain: "))
        }
        Err(ApiError::Conflict(message)) => {
            landlord_console::sentence(message.trim_start_matches("domain: "))
        }
        Err(error) => return Err(landlord_console::api(error)),
    };
    Page::redirect_with(
        &state,
        &visitor,
        back(&user.organization_id, &app_id),
        Flash::notice(notice),
    )
    .await
}

/// `GET …/domains/{domain_id}/remove`: the confirmation.
pub async fn remove_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, app_id, domain_id)): Path<(String, String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) =
        developer::developer(&state, &visitor, &organization_id, Gate::Read).await?;
    let app = developer::own_app(&state, &user, &app_id).await?;
    let listed = domains::list(&state.apps, &user.organization_id, &app_id)
        .await
        .map_err(landlord_console::api)?;
    let domain = listed
        .iter()
        .find(|d| d.id.as_str() == domain_id)
        .ok_or_else(|| landlord_console::api(ApiError::not_found("domain")))?;
    let mut context =
        developer::apps_base(&state, &visitor, "Remove a domain", &membership).await?;
    context.insert("app".into(), developer::app_value(&app));
    context.insert("domain".into(), domain_value(domain));
    context.insert(
        "quarantine_days".into(),
        state.apps.settings().slug_quarantine_days.into(),
    );
    Page::render("developer_app_domain_remove.html", context)
}

/// `POST …/domains/{domain_id}/remove`: removes the domain, back to the
/// app's page.
pub async fn remove(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, app_id, domain_id)): Path<(String, String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let (user, _) =
        developer::developer(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let removed = domains::remove(&state.apps, &user, &client, &app_id, &domain_id)
        .await
        .map_err(landlord_console::api)?;
    let notice = format!(
        "{} is removed. {} stays reserved for your organization until {}.",
        removed.domain.domain,
        removed.domain.domain,
        removed.reserved_until.date()
    );
    Page::redirect_with(
        &state,
        &visitor,
        back(&user.organization_id, &app_id),
        Flash::notice(notice),
    )
    .await
}
