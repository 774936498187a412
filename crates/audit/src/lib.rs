//! The audit trail. Sensitive actions write an entry in the same
//! transaction as the change they record.

pub mod store;

use landlord_core::http::client::ClientInfo;
use landlord_core::ids::{ApiKeyId, OrganizationId, UserId};
use serde_json::Value;

pub use store::record;

/// Who acts: a signed-in person in their active organization (identity's
/// `CurrentUser` and `Authorized<P>` implement it).
pub trait Actor {
    fn organization_id(&self) -> &OrganizationId;
    fn user_id(&self) -> &UserId;
}

/// One audited action.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub organization_id: Option<OrganizationId>,
    pub actor_user_id: Option<UserId>,
    pub actor_api_key_id: Option<ApiKeyId>,
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

    /// The common case: `actor` did `action` in their active organization,
    /// from `client`.
    pub fn by(actor: &impl Actor, client: &ClientInfo, action: impl Into<String>) -> Self {
        Self::new(action)
            .organization(actor.organization_id())
            .actor(actor.user_id())
            .client(client)
    }

    pub fn organization(mut self, id: &OrganizationId) -> Self {
        self.organization_id = Some(id.clone());
        self
    }

    pub fn actor(mut self, user_id: &UserId) -> Self {
        self.actor_user_id = Some(user_id.clone());
        self
    }

    /// The acting user, when there may be none (a declined invitation of
    /// someone without an account).
    pub fn maybe_actor(mut self, user_id: Option<&UserId>) -> Self {
        self.actor_user_id = user_id.cloned();
        self
    }

    pub fn maybe_organization(mut self, id: Option<&OrganizationId>) -> Self {
        self.organization_id = id.cloned();
        self
    }

    pub fn actor_key(mut self, key_id: &ApiKeyId) -> Self {
        self.actor_api_key_id = Some(key_id.clone());
        self
    }

    /// What the action was done to: its kind (`user`, `api_key`, …) and id.
    pub fn target(mut self, kind: &str, id: impl AsRef<str>) -> Self {
        self.target_type = Some(kind.to_string());
        self.target_id = Some(id.as_ref().to_string());
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
