//! The permission policy: each permission names the roles that hold it,
//! written once as data where it is declared.
//!
//! Every organization-scoped route names the permission it needs in its
//! signature with the [`Authorized`] extractor; [`allows`] is the only place
//! that decides. The organization-wide permissions are declared here; a
//! module declares its own in its crate with [`permissions!`](crate::permissions!),
//! and the binary assembles the full matrix, which is published in the
//! OpenAPI document and the docs (teams page). Each declaration's unit test
//! checks its rows.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use landlord_core::ApiError;

use crate::auth::CurrentUser;
use crate::model::Role;
use crate::IdentityState;

/// Something a member may be allowed to do in an organization: its name
/// (as refusals and the documentation show it) and the roles that hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    name: &'static str,
    roles: &'static [Role],
}

impl Permission {
    /// A permission called `name`, held by `roles`.
    pub const fn new(name: &'static str, roles: &'static [Role]) -> Self {
        Self { name, roles }
    }

    pub fn as_str(self) -> &'static str {
        self.name
    }

    /// The roles that hold it.
    pub fn roles(self) -> &'static [Role] {
        self.roles
    }
}

/// Declares permissions: for each, a constant with its name and roles, and
/// its marker type in a `needs` module (for [`Authorized`]); for each group,
/// a constant listing it in order (for the documentation table).
///
/// ```ignore
/// landlord_identity::permissions! {
///     /// The module's permissions, in the documentation's order.
///     pub const PERMISSIONS = [
///         /// Read the widgets.
///         VIEW_WIDGETS, ViewWidgets = "view_widgets": Owner, Admin, Member;
///     ];
/// }
/// ```
#[macro_export]
macro_rules! permissions {
    ($(
        $(#[$group_doc:meta])*
        pub const $group:ident = [$(
            $(#[$doc:meta])*
            $name:ident, $marker:ident = $text:literal: $($role:ident),+;
        )*];
    )+) => {
        $($(
            $(#[$doc])*
            pub const $name: $crate::permissions::Permission = $crate::permissions::Permission::new(
                $text,
                &[$($crate::model::Role::$role),+],
            );
        )*)+

        $(
            $(#[$group_doc])*
            pub const $group: &[$crate::permissions::Permission] = &[$($name),*];
        )+

        /// Type-level permissions for `Authorized`.
        pub mod needs {
            $($(
                #[doc = concat!("Needs `", $text, "`.")]
                #[derive(Debug)]
                pub struct $marker;
                impl $crate::permissions::RequiredPermission for $marker {
                    const PERMISSION: $crate::permissions::Permission = super::$name;
                }
            )*)+
        }
    };
}

crate::permissions! {
    /// The organization-wide permissions that come before the modules' in
    /// the documentation table.
    pub const ORGANIZATION = [
        VIEW_DASHBOARD, ViewDashboard = "view_dashboard": Owner, Admin, Member;
        VIEW_TEAM, ViewTeam = "view_team": Owner, Admin, Member;
        CREATE_API_KEYS, CreateApiKeys = "create_api_keys": Owner, Admin, Member;
        /// Revoke any key of the organization (everyone may revoke their own).
        REVOKE_ANY_API_KEY, RevokeAnyApiKey = "revoke_any_api_key": Owner, Admin;
        /// Make oneself the creator of any key of the organization.
        TRANSFER_API_KEYS, TransferApiKeys = "transfer_api_keys": Owner, Admin;
        INVITE_MEMBERS, InviteMembers = "invite_members": Owner, Admin;
        REMOVE_MEMBERS, RemoveMembers = "remove_members": Owner, Admin;
        CHANGE_ROLES, ChangeRoles = "change_roles": Owner;
        TRANSFER_OWNERSHIP, TransferOwnership = "transfer_ownership": Owner;
        UPDATE_ORGANIZATION, UpdateOrganization = "update_organization": Owner, Admin;
        VIEW_AUDIT_LOG, ViewAuditLog = "view_audit_log": Owner, Admin;
        /// Read the organization's event history.
        VIEW_EVENTS, ViewEvents = "view_events": Owner, Admin;
        /// Create, change, delete and test webhook endpoints; resend messages.
        MANAGE_WEBHOOKS, ManageWebhooks = "manage_webhooks": Owner, Admin;
        /// See and rotate a webhook endpoint's signing secret after creation.
        VIEW_WEBHOOK_SECRETS, ViewWebhookSecrets = "view_webhook_secrets": Owner;
    ];
    /// The billing permissions, which come after the modules' in the
    /// documentation table.
    pub const BILLING = [
        VIEW_BILLING, ViewBilling = "view_billing": Owner, Admin;
        UPGRADE_PLAN, UpgradePlan = "upgrade_plan": Owner;
        PAY_INVOICES, PayInvoices = "pay_invoices": Owner;
    ];
}

/// Whether `role` holds `permission`.
pub fn allows(role: Role, permission: Permission) -> bool {
    permission.roles.contains(&role)
}

/// The refusal for a role that lacks a permission.
pub fn forbidden(role: Role, permission: Permission) -> ApiError {
    ApiError::Forbidden(format!(
        "missing permission {}: the {} role does not have it",
        permission.as_str(),
        role.as_str()
    ))
}

/// Checks `permission` for the signed-in user.
pub fn require(user: &CurrentUser, permission: Permission) -> Result<(), ApiError> {
    if allows(user.role, permission) {
        Ok(())
    } else {
        Err(forbidden(user.role, permission))
    }
}

/// The matrix of `permissions`, in their order, as a Markdown table (for
/// the API documentation).
pub fn markdown_table(permissions: &[Permission]) -> String {
    let mut table =
        String::from("| permission | owner | admin | member |\n| --- | --- | --- | --- |\n");
    for permission in permissions {
        let cell = |role| {
            if allows(role, *permission) {
                "yes"
            } else {
                "no"
            }
        };
        table.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            permission.as_str(),
            cell(Role::Owner),
            cell(Role::Admin),
            cell(Role::Member)
        ));
    }
    table
}

/// A permission as a type, so a handler can declare it in its signature.
pub trait RequiredPermission: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// The signed-in user, known to hold `P` in the active organization.
/// Refuses with 403 FORBIDDEN naming the missing permission.
#[derive(Debug, Clone)]
pub struct Authorized<P> {
    pub user: CurrentUser,
    _permission: PhantomData<P>,
}

impl<P> std::ops::Deref for Authorized<P> {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.user
    }
}

impl<P> landlord_audit::Actor for Authorized<P> {
    fn organization_id(&self) -> &landlord_core::ids::OrganizationId {
        &self.user.organization_id
    }
    fn user_id(&self) -> &landlord_core::ids::UserId {
        &self.user.user_id
    }
}

impl<S, P> FromRequestParts<S> for Authorized<P>
where
    S: Send + Sync,
    IdentityState: FromRef<S>,
    P: RequiredPermission,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        require(&user, P::PERMISSION)?;
        Ok(Self {
            user,
            _permission: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::{Admin, Member, Owner};

    /// Checks a permission's row: whether owner, admin and member hold it.
    fn expect(permission: Permission, owner: bool, admin: bool, member: bool) {
        assert_eq!(allows(Owner, permission), owner, "{permission:?} owner");
        assert_eq!(allows(Admin, permission), admin, "{permission:?} admin");
        assert_eq!(allows(Member, permission), member, "{permission:?} member");
    }

    /// The organization-wide rows, one by one, as the product defines them
    /// (and the docs publish them).
    #[test]
    fn the_organization_rows_match_the_product_row_by_row() {
        expect(VIEW_DASHBOARD, true, true, true);
        expect(CREATE_API_KEYS, true, true, true);
        expect(REVOKE_ANY_API_KEY, true, true, false); // members: own only
        expect(INVITE_MEMBERS, true, true, false);
        expect(REMOVE_MEMBERS, true, true, false);
        expect(CHANGE_ROLES, true, false, false);
        expect(VIEW_BILLING, true, true, false);
        expect(UPGRADE_PLAN, true, false, false);
        expect(PAY_INVOICES, true, false, false);
        expect(VIEW_TEAM, true, true, true);
        expect(TRANSFER_OWNERSHIP, true, false, false);
        expect(UPDATE_ORGANIZATION, true, true, false);
        expect(VIEW_AUDIT_LOG, true, true, false);
        expect(VIEW_EVENTS, true, true, false);
        expect(MANAGE_WEBHOOKS, true, true, false);
        expect(VIEW_WEBHOOK_SECRETS, true, false, false);
        expect(TRANSFER_API_KEYS, true, true, false);
    }

    #[test]
    fn every_organization_permission_has_exactly_one_row() {
        let all: Vec<Permission> = ORGANIZATION.iter().chain(BILLING).copied().collect();
        for permission in &all {
            assert_eq!(
                all.iter()
                    .filter(|p| p.as_str() == permission.as_str())
                    .count(),
                1
            );
        }
        assert_eq!(all.len(), 17);
    }

    #[test]
    fn a_marker_type_carries_its_permission() {
        assert_eq!(
            <needs::ChangeRoles as RequiredPermission>::PERMISSION,
            CHANGE_ROLES
        );
        assert_eq!(
            <needs::PayInvoices as RequiredPermission>::PERMISSION,
            PAY_INVOICES
        );
    }

    #[test]
    fn refusals_name_the_permission() {
        let error = forbidden(Member, INVITE_MEMBERS);
        assert!(error.to_string().contains("invite_members"));
        assert!(markdown_table(ORGANIZATION).contains("| `change_roles` | yes | no | no |"));
    }
}
