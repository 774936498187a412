//! The console's pages: `public` (no session needed) and `organization`
//! (signed in, the organization's id in the URL).

pub mod account;
pub mod organization;
pub mod public;

use axum::Router;
use landlord_core::ids::OrganizationId;
use landlord_identity::permissions::{self, Permission};
use landlord_identity::store::{self as identity_store, Membership};
use landlord_identity::CurrentUser;
use serde_json::{json, Value};

use crate::session::{FormToken, Visitor};
use crate::templates::{self, Context};
use crate::web::PageError;
use crate::{ConsoleState, NavEntry, NavGroup};

/// The shell's own pages.
pub(crate) fn router() -> Router<ConsoleState> {
    crate::static_routes()
        .merge(public::routes())
        .merge(organization::routes())
        .merge(account::routes())
}

fn nav_view(entry: &NavEntry) -> Value {
    json!({ "key": entry.key, "label": entry.label, "path": entry.path })
}

/// The sidebar's groups: each group's entries (organization entries the
/// role allows, under `/o/{organization_id}` unless absolute, and the
/// person's own), in the groups' order; empty groups left out.
fn groups_view<'a>(
    organization_id: &OrganizationId,
    entries: impl Iterator<Item = (&'a NavEntry, bool)>,
) -> Vec<Value> {
    let mut entries: Vec<(&NavEntry, bool)> = entries.collect();
    entries.sort_by_key(|(entry, _)| (entry.group.order, entry.group.key, entry.order));
    let mut groups: Vec<(NavGroup, Vec<Value>)> = Vec::new();
    for (entry, under_organization) in entries {
        let href = if under_organization && !entry.absolute {
            format!("/o/{organization_id}{}", entry.path)
        } else {
            entry.path.to_string()
        };
        let link = json!({ "key": entry.key, "label": entry.label, "href": href });
        match groups.last_mut() {
            Some((group, links)) if group.key == entry.group.key => links.push(link),
            _ => groups.push((entry.group, vec![link])),
        }
    }
    groups
        .into_iter()
        .map(|(group, links)| json!({ "key": group.key, "label": group.label, "links": links }))
        .collect()
}

/// The layout's values: title, navigation, the CSRF token and, signed in,
/// the session (current organization and the switcher's list) and the
/// notice a form's redirect left for this page (`flash`, taken: shown
/// once; a POST's own answer — a form re-rendered with its errors — leaves
/// it for the next page).
pub async fn base(
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
    context.insert("stylesheets".into(), state.stylesheets.clone().into());
    if let Some(user) = &visitor.user {
        context.insert("session".into(), session_view(state, user, current).await?);
    }
    if let Some(owner) = visitor.flash_owner().filter(|_| visitor.reads_notices()) {
        if let Some(flash) = crate::flash::take(state, &owner).await? {
            context.insert("flash".into(), flash);
        }
    }
    Ok((context, token))
}

/// The layout's values for an error page shown to the person signed in
/// with the session `token` (`None`: no live session), in the organization
/// of `path` (`/o/{organization_id}…`) when they belong to it.
pub(crate) async fn error_context(
    state: &ConsoleState,
    token: &str,
    path: &str,
) -> Result<Option<Context>, PageError> {
    let Some(user) = landlord_identity::sessions::browser_session(state.identity(), token).await?
    else {
        return Ok(None);
    };
    let in_url = path
        .strip_prefix("/o/")
        .and_then(|rest| rest.split('/').next())
        .and_then(OrganizationId::parse);
    let memberships = identity_store::memberships(state.identity().db.pool(), &user.user_id)
        .await
        .map_err(landlord_core::ApiError::from)?;
    let current = in_url.and_then(|id| memberships.iter().find(|m| m.organization.id == id));
    let visitor = Visitor::reading(user);
    let (context, _) = base(state, &visitor, "", "", current).await?;
    Ok(Some(context))
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
    let operator = landlord_identity::platform::platform_admin(state.identity(), &user.user_id)
        .await
        .is_ok();
    let organizations: Vec<Value> = memberships
        .iter()
        .map(|m| json!({ "id": m.organization.id, "name": m.organization.name }))
        .collect();
    let navigation = &state.navigation;
    let organization_nav: Vec<Value> = navigation
        .organization
        .iter()
        .filter(|entry| entry.permission.is_none_or(&may))
        .map(nav_view)
        .collect();
    let groups = groups_view(
        current_id,
        navigation
            .organization
            .iter()
            .filter(|entry| entry.permission.is_none_or(&may))
            .map(|entry| (entry, true))
            .chain(navigation.personal.iter().map(|entry| (entry, false))),
    );
    let person = identity_store::user_by_id(state.identity().db.pool(), &user.user_id)
        .await
        .map_err(landlord_core::ApiError::from)?;
    let email = person.as_ref().map(|p| p.email.clone()).unwrap_or_default();
    let display = person
        .as_ref()
        .and_then(|p| p.name.clone())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| email.clone());
    let initial = display
        .chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_else(|| "?".into());
    Ok(json!({
        "organization_id": current_id,
        "organization_name": current_name,
        "organizations": organizations,
        "role": role.map(|r| r.as_str()),
        // What the navigation offers (each page checks again).
        "nav": organization_nav,
        // The sidebar: the groups of the organization's and the person's
        // links.
        "groups": groups,
        "person": { "name": display, "email": email, "initial": initial },
        "personal_nav": navigation.personal.iter().map(nav_view).collect::<Vec<_>>(),
        "operator_nav": navigation.operator.iter().map(nav_view).collect::<Vec<_>>(),
        "operator": operator,
    }))
}
