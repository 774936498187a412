//! Leases against a real Redis: a throwaway `redis-server` per test,
//! skipped (reported on stderr) when it is not installed, and required
//! under CI like the API tests' Redis.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::lease::{rate_lease_size, RateGiveBack};
use crate::{QuotaCounter, RateLimiter, SharedStore};

const MINUTE: Duration = Duration::from_secs(60);

struct RedisServer {
    port: u16,
    _child: tokio::process::Child,
}

impl RedisServer {
    async fn start(test: &str) -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        Self::start_on(test, port).await
    }

    /// Kills the server (as an outage would) and waits until it is gone.
    async fn kill(mut self) -> u16 {
        self._child.kill().await.expect("redis-server killed");
        self.port
    }

    async fn start_on(test: &str, port: u16) -> Option<RedisServer> {
        let Some(binary) = find_binary() else {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(!ci, "{test}: Redis is required under CI");
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: redis-server is not installed"
            );
            return None;
        };
        let child = tokio::process::Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(RedisServer {
            port,
            _child: child,
        })
    }

    fn store(&self) -> SharedStore {
        let url = format!("redis://127.0.0.1:{}", self.port);
        SharedStore::new(redis::Client::open(url).expect("a Redis URL"))
    }
}

fn find_binary() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/bin"), "/usr/sbin".into()])
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

/// Checks `attempts` requests of `key` on `limiter` from `tasks` tasks;
/// returns how many were allowed.
async fn hammer(limiter: Arc<RateLimiter>, limit: u32, tasks: usize, attempts: usize) -> usize {
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let limiter = limiter.clone();
        handles.push(tokio::spawn(async move {
            let mut allowed = 0;
            for _ in 0..attempts {
                if limiter.check("org:shared", limit).await.allowed {
                    allowed += 1;
                }
            }
            allowed
        }));
    }
    let mut allowed = 0;
    for handle in handles {
        allowed += handle.await.expect("a hammering task");
    }
    allowed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_leases_never_pass_the_shared_limit() {
    let Some(redis) =
        RedisServer::start("two_instances_on_leases_never_pass_the_shared_limit").await
    else {
        return;
    };
    // 12,000 a minute: one cell every 5 ms, leases of 20 cells.
    let limit = 12_000;
    let lease = rate_lease_size(limit, MINUTE.as_micros() as i64) as usize;
    assert_eq!(lease, 20);
    let first = Arc::new(RateLimiter::new(Some(redis.store())));
    let second = Arc::new(RateLimiter::new(Some(redis.store())));
    let started = Instant::now();
    let (a, b) = tokio::join!(
        hammer(first, limit, 8, 1_000),
        hammer(second, limit, 8, 1_000)
    );
    let elapsed = started.elapsed();
    let allowed = a + b;
    // What GCRA allows over the run: the whole budget, plus what refilled
    // while it lasted. Redis grants no more, and a lease is never used
    // twice.
    let refilled = (elapsed.as_micros() / 5_000) as usize;
    assert!(
        allowed <= limit as usize + refilled + 1,
        "{allowed} allowed in {elapsed:?}"
    );
    // The documented tolerance: at most one lease per instance unused.
    assert!(
        allowed >= limit as usize - 2 * lease,
        "{allowed} allowed in {elapsed:?}"
    );
    assert!(a > 0 && b > 0, "both instances took part: {a} + {b}");
}

#[tokio::test]
async fn unused_cells_given_back_are_free_again_for_everyone() {
    let Some(redis) =
        RedisServer::start("unused_cells_given_back_are_free_again_for_everyone").await
    else {
        return;
    };
    let store = redis.store();
    // 6,000 a minute: a cell every 10 ms, leases of 10 cells.
    let (limit, period) = (6_000, MINUTE.as_micros() as i64);
    let lease = store
        .lease_cells("k", limit, period, 10, None)
        .await
        .expect("Redis answers");
    assert_eq!(lease.granted, 10);
    assert_eq!(lease.remaining, limit - 10);
    // One cell used, nine given back with the next lease.
    let give_back = RateGiveBack {
        micros: 9 * 10_000,
        end: lease.end,
    };
    let everything = store
        .lease_cells("k", limit, period, limit, Some(give_back))
        .await
        .expect("Redis answers");
    assert!(
        everything.granted >= limit - 1,
        "only the used cell is missing: {everything:?}"
    );
    // Giving back cells whose time has passed frees nothing: the budget
    // stays spent.
    let stale = RateGiveBack {
        micros: 1_000_000,
        end: 0,
    };
    let refused = store
        .lease_cells("k", limit, period, 10, Some(stale))
        .await
        .expect("Redis answers");
    assert!(refused.granted <= 1, "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_stop_exactly_at_a_hard_cap() {
    let Some(redis) = RedisServer::start("two_instances_stop_exactly_at_a_hard_cap").await else {
        return;
    };
    let first = Arc::new(QuotaCounter::new(Some(redis.store())));
    let second = Arc::new(QuotaCounter::new(Some(redis.store())));
    let mut handles = Vec::new();
    for n in 0..8 {
        let quota = if n % 2 == 0 { &first } else { &second }.clone();
        handles.push(tokio::spawn(async move {
            let (mut ok, mut refused_at) = (0, Vec::new());
            for _ in 0..200 {
                match quota.reserve("org:2026-11", 0, Some(1_000)).await {
                    Ok(_) => ok += 1,
                    Err(used) => refused_at.push(used),
                }
            }
            (ok, refused_at)
        }));
    }
    let mut ok = 0;
    for handle in handles {
        let (allowed, refused_at) = handle.await.expect("a task");
        ok += allowed;
        assert!(
            refused_at.iter().all(|used| *used == 1_000),
            "{refused_at:?}"
        );
    }
    assert_eq!(ok, 1_000, "the cap is exact across instances");
    assert_eq!(first.used("org:2026-11").await, Some(1_000));
    assert!(first.known_locally("org:2026-11"));
}

#[tokio::test]
async fn a_quota_lease_reports_used_counting_only_requests_made() {
    let Some(redis) =
        RedisServer::start("a_quota_lease_reports_used_counting_only_requests_made").await
    else {
        return;
    };
    let quota = QuotaCounter::new(Some(redis.store()));
    for expected in 1..=5 {
        assert_eq!(quota.reserve("o:2026-11", 0, None).await, Ok(expected));
    }
    assert_eq!(quota.used("o:2026-11").await, Some(5));
    // A second instance starts above what the first holds, never below
    // what was used.
    let other = QuotaCounter::new(Some(redis.store()));
    let theirs = other.reserve("o:2026-11", 0, None).await;
    assert!(theirs.is_ok_and(|used| used > 5), "{theirs:?}");
}

#[tokio::test]
async fn without_redis_decisions_fall_back_to_memory() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    // Nothing listens there.
    let url = format!("redis://127.0.0.1:{port}");
    let store = || {
        Some(SharedStore::new(
            redis::Client::open(url.as_str()).expect("a URL"),
        ))
    };
    let limiter = RateLimiter::new(store());
    for limit in [10, 60_000] {
        let decision = limiter.check(&format!("org-{limit}"), limit).await;
        assert!(
            decision.allowed && decision.remaining == limit - 1,
            "{decision:?}"
        );
    }
    let quota = QuotaCounter::new(store());
    assert_eq!(quota.reserve("o:2026-11", 41, Some(1_000)).await, Ok(42));
}

#[tokio::test]
async fn an_outage_opens_the_breaker_and_a_probe_closes_it() {
    let test = "an_outage_opens_the_breaker_and_a_probe_closes_it";
    let Some(redis) = RedisServer::start(test).await else {
        return;
    };
    let store = redis.store();
    let limiter = RateLimiter::new(Some(store.clone()));
    let quota = QuotaCounter::new(Some(store.clone()));
    assert!(limiter.check("k", 10).await.allowed);
    assert_eq!(quota.reserve("o:2026-11", 0, None).await, Ok(1));
    assert!(!store.breaker_open());
    let before = store.calls();
    assert!(before >= 2, "both went to Redis");

    // Redis goes away: the first call finds out and opens the breaker…
    let port = redis.kill().await;
    let fallback = limiter.check("k", 10).await;
    assert!(fallback.allowed, "served from memory");
    assert!(store.breaker_open());
    // …and from then on nothing is sent to Redis: every limit of the store
    // decides from memory.
    let failed_at = store.calls();
    for _ in 0..20 {
        limiter.check("k", 10).await;
        limiter.check("big", 600_000).await;
        assert!(quota.reserve("o:2026-11", 0, None).await.is_ok());
    }
    let window = crate::AttemptWindow::new(MINUTE, Some(store.clone()));
    assert!(window.reserve(&[("ip", 3)]).await.is_ok());
    assert_eq!(store.calls(), failed_at, "the open breaker sent nothing");
    assert!(!limiter.check("k", 10).await.allowed, "local limits hold");
    assert!(!store.probe().await, "Redis is still down");
    assert!(store.breaker_open());

    // Back on the same port: the probe closes the breaker, Redis is asked
    // again (its budget is fresh: it lost everything).
    let _redis = RedisServer::start_on(test, port).await.expect("restarted");
    assert!(store.probe().await);
    assert!(!store.breaker_open());
    let shared = limiter.check("k", 10).await;
    assert!(shared.allowed && shared.remaining == 9, "{shared:?}");
    assert!(store.calls() > failed_at);
}

#[tokio::test]
async fn two_instances_share_one_attempt_window() {
    let test = "two_instances_share_one_attempt_window";
    let Some(redis) = RedisServer::start(test).await else {
        return;
    };
    let first = crate::AttemptWindow::new(MINUTE, Some(redis.store()));
    let second = crate::AttemptWindow::new(MINUTE, Some(redis.store()));
    let limits = [("pair", 5), ("ip", 20)];
    let mut reserved = Vec::new();
    for n in 0..10 {
        let window = if n % 2 == 0 { &first } else { &second };
        if let Ok(reservation) = window.reserve(&limits).await {
            reserved.push(reservation);
        }
    }
    assert_eq!(reserved.len(), 5, "one window of 5 for both");
    let retry = first.reserve(&limits).await.unwrap_err();
    assert!(
        retry > Duration::from_secs(59) && retry <= MINUTE,
        "{retry:?}"
    );
    // A success given back on the other instance frees its place for both,
    // and clears what it is asked to.
    let last = reserved.pop().expect("five");
    second.give_back(last, &[]).await;
    let again = first.reserve(&limits).await.expect("a place was freed");
    first.give_back(again, &["pair"]).await;
    for _ in 0..5 {
        reserved.push(second.reserve(&limits).await.expect("pair cleared"));
    }
    assert!(second.reserve(&limits).await.is_err());
    // The address's count kept the four failures and these five: 9 of 20.
    let ip_only = [("ip", 10)];
    assert!(first.reserve(&ip_only).await.is_ok());
    assert!(first.reserve(&ip_only).await.is_err());
}
