//! Checks of people's input shared by the features: email addresses and
//! names.

use landlord_core::ApiError;

const MAX_NAME: usize = 100;

/// Trims, lower-cases and checks an email address.
pub fn normalize_email(field: &str, raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(ApiError::invalid_field(field, "is required"));
    }
    if email.len() > 254 || email.parse::<lettre::Address>().is_err() {
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
