//! The organization's billing (`/o/{organization_id}/billing`): the plan
//! and its limits, the period so far, changing the plan with its effect
//! shown before confirming, cancelling a scheduled downgrade, invoices,
//! receipts, and paying an invoice through a provider's checkout. Each
//! calls the same `billing::manage`, `billing::store` and
//! `payments::checkout` functions as the API routes, under the same
//! permissions (`ViewBilling` to see, `UpgradePlan` to change the plan,
//! `PayInvoices` to pay).

use crate::checkout;
use crate::providers::ProviderName;
use crate::store as payments_store;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_billing::manage;
use landlord_billing::money::format_money;
use landlord_billing::routes::CycleView;
use landlord_billing::store as billing_store;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::PageQuery;
use landlord_core::ids::BillingCycleId;
use landlord_core::ApiError;
use landlord_identity::permissions;
use landlord_identity::store::Membership;
use landlord_identity::CurrentUser;
use serde::Deserialize;
use serde_json::{json, Value};

use super::Pages;
use landlord_console::base;
use landlord_console::Context;
use landlord_console::Visitor;
use landlord_console::{member, Gate};
use landlord_console::{refusal, FormErrors};
use landlord_console::{Flash, Page, PageError};

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/billing", get(current_billing))
        .route("/o/{organization_id}/billing", get(overview))
        .route(
            "/o/{organization_id}/billing/change",
            get(change_page).post(change),
        )
        .route(
            "/o/{organization_id}/billing/scheduled-change/cancel",
            post(cancel_scheduled),
        )
        .route(
            "/o/{organization_id}/billing/invoices/{cycle_id}",
            get(invoice),
        )
        .route(
            "/o/{organization_id}/billing/invoices/{cycle_id}/pay",
            post(pay),
        )
        .route("/o/{organization_id}/billing/result", get(result))
}

fn api(error: ApiError) -> PageError {
    match error {
        ApiError::Forbidden(message) => PageError::Forbidden(message),
        other => PageError::Api(other),
    }
}

/// The values every billing page shows.
async fn billing_base(
    state: &Pages,
    visitor: &Visitor,
    title: &str,
    user: &CurrentUser,
    membership: &Membership,
) -> Result<Context, PageError> {
    let (mut context, _) = base(state, visitor, title, "billing", Some(membership)).await?;
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    context.insert(
        "can_change_plan".into(),
        permissions::allows(user.role, permissions::UPGRADE_PLAN).into(),
    );
    context.insert(
        "can_pay".into(),
        permissions::allows(user.role, permissions::PAY_INVOICES).into(),
    );
    Ok(context)
}

/// A plan of the catalog as the pages show it.
fn plan_view(name: &str, plan: &landlord_core::plans::Plan) -> Value {
    json!({
        "name": name,
        "price": plan.price,
        "price_display": format_money(plan.price, &plan.currency),
        "included_requests": plan.included_requests,
        "overage_price": plan.overage_price,
        "overage_display": plan.overage_price.map(|p| format_money(p, &plan.currency)),
        "rate_limit_per_minute": plan.rate_limit_per_minute,
    })
}

fn cycle_view(row: billing_store::CycleRow) -> Result<Value, PageError> {
    let view = CycleView::from(row);
    let mut value = serde_json::to_value(&view).map_err(ApiError::internal)?;
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "base_display".into(),
            format_money(view.base_amount, &view.currency).into(),
        );
        object.insert(
            "overage_display".into(),
            format_money(view.overage_amount, &view.currency).into(),
        );
        object.insert(
            "adjustments_display".into(),
            format_money(view.adjustments, &view.currency).into(),
        );
        object.insert("payable".into(), view.status.is_payable().into());
    }
    Ok(value)
}

/// `GET /billing` (the mails' link, and where the providers return the
/// person): the current organization's billing page, or its result page
/// for `?paid={cycle}`; the sign-in page when signed out.
pub async fn current_billing(visitor: Visitor, Query(query): Query<ResultQuery>) -> Page {
    match (&visitor.user, query.cycle.or(query.paid)) {
        (Some(user), Some(cycle)) => match BillingCycleId::parse(&cycle) {
            Some(cycle) => Page::redirect(format!(
                "/o/{}/billing/result?cycle={cycle}",
                user.organization_id
            )),
            None => Page::redirect(format!("/o/{}/billing", user.organization_id)),
        },
        (Some(user), None) => Page::redirect(format!("/o/{}/billing", user.organization_id)),
        (None, _) => Page::redirect("/sign-in"),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct OverviewQuery {
    cursor: Option<String>,
}

/// `GET /o/{organization_id}/billing`: plan and limits, the period so far,
/// the scheduled change, the plans to move to, the invoices.
pub async fn overview(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<OverviewQuery>,
) -> Result<Page, PageError> {
    let (user, membership) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        permissions::VIEW_BILLING,
    )
    .await?;
    billing_page(
        &state,
        &visitor,
        &user,
        &membership,
        query.cursor,
        FormErrors::ok(),
    )
    .await
}

/// The billing page; `errors` are a refused plan change's, shown next to
/// the plan to choose.
async fn billing_page(
    state: &Pages,
    visitor: &Visitor,
    user: &CurrentUser,
    membership: &Membership,
    cursor: Option<String>,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let payments = &state.payments;
    let calculation = manage::calculate(&payments.billing, &user.organization_id).await?;
    let page = PageQuery {
        limit: None,
        cursor,
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let mut rows = billing_store::cycles(
        payments.db.pool(),
        &user.organization_id,
        page.cursor.as_deref(),
        page.fetch(),
    )
    .await
    .map_err(ApiError::from)?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    let invoices = rows
        .into_iter()
        .map(cycle_view)
        .collect::<Result<Vec<_>, _>>()?;
    // Cheapest first, as people compare them.
    let mut catalog: Vec<_> = payments.config.plans.iter().collect();
    catalog.sort_by_key(|(name, plan)| (plan.price, *name));
    let plans: Vec<Value> = catalog
        .into_iter()
        .map(|(name, plan)| plan_view(name, plan))
        .collect();
    let current = payments
        .config
        .plan(&calculation.plan)
        .map(|plan| plan_view(&calculation.plan, plan));
    let mut context = billing_base(state, visitor, "Billing", user, membership).await?;
    context.insert(
        "calculation".into(),
        serde_json::to_value(&calculation).map_err(ApiError::internal)?,
    );
    context.insert("plan".into(), current.unwrap_or(Value::Null));
    context.insert("plans".into(), plans.into());
    context.insert("invoices".into(), invoices.into());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), page.cursor.is_none().into());
    let status = errors.into_context(&mut context);
    Ok(Page::render("billing.html", context)?.status(status))
}

#[derive(Debug, Default, Deserialize)]
pub struct ChangeQuery {
    #[serde(default)]
    plan: String,
}

/// `GET /o/{organization_id}/billing/change?plan=`: the change's effect
/// (`manage::preview`), to confirm.
pub async fn change_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<ChangeQuery>,
) -> Result<Page, PageError> {
    let (user, membership) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        permissions::UPGRADE_PLAN,
    )
    .await?;
    let preview =
        match manage::preview(&state.payments.billing, &user.organization_id, &query.plan).await {
            Ok(preview) => preview,
            Err(error) => {
                let errors = refusal(error)?;
                return billing_page(&state, &visitor, &user, &membership, None, errors).await;
            }
        };
    let mut context = billing_base(&state, &visitor, "Change the plan", &user, &membership).await?;
    let from = state
        .payments
        .config
        .plan(&preview.from_plan)
        .map(|plan| plan_view(&preview.from_plan, plan));
    let to = state
        .payments
        .config
        .plan(&preview.to_plan)
        .map(|plan| plan_view(&preview.to_plan, plan));
    context.insert("from".into(), from.unwrap_or(Value::Null));
    context.insert("to".into(), to.unwrap_or(Value::Null));
    context.insert(
        "amount_display".into(),
        format_money(preview.amount, &preview.currency).into(),
    );
    context.insert(
        "change".into(),
        serde_json::to_value(&preview).map_err(ApiError::internal)?,
    );
    Page::render("billing_change.html", context)
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    plan: String,
}

/// `POST /o/{organization_id}/billing/change`: `manage::change_plan` (an
/// upgrade now, a downgrade scheduled), back to the billing page.
pub async fn change(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<ChangeForm>,
) -> Result<Page, PageError> {
    let (user, membership) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::UPGRADE_PLAN,
    )
    .await?;
    let change = manage::change_plan(&state.payments.billing, &user, &client, &form.plan)
        .await
        .map_err(api)?;
    let notice = if change.scheduled {
        format!(
            "The change is scheduled: {} moves to {} at the end of the period.",
            membership.organization.name, change.to_plan
        )
    } else {
        format!(
            "Your plan is now {}: its limits apply from now on, and the rest of the month is \
             added to this month's invoice.",
            change.to_plan
        )
    };
    let location = format!("/o/{}/billing", user.organization_id);
    Page::redirect_with(&state, &visitor, location, Flash::notice(notice)).await
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /o/{organization_id}/billing/scheduled-change/cancel`:
/// `manage::cancel_scheduled_change`, back to the billing page.
pub async fn cancel_scheduled(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let (user, membership) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::UPGRADE_PLAN,
    )
    .await?;
    manage::cancel_scheduled_change(&state.payments.billing, &user, &client)
        .await
        .map_err(api)?;
    let organization = &membership.organization;
    let notice = format!(
        "The scheduled change is cancelled: {} stays on {}.",
        organization.name, organization.plan
    );
    let location = format!("/o/{}/billing", user.organization_id);
    Page::redirect_with(&state, &visitor, location, Flash::notice(notice)).await
}

/// The invoice page's values: the cycle (404 for another organization's),
/// its receipt when paid, the providers to pay with.
async fn invoice_page(
    state: &Pages,
    visitor: &Visitor,
    organization_id: &str,
    cycle_id: &str,
    returned: bool,
) -> Result<Page, PageError> {
    let (user, membership) = member(
        state,
        visitor,
        organization_id,
        Gate::Read,
        permissions::VIEW_BILLING,
    )
    .await?;
    let id = BillingCycleId::parse(cycle_id.trim()).ok_or(PageError::NotFound)?;
    let pool = state.payments.db.pool();
    let row = billing_store::cycle_of(pool, &user.organization_id, &id)
        .await
        .map_err(ApiError::from)?
        .ok_or(PageError::NotFound)?;
    let receipt = payments_store::settled_payment(pool, &user.organization_id, &id)
        .await
        .map_err(ApiError::from)?
        .map(|p| {
            json!({
                "provider": p.provider.as_str(),
                "reference": p.provider_reference,
                "amount_display": format_money(p.amount, &p.currency),
                "at": p.updated_at,
            })
        });
    let providers: Vec<Value> = [ProviderName::Stripe, ProviderName::Paystack]
        .into_iter()
        .filter(|p| state.payments.providers.configured(*p))
        .map(|p| {
            json!({
                "name": p.as_str(),
                "label": match p {
                    ProviderName::Stripe => "Stripe (card)",
                    ProviderName::Paystack => "Paystack (card, bank, mobile money)",
                },
            })
        })
        .collect();
    let payable = row.status.is_payable() && row.amount > 0;
    let title = format!("Invoice {}", row.period);
    let mut context = billing_base(state, visitor, &title, &user, &membership).await?;
    context.insert("invoice".into(), cycle_view(row)?);
    context.insert("receipt".into(), receipt.unwrap_or(Value::Null));
    context.insert("providers".into(), providers.into());
    context.insert("returned".into(), returned.into());
    let page = Page::render("billing_invoice.html", context)?;
    // The pay form's answer redirects to the provider's checkout.
    Ok(if payable {
        page.allow_checkout_redirect()
    } else {
        page
    })
}

/// `GET /o/{organization_id}/billing/invoices/{cycle_id}`: the invoice's
/// lines and totals, its receipt when paid, the pay form when payable.
pub async fn invoice(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, cycle_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    invoice_page(&state, &visitor, &organization_id, &cycle_id, false).await
}

#[derive(Debug, Default, Deserialize)]
pub struct ResultQuery {
    cycle: Option<String>,
    paid: Option<String>,
}

/// `GET /o/{organization_id}/billing/result?cycle=`: where the person lands
/// back from the provider: paid once the provider's verified webhook said
/// so, "waiting for the provider's confirmation" until then.
pub async fn result(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<ResultQuery>,
) -> Result<Page, PageError> {
    let cycle = query.cycle.or(query.paid).ok_or(PageError::NotFound)?;
    invoice_page(&state, &visitor, &organization_id, &cycle, true).await
}

#[derive(Debug, Deserialize)]
pub struct PayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    provider: String,
}

/// `POST /o/{organization_id}/billing/invoices/{cycle_id}/pay`: the
/// provider's checkout (`payments::checkout`, the rules of `POST
/// /billing/initiate-payment`), then 303 to its URL.
pub async fn pay(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, cycle_id)): Path<(String, String)>,
    Form(form): Form<PayForm>,
) -> Result<Page, PageError> {
    let (user, _) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        permissions::PAY_INVOICES,
    )
    .await?;
    let payments = &state.payments;
    checkout::limit(payments, &user.organization_id).await?;
    let (provider, cycle) =
        checkout::payable(payments, &user.organization_id, &form.provider, &cycle_id).await?;
    let started =
        checkout::start_checkout(payments, &user.organization_id, provider, cycle, None).await?;
    Ok(Page::redirect(started.checkout_url))
}
