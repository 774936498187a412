//! Checks of people's input shared by the features: email addresses and
//! names. Each rule is stated once, here, both as the check the server runs
//! and as the schema the OpenAPI document publishes ([`EmailAddress`],
//! [`Name`]), so that a client generated from the document sends exactly
//! what the server accepts.

use std::sync::LazyLock;

use landlord_core::ApiError;
use regex::Regex;

/// Longest name (organization, person, API key), in characters, after
/// surrounding white space is trimmed.
pub const MAX_NAME: usize = 100;

/// Longest email address, in characters (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;

/// What the server accepts as an email address: a dot-atom local part of
/// at most 64 characters (up to four dot-separated words), `@`, a host name
/// with at least one dot; surrounding spaces, tabs and line breaks are
/// ignored. (Quoted local parts and address literals, which no one signs up
/// with, are refused.) JSON Schema patterns have no length look-ahead, so
/// the local part's length is bounded by the words' lengths.
pub const EMAIL_PATTERN: &str = concat!(
    r"^[ \t\r\n]*",
    // The local part, at most 64 characters: one word, or words joined by
    // dots (two of at most 32, or three or four of at most 16).
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}",
    r"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,32}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,31}",
    r"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,16}(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,15}){2,3})",
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+",
    r"[ \t\r\n]*$"
);

/// A name must hold something besides white space.
pub const NAME_PATTERN: &str = r"\S";

static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(EMAIL_PATTERN).ok());

/// The white space [`EMAIL_PATTERN`] allows around an address.
fn is_email_padding(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Checks an email address against [`EMAIL_PATTERN`] and returns it trimmed
/// and lower-cased.
pub fn normalize_email(field: &str, raw: &str) -> Result<String, ApiError> {
    let email = raw.trim_matches(is_email_padding);
    if email.is_empty() {
        return Err(ApiError::invalid_field(field, "is required"));
    }
    let matches = EMAIL.as_ref().is_some_and(|pattern| pattern.is_match(raw));
    if raw.chars().count() > MAX_EMAIL || !matches {
        return Err(ApiError::invalid_field(
            field,
            "is not a valid email address",
        ));
    }
    let email = email.to_lowercase();
    // The pattern is narrower than what the mailer accepts; checked anyway
    // so that an address the server stores can always be mailed.
    if email.parse::<lettre::Address>().is_err() {
        return Err(ApiError::invalid_field(
            field,
            "is not a valid email address",
        ));
    }
    Ok(email)
}

pub fn optional_name(field: &str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(name) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at most {MAX_NAME} characters long"),
        ));
    }
    Ok(Some(name.to_string()))
}

pub fn required_name(field: &str, raw: &str) -> Result<String, ApiError> {
    optional_name(field, Some(raw))?.ok_or_else(|| ApiError::invalid_field(field, "is required"))
}

/// The OpenAPI schema of an email field (`#[schema(value_type = EmailAddress)]`).
pub struct EmailAddress;

impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .max_length(Some(MAX_EMAIL))
            .pattern(Some(EMAIL_PATTERN))
            .description(Some(
                "An email address; compared without regard to letter case",
            ))
            .examples([serde_json::json!("ada@example.com")])
            .into()
    }
}

impl utoipa::ToSchema for EmailAddress {}

/// The OpenAPI schema of a required name (`#[schema(value_type = Name)]`):
/// surrounding white space is trimmed, at most [`MAX_NAME`] characters
/// remain.
pub struct Name;

impl utoipa::PartialSchema for Name {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_NAME))
            .pattern(Some(NAME_PATTERN))
            .description(Some("Surrounding white space is trimmed"))
            .into()
    }
}

impl utoipa::ToSchema for Name {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_follow_the_published_pattern() {
        for good in [
            "ada@example.com",
            " Ada.Lovelace+x@Mail.Example.COM\n",
            "o'brien@a-b.co",
        ] {
            assert!(normalize_email("email", good).is_ok(), "{good}");
        }
        assert_eq!(
            normalize_email("email", " Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        // Every address the pattern admits can be mailed.
        let word = "a!#$%&'*+/=?^_`{|}~-".repeat(4);
        for edge in [
            format!("{}@example.com", "x".repeat(64)),
            format!("{}.{}@example.com", "x".repeat(32), "y".repeat(31)),
            format!(
                "{}.{}.{}.{}@example.com",
                "a".repeat(16),
                "b".repeat(15),
                "c".repeat(15),
                "d".repeat(15)
            ),
            format!("{}@1.2", &word[..64]),
            "a@0-0.x".to_string(),
            "a@b.c".to_string(),
            format!(
                "a@{}.{}.{}.{}",
                "d".repeat(63),
                "e".repeat(63),
                "f".repeat(63),
                "g".repeat(57)
            ),
        ] {
            assert!(normalize_email("email", &edge).is_ok(), "{edge}");
        }
        for bad in [
            "",
            "ada",
            "ada@localhost",
            "a..b@example.com",
            "ada@-x.com",
            "a b@example.com",
        ] {
            assert!(normalize_email("email", bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(normalize_email("email", &long).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(required_name("name", "  Acme ").unwrap(), "Acme");
        assert!(required_name("name", "   ").is_err());
        assert!(required_name("name", &"x".repeat(MAX_NAME + 1)).is_err());
        assert_eq!(optional_name("name", Some(" ")).unwrap(), None);
    }
}
