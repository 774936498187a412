//! The organization's API keys (`/o/{organization_id}/keys`): list, create
//! (the secret shown once, after the redirect), revoke with a confirmation step. Each calls the
//! same `keys::manage` function as its API route; members see and revoke
//! only the keys they created.

use crate::manage::{self, CreateKeyRequest, SCOPE_CATALOG};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Form;
use axum::Router;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::PageQuery;
use landlord_core::ids::ApiKeyId;
use landlord_core::ApiError;
use landlord_identity::permissions;
use landlord_identity::store::Membership;
use landlord_identity::CurrentUser;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Pages;
use landlord_console::base;
use landlord_console::chart::{usage_chart, Day};
use landlord_console::Context;
use landlord_console::Visitor;
use landlord_console::{member, tenant, Found, Gate};
use landlord_console::{Flash, FormErrors, Page, PageError};
use landlord_metering::daily::{self, KeyFilter};

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/o/{organization_id}/keys", get(list).post(create))
        .route("/o/{organization_id}/keys/new", get(new_page))
        .route("/o/{organization_id}/keys/{key_id}", get(detail))
        .route(
            "/o/{organization_id}/keys/{key_id}/revoke",
            get(revoke_page).post(revoke),
        )
}

fn api(error: ApiError) -> PageError {
    match error {
        ApiError::Forbidden(message) => PageError::Forbidden(message),
        other => PageError::Api(other),
    }
}

/// The organization's values every keys page shows.
async fn keys_base(
    state: &Pages,
    visitor: &Visitor,
    title: &str,
    membership: &Membership,
) -> Result<Context, PageError> {
    let (mut context, _) = base(state, visitor, title, "keys", Some(membership)).await?;
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    Ok(context)
}

/// The list's query: the page's cursor.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

/// `GET /o/{organization_id}/keys`: the keys the person manages, newest
/// first, with this month's requests; `?cursor=` pages like `GET /keys`.
pub async fn list(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    permissions::require(&user, permissions::VIEW_DASHBOARD).map_err(api)?;
    let page = PageQuery {
        limit: None,
        cursor: query.cursor.clone(),
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let org = &user.organization_id;
    let mut keys = manage::list(
        &state.keys,
        org,
        manage::managed_creator(&user),
        page.cursor.as_deref(),
        page.fetch(),
    )
    .await?;
    let meta = page.finish(&mut keys, |k| k.id.to_string());
    let counts = manage::requests_this_month(&state.keys, org).await?;
    let rows: Vec<Value> = keys
        .iter()
        .map(|key| {
            let mut row = serde_json::to_value(key).unwrap_or_default();
            if let Some(object) = row.as_object_mut() {
                object.insert(
                    "requests_this_month".into(),
                    counts.get(&key.id).copied().unwrap_or(0).into(),
                );
            }
            row
        })
        .collect();
    let mut context = keys_base(&state, &visitor, "API keys", &membership).await?;
    context.insert("keys".into(), rows.into());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), page.cursor.is_none().into());
    // The request a new key's notice offers to copy.
    context.insert(
        "public_url".into(),
        state
            .identity()
            .config
            .public_url
            .trim_end_matches('/')
            .into(),
    );
    context.insert(
        "sees_every_key".into(),
        manage::managed_creator(&user).is_none().into(),
    );
    Page::render("keys.html", context)
}

/// What the create form sends (checkboxes repeat `scopes`).
#[derive(Debug, Default, Serialize)]
struct KeyForm {
    csrf: String,
    name: String,
    expires_on: String,
    rate_limit_per_minute: String,
    scopes: Vec<String>,
}

impl KeyForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = KeyForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "csrf" => form.csrf = value,
                "name" => form.name = value,
                "expires_on" => form.expires_on = value.trim().to_owned(),
                "rate_limit_per_minute" => form.rate_limit_per_minute = value.trim().to_owned(),
                "scopes" => form.scopes.push(value),
                _ => {}
            }
        }
        form
    }

    /// The API's request, or the error of the field that is not one.
    fn request(&self) -> Result<CreateKeyRequest, ApiError> {
        let expires_at = match self.expires_on.as_str() {
            "" => None,
            date => {
                let text = format!("{date}T00:00:00Z");
                if landlord_core::Timestamp::parse_rfc3339(&text).is_none() {
                    return Err(ApiError::invalid_field(
                        "expires_at",
                        "is not a date such as 2030-01-31",
                    ));
                }
                Some(text)
            }
        };
        let rate_limit_per_minute = match self.rate_limit_per_minute.as_str() {
            "" => None,
            text => Some(
                text.replace([',', '_', ' '], "")
                    .parse::<u32>()
                    .map_err(|_| {
                        ApiError::invalid_field(
                            "rate_limit_per_minute",
                            format!(
                                "must be a whole number from 1 to {}",
                                manage::MAX_KEY_RATE_LIMIT
                            ),
                        )
                    })?,
            ),
        };
        Ok(CreateKeyRequest {
            name: self.name.clone(),
            expires_at,
            scopes: (!self.scopes.is_empty()).then(|| self.scopes.clone()),
            rate_limit_per_minute,
        })
    }
}

async fn form_page(
    state: &Pages,
    visitor: &Visitor,
    membership: &Membership,
    form: &KeyForm,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let mut context = keys_base(state, visitor, "Create an API key", membership).await?;
    let status = errors.into_context(&mut context);
    context.insert(
        "form".into(),
        serde_json::to_value(form).map_err(ApiError::internal)?,
    );
    let catalog: Vec<Value> = SCOPE_CATALOG
        .iter()
        .map(|(scope, what)| json!({ "scope": scope, "what": what }))
        .collect();
    context.insert("catalog".into(), catalog.into());
    context.insert("max_rate".into(), manage::MAX_KEY_RATE_LIMIT.into());
    let page = Page::render("key_new.html", context)?;
    Ok(if status == StatusCode::OK {
        page
    } else {
        page.status(status)
    })
}

/// Signed in, in the URL's organization, allowed to create keys.
async fn creator(
    state: &Pages,
    visitor: &Visitor,
    organization_id: &str,
    gate: Gate<'_>,
) -> Result<Found, PageError> {
    member(
        state,
        visitor,
        organization_id,
        gate,
        permissions::CREATE_API_KEYS,
    )
    .await
}

/// `GET /o/{organization_id}/keys/new`: the create form.
pub async fn new_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let (_, membership) = creator(&state, &visitor, &organization_id, Gate::Read).await?;
    let errors = FormErrors {
        status: Some(StatusCode::OK),
        ..FormErrors::default()
    };
    form_page(&state, &visitor, &membership, &KeyForm::default(), errors).await
}

/// `POST /o/{organization_id}/keys`: creates the key through
/// `manage::create`, then 303 to the list, which shows the secret this
/// once (a one-time notice of this session, the secret sealed) with a
/// ready-to-copy request: reloading the list neither shows it again nor
/// creates another key. A refused form is shown again with its errors.
pub async fn create(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Page, PageError> {
    let form = KeyForm::from_pairs(pairs);
    let (user, membership) =
        creator(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let result = match form.request() {
        Ok(request) => manage::create(&state.keys, &user, &client, request).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(created) => {
            let flash = Flash::secret(
                format!("The key “{}” is created.", created.name),
                "api_key",
                created.key,
            )
            .detail("id", created.id.to_string())
            .detail("prefix", created.prefix)
            .detail("name", created.name)
            .detail("scopes", json!(created.scopes))
            .detail(
                "expires_at",
                serde_json::to_value(created.expires_at).map_err(ApiError::internal)?,
            )
            .detail(
                "rate_limit_per_minute",
                json!(created.rate_limit_per_minute),
            );
            Page::redirect_with(
                &state,
                &visitor,
                format!("/o/{}/keys", user.organization_id),
                flash,
            )
            .await
        }
        Err(error) => {
            let errors = FormErrors::from_api(error)?;
            form_page(&state, &visitor, &membership, &form, errors).await
        }
    }
}

/// A key the person manages, from the URL (404 for any other).
async fn managed_key(
    state: &Pages,
    user: &CurrentUser,
    key_id: &str,
) -> Result<manage::KeyView, PageError> {
    let id = ApiKeyId::parse(key_id).ok_or(PageError::NotFound)?;
    Ok(manage::find(&state.keys, user, &id).await?)
}

/// `GET /o/{organization_id}/keys/{key_id}`: one key the person manages,
/// its settings and this month's requests by day against the plan's quota
/// (the quota is the organization's, shared by its keys).
pub async fn detail(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, key_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    permissions::require(&user, permissions::VIEW_DASHBOARD).map_err(api)?;
    let key = managed_key(&state, &user, &key_id).await?;
    let org = &user.organization_id;
    let now = landlord_core::Timestamp::now();
    let month_start =
        landlord_core::Timestamp::from_millis(landlord_limits::month_start_ms(now.millis()));
    let next_month = month_start_after(month_start);
    let days = daily::requests_by_day(
        &state.keys.db,
        org,
        month_start,
        landlord_core::Timestamp::from_millis(next_month.millis() - daily::DAY_MS),
        &KeyFilter::One(key.id.clone()),
    )
    .await?;
    let usage = landlord_metering::period::period_usage(&state.keys.identity, org).await?;
    let days: Vec<Day> = days
        .into_iter()
        .map(|d| Day {
            date: d.date,
            requests: d.requests,
        })
        .collect();
    let title = format!("API key {}", key.name);
    let mut context = keys_base(&state, &visitor, &title, &membership).await?;
    context.insert(
        "chart".into(),
        usage_chart(
            &days,
            &daily::start_of_day(now).date(),
            usage.included,
            "The plan's quota (all keys)",
        ),
    );
    context.insert("plan".into(), usage.plan.into());
    context.insert(
        "key".into(),
        serde_json::to_value(&key).map_err(ApiError::internal)?,
    );
    Page::render("key.html", context)
}

/// The first instant of the month after the one starting at `start`.
fn month_start_after(start: landlord_core::Timestamp) -> landlord_core::Timestamp {
    // 32 days on lands in the next month, whatever the month's length.
    landlord_core::Timestamp::from_millis(landlord_limits::month_start_ms(
        start.millis() + 32 * daily::DAY_MS,
    ))
}

/// `GET /o/{organization_id}/keys/{key_id}/revoke`: the confirmation.
pub async fn revoke_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, key_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    let key = managed_key(&state, &user, &key_id).await?;
    let mut context = keys_base(&state, &visitor, "Revoke an API key", &membership).await?;
    context.insert(
        "key".into(),
        serde_json::to_value(&key).map_err(ApiError::internal)?,
    );
    Page::render("key_revoke.html", context)
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /o/{organization_id}/keys/{key_id}/revoke`: revokes through
/// `manage::revoke` (audited), back to the list.
pub async fn revoke(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, key_id)): Path<(String, String)>,
    Form(form): Form<RevokeForm>,
) -> Result<Page, PageError> {
    let (user, _) = tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let key = managed_key(&state, &user, &key_id).await?;
    manage::revoke(&state.keys, &user, &client, &key.id)
        .await
        .map_err(api)?;
    Page::redirect_with(
        &state,
        &visitor,
        format!("/o/{}/keys", user.organization_id),
        Flash::notice(format!(
            "The key {}… is revoked: it no longer works.",
            key.prefix
        )),
    )
    .await
}
