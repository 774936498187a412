//! An app's slug: its subdomain and its name in URLs.

/// Why a slug's shape is refused (the words go to the person).
pub fn check_shape(slug: &str) -> Result<(), &'static str> {
    if !(3..=40).contains(&slug.len()) {
        return Err("must be 3 to 40 characters");
    }
    if !slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("may contain only a-z, 0-9 and -");
    }
    if slug.starts_with('-') || slug.ends_with('-') || slug.contains("--") {
        // A DNS label may not start or end with a hyphen; `--` is how
        // punycode labels (xn--) start.
        return Err("may not start or end with -, nor contain --");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        for ok in ["abc", "my-app-2", &"a".repeat(40)] {
            assert_eq!(check_shape(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(41),
            "My-App",
            "my_app",
            "-app",
            "app-",
            "xn--app",
            "ünï",
        ] {
            assert!(check_shape(bad).is_err(), "{bad}");
        }
    }
}
