//! The console's pages: `public` (no session needed) and `organization`
//! (signed in, the organization's id in the URL).

pub mod account;
pub mod audit;
pub mod billing;
pub mod events;
pub mod inbox;
pub mod invitation;
pub mod keys;
pub mod market;
pub mod operator;
pub mod operator_marketplace;
pub mod organization;
pub mod public;
pub mod settings;
pub mod store;
pub mod team;
pub mod webhooks;

use landlord_admin::PlatformAdmin;
use landlord_identity::permissions::{self, Permission};
use landlord_identity::store::{self as identity_store, Membership};
use landlord_identity::CurrentUser;
use serde_json::{json, Value};

use crate::session::{FormToken, Visitor};
use crate::templates::{self, Context};
use crate::web::PageError;
use crate::ConsoleState;

/// The layout's values: title, navigation, the CSRF token and, signed in,
/// the session (current organization and the switcher's list).
pub(crate) async fn base(
    state: &ConsoleState,
    visitor: &Visitor,
    title: &str,
    nav: &str,
    current: Option<&Membership>,
) -> Result<(Context, FormToken), PageError> {
    let token = visitor.form_token(state);
    let mut context = templates::context();
    context.insert("title".into(), title.into());
    context.insert("nav".into(), nav.into());
    context.insert("csrf".into(), token.csrf.clone().into());
    if let Some(user) = &visitor.user {
        context.insert("session".into(), session_view(state, user, current).await?);
    }
    Ok((context, token))
}

async fn session_view(
    state: &ConsoleState,
    user: &CurrentUser,
    current: Option<&Membership>,
) -> Result<Value, PageError> {
    let memberships = identity_store::memberships(state.identity().db.pool(), &user.user_id)
        .await
        .map_err(landlord_core::ApiError::from)?;
    let current_id = current
        .map(|m| &m.organization.id)
        .unwrap_or(&user.organization_id);
    let current_name = memberships
        .iter()
        .find(|m| &m.organization.id == current_id)
        .map(|m| m.organization.name.clone())
        .unwrap_or_default();
    let role = memberships
        .iter()
        .find(|m| &m.organization.id == current_id)
        .map(|m| m.role);
    let may = |permission: Permission| role.is_some_and(|r| permissions::allows(r, permission));
    let operator = PlatformAdmin::check(state.identity(), &user.user_id)
        .await
        .is_ok();
    let organizations: Vec<Value> = memberships
        .iter()
        .map(|m| json!({ "id": m.organization.id, "name": m.organization.name }))
        .collect();
    Ok(json!({
        "organization_id": current_id,
        "organization_name": current_name,
        "organizations": organizations,
        "role": role.map(|r| r.as_str()),
        // What the navigation offers (each page checks again).
        "can_billing": may(Permission::ViewBilling),
        "can_audit": may(Permission::ViewAuditLog),
        "can_events": may(Permission::ViewEvents),
        "can_webhooks": may(Permission::ManageWebhooks),
        "can_inbox": state.keys.config.section::<landlord_inbox::config::InboxConfig>().enabled && may(Permission::UseInbox),
        "marketplace": state.keys.config.section::<landlord_marketplace::config::MarketplaceConfig>().enabled,
        "can_store": state.keys.config.section::<landlord_marketplace::config::MarketplaceConfig>().enabled && may(Permission::ManageProducts),
        "operator": operator,
    }))
}
