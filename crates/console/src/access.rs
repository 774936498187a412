//! Who may use an organization's page — one check for every page under
//! `/o/{organization_id}/…`, so that no form can skip its CSRF token: a
//! POST must present one ([`Gate::Form`]); a POST that asks for
//! [`Gate::Read`] is refused as a forged form would be.

use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::ApiError;
use landlord_identity::permissions::{self, Permission};
use landlord_identity::sessions::in_organization;
use landlord_identity::store::{self as identity_store, Membership};
use landlord_identity::CurrentUser;

use crate::session::Visitor;
use crate::templates::Context;
use crate::web::{sentence, Page, PageError};
use crate::ConsoleState;

/// How a handler reaches the organization: reading a page, or submitting
/// a form with the CSRF token it carried.
#[derive(Debug, Clone, Copy)]
pub enum Gate<'a> {
    Read,
    Form(&'a str),
}

/// The person acting in the URL's organization, with its membership.
pub type Found = (CurrentUser, Membership);

/// The signed-in person, or the sign-in page for a signed-out visitor
/// ([`PageError::SignIn`], which a handler's `?` answers as it is).
pub fn signed_in<'a>(
    state: &ConsoleState,
    visitor: &'a Visitor,
) -> Result<&'a CurrentUser, PageError> {
    visitor.user.as_ref().ok_or_else(|| {
        PageError::SignIn(Box::new(
            Page::redirect("/sign-in")
                .cookie(visitor.stale_cookie.then(|| state.clear_session_cookie())),
        ))
    })
}

/// The signed-in person acting in the URL's organization, with its
/// membership; the sign-in page when signed out; 404 for an organization
/// the person does not belong to (or a malformed id); 403 for a form
/// without this visitor's CSRF token.
pub async fn tenant(
    state: &ConsoleState,
    visitor: &Visitor,
    organization_id: &str,
    gate: Gate<'_>,
) -> Result<Found, PageError> {
    match gate {
        Gate::Form(csrf) => visitor.check_csrf(state, csrf)?,
        // A state-changing request reached a handler that checks no token:
        // refuse it rather than act on a form another site may have sent.
        Gate::Read if visitor.submits() => return Err(PageError::Csrf),
        Gate::Read => {}
    }
    let user = signed_in(state, visitor)?;
    let organization_id = OrganizationId::parse(organization_id).ok_or(PageError::NotFound)?;
    let acting = in_organization(state.identity(), user, &organization_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let membership = identity_store::memberships(state.identity().db.pool(), &acting.user_id)
        .await
        .map_err(landlord_core::ApiError::from)?
        .into_iter()
        .find(|m| m.organization.id == organization_id)
        .ok_or(PageError::NotFound)?;
    Ok((acting, membership))
}

/// [`tenant`], and the person's role allows `permission` (403 otherwise,
/// as the API answers).
pub async fn member(
    state: &ConsoleState,
    visitor: &Visitor,
    organization_id: &str,
    gate: Gate<'_>,
    permission: Permission,
) -> Result<Found, PageError> {
    let found = tenant(state, visitor, organization_id, gate).await?;
    permissions::require(&found.0, permission).map_err(|error| match error {
        ApiError::Forbidden(message) => PageError::Forbidden(sentence(&message)),
        other => PageError::Api(other),
    })?;
    Ok(found)
}

/// A signed-in platform administrator (the rule is
/// [`landlord_identity::platform::platform_admin`]).
#[derive(Debug, Clone)]
pub struct Operator {
    pub user_id: UserId,
}

/// The signed-in platform administrator; the sign-in page when signed out;
/// 404 for anyone else.
pub async fn operator(state: &ConsoleState, visitor: &Visitor) -> Result<Operator, PageError> {
    let user = signed_in(state, visitor)?;
    match landlord_identity::platform::platform_admin(state.identity(), &user.user_id).await {
        Ok(user_id) => Ok(Operator { user_id }),
        Err(error @ ApiError::Internal(_)) => Err(PageError::Api(error)),
        Err(_) => Err(PageError::NotFound),
    }
}

/// The layout's values with the operator's sub-navigation.
pub async fn operator_base(
    state: &ConsoleState,
    visitor: &Visitor,
    title: &str,
    section: &str,
) -> Result<Context, PageError> {
    let (mut context, _) = crate::pages::base(state, visitor, title, "operator", None).await?;
    context.insert("section".into(), section.into());
    Ok(context)
}
