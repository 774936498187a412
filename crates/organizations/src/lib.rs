//! Organizations and their teams: members and roles, invitations, the
//! organization's settings and its audit log. Every query is filtered by
//! the organization of the signed-in user's access token; an id from another
//! organization is simply not found.

pub mod audit_log;
pub mod events;
pub mod joining;
pub mod organization;
pub mod pages;
pub mod records;
pub mod store;
pub mod team;

use landlord_keys::KeysState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes; their state is the keys' state, because a member's
/// departure revokes their keys (and drops them from the key cache).
pub fn router() -> OpenApiRouter<KeysState> {
    OpenApiRouter::new()
        .routes(routes!(team::invitations::invite))
        .routes(routes!(team::invitations::accept_invitation))
        .routes(routes!(team::invitations::decline_invitation))
        .routes(routes!(team::invitations::list_invitations))
        .routes(routes!(team::invitations::cancel_invitation))
        .routes(routes!(team::members::list_members))
        .routes(routes!(team::members::remove_member))
        .routes(routes!(team::members::change_role))
        .routes(routes!(team::members::leave))
        .routes(routes!(team::ownership::transfer_ownership))
        .routes(routes!(
            organization::get_organization,
            organization::update_organization
        ))
        .routes(routes!(audit_log::list))
        .routes(routes!(events::list))
        .routes(routes!(events::get))
        .routes(routes!(events::event_types))
}
