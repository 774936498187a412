//! Organizations and teams: invitations, the permission matrix, owners,
//! tenant isolation and the audit log — on SQLite and PostgreSQL.

use serde_json::json;

use crate::backend_tests;
use crate::support::accounts::{app_with_smtp, token_of, PASSWORD};
use crate::support::app::json;
use crate::support::errors::{assert_error, assert_error_saying, assert_invalid_field};
use crate::support::team::{
    check_cell, invite, join, owner_of, team_with_history, Neighbour, Team,
};
use crate::support::Backend;

backend_tests!(
    a_new_person_accepts_an_invitation_from_the_mail_and_gets_an_account,
    an_existing_user_signs_in_to_accept_and_no_one_else_can,
    inviting_a_member_again_is_a_conflict,
    a_declined_invitation_adds_no_member,
    invitations_refuse_bad_input_naming_the_field,
    answered_cancelled_and_expired_invitations_are_refused,
    every_role_may_view_the_team_and_the_organization,
    only_owners_and_admins_invite_update_the_organization_and_read_the_audit_log,
    only_owners_change_roles_or_invite_owners,
    only_owners_and_admins_cancel_invitations,
    only_owners_and_admins_remove_members_and_admins_not_owners,
    only_owners_transfer_ownership,
    the_last_owner_cannot_be_removed_demoted_or_leave,
    ownership_can_be_transferred_and_members_can_leave,
    organization_settings_can_be_read_and_changed,
    another_organizations_ids_answer_404_and_change_nothing,
    unknown_member_and_invitation_ids_answer_404,
    lists_and_reads_show_only_ones_own_organization,
    the_audit_log_lists_team_changes_newest_first_with_actor_and_time,
    the_audit_log_filters_by_action_actor_and_time,
    lists_are_paginated_with_cursors,
    concurrent_invitations_of_one_address_leave_one_pending,
);

async fn concurrent_invitations_of_one_address_leave_one_pending(backend: Backend) {
    let app = crate::support::TestApp::spawn(backend).await;
    let owner = owner_of(&app, "rush-boss@example.com", "Rush").await;
    // Eight at once (the address may be mailed ten times a day): each
    // replaces the one before, so one stays pending.
    let body = json!({"email": "twice@example.com", "role": "member"});
    let invitations = (0..8).map(|_| app.post_as("/api/v1/team/invite", &owner, &body));
    for answer in futures::future::join_all(invitations).await {
        assert_eq!(answer.status(), 201, "{}", json(answer).await);
    }
    let listed = json(
        app.get_as("/api/v1/team/invitations?status=pending", &owner)
            .await,
    )
    .await;
    let pending = listed["data"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{listed}");
}

async fn a_new_person_accepts_an_invitation_from_the_mail_and_gets_an_account(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let owner = owner_of(&app, "boss@example.com", "Acme").await;

    // The mail arrives over SMTP, the invitation creates the account.
    let sent = app
        .post_as(
            "/api/v1/team/invite",
            &owner,
            &json!({"email": "New@Example.com", "role": "admin"}),
        )
        .await;
    assert_eq!(sent.status(), 201);
    let invitation = json(sent).await["data"].clone();
    assert_eq!(invitation["email"], "new@example.com");
    assert_eq!(invitation["status"], "pending");
    let mail = smtp
        .wait_for_subject("new@example.com", "invited you to Acme")
        .await;
    assert!(mail
        .decoded()
        .contains("https://app.landlord.test/accept-invitation?token="));
    let token = mail.token().unwrap();
    let accepted = app
        .post_json(
            "/api/v1/team/accept-invitation",
            &json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let accepted = json(accepted).await["data"].clone();
    assert_eq!(accepted["organization"]["name"], "Acme");
    assert_eq!(accepted["role"], "admin");
    let new_access = token_of(&accepted["session"], "access_token");
    let me = json(app.get_as("/api/v1/auth/me", &new_access).await).await;
    assert_eq!(me["data"]["role"], "admin");
    assert_eq!(me["data"]["user"]["email_verified"], true);
    // The token is spent.
    let again = app
        .post_json(
            "/api/v1/team/accept-invitation",
            &json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_error(again, 422, "VALIDATION_ERROR").await;
}

async fn an_existing_user_signs_in_to_accept_and_no_one_else_can(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let owner = owner_of(&app, "boss@example.com", "Acme").await;
    let (new_access, _) = join(&app, &smtp, &owner, "new@example.com", "admin").await;

    // An existing user (with an organization of their own) signs in to accept.
    let existing = app.register("dev@example.com", "Devco").await;
    let dev_access = token_of(&existing, "access_token");
    let token = invite(&app, &smtp, &owner, "dev@example.com", "member").await;
    let anonymous = app
        .post_json("/api/v1/team/accept-invitation", &json!({"token": token}))
        .await;
    assert_error_saying(anonymous, 401, "UNAUTHORIZED", "sign in").await;
    // Someone else signed in cannot take it.
    let stranger = app
        .post_as(
            "/api/v1/team/accept-invitation",
            &new_access,
            &json!({"token": token}),
        )
        .await;
    assert_error(stranger, 401, "UNAUTHORIZED").await;
    let accepted = app
        .post_as(
            "/api/v1/team/accept-invitation",
            &dev_access,
            &json!({"token": token}),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let accepted = json(accepted).await["data"].clone();
    assert!(accepted["session"].is_null());
    assert_eq!(accepted["role"], "member");
    let orgs = json(app.get_as("/api/v1/auth/organizations", &dev_access).await).await;
    assert_eq!(orgs["data"].as_array().unwrap().len(), 2);
    let members = json(app.get_as("/api/v1/team/members", &owner).await).await;
    let emails: Vec<&str> = members["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["boss@example.com", "new@example.com", "dev@example.com"]
    );
}

async fn inviting_a_member_again_is_a_conflict(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let owner = owner_of(&app, "boss@example.com", "Acme").await;
    join(&app, &smtp, &owner, "dev@example.com", "member").await;
    let dup = app
        .post_as(
            "/api/v1/team/invite",
            &owner,
            &json!({"email": "dev@example.com", "role": "member"}),
        )
        .await;
    assert_error_saying(dup, 409, "CONFLICT", "already a member").await;
}

async fn a_declined_invitation_adds_no_member(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let owner = owner_of(&app, "boss@example.com", "Acme").await;
    join(&app, &smtp, &owner, "new@example.com", "admin").await;
    let token = invite(&app, &smtp, &owner, "maybe@example.com", "member").await;
    let declined = app
        .post_json("/api/v1/team/decline-invitation", &json!({"token": token}))
        .await;
    assert_eq!(declined.status(), 200);
    assert_eq!(json(declined).await["data"]["status"], "declined");

    let members = json(app.get_as("/api/v1/team/members", &owner).await).await;
    let emails: Vec<&str> = members["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["boss@example.com", "new@example.com"],
        "the one who declined is not a member"
    );
}

async fn invitations_refuse_bad_input_naming_the_field(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let owner = owner_of(&app, "boss@example.com", "Acme").await;
    for (body, field) in [
        (json!({"email": "nope", "role": "member"}), "email"),
        (json!({"email": "x@example.com", "role": "king"}), "role"),
        (json!({"role": "member"}), "email"),
    ] {
        assert_invalid_field(
            app.post_as("/api/v1/team/invite", &owner, &body).await,
            field,
        )
        .await;
    }
    let token = invite(&app, &smtp, &owner, "weak@example.com", "member").await;
    let weak = app
        .post_json(
            "/api/v1/team/accept-invitation",
            &json!({"token": token, "password": "short"}),
        )
        .await;
    assert_invalid_field(weak, "password").await;
    let missing = app
        .post_json("/api/v1/team/accept-invitation", &json!({"token": token}))
        .await;
    assert_invalid_field(missing, "password").await;
}

async fn answered_cancelled_and_expired_invitations_are_refused(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let owner = token_of(
        &app.register("own@example.com", "Own").await,
        "access_token",
    );

    let cancelled = invite(&app, &smtp, &owner, "c@example.com", "member").await;
    let list = json(
        app.get_as("/api/v1/team/invitations?status=pending", &owner)
            .await,
    )
    .await;
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.delete_as(&format!("/api/v1/team/invitations/{id}"), &owner)
            .await
            .status(),
        200
    );
    assert_error(
        app.delete_as(&format!("/api/v1/team/invitations/{id}"), &owner)
            .await,
        409,
        "CONFLICT",
    )
    .await;

    let declined = invite(&app, &smtp, &owner, "d@example.com", "member").await;
    app.post_json(
        "/api/v1/team/decline-invitation",
        &json!({"token": declined}),
    )
    .await;

    let expired = invite(&app, &smtp, &owner, "e@example.com", "member").await;
    sqlx::query("UPDATE invitations SET expires_at = 0 WHERE email = $1")
        .bind("e@example.com")
        .execute(app.db.pool())
        .await
        .unwrap();

    for (token, reason) in [
        (&cancelled, "cancelled"),
        (&declined, "declined"),
        (&expired, "expired"),
    ] {
        let accept = app
            .post_json(
                "/api/v1/team/accept-invitation",
                &json!({"token": token, "password": PASSWORD}),
            )
            .await;
        let body = assert_error(accept, 422, "VALIDATION_ERROR").await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains(reason),
            "{reason}: {body}"
        );
        let decline = app
            .post_json("/api/v1/team/decline-invitation", &json!({"token": token}))
            .await;
        assert_error(decline, 422, "VALIDATION_ERROR").await;
    }
    let listed = json(app.get_as("/api/v1/team/invitations", &owner).await).await;
    let expired_view = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "e@example.com")
        .unwrap()
        .clone();
    assert_eq!(expired_view["status"], "expired");
    let unknown = app
        .post_json(
            "/api/v1/team/accept-invitation",
            &json!({"token": "0".repeat(64), "password": PASSWORD}),
        )
        .await;
    assert_error(unknown, 422, "VALIDATION_ERROR").await;
    let bad_status = app
        .get_as("/api/v1/team/invitations?status=weird", &owner)
        .await;
    assert_error(bad_status, 422, "VALIDATION_ERROR").await;
    // No account was created by the refusals.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email <> $1",
            &["own@example.com"]
        )
        .await,
        0
    );
}

/// Permission matrix: viewing the team and the organization.
async fn every_role_may_view_the_team_and_the_organization(backend: Backend) {
    let team = Team::new(backend, "matrix").await;
    let app = &team.app;
    let url = |p: &str| app.url(p);
    let c = &app.client;

    check_cell(
        &team,
        "view team",
        "view_team",
        &["owner", "admin", "member"],
        |t| c.get(url("/api/v1/team/members")).bearer_auth(t),
    )
    .await;
    check_cell(
        &team,
        "view organization",
        "view_dashboard",
        &["owner", "admin", "member"],
        |t| c.get(url("/api/v1/organization")).bearer_auth(t),
    )
    .await;
}

/// Permission matrix: inviting, listing invitations, updating the organization, the audit log.
async fn only_owners_and_admins_invite_update_the_organization_and_read_the_audit_log(
    backend: Backend,
) {
    let team = Team::new(backend, "matrix").await;
    let app = &team.app;
    let url = |p: &str| app.url(p);
    let c = &app.client;

    let n = std::sync::atomic::AtomicU32::new(0);
    check_cell(
        &team,
        "invite",
        "invite_members",
        &["owner", "admin"],
        |t| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            c.post(url("/api/v1/team/invite"))
                .bearer_auth(t)
                .json(&json!({"email": format!("x{i}@example.com"), "role": "member"}))
        },
    )
    .await;
    check_cell(
        &team,
        "list invitations",
        "invite_members",
        &["owner", "admin"],
        |t| c.get(url("/api/v1/team/invitations")).bearer_auth(t),
    )
    .await;
    check_cell(
        &team,
        "update organization",
        "update_organization",
        &["owner", "admin"],
        |t| {
            c.patch(url("/api/v1/organization"))
                .bearer_auth(t)
                .json(&json!({"name": "Renamed"}))
        },
    )
    .await;
    check_cell(
        &team,
        "audit log",
        "view_audit_log",
        &["owner", "admin"],
        |t| c.get(url("/api/v1/audit-log")).bearer_auth(t),
    )
    .await;
}

/// Permission matrix: granting roles.
async fn only_owners_change_roles_or_invite_owners(backend: Backend) {
    let team = Team::new(backend, "matrix").await;
    let app = &team.app;
    let url = |p: &str| app.url(p);
    let c = &app.client;

    // Changing roles: only owners (set the member's role to what it is).
    let member_role = format!("/api/v1/team/members/{}/role", team.member_id);
    check_cell(&team, "change roles", "change_roles", &["owner"], |t| {
        c.put(url(&member_role))
            .bearer_auth(t)
            .json(&json!({"role": "member"}))
    })
    .await;
    // Inviting an owner is granting a role: owners only.
    assert_error_saying(
        app.post_as(
            "/api/v1/team/invite",
            &team.admin,
            &json!({"email": "boss2@example.com", "role": "owner"}),
        )
        .await,
        403,
        "FORBIDDEN",
        "change_roles",
    )
    .await;
}

/// Permission matrix: cancelling invitations.
async fn only_owners_and_admins_cancel_invitations(backend: Backend) {
    let team = Team::new(backend, "matrix").await;
    let app = &team.app;

    // Cancelling invitations: each role tries its own fresh invitation.
    for (role, token, allowed) in [
        ("owner", &team.owner, true),
        ("admin", &team.admin, true),
        ("member", &team.member, false),
    ] {
        invite(
            app,
            &team.smtp,
            &team.owner,
            &format!("cancel-{role}@example.com"),
            "member",
        )
        .await;
        let list = json(
            app.get_as(
                "/api/v1/team/invitations?status=pending&limit=1",
                &team.owner,
            )
            .await,
        )
        .await;
        let id = list["data"][0]["id"].as_str().unwrap().to_string();
        let response = app
            .delete_as(&format!("/api/v1/team/invitations/{id}"), token)
            .await;
        if allowed {
            assert_eq!(response.status(), 200, "{role} cancels");
        } else {
            assert_error(response, 403, "FORBIDDEN").await;
        }
    }
}

/// Permission matrix: removing members.
async fn only_owners_and_admins_remove_members_and_admins_not_owners(backend: Backend) {
    let team = Team::new(backend, "matrix").await;
    let app = &team.app;

    // Removing members: owner and admin may; member may not.
    let (_, victim1) = join(
        app,
        &team.smtp,
        &team.owner,
        "victim1@example.com",
        "member",
    )
    .await;
    let (_, victim2) = join(
        app,
        &team.smtp,
        &team.owner,
        "victim2@example.com",
        "member",
    )
    .await;
    assert_error(
        app.delete_as(&format!("/api/v1/team/members/{victim1}"), &team.member)
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_eq!(
        app.delete_as(&format!("/api/v1/team/members/{victim1}"), &team.admin)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.delete_as(&format!("/api/v1/team/members/{victim2}"), &team.owner)
            .await
            .status(),
        200
    );
    // An admin cannot remove an owner.
    assert_error_saying(
        app.delete_as(
            &format!("/api/v1/team/members/{}", team.owner_id),
            &team.admin,
        )
        .await,
        403,
        "FORBIDDEN",
        "change_roles",
    )
    .await;
}

/// Permission matrix: transferring ownership.
async fn only_owners_transfer_ownership(backend: Backend) {
    let team = Team::new(backend, "matrix").await;
    let app = &team.app;

    // Transferring ownership: only owners.
    let body = json!({"user_id": team.member_id});
    let path = "/api/v1/team/transfer-ownership";
    assert_error(
        app.post_as(path, &team.admin, &body).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.post_as(path, &team.member, &body).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_eq!(app.post_as(path, &team.owner, &body).await.status(), 200);
}

async fn the_last_owner_cannot_be_removed_demoted_or_leave(backend: Backend) {
    let team = Team::new(backend, "last").await;
    let app = &team.app;
    let owner_path = format!("/api/v1/team/members/{}", team.owner_id);
    assert_error(
        app.delete_as(&owner_path, &team.owner).await,
        409,
        "CONFLICT",
    )
    .await;
    let demote = app
        .client
        .put(app.url(&format!("{owner_path}/role")))
        .bearer_auth(&team.owner)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_error_saying(demote, 409, "CONFLICT", "at least one owner").await;
    assert_error(
        app.post_as("/api/v1/team/leave", &team.owner, &json!({}))
            .await,
        409,
        "CONFLICT",
    )
    .await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'",
            &[&team.org_id]
        )
        .await,
        1
    );

    // With a second owner, the first may step down.
    let promote = app
        .client
        .put(app.url(&format!("/api/v1/team/members/{}/role", team.admin_id)))
        .bearer_auth(&team.owner)
        .json(&json!({"role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(promote.status(), 200);
    let demote = app
        .client
        .put(app.url(&format!("{owner_path}/role")))
        .bearer_auth(&team.owner)
        .json(&json!({"role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(demote.status(), 200);
    assert_eq!(json(demote).await["data"]["role"], "member");
    // The demoted owner's token now carries the member role.
    assert_error(
        app.get_as("/api/v1/audit-log", &team.owner).await,
        403,
        "FORBIDDEN",
    )
    .await;
}

async fn ownership_can_be_transferred_and_members_can_leave(backend: Backend) {
    let team = Team::new(backend, "transfer").await;
    let app = &team.app;
    let transferred = app
        .post_as(
            "/api/v1/team/transfer-ownership",
            &team.owner,
            &json!({"user_id": team.admin_id}),
        )
        .await;
    assert_eq!(transferred.status(), 200);
    assert_eq!(json(transferred).await["data"]["role"], "owner");
    let me = json(app.get_as("/api/v1/auth/me", &team.owner).await).await;
    assert_eq!(me["data"]["role"], "admin");
    assert_error(
        app.post_as(
            "/api/v1/team/transfer-ownership",
            &team.admin,
            &json!({"user_id": team.admin_id}),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    )
    .await;

    let left = app
        .post_as("/api/v1/team/leave", &team.member, &json!({}))
        .await;
    assert_eq!(left.status(), 200);
    assert_error(
        app.get_as("/api/v1/auth/me", &team.member).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let members = json(app.get_as("/api/v1/team/members", &team.admin).await).await;
    assert_eq!(members["data"].as_array().unwrap().len(), 2);
}

async fn organization_settings_can_be_read_and_changed(backend: Backend) {
    let team = Team::new(backend, "settings").await;
    let app = &team.app;
    let org = json(app.get_as("/api/v1/organization", &team.member).await).await;
    assert_eq!(org["data"]["name"], "settings Inc");
    assert_eq!(org["data"]["billing_email"], "settings-owner@example.com");
    let updated = app
        .client
        .patch(app.url("/api/v1/organization"))
        .bearer_auth(&team.admin)
        .json(&json!({"name": "  Settings Ltd ", "billing_email": "Billing@Example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let updated = json(updated).await["data"].clone();
    assert_eq!(updated["name"], "Settings Ltd");
    assert_eq!(updated["billing_email"], "billing@example.com");
    for (body, field) in [
        (json!({"billing_email": "nope"}), "billing_email"),
        (json!({"name": ""}), "name"),
        (json!({}), "body"),
    ] {
        let response = app
            .client
            .patch(app.url("/api/v1/organization"))
            .bearer_auth(&team.owner)
            .json(&body)
            .send()
            .await
            .unwrap();
        let error = assert_error(response, 422, "VALIDATION_ERROR").await;
        assert_eq!(
            error["error"]["details"]["fields"][0]["field"], field,
            "{body}"
        );
    }
}

async fn another_organizations_ids_answer_404_and_change_nothing(backend: Backend) {
    let a = Team::new(backend, "alpha").await;
    let app = &a.app;
    // Organization B lives in the same server.
    let b = Neighbour::beside(&a).await;
    let before = b.snapshot(app).await;

    // A's owner (who may do everything in A) aims at B's ids.
    let owner = &a.owner;
    let c = &app.client;
    let requests: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "remove B's member",
            c.delete(app.url(&format!("/api/v1/team/members/{}", b.member_id)))
                .bearer_auth(owner),
        ),
        (
            "remove B's owner",
            c.delete(app.url(&format!("/api/v1/team/members/{}", b.owner_id)))
                .bearer_auth(owner),
        ),
        (
            "change B's member role",
            c.put(app.url(&format!("/api/v1/team/members/{}/role", b.member_id)))
                .bearer_auth(owner)
                .json(&json!({"role": "admin"})),
        ),
        (
            "cancel B's invitation",
            c.delete(app.url(&format!("/api/v1/team/invitations/{}", b.invitation_id)))
                .bearer_auth(owner),
        ),
        (
            "transfer to B's member",
            c.post(app.url("/api/v1/team/transfer-ownership"))
                .bearer_auth(owner)
                .json(&json!({"user_id": b.member_id})),
        ),
        (
            "revoke B's session",
            c.delete(app.url(&format!("/api/v1/auth/sessions/{}", b.session_id)))
                .bearer_auth(owner),
        ),
        (
            "switch into B",
            c.post(app.url("/api/v1/auth/switch-organization"))
                .bearer_auth(owner)
                .json(&json!({"organization_id": b.org_id})),
        ),
    ];
    for (label, request) in requests {
        let response = request.send().await.unwrap();
        let body = assert_error(response, 404, "NOT_FOUND").await;
        // Exactly like an id that does not exist.
        assert!(
            !body.to_string().contains(&b.org_id),
            "{label} leaks B: {body}"
        );
    }
    app.client
        .patch(app.url("/api/v1/organization"))
        .bearer_auth(owner)
        .json(&json!({"name": "Alpha renamed"}))
        .send()
        .await
        .unwrap();

    assert_eq!(b.snapshot(app).await, before, "B is unchanged");
}

async fn unknown_member_and_invitation_ids_answer_404(backend: Backend) {
    let a = Team::new(backend, "alpha").await;
    let app = &a.app;
    let owner = &a.owner;
    let c = &app.client;
    let random = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/team/members/{random}"),
        format!("/api/v1/team/invitations/{random}"),
    ] {
        assert_error(
            c.delete(app.url(&path))
                .bearer_auth(owner)
                .send()
                .await
                .unwrap(),
            404,
            "NOT_FOUND",
        )
        .await;
    }
}

async fn lists_and_reads_show_only_ones_own_organization(backend: Backend) {
    let a = Team::new(backend, "alpha").await;
    let app = &a.app;
    let b = Neighbour::beside(&a).await;
    let owner = &a.owner;
    // Lists and reads show only A.
    let members = json(app.get_as("/api/v1/team/members", owner).await).await;
    assert!(members["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| !m["email"].as_str().unwrap().starts_with("beta")));
    let invitations = json(app.get_as("/api/v1/team/invitations", owner).await).await;
    assert!(invitations["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| !i["email"].as_str().unwrap().starts_with("beta")));
    let audit = json(
        app.get_as(&format!("/api/v1/audit-log?actor={}", b.owner_id), owner)
            .await,
    )
    .await;
    assert_eq!(
        audit["data"].as_array().unwrap().len(),
        0,
        "B's audit entries stay in B"
    );
    let org = json(app.get_as("/api/v1/organization", owner).await).await;
    assert_eq!(org["data"]["id"], a.org_id.as_str());
}

async fn the_audit_log_lists_team_changes_newest_first_with_actor_and_time(backend: Backend) {
    let team = team_with_history(backend).await;
    let app = &team.app;
    let log = json(app.get_as("/api/v1/audit-log?limit=100", &team.admin).await).await;
    let entries = log["data"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "team.invited",
        "team.invitation_accepted",
        "team.invitation_declined",
        "team.invitation_cancelled",
        "team.role_changed",
        "team.member_left",
        "team.member_removed",
        "team.ownership_transferred",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    // Newest first, each with its actor and time.
    let times: Vec<&str> = entries
        .iter()
        .map(|e| e["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
    let transfer = entries
        .iter()
        .find(|e| e["action"] == "team.ownership_transferred")
        .unwrap();
    assert_eq!(transfer["actor_user_id"], team.owner_id.as_str());
    assert_eq!(transfer["actor_email"], "trail-owner@example.com");
    assert_eq!(transfer["target_id"], team.admin_id.as_str());
    let cancel = entries
        .iter()
        .find(|e| e["action"] == "team.invitation_cancelled")
        .unwrap();
    assert_eq!(cancel["actor_user_id"], team.admin_id.as_str());
}

async fn the_audit_log_filters_by_action_actor_and_time(backend: Backend) {
    let team = team_with_history(backend).await;
    let app = &team.app;
    // Filters.
    let only = json(
        app.get_as("/api/v1/audit-log?action=team.invited", &team.admin)
            .await,
    )
    .await;
    assert!(only["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["action"] == "team.invited"));
    assert!(only["data"].as_array().unwrap().len() >= 3);
    let by_admin = json(
        app.get_as(
            &format!("/api/v1/audit-log?actor={}", team.admin_id),
            &team.admin,
        )
        .await,
    )
    .await;
    assert!(by_admin["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor_user_id"] == team.admin_id.as_str()));
    let future = json(
        app.get_as("/api/v1/audit-log?from=2999-01-01T00:00:00Z", &team.admin)
            .await,
    )
    .await;
    assert_eq!(future["data"].as_array().unwrap().len(), 0);
    let past = json(
        app.get_as("/api/v1/audit-log?to=2000-01-01T00:00:00Z", &team.admin)
            .await,
    )
    .await;
    assert_eq!(past["data"].as_array().unwrap().len(), 0);
    assert_invalid_field(
        app.get_as("/api/v1/audit-log?from=yesterday", &team.admin)
            .await,
        "from",
    )
    .await;
}

async fn lists_are_paginated_with_cursors(backend: Backend) {
    let team = Team::new(backend, "pages").await;
    let app = &team.app;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/audit-log?limit=2&cursor={c}"),
            None => "/api/v1/audit-log?limit=2".to_string(),
        };
        let page = json(app.get_as(&path, &team.owner).await).await;
        let ids: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        assert!(ids.len() <= 2);
        seen.extend(ids);
        match page["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let all = json(app.get_as("/api/v1/audit-log?limit=100", &team.owner).await).await;
    let all: Vec<String> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, all, "pages cover the list once, in order");
    assert!(all.len() > 4);

    let first = json(
        app.get_as("/api/v1/team/members?limit=2", &team.owner)
            .await,
    )
    .await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let next = first["meta"]["next_cursor"].as_str().unwrap().to_string();
    let second = json(
        app.get_as(
            &format!("/api/v1/team/members?limit=2&cursor={next}"),
            &team.owner,
        )
        .await,
    )
    .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert!(second["meta"].get("next_cursor").is_none());
    for bad in ["limit=0", "limit=101", "limit=abc", "cursor=nope"] {
        assert_error(
            app.get_as(&format!("/api/v1/team/members?{bad}"), &team.owner)
                .await,
            422,
            "VALIDATION_ERROR",
        )
        .await;
    }
}
