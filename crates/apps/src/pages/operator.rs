//! The operator's review queue (`/operator/apps`): apps in review first,
//! then every app (`?status=` one status, cursor pages), with publish,
//! reject with a reason (back to a draft) and suspend with a reason.
//! Platform administrators only, like every `/operator` page; each action
//! calls `review::decide`, as `POST /admin/apps/{id}/…` does (audited).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_admin::PlatformAdmin;
use landlord_console::{
    operator, operator_base, Flash, FormErrors, Module, NavEntry, Page, PageError, Visitor,
};
use landlord_core::http::client::ClientInfo;
use landlord_core::http::PageQuery;
use landlord_core::ids::OrganizationId;
use landlord_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::developer::status_label;
use super::Pages;
use crate::ids::AppId;
use crate::review::{self, Decision};
use crate::store::{self, AppRow, AppStatus};
use crate::views::AppView;

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/operator/apps", get(queue))
        .route("/operator/apps/{app_id}/publish", post(publish))
        .route("/operator/apps/{app_id}/reject", post(reject))
        .route("/operator/apps/{app_id}/suspend", post(suspend))
}

/// This family's navigation entries.
pub(super) fn navigation(module: Module) -> Module {
    module.operator_nav(NavEntry::new("apps", "Apps", "/operator/apps", 75))
}

/// Apps one page lists.
const PER_PAGE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QueueQuery {
    status: Option<String>,
    cursor: Option<String>,
}

/// A refused rejection or suspension: the app, which form, what was
/// typed, the errors.
struct Refused<'a> {
    app_id: &'a str,
    action: &'static str,
    reason: &'a str,
    errors: FormErrors,
}

async fn rows_view(
    state: &Pages,
    rows: Vec<AppRow>,
    names: &mut HashMap<OrganizationId, String>,
) -> Result<Vec<Value>, PageError> {
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        if !names.contains_key(&row.organization_id) {
            let name = landlord_identity::store::organization_by_id(
                state.apps.db.pool(),
                &row.organization_id,
            )
            .await
            .map_err(ApiError::from)?
            .map_or_else(|| row.organization_id.to_string(), |o| o.name);
            names.insert(row.organization_id.clone(), name);
        }
        let publisher = names.get(&row.organization_id).cloned();
        let app = AppView::new(row);
        let mut value = serde_json::to_value(&app).map_err(ApiError::internal)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("status_label".into(), status_label(app.status).into());
            object.insert("publisher".into(), publisher.into());
        }
        list.push(value);
    }
    Ok(list)
}

async fn page(
    state: &Pages,
    visitor: &Visitor,
    query: &QueueQuery,
    refused: Option<Refused<'_>>,
) -> Result<Page, PageError> {
    let pool = state.apps.db.pool();
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| AppStatus::parse(s).ok_or(PageError::NotFound))
        .transpose()?;
    let paging = PageQuery {
        limit: Some(PER_PAGE),
        cursor: query.cursor.clone(),
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let mut names = HashMap::new();
    // The queue: every app waiting for a decision, oldest first, above the list.
    let mut waiting = store::all_apps(pool, Some(AppStatus::InReview), None, 101)
        .await
        .map_err(ApiError::from)?;
    waiting.reverse();
    let waiting = rows_view(state, waiting, &mut names).await?;
    let before = paging.cursor.as_deref().map(AppId::from_trusted);
    let mut rows = store::all_apps(pool, status, before.as_ref(), paging.fetch())
        .await
        .map_err(ApiError::from)?;
    let meta = paging.finish(&mut rows, |r| r.id.to_string());
    let apps = rows_view(state, rows, &mut names).await?;
    let mut context = operator_base(state, visitor, "Apps", "apps").await?;
    let code = match refused {
        Some(refused) => {
            context.insert(
                "refused".into(),
                json!({ "id": refused.app_id, "action": refused.action, "reason": refused.reason }),
            );
            refused.errors.into_context(&mut context)
        }
        None => StatusCode::OK,
    };
    context.insert("waiting".into(), waiting.into());
    context.insert("apps".into(), apps.into());
    context.insert("status".into(), status.map(AppStatus::as_str).into());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), paging.cursor.is_none().into());
    let page = Page::render("operator_apps.html", context)?;
    Ok(if code == StatusCode::OK {
        page
    } else {
        page.status(code)
    })
}

/// `GET /operator/apps`: the review queue and every app
/// (`GET /admin/apps`).
pub async fn queue(
    State(state): State<Pages>,
    visitor: Visitor,
    Query(query): Query<QueueQuery>,
) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    page(&state, &visitor, &query, None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    csrf: String,
    reason: String,
    /// The list's filter, kept after the action.
    status: String,
}

async fn decide(
    state: Pages,
    visitor: Visitor,
    client: ClientInfo,
    app_id: String,
    form: DecisionForm,
    decision: Decision,
) -> Result<Page, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    visitor.check_csrf(&state, &form.csrf)?;
    let id = app_id.trim();
    let reason = (decision != Decision::Publish).then_some(form.reason.as_str());
    match review::decide(&state.apps, &admin, &client, id, decision, reason).await {
        Ok(app) => {
            let notice = match decision {
                Decision::Publish => format!("“{}” is published: it is in the directory.", app.name),
                Decision::Reject => format!(
                    "“{}” is back to a draft: its developers see your reason and may submit it again.",
                    app.name
                ),
                Decision::Suspend => format!(
                    "“{}” is suspended: it signs no one in and its tokens no longer work.",
                    app.name
                ),
            };
            let filter = AppStatus::parse(form.status.trim())
                .map(|s| format!("?status={}", s.as_str()))
                .unwrap_or_default();
            Page::redirect_with(
                &state,
                &visitor,
                format!("/operator/apps{filter}"),
                Flash::notice(notice),
            )
            .await
        }
        Err(ApiError::NotFound(_)) => Err(PageError::NotFound),
        Err(error) => {
            let action = match decision {
                Decision::Publish => "publish",
                Decision::Reject => "reject",
                Decision::Suspend => "suspend",
            };
            let mut errors = FormErrors::from_api(error)?;
            if let Some(reason) = errors.fields.remove("reason") {
                errors.fields.insert(format!("{action}-{id}"), reason);
            }
            let query = QueueQuery {
                status: Some(form.status.clone()),
                ..QueueQuery::default()
            };
            let refused = Refused {
                app_id: id,
                action,
                reason: form.reason.trim(),
                errors,
            };
            page(&state, &visitor, &query, Some(refused)).await
        }
    }
}

/// `POST /operator/apps/{app_id}/publish`.
pub async fn publish(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(app_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Page, PageError> {
    decide(state, visitor, client, app_id, form, Decision::Publish).await
}

/// `POST /operator/apps/{app_id}/reject`: with the reason its developers
/// are shown.
pub async fn reject(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(app_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Page, PageError> {
    decide(state, visitor, client, app_id, form, Decision::Reject).await
}

/// `POST /operator/apps/{app_id}/suspend`: with the reason its developers
/// are shown.
pub async fn suspend(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(app_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Page, PageError> {
    decide(state, visitor, client, app_id, form, Decision::Suspend).await
}
