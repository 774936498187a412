//! Limits kept in Redis, shared by every instance.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::Mutex;

use crate::gcra::interval_over;
use crate::lease::{QuotaGrant, RateGiveBack, RateGrant, QUOTA_LEASE_SHARE};

/// Longest a limit decision waits for Redis before falling back.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// A GCRA lease in one atomic step, on Redis's clock (so instances with
/// skewed clocks agree): first gives back the unused cells of this
/// instance's previous lease (ARGV[4]: cells × interval, its last cell
/// ending at ARGV[5]) —
/// only the part still ahead of the clock —, then grants up to ARGV[3]
/// cells, fewer when the budget has less room, never more. ARGV[3] = 0
/// only gives back. Returns {granted, remaining, reset_after, retry_after,
/// tat} (microseconds).
const RATE_LEASE_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local back = tonumber(ARGV[4])
local back_end = tonumber(ARGV[5])
local stored = redis.call('GET', KEYS[1])
local tat = tonumber(stored or now)
if back > 0 and stored then
  local give = math.min(back, back_end - now)
  if give > 0 then tat = tat - give end
end
if tat < now then tat = now end
local room = math.floor((period - (tat - now)) / interval)
local granted = math.max(0, math.min(want, room))
local new_tat = tat + granted * interval
if granted > 0 or back > 0 then
  if new_tat > now then
    redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
  else
    redis.call('DEL', KEYS[1])
  end
end
if granted < 1 then
  return {0, 0, tat - now, math.max(0, tat + interval - now - period), new_tat}
end
return {granted, room - granted, new_tat - now, 0, new_tat}
"#;

/// A monthly quota lease: gives back ARGV[4] unused requests of this
/// instance's previous lease, initializes the counter from the database's
/// count (ARGV[1], unless negative) when absent, then adds up to ARGV[3]
/// requests: with a cap (ARGV[2] ≥ 0) at most a hundredth of what is left
/// and at least one, none once the cap is reached. Returns {granted, count}.
const QUOTA_LEASE_SCRIPT: &str = r#"
local initial = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local back = tonumber(ARGV[4])
local share = tonumber(ARGV[5])
if back > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DECRBY', KEYS[1], back)
end
if initial >= 0 then
  redis.call('SET', KEYS[1], initial, 'NX', 'EX', 3456000)
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if want < 1 then
  return {0, used}
end
local grant = want
if cap >= 0 then
  local left = cap - used
  if left < 1 then
    return {0, used}
  end
  grant = math.min(want, math.max(1, math.floor(left / share)))
end
return {grant, redis.call('INCRBY', KEYS[1], grant)}
"#;

/// A Redis connection that reconnects by itself, and the fallback policy.
pub struct SharedStore {
    client: redis::Client,
    connection: Mutex<Option<ConnectionManager>>,
    rate_lease: Script,
    quota_lease: Script,
    /// Unix seconds of the last fallback warning, to log it at most every 10 s.
    last_warning: AtomicI64,
}

impl SharedStore {
    pub fn new(client: redis::Client) -> Self {
        Self {
            client,
            connection: Mutex::new(None),
            rate_lease: Script::new(RATE_LEASE_SCRIPT),
            quota_lease: Script::new(QUOTA_LEASE_SCRIPT),
            last_warning: AtomicI64::new(0),
        }
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Some(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_TIMEOUT)
            .set_response_timeout(REDIS_TIMEOUT)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        match tokio::time::timeout(
            REDIS_TIMEOUT * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        {
            Ok(Ok(connection)) => {
                *slot = Some(connection.clone());
                Some(connection)
            }
            Ok(Err(error)) => {
                self.warn(&error.to_string());
                None
            }
            Err(_) => {
                self.warn("connection timed out");
                None
            }
        }
    }

    fn warn(&self, error: &str) {
        let now = chrono::Utc::now().timestamp();
        let last = self.last_warning.load(Ordering::Relaxed);
        if now - last >= 10
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                error,
                "Redis is not answering: limits and quotas fall back to this instance's memory"
            );
        }
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        let mut connection = self.connection().await?;
        match tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async::<T>(&mut connection))
            .await
        {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                self.warn(&error.to_string());
                None
            }
            Err(_) => {
                self.warn("command timed out");
                None
            }
        }
    }

    /// Takes up to `want` cells of `key`'s budget of `limit` per `period`
    /// microseconds, first giving back `give_back`; `None` when Redis is
    /// unavailable.
    pub(crate) async fn lease_cells(
        &self,
        key: &str,
        limit: u32,
        period: i64,
        want: u32,
        give_back: Option<RateGiveBack>,
    ) -> Option<RateGrant> {
        let period = period.max(1);
        let interval = interval_over(limit, period);
        let give_back = give_back.unwrap_or(RateGiveBack { micros: 0, end: 0 });
        let mut invocation = self.rate_lease.prepare_invoke();
        invocation
            .key(format!("landlord:rate:{key}"))
            .arg(interval)
            .arg(period)
            .arg(want)
            .arg(give_back.micros)
            .arg(give_back.end);
        let values: Vec<i64> = self.run(invocation).await?;
        let micros = |m: i64| Duration::from_micros(m.max(0) as u64);
        match values.as_slice() {
            [granted, remaining, reset, retry, end] => Some(RateGrant {
                granted: (*granted).clamp(0, i64::from(u32::MAX)) as u32,
                remaining: (*remaining).clamp(0, i64::from(u32::MAX)) as u32,
                reset_after: micros(*reset),
                retry_after: micros(*retry),
                end: *end,
            }),
            _ => None,
        }
    }

    /// Adds up to `want` requests to `key`'s quota counter (`cap < 0`: no
    /// cap; `initial < 0`: do not initialize), first giving back
    /// `give_back`; `None` when Redis is unavailable.
    pub(crate) async fn lease_quota(
        &self,
        key: &str,
        initial: i64,
        cap: i64,
        want: u32,
        give_back: u32,
    ) -> Option<QuotaGrant> {
        let mut invocation = self.quota_lease.prepare_invoke();
        invocation
            .key(format!("landlord:quota:{key}"))
            .arg(initial)
            .arg(cap)
            .arg(want)
            .arg(give_back)
            .arg(QUOTA_LEASE_SHARE);
        let values: Vec<i64> = self.run(invocation).await?;
        match values.as_slice() {
            [granted, count] => Some(QuotaGrant {
                granted: (*granted).clamp(0, i64::from(u32::MAX)) as u32,
                count: *count,
            }),
            _ => None,
        }
    }

    /// The counter's value, or `None` when absent or Redis is unavailable.
    pub async fn quota_used(&self, key: &str) -> Option<i64> {
        let mut connection = self.connection().await?;
        let mut command = redis::cmd("GET");
        command.arg(format!("landlord:quota:{key}"));
        let get = command.query_async::<Option<i64>>(&mut connection);
        match tokio::time::timeout(REDIS_TIMEOUT, get).await {
            Ok(Ok(value)) => value,
            _ => None,
        }
    }
}
