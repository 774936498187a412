//! The operator's Marketplace page (`/operator/marketplace`): the stores
//! (`?status=` one status) with approve and suspend (with a reason), and
//! the figures: orders by status, gross volume, fees and refunds per
//! currency. Platform administrators only, like every `/operator` page;
//! each action calls `vendors::decide`, as `POST
//! /admin/marketplace/vendors/{id}/approve|suspend` does (audited).
//! Its sub-page `/operator/marketplace/payouts` lists every store's
//! payouts (`?status=` one status), failed ones first to the eye, with a
//! retry for those (`payouts::retry`, as `POST
//! /admin/marketplace/payouts/{id}/retry`).

use crate::ids::PayoutId;
use crate::payouts;
use crate::routes::admin::figures_of;
use crate::store::{self as market_store, PayoutStatus, VendorStatus};
use crate::vendors;
use crate::views::PayoutView;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_admin::PlatformAdmin;
use landlord_billing::money::format_money;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::PageQuery;
use landlord_core::ids::OrganizationId;
use landlord_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::market::{order_label, rating};
use super::store::vendor_label;
use super::Pages;
use landlord_console::{operator, operator_base, FormErrors, Page, PageError, Visitor};

pub(super) fn routes() -> Router<Pages> {
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
        .route(
            "/operator/marketplace/vendors/{organization_id}/reject",
            post(reject),
        )
        .route("/operator/marketplace/payouts", get(payouts_page))
        .route(
            "/operator/marketplace/payouts/{payout_id}/retry",
            post(retry),
        )
}

/// Stores one page lists.
const VENDORS_PER_PAGE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VendorsQuery {
    status: Option<String>,
    cursor: Option<String>,
}

/// A refused suspension or rejection: the store, which form, what was
/// typed, the page's errors.
struct Refused<'a> {
    organization_id: &'a str,
    action: &'static str,
    reason: &'a str,
    errors: FormErrors,
}

async fn page(
    state: &Pages,
    visitor: &Visitor,
    query: &VendorsQuery,
    refused: Option<Refused<'_>>,
) -> Result<Page, PageError> {
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
        state.marketplace.db.pool(),
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
            "payout": view.payout.as_ref().map_or_else(
                || "No payout account yet".to_string(),
                |p| format!("{} {}", p.provider.as_str(), p.account),
            ),
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
                json!({
                    "id": refused.organization_id,
                    "action": refused.action,
                    "reason": refused.reason,
                }),
            );
            refused.errors.into_context(&mut context)
        }
        None => StatusCode::OK,
    };
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
    context.insert("failed_payouts".into(), failed_count(state).await?.into());
    context.insert("tab".into(), "stores".into());
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
    State(state): State<Pages>,
    visitor: Visitor,
    Query(query): Query<VendorsQuery>,
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

/// Back to the list (its filter kept), which says what was `done` to
/// `store` once.
async fn back(
    state: &Pages,
    visitor: &Visitor,
    form: &DecisionForm,
    done: &str,
    store: &str,
) -> Result<Page, PageError> {
    let status = VendorStatus::parse(form.status.trim())
        .map(|s| format!("?status={}", s.as_str()))
        .unwrap_or_default();
    let notice = match done {
        "suspended" => {
            format!("{store} is suspended: its products are hidden and its carts cannot check out.")
        }
        "rejected" => {
            format!("{store} is rejected: its team sees the reason and may apply again.")
        }
        _ => format!("{store} is approved: its active products are listed."),
    };
    let location = format!("/operator/marketplace{status}");
    Page::redirect_with(
        state,
        visitor,
        location,
        landlord_console::Flash::notice(notice),
    )
    .await
}

/// `POST /operator/marketplace/vendors/{organization_id}/approve`.
pub async fn approve(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Page, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    visitor.check_csrf(&state, &form.csrf)?;
    let id = OrganizationId::parse_or_not_found(&organization_id, "vendor")?;
    let view = vendors::decide(
        &state.marketplace,
        &admin,
        &client,
        &id,
        VendorStatus::Approved,
        None,
    )
    .await
    .map_err(|error| match error {
        ApiError::NotFound(_) => PageError::NotFound,
        other => PageError::Api(other),
    })?;
    back(&state, &visitor, &form, "approved", &view.store_name).await
}

/// `POST /operator/marketplace/vendors/{organization_id}/suspend`: with
/// the reason the store's team is shown.
pub async fn suspend(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Page, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    visitor.check_csrf(&state, &form.csrf)?;
    let id = organization_id.trim();
    let result = if form.reason.trim().is_empty() {
        Err(ApiError::invalid_field(
            "reason",
            "say why: the store's team is shown it",
        ))
    } else {
        let vendor = OrganizationId::parse_or_not_found(id, "vendor")?;
        vendors::decide(
            &state.marketplace,
            &admin,
            &client,
            &vendor,
            VendorStatus::Suspended,
            Some(form.reason.trim().to_string()),
        )
        .await
    };
    match result {
        Ok(view) => back(&state, &visitor, &form, "suspended", &view.store_name).await,
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
                action: "suspend",
                reason: form.reason.trim(),
                errors,
            };
            page(&state, &visitor, &query, Some(refused)).await
        }
    }
}

/// `POST /operator/marketplace/vendors/{organization_id}/reject`: a
/// pending store turned down, with the reason its team is shown.
pub async fn reject(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Page, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    visitor.check_csrf(&state, &form.csrf)?;
    let id = organization_id.trim();
    let result = if form.reason.trim().is_empty() {
        Err(ApiError::invalid_field(
            "reason",
            "say why: the store's team is shown it, to fix and apply again",
        ))
    } else {
        let vendor = OrganizationId::parse_or_not_found(id, "vendor")?;
        vendors::reject(&state.marketplace, &admin, &client, &vendor, &form.reason).await
    };
    match result {
        Ok(view) => back(&state, &visitor, &form, "rejected", &view.store_name).await,
        Err(ApiError::NotFound(_)) => Err(PageError::NotFound),
        Err(error) => {
            let mut errors = FormErrors::from_api(error)?;
            if let Some(reason) = errors.fields.remove("reason") {
                errors.fields.insert(format!("reject-{id}"), reason);
            }
            let query = VendorsQuery {
                status: Some(form.status.clone()),
                ..VendorsQuery::default()
            };
            let refused = Refused {
                organization_id: id,
                action: "reject",
                reason: form.reason.trim(),
                errors,
            };
            page(&state, &visitor, &query, Some(refused)).await
        }
    }
}

// ---- payouts ---------------------------------------------------------------------------

/// Payouts one page lists.
const PAYOUTS_PER_PAGE: u32 = 50;

/// How many payouts failed ("50+" past a page): the tabs and the main
/// page show it so that the operator notices them.
async fn failed_count(state: &Pages) -> Result<String, PageError> {
    let limit = i64::from(PAYOUTS_PER_PAGE) + 1;
    let failed = market_store::payouts(
        state.marketplace.db.pool(),
        None,
        Some(PayoutStatus::Failed),
        None,
        limit,
    )
    .await
    .map_err(ApiError::from)?
    .len();
    Ok(match failed {
        0 => String::new(),
        n if n as i64 >= limit => format!("{PAYOUTS_PER_PAGE}+"),
        n => n.to_string(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PayoutsQuery {
    status: Option<String>,
    cursor: Option<String>,
}

/// `GET /operator/marketplace/payouts`: every store's payouts, newest
/// first (`GET /admin/marketplace/payouts`).
pub async fn payouts_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Query(query): Query<PayoutsQuery>,
) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    payouts_view(&state, &visitor, &query, None).await
}

async fn payouts_view(
    state: &Pages,
    visitor: &Visitor,
    query: &PayoutsQuery,
    refused: Option<FormErrors>,
) -> Result<Page, PageError> {
    let pool = state.marketplace.db.pool();
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| PayoutStatus::parse(s).ok_or(PageError::NotFound))
        .transpose()?;
    let paging = PageQuery {
        limit: Some(PAYOUTS_PER_PAGE),
        cursor: query.cursor.clone(),
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let before = paging.cursor.as_deref().map(PayoutId::from_trusted);
    let mut rows = market_store::payouts(pool, None, status, before.as_ref(), paging.fetch())
        .await
        .map_err(ApiError::from)?;
    let meta = paging.finish(&mut rows, |r| r.id.to_string());
    let mut stores: std::collections::HashMap<OrganizationId, String> = Default::default();
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let view = PayoutView::new(row);
        if !stores.contains_key(&view.vendor_id) {
            let name = market_store::vendor(pool, &view.vendor_id)
                .await
                .map_err(ApiError::from)?
                .map_or_else(|| view.vendor_id.to_string(), |v| v.store_name);
            stores.insert(view.vendor_id.clone(), name);
        }
        list.push(json!({
            "id": view.id,
            "vendor_id": view.vendor_id,
            "store_name": stores.get(&view.vendor_id),
            "amount": format_money(view.amount, &view.currency),
            "provider": view.provider,
            "account": view.account,
            "status": view.status,
            "attempts": view.attempts,
            "transfer_reference": view.transfer_reference,
            "last_error": view.last_error,
            "paid_at": view.paid_at,
            "created_at": view.created_at,
        }));
    }
    let mut context = operator_base(state, visitor, "Marketplace payouts", "marketplace").await?;
    let code = match refused {
        Some(errors) => errors.into_context(&mut context),
        None => StatusCode::OK,
    };
    context.insert("payouts".into(), list.into());
    context.insert("status".into(), status.map(PayoutStatus::as_str).into());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), paging.cursor.is_none().into());
    context.insert("failed_payouts".into(), failed_count(state).await?.into());
    context.insert("tab".into(), "payouts".into());
    let page = Page::render("operator_marketplace_payouts.html", context)?;
    Ok(if code == StatusCode::OK {
        page
    } else {
        page.status(code)
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RetryForm {
    csrf: String,
    /// The list's filter, kept after the action.
    status: String,
}

/// `POST /operator/marketplace/payouts/{payout_id}/retry`: a failed
/// payout's transfer is queued again (same payout, same idempotency key).
pub async fn retry(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(payout_id): Path<String>,
    Form(form): Form<RetryForm>,
) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    visitor.check_csrf(&state, &form.csrf)?;
    let status = PayoutStatus::parse(form.status.trim()).map(PayoutStatus::as_str);
    match payouts::retry(&state.marketplace, payout_id.trim()).await {
        Ok(_) => {
            let location = format!(
                "/operator/marketplace/payouts{}",
                status.map(|s| format!("?status={s}")).unwrap_or_default()
            );
            let flash = landlord_console::Flash::notice("Payout queued again.");
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(ApiError::NotFound(_)) => Err(PageError::NotFound),
        Err(error) => {
            let errors = FormErrors::from_api(error)?;
            let query = PayoutsQuery {
                status: status.map(String::from),
                ..PayoutsQuery::default()
            };
            payouts_view(&state, &visitor, &query, Some(errors)).await
        }
    }
}
