//! Limits and metering at the gateway: every request counts against the
//! publishing organization's plan (its gateway rate limit and its monthly
//! quota), and a request with an installation's token against the
//! installing organization's limit for the app. Metered per app and hour.
//!
//! The limits are the API keys' own: the same rate limiter (exact across
//! instances when Redis is configured), the same monthly quota counter
//! and the same usage recorder, so gateway requests count in the
//! publisher's quota, dashboard and invoice like any metered request
//! (under the key-less id, with the app as the counters' dimension). On
//! the request path nothing waits for the database once the plans and
//! the month's count are known: the installing organization's plan is
//! cached for [`PLAN_CACHE_TTL`], and the month's count is read once per
//! organization and instance.
//!
//! The traffic figures the developer's page draws (requests, errors and
//! latency per app and hour) are added up in memory and written every
//! [`TRAFFIC_FLUSH`] and at stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use landlord_core::ids::{ApiKeyId, OrganizationId};
use landlord_core::plans::Plan;
use landlord_core::Timestamp;
use landlord_keys::admission::{ceil_secs, rate_limit_headers, QuotaState};
use landlord_limits::Decision;
use landlord_metering::{UsageCaller, UsageRecord};
use tokio_util::sync::CancellationToken;

use super::hosts::AppRoute;
use super::visitor::Visitor;
use crate::app_tokens::NO_KEY;
use crate::ids::AppId;
use crate::store::traffic::{self, TrafficRow};
use crate::AppsState;

/// How long an installing organization's plan is kept in memory.
pub const PLAN_CACHE_TTL: Duration = Duration::from_secs(30);

/// Installing organizations whose plans are kept in memory.
const PLAN_CACHE_ENTRIES: u64 = 10_000;

/// How often the traffic figures are written.
pub const TRAFFIC_FLUSH: Duration = Duration::from_secs(2);

const HOUR_MS: i64 = 3_600_000;

/// The method usage counters show for gateway requests: their route is
/// `APP {slug}` (one per app, never the request's path).
const APP_METHOD: &str = "APP";

/// One app's traffic in one hour, added up in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Traffic {
    requests: i64,
    errors: i64,
    latency_ms_total: i64,
    latency_ms_max: i64,
}

/// The gateway's limiter and meters.
pub struct GatewayLimits {
    keys: landlord_keys::KeysState,
    /// Installing organizations' plan names.
    installer_plans: moka::sync::Cache<OrganizationId, Arc<str>>,
    /// Traffic not written yet, per app and hour's start.
    traffic: Mutex<HashMap<AppId, HashMap<i64, Traffic>>>,
}

/// A request let in, with what to tell the client (RateLimit headers).
#[derive(Debug, Default)]
pub struct Admission {
    rate: Option<Decision>,
}

impl Admission {
    /// `response` with the admission's headers.
    pub fn decorate(&self, mut response: Response) -> Response {
        if let Some(rate) = &self.rate {
            rate_limit_headers(response.headers_mut(), rate);
        }
        response
    }
}

/// A request refused (429), or not judged (503: the database could not be
/// asked).
#[derive(Debug)]
pub enum Refused {
    RateLimited(Decision),
    QuotaExceeded { quota: QuotaState, rate: Decision },
    Unavailable,
}

impl Refused {
    pub fn into_response(self, headers: &HeaderMap) -> Response {
        match self {
            Refused::RateLimited(rate) => {
                let message = format!(
                    "Rate limit of {} requests per minute reached; try again shortly.",
                    rate.limit
                );
                let mut response = super::pages::answer(
                    headers,
                    StatusCode::TOO_MANY_REQUESTS,
                    "RATE_LIMITED",
                    "Too many requests",
                    &message,
                );
                rate_limit_headers(response.headers_mut(), &rate);
                retry_after(&mut response, ceil_secs(rate.retry_after));
                response
            }
            Refused::QuotaExceeded { quota, rate } => {
                let message = format!(
                    "Monthly quota of {} requests reached; it resets at {}.",
                    quota.included.unwrap_or(0),
                    quota.resets_at.rfc3339()
                );
                let mut response = super::pages::answer(
                    headers,
                    StatusCode::TOO_MANY_REQUESTS,
                    "QUOTA_EXCEEDED",
                    "Quota exceeded",
                    &message,
                );
                rate_limit_headers(response.headers_mut(), &rate);
                let secs = (quota.resets_at.since(Timestamp::now()).as_millis() as u64)
                    .div_ceil(1000)
                    .max(1);
                retry_after(&mut response, secs);
                response
            }
            Refused::Unavailable => super::pages::unavailable(headers),
        }
    }
}

fn retry_after(response: &mut Response, secs: u64) {
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("retry-after"), value);
    }
}

/// The tighter of two decisions: the one with fewer requests left.
fn tighter(a: Decision, b: Decision) -> Decision {
    if b.remaining < a.remaining {
        b
    } else {
        a
    }
}

/// One request of the installing organization `installer` to `app`,
/// against its plan's gateway limit for that app.
async fn installation_limit(
    limiter: &landlord_limits::RateLimiter,
    installer: &OrganizationId,
    app: &AppId,
    plan: &Plan,
) -> Decision {
    limiter
        .check(
            &format!("gw:inst:{installer}:{app}"),
            plan.gateway_rate_limit(),
        )
        .await
}

impl GatewayLimits {
    pub fn new(_apps: &AppsState, keys: &landlord_keys::KeysState) -> Self {
        Self {
            keys: keys.clone(),
            installer_plans: moka::sync::Cache::builder()
                .max_capacity(PLAN_CACHE_ENTRIES)
                .time_to_live(PLAN_CACHE_TTL)
                .build(),
            traffic: Mutex::new(HashMap::new()),
        }
    }

    /// Lets the request in, or refuses it: the publishing organization's
    /// gateway rate limit (`gw:org:{organization}`), the installing
    /// organization's limit for this app (`gw:inst:{organization}:{app}`)
    /// when an installation's token was sent, then one unit of the
    /// publisher's monthly quota.
    pub async fn admit(&self, route: &AppRoute, visitor: &Visitor) -> Result<Admission, Refused> {
        let plan = self.keys.plan_named(&route.organization_plan);
        let mut rate = self
            .keys
            .limiter
            .check(
                &format!("gw:org:{}", route.organization_id),
                plan.gateway_rate_limit(),
            )
            .await;
        if !rate.allowed {
            return Err(Refused::RateLimited(rate));
        }
        if let (Some(_), Some(installer)) = (&visitor.installation_id, &visitor.organization_id) {
            let installer_plan = self.installer_plan(installer).await?;
            let installed = installation_limit(
                &self.keys.limiter,
                installer,
                &route.app_id,
                &installer_plan,
            )
            .await;
            if !installed.allowed {
                return Err(Refused::RateLimited(installed));
            }
            rate = tighter(rate, installed);
        }
        match self.keys.reserve_quota(&route.organization_id, &plan).await {
            Ok(_) => Ok(Admission { rate: Some(rate) }),
            Err(Ok(quota)) => Err(Refused::QuotaExceeded { quota, rate }),
            Err(Err(error)) => {
                tracing::warn!(%error, "cannot read the publisher's monthly usage");
                Err(Refused::Unavailable)
            }
        }
    }

    /// The plan of an installing organization: from memory, or the
    /// database on a miss.
    async fn installer_plan(&self, organization_id: &OrganizationId) -> Result<Plan, Refused> {
        if let Some(name) = self.installer_plans.get(organization_id) {
            return Ok(self.keys.plan_named(&name));
        }
        let organization =
            landlord_identity::store::organization_by_id(self.keys.db.pool(), organization_id)
                .await
                .map_err(|error| {
                    tracing::warn!(%error, "cannot read the installing organization");
                    Refused::Unavailable
                })?;
        let name: Arc<str> = match organization {
            Some(organization) => Arc::from(organization.plan),
            None => Arc::from(self.keys.config.default_plan.as_str()),
        };
        self.installer_plans
            .insert(organization_id.clone(), name.clone());
        Ok(self.keys.plan_named(&name))
    }

    /// Meters an answered request: usage under the publishing organization
    /// (route `APP {slug}`, the app as dimension) and the app's traffic
    /// figures (a 5xx, the gateway's 502 and 504 included, is an error).
    pub async fn record(
        &self,
        route: &AppRoute,
        _visitor: &Visitor,
        status: StatusCode,
        latency: Duration,
    ) {
        let now = Timestamp::now();
        self.add_traffic(&route.app_id, now, status, latency);
        self.keys
            .usage
            .record(UsageRecord {
                caller: UsageCaller::new(
                    route.organization_id.clone(),
                    ApiKeyId::from_trusted(NO_KEY),
                ),
                endpoint: Arc::from(route.slug.as_str()),
                method: APP_METHOD.into(),
                status: status.as_u16(),
                at: now,
                app_id: Some(Arc::from(route.app_id.as_str())),
            })
            .await;
    }

    fn add_traffic(&self, app_id: &AppId, at: Timestamp, status: StatusCode, latency: Duration) {
        let hour = at.millis() - at.millis().rem_euclid(HOUR_MS);
        let latency_ms = i64::try_from(latency.as_millis()).unwrap_or(i64::MAX);
        let mut traffic = match self.traffic.lock() {
            Ok(traffic) => traffic,
            Err(poisoned) => poisoned.into_inner(),
        };
        let hours = match traffic.get_mut(app_id) {
            Some(hours) => hours,
            None => traffic.entry(app_id.clone()).or_default(),
        };
        let figures = hours.entry(hour).or_default();
        figures.requests += 1;
        figures.errors += i64::from(status.is_server_error());
        figures.latency_ms_total = figures.latency_ms_total.saturating_add(latency_ms);
        figures.latency_ms_max = figures.latency_ms_max.max(latency_ms);
    }

    /// Takes what was added up so far.
    fn take_traffic(&self) -> Vec<TrafficRow> {
        let taken = {
            let mut traffic = match self.traffic.lock() {
                Ok(traffic) => traffic,
                Err(poisoned) => poisoned.into_inner(),
            };
            std::mem::take(&mut *traffic)
        };
        taken
            .into_iter()
            .flat_map(|(app_id, hours)| {
                hours.into_iter().map(move |(hour, figures)| TrafficRow {
                    app_id: app_id.clone(),
                    hour: Timestamp::from_millis(hour),
                    requests: figures.requests,
                    errors: figures.errors,
                    latency_ms_total: figures.latency_ms_total,
                    latency_ms_max: figures.latency_ms_max,
                })
            })
            .collect()
    }

    /// Puts rows that could not be written back, to go with the next
    /// flush.
    fn restore_traffic(&self, rows: Vec<TrafficRow>) {
        let mut traffic = match self.traffic.lock() {
            Ok(traffic) => traffic,
            Err(poisoned) => poisoned.into_inner(),
        };
        for row in rows {
            let figures = traffic
                .entry(row.app_id)
                .or_default()
                .entry(row.hour.millis())
                .or_default();
            figures.requests += row.requests;
            figures.errors += row.errors;
            figures.latency_ms_total = figures
                .latency_ms_total
                .saturating_add(row.latency_ms_total);
            figures.latency_ms_max = figures.latency_ms_max.max(row.latency_ms_max);
        }
    }

    /// Writes what was added up; on failure keeps it for the next time.
    async fn flush(&self, apps: &AppsState) -> bool {
        let rows = self.take_traffic();
        if rows.is_empty() {
            return true;
        }
        let written = async {
            let mut tx = apps.db.begin().await?;
            traffic::add_traffic(&mut tx, &rows).await?;
            tx.commit().await
        }
        .await;
        match written {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, rows = rows.len(), "cannot write the apps' traffic; will retry");
                self.restore_traffic(rows);
                false
            }
        }
    }

    /// Writes the traffic figures until `stop`, then what is left.
    pub async fn run(&self, apps: &AppsState, stop: CancellationToken) {
        let mut tick = tokio::time::interval(TRAFFIC_FLUSH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {
                    self.flush(apps).await;
                }
            }
        }
        for _ in 0..5 {
            if self.flush(apps).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tighter_decision_is_the_one_with_less_left() {
        let decision = |remaining| Decision {
            allowed: true,
            limit: 10,
            remaining,
            reset_after: Duration::from_secs(1),
            retry_after: Duration::ZERO,
        };
        assert_eq!(tighter(decision(5), decision(3)).remaining, 3);
        assert_eq!(tighter(decision(2), decision(3)).remaining, 2);
    }

    #[tokio::test]
    async fn an_installing_organization_has_its_plans_limit_per_app() {
        let limiter = landlord_limits::RateLimiter::new(None);
        let plan = Plan {
            gateway_rate_limit_per_minute: Some(2),
            ..landlord_core::plans::default_catalog()["free"].clone()
        };
        let (installer, other) = (OrganizationId::generate(), OrganizationId::generate());
        let (app, other_app) = (AppId::generate(), AppId::generate());
        for left in [1, 0] {
            let decision = installation_limit(&limiter, &installer, &app, &plan).await;
            assert!(decision.allowed);
            assert_eq!((decision.limit, decision.remaining), (2, left));
        }
        let refused = installation_limit(&limiter, &installer, &app, &plan).await;
        assert!(!refused.allowed && refused.retry_after > Duration::ZERO);
        // Another app of the same installer, or another installer of the
        // same app, has its own budget.
        assert!(
            installation_limit(&limiter, &installer, &other_app, &plan)
                .await
                .allowed
        );
        assert!(
            installation_limit(&limiter, &other, &app, &plan)
                .await
                .allowed
        );
    }
}
