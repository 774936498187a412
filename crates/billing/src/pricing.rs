//! Pricing a month: the one function the close and `GET /billing/calculate`
//! both use. Pure: no database, no clock.
//!
//! The month is cut into *stretches*, each with the plan in force during it
//! and the metered requests made during it. Each stretch is billed by its
//! own plan, so a later plan change cannot erase usage already made.
//!
//! - **Base.** Each stretch costs its plan's price × the stretch's share of
//!   the month (time the organization existed only). It is computed as the
//!   first plan's price for the billed part of the month, plus, at each
//!   change, `(new price − old price) × rest of the month ÷ month length` —
//!   the prorated charge the change answered with — each term rounded down
//!   (floor) to a minor unit. A month without a change therefore costs
//!   exactly the plan's price.
//! - **Overage.** A plan's included requests apply to the month's running
//!   total: requests made while on plan P are overage once the month's
//!   count (everything before them included) exceeds P's included
//!   requests; they are priced at P's overage price (none for a hard-capped
//!   plan, none for an unlimited one).
//! - **Total** = base + adjustments + overage, never below zero.
//!
//! Starter all month with 15,000 requests: 1,000 + 5,000 × 1 = 6,000 cents.

use std::collections::BTreeMap;

use landlord_core::plans::Plan;

/// Part of a month during which one plan was in force: `[from_ms, to_ms)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stretch {
    pub plan: String,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Metered requests made during the stretch.
    pub requests: i64,
}

/// A month's (or a month so far's) price, in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    /// The plan in force at the end of the stretches.
    pub plan: String,
    pub requests: i64,
    /// Included requests of `plan`; `None`: unlimited.
    pub included: Option<i64>,
    pub overage_requests: i64,
    /// The first stretch's plan price for the billed part of the month.
    pub base_amount: i64,
    /// The prorated differences of the plan changes during the month.
    pub adjustments: i64,
    pub overage_amount: i64,
    pub amount: i64,
    pub currency: String,
}

/// `amount × part ÷ whole` rounded down (floor), without overflow.
pub fn floor_prorate(amount: i64, part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    let value = (i128::from(amount) * i128::from(part)).div_euclid(i128::from(whole));
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// Prices the month `[period_start, period_end)` of an organization created
/// at `created_at`, from its ordered `stretches` (at least one; they cover
/// the month) and the plan `catalog`. Errors name a plan missing from the
/// catalog.
pub fn price_period(
    period_start: i64,
    period_end: i64,
    created_at: i64,
    stretches: &[Stretch],
    catalog: &BTreeMap<String, Plan>,
) -> Result<Priced, String> {
    let month = period_end - period_start;
    let billed_from = created_at.max(period_start);
    let plan_of = |name: &str| {
        catalog
            .get(name)
            .ok_or_else(|| format!("plan {name} is not in the catalog"))
    };
    let first = stretches
        .first()
        .ok_or_else(|| "a month needs at least one stretch".to_string())?;
    let first_plan = plan_of(&first.plan)?;
    let base_amount = floor_prorate(first_plan.price, (period_end - billed_from).max(0), month);
    let mut adjustments = 0;
    let mut previous_price = first_plan.price;
    let mut running = 0i64;
    let mut overage_requests = 0;
    let mut overage_amount = 0;
    let mut last = first_plan;
    for (index, stretch) in stretches.iter().enumerate() {
        let plan = plan_of(&stretch.plan)?;
        if index > 0 {
            let rest = (period_end - stretch.from_ms.max(billed_from)).max(0);
            adjustments += floor_prorate(plan.price - previous_price, rest, month);
            previous_price = plan.price;
        }
        let before = running;
        running += stretch.requests.max(0);
        if let Some(included) = plan.included_requests {
            let over = (running - before.max(included)).max(0);
            overage_requests += over;
            overage_amount += over * plan.overage_price.unwrap_or(0);
        }
        last = plan;
    }
    let last_name = stretches.last().map(|s| s.plan.clone()).unwrap_or_default();
    Ok(Priced {
        plan: last_name,
        requests: running,
        included: last.included_requests,
        overage_requests,
        base_amount,
        adjustments,
        overage_amount,
        amount: (base_amount + adjustments + overage_amount).max(0),
        currency: last.currency.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use landlord_core::plans::default_catalog;

    const DAY: i64 = 24 * 3600 * 1000;
    /// November 2026: 30 days.
    const NOV: i64 = 1_793_491_200_000;
    const DEC: i64 = NOV + 30 * DAY;

    fn stretch(plan: &str, from: i64, to: i64, requests: i64) -> Stretch {
        Stretch {
            plan: plan.into(),
            from_ms: from,
            to_ms: to,
            requests,
        }
    }

    fn price(stretches: &[Stretch]) -> Priced {
        price_period(NOV, DEC, NOV - 1, stretches, &default_catalog()).unwrap()
    }

    #[test]
    fn starter_all_month_with_15000_requests_is_60_dollars() {
        let p = price(&[stretch("starter", NOV, DEC, 15_000)]);
        assert_eq!(
            (
                p.base_amount,
                p.adjustments,
                p.overage_requests,
                p.overage_amount,
                p.amount
            ),
            (1_000, 0, 5_000, 5_000, 6_000)
        );
        assert_eq!((p.plan.as_str(), p.included), ("starter", Some(10_000)));
    }

    #[test]
    fn a_month_without_a_change_costs_exactly_the_plan_price() {
        // 31-, 30- and 28-day months: no rounding on a whole month.
        for (start, days) in [(DEC, 31), (NOV, 30), (DEC + 62 * DAY, 28)] {
            let end = start + days * DAY;
            for plan in ["free", "starter", "pro"] {
                let p = price_period(
                    start,
                    end,
                    0,
                    &[stretch(plan, start, end, 0)],
                    &default_catalog(),
                )
                .unwrap();
                assert_eq!(p.amount, default_catalog()[plan].price, "{plan}");
            }
        }
    }

    #[test]
    fn starter_over_its_allowance_then_a_downgrade_to_free_on_the_28th_still_owes_60_dollars() {
        // The downgrade waits for the end of the month: starter is in force
        // all month, so the stretches are the same as without a change.
        let p = price(&[stretch("starter", NOV, DEC, 15_000)]);
        assert_eq!(p.amount, 6_000);
        // Even had free been in force from the 28th (as with a plan set by
        // an operator), starter's overage stays: the 5,000 requests over
        // 10,000 were made on starter.
        let day28 = NOV + 27 * DAY;
        let p = price(&[
            stretch("starter", NOV, day28, 15_000),
            stretch("free", day28, DEC, 0),
        ]);
        assert_eq!(p.overage_amount, 5_000);
        assert_eq!(p.base_amount, 1_000);
        // (0 − 1,000) × 3 days ÷ 30 = −100 credited for the last 3 days.
        assert_eq!(p.adjustments, -100);
        assert_eq!(p.amount, 5_900);
    }

    #[test]
    fn free_then_an_upgrade_to_starter_mid_month() {
        // Upgrade on the 16th at 00:00: 15 of 30 days on starter = 500.
        // 800 requests on free, then 12,000 on starter: the month's total
        // passes starter's 10,000 at the 9,200th starter request, so 2,800
        // are overage at 1 cent.
        let mid = NOV + 15 * DAY;
        let p = price(&[
            stretch("free", NOV, mid, 800),
            stretch("starter", mid, DEC, 12_000),
        ]);
        assert_eq!(
            (
                p.base_amount,
                p.adjustments,
                p.overage_requests,
                p.overage_amount,
                p.amount
            ),
            (0, 500, 2_800, 2_800, 3_300)
        );
        assert_eq!(p.plan, "starter");
        // Without overage: only the prorated starter price.
        let p = price(&[
            stretch("free", NOV, mid, 800),
            stretch("starter", mid, DEC, 9_000),
        ]);
        assert_eq!(p.amount, 500);
    }

    #[test]
    fn starter_then_pro_after_15000_requests_keeps_starters_overage() {
        // Upgrade on the 21st at 00:00 with 10 of 30 days left:
        // (5,000 − 1,000) × 10 ÷ 30 = 1,333.33… → 1,333 (rounded down).
        // The 5,000 requests over starter's 10,000 stay billed at 1 cent;
        // pro's 20,000 are unlimited.
        let day21 = NOV + 20 * DAY;
        let p = price(&[
            stretch("starter", NOV, day21, 15_000),
            stretch("pro", day21, DEC, 20_000),
        ]);
        assert_eq!(
            (
                p.base_amount,
                p.adjustments,
                p.overage_requests,
                p.overage_amount,
                p.amount
            ),
            (1_000, 1_333, 5_000, 5_000, 7_333)
        );
        assert_eq!(
            (p.plan.as_str(), p.included, p.requests),
            ("pro", None, 35_000)
        );
    }

    #[test]
    fn an_organization_created_mid_month_pays_from_then_on() {
        let p = price_period(
            NOV,
            DEC,
            NOV + 10 * DAY,
            &[stretch("starter", NOV, DEC, 0)],
            &default_catalog(),
        )
        .unwrap();
        // 20 of 30 days: 666.66… → 666.
        assert_eq!(p.amount, 666);
    }

    #[test]
    fn an_unknown_plan_is_an_error() {
        let error = price_period(
            NOV,
            DEC,
            0,
            &[stretch("gold", NOV, DEC, 0)],
            &default_catalog(),
        )
        .unwrap_err();
        assert!(error.contains("gold"));
    }
}
