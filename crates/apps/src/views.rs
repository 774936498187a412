//! What the API answers with.

use landlord_core::ids::OrganizationId;
use landlord_core::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::AppId;
use crate::scopes::ScopeSet;
use crate::store::{AppRow, AppStatus, ClientType};

/// An app as its publisher sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppView {
    /// Also its OAuth `client_id`.
    pub id: AppId,
    pub organization_id: OrganizationId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub icon_url: Option<String>,
    pub homepage_url: Option<String>,
    pub webhook_url: Option<String>,
    /// The app's own server, behind the gateway.
    pub upstream_url: Option<String>,
    pub status: AppStatus,
    /// Why an operator suspended it.
    pub status_reason: Option<String>,
    pub client_id: AppId,
    pub client_type: ClientType,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub organization_scopes: Vec<String>,
    pub published_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl AppView {
    pub fn new(row: AppRow) -> Self {
        Self {
            redirect_uris: row.redirect_uris(),
            scopes: ScopeSet::from_json(&row.scopes).names(),
            organization_scopes: ScopeSet::from_json(&row.organization_scopes).names(),
            client_id: row.id.clone(),
            id: row.id,
            organization_id: row.organization_id,
            slug: row.slug,
            name: row.name,
            description: row.description,
            category: row.category,
            icon_url: row.icon_url,
            homepage_url: row.homepage_url,
            webhook_url: row.webhook_url,
            upstream_url: row.upstream_url,
            status: row.status,
            status_reason: row.status_reason,
            client_type: row.client_type,
            published_at: row.published_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A created app, with its client secret — shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApp {
    #[serde(flatten)]
    pub app: AppView,
    /// A confidential client's secret; `null` for a public client. Not
    /// shown again: rotate it to get a new one.
    pub client_secret: Option<String>,
    /// The gateway's signing secret (`whsec_…`): the app's server checks
    /// `X-Landlord-Signature` with it. Not shown again: rotate it to get a
    /// new one.
    pub gateway_secret: String,
}

/// An app with its new client secret — shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    #[serde(flatten)]
    pub app: AppView,
    /// The new secret; the old one stopped working. Not shown again.
    pub client_secret: String,
}

/// An app with its new gateway signing secret — shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedGatewaySecret {
    #[serde(flatten)]
    pub app: AppView,
    /// The new `whsec_…` secret. Not shown again.
    pub gateway_secret: String,
    /// Until then the previous secret signs beside the new one (`null`:
    /// there was none).
    pub previous_valid_until: Option<Timestamp>,
}

/// A deleted app, as it was, and how long its slug stays reserved.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedApp {
    #[serde(flatten)]
    pub app: AppView,
    /// Until then, only the organization that deleted the app may take
    /// its slug again.
    pub slug_reserved_until: Timestamp,
}
