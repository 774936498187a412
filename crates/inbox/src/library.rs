//! The organization's canned responses (a reply saved under a short code)
//! and approved templates (name, language, parameters).

use crate::ids::{CannedResponseId, InboxTemplateId};
use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::IdentityState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{self, CannedResponseRow, TemplateRow};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CannedResponseRequest {
    /// Typed after `/` in the reply box: 1 to 32 lowercase letters, digits, `-`, `_`.
    #[schema(pattern = r"^[a-z0-9_-]{1,32}$", example = "thanks")]
    pub short_code: String,
    #[schema(min_length = 1, max_length = 4096)]
    pub content: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CannedResponseView {
    pub id: CannedResponseId,
    pub short_code: String,
    pub content: String,
    pub created_at: Timestamp,
}

impl CannedResponseView {
    pub fn new(row: CannedResponseRow) -> Self {
        Self {
            id: row.id,
            short_code: row.short_code,
            content: row.content,
            created_at: row.created_at,
        }
    }
}

fn short_code(text: &str) -> Result<String, ApiError> {
    let ok = (1..=32).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(text.to_string())
    } else {
        Err(ApiError::invalid_field(
            "short_code",
            "must be 1 to 32 lowercase letters, digits, - or _",
        ))
    }
}

fn content(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 4096 {
        return Err(ApiError::invalid_field(
            field,
            "must be 1 to 4096 characters",
        ));
    }
    Ok(text.to_string())
}

pub async fn add_canned_response(
    state: &IdentityState,
    organization_id: &OrganizationId,
    request: CannedResponseRequest,
) -> Result<CannedResponseView, ApiError> {
    let (code, text) = match (
        short_code(&request.short_code),
        content("content", &request.content),
    ) {
        (Ok(c), Ok(t)) => (c, t),
        (c, t) => return Err(ApiError::all_fields([c.err(), t.err()])),
    };
    let row = CannedResponseRow {
        id: CannedResponseId::generate(),
        organization_id: organization_id.clone(),
        short_code: code,
        content: text,
        created_at: Timestamp::now(),
    };
    if !store::insert_canned_response(state.db.pool(), &row).await? {
        return Err(ApiError::Conflict(format!(
            "the short code {:?} is taken",
            row.short_code
        )));
    }
    Ok(CannedResponseView::new(row))
}

pub async fn delete_canned_response(
    state: &IdentityState,
    organization_id: &OrganizationId,
    id: &str,
) -> Result<(), ApiError> {
    let not_found = || ApiError::not_found("canned response");
    let id = CannedResponseId::parse(id).ok_or_else(not_found)?;
    if !store::delete_canned_response(state.db.pool(), organization_id, &id).await? {
        return Err(not_found());
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TemplateRequest {
    /// As approved by Meta: lowercase letters, digits, `_`.
    #[schema(pattern = r"^[a-z0-9_]{1,512}$", example = "order_update")]
    pub name: String,
    /// A language code such as `en_US`.
    #[schema(pattern = r"^[a-zA-Z]{2,3}(_[a-zA-Z]{2,4})?$", example = "en_US")]
    pub language: String,
    /// The approved body, with `{{1}}`, `{{2}}`… for its parameters.
    #[schema(
        min_length = 1,
        max_length = 4096,
        example = "Your order {{1}} has shipped."
    )]
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: InboxTemplateId,
    pub name: String,
    pub language: String,
    pub body: String,
    /// How many `{{n}}` parameters the body takes.
    pub parameters: i64,
    pub created_at: Timestamp,
}

impl TemplateView {
    pub fn new(row: TemplateRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            language: row.language,
            body: row.body,
            parameters: row.parameters,
            created_at: row.created_at,
        }
    }
}

/// How many distinct `{{n}}` a body holds (n from 1 up, without gaps).
pub fn parameter_count(body: &str) -> i64 {
    (1..=100)
        .take_while(|n| body.contains(&format!("{{{{{n}}}}}")))
        .count() as i64
}

pub async fn add_template(
    state: &IdentityState,
    organization_id: &OrganizationId,
    request: TemplateRequest,
) -> Result<TemplateView, ApiError> {
    let name_ok = (1..=512).contains(&request.name.len())
        && request
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let name = name_ok
        .then(|| request.name.clone())
        .ok_or_else(|| ApiError::invalid_field("name", "must be lowercase letters, digits and _"));
    let language = {
        let (lang, region) = match request.language.split_once('_') {
            Some((l, r)) => (l, Some(r)),
            None => (request.language.as_str(), None),
        };
        let ok = (2..=3).contains(&lang.len())
            && lang.chars().all(|c| c.is_ascii_alphabetic())
            && region.is_none_or(|r| {
                (2..=4).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphabetic())
            });
        ok.then(|| request.language.clone()).ok_or_else(|| {
            ApiError::invalid_field("language", "must be a language code such as en_US")
        })
    };
    let body = content("body", &request.body);
    let (name, language, body) = match (name, language, body) {
        (Ok(n), Ok(l), Ok(b)) => (n, l, b),
        (n, l, b) => return Err(ApiError::all_fields([n.err(), l.err(), b.err()])),
    };
    let row = TemplateRow {
        id: InboxTemplateId::generate(),
        organization_id: organization_id.clone(),
        parameters: parameter_count(&body),
        name,
        language,
        body,
        created_at: Timestamp::now(),
    };
    if !store::insert_template(state.db.pool(), &row).await? {
        return Err(ApiError::Conflict(
            "a template with this name and language exists".into(),
        ));
    }
    Ok(TemplateView::new(row))
}

pub async fn delete_template(
    state: &IdentityState,
    organization_id: &OrganizationId,
    id: &str,
) -> Result<(), ApiError> {
    let not_found = || ApiError::not_found("template");
    let id = InboxTemplateId::parse(id).ok_or_else(not_found)?;
    if !store::delete_template(state.db.pool(), organization_id, &id).await? {
        return Err(not_found());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_counted_from_one_without_gaps() {
        assert_eq!(parameter_count("Hello"), 0);
        assert_eq!(parameter_count("Order {{1}} ships {{2}}"), 2);
        assert_eq!(parameter_count("Order {{2}}"), 0);
    }
}
