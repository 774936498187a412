//! `GET /admin/figures`: the business at a glance.

use std::collections::BTreeMap;

use axum::extract::State;
use landlord_billing::store as billing_store;
use landlord_billing::Period;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::store as identity_store;
use landlord_payments::routes::PaymentsState;
use landlord_payments::store as payments_store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::PlatformAdmin;

#[derive(Debug, Serialize, ToSchema)]
pub struct Figures {
    /// Monthly recurring revenue by currency: the sum of every
    /// organization's plan price (minor units).
    pub mrr: BTreeMap<String, i64>,
    pub organizations_by_plan: BTreeMap<String, i64>,
    /// Payments received this month, by currency (minor units).
    pub revenue_this_month: BTreeMap<String, i64>,
    /// Amount of overdue billing cycles, by currency (minor units).
    pub overdue_total: BTreeMap<String, i64>,
    /// Processed webhook events ÷ events that finished (processed, failed
    /// or dead); absent with no events.
    pub webhook_success_rate: Option<f64>,
    /// Cycles that became overdue ÷ cycles that were due (paid with an
    /// amount, or overdue); absent when none was due.
    pub payment_failure_rate: Option<f64>,
    /// Organizations whose last plan change this month (UTC) moved them
    /// from a paying plan to a free one (price 0).
    pub churned_this_month: i64,
}

/// Business figures.
#[utoipa::path(
    get, path = "/api/v1/admin/figures", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Figures", body = Envelope<Figures>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn figures(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
) -> Result<ApiSuccess<Figures>, ApiError> {
    Ok(ApiSuccess::ok(compute(&state).await?))
}

/// The figures, for `GET /admin/figures` and the operator console alike.
pub async fn compute(state: &PaymentsState) -> Result<Figures, ApiError> {
    let db = &state.db;
    let config = &state.config;
    let month_start = Period::of(Timestamp::now()).start();
    // Figures tolerate lag: a replica may answer when one is configured.
    let (plans, overdue, (late, due), moves) = db
        .read(|reader| async move {
            Ok((
                identity_store::organizations_by_plan(&reader).await?,
                billing_store::overdue_totals(&reader).await?,
                billing_store::late_and_due(&reader).await?,
                billing_store::plan_moves_since(&reader, month_start).await?,
            ))
        })
        .await?;
    let mut mrr = BTreeMap::new();
    let mut organizations_by_plan = BTreeMap::new();
    for (plan, count) in plans {
        if let Some(p) = config.plan(&plan) {
            *mrr.entry(p.currency.clone()).or_insert(0) += p.price * count;
        }
        organizations_by_plan.insert(plan, count);
    }
    let revenue = payments_store::revenue_since(db, month_start).await?;
    let (processed, finished) = payments_store::processed_and_finished(db).await?;
    let rate = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
    let price = |plan: &str| config.plan(plan).map(|p| p.price).unwrap_or(0);
    let mut last_moves = BTreeMap::new();
    for (organization, from, to) in moves {
        let started_paying = last_moves
            .get(&organization)
            .map(|(paid, _)| *paid)
            .unwrap_or(price(&from) > 0);
        last_moves.insert(organization, (started_paying, price(&to) == 0));
    }
    let churned_this_month = last_moves
        .values()
        .filter(|(paid_before, free_now)| *paid_before && *free_now)
        .count() as i64;
    Ok(Figures {
        mrr,
        organizations_by_plan,
        revenue_this_month: revenue.into_iter().collect(),
        overdue_total: overdue.into_iter().collect(),
        webhook_success_rate: rate(processed, finished),
        payment_failure_rate: rate(late, due),
        churned_this_month,
    })
}

/// One month of the MRR chart.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonthlyRecurring {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// By currency (minor units).
    pub amounts: BTreeMap<String, i64>,
    /// The current month: today's MRR (every organization's plan price),
    /// not yet billed.
    pub current: bool,
}

/// MRR by month over the last `months` months, oldest first: for a closed
/// month, the recurring part its billing cycles billed (`base_amount`, the
/// plan prices prorated, void cycles left out); for the current month,
/// today's MRR as [`compute`] counts it. A month nothing was billed for
/// shows empty amounts.
pub async fn mrr_by_month(
    state: &PaymentsState,
    months: u32,
    current_mrr: &BTreeMap<String, i64>,
) -> Result<Vec<MonthlyRecurring>, ApiError> {
    let now = Period::of(Timestamp::now());
    let mut periods = vec![now];
    for _ in 1..months.max(1) {
        let earliest = periods[periods.len() - 1];
        periods.push(earliest.previous());
    }
    periods.reverse();
    let since = periods[0].key();
    let billed = state
        .db
        .read(|reader| {
            let since = &since;
            async move { billing_store::base_amounts_by_period(&reader, since).await }
        })
        .await?;
    Ok(periods
        .into_iter()
        .map(|period| {
            let key = period.key();
            let current = period == now;
            let amounts = if current {
                current_mrr.clone()
            } else {
                billed
                    .iter()
                    .filter(|(p, _, _)| *p == key)
                    .map(|(_, currency, amount)| (currency.clone(), *amount))
                    .collect()
            };
            MonthlyRecurring {
                month: key,
                amounts,
                current,
            }
        })
        .collect())
}
