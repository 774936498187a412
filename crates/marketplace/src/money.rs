//! The marketplace's money rule: integer minor units only.
//!
//! A vendor order's platform fee is its subtotal × the fee's basis points
//! ÷ 10,000, rounded half up to the minor unit; the vendor's earnings are
//! the rest. So fee + earnings = subtotal exactly, and the order's total is
//! the sum of its vendor orders' subtotals.

/// The fee on `subtotal` at `bps` basis points, rounded half up.
pub fn fee(subtotal: i64, bps: u32) -> i64 {
    // i128: a subtotal near i64::MAX times 10,000 must not overflow.
    let scaled = i128::from(subtotal) * i128::from(bps) + 5_000;
    (scaled / 10_000) as i64
}

/// `(fee, earnings)` of a vendor order.
pub fn split(subtotal: i64, bps: u32) -> (i64, i64) {
    let fee = fee(subtotal, bps);
    (fee, subtotal - fee)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_example_splits_exactly() {
        // The worked example: $60 and $40 at 10 % → $6 + $54 and $4 + $36.
        assert_eq!(split(6_000, 1_000), (600, 5_400));
        assert_eq!(split(4_000, 1_000), (400, 3_600));
    }

    #[test]
    fn odd_amounts_round_half_up_and_add_up() {
        assert_eq!(fee(1_005, 1_000), 101); // 100.5 → 101
        assert_eq!(fee(1_004, 1_000), 100); // 100.4 → 100
        assert_eq!(fee(333, 1_250), 42); // 41.625 → 42
        assert_eq!(fee(1, 1_000), 0); // 0.1 → 0
        assert_eq!(fee(5, 1_000), 1); // 0.5 → 1
        for subtotal in [1, 7, 99, 1_005, 12_345, 999_999] {
            for bps in [0, 1, 250, 1_000, 3_333, 10_000] {
                let (fee, earnings) = split(subtotal, bps);
                assert_eq!(fee + earnings, subtotal);
                assert!((0..=subtotal).contains(&fee));
            }
        }
    }

    #[test]
    fn no_overflow_at_the_edge() {
        assert_eq!(fee(i64::MAX, 10_000), i64::MAX);
        assert_eq!(fee(i64::MAX, 0), 0);
    }
}
