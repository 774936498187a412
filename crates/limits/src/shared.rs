//! Limits kept in Redis, shared by every instance.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::Mutex;

use crate::breaker::{Breaker, Transition, PROBE_INTERVAL};
use crate::gcra::interval_over;
use crate::lease::{QuotaGrant, RateGiveBack, RateGrant, QUOTA_LEASE_SHARE};

/// Longest a limit decision waits for Redis before falling back (and the
/// breaker opens).
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

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

/// A Redis connection that reconnects by itself, behind a circuit breaker
/// (see [`crate::breaker`]). Clones share the connection and the breaker:
/// every limit of an instance goes down and comes back together.
#[derive(Clone)]
pub struct SharedStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    connection: Mutex<Option<ConnectionManager>>,
    rate_lease: Script,
    quota_lease: Script,
    breaker: Breaker,
    /// The `redis` label of the breaker's gauge: the server's address.
    label: String,
    /// Calls sent to Redis (tests show that an open breaker sends none).
    calls: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.breaker.is_open() {
            breaker_gauge(&self.label).decrement(1.0);
        }
    }
}

/// `redis_breaker_open{redis}`: how many of this process's breakers around
/// that Redis are open (one store per instance: 1 open, 0 closed).
fn breaker_gauge(label: &str) -> metrics::Gauge {
    metrics::gauge!("redis_breaker_open", "redis" => label.to_string())
}

impl SharedStore {
    /// A store on `client`. Inside a Tokio runtime, starts the probe that
    /// closes the breaker when Redis answers again (it ends with the last
    /// clone of the store).
    pub fn new(client: redis::Client) -> Self {
        let label = client.get_connection_info().addr.to_string();
        // The series exists (at 0) from the start, not only after an outage.
        breaker_gauge(&label).increment(0.0);
        let store = Self {
            inner: Arc::new(Inner {
                client,
                connection: Mutex::new(None),
                rate_lease: Script::new(RATE_LEASE_SCRIPT),
                quota_lease: Script::new(QUOTA_LEASE_SCRIPT),
                breaker: Breaker::new(),
                label,
                calls: AtomicU64::new(0),
            }),
        };
        store.spawn_probe();
        store
    }

    fn spawn_probe(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(PROBE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                if inner.breaker.is_open() {
                    SharedStore { inner }.probe().await;
                }
            }
        });
    }

    /// Whether the breaker is open: decisions are this instance's alone.
    pub fn breaker_open(&self) -> bool {
        self.inner.breaker.is_open()
    }

    /// Calls sent to Redis so far.
    #[cfg(test)]
    pub(crate) fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// Pings Redis (on a new connection when the last one failed) and, when
    /// it answers, closes the breaker. Returns whether Redis answered.
    pub(crate) async fn probe(&self) -> bool {
        let mut slot = self.inner.connection.lock().await;
        let connection = match slot.as_ref() {
            Some(connection) => Some(connection.clone()),
            None => self.connect().await.ok(),
        };
        let answered = match connection {
            Some(mut connection) => {
                let command = redis::cmd("PING");
                let ping = command.query_async::<String>(&mut connection);
                match tokio::time::timeout(REDIS_TIMEOUT, ping).await {
                    Ok(Ok(_)) => {
                        *slot = Some(connection);
                        true
                    }
                    _ => false,
                }
            }
            None => false,
        };
        if !answered {
            *slot = None;
            return false;
        }
        drop(slot);
        if self.inner.breaker.probe_answered() == Transition::Closed {
            breaker_gauge(&self.inner.label).decrement(1.0);
            tracing::warn!(
                redis = %self.inner.label,
                "Redis answers again: limits and quotas are shared between instances again"
            );
        }
        true
    }

    async fn connect(&self) -> redis::RedisResult<ConnectionManager> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_TIMEOUT)
            .set_response_timeout(REDIS_TIMEOUT)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        match tokio::time::timeout(
            REDIS_TIMEOUT * 2,
            ConnectionManager::new_with_config(self.inner.client.clone(), config),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "connection timed out",
            ))),
        }
    }

    /// The connection for a call admitted at `epoch`, made on first use.
    async fn connection(&self, epoch: u64) -> Option<ConnectionManager> {
        let mut slot = self.inner.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Some(connection.clone());
        }
        // Calls that queued behind a failed connection attempt fall back at
        // once instead of trying again.
        self.inner.breaker.admit()?;
        match self.connect().await {
            Ok(connection) => {
                *slot = Some(connection.clone());
                Some(connection)
            }
            Err(error) => {
                drop(slot);
                self.failed(epoch, &error.to_string()).await;
                None
            }
        }
    }

    /// A call admitted at `epoch` failed: opens the breaker (logged once
    /// per outage) and drops the connection, so the probe starts afresh.
    async fn failed(&self, epoch: u64, error: &str) {
        if self.inner.breaker.failed(epoch) != Transition::Opened {
            return;
        }
        breaker_gauge(&self.inner.label).increment(1.0);
        tracing::warn!(
            redis = %self.inner.label,
            error,
            "Redis is not answering: limits and quotas fall back to this instance's memory \
             until it answers again (probed every second)"
        );
        *self.inner.connection.lock().await = None;
    }

    /// Runs `call` on Redis within [`REDIS_TIMEOUT`] unless the breaker is
    /// open; `None` (decide from memory) when it is open, or the call fails
    /// or times out (which opens it). `operation` names the command in the
    /// call's span (`EVALSHA`, `GET`, `DEL`) when traces are on.
    pub(crate) async fn call<T, F, Fut>(&self, operation: &'static str, call: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let epoch = self.inner.breaker.admit()?;
        let connection = self.connection(epoch).await?;
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let attempt = tokio::time::timeout(REDIS_TIMEOUT, call(connection));
        let outcome = landlord_core::telemetry::traced_call("redis", operation, attempt, |o| {
            !matches!(o, Ok(Ok(_)))
        });
        match outcome.await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                self.failed(epoch, &error.to_string()).await;
                None
            }
            Err(_) => {
                self.failed(epoch, "command timed out").await;
                None
            }
        }
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        self.call("EVALSHA", |mut connection| async move {
            invocation.invoke_async::<T>(&mut connection).await
        })
        .await
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
        let mut invocation = self.inner.rate_lease.prepare_invoke();
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
        let mut invocation = self.inner.quota_lease.prepare_invoke();
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
        let key = format!("landlord:quota:{key}");
        self.call("GET", |mut connection| async move {
            redis::cmd("GET")
                .arg(key)
                .query_async::<Option<i64>>(&mut connection)
                .await
        })
        .await
        .flatten()
    }
}
