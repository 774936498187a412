//! The directory's pages: `/apps` (public: anyone may browse, search and
//! filter by category, in cursor pages), `/apps/{slug}` (an app's page:
//! its publisher, description and the organization scopes in words, with
//! Install for owners and admins of the current organization), the
//! consent step `/o/{organization_id}/apps/{slug}/install`, and
//! `/o/{organization_id}/apps/installed` (the organization's installed
//! apps) with Uninstall behind a confirmation. Each calls the same
//! function as its API route.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Form, Router};
use landlord_console::{
    base, encode, refusal, tenant, Context, Flash, FormErrors, Gate, Module, NavEntry, Page,
    PageError, Visitor,
};
use landlord_core::http::client::ClientInfo;
use landlord_core::http::PageQuery;
use landlord_core::ApiError;
use landlord_identity::permissions::{self, allows};
use landlord_identity::store::Membership;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Pages, GROUP};
use crate::directory::{self, DirectoryAppView, DirectoryQuery};
use crate::installations::{self, InstallRequest, InstallationView};
use crate::permissions::{INSTALL_APPS, VIEW_INSTALLED_APPS};
use crate::registry::CATEGORIES;
use crate::store;

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/apps", get(directory_page))
        .route("/apps/{slug}", get(app_page))
        .route("/o/{organization_id}/apps/installed", get(installed_page))
        .route(
            "/o/{organization_id}/apps/{slug}/install",
            get(install_page).post(install),
        )
        .route(
            "/o/{organization_id}/apps/installed/{installation_id}/uninstall",
            get(uninstall_page).post(uninstall),
        )
}

/// This family's navigation entries.
pub(super) fn navigation(module: Module) -> Module {
    module
        .personal_nav(NavEntry::new("app-directory", "App directory", "/apps", 20).in_group(GROUP))
        .organization_nav(
            NavEntry::new("installed-apps", "Installed apps", "/apps/installed", 30)
                .requires(VIEW_INSTALLED_APPS)
                .in_group(GROUP),
        )
}

/// Apps one directory page shows.
const APPS_PER_PAGE: u32 = 24;

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, PageError> {
    Ok(serde_json::to_value(value).map_err(ApiError::internal)?)
}

fn api(error: ApiError) -> PageError {
    match error {
        ApiError::Forbidden(message) => PageError::Forbidden(message),
        ApiError::NotFound(_) => PageError::NotFound,
        other => PageError::Api(other),
    }
}

/// An app's card values: the view, and the initial shown without an icon.
fn app_value(app: &DirectoryAppView) -> Result<Value, PageError> {
    let mut value = to_value(app)?;
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "initial".into(),
            app.name
                .chars()
                .next()
                .map(|c| c.to_uppercase().to_string())
                .into(),
        );
        object.insert(
            "category_label".into(),
            category_label(&app.category).into(),
        );
    }
    Ok(value)
}

/// "developer-tools" → "Developer tools".
fn category_label(category: &str) -> String {
    let words = category.replace('-', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

fn categories() -> Vec<Value> {
    CATEGORIES
        .iter()
        .map(|c| json!({ "value": c, "label": category_label(c) }))
        .collect()
}

// ---- the directory -------------------------------------------------------------------

/// The directory's search form, as typed.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SearchForm {
    q: String,
    category: String,
    cursor: String,
}

impl SearchForm {
    /// The query string of the filters (without the cursor).
    fn query_string(&self) -> String {
        [("q", &self.q), ("category", &self.category)]
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", encode(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `GET /apps`: published apps, newest first, searched and filtered
/// (`directory::list`, like `GET /api/v1/directory/apps`). Public.
pub async fn directory_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Query(form): Query<SearchForm>,
) -> Result<Page, PageError> {
    let query = DirectoryQuery {
        q: Some(form.q.clone()),
        category: Some(form.category.clone()),
        limit: Some(APPS_PER_PAGE),
        cursor: Some(form.cursor.clone()),
    };
    let (mut context, _) = base(&state, &visitor, "App directory", "app-directory", None).await?;
    let status = match directory::list(&state.apps, &query).await {
        Ok((apps, meta)) => {
            let cards = apps.iter().map(app_value).collect::<Result<Vec<_>, _>>()?;
            let next = meta.next_cursor.map(|cursor| {
                let filters = form.query_string();
                let sep = if filters.is_empty() { "" } else { "&" };
                format!("/apps?{filters}{sep}cursor={cursor}")
            });
            context.insert("apps".into(), cards.into());
            context.insert("next".into(), next.into());
            FormErrors::ok().into_context(&mut context)
        }
        Err(error) => {
            context.insert("apps".into(), Value::Array(Vec::new()));
            FormErrors::from_api(error)?
                .field_to_general("cursor", "This page of results")
                .into_context(&mut context)
        }
    };
    let filters = form.query_string();
    context.insert(
        "first_page".into(),
        (!form.cursor.is_empty())
            .then(|| {
                if filters.is_empty() {
                    "/apps".to_owned()
                } else {
                    format!("/apps?{filters}")
                }
            })
            .into(),
    );
    context.insert("filtered".into(), (!filters.is_empty()).into());
    context.insert("form".into(), to_value(&form)?);
    context.insert("categories".into(), categories().into());
    let page = Page::render("directory.html", context)?.allow_https_images();
    Ok(if status.is_success() {
        page
    } else {
        page.status(status)
    })
}

/// `GET /apps/{slug}`: a published app (`directory::find`), with Install
/// for an owner or admin of the current organization. Public.
pub async fn app_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(slug): Path<String>,
) -> Result<Page, PageError> {
    let app = directory::find(&state.apps, &slug).await.map_err(api)?;
    let (mut context, _) = base(&state, &visitor, &app.name, "app-directory", None).await?;
    if let Some(user) = &visitor.user {
        let installed =
            store::live_installation_of_app(state.apps.db.pool(), &user.organization_id, &app.id)
                .await
                .map_err(ApiError::from)?;
        context.insert(
            "viewer".into(),
            json!({
                "organization_id": user.organization_id,
                "may_install": allows(user.role, INSTALL_APPS),
                "installed": installed.is_some(),
            }),
        );
    }
    context.insert("app".into(), app_value(&app)?);
    Ok(Page::render("directory_app.html", context)?.allow_https_images())
}

// ---- installing ----------------------------------------------------------------------

/// The layout's values of an organization's page, with the organization.
async fn organization_base(
    state: &Pages,
    visitor: &Visitor,
    title: &str,
    nav: &str,
    membership: &Membership,
) -> Result<Context, PageError> {
    let (mut context, _) = base(state, visitor, title, nav, Some(membership)).await?;
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    Ok(context)
}

/// The install permission for the person acting in the URL's organization.
fn may_install(user: &landlord_identity::CurrentUser) -> Result<(), PageError> {
    permissions::require(user, INSTALL_APPS).map_err(|error| match error {
        ApiError::Forbidden(message) => PageError::Forbidden(landlord_console::sentence(&message)),
        other => PageError::Api(other),
    })
}

async fn consent_page(
    state: &Pages,
    visitor: &Visitor,
    membership: &Membership,
    app: &DirectoryAppView,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let mut context = organization_base(
        state,
        visitor,
        &format!("Install {}", app.name),
        "installed-apps",
        membership,
    )
    .await?;
    let installed =
        store::live_installation_of_app(state.apps.db.pool(), &membership.organization.id, &app.id)
            .await
            .map_err(ApiError::from)?;
    context.insert("installed".into(), installed.is_some().into());
    context.insert("app".into(), app_value(app)?);
    let status = errors.into_context(&mut context);
    let page = Page::render("directory_install.html", context)?.allow_https_images();
    Ok(if status.is_success() {
        page
    } else {
        page.status(status)
    })
}

/// `GET /o/{organization_id}/apps/{slug}/install`: the consent step — the
/// scopes the app asks of the organization, in words (owners and admins).
pub async fn install_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, slug)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    may_install(&user)?;
    let app = directory::find(&state.apps, &slug).await.map_err(api)?;
    consent_page(&state, &visitor, &membership, &app, FormErrors::ok()).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /o/{organization_id}/apps/{slug}/install`: installs with every
/// scope shown (`installations::install`), then the installed apps.
pub async fn install(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, slug)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let (user, membership) =
        tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    may_install(&user)?;
    let app = directory::find(&state.apps, &slug).await.map_err(api)?;
    let request = InstallRequest {
        app_id: app.id.to_string(),
        scopes: app
            .organization_scopes
            .iter()
            .map(|s| s.name.clone())
            .collect(),
    };
    match installations::install(&state.apps, &user, &client, &request).await {
        Ok(installed) => {
            let flash = Flash::notice(format!(
                "{} is installed in {}.",
                installed.app_name, membership.organization.name
            ));
            let location = format!("/o/{}/apps/installed", user.organization_id);
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error) => {
            let errors = refusal(error)?;
            consent_page(&state, &visitor, &membership, &app, errors).await
        }
    }
}

// ---- installed apps ------------------------------------------------------------------

/// The list's query: the page's cursor.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    cursor: String,
}

fn installation_value(view: &InstallationView) -> Result<Value, PageError> {
    to_value(view)
}

/// `GET /o/{organization_id}/apps/installed`: the organization's
/// installed apps (`installations::list`), with Uninstall for owners and
/// admins.
pub async fn installed_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Page, PageError> {
    let (user, membership) = landlord_console::member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        VIEW_INSTALLED_APPS,
    )
    .await?;
    let page = PageQuery {
        limit: Some(50),
        cursor: Some(query.cursor.clone()),
    };
    let (views, meta) = installations::list(&state.apps, &user.organization_id, &page)
        .await
        .map_err(api)?;
    let mut context = organization_base(
        &state,
        &visitor,
        "Installed apps",
        "installed-apps",
        &membership,
    )
    .await?;
    let rows = views
        .iter()
        .map(installation_value)
        .collect::<Result<Vec<_>, _>>()?;
    context.insert("installations".into(), rows.into());
    context.insert(
        "next".into(),
        meta.next_cursor
            .map(|c| format!("/o/{}/apps/installed?cursor={c}", user.organization_id))
            .into(),
    );
    context.insert("may_install".into(), allows(user.role, INSTALL_APPS).into());
    Page::render("installed_apps.html", context)
}

/// The live installation `installation_id` of the person's organization
/// (they may install), or the 404 page.
async fn live(
    state: &Pages,
    user: &landlord_identity::CurrentUser,
    installation_id: &str,
) -> Result<InstallationView, PageError> {
    may_install(user)?;
    let (row, app) = installations::find(&state.apps, &user.organization_id, installation_id)
        .await
        .map_err(api)?;
    if row.uninstalled_at.is_some() {
        return Err(PageError::NotFound);
    }
    Ok(InstallationView::new(row, &app))
}

/// `GET /o/{organization_id}/apps/installed/{installation_id}/uninstall`:
/// the confirmation.
pub async fn uninstall_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, installation_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    let view = live(&state, &user, &installation_id).await?;
    let mut context = organization_base(
        &state,
        &visitor,
        &format!("Uninstall {}", view.app_name),
        "installed-apps",
        &membership,
    )
    .await?;
    context.insert("installation".into(), installation_value(&view)?);
    Page::render("installed_app_uninstall.html", context)
}

/// `POST /o/{organization_id}/apps/installed/{installation_id}/uninstall`:
/// `installations::uninstall` (its tokens revoked, the app told), then the
/// list with a notice.
pub async fn uninstall(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, installation_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let (user, _) = tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let view = live(&state, &user, &installation_id).await?;
    let ended = installations::uninstall(&state.apps, &user, &client, view.id.as_str())
        .await
        .map_err(api)?;
    Page::redirect_with(
        &state,
        &visitor,
        format!("/o/{}/apps/installed", user.organization_id),
        Flash::notice(format!(
            "{} is uninstalled: its access to the organization ended at once.",
            ended.app_name
        )),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_read_as_words() {
        assert_eq!(category_label("developer-tools"), "Developer tools");
        assert_eq!(category_label("other"), "Other");
    }
}
