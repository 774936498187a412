//! The developer's apps (`/o/{organization_id}/apps…`): the organization's
//! apps with their status, the create form, an app's settings (redirect
//! URIs, scopes, addresses), its client id, its secret shown once after
//! it is created or rotated, "Submit for review", the operator's reason,
//! and deletion (its slug stays reserved). Owners and admins
//! (`manage_apps`); each action calls the same `registry` function as its
//! API route, audited alike.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_console::{
    base, member, refusal, Flash, FormErrors, Gate, Module, NavEntry, Page, PageError, Visitor,
};
use landlord_core::http::client::ClientInfo;
use landlord_core::ApiError;
use landlord_identity::store::Membership;
use landlord_identity::CurrentUser;
use serde::Serialize;
use serde_json::{json, Value};

use super::Pages;
use crate::registry::{self, CreateAppRequest, UpdateAppRequest, CATEGORIES};
use crate::scopes::SCOPES;
use crate::store::{self, AppStatus, ClientType};
use crate::views::AppView;

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/o/{organization_id}/apps", get(list).post(create))
        .route("/o/{organization_id}/apps/new", get(new_page))
        .route(
            "/o/{organization_id}/apps/{app_id}",
            get(detail).post(update),
        )
        .route(
            "/o/{organization_id}/apps/{app_id}/rotate-secret",
            get(rotate_page).post(rotate),
        )
        .route(
            "/o/{organization_id}/apps/{app_id}/rotate-gateway-secret",
            get(rotate_gateway_page).post(rotate_gateway),
        )
        .route("/o/{organization_id}/apps/{app_id}/submit", post(submit))
        .route(
            "/o/{organization_id}/apps/{app_id}/delete",
            get(delete_page).post(delete),
        )
}

/// This family's navigation entries.
pub(super) fn navigation(module: Module) -> Module {
    module.organization_nav(
        NavEntry::new("apps", "Your apps", "/apps", 10)
            .requires(crate::permissions::MANAGE_APPS)
            .in_group(super::GROUP),
    )
}

/// The words people read for an app's status.
pub fn status_label(status: AppStatus) -> &'static str {
    match status {
        AppStatus::Draft => "Draft",
        AppStatus::InReview => "In review",
        AppStatus::Published => "Published",
        AppStatus::Suspended => "Suspended",
    }
}

/// Signed in, in the URL's organization, allowed to manage its apps.
pub(super) async fn developer(
    state: &Pages,
    visitor: &Visitor,
    organization_id: &str,
    gate: Gate<'_>,
) -> Result<(CurrentUser, Membership), PageError> {
    member(
        state,
        visitor,
        organization_id,
        gate,
        crate::permissions::MANAGE_APPS,
    )
    .await
}

/// The layout's values with the organization.
pub(super) async fn apps_base(
    state: &Pages,
    visitor: &Visitor,
    title: &str,
    membership: &Membership,
) -> Result<landlord_console::Context, PageError> {
    let (mut context, _) = base(state, visitor, title, "apps", Some(membership)).await?;
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    Ok(context)
}

/// An app as the pages show it.
pub(super) fn app_value(app: &AppView) -> Value {
    let mut value = serde_json::to_value(app).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("status_label".into(), status_label(app.status).into());
        object.insert(
            "scope_words".into(),
            app.scopes
                .iter()
                .map(|name| {
                    let words = crate::scopes::find(name).map_or("", |s| s.words);
                    json!({ "name": name, "words": words })
                })
                .collect::<Vec<_>>()
                .into(),
        );
    }
    value
}

/// `GET /o/{organization_id}/apps`: the organization's apps, newest first.
pub async fn list(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let (user, membership) = developer(&state, &visitor, &organization_id, Gate::Read).await?;
    let rows = store::apps_of(state.apps.db.pool(), &user.organization_id)
        .await
        .map_err(ApiError::from)?;
    let apps: Vec<Value> = rows
        .into_iter()
        .map(|row| app_value(&AppView::new(row)))
        .collect();
    let mut context = apps_base(&state, &visitor, "Your apps", &membership).await?;
    context.insert("apps".into(), apps.into());
    Page::render("developer_apps.html", context)
}

/// What the app forms send (checkboxes repeat `scopes` and
/// `organization_scopes`; redirect URIs come one per line).
#[derive(Debug, Default, Serialize)]
struct AppForm {
    slug: String,
    name: String,
    description: String,
    category: String,
    client_type: String,
    redirect_uris: String,
    scopes: Vec<String>,
    organization_scopes: Vec<String>,
    homepage_url: String,
    icon_url: String,
    webhook_url: String,
    upstream_url: String,
    #[serde(skip)]
    csrf: String,
}

impl AppForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = AppForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "csrf" => form.csrf = value,
                "slug" => form.slug = value.trim().to_owned(),
                "name" => form.name = value,
                "description" => form.description = value,
                "category" => form.category = value.trim().to_owned(),
                "client_type" => form.client_type = value.trim().to_owned(),
                "redirect_uris" => form.redirect_uris = value,
                "scopes" => form.scopes.push(value),
                "organization_scopes" => form.organization_scopes.push(value),
                "homepage_url" => form.homepage_url = value.trim().to_owned(),
                "icon_url" => form.icon_url = value.trim().to_owned(),
                "webhook_url" => form.webhook_url = value.trim().to_owned(),
                "upstream_url" => form.upstream_url = value.trim().to_owned(),
                _ => {}
            }
        }
        form
    }

    /// The form's values for an app as it is.
    fn of(app: &AppView) -> Self {
        AppForm {
            slug: app.slug.clone(),
            name: app.name.clone(),
            description: app.description.clone(),
            category: app.category.clone(),
            client_type: app.client_type.as_str().to_owned(),
            redirect_uris: app.redirect_uris.join("\n"),
            scopes: app.scopes.clone(),
            organization_scopes: app.organization_scopes.clone(),
            homepage_url: app.homepage_url.clone().unwrap_or_default(),
            icon_url: app.icon_url.clone().unwrap_or_default(),
            webhook_url: app.webhook_url.clone().unwrap_or_default(),
            upstream_url: app.upstream_url.clone().unwrap_or_default(),
            csrf: String::new(),
        }
    }

    fn uris(&self) -> Vec<String> {
        self.redirect_uris
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn optional(text: &str) -> Option<String> {
        (!text.is_empty()).then(|| text.to_owned())
    }

    fn create_request(&self) -> Result<CreateAppRequest, ApiError> {
        let client_type = ClientType::parse(&self.client_type).ok_or_else(|| {
            ApiError::invalid_field(
                "client_type",
                "choose public (a browser or mobile app) or confidential (a server)",
            )
        })?;
        Ok(CreateAppRequest {
            slug: self.slug.clone(),
            name: self.name.clone(),
            description: Self::optional(&self.description),
            category: Self::optional(&self.category),
            client_type,
            redirect_uris: self.uris(),
            scopes: self.scopes.clone(),
            organization_scopes: self.organization_scopes.clone(),
            homepage_url: Self::optional(&self.homepage_url),
            icon_url: Self::optional(&self.icon_url),
            webhook_url: Self::optional(&self.webhook_url),
            upstream_url: Self::optional(&self.upstream_url),
        })
    }

    fn update_request(&self) -> UpdateAppRequest {
        UpdateAppRequest {
            slug: Some(self.slug.clone()),
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            category: Some(self.category.clone()),
            redirect_uris: Some(self.uris()),
            scopes: Some(self.scopes.clone()),
            organization_scopes: Some(self.organization_scopes.clone()),
            homepage_url: Some(self.homepage_url.clone()),
            icon_url: Some(self.icon_url.clone()),
            webhook_url: Some(self.webhook_url.clone()),
            upstream_url: Some(self.upstream_url.clone()),
        }
    }
}

/// A refusal of an app form, each reason next to its field: a redirect
/// URI's line is named, a taken slug is the slug's.
fn form_errors(error: ApiError) -> Result<FormErrors, PageError> {
    let error = match error {
        ApiError::Conflict(message) if message.starts_with("slug:") => ApiError::invalid_field(
            "slug",
            "is taken (or kept for a while after another organization deleted its app)",
        ),
        other => other,
    };
    let mut errors = refusal(error)?;
    let lines: Vec<(String, String)> = errors
        .fields
        .iter()
        .filter(|(field, _)| field.starts_with("redirect_uris["))
        .map(|(field, reason)| (field.clone(), reason.clone()))
        .collect();
    for (field, reason) in lines {
        errors.fields.remove(&field);
        let line = field
            .trim_start_matches("redirect_uris[")
            .trim_end_matches(']')
            .parse::<usize>()
            .map_or(0, |i| i + 1);
        errors
            .fields
            .entry("redirect_uris".into())
            .or_insert_with(|| format!("Line {line}: {}", reason.trim_end_matches('.')) + ".");
    }
    Ok(errors)
}

/// The scopes as checkboxes: their names and words, and which are checked.
fn scope_choices(checked: &[String], organization: bool) -> Vec<Value> {
    SCOPES
        .iter()
        .filter(|s| {
            if organization {
                s.organization
            } else {
                s.person
            }
        })
        .map(|s| {
            json!({
                "name": s.name,
                "words": s.words,
                "checked": checked.iter().any(|c| c == s.name),
            })
        })
        .collect()
}

/// The form's shared values: its fields, the choices, the errors.
fn form_context(
    context: &mut landlord_console::Context,
    form: &AppForm,
    errors: FormErrors,
) -> Result<StatusCode, PageError> {
    let status = errors.into_context(context);
    context.insert(
        "form".into(),
        serde_json::to_value(form).map_err(ApiError::internal)?,
    );
    context.insert(
        "person_scopes".into(),
        scope_choices(&form.scopes, false).into(),
    );
    context.insert(
        "organization_scope_choices".into(),
        scope_choices(&form.organization_scopes, true).into(),
    );
    context.insert("categories".into(), json!(CATEGORIES));
    Ok(status)
}

fn with_status(page: Page, status: StatusCode) -> Page {
    if status == StatusCode::OK {
        page
    } else {
        page.status(status)
    }
}

async fn new_form(
    state: &Pages,
    visitor: &Visitor,
    membership: &Membership,
    form: &AppForm,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let mut context = apps_base(state, visitor, "New app", membership).await?;
    let status = form_context(&mut context, form, errors)?;
    Ok(with_status(
        Page::render("developer_app_new.html", context)?,
        status,
    ))
}

/// `GET /o/{organization_id}/apps/new`: the create form.
pub async fn new_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let (_, membership) = developer(&state, &visitor, &organization_id, Gate::Read).await?;
    let form = AppForm {
        category: "other".into(),
        client_type: "confidential".into(),
        scopes: vec!["openid".into(), "profile".into(), "email".into()],
        ..AppForm::default()
    };
    new_form(&state, &visitor, &membership, &form, FormErrors::ok()).await
}

/// `POST /o/{organization_id}/apps`: creates the app through
/// `registry::create_by`, then 303 to its page, which shows a confidential
/// client's secret this once.
pub async fn create(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Page, PageError> {
    let form = AppForm::from_pairs(pairs);
    let (user, membership) =
        developer(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let result = match form.create_request() {
        Ok(request) => registry::create_by(&state.apps, &user, &client, request).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(created) => {
            let app = created.app;
            let location = format!("/o/{}/apps/{}", user.organization_id, app.id);
            let flash = match created.client_secret {
                Some(secret) => Flash::secret(
                    format!("The app “{}” is created, as a draft.", app.name),
                    "app_secret",
                    secret,
                )
                .also_secret("gateway_secret", created.gateway_secret)
                .detail("app_id", app.id.to_string()),
                None => Flash::notice(format!(
                    "The app “{}” is created, as a draft. A public client has no secret: it uses PKCE.",
                    app.name
                ))
                .also_secret("gateway_secret", created.gateway_secret)
                .detail("app_id", app.id.to_string()),
            };
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error) => {
            let errors = form_errors(error)?;
            new_form(&state, &visitor, &membership, &form, errors).await
        }
    }
}

/// The organization's app from the URL (404 for any other).
pub(super) async fn own_app(
    state: &Pages,
    user: &CurrentUser,
    app_id: &str,
) -> Result<AppView, PageError> {
    registry::own(&state.apps, &user.organization_id, app_id)
        .await
        .map(AppView::new)
        .map_err(landlord_console::api)
}

async fn detail_page(
    state: &Pages,
    visitor: &Visitor,
    membership: &Membership,
    app: &AppView,
    form: &AppForm,
    errors: FormErrors,
) -> Result<Page, PageError> {
    detail_page_with(state, visitor, membership, app, form, errors, "").await
}

/// The app's page with the refusal of its domain form (`errors` on
/// `domain`, the name typed kept in the field).
pub(super) async fn domain_refused(
    state: &Pages,
    visitor: &Visitor,
    membership: &Membership,
    app: &AppView,
    errors: FormErrors,
    domain: &str,
) -> Result<Page, PageError> {
    let form = AppForm::of(app);
    detail_page_with(state, visitor, membership, app, &form, errors, domain).await
}

async fn detail_page_with(
    state: &Pages,
    visitor: &Visitor,
    membership: &Membership,
    app: &AppView,
    form: &AppForm,
    errors: FormErrors,
    domain: &str,
) -> Result<Page, PageError> {
    let title = app.name.clone();
    let mut context = apps_base(state, visitor, &title, membership).await?;
    let status = form_context(&mut context, form, errors)?;
    context.insert("app".into(), app_value(app));
    super::domains::insert(state, app, &mut context, domain).await?;
    crate::traffic::page_context(&state.apps, &app.id, &mut context).await?;
    context.insert(
        "quarantine_days".into(),
        state.apps.settings().slug_quarantine_days.into(),
    );
    Ok(with_status(
        Page::render("developer_app.html", context)?,
        status,
    ))
}

/// `GET /o/{organization_id}/apps/{app_id}`: the app's settings.
pub async fn detail(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, app_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = developer(&state, &visitor, &organization_id, Gate::Read).await?;
    let app = own_app(&state, &user, &app_id).await?;
    let form = AppForm::of(&app);
    detail_page(&state, &visitor, &membership, &app, &form, FormErrors::ok()).await
}

/// `POST /o/{organization_id}/apps/{app_id}`: saves the settings through
/// `registry::update`.
pub async fn update(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, app_id)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Page, PageError> {
    let form = AppForm::from_pairs(pairs);
    let (user, membership) =
        developer(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let app = own_app(&state, &user, &app_id).await?;
    match registry::update(&state.apps, &user, &client, &app_id, form.update_request()).await {
        Ok(saved) => {
            let location = format!("/o/{}/apps/{}", user.organization_id, saved.id);
            let notice = if saved.slug != app.slug {
                format!(
                    "Saved. The old slug “{}” stays reserved for your organization for {} days.",
                    app.slug,
                    state.apps.settings().slug_quarantine_days
                )
            } else {
                "Saved.".to_owned()
            };
            Page::redirect_with(&state, &visitor, location, Flash::notice(notice)).await
        }
        Err(error) => {
            let errors = form_errors(error)?;
            let mut shown = form;
            shown.client_type = app.client_type.as_str().to_owned();
            detail_page(&state, &visitor, &membership, &app, &shown, errors).await
        }
    }
}

/// `GET /o/{organization_id}/apps/{app_id}/rotate-secret`: the confirmation.
pub async fn rotate_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, app_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = developer(&state, &visitor, &organization_id, Gate::Read).await?;
    let app = own_app(&state, &user, &app_id).await?;
    let mut context = apps_base(&state, &visitor, "Rotate the secret", &membership).await?;
    context.insert("app".into(), app_value(&app));
    context.insert("confirm".into(), "rotate".into());
    Page::render("developer_app_confirm.html", context)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ActionForm {
    pub(super) csrf: String,
}

/// `POST /o/{organization_id}/apps/{app_id}/rotate-secret`: a new secret
/// (`registry::rotate_secret`), shown once on the app's page.
pub async fn rotate(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, app_id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let (user, _) = developer(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let location = format!("/o/{}/apps/{}", user.organization_id, app_id.trim());
    let flash = match registry::rotate_secret(&state.apps, &user, &client, &app_id).await {
        Ok(rotated) => Flash::secret(
            "The secret is rotated: the old one no longer works.",
            "app_secret",
            rotated.client_secret,
        )
        .detail("app_id", rotated.app.id.to_string()),
        Err(ApiError::Conflict(message)) => Flash::notice(landlord_console::sentence(&message)),
        Err(error) => return Err(landlord_console::api(error)),
    };
    Page::redirect_with(&state, &visitor, location, flash).await
}

/// `GET /o/{organization_id}/apps/{app_id}/rotate-gateway-secret`: the
/// confirmation.
pub async fn rotate_gateway_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, app_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = developer(&state, &visitor, &organization_id, Gate::Read).await?;
    let app = own_app(&state, &user, &app_id).await?;
    let mut context = apps_base(&state, &visitor, "Rotate the gateway secret", &membership).await?;
    context.insert("app".into(), app_value(&app));
    context.insert(
        "overlap_hours".into(),
        state.apps.settings().gateway_secret_overlap_hours.into(),
    );
    Page::render("developer_app_gateway_confirm.html", context)
}

/// `POST /o/{organization_id}/apps/{app_id}/rotate-gateway-secret`: a new
/// gateway signing secret, shown once on the app's page; the previous one
/// keeps signing during the overlap.
pub async fn rotate_gateway(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, app_id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let (user, _) = developer(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let location = format!("/o/{}/apps/{}", user.organization_id, app_id.trim());
    let rotated = crate::gateway::signature::rotate(&state.apps, &user, &client, &app_id)
        .await
        .map_err(landlord_console::api)?;
    let flash = Flash::notice(
        "The gateway secret is rotated: the previous one still signs during the overlap.",
    )
    .also_secret("gateway_secret", rotated.gateway_secret)
    .detail("app_id", rotated.app.id.to_string());
    Page::redirect_with(&state, &visitor, location, flash).await
}

/// `POST /o/{organization_id}/apps/{app_id}/submit`: a draft goes to
/// review (`registry::submit`); a refusal says why on the app's page.
pub async fn submit(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, app_id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let (user, membership) =
        developer(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    match registry::submit(&state.apps, &user, &client, &app_id).await {
        Ok(app) => {
            let location = format!("/o/{}/apps/{}", user.organization_id, app.id);
            let notice = "Submitted for review: a platform administrator publishes it or tells you what to change.";
            Page::redirect_with(&state, &visitor, location, Flash::notice(notice)).await
        }
        Err(error @ ApiError::Conflict(_)) => {
            let app = own_app(&state, &user, &app_id).await?;
            let errors = refusal(error)?;
            let form = AppForm::of(&app);
            detail_page(&state, &visitor, &membership, &app, &form, errors).await
        }
        Err(error) => Err(landlord_console::api(error)),
    }
}

/// `GET /o/{organization_id}/apps/{app_id}/delete`: the confirmation.
pub async fn delete_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, app_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = developer(&state, &visitor, &organization_id, Gate::Read).await?;
    let app = own_app(&state, &user, &app_id).await?;
    let mut context = apps_base(&state, &visitor, "Delete an app", &membership).await?;
    context.insert("app".into(), app_value(&app));
    context.insert("confirm".into(), "delete".into());
    context.insert(
        "quarantine_days".into(),
        state.apps.settings().slug_quarantine_days.into(),
    );
    Page::render("developer_app_confirm.html", context)
}

/// `POST /o/{organization_id}/apps/{app_id}/delete`: deletes the app
/// (`registry::delete`), back to the list.
pub async fn delete(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, app_id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let (user, _) = developer(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let deleted = registry::delete(&state.apps, &user, &client, &app_id)
        .await
        .map_err(landlord_console::api)?;
    let notice = format!(
        "The app “{}” is deleted. Its slug “{}” stays reserved for your organization until {}.",
        deleted.app.name,
        deleted.app.slug,
        deleted.slug_reserved_until.date()
    );
    Page::redirect_with(
        &state,
        &visitor,
        format!("/o/{}/apps", user.organization_id),
        Flash::notice(notice),
    )
    .await
}
