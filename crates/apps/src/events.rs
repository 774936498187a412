//! The module's events: each payload and its type, which the binary adds to
//! the event catalog after the core's ([`EVENT_TYPES`]).

use landlord_core::ids::OrganizationId;
use landlord_events::EventType;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::{AppId, InstallationId};

/// `app.published`: recorded in the publishing organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppPublishedPayload {
    /// The publishing organization.
    pub organization_id: OrganizationId,
    pub app_id: AppId,
    pub slug: String,
    pub name: String,
}
landlord_events::event_type!(
    pub const APP_PUBLISHED: AppPublishedPayload = (
        "app.published",
        1,
        "Apps: a platform administrator published one of the organization's apps; it is in \
         the directory.",
    )
);

/// `app.installed`: recorded in the installing organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppInstalledPayload {
    /// The installing organization.
    pub organization_id: OrganizationId,
    pub app_id: AppId,
    pub installation_id: InstallationId,
    /// The organization scopes consented to.
    pub scopes: Vec<String>,
}
landlord_events::event_type!(
    pub const APP_INSTALLED: AppInstalledPayload = (
        "app.installed",
        1,
        "Apps: an owner or admin installed an app into the organization, with these scopes \
         (the app is sent it too, at its webhook address).",
    )
);

/// `app.uninstalled`: recorded in the organization that uninstalled it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppUninstalledPayload {
    pub organization_id: OrganizationId,
    pub app_id: AppId,
    pub installation_id: InstallationId,
}
landlord_events::event_type!(
    pub const APP_UNINSTALLED: AppUninstalledPayload = (
        "app.uninstalled",
        1,
        "Apps: an app was uninstalled from the organization (its tokens were revoked first; \
         the app is sent it too, at its webhook address).",
    )
);

/// `app.scopes_accepted`: sent to the app only (its webhook address, see
/// [`crate::notices`]); never fanned out to organizations' endpoints.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppScopesAcceptedPayload {
    /// The installing organization.
    pub organization_id: OrganizationId,
    pub app_id: AppId,
    pub installation_id: InstallationId,
    /// Every organization scope the installation now holds.
    pub scopes: Vec<String>,
    /// The ones consented to just now.
    pub added_scopes: Vec<String>,
}
landlord_events::event_type!(
    pub const APP_SCOPES_ACCEPTED: AppScopesAcceptedPayload = (
        "app.scopes_accepted",
        1,
        "Apps: sent to an app's webhook address when an organization that installed it consents          to more of its scopes (only ever sent to the app).",
    )
);

/// The module's event types, in the catalog's order.
pub const EVENT_TYPES: &[EventType] = &[
    APP_PUBLISHED,
    APP_INSTALLED,
    APP_UNINSTALLED,
    APP_SCOPES_ACCEPTED,
];
