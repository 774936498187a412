//! The organization's outgoing webhooks (`/o/{organization_id}/webhooks`):
//! the endpoints and the create form (the signing secret shown once on the
//! endpoint's page it redirects to), an
//! endpoint's page (edit, test message, secret revealed or rotated by
//! owners, delete after a confirmation, recovery of failed messages, the
//! attempt log with a resend per message). Each action calls the same
//! `crate::manage` function as its `/webhooks/endpoints` route,
//! under the same permissions: `ManageWebhooks` (owners, admins) for
//! everything, `ViewWebhookSecrets` (owners) for the secret after creation.

use crate::endpoint::MAX_ENDPOINTS;
use crate::manage::{
    self, AttemptView, CreateEndpointRequest, EndpointView, SecretView, UpdateEndpointRequest,
};
use crate::store::{AttemptFilter, EndpointRow};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Form;
use axum::Router;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::PageQuery;
use landlord_core::ids::WebhookAttemptId;
use landlord_core::{ApiError, Timestamp};
use landlord_events::payloads::WEBHOOK_TEST;
use landlord_events::EventType;
use landlord_identity::permissions;
use landlord_identity::store::Membership;
use landlord_identity::CurrentUser;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use landlord_console::{
    api, base, member, refusal, ConsoleState, Context, Flash, FormErrors, Gate, Page, PageError,
    Visitor,
};

pub(super) fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/o/{organization_id}/webhooks", get(list).post(create))
        .route(
            "/o/{organization_id}/webhooks/{endpoint_id}",
            get(detail).post(update),
        )
        .route(
            "/o/{organization_id}/webhooks/{endpoint_id}/test",
            post(send_test),
        )
        .route(
            "/o/{organization_id}/webhooks/{endpoint_id}/secret",
            post(reveal_secret),
        )
        .route(
            "/o/{organization_id}/webhooks/{endpoint_id}/rotate-secret",
            get(rotate_page).post(rotate),
        )
        .route(
            "/o/{organization_id}/webhooks/{endpoint_id}/delete",
            get(delete_page).post(delete),
        )
        .route(
            "/o/{organization_id}/webhooks/{endpoint_id}/recover",
            post(recover),
        )
        .route(
            "/o/{organization_id}/webhooks/{endpoint_id}/messages/{message_id}/resend",
            post(resend),
        )
}

/// Attempts one page of the log shows.
const ATTEMPTS_PER_PAGE: u32 = 20;

/// The organization's values every webhook page shows.
async fn webhooks_base(
    state: &ConsoleState,
    visitor: &Visitor,
    title: &str,
    user: &CurrentUser,
    membership: &Membership,
) -> Result<Context, PageError> {
    let (mut context, _) = base(state, visitor, title, "webhooks", Some(membership)).await?;
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    context.insert(
        "can_secrets".into(),
        permissions::allows(user.role, permissions::VIEW_WEBHOOK_SECRETS).into(),
    );
    let config = &state
        .identity()
        .config
        .section::<crate::config::WebhooksConfig>();
    context.insert(
        "disable_after".into(),
        span(config.disable_after_failing_ms).into(),
    );
    context.insert(
        "url_hint".into(),
        url_hint(config.allow_http, config.allow_private_addresses).into(),
    );
    Ok(context)
}

/// A configured span in words: "5 days", "36 hours", "10 minutes".
fn span(ms: u64) -> String {
    const MINUTE: u64 = 60_000;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let (n, unit) = match ms {
        ms if ms >= 2 * DAY && ms % DAY == 0 => (ms / DAY, "day"),
        ms if ms >= HOUR => (ms.div_ceil(HOUR), "hour"),
        ms => (ms.div_ceil(MINUTE).max(1), "minute"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// What the URL field accepts, as this server is configured.
fn url_hint(allow_http: bool, allow_private: bool) -> &'static str {
    match (allow_http, allow_private) {
        (false, false) => "Where Landlord POSTs each message: an https URL whose host has public addresses only.",
        (true, false) => "Where Landlord POSTs each message: an https (or http) URL whose host has public addresses only.",
        (false, true) => "Where Landlord POSTs each message: an https URL.",
        (true, true) => "Where Landlord POSTs each message: an https (or http) URL.",
    }
}

/// The types an endpoint may subscribe to (`webhook.test` goes only
/// where it is sent), with what each means.
fn catalog() -> Value {
    EventType::all()
        .iter()
        .filter(|t| **t != WEBHOOK_TEST)
        .map(|t| json!({ "name": t.as_str(), "description": t.description() }))
        .collect()
}

fn view_json(view: &EndpointView) -> Result<Value, PageError> {
    Ok(serde_json::to_value(view).map_err(ApiError::internal)?)
}

/// What the create and edit forms send (checkboxes repeat `event_types`;
/// `enabled` is sent only when ticked).
#[derive(Debug, Default, Serialize)]
struct EndpointForm {
    #[serde(skip)]
    csrf: String,
    url: String,
    description: String,
    event_types: Vec<String>,
    enabled: bool,
}

impl EndpointForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = EndpointForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "csrf" => form.csrf = value,
                "url" => form.url = value.trim().to_owned(),
                "description" => form.description = value,
                "event_types" => form.event_types.push(value),
                "enabled" => form.enabled = true,
                _ => {}
            }
        }
        form
    }

    /// The edit form as the endpoint stands.
    fn of(view: &EndpointView) -> Self {
        EndpointForm {
            csrf: String::new(),
            url: view.url.clone(),
            description: view.description.clone(),
            event_types: view
                .event_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            enabled: view.enabled,
        }
    }

    /// A new endpoint's form: enabled, every type.
    fn blank() -> Self {
        EndpointForm {
            enabled: true,
            ..EndpointForm::default()
        }
    }
}

// ---- the list and the create form ---------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    cursor: Option<String>,
}

/// The list page, with the create form's values and errors.
async fn list_page(
    state: &ConsoleState,
    visitor: &Visitor,
    user: &CurrentUser,
    membership: &Membership,
    cursor: Option<&str>,
    form: &EndpointForm,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let page = PageQuery {
        limit: None,
        cursor: cursor.map(str::to_owned),
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let mut rows = manage::list(
        state.identity(),
        &user.organization_id,
        page.cursor.as_deref(),
        page.fetch(),
    )
    .await?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    let endpoints = rows
        .into_iter()
        .map(|row| view_json(&EndpointView::new(row)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut context = webhooks_base(state, visitor, "Webhooks", user, membership).await?;
    let status = errors.into_context(&mut context);
    context.insert("endpoints".into(), endpoints.into());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), page.cursor.is_none().into());
    context.insert("catalog".into(), catalog());
    context.insert(
        "form".into(),
        serde_json::to_value(form).map_err(ApiError::internal)?,
    );
    context.insert("max_endpoints".into(), MAX_ENDPOINTS.into());
    let page = Page::render("webhooks.html", context)?;
    Ok(if status == StatusCode::OK {
        page
    } else {
        page.status(status)
    })
}

/// `GET /o/{organization_id}/webhooks`: the endpoints, newest first
/// (`?cursor=` pages like `GET /webhooks/endpoints`), and the create form.
pub async fn list(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Page, PageError> {
    let (user, membership) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        permissions::MANAGE_WEBHOOKS,
    )
    .await?;
    list_page(
        &state,
        &visitor,
        &user,
        &membership,
        query.cursor.as_deref(),
        &EndpointForm::blank(),
        FormErrors::ok(),
    )
    .await
}

/// `POST /o/{organization_id}/webhooks`: creates the endpoint through
/// `manage::create`, then 303 to the endpoint's page, which shows its
/// signing secret this once (a one-time notice, the secret sealed):
/// reloading it neither shows the secret again nor creates another.
pub async fn create(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Page, PageError> {
    let form = EndpointForm::from_pairs(pairs);
    let (user, membership) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::MANAGE_WEBHOOKS,
    )
    .await?;
    let request = CreateEndpointRequest {
        url: form.url.clone(),
        description: Some(form.description.clone()),
        event_types: Some(form.event_types.clone()),
        enabled: Some(form.enabled),
    };
    match manage::create(state.identity(), &user, &client, request).await {
        Ok(created) => {
            let flash = Flash::secret(
                "The endpoint is created.",
                "webhook_created",
                created.secret.clone(),
            );
            let location = endpoint_url(&user, created.endpoint.id.as_str(), "");
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error) => {
            let errors = refusal(error)?;
            list_page(&state, &visitor, &user, &membership, None, &form, errors).await
        }
    }
}

// ---- an endpoint's page -------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DetailQuery {
    cursor: Option<String>,
}

/// What recovering says: how many failed messages go out again.
fn recovered_notice(count: usize, more: bool) -> String {
    let mut text = match count {
        0 => "No failed message since that time: nothing to send again.".to_string(),
        1 => "1 failed message queued again.".to_string(),
        n => format!("{n} failed messages queued again."),
    };
    if more {
        text.push_str(" More remain: recover again with the same time.");
    }
    text
}

/// What the recover form sends.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RecoverForm {
    csrf: String,
    since: String,
}

/// The recover field's default: a day ago, as `datetime-local` shows it
/// (UTC, to the minute).
fn a_day_ago() -> String {
    let text = Timestamp::now()
        .minus(std::time::Duration::from_secs(24 * 3600))
        .rfc3339();
    text[..16].to_string()
}

/// `since` as RFC 3339: a `datetime-local` value (`2026-12-01T09:30`,
/// with or without seconds) is read as UTC; anything else goes to the
/// feature as typed, which says what is wrong with it.
fn since_rfc3339(since: &str) -> String {
    let since = since.trim();
    let local = |text: &str| Timestamp::parse_rfc3339(text).map(|_| text.to_string());
    match since.len() {
        16 => local(&format!("{since}:00Z")),
        19 => local(&format!("{since}Z")),
        _ => None,
    }
    .unwrap_or_else(|| since.to_string())
}

/// The endpoint's page: its facts, the edit and recover forms (with what
/// was typed and the errors, after a refused change) and a page of its
/// attempts.
struct Detail<'a> {
    form: Option<EndpointForm>,
    since: Option<&'a str>,
    errors: FormErrors,
    cursor: Option<&'a str>,
}

impl Default for Detail<'_> {
    fn default() -> Self {
        Detail {
            form: None,
            since: None,
            errors: FormErrors::ok(),
            cursor: None,
        }
    }
}

async fn detail_page(
    state: &ConsoleState,
    visitor: &Visitor,
    (user, membership): &(CurrentUser, Membership),
    row: EndpointRow,
    detail: Detail<'_>,
) -> Result<Page, PageError> {
    let page = PageQuery {
        limit: Some(ATTEMPTS_PER_PAGE),
        cursor: detail.cursor.map(str::to_owned),
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let before = page.cursor.as_deref().map(WebhookAttemptId::from_trusted);
    let id = row.id.to_string();
    let mut attempts = manage::attempts(
        state.identity(),
        &user.organization_id,
        &id,
        AttemptFilter {
            event_id: None,
            succeeded: None,
            before: before.as_ref(),
            limit: page.fetch(),
        },
    )
    .await?;
    let meta = page.finish(&mut attempts, |a| a.id.to_string());
    let attempts: Vec<Value> = attempts
        .into_iter()
        .map(|row| {
            let view = AttemptView::new(row);
            let mut value = serde_json::to_value(&view).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert(
                    "response_lines".into(),
                    view.response_excerpt.lines().count().into(),
                );
            }
            value
        })
        .collect();
    let view = EndpointView::new(row);
    let form = detail.form.unwrap_or_else(|| EndpointForm::of(&view));
    let title = if view.description.is_empty() {
        "Webhook endpoint"
    } else {
        view.description.as_str()
    };
    let mut context = webhooks_base(state, visitor, title, user, membership).await?;
    let status = detail.errors.into_context(&mut context);
    context.insert("endpoint".into(), view_json(&view)?);
    context.insert(
        "form".into(),
        serde_json::to_value(&form).map_err(ApiError::internal)?,
    );
    context.insert("catalog".into(), catalog());
    context.insert(
        "since".into(),
        detail
            .since
            .map(str::to_owned)
            .unwrap_or_else(a_day_ago)
            .into(),
    );
    context.insert("attempts".into(), attempts.into());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), page.cursor.is_none().into());
    let page = Page::render("webhook.html", context)?;
    Ok(if status == StatusCode::OK {
        page
    } else {
        page.status(status)
    })
}

/// The URL's endpoint of the organization (404 for any other).
async fn endpoint_of(
    state: &ConsoleState,
    user: &CurrentUser,
    endpoint_id: &str,
) -> Result<EndpointRow, PageError> {
    manage::find_row(state.identity(), &user.organization_id, endpoint_id)
        .await
        .map_err(|error| match error {
            ApiError::NotFound(_) => PageError::NotFound,
            other => PageError::Api(other),
        })
}

fn endpoint_url(user: &CurrentUser, endpoint_id: &str, query: &str) -> String {
    format!("/o/{}/webhooks/{endpoint_id}{query}", user.organization_id)
}

/// `GET /o/{organization_id}/webhooks/{endpoint_id}`: the endpoint and a
/// page of its attempts, newest first (`?cursor=` pages like `GET
/// /webhooks/endpoints/{id}/attempts`).
pub async fn detail(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Path((organization_id, endpoint_id)): Path<(String, String)>,
    Query(query): Query<DetailQuery>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        permissions::MANAGE_WEBHOOKS,
    )
    .await?;
    let row = endpoint_of(&state, &found.0, &endpoint_id).await?;
    let detail = Detail {
        cursor: query.cursor.as_deref(),
        ..Detail::default()
    };
    detail_page(&state, &visitor, &found, row, detail).await
}

/// After an action on the endpoint: back to its page with what was done
/// (a one-time notice), or the page with the refusal (a field's error next
/// to it).
async fn after(
    state: &ConsoleState,
    visitor: &Visitor,
    found: &(CurrentUser, Membership),
    endpoint_id: &str,
    result: Result<Flash, ApiError>,
    detail: impl FnOnce(FormErrors) -> Detail<'static>,
) -> Result<Page, PageError> {
    match result {
        Ok(flash) => {
            let location = endpoint_url(&found.0, endpoint_id, "");
            Page::redirect_with(state, visitor, location, flash).await
        }
        Err(error) => {
            let errors = refusal(error)?;
            let row = endpoint_of(state, &found.0, endpoint_id).await?;
            detail_page(state, visitor, found, row, detail(errors)).await
        }
    }
}

/// `POST /o/{organization_id}/webhooks/{endpoint_id}`: the edit form,
/// through `manage::update`.
pub async fn update(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, endpoint_id)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Page, PageError> {
    let form = EndpointForm::from_pairs(pairs);
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::MANAGE_WEBHOOKS,
    )
    .await?;
    let current = endpoint_of(&state, &found.0, &endpoint_id).await?;
    // The enabled flag is sent only when it changes: saving other fields
    // of an endpoint Landlord disabled keeps Landlord's reason.
    let enabled = (form.enabled != (current.enabled == 1)).then_some(form.enabled);
    let request = UpdateEndpointRequest {
        url: Some(form.url.clone()),
        description: Some(form.description.clone()),
        event_types: Some(form.event_types.clone()),
        enabled,
    };
    let result = manage::update(state.identity(), &found.0, &client, &endpoint_id, request)
        .await
        .map(|_| Flash::notice("Endpoint saved."));
    after(&state, &visitor, &found, &endpoint_id, result, |errors| {
        Detail {
            form: Some(form),
            errors,
            ..Detail::default()
        }
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST …/{endpoint_id}/test`: `manage::send_test`, a `webhook.test`
/// message to this endpoint only.
pub async fn send_test(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, endpoint_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::MANAGE_WEBHOOKS,
    )
    .await?;
    let result = manage::send_test(state.identity(), &found.0, &client, &endpoint_id)
        .await
        .map(|_| {
            Flash::notice(
                "Test message queued: it goes out within moments. Reload the page to see its \
                 attempt in the log below.",
            )
        });
    after(&state, &visitor, &found, &endpoint_id, result, |errors| {
        Detail {
            errors,
            ..Detail::default()
        }
    })
    .await
}

/// `POST …/{endpoint_id}/messages/{message_id}/resend`: `manage::resend`.
pub async fn resend(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, endpoint_id, message_id)): Path<(String, String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::MANAGE_WEBHOOKS,
    )
    .await?;
    let result = manage::resend(
        state.identity(),
        &found.0,
        &client,
        &endpoint_id,
        &message_id,
    )
    .await
    .map(|_| {
        Flash::notice(
            "Message queued again, with the same webhook-id: reload the page to see the new \
             attempt below.",
        )
    });
    after(&state, &visitor, &found, &endpoint_id, result, |errors| {
        Detail {
            errors,
            ..Detail::default()
        }
    })
    .await
}

/// `POST …/{endpoint_id}/recover`: `manage::recover`, every message that
/// failed since the time given (UTC).
pub async fn recover(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, endpoint_id)): Path<(String, String)>,
    Form(form): Form<RecoverForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::MANAGE_WEBHOOKS,
    )
    .await?;
    let result = if form.since.trim().is_empty() {
        Err(ApiError::invalid_field("since", "is required"))
    } else {
        manage::recover(
            state.identity(),
            &found.0,
            &client,
            &endpoint_id,
            &since_rfc3339(&form.since),
        )
        .await
        .map(|view| Flash::notice(recovered_notice(view.recovered, view.more)))
    };
    match result {
        Ok(flash) => {
            let location = endpoint_url(&found.0, &endpoint_id, "");
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error) => {
            let errors = refusal(error)?;
            let row = endpoint_of(&state, &found.0, &endpoint_id).await?;
            let detail = Detail {
                since: Some(form.since.trim()),
                errors,
                ..Detail::default()
            };
            detail_page(&state, &visitor, &found, row, detail).await
        }
    }
}

// ---- the secret, rotation and deletion ------------------------------------------------

/// Back to the endpoint's page, which shows `secret` this once (`kind`:
/// `webhook_revealed` or `webhook_rotated`), with the previous secret
/// still signing beside a rotated one.
async fn show_secret(
    state: &ConsoleState,
    visitor: &Visitor,
    user: &CurrentUser,
    endpoint_id: &str,
    secret: SecretView,
    kind: &str,
) -> Result<Page, PageError> {
    let notice = if kind == "webhook_rotated" {
        "The signing secret is rotated."
    } else {
        "Here is the signing secret: the reveal is recorded in the audit log."
    };
    let mut flash = Flash::secret(notice, kind, secret.secret.clone());
    if let Some(previous) = &secret.previous_secret {
        flash = flash.also_secret("previous_secret", previous.clone());
    }
    if let Some(until) = secret.previous_secret_expires_at {
        flash = flash.detail("previous_secret_expires_at", until.rfc3339());
    }
    let location = endpoint_url(user, endpoint_id, "");
    Page::redirect_with(state, visitor, location, flash).await
}

/// `POST …/{endpoint_id}/secret`: `manage::secret` (owners; audited),
/// then back to the endpoint's page, which shows it once. A POST, so the
/// secret is never in a URL or the browser's history.
pub async fn reveal_secret(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, endpoint_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::VIEW_WEBHOOK_SECRETS,
    )
    .await?;
    endpoint_of(&state, &found.0, &endpoint_id).await?;
    let secret = manage::secret(state.identity(), &found.0, &client, &endpoint_id)
        .await
        .map_err(api)?;
    show_secret(
        &state,
        &visitor,
        &found.0,
        &endpoint_id,
        secret,
        "webhook_revealed",
    )
    .await
}

/// A confirmation page (`webhook_confirm.html`) for `action` on the
/// endpoint: `rotate` or `delete`.
async fn confirm_page(
    state: &ConsoleState,
    visitor: &Visitor,
    (user, membership): &(CurrentUser, Membership),
    row: EndpointRow,
    action: &str,
) -> Result<Page, PageError> {
    let title = match action {
        "rotate" => "Rotate the signing secret",
        _ => "Delete an endpoint",
    };
    let mut context = webhooks_base(state, visitor, title, user, membership).await?;
    context.insert("action".into(), action.into());
    context.insert("endpoint".into(), view_json(&EndpointView::new(row))?);
    Page::render("webhook_confirm.html", context)
}

/// `GET …/{endpoint_id}/rotate-secret`: the confirmation (owners).
pub async fn rotate_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Path((organization_id, endpoint_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        permissions::VIEW_WEBHOOK_SECRETS,
    )
    .await?;
    let row = endpoint_of(&state, &found.0, &endpoint_id).await?;
    confirm_page(&state, &visitor, &found, row, "rotate").await
}

/// `POST …/{endpoint_id}/rotate-secret`: `manage::rotate` (owners;
/// audited), then back to the endpoint's page, which shows the new secret
/// once and the previous one, which signs beside it for 24 hours.
pub async fn rotate(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, endpoint_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::VIEW_WEBHOOK_SECRETS,
    )
    .await?;
    endpoint_of(&state, &found.0, &endpoint_id).await?;
    let secret = manage::rotate(state.identity(), &found.0, &client, &endpoint_id)
        .await
        .map_err(api)?;
    show_secret(
        &state,
        &visitor,
        &found.0,
        &endpoint_id,
        secret,
        "webhook_rotated",
    )
    .await
}

/// `GET …/{endpoint_id}/delete`: the confirmation.
pub async fn delete_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Path((organization_id, endpoint_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        permissions::MANAGE_WEBHOOKS,
    )
    .await?;
    let row = endpoint_of(&state, &found.0, &endpoint_id).await?;
    confirm_page(&state, &visitor, &found, row, "delete").await
}

/// `POST …/{endpoint_id}/delete`: `manage::delete` (audited), back to the
/// list.
pub async fn delete(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, endpoint_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let (user, _) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::MANAGE_WEBHOOKS,
    )
    .await?;
    manage::delete(state.identity(), &user, &client, &endpoint_id)
        .await
        .map_err(|error| match error {
            ApiError::NotFound(_) => PageError::NotFound,
            other => api(other),
        })?;
    Page::redirect_with(
        &state,
        &visitor,
        format!("/o/{}/webhooks", user.organization_id),
        Flash::notice("Endpoint deleted, with its attempt log: it receives nothing more."),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_values_are_read_as_utc() {
        assert_eq!(since_rfc3339("2026-12-01T09:30"), "2026-12-01T09:30:00Z");
        assert_eq!(
            since_rfc3339(" 2026-12-01T09:30:15 "),
            "2026-12-01T09:30:15Z"
        );
        assert_eq!(
            since_rfc3339("2026-12-01T09:30:00+02:00"),
            "2026-12-01T09:30:00+02:00"
        );
        assert_eq!(since_rfc3339("yesterday"), "yesterday");
        assert_eq!(a_day_ago().len(), 16);
    }

    #[test]
    fn spans_read_in_words() {
        assert_eq!(span(5 * 24 * 3_600_000), "5 days");
        assert_eq!(span(24 * 3_600_000), "24 hours");
        assert_eq!(span(3_600_000), "1 hour");
        assert_eq!(span(90_000), "2 minutes");
        assert_eq!(span(1), "1 minute");
    }

    #[test]
    fn the_catalog_offers_every_type_but_tests() {
        let names: Vec<String> = catalog()
            .as_array()
            .expect("a list")
            .iter()
            .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names.len(), EventType::all().len() - 1);
        assert!(!names.iter().any(|n| n == "webhook.test"));
        assert!(names.iter().any(|n| n == "invoice.paid"));
    }

    #[test]
    fn a_recovery_says_how_many_went_again() {
        let text = recovered_notice(3, true);
        assert!(text.starts_with("3 failed messages"), "{text}");
        assert!(text.contains("More remain"));
        assert_eq!(recovered_notice(1, false), "1 failed message queued again.");
        assert!(recovered_notice(0, false).starts_with("No failed message"));
    }
}
