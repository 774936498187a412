//! Identity's domain types and the shapes the API shows.

use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

landlord_core::text_enum!(
    /// A member's role in an organization.
    pub enum Role {
        Owner = "owner",
        Admin = "admin",
        Member = "member",
    }
);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
    /// Argon2id hash; `Debug` prints `[redacted]`.
    #[sqlx(try_from = "String")]
    pub password_hash: landlord_core::Secret<String>,
    pub email_verified_at: Option<Timestamp>,
    pub platform_admin_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationRow {
    pub id: OrganizationId,
    pub name: String,
    pub billing_email: Option<String>,
    pub plan: String,
    pub created_at: Timestamp,
}

/// A person with an account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub email_verified: bool,
    pub created_at: Timestamp,
}

impl From<&UserRow> for UserView {
    fn from(row: &UserRow) -> Self {
        Self {
            id: row.id.clone(),
            email: row.email.clone(),
            name: row.name.clone(),
            email_verified: row.email_verified_at.is_some(),
            created_at: row.created_at,
        }
    }
}

/// A tenant: the organization a customer's team works in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: OrganizationId,
    pub name: String,
    /// The plan's name in the catalog, e.g. `free`.
    pub plan: String,
    pub billing_email: Option<String>,
    pub created_at: Timestamp,
}

impl From<&OrganizationRow> for OrganizationView {
    fn from(row: &OrganizationRow) -> Self {
        Self {
            id: row.id.clone(),
            name: row.name.clone(),
            plan: row.plan.clone(),
            billing_email: row.billing_email.clone(),
            created_at: row.created_at,
        }
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;
    use crate::routes::{LoginRequest, ResetPasswordRequest};

    #[test]
    fn secrets_do_not_print_through_debug() {
        let user = UserRow {
            id: UserId::generate(),
            email: "ada@example.com".into(),
            name: None,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
                .to_string()
                .into(),
            email_verified_at: None,
            platform_admin_at: None,
            created_at: Timestamp::from_millis(0),
        };
        let printed = format!("{user:?}");
        assert!(!printed.contains("argon2id"), "{printed}");
        assert!(printed.contains("ada@example.com"));

        let login: LoginRequest =
            serde_json::from_str(r#"{"email": "ada@example.com", "password": "hunter2-hunter2"}"#)
                .unwrap();
        assert!(!format!("{login:?}").contains("hunter2"));
        let reset: ResetPasswordRequest =
            serde_json::from_str(r#"{"token": "tok-123456", "new_password": "pw-abcdef"}"#)
                .unwrap();
        let printed = format!("{reset:?}");
        assert!(!printed.contains("tok-123456") && !printed.contains("pw-abcdef"));
    }
}
