//! Attempts counted over a sliding window, for brute-force protection
//! (failed sign-ins): each key (an account, a client address, …) allows at
//! most `max` attempts within the window.
//!
//! An attempt is *reserved* before the work it guards (checking a
//! password), so that attempts running in parallel count against each
//! other: of 20 guesses sent at once against a limit of 5, five run and
//! fifteen are refused. The caller then either keeps the reservation (the
//! attempt failed: it counts for the window) or gives it back (it
//! succeeded: only failures count), optionally clearing whole keys.
//!
//! With Redis the windows live there (a sorted set of reservations per key,
//! scored on Redis's clock; one Lua script checks and reserves every key of
//! an attempt at once), so every instance shares them. Without Redis, or
//! while the breaker is open, they live in this process's memory.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::Script;

use crate::shared::SharedStore;

/// Keys kept in memory before stale ones are swept, to bound memory.
const SWEEP_ABOVE: usize = 10_000;

/// Checks every key (removing reservations that left the window), and when
/// none is full adds the reservation ARGV[2] to each. ARGV[1]: the window
/// in microseconds; ARGV[2 + i]: the most reservations KEYS[i] may hold.
/// Returns {1, 0} when reserved, {0, retry_after_micros} when refused (the
/// time until every full key has room again).
const RESERVE_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local retry = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local max = tonumber(ARGV[i + 2])
  local count = redis.call('ZCARD', key)
  if count >= max then
    local freeing = redis.call('ZRANGE', key, count - max, count - max, 'WITHSCORES')
    local wait = math.max(1, tonumber(freeing[2]) + window - now)
    if wait > retry then retry = wait end
  end
end
if retry > 0 then
  return {0, retry}
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
end
return {1, 0}
"#;

/// Gives back the reservation ARGV[1] of each key; ARGV[1 + i] = '1'
/// clears KEYS[i] altogether.
const GIVE_BACK_SCRIPT: &str = r#"
for i, key in ipairs(KEYS) do
  if ARGV[i + 1] == '1' then
    redis.call('DEL', key)
  else
    redis.call('ZREM', key, ARGV[1])
  end
end
return 1
"#;

/// A reserved attempt: keep it (drop it) when the attempt failed, or hand
/// it to [`AttemptWindow::give_back`] when it succeeded.
#[derive(Debug)]
#[must_use = "an attempt is given back on success, or dropped to count it"]
pub struct Reservation {
    keys: Vec<String>,
    id: u64,
    /// Its member in Redis's sorted sets.
    member: String,
    /// Where it was made: Redis, or this process's memory.
    in_redis: bool,
}

/// Sliding windows of attempts per key; see the module's documentation.
pub struct AttemptWindow {
    window: Duration,
    local: Mutex<HashMap<String, VecDeque<(u64, Instant)>>>,
    shared: Option<SharedStore>,
    reserve_script: Script,
    give_back_script: Script,
    /// Tells this process's reservations apart from other instances' in
    /// Redis (the start time in nanoseconds and the process id).
    instance: String,
    next_id: AtomicU64,
}

impl AttemptWindow {
    /// Windows of `window`, in Redis when `shared` is given.
    pub fn new(window: Duration, shared: Option<SharedStore>) -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos();
        Self {
            window: window.max(Duration::from_millis(1)),
            local: Mutex::new(HashMap::new()),
            shared,
            reserve_script: Script::new(RESERVE_SCRIPT),
            give_back_script: Script::new(GIVE_BACK_SCRIPT),
            instance: format!("{started:x}-{:x}", std::process::id()),
            next_id: AtomicU64::new(1),
        }
    }

    /// Reserves one attempt on every key of `limits` (key, most attempts in
    /// the window) at once, or none: `Err(retry_after)` when a key is full.
    pub async fn reserve(&self, limits: &[(&str, u32)]) -> Result<Reservation, Duration> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let keys: Vec<String> = limits.iter().map(|(key, _)| key.to_string()).collect();
        if let Some(shared) = &self.shared {
            if let Some(reserved) = self.reserve_shared(shared, limits, id).await {
                return reserved.map(|()| Reservation {
                    keys,
                    id,
                    member: self.member(id),
                    in_redis: true,
                });
            }
        }
        self.reserve_local(limits, id, Instant::now())?;
        Ok(Reservation {
            keys,
            id,
            member: String::new(),
            in_redis: false,
        })
    }

    /// Takes back a reservation (the attempt succeeded) and clears the
    /// keys in `clear` altogether.
    pub async fn give_back(&self, reservation: Reservation, clear: &[&str]) {
        if reservation.in_redis {
            if let Some(shared) = &self.shared {
                let mut invocation = self.give_back_script.prepare_invoke();
                invocation.arg(&reservation.member);
                for key in &reservation.keys {
                    invocation.key(redis_key(key));
                    invocation.arg(if clear.contains(&key.as_str()) {
                        "1"
                    } else {
                        "0"
                    });
                }
                let _: Option<i64> = shared
                    .call("EVALSHA", |mut connection| async move {
                        invocation.invoke_async(&mut connection).await
                    })
                    .await;
            }
        } else if let Some(shared) = &self.shared {
            // Made in memory during an outage: Redis may hold the keys'
            // earlier attempts, which the success clears all the same.
            let keys: Vec<String> = clear.iter().map(|key| redis_key(key)).collect();
            if !keys.is_empty() {
                let _: Option<i64> = shared
                    .call("DEL", |mut connection| async move {
                        redis::cmd("DEL")
                            .arg(keys)
                            .query_async::<i64>(&mut connection)
                            .await
                    })
                    .await;
            }
        }
        // Memory too: reservations made there during an outage.
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        for key in &reservation.keys {
            if clear.contains(&key.as_str()) {
                local.remove(key);
            } else if let Some(times) = local.get_mut(key) {
                times.retain(|(id, _)| *id != reservation.id);
            }
        }
    }

    /// Forgets every attempt of `key` (in Redis and in memory).
    pub async fn clear(&self, key: &str) {
        if let Some(shared) = &self.shared {
            let key = redis_key(key);
            let _: Option<i64> = shared
                .call("DEL", |mut connection| async move {
                    redis::cmd("DEL")
                        .arg(key)
                        .query_async::<i64>(&mut connection)
                        .await
                })
                .await;
        }
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local.remove(key);
    }

    fn member(&self, id: u64) -> String {
        format!("{}:{id}", self.instance)
    }

    /// `None` when Redis is unavailable.
    async fn reserve_shared(
        &self,
        shared: &SharedStore,
        limits: &[(&str, u32)],
        id: u64,
    ) -> Option<Result<(), Duration>> {
        let window = i64::try_from(self.window.as_micros()).unwrap_or(i64::MAX);
        let mut invocation = self.reserve_script.prepare_invoke();
        invocation.arg(window).arg(self.member(id));
        for (key, max) in limits {
            invocation.key(redis_key(key)).arg(*max);
        }
        let values: Vec<i64> = shared
            .call("EVALSHA", |mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        match values.as_slice() {
            [1, _] => Some(Ok(())),
            [_, retry] => Some(Err(Duration::from_micros((*retry).max(1) as u64))),
            _ => None,
        }
    }

    fn reserve_local(&self, limits: &[(&str, u32)], id: u64, now: Instant) -> Result<(), Duration> {
        let window = self.window;
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if local.len() > SWEEP_ABOVE {
            local.retain(|_, times| {
                expire(times, now, window);
                !times.is_empty()
            });
        }
        let mut retry = Duration::ZERO;
        for (key, max) in limits {
            let Some(times) = local.get_mut(*key) else {
                continue;
            };
            expire(times, now, window);
            let max = *max as usize;
            if times.len() >= max {
                // The reservation whose leaving makes room.
                let freeing = times.get(times.len() - max).map_or(now, |(_, at)| *at);
                let wait = (freeing + window).saturating_duration_since(now);
                retry = retry.max(wait.max(Duration::from_micros(1)));
            }
        }
        if retry > Duration::ZERO {
            return Err(retry);
        }
        for (key, _) in limits {
            local
                .entry(key.to_string())
                .or_default()
                .push_back((id, now));
        }
        Ok(())
    }
}

fn redis_key(key: &str) -> String {
    format!("landlord:attempts:{key}")
}

fn expire(times: &mut VecDeque<(u64, Instant)>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|(_, at)| now.duration_since(*at) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_count_before_the_attempt_ends() {
        let window = AttemptWindow::new(Duration::from_secs(60), None);
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(window.reserve(&[("a", 3)]).await.expect("room"));
        }
        // Three attempts in flight: a fourth is refused before any ended.
        let retry = window.reserve(&[("a", 3)]).await.unwrap_err();
        assert!(retry > Duration::from_secs(59), "{retry:?}");
        assert!(window.reserve(&[("b", 3)]).await.is_ok(), "keys are apart");
    }

    #[tokio::test]
    async fn a_refusal_on_one_key_reserves_on_none() {
        let window = AttemptWindow::new(Duration::from_secs(60), None);
        let _full = window.reserve(&[("pair", 1)]).await.expect("room");
        assert!(window.reserve(&[("ip", 5), ("pair", 1)]).await.is_err());
        // The address's count did not move: five still fit.
        for _ in 0..5 {
            let _kept = window.reserve(&[("ip", 5)]).await.expect("room");
        }
        assert!(window.reserve(&[("ip", 5)]).await.is_err());
    }

    #[tokio::test]
    async fn a_given_back_attempt_frees_its_place_and_clears_what_is_asked() {
        let window = AttemptWindow::new(Duration::from_secs(60), None);
        let failed = window.reserve(&[("ip", 2), ("account", 2)]).await;
        drop(failed.expect("room"));
        let succeeded = window.reserve(&[("ip", 2), ("account", 2)]).await;
        window
            .give_back(succeeded.expect("room"), &["account"])
            .await;
        // The address keeps its failure only; the account starts afresh.
        let _one = window.reserve(&[("ip", 2)]).await.expect("room");
        assert!(window.reserve(&[("ip", 2)]).await.is_err());
        let _a = window.reserve(&[("account", 2)]).await.expect("room");
        let _b = window.reserve(&[("account", 2)]).await.expect("room");
        window.clear("account").await;
        assert!(window.reserve(&[("account", 2)]).await.is_ok());
    }

    #[tokio::test]
    async fn attempts_leave_the_window() {
        let window = AttemptWindow::new(Duration::from_secs(60), None);
        let start = Instant::now();
        window.reserve_local(&[("a", 2)], 1, start).unwrap();
        window
            .reserve_local(&[("a", 2)], 2, start + Duration::from_secs(30))
            .unwrap();
        let retry = window
            .reserve_local(&[("a", 2)], 3, start + Duration::from_secs(40))
            .unwrap_err();
        assert_eq!(retry, Duration::from_secs(20), "until the oldest leaves");
        assert!(window
            .reserve_local(&[("a", 2)], 4, start + Duration::from_secs(60))
            .is_ok());
    }
}
