//! The audit trail. Sensitive actions write an entry in the same
//! transaction as the change they record.

use landlord_core::db::now_millis;
use landlord_core::http::client::ClientInfo;
use serde_json::Value;
use sqlx::{Any, Executor};

/// One audited action.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub organization_id: Option<String>,
    pub actor_user_id: Option<String>,
    pub actor_api_key_id: Option<String>,
    /// Dotted name such as `auth.login_failed` or `team.member_removed`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Option<Value>,
}

impl AuditEntry {
    pub fn new(action: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            ..Self::default()
        }
    }

    pub fn organization(mut self, id: impl Into<String>) -> Self {
        self.organization_id = Some(id.into());
        self
    }

    pub fn actor(mut self, user_id: impl Into<String>) -> Self {
        self.actor_user_id = Some(user_id.into());
        self
    }

    pub fn target(mut self, kind: &str, id: impl Into<String>) -> Self {
        self.target_type = Some(kind.to_string());
        self.target_id = Some(id.into());
        self
    }

    pub fn client(mut self, client: &ClientInfo) -> Self {
        self.ip = client.ip.clone();
        self.user_agent = client.user_agent.clone();
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// Writes `entry` through `executor` (a transaction or the pool).
pub async fn record<'c, E>(executor: E, entry: AuditEntry) -> Result<(), sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query(
        "INSERT INTO audit_log (id, organization_id, actor_user_id, actor_api_key_id, action, \
         target_type, target_id, ip, user_agent, details, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(entry.organization_id)
    .bind(entry.actor_user_id)
    .bind(entry.actor_api_key_id)
    .bind(entry.action)
    .bind(entry.target_type)
    .bind(entry.target_id)
    .bind(entry.ip)
    .bind(entry.user_agent)
    .bind(entry.details.map(|d| d.to_string()))
    .bind(now_millis())
    .execute(executor)
    .await?;
    Ok(())
}
