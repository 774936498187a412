//! `usage.threshold_reached`: when an organization's metered requests of a
//! month reach 80 % and 100 % of its plan's quota, one event each per
//! organization and period, however many instances see it.
//!
//! Admission knows the month's count after each request. Past a threshold,
//! the instance claims it in the database (`landlord_events::store::
//! claim_usage_threshold`: a primary key, so one claim wins across
//! instances) and writes the event in the same transaction; a local cache
//! spares the database once this instance knows the threshold is done.

use landlord_core::ids::OrganizationId;
use landlord_core::Db;
use landlord_events::payloads::UsageThresholdReachedPayload;

use crate::KeysState;

/// The thresholds, in percent of the quota.
pub const THRESHOLDS: [i64; 2] = [80, 100];

/// The request count at which `percent` of `quota` is reached (rounded up).
pub fn threshold(quota: i64, percent: i64) -> i64 {
    (quota.saturating_mul(percent) + 99) / 100
}

impl KeysState {
    /// Emits the thresholds that `used` of `quota` in `period` (`YYYY-MM`)
    /// has reached and that are not emitted yet. A failure is logged and
    /// tried again on a later request; it never refuses this one.
    pub(crate) async fn note_usage(
        &self,
        organization_id: &OrganizationId,
        period: &str,
        used: i64,
        quota: i64,
    ) {
        if quota <= 0 {
            return;
        }
        for percent in THRESHOLDS {
            if used < threshold(quota, percent) {
                continue;
            }
            let key = format!("{organization_id}:{period}:{percent}");
            if self.thresholds_emitted.contains_key(&key) {
                continue;
            }
            match emit(&self.db, organization_id, period, percent, used, quota).await {
                Ok(()) => self.thresholds_emitted.insert(key, ()),
                Err(error) => {
                    tracing::warn!(%organization_id, period, percent, %error, "usage threshold event not written; will retry");
                }
            }
        }
    }
}

/// Claims the threshold and writes its event, in one transaction.
async fn emit(
    db: &Db,
    organization_id: &OrganizationId,
    period: &str,
    percent: i64,
    used: i64,
    quota: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    if landlord_events::store::claim_usage_threshold(&mut *tx, organization_id, period, percent)
        .await?
    {
        landlord_events::record(
            &mut *tx,
            organization_id,
            &UsageThresholdReachedPayload {
                organization_id: organization_id.clone(),
                period: period.to_string(),
                percent,
                used,
                quota,
            },
        )
        .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_round_up() {
        assert_eq!(threshold(10, 80), 8);
        assert_eq!(threshold(10, 100), 10);
        assert_eq!(threshold(7, 80), 6);
        assert_eq!(threshold(1000, 80), 800);
    }
}
