//! The operator's Marketplace page (`/operator/marketplace`): the stores
//! (`?status=` one status) with approve and suspend (with a reason), and
//! the figures: orders by status, gross volume, fees and refunds per
//! currency. Platform administrators only, like every `/operator` page;
//! each action calls `vendors::decide`, as `POST
//! /admin/marketplace/vendors/{id}/approve|suspend` does (audited).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_billing::money::format_money;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::PageQuery;
use landlord_core::ids::OrganizationId;
use landlord_core::ApiError;
use landlord_marketplace::routes::admin::figures_of;
use landlord_marketplace::store::{self as market_store, VendorStatus};
use landlord_marketplace::vendors;
use serde::Deserialize;
use serde_json::{json, Value};

use super::market::{order_label, rating};
use super::operator::{operator, operator_base};
use super::store::vendor_label;
use crate::session::Visitor;
use crate::web::{FormErrors, Page, PageError};
use crate::ConsoleState;

pub(crate) fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/operator/marketplace", get(marketplace_page))
        .route(
            "/operator/marketplace/vendors/{organization_id}/approve",
            post(approve),
        )
        .route(
            "/operator/marketplace/vendors/{organization_id}/suspend",
            post(suspend),
        )
}

/// Stores one page lists.
const VENDORS_PER_PAGE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VendorsQuery {
    status: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
    store: Option<String>,
}

/// A refused suspension: the store, what was typed, the page's errors.
struct Refused<'a> {
    organization_id: &'a str,
    reason: &'a str,
    errors: FormErrors,
}

async fn page(
    state: &ConsoleState,
    visitor: &Visitor,
    query: &VendorsQuery,
    refused: Option<Refused<'_>>,
) -> Result<Page, PageError> {
    if !state.keys.config.marketplace.enabled {
        return Err(PageError::NotFound);
    }
    let market = &state.marketplace;
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| VendorStatus::parse(s).ok_or(PageError::NotFound))
        .transpose()?;
    let paging = PageQuery {
        limit: Some(VENDORS_PER_PAGE),
        cursor: query.cursor.clone(),
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let before = paging.cursor.as_deref().map(OrganizationId::from_trusted);
    let mut rows = market_store::vendors(
        state.keys.db.pool(),
        status,
        before.as_ref(),
        paging.fetch(),
    )
    .await
    .map_err(ApiError::from)?;
    let meta = paging.finish(&mut rows, |r| r.organization_id.to_string());
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let view = vendors::view(market, row).await?;
        list.push(json!({
            "organization_id": view.organization_id,
            "store_name": view.store_name,
            "slug": view.slug,
            "status": view.status,
            "status_label": vendor_label(view.status),
            "suspended_reason": view.suspended_reason,
            "fee": format!("{:.2} %", f64::from(view.fee_bps) / 100.0).replace(".00 ", " "),
            "payout": format!("{} {}", view.payout.provider.as_str(), view.payout.account),
            "rating": rating(&view.rating),
            "created_at": view.created_at,
            "approved_at": view.approved_at,
        }));
    }
    let figures = figures_of(market).await?;
    let orders: Vec<Value> = figures
        .orders
        .iter()
        .map(|c| json!({ "status": c.status, "label": order_label(c.status), "count": c.orders }))
        .collect();
    let money: Vec<Value> = figures
        .money
        .iter()
        .map(|m| {
            json!({
                "currency": m.currency,
                "gross_volume": format_money(m.gross_volume, &m.currency),
                "fees": format_money(m.fees, &m.currency),
                "refunds": format_money(m.refunds, &m.currency),
            })
        })
        .collect();
    let mut context = operator_base(state, visitor, "Marketplace", "marketplace").await?;
    let code = match refused {
        Some(refused) => {
            context.insert(
                "refused".into(),
                json!({ "id": refused.organization_id, "reason": refused.reason }),
            );
            refused.errors.into_context(&mut context)
        }
        None => StatusCode::OK,
    };
    let done = query.done.as_deref().and_then(|done| {
        let store = query.store.as_deref().unwrap_or("The store");
        match done {
            "approved" => Some(format!(
                "{store} is approved: its active products are listed."
            )),
            "suspended" => Some(format!(
                "{store} is suspended: its products are hidden and its carts cannot check out."
            )),
            _ => None,
        }
    });
    context.insert("vendors".into(), list.into());
    context.insert("status".into(), status.map(VendorStatus::as_str).into());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), paging.cursor.is_none().into());
    context.insert("orders".into(), orders.into());
    context.insert(
        "orders_total".into(),
        figures.orders.iter().map(|c| c.orders).sum::<i64>().into(),
    );
    context.insert("money".into(), money.into());
    context.insert("done".into(), done.into());
    let page = Page::render("operator_marketplace.html", context)?;
    Ok(if code == StatusCode::OK {
        page
    } else {
        page.status(code)
    })
}

/// `GET /operator/marketplace`: `GET /admin/marketplace/vendors`' list and
/// `GET /admin/marketplace/figures`' figures.
pub async fn marketplace_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Query(query): Query<VendorsQuery>,
) -> Result<Page, PageError> {
    if let Err(sign_in) = operator(&state, &visitor).await? {
        return Ok(sign_in);
    }
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

fn back(form: &DecisionForm, done: &str, store: &str) -> Page {
    let status = VendorStatus::parse(form.status.trim())
        .map(|s| format!("status={}&", s.as_str()))
        .unwrap_or_default();
    Page::redirect(format!(
        "/operator/marketplace?{status}done={done}&store={}",
        super::audit::encode(store)
    ))
}

/// `POST /operator/marketplace/vendors/{organization_id}/approve`.
pub async fn approve(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Page, PageError> {
    let admin = match operator(&state, &visitor).await? {
        Ok(admin) => admin,
        Err(sign_in) => return Ok(sign_in),
    };
    visitor.check_csrf(&state, &form.csrf)?;
    if !state.keys.config.marketplace.enabled {
        return Err(PageError::NotFound);
    }
    let view = vendors::decide(
        &state.marketplace,
        &admin,
        &client,
        organization_id.trim(),
        VendorStatus::Approved,
        None,
    )
    .await
    .map_err(|error| match error {
        ApiError::NotFound(_) => PageError::NotFound,
        other => PageError::Api(other),
    })?;
    Ok(back(&form, "approved", &view.store_name))
}

/// `POST /operator/marketplace/vendors/{organization_id}/suspend`: with
/// the reason the store's team is shown.
pub async fn suspend(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Page, PageError> {
    let admin = match operator(&state, &visitor).await? {
        Ok(admin) => admin,
        Err(sign_in) => return Ok(sign_in),
    };
    visitor.check_csrf(&state, &form.csrf)?;
    if !state.keys.config.marketplace.enabled {
        return Err(PageError::NotFound);
    }
    let id = organization_id.trim();
    let result = if form.reason.trim().is_empty() {
        Err(ApiError::invalid_field(
            "reason",
            "say why: the store's team is shown it",
        ))
    } else {
        vendors::decide(
            &state.marketplace,
            &admin,
            &client,
            id,
            VendorStatus::Suspended,
            Some(form.reason.trim().to_string()),
        )
        .await
    };
    match result {
        Ok(view) => Ok(back(&form, "suspended", &view.store_name)),
        Err(ApiError::NotFound(_)) => Err(PageError::NotFound),
        Err(error) => {
            let mut errors = FormErrors::from_api(error)?;
            if let Some(reason) = errors.fields.remove("reason") {
                errors.fields.insert(format!("reason-{id}"), reason);
            }
            let query = VendorsQuery {
                status: Some(form.status.clone()),
                ..VendorsQuery::default()
            };
            let refused = Refused {
                organization_id: id,
                reason: form.reason.trim(),
                errors,
            };
            page(&state, &visitor, &query, Some(refused)).await
        }
    }
}
