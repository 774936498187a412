//! Which snapshots retention deletes: every snapshot younger than
//! `backup.keep_all_hours` stays; among the older ones up to
//! `backup.keep_daily_days` old, the newest of each UTC day stays; the
//! rest go, and so does everything older. The newest snapshot overall is
//! never deleted, however old (a destination is never emptied). Pure: the
//! schedule lists the destination, asks, and deletes.

use std::time::Duration;

use landlord_core::Timestamp;

use crate::config::BackupConfig;

const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// How long snapshots are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Every snapshot younger than this stays.
    pub keep_all: Duration,
    /// Older ones: the newest of each UTC day up to this many days old.
    pub keep_daily_days: u64,
}

impl Retention {
    /// `backup.keep_all_hours` and `backup.keep_daily_days`.
    pub fn of(config: &BackupConfig) -> Self {
        Self {
            keep_all: Duration::from_secs(config.keep_all_hours.saturating_mul(3600)),
            keep_daily_days: config.keep_daily_days,
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The positions in `created` (the snapshots' creation times, in any
/// order) of the snapshots to delete at `now`, ascending.
pub fn to_delete(created: &[Timestamp], now: Timestamp, retention: Retention) -> Vec<usize> {
    let Some(newest) = (0..created.len()).max_by_key(|&i| (created[i].millis(), i)) else {
        return Vec::new();
    };
    let keep_all = millis(retention.keep_all);
    let keep_daily = i64::try_from(retention.keep_daily_days)
        .unwrap_or(i64::MAX)
        .saturating_mul(DAY_MILLIS);
    // The newest older snapshot of each UTC day within the daily window.
    let mut newest_of_day: std::collections::BTreeMap<i64, usize> = Default::default();
    for (i, at) in created.iter().enumerate() {
        let age = now.millis().saturating_sub(at.millis());
        if age >= keep_all && age <= keep_daily {
            let day = at.millis().div_euclid(DAY_MILLIS);
            newest_of_day
                .entry(day)
                .and_modify(|kept| {
                    if (at.millis(), i) > (created[*kept].millis(), *kept) {
                        *kept = i;
                    }
                })
                .or_insert(i);
        }
    }
    (0..created.len())
        .filter(|&i| {
            let age = now.millis().saturating_sub(created[i].millis());
            let kept = i == newest
                || age < keep_all
                || (age <= keep_daily
                    && newest_of_day.get(&created[i].millis().div_euclid(DAY_MILLIS)) == Some(&i));
            !kept
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 60 * 60 * 1000;
    const MINUTE: i64 = 60 * 1000;
    /// 2026-12-06T00:00:00Z.
    const DEC_6: i64 = 1_796_515_200_000;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis)
    }

    fn default_retention() -> Retention {
        Retention::of(&BackupConfig::default())
    }

    /// The deleted times, for readable expectations.
    fn deleted(created: &[i64], now: i64, retention: Retention) -> Vec<i64> {
        let times: Vec<Timestamp> = created.iter().copied().map(at).collect();
        to_delete(&times, at(now), retention)
            .into_iter()
            .map(|i| created[i])
            .collect()
    }

    #[test]
    fn the_anchor_is_midnight_utc() {
        assert_eq!(
            crate::manifest::snapshot_name(at(DEC_6)),
            "landlord-20261206T000000.000Z"
        );
    }

    #[test]
    fn the_defaults_keep_a_day_of_everything_then_one_a_day_for_thirty_days() {
        let retention = default_retention();
        assert_eq!(retention.keep_all, Duration::from_secs(24 * 3600));
        assert_eq!(retention.keep_daily_days, 30);
        // Now: 2026-12-06 12:00 UTC.
        let now = DEC_6 + 12 * HOUR;
        let created = [
            // The last 24 hours: all kept, also yesterday's.
            now - 15 * MINUTE,
            now - 30 * MINUTE,
            now - 23 * HOUR,
            // Dec 5, older than 24 h: 11:00 is the newest of the older
            // ones that day; 02:00 goes.
            DEC_6 - 13 * HOUR,
            DEC_6 - 22 * HOUR,
            // Dec 3: 23:59:59.999 stays, 00:00 goes (same UTC day).
            DEC_6 - 2 * 24 * HOUR - 1,
            DEC_6 - 3 * 24 * HOUR,
            // Dec 2 00:00 exactly: a day of its own, kept.
            DEC_6 - 4 * 24 * HOUR,
            // Exactly 30 days old: kept; a millisecond older: deleted.
            now - 30 * 24 * HOUR,
            now - 30 * 24 * HOUR - 1,
            // Long gone.
            now - 90 * 24 * HOUR,
        ];
        assert_eq!(
            deleted(&created, now, retention),
            vec![
                DEC_6 - 22 * HOUR,
                DEC_6 - 3 * 24 * HOUR,
                now - 30 * 24 * HOUR - 1,
                now - 90 * 24 * HOUR,
            ]
        );
    }

    #[test]
    fn a_day_straddling_the_keep_all_boundary_keeps_its_young_ones_and_its_newest_older_one() {
        // Now: Dec 6 06:00; the 24 hours reach back to Dec 5 06:00.
        let now = DEC_6 + 6 * HOUR;
        let created = [
            DEC_6 - 17 * HOUR, // Dec 5 07:00: young, kept
            DEC_6 - 18 * HOUR, // Dec 5 06:00: exactly 24 h, the newest older one of Dec 5
            DEC_6 - 19 * HOUR, // Dec 5 05:00: deleted
            DEC_6 - 24 * HOUR, // Dec 5 00:00: deleted
        ];
        assert_eq!(
            deleted(&created, now, default_retention()),
            vec![DEC_6 - 19 * HOUR, DEC_6 - 24 * HOUR]
        );
    }

    #[test]
    fn nothing_to_delete_in_an_empty_destination() {
        assert!(to_delete(&[], at(DEC_6), default_retention()).is_empty());
    }

    #[test]
    fn when_everything_is_too_old_the_newest_stays() {
        let now = DEC_6;
        let created = [
            now - 40 * 24 * HOUR,
            now - 100 * 24 * HOUR,
            now - 35 * 24 * HOUR,
            now - 35 * 24 * HOUR - HOUR,
        ];
        assert_eq!(
            deleted(&created, now, default_retention()),
            vec![
                now - 40 * 24 * HOUR,
                now - 100 * 24 * HOUR,
                now - 35 * 24 * HOUR - HOUR,
            ]
        );
        assert!(deleted(&[now - 400 * 24 * HOUR], now, default_retention()).is_empty());
    }

    #[test]
    fn no_daily_snapshots_and_no_young_window() {
        let now = DEC_6 + 12 * HOUR;
        let created = [now - HOUR, now - 2 * HOUR, now - 25 * HOUR];
        let hours_only = Retention {
            keep_all: Duration::from_secs(3 * 3600),
            keep_daily_days: 0,
        };
        assert_eq!(deleted(&created, now, hours_only), vec![now - 25 * HOUR]);
        let newest_only = Retention {
            keep_all: Duration::ZERO,
            keep_daily_days: 0,
        };
        assert_eq!(
            deleted(&created, now, newest_only),
            vec![now - 2 * HOUR, now - 25 * HOUR]
        );
        // A clock behind the destination's (a snapshot "from the future")
        // is young, not deleted.
        assert_eq!(
            deleted(&[now + HOUR, now + 2 * HOUR, now - HOUR], now, newest_only),
            vec![now - HOUR]
        );
    }
}
