//! Waiting for what the server does in the background (mail, jobs, usage
//! flushes) without sleeping a fixed time.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// How long to wait between two looks.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Calls `probe` until it answers `Some`, and returns that value; fails the
/// test, saying what was awaited, when `within` passes first.
pub async fn eventually<T>(
    what: impl Display,
    within: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {within:?} waiting for {what}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
