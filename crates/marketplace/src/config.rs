//! The Marketplace module's settings (`[marketplace]`): whether it is on,
//! the platform fee per plan, how long stock is held for an unpaid order,
//! how long earnings wait before a payout. Read by the binary with the
//! core's keys (`LANDLORD_MARKETPLACE__FEE_BPS__PRO=750`, …); the
//! marketplace reads them with `config.section::<MarketplaceConfig>()`.

use std::collections::BTreeMap;

use landlord_core::config::{Config, ConfigError, Section};
use serde::{Deserialize, Serialize};

/// `[marketplace]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketplaceConfig {
    /// Serve the module's routes (off: `/marketplace/…` answers 404).
    pub enabled: bool,
    /// The platform fee, in basis points of a vendor order's subtotal, for
    /// vendors whose organization's plan is not in `fee_bps` (1,000 = 10 %).
    pub default_fee_bps: u32,
    /// The platform fee by plan name, in basis points.
    pub fee_bps: BTreeMap<String, u32>,
    /// How long checkout holds stock for an unpaid order, in seconds; then
    /// the order expires and the stock returns.
    pub reservation_ttl_secs: u64,
    /// How long after delivery a vendor order's earnings wait before they
    /// are paid out (returns and disputes), in seconds (7 days).
    pub payout_hold_secs: u64,
    /// Milliseconds between two sweeps (expire unpaid orders, create the
    /// payouts that are due). Any number of instances may sweep.
    pub sweep_interval_ms: u64,
    /// Run the sweep on this instance.
    pub sweep: bool,
}

impl Default for MarketplaceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            default_fee_bps: 1000,
            fee_bps: BTreeMap::new(),
            reservation_ttl_secs: 30 * 60,
            payout_hold_secs: 7 * 24 * 3600,
            sweep_interval_ms: 30_000,
            sweep: true,
        }
    }
}

impl Section for MarketplaceConfig {
    const KEY: &'static str = "marketplace";

    /// The fees name plans of the core's catalog.
    fn validate(&self, core: &Config) -> Result<(), ConfigError> {
        MarketplaceConfig::validate(self, core.plans.keys())
    }
}

impl MarketplaceConfig {
    /// Checks the values; `plans` are the catalog's plan names.
    pub fn validate<'a>(&self, plans: impl Iterator<Item = &'a String>) -> Result<(), ConfigError> {
        if self.default_fee_bps > 10_000 {
            return Err(ConfigError::new(
                "marketplace.default_fee_bps",
                "must be between 0 and 10000 (basis points)",
            ));
        }
        let plans: Vec<&String> = plans.collect();
        for (plan, bps) in &self.fee_bps {
            if !plans.contains(&plan) {
                return Err(ConfigError::new(
                    "marketplace.fee_bps",
                    format!("names the plan {plan:?}, which is not in the catalog"),
                ));
            }
            if *bps > 10_000 {
                return Err(ConfigError::new(
                    "marketplace.fee_bps",
                    format!("{plan}: must be between 0 and 10000 (basis points)"),
                ));
            }
        }
        if self.reservation_ttl_secs == 0 {
            return Err(ConfigError::new(
                "marketplace.reservation_ttl_secs",
                "must be at least 1",
            ));
        }
        if !(50..=3_600_000).contains(&self.sweep_interval_ms) {
            return Err(ConfigError::new(
                "marketplace.sweep_interval_ms",
                "must be between 50 and 3600000",
            ));
        }
        Ok(())
    }

    /// The fee, in basis points, for a vendor on `plan`.
    pub fn fee_bps_for(&self, plan: &str) -> u32 {
        self.fee_bps
            .get(plan)
            .copied()
            .unwrap_or(self.default_fee_bps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        let plans = ["free".to_string(), "pro".to_string()];
        let config = MarketplaceConfig::default();
        config.validate(plans.iter()).unwrap();
        assert_eq!(config.fee_bps_for("pro"), 1000);
        let mut per_plan = MarketplaceConfig::default();
        per_plan.fee_bps.insert("pro".into(), 750);
        per_plan.validate(plans.iter()).unwrap();
        assert_eq!(per_plan.fee_bps_for("pro"), 750);
        assert_eq!(per_plan.fee_bps_for("free"), 1000);
        per_plan.fee_bps.insert("gold".into(), 500);
        assert_eq!(
            per_plan.validate(plans.iter()).unwrap_err().setting,
            "marketplace.fee_bps"
        );
        let bad = MarketplaceConfig {
            default_fee_bps: 10_001,
            ..MarketplaceConfig::default()
        };
        assert_eq!(
            bad.validate(plans.iter()).unwrap_err().setting,
            "marketplace.default_fee_bps"
        );
    }
}
