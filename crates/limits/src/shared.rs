//! Limits kept in Redis, shared by every instance.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::Mutex;

use crate::gcra::{interval_over, Decision, PERIOD_MICROS};

/// Longest a limit decision waits for Redis before falling back.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// GCRA in one atomic step, on Redis's clock (so instances with skewed
/// clocks agree). Returns {allowed, remaining, reset_after, retry_after} in
/// microseconds.
const GCRA_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > period then
  return {0, 0, tat - now, new_tat - now - period}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, math.floor((period - (new_tat - now)) / interval), new_tat - now, 0}
"#;

/// Reserves one unit of a monthly quota: initializes the counter from the
/// database's count when absent, then increments it unless that would pass
/// the cap. Returns {allowed, used}.
const QUOTA_SCRIPT: &str = r#"
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', 3456000)
local cap = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]))
if cap >= 0 and used >= cap then
  return {0, used}
end
return {1, redis.call('INCR', KEYS[1])}
"#;

/// A Redis connection that reconnects by itself, and the fallback policy.
pub struct SharedStore {
    client: redis::Client,
    connection: Mutex<Option<ConnectionManager>>,
    gcra: Script,
    quota: Script,
    /// Unix seconds of the last fallback warning, to log it at most every 10 s.
    last_warning: AtomicI64,
}

impl SharedStore {
    pub fn new(client: redis::Client) -> Self {
        Self {
            client,
            connection: Mutex::new(None),
            gcra: Script::new(GCRA_SCRIPT),
            quota: Script::new(QUOTA_SCRIPT),
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

    /// A GCRA decision from Redis, or `None` when Redis is unavailable.
    pub async fn gcra(&self, key: &str, limit: u32) -> Option<Decision> {
        self.gcra_over(key, limit, PERIOD_MICROS).await
    }

    /// [`SharedStore::gcra`] for a budget per `period` microseconds.
    pub async fn gcra_over(&self, key: &str, limit: u32, period: i64) -> Option<Decision> {
        let period = period.max(1);
        let interval = interval_over(limit, period);
        let mut invocation = self.gcra.prepare_invoke();
        invocation
            .key(format!("landlord:rate:{key}"))
            .arg(interval)
            .arg(period);
        let values: Vec<i64> = self.run(invocation).await?;
        let micros = |m: i64| Duration::from_micros(m.max(0) as u64);
        match values.as_slice() {
            [allowed, remaining, reset, retry] => Some(Decision {
                allowed: *allowed == 1,
                limit,
                remaining: (*remaining).max(0) as u32,
                reset_after: micros(*reset),
                retry_after: micros(*retry),
            }),
            _ => None,
        }
    }

    /// Reserves one request of `key`'s quota; `cap < 0` means no cap.
    /// Returns (allowed, used) or `None` when Redis is unavailable.
    pub async fn reserve_quota(&self, key: &str, initial: i64, cap: i64) -> Option<(bool, i64)> {
        let mut invocation = self.quota.prepare_invoke();
        invocation
            .key(format!("landlord:quota:{key}"))
            .arg(initial)
            .arg(cap);
        let values: Vec<i64> = self.run(invocation).await?;
        match values.as_slice() {
            [allowed, used] => Some((*allowed == 1, *used)),
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
