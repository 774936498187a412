//! The organization's team (`/o/{organization_id}/team`): members with
//! their roles, pending invitations (resend, cancel), the invite form,
//! changing a role, removing a member and transferring ownership (each
//! with a confirmation step), leaving. Each action calls the same
//! `crate::team` function as its API route, and the page
//! offers only the actions the permission matrix gives the person's role.

use crate::store::InvitationStatus;
use crate::team::invitations::{self, InvitationView};
use crate::team::{members, ownership, MemberView};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Form;
use axum::Router;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::{InvitationId, UserId};
use landlord_core::ApiError;
use landlord_identity::permissions;
use landlord_identity::store::{self as identity_store, Membership};
use landlord_identity::{CurrentUser, Role};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Pages;
use landlord_console::api;
use landlord_console::base;
use landlord_console::Context;
use landlord_console::Visitor;
use landlord_console::{tenant, Gate};
use landlord_console::{Flash, FormErrors, Page, PageError};

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/o/{organization_id}/team", get(team))
        .route("/o/{organization_id}/team/invitations", post(invite))
        .route(
            "/o/{organization_id}/team/invitations/{invitation_id}/resend",
            post(resend),
        )
        .route(
            "/o/{organization_id}/team/invitations/{invitation_id}/cancel",
            post(cancel),
        )
        .route(
            "/o/{organization_id}/team/members/{user_id}/role",
            post(change_role),
        )
        .route(
            "/o/{organization_id}/team/members/{user_id}/remove",
            get(remove_page).post(remove),
        )
        .route(
            "/o/{organization_id}/team/members/{user_id}/transfer",
            get(transfer_page).post(transfer),
        )
        .route(
            "/o/{organization_id}/team/leave",
            get(leave_page).post(leave),
        )
}

/// The most members and invitations one page lists.
const LIST_LIMIT: i64 = 500;

/// Why an organization's last owner cannot leave or step down, in words.
const LAST_OWNER: &str = "An organization always keeps at least one owner. You are its only \
                          owner: make another member an owner (or transfer ownership to them) \
                          first, then you can step down or leave.";

/// A refusal of the features shown on the page: the last-owner rule in
/// words, any other refusal as the API says it.
fn refusal(error: ApiError) -> Result<FormErrors, PageError> {
    if let ApiError::Conflict(message) = &error {
        if message.contains("owner") {
            return Ok(FormErrors {
                status: Some(StatusCode::CONFLICT),
                general: Some(LAST_OWNER.into()),
                ..FormErrors::default()
            });
        }
    }
    landlord_console::refusal(error)
}

/// What a finished action says on the team page (a one-time notice).
fn done_message(done: &str) -> &'static str {
    match done {
        "invited" => "Invitation sent: it is valid for seven days.",
        "resent" => "Invitation sent again, with a new link valid for seven days.",
        "cancelled" => "Invitation cancelled: its link no longer works.",
        "role" => "Role changed.",
        "removed" => "Member removed; the API keys they created are revoked.",
        "transferred" => "Ownership transferred: you are now an admin.",
        _ => "Done.",
    }
}

/// The organization's values every team page shows.
async fn team_base(
    state: &Pages,
    visitor: &Visitor,
    title: &str,
    membership: &Membership,
) -> Result<Context, PageError> {
    let (mut context, _) = base(state, visitor, title, "team", Some(membership)).await?;
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    Ok(context)
}

/// What the invite form sends.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct InviteForm {
    #[serde(skip_serializing)]
    csrf: String,
    email: String,
    role: String,
}

/// The team page, with the invite form's values and errors.
async fn team_page(
    state: &Pages,
    visitor: &Visitor,
    user: &CurrentUser,
    membership: &Membership,
    form: &InviteForm,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let may = |permission| permissions::allows(user.role, permission);
    let rows = members::list(state.identity(), user, None, LIST_LIMIT)
        .await
        .map_err(api)?;
    let owners = rows.iter().filter(|m| m.role == Role::Owner).count();
    // Owners see which members' addresses Landlord no longer mails.
    let suppressed = if user.role == Role::Owner {
        let emails: Vec<String> = rows
            .iter()
            .map(|row| landlord_mail::suppression::normalize(&row.email))
            .collect();
        landlord_mail::store::among(&state.identity().db, &emails)
            .await
            .map_err(|e| api(e.into()))?
    } else {
        Vec::new()
    };
    let sole_owner = user.role == Role::Owner && owners <= 1;
    let members: Vec<Value> = rows
        .iter()
        .map(|row| {
            let view = MemberView::from(row);
            let me = row.user_id == user.user_id;
            let is_owner = row.role == Role::Owner;
            json!({
                "id": view.id,
                "name": view.name,
                "email": view.email,
                "role": view.role.as_str(),
                "joined_at": view.joined_at,
                "me": me,
                "mail_suppressed": suppressed.iter().any(|s| s.address == landlord_mail::suppression::normalize(&row.email)),
                // Only owners change roles; the last owner stays one.
                "can_change_role": may(permissions::CHANGE_ROLES) && !(is_owner && owners <= 1),
                "can_remove": !me
                    && may(permissions::REMOVE_MEMBERS)
                    && (!is_owner || (may(permissions::CHANGE_ROLES) && owners > 1)),
                "can_transfer": !me && may(permissions::TRANSFER_OWNERSHIP) && !is_owner,
            })
        })
        .collect();
    let invitations: Vec<Value> = if may(permissions::INVITE_MEMBERS) {
        invitations::list(
            state.identity(),
            user,
            Some(InvitationStatus::Pending),
            None,
            LIST_LIMIT,
        )
        .await
        .map_err(api)?
        .iter()
        .map(|row| {
            let view = InvitationView::from(row);
            json!({
                "id": view.id,
                "email": view.email,
                "role": view.role.as_str(),
                "status": view.status.as_str(),
                "expires_at": view.expires_at,
            })
        })
        .collect()
    } else {
        Vec::new()
    };
    let roles: Vec<&str> = if may(permissions::CHANGE_ROLES) {
        vec!["member", "admin", "owner"]
    } else {
        vec!["member", "admin"]
    };
    let mut context = team_base(state, visitor, "Team", membership).await?;
    let status = errors.into_context(&mut context);
    context.insert("members".into(), members.into());
    context.insert(
        "mail_suppressed".into(),
        suppressed
            .iter()
            .map(|s| {
                json!({
                    "address": s.address,
                    "reason": s.reason,
                    "description": s.description,
                    "created_at": s.created_at,
                })
            })
            .collect::<Vec<Value>>()
            .into(),
    );
    context.insert("invitations".into(), invitations.into());
    context.insert("roles".into(), roles.into());
    context.insert("my_role".into(), user.role.as_str().into());
    context.insert("sole_owner".into(), sole_owner.into());
    context.insert("last_owner".into(), LAST_OWNER.into());
    context.insert(
        "can".into(),
        json!({
            "invite": may(permissions::INVITE_MEMBERS),
            "change_roles": may(permissions::CHANGE_ROLES),
        }),
    );
    context.insert(
        "form".into(),
        serde_json::to_value(form).map_err(ApiError::internal)?,
    );
    let page = Page::render("team.html", context)?;
    Ok(if status == StatusCode::OK {
        page
    } else {
        page.status(status)
    })
}

/// `GET /o/{organization_id}/team`.
pub async fn team(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    let form = InviteForm {
        role: "member".into(),
        ..InviteForm::default()
    };
    team_page(
        &state,
        &visitor,
        &user,
        &membership,
        &form,
        FormErrors::ok(),
    )
    .await
}

/// Back to the team page, which says what was `done` once.
async fn back_to_team(
    state: &Pages,
    visitor: &Visitor,
    user: &CurrentUser,
    done: &str,
) -> Result<Page, PageError> {
    let location = format!("/o/{}/team", user.organization_id);
    Page::redirect_with(state, visitor, location, Flash::notice(done_message(done))).await
}

/// `POST /o/{organization_id}/team/invitations`: `invitations::send`.
pub async fn invite(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<InviteForm>,
) -> Result<Page, PageError> {
    let (user, membership) =
        tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    permissions::require(&user, permissions::INVITE_MEMBERS).map_err(api)?;
    let result = match Role::parse(form.role.trim()) {
        Some(role) => invitations::send(state.identity(), &user, &client, &form.email, role).await,
        None => Err(ApiError::invalid_field(
            "role",
            "must be member, admin or owner",
        )),
    };
    match result {
        Ok(_) => back_to_team(&state, &visitor, &user, "invited").await,
        Err(error) => {
            let errors = FormErrors::from_api(error)?.general_to_field("email");
            team_page(&state, &visitor, &user, &membership, &form, errors).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
}

/// Answers an action: back to the team page, or the page with the
/// refusal (e.g. the last-owner rule) at its top.
async fn after(
    state: &Pages,
    visitor: &Visitor,
    (user, membership): &(CurrentUser, Membership),
    result: Result<&'static str, ApiError>,
) -> Result<Page, PageError> {
    match result {
        Ok(done) => back_to_team(state, visitor, user, done).await,
        Err(error) => {
            let errors = refusal(error)?;
            let form = InviteForm {
                role: "member".into(),
                ..InviteForm::default()
            };
            team_page(state, visitor, user, membership, &form, errors).await
        }
    }
}

fn invitation_id(text: &str) -> Result<InvitationId, PageError> {
    InvitationId::parse(text).ok_or(PageError::NotFound)
}

fn user_id(text: &str) -> Result<UserId, PageError> {
    UserId::parse(text).ok_or(PageError::NotFound)
}

/// `POST …/invitations/{invitation_id}/resend`: `invitations::resend`.
pub async fn resend(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, invitation)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let found = tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let id = invitation_id(&invitation)?;
    let result = invitations::resend(state.identity(), &found.0, &client, &id)
        .await
        .map(|_| "resent");
    after(&state, &visitor, &found, result).await
}

/// `POST …/invitations/{invitation_id}/cancel`: `invitations::cancel`.
pub async fn cancel(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, invitation)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let found = tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let id = invitation_id(&invitation)?;
    let result = invitations::cancel(state.identity(), &found.0, &client, &id)
        .await
        .map(|_| "cancelled");
    after(&state, &visitor, &found, result).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    csrf: String,
    role: String,
}

/// `POST …/members/{user_id}/role`: `members::set_role`.
pub async fn change_role(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, member)): Path<(String, String)>,
    Form(form): Form<RoleForm>,
) -> Result<Page, PageError> {
    let found = tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    permissions::require(&found.0, permissions::CHANGE_ROLES).map_err(api)?;
    let id = user_id(&member)?;
    let result = match Role::parse(form.role.trim()) {
        Some(role) => members::set_role(state.identity(), &found.0, &client, &id, role)
            .await
            .map(|_| "role"),
        None => Err(ApiError::invalid_field(
            "role",
            "must be member, admin or owner",
        )),
    };
    after(&state, &visitor, &found, result).await
}

/// The member `member` of the organization, for a confirmation page.
async fn member_of(
    state: &Pages,
    user: &CurrentUser,
    member: &str,
) -> Result<MemberView, PageError> {
    let id = user_id(member)?;
    let row = identity_store::member(state.identity().db.pool(), &user.organization_id, &id)
        .await
        .map_err(ApiError::from)?
        .ok_or(PageError::NotFound)?;
    Ok(MemberView::from(&row))
}

/// A confirmation page (`team_confirm.html`) for `action` on `member`.
async fn confirm_page(
    state: &Pages,
    visitor: &Visitor,
    membership: &Membership,
    action: &str,
    member: Option<&MemberView>,
    blocked: Option<&str>,
) -> Result<Page, PageError> {
    let title = match action {
        "remove" => "Remove a member",
        "transfer" => "Transfer ownership",
        _ => "Leave the organization",
    };
    let mut context = team_base(state, visitor, title, membership).await?;
    context.insert("action".into(), action.into());
    context.insert(
        "member".into(),
        serde_json::to_value(member).map_err(ApiError::internal)?,
    );
    context.insert("blocked".into(), blocked.into());
    let page = Page::render("team_confirm.html", context)?;
    Ok(if blocked.is_some() {
        page.status(StatusCode::CONFLICT)
    } else {
        page
    })
}

/// `GET …/members/{user_id}/remove`: the confirmation.
pub async fn remove_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, member)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    permissions::require(&user, permissions::REMOVE_MEMBERS).map_err(api)?;
    let member = member_of(&state, &user, &member).await?;
    confirm_page(&state, &visitor, &membership, "remove", Some(&member), None).await
}

/// `POST …/members/{user_id}/remove`: `members::remove`.
pub async fn remove(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, member)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let found = tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let id = user_id(&member)?;
    let result = members::remove(&state.keys, &found.0, &client, &id)
        .await
        .map(|_| "removed");
    after(&state, &visitor, &found, result).await
}

/// `GET …/members/{user_id}/transfer`: the confirmation.
pub async fn transfer_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, member)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    permissions::require(&user, permissions::TRANSFER_OWNERSHIP).map_err(api)?;
    let member = member_of(&state, &user, &member).await?;
    confirm_page(
        &state,
        &visitor,
        &membership,
        "transfer",
        Some(&member),
        None,
    )
    .await
}

/// `POST …/members/{user_id}/transfer`: `ownership::transfer`.
pub async fn transfer(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, member)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let found = tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    let result = ownership::transfer(state.identity(), &found.0, &client, &member)
        .await
        .map(|_| "transferred");
    after(&state, &visitor, &found, result).await
}

/// `GET /o/{organization_id}/team/leave`: the confirmation, or the
/// last-owner rule when it blocks.
pub async fn leave_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    let sole_owner = user.role == Role::Owner
        && members::list(state.identity(), &user, None, LIST_LIMIT)
            .await
            .map_err(api)?
            .iter()
            .filter(|m| m.role == Role::Owner)
            .count()
            <= 1;
    let blocked = sole_owner.then_some(LAST_OWNER);
    confirm_page(&state, &visitor, &membership, "leave", None, blocked).await
}

/// `POST /o/{organization_id}/team/leave`: `members::depart`. The browser
/// moves on to another organization of the person, or signs out when none
/// is left.
pub async fn leave(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let (user, membership) =
        tenant(&state, &visitor, &organization_id, Gate::Form(&form.csrf)).await?;
    if let Err(error) = members::depart(&state.keys, &user, &client).await {
        let blocked = match refusal(error)?.general {
            Some(message) => message,
            None => LAST_OWNER.to_string(),
        };
        return confirm_page(&state, &visitor, &membership, "leave", None, Some(&blocked)).await;
    }
    let pool = state.identity().db.pool();
    let next = identity_store::memberships(pool, &user.user_id)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .next();
    let Some(next) = next else {
        // No organization left: the session has nothing to act in.
        return Ok(Page::redirect("/sign-in").cookie(Some(state.clear_session_cookie())));
    };
    if visitor
        .user
        .as_ref()
        .is_some_and(|session| session.organization_id == user.organization_id)
    {
        identity_store::switch_session_organization(pool, &user.session_id, &next.organization.id)
            .await
            .map_err(ApiError::from)?;
    }
    Ok(Page::redirect(format!("/o/{}", next.organization.id)))
}
