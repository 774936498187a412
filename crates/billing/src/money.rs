//! Money as people read it.

/// `6000, "USD"` → `60.00 USD`. Minor units are hundredths for every
/// currency Landlord bills in (USD, NGN, EUR…).
pub fn format_money(amount: i64, currency: &str) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let amount = amount.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", amount / 100, amount % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_minor_units() {
        assert_eq!(format_money(6000, "USD"), "60.00 USD");
        assert_eq!(format_money(5, "USD"), "0.05 USD");
        assert_eq!(format_money(-150, "NGN"), "-1.50 NGN");
    }
}
