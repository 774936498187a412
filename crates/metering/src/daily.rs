//! Requests per day (UTC): what `GET /dashboard/usage-graph` answers and the
//! console's overview charts.

use landlord_core::ids::{ApiKeyId, OrganizationId};
use landlord_core::{ApiError, Db, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store;

/// One day, in ms.
pub const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Serialize, ToSchema)]
pub struct DailyUsage {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub requests: i64,
}

/// The first instant of `at`'s day (UTC).
pub fn start_of_day(at: Timestamp) -> Timestamp {
    Timestamp::from_millis(at.millis() - at.millis().rem_euclid(DAY_MS))
}

/// Which key's requests to count.
pub enum KeyFilter {
    All,
    One(ApiKeyId),
    /// Not an id of any key: nothing to count.
    NoSuchKey,
}

impl KeyFilter {
    /// A client's `key_id`: absent or empty counts every key.
    pub fn from_query(key_id: Option<&str>) -> Self {
        match key_id {
            None | Some("") => KeyFilter::All,
            Some(text) => ApiKeyId::parse(text).map_or(KeyFilter::NoSuchKey, KeyFilter::One),
        }
    }
}

/// Whether the organization ever made a metered request (any key, any
/// time): the overview's "make a first request" step.
pub async fn any_requests(db: &Db, organization_id: &OrganizationId) -> Result<bool, ApiError> {
    Ok(store::count_since(db.pool(), organization_id, Timestamp::from_millis(0)).await? > 0)
}

/// The organization's requests on each day from `from` to `to` (the first
/// instants of both days, `to` included), oldest first, zeros included.
pub async fn requests_by_day(
    db: &Db,
    organization_id: &OrganizationId,
    from: Timestamp,
    to: Timestamp,
    key: &KeyFilter,
) -> Result<Vec<DailyUsage>, ApiError> {
    let days = (to.millis() - from.millis()) / DAY_MS + 1;
    let end = Timestamp::from_millis(to.millis() + DAY_MS);
    let counts = match key {
        KeyFilter::NoSuchKey => Vec::new(),
        KeyFilter::All => {
            store::counts_per_bucket(db.pool(), organization_id, from, end, DAY_MS, None).await?
        }
        KeyFilter::One(key) => {
            store::counts_per_bucket(db.pool(), organization_id, from, end, DAY_MS, Some(key))
                .await?
        }
    };
    let mut buckets: Vec<DailyUsage> = (0..days.max(0))
        .map(|d| DailyUsage {
            date: Timestamp::from_millis(from.millis() + d * DAY_MS).date(),
            requests: 0,
        })
        .collect();
    for (day, count) in counts {
        if let Some(bucket) = usize::try_from(day).ok().and_then(|d| buckets.get_mut(d)) {
            bucket.requests = count;
        }
    }
    Ok(buckets)
}
