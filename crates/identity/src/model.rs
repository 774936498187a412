//! Identity's domain types and the shapes the API shows.

use landlord_core::time::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    /// Argon2id hash; `Debug` prints `[redacted]`.
    #[sqlx(try_from = "String")]
    pub password_hash: landlord_core::Secret<String>,
    pub email_verified_at: Option<i64>,
    pub platform_admin_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationRow {
    pub id: String,
    pub name: String,
    pub billing_email: Option<String>,
    pub plan: String,
    pub created_at: i64,
}

/// A person with an account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub email_verified: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl From<&UserRow> for UserView {
    fn from(row: &UserRow) -> Self {
        Self {
            id: row.id.clone(),
            email: row.email.clone(),
            name: row.name.clone(),
            email_verified: row.email_verified_at.is_some(),
            created_at: rfc3339(row.created_at),
        }
    }
}

/// A tenant: the organization a customer's team works in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    /// The plan's name in the catalog, e.g. `free`.
    pub plan: String,
    pub billing_email: Option<String>,
    pub created_at: String,
}

impl From<&OrganizationRow> for OrganizationView {
    fn from(row: &OrganizationRow) -> Self {
        Self {
            id: row.id.clone(),
            name: row.name.clone(),
            plan: row.plan.clone(),
            billing_email: row.billing_email.clone(),
            created_at: rfc3339(row.created_at),
        }
    }
}
