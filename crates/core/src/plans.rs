//! The plan catalog, from configuration. A plan is data: a
//! new one (say `enterprise`) is added in the TOML file, without code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One plan of the catalog. Money is in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Monthly price, minor units (cents).
    pub price: i64,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    /// Metered requests included per calendar month; absent: unlimited.
    pub included_requests: Option<i64>,
    /// Price of each request past the included ones, minor units; absent:
    /// the plan stops at its included requests (hard cap).
    pub overage_price: Option<i64>,
    /// Requests per minute, per organization.
    pub rate_limit_per_minute: u32,
    /// Requests per minute to each of the organization's published apps
    /// through the gateway (and, for an installing organization, to each
    /// app it installed); absent: [`DEFAULT_GATEWAY_RATE_LIMIT_PER_MINUTE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_rate_limit_per_minute: Option<u32>,
}

/// The gateway rate limit of a plan that names none: the free tier's.
pub const DEFAULT_GATEWAY_RATE_LIMIT_PER_MINUTE: u32 = 100;

impl Plan {
    /// Requests this month that are over the included ones.
    pub fn overage_requests(&self, requests: i64) -> i64 {
        match self.included_requests {
            Some(included) => (requests - included).max(0),
            None => 0,
        }
    }

    /// The amount of a month with `requests` metered requests: the price
    /// plus the overage. Integer arithmetic only.
    pub fn amount_for(&self, requests: i64) -> i64 {
        self.price + self.overage_requests(requests) * self.overage_price.unwrap_or(0)
    }

    /// Requests per minute to one app through the gateway.
    pub fn gateway_rate_limit(&self) -> u32 {
        self.gateway_rate_limit_per_minute
            .unwrap_or(DEFAULT_GATEWAY_RATE_LIMIT_PER_MINUTE)
            .max(1)
    }

    /// Whether the plan refuses requests past the included ones.
    pub fn hard_capped(&self) -> bool {
        self.included_requests.is_some() && self.overage_price.is_none()
    }
}

/// The default plans: free, starter, pro (prices in cents, monthly quotas,
/// per-minute rates of the API and of the gateway — 100, 1,000 and 10,000
/// requests a minute to each published app), used when the configuration
/// names none.
pub fn default_catalog() -> BTreeMap<String, Plan> {
    let usd = |price, included, overage, rate, gateway| Plan {
        price,
        currency: "USD".into(),
        included_requests: included,
        overage_price: overage,
        rate_limit_per_minute: rate,
        gateway_rate_limit_per_minute: Some(gateway),
    };
    BTreeMap::from([
        ("free".to_string(), usd(0, Some(1_000), None, 10, 100)),
        (
            "starter".to_string(),
            usd(1_000, Some(10_000), Some(1), 60, 1_000),
        ),
        ("pro".to_string(), usd(5_000, None, None, 300, 10_000)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_example_starter_with_15000_requests_is_60_dollars() {
        let catalog = default_catalog();
        assert_eq!(catalog["starter"].amount_for(15_000), 6_000);
        assert_eq!(catalog["starter"].amount_for(9_000), 1_000);
        assert_eq!(catalog["free"].amount_for(5_000), 0);
        assert!(catalog["free"].hard_capped());
        assert_eq!(catalog["pro"].amount_for(1_000_000), 5_000);
        assert!(!catalog["pro"].hard_capped());
    }

    #[test]
    fn gateway_limits_default_to_the_tiers_and_absent_means_the_free_tier() {
        let catalog = default_catalog();
        assert_eq!(catalog["free"].gateway_rate_limit(), 100);
        assert_eq!(catalog["starter"].gateway_rate_limit(), 1_000);
        assert_eq!(catalog["pro"].gateway_rate_limit(), 10_000);
        let unnamed = Plan {
            gateway_rate_limit_per_minute: None,
            ..catalog["pro"].clone()
        };
        assert_eq!(
            unnamed.gateway_rate_limit(),
            DEFAULT_GATEWAY_RATE_LIMIT_PER_MINUTE
        );
    }
}
