//! The permission policy: the role × permission matrix, written once as data.
//!
//! Every organization-scoped route names the permission it needs in its
//! signature with the [`Authorized`] extractor; [`allows`] is the only place
//! that decides. The matrix is unit-tested row by row and published in the
//! OpenAPI document and the docs (teams page).

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use landlord_core::ApiError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::model::Role;
use crate::IdentityState;

/// Something a member may be allowed to do in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    ViewDashboard,
    ViewTeam,
    CreateApiKeys,
    /// Revoke any key of the organization (everyone may revoke their own).
    RevokeAnyApiKey,
    /// Make oneself the creator of any key of the organization.
    TransferApiKeys,
    InviteMembers,
    RemoveMembers,
    ChangeRoles,
    TransferOwnership,
    UpdateOrganization,
    ViewAuditLog,
    /// Read the organization's event history.
    ViewEvents,
    /// Create, change, delete and test webhook endpoints; resend messages.
    ManageWebhooks,
    /// See and rotate a webhook endpoint's signing secret after creation.
    ViewWebhookSecrets,
    /// Inbox: read conversations, reply, change status and labels, take a
    /// conversation (assign it to oneself).
    UseInbox,
    /// Inbox: assign conversations to anyone.
    AssignConversations,
    /// Inbox: connect channels, manage canned responses and templates.
    ManageInbox,
    /// Marketplace: apply to sell, edit the store and its payout account,
    /// reply to reviews.
    ManageStore,
    /// Marketplace: create and change the store's products.
    ManageProducts,
    /// Marketplace: see the store's orders and move them along
    /// (processing, shipped, delivered, cancelled).
    FulfilOrders,
    /// Marketplace: the store's ledger and payouts.
    ViewEarnings,
    ViewBilling,
    UpgradePlan,
    PayInvoices,
}

use Role::{Admin, Member, Owner};

/// The matrix: each permission and the roles that hold it.
pub const MATRIX: &[(Permission, &[Role])] = &[
    (Permission::ViewDashboard, &[Owner, Admin, Member]),
    (Permission::ViewTeam, &[Owner, Admin, Member]),
    (Permission::CreateApiKeys, &[Owner, Admin, Member]),
    (Permission::RevokeAnyApiKey, &[Owner, Admin]),
    (Permission::TransferApiKeys, &[Owner, Admin]),
    (Permission::InviteMembers, &[Owner, Admin]),
    (Permission::RemoveMembers, &[Owner, Admin]),
    (Permission::ChangeRoles, &[Owner]),
    (Permission::TransferOwnership, &[Owner]),
    (Permission::UpdateOrganization, &[Owner, Admin]),
    (Permission::ViewAuditLog, &[Owner, Admin]),
    (Permission::ViewEvents, &[Owner, Admin]),
    (Permission::ManageWebhooks, &[Owner, Admin]),
    (Permission::ViewWebhookSecrets, &[Owner]),
    (Permission::UseInbox, &[Owner, Admin, Member]),
    (Permission::AssignConversations, &[Owner, Admin]),
    (Permission::ManageInbox, &[Owner, Admin]),
    (Permission::ManageStore, &[Owner, Admin]),
    (Permission::ManageProducts, &[Owner, Admin, Member]),
    (Permission::FulfilOrders, &[Owner, Admin, Member]),
    (Permission::ViewEarnings, &[Owner, Admin]),
    (Permission::ViewBilling, &[Owner, Admin]),
    (Permission::UpgradePlan, &[Owner]),
    (Permission::PayInvoices, &[Owner]),
];

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewDashboard => "view_dashboard",
            Permission::ViewTeam => "view_team",
            Permission::CreateApiKeys => "create_api_keys",
            Permission::RevokeAnyApiKey => "revoke_any_api_key",
            Permission::TransferApiKeys => "transfer_api_keys",
            Permission::InviteMembers => "invite_members",
            Permission::RemoveMembers => "remove_members",
            Permission::ChangeRoles => "change_roles",
            Permission::TransferOwnership => "transfer_ownership",
            Permission::UpdateOrganization => "update_organization",
            Permission::ViewAuditLog => "view_audit_log",
            Permission::ViewEvents => "view_events",
            Permission::ManageWebhooks => "manage_webhooks",
            Permission::ViewWebhookSecrets => "view_webhook_secrets",
            Permission::UseInbox => "use_inbox",
            Permission::AssignConversations => "assign_conversations",
            Permission::ManageInbox => "manage_inbox",
            Permission::ManageStore => "manage_store",
            Permission::ManageProducts => "manage_products",
            Permission::FulfilOrders => "fulfil_orders",
            Permission::ViewEarnings => "view_earnings",
            Permission::ViewBilling => "view_billing",
            Permission::UpgradePlan => "upgrade_plan",
            Permission::PayInvoices => "pay_invoices",
        }
    }
}

/// Whether `role` holds `permission`.
pub fn allows(role: Role, permission: Permission) -> bool {
    MATRIX
        .iter()
        .any(|(p, roles)| *p == permission && roles.contains(&role))
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

/// The matrix as a Markdown table (for the API documentation).
pub fn markdown_table() -> String {
    let mut table =
        String::from("| permission | owner | admin | member |\n| --- | --- | --- | --- |\n");
    for (permission, _) in MATRIX {
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
            cell(Owner),
            cell(Admin),
            cell(Member)
        ));
    }
    table
}

/// A permission as a type, so a handler can declare it in its signature.
pub trait RequiredPermission: Send + Sync + 'static {
    const PERMISSION: Permission;
}

macro_rules! permission_types {
    ($($name:ident),* $(,)?) => {
        /// Type-level permissions for [`Authorized`].
        pub mod needs {
            $(
                #[derive(Debug)]
                pub struct $name;
                impl super::RequiredPermission for $name {
                    const PERMISSION: super::Permission = super::Permission::$name;
                }
            )*
        }
    };
}

permission_types!(
    ViewDashboard,
    ViewTeam,
    CreateApiKeys,
    RevokeAnyApiKey,
    TransferApiKeys,
    InviteMembers,
    RemoveMembers,
    ChangeRoles,
    TransferOwnership,
    UpdateOrganization,
    ViewAuditLog,
    ViewEvents,
    ManageWebhooks,
    ViewWebhookSecrets,
    UseInbox,
    AssignConversations,
    ManageInbox,
    ManageStore,
    ManageProducts,
    FulfilOrders,
    ViewEarnings,
    ViewBilling,
    UpgradePlan,
    PayInvoices,
);

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

    /// The matrix, row by row, as the product defines it (and the docs
    /// publish it).
    #[test]
    fn the_matrix_matches_seed_002_row_by_row() {
        let expect = |permission, owner, admin, member| {
            assert_eq!(allows(Owner, permission), owner, "{permission:?} owner");
            assert_eq!(allows(Admin, permission), admin, "{permission:?} admin");
            assert_eq!(allows(Member, permission), member, "{permission:?} member");
        };
        expect(Permission::ViewDashboard, true, true, true);
        expect(Permission::CreateApiKeys, true, true, true);
        expect(Permission::RevokeAnyApiKey, true, true, false); // members: own only
        expect(Permission::InviteMembers, true, true, false);
        expect(Permission::RemoveMembers, true, true, false);
        expect(Permission::ChangeRoles, true, false, false);
        expect(Permission::ViewBilling, true, true, false);
        expect(Permission::UpgradePlan, true, false, false);
        expect(Permission::PayInvoices, true, false, false);
        // Additions for the routes the seed does not list.
        expect(Permission::ViewTeam, true, true, true);
        expect(Permission::TransferOwnership, true, false, false);
        expect(Permission::UpdateOrganization, true, true, false);
        expect(Permission::ViewAuditLog, true, true, false);
        expect(Permission::ViewEvents, true, true, false);
        expect(Permission::ManageWebhooks, true, true, false);
        expect(Permission::ViewWebhookSecrets, true, false, false);
        expect(Permission::UseInbox, true, true, true);
        expect(Permission::AssignConversations, true, true, false);
        expect(Permission::ManageInbox, true, true, false);
        expect(Permission::ManageStore, true, true, false);
        expect(Permission::ManageProducts, true, true, true);
        expect(Permission::FulfilOrders, true, true, true);
        expect(Permission::ViewEarnings, true, true, false);
        expect(Permission::TransferApiKeys, true, true, false);
    }

    #[test]
    fn every_permission_has_exactly_one_row() {
        for (permission, _) in MATRIX {
            assert_eq!(MATRIX.iter().filter(|(p, _)| p == permission).count(), 1);
        }
        assert_eq!(MATRIX.len(), 24);
    }

    #[test]
    fn refusals_name_the_permission() {
        let error = forbidden(Member, Permission::InviteMembers);
        assert!(error.to_string().contains("invite_members"));
        assert!(markdown_table().contains("| `change_roles` | yes | no | no |"));
    }
}
