//! The operator console (`/operator`): for platform administrators only
//! (`landlord_identity::platform::platform_admin`, the one rule); anyone else signed in gets the
//! 404 page (the console does not reveal it exists), a signed-out visitor
//! the sign-in page. Each page calls the same `landlord_admin` function as
//! its `/admin` API route, and every action is audited like the route.

use std::collections::BTreeMap;

use crate::{discrepancies, figures, jobs, organizations, webhooks, PlatformAdmin};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_billing::money::format_money;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::OrganizationId;
use landlord_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use landlord_console::{
    operator, operator_base, refusal, sentence, Flash, FormErrors, Page, PageError, Visitor,
};

use super::Pages;

/// Months the MRR chart shows.
const CHART_MONTHS: u32 = 12;

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/operator", get(figures_page))
        .route("/operator/organizations", get(organizations_page))
        .route(
            "/operator/organizations/{organization_id}/plan",
            post(set_plan),
        )
        .route("/operator/webhooks", get(webhooks_page))
        .route("/operator/webhooks/{event_id}/replay", post(replay))
        .route("/operator/jobs", get(jobs_page))
        .route("/operator/jobs/{job_id}/retry", post(retry))
        .route("/operator/discrepancies", get(discrepancies_page))
        .route(
            "/operator/discrepancies/{discrepancy_id}/resolve",
            post(resolve),
        )
}

fn amounts(map: &BTreeMap<String, i64>) -> Vec<String> {
    map.iter()
        .map(|(currency, amount)| format_money(*amount, currency))
        .collect()
}

fn percent(rate: Option<f64>) -> Value {
    match rate {
        Some(rate) => format!("{:.1} %", rate * 100.0).into(),
        None => Value::Null,
    }
}

/// Geometry of the MRR chart (an SVG drawn by the server: the CSP allows
/// no inline script or style), one per currency, with the table it
/// summarises.
fn mrr_charts(months: &[figures::MonthlyRecurring]) -> Vec<Value> {
    const WIDTH: f64 = 720.0;
    const TOP: f64 = 24.0;
    const PLOT: f64 = 200.0;
    let mut currencies: Vec<&String> = months.iter().flat_map(|m| m.amounts.keys()).collect();
    currencies.sort();
    currencies.dedup();
    currencies
        .into_iter()
        .map(|currency| {
            let values: Vec<i64> = months
                .iter()
                .map(|m| m.amounts.get(currency).copied().unwrap_or(0))
                .collect();
            let max = values.iter().copied().max().unwrap_or(0).max(1);
            let slot = WIDTH / months.len().max(1) as f64;
            let bar_width = (slot * 0.6).max(4.0);
            let bars: Vec<Value> = months
                .iter()
                .zip(&values)
                .enumerate()
                .map(|(i, (month, value))| {
                    let height = if *value > 0 {
                        (*value as f64 / max as f64 * PLOT).max(2.0)
                    } else {
                        0.0
                    };
                    let x = i as f64 * slot + (slot - bar_width) / 2.0;
                    json!({
                        "month": month.month,
                        "short": month_name(&month.month),
                        "value": (*value > 0).then(|| format_money(*value, currency)
                            .trim_end_matches(currency.as_str())
                            .trim_end()
                            .to_owned()),
                        "value_y": format!("{:.1}", TOP + PLOT - height - 6.0),
                        "amount": format_money(*value, currency),
                        "current": month.current,
                        "x": format!("{x:.1}"),
                        "y": format!("{:.1}", TOP + PLOT - height),
                        "width": format!("{bar_width:.1}"),
                        "height": format!("{height:.1}"),
                        "label_x": format!("{:.1}", x + bar_width / 2.0),
                    })
                })
                .collect();
            json!({
                "currency": currency,
                "first": months.first().map(|m| m.month.clone()),
                "last": months.last().map(|m| m.month.clone()),
                "max": format_money(max, currency),
                "bars": bars,
                "width": WIDTH,
                "baseline": TOP + PLOT,
                "label_y": TOP + PLOT + 18.0,
                "height": TOP + PLOT + 28.0,
            })
        })
        .collect()
}

/// `2026-01` → `Jan`.
fn month_name(key: &str) -> &'static str {
    const NAMES: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    key.get(5..)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| NAMES.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("")
}

/// `GET /operator`: `GET /admin/figures`' figures, and MRR by month.
pub async fn figures_page(State(state): State<Pages>, visitor: Visitor) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    let figures = figures::compute(&state.payments).await?;
    let months = figures::mrr_by_month(&state.payments, CHART_MONTHS, &figures.mrr).await?;
    let mut context = operator_base(&state, &visitor, "Operator", "figures").await?;
    let plans: Vec<Value> = figures
        .organizations_by_plan
        .iter()
        .map(|(plan, count)| json!({ "plan": plan, "count": count }))
        .collect();
    context.insert(
        "figures".into(),
        json!({
            "mrr": amounts(&figures.mrr),
            "revenue_this_month": amounts(&figures.revenue_this_month),
            "overdue_total": amounts(&figures.overdue_total),
            "webhook_success_rate": percent(figures.webhook_success_rate),
            "payment_failure_rate": percent(figures.payment_failure_rate),
            "organizations": figures.organizations_by_plan.values().sum::<i64>(),
            "churned": figures.churned_this_month,
            "plans": plans,
        }),
    );
    context.insert("charts".into(), mrr_charts(&months).into());
    Page::render("operator_figures.html", context)
}

/// The webhook list's filter.
#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    status: Option<String>,
}

/// `GET /operator/webhooks`: failed and dead-lettered provider events
/// (`?status=` one status), with their error, newest first.
pub async fn webhooks_page(
    State(state): State<Pages>,
    visitor: Visitor,
    axum::extract::Query(query): axum::extract::Query<EventsQuery>,
) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    let status = query.status.as_deref().filter(|s| !s.is_empty());
    let (events, errors) = filtered(webhooks::events(&state.payments, status).await)?;
    let mut context = operator_base(&state, &visitor, "Webhook events", "webhooks").await?;
    context.insert(
        "events".into(),
        serde_json::to_value(&events).map_err(ApiError::internal)?,
    );
    context.insert("status".into(), status.unwrap_or("").into());
    let code = errors.into_context(&mut context);
    Ok(Page::render("operator_webhooks.html", context)?.status(code))
}

/// A list's rows, or — when the filter is refused — no rows and the
/// reason, shown next to the filter.
fn filtered<T: Default>(found: Result<T, ApiError>) -> Result<(T, FormErrors), PageError> {
    match found {
        Ok(rows) => Ok((rows, FormErrors::ok())),
        Err(error) => Ok((T::default(), refusal(error)?)),
    }
}

/// A form with only its CSRF token, or with a note.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

/// `POST /operator/webhooks/{event_id}/replay`: `replay_event`, like
/// `POST /admin/webhook-events/{id}/replay` (audited), back to the list.
pub async fn replay(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(event_id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    visitor.check_csrf(&state, &form.csrf)?;
    let id = webhooks::replay_event(&state.payments, &admin, &client, &event_id).await?;
    let flash = Flash::notice(format!(
        "The event {id} is queued again: it is processed within moments. Its status below \
         shows the outcome when you reload."
    ));
    Page::redirect_with(&state, &visitor, "/operator/webhooks", flash).await
}

/// The discrepancy list's filter.
#[derive(Debug, Default, Deserialize)]
pub struct DiscrepanciesQuery {
    resolved: Option<String>,
}

/// `GET /operator/discrepancies`: what reconciliation found, unresolved
/// (`?resolved=true`: resolved), newest first.
pub async fn discrepancies_page(
    State(state): State<Pages>,
    visitor: Visitor,
    axum::extract::Query(query): axum::extract::Query<DiscrepanciesQuery>,
) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    let resolved = query.resolved.as_deref() == Some("true");
    let rows = discrepancies::list(&state.payments, resolved).await?;
    let mut context = operator_base(
        &state,
        &visitor,
        "Reconciliation discrepancies",
        "discrepancies",
    )
    .await?;
    context.insert(
        "discrepancies".into(),
        serde_json::to_value(&rows).map_err(ApiError::internal)?,
    );
    context.insert("resolved".into(), resolved.into());
    Page::render("operator_discrepancies.html", context)
}

/// `POST /operator/discrepancies/{discrepancy_id}/resolve`:
/// `resolve_discrepancy`, like `POST /admin/discrepancies/{id}/resolve`,
/// with the operator's note in the audit entry.
pub async fn resolve(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(discrepancy_id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    visitor.check_csrf(&state, &form.csrf)?;
    let id = discrepancies::resolve_discrepancy(
        &state.payments,
        &admin,
        &client,
        &discrepancy_id,
        Some(&form.note),
    )
    .await?;
    let flash = Flash::notice(format!("The discrepancy {id} is resolved."));
    Page::redirect_with(&state, &visitor, "/operator/discrepancies", flash).await
}

/// The organization search: `q` (name or email), `plan`.
#[derive(Debug, Default, Deserialize)]
pub struct OrganizationsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    plan: String,
}

async fn organizations_list(
    state: &Pages,
    visitor: &Visitor,
    query: &OrganizationsQuery,
    error: Option<String>,
) -> Result<Page, PageError> {
    let found = organizations::search(&state.payments, &query.q, &query.plan).await?;
    let mut context = operator_base(state, visitor, "Organizations", "organizations").await?;
    let rows: Vec<Value> = found
        .iter()
        .map(|o| serde_json::to_value(o).unwrap_or_default())
        .collect();
    let plans: Vec<&String> = state.payments.config.plans.keys().collect();
    context.insert("organizations".into(), rows.into());
    context.insert("plans".into(), json!(plans));
    context.insert("q".into(), query.q.clone().into());
    context.insert("plan".into(), query.plan.clone().into());
    let failed = error.is_some();
    context.insert("error".into(), error.into());
    let page = Page::render("operator_organizations.html", context)?;
    Ok(if failed {
        page.status(axum::http::StatusCode::UNPROCESSABLE_ENTITY)
    } else {
        page
    })
}

/// `GET /operator/organizations`: `GET /admin/organizations`' search, with
/// each organization's plan, usage this month and standing.
pub async fn organizations_page(
    State(state): State<Pages>,
    visitor: Visitor,
    axum::extract::Query(query): axum::extract::Query<OrganizationsQuery>,
) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    organizations_list(&state, &visitor, &query, None).await
}

#[derive(Debug, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    q: String,
}

/// `POST /operator/organizations/{organization_id}/plan`:
/// `organizations::set_plan`, like `POST /admin/organizations/{id}/plan`
/// (audited), back to the search.
pub async fn set_plan(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<PlanForm>,
) -> Result<Page, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    visitor.check_csrf(&state, &form.csrf)?;
    let id = OrganizationId::parse_or_not_found(&organization_id, "organization")?;
    match organizations::set_plan(&state.payments, &admin, &client, &id, &form.plan).await {
        Ok(summary) => {
            let location = format!(
                "/operator/organizations?q={}",
                landlord_console::encode(&form.q)
            );
            let flash = Flash::notice(format!(
                "{} is now on the plan {}.",
                summary.name, summary.plan
            ));
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error @ ApiError::Validation { .. }) => {
            let query = OrganizationsQuery {
                q: form.q.clone(),
                ..OrganizationsQuery::default()
            };
            let message = match &error {
                ApiError::Validation {
                    details, message, ..
                } => details
                    .as_ref()
                    .and_then(|d| d.get("fields"))
                    .and_then(|f| f.get(0))
                    .and_then(|f| f.get("reason"))
                    .and_then(Value::as_str)
                    .map(|reason| format!("The plan {}", reason.trim_end_matches('.')))
                    .unwrap_or_else(|| message.clone()),
                _ => error.to_string(),
            };
            organizations_list(&state, &visitor, &query, Some(sentence(&message))).await
        }
        Err(error) => Err(error.into()),
    }
}

/// The job list's filter.
#[derive(Debug, Default, Deserialize)]
pub struct JobsQuery {
    status: Option<String>,
}

/// `GET /operator/jobs`: dead-lettered jobs and mails (`?status=` another
/// status), with their error: `GET /admin/jobs`' list.
pub async fn jobs_page(
    State(state): State<Pages>,
    visitor: Visitor,
    axum::extract::Query(query): axum::extract::Query<JobsQuery>,
) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    let status = query.status.as_deref().filter(|s| !s.is_empty());
    let (found, errors) = filtered(jobs::jobs(&state.payments, status).await)?;
    let mut context = operator_base(&state, &visitor, "Jobs and mails", "jobs").await?;
    let rows: Vec<Value> = found
        .iter()
        .map(|job| {
            let mut row = serde_json::to_value(job).unwrap_or_default();
            if let Some(object) = row.as_object_mut() {
                object.insert("mail".into(), (job.kind == "mail.send").into());
            }
            row
        })
        .collect();
    context.insert("jobs".into(), rows.into());
    context.insert("status".into(), status.unwrap_or("dead").into());
    let code = errors.into_context(&mut context);
    Ok(Page::render("operator_jobs.html", context)?.status(code))
}

/// `POST /operator/jobs/{job_id}/retry`: `retry_job`, like
/// `POST /admin/jobs/{id}/retry` (audited), back to the list.
pub async fn retry(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(job_id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    visitor.check_csrf(&state, &form.csrf)?;
    let id = jobs::retry_job(&state.payments, &admin, &client, &job_id).await?;
    let flash = Flash::notice(format!("The job {id} is queued again with fresh attempts."));
    Page::redirect_with(&state, &visitor, "/operator/jobs", flash).await
}
