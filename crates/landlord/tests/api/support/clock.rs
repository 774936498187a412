//! Wall-clock readings in the units the database stores.

pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// Now, in Unix milliseconds (how rows store time).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_millis() as i64
}

/// Now, in Unix seconds (how webhook signatures carry time).
pub fn now_secs() -> i64 {
    now_ms() / 1000
}
