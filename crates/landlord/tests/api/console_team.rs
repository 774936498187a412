//! The console's team, settings, account and sessions pages over HTTP:
//! each page keeps its API route's permission and tenant checks (the
//! refused actions absent from the page too), CSRF on every form, errors
//! next to their fields with what was typed kept, the last-owner rule in
//! words, and sessions shared with `/auth/sessions`.

use crate::backend_tests;
use crate::console::{owner_and_member, Browser};
use crate::support::accounts::{data, session_of, PASSWORD};
use crate::support::{Backend, TestApp};

async fn role_of(app: &TestApp, organization: &str, user: &str) -> Option<String> {
    sqlx::query_scalar("SELECT role FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(organization)
        .bind(user)
        .fetch_optional(app.db.pool())
        .await
        .expect("the member's role")
}

/// Ada owns Acme; Bob (his own organization too) is a member of Acme.
async fn acme(app: &TestApp) -> (Browser<'_>, Browser<'_>, String, String) {
    owner_and_member(app, "team.test", "Acme", "member").await
}

async fn team_page_follows_the_permission_matrix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, bob, org, bob_id) = acme(&app).await;
    let team = format!("/o/{org}/team");

    // The owner sees every member and every action.
    let page = ada.get(&team).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("ada@team.test") && page.body.contains("bob@team.test"));
    assert!(page.body.contains("Send the invitation"));
    assert!(page
        .body
        .contains(&format!("/team/members/{bob_id}/role\"")));
    assert!(page
        .body
        .contains(&format!("/team/members/{bob_id}/remove\"")));
    assert!(page
        .body
        .contains(&format!("/team/members/{bob_id}/transfer\"")));

    // A member sees the team, and none of the actions.
    let seen = bob.get(&team).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.body.contains("ada@team.test"));
    for absent in [
        "Send the invitation",
        "Pending invitations",
        "/role\"",
        "/remove\"",
        "/transfer\"",
    ] {
        assert!(!seen.body.contains(absent), "{absent} shown to a member");
    }
    // …and is refused when trying anyway.
    let csrf = seen.csrf();
    let ada_id = app.user_id("ada@team.test").await;
    let refused = bob
        .post(
            &format!("{team}/invitations"),
            &[
                ("csrf", &csrf),
                ("email", "eve@team.test"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("Not allowed"));
    let refused = bob
        .post(
            &format!("{team}/members/{bob_id}/role"),
            &[("csrf", &csrf), ("role", "owner")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        bob.get(&format!("{team}/members/{ada_id}/remove"))
            .await
            .status,
        403
    );
    let refused = bob
        .post(
            &format!("{team}/members/{ada_id}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 403);
    let refused = bob
        .post(
            &format!("{team}/members/{bob_id}/transfer"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        role_of(&app, &org, &bob_id).await.as_deref(),
        Some("member")
    );
    assert_eq!(role_of(&app, &org, &ada_id).await.as_deref(), Some("owner"));
    let invitations = app
        .count(
            "SELECT COUNT(*) FROM invitations WHERE email = $1",
            &["eve@team.test"],
        )
        .await;
    assert_eq!(invitations, 0);

    // The owner changes Bob's role, and it shows.
    let csrf = page.csrf();
    let changed = ada
        .post(
            &format!("{team}/members/{bob_id}/role"),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_eq!(role_of(&app, &org, &bob_id).await.as_deref(), Some("admin"));
    // An admin invites but does not change roles.
    let as_admin = bob.get(&team).await;
    assert!(as_admin.body.contains("Send the invitation"));
    assert!(!as_admin.body.contains("/role\""));

    // Removing asks first, then removes; Bob no longer sees Acme.
    let confirm = ada.get(&format!("{team}/members/{bob_id}/remove")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Remove the member"));
    let removed = ada
        .post(
            &format!("{team}/members/{bob_id}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(role_of(&app, &org, &bob_id).await, None);
    assert_eq!(bob.get(&team).await.status, 404);
}

async fn invitations_are_sent_resent_and_cancelled_with_errors_at_their_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, _bob, org, _) = acme(&app).await;
    let team = format!("/o/{org}/team");

    // Not an email: the error at the field, what was typed kept.
    let bad = ada
        .submit(
            &team,
            &format!("{team}/invitations"),
            &[("email", "not-an-email"), ("role", "admin")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("email").is_some(), "{}", bad.body);
    assert_eq!(bad.input_value("email").as_deref(), Some("not-an-email"));
    assert!(bad.body.contains("<option value=\"admin\" selected>"));

    // Without a CSRF token: refused, nothing sent.
    let forged = ada
        .post(
            &format!("{team}/invitations"),
            &[("email", "carol@team.test"), ("role", "member")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("This form has expired"));
    let count = "SELECT COUNT(*) FROM invitations WHERE email = $1";
    assert_eq!(app.count(count, &["carol@team.test"]).await, 0);

    // Already a member: said at the email field.
    let member = ada
        .submit(
            &team,
            &format!("{team}/invitations"),
            &[("email", "bob@team.test"), ("role", "member")],
        )
        .await;
    assert_eq!(member.status, 409);
    assert!(
        member
            .field_error("email")
            .is_some_and(|e| e.contains("already a member")),
        "{}",
        member.body
    );

    let sent = ada
        .submit(
            &team,
            &format!("{team}/invitations"),
            &[("email", "carol@team.test"), ("role", "admin")],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let page = ada
        .get(sent.location.as_deref().expect("back to the team"))
        .await;
    assert!(page.body.contains("Invitation sent"));
    assert!(page.body.contains("carol@team.test"));
    let id: String = sqlx::query_scalar("SELECT id FROM invitations WHERE email = $1")
        .bind("carol@team.test")
        .fetch_one(app.db.pool())
        .await
        .expect("the invitation");

    let resent = ada
        .post(
            &format!("{team}/invitations/{id}/resend"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(resent.status, 303, "{}", resent.body);
    let pending = "SELECT COUNT(*) FROM invitations WHERE email = $1 AND status = 'pending'";
    assert_eq!(app.count(pending, &["carol@team.test"]).await, 1);
    let id: String =
        sqlx::query_scalar("SELECT id FROM invitations WHERE email = $1 AND status = 'pending'")
            .bind("carol@team.test")
            .fetch_one(app.db.pool())
            .await
            .expect("the new invitation");
    let cancelled = ada
        .post(
            &format!("{team}/invitations/{id}/cancel"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(cancelled.status, 303);
    assert_eq!(app.count(pending, &["carol@team.test"]).await, 0);
    let page = ada.get(&team).await;
    assert!(page.body.contains("No pending invitations."));
}

async fn the_last_owner_rule_is_explained(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, bob, org, bob_id) = acme(&app).await;
    let team = format!("/o/{org}/team");
    let ada_id = app.user_id("ada@team.test").await;
    let rule = "always keeps at least one owner";

    let page = ada.get(&team).await;
    assert!(page.body.contains(rule), "{}", page.body);
    let leave = ada.get(&format!("{team}/leave")).await;
    assert_eq!(leave.status, 409);
    assert!(leave.body.contains(rule));
    assert!(!leave.body.contains("Leave the organization</button>"));
    let csrf = page.csrf();
    let refused = ada.post(&format!("{team}/leave"), &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains(rule));
    let refused = ada
        .post(
            &format!("{team}/members/{ada_id}/role"),
            &[("csrf", &csrf), ("role", "member")],
        )
        .await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains(rule), "{}", refused.body);
    assert_eq!(role_of(&app, &org, &ada_id).await.as_deref(), Some("owner"));

    // Transfer (confirmed), then Ada leaves; a member leaves freely.
    let confirm = ada.get(&format!("{team}/members/{bob_id}/transfer")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Transfer ownership"));
    let moved = ada
        .post(
            &format!("{team}/members/{bob_id}/transfer"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    assert_eq!(role_of(&app, &org, &bob_id).await.as_deref(), Some("owner"));
    assert_eq!(role_of(&app, &org, &ada_id).await.as_deref(), Some("admin"));
    let leave = ada.get(&format!("{team}/leave")).await;
    assert_eq!(leave.status, 200);
    let left = ada.post(&format!("{team}/leave"), &[("csrf", &csrf)]).await;
    assert_eq!(left.status, 303, "{}", left.body);
    // Acme was her only organization: signed out.
    assert_eq!(left.location.as_deref(), Some("/sign-in"));
    assert_eq!(role_of(&app, &org, &ada_id).await, None);
    let bob_page = bob.get(&team).await;
    assert!(!bob_page.body.contains("ada@team.test"));
}

async fn another_organizations_user_gets_404_on_every_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_ada, _bob, org, bob_id) = acme(&app).await;
    let eve = Browser::new(&app);
    let eve_org = eve.sign_up("eve@team.test", "Evil").await;
    for path in [
        format!("/o/{org}/team"),
        format!("/o/{org}/team/leave"),
        format!("/o/{org}/team/members/{bob_id}/remove"),
        format!("/o/{org}/team/members/{bob_id}/transfer"),
        format!("/o/{org}/settings"),
    ] {
        let seen = eve.get(&path).await;
        assert_eq!(seen.status, 404, "{path}");
        assert!(!seen.body.contains("Acme"), "{path}");
    }
    let csrf = eve.get("/account").await.csrf();
    let posted = eve
        .post(
            &format!("/o/{org}/settings"),
            &[("csrf", &csrf), ("name", "Pwned")],
        )
        .await;
    assert_eq!(posted.status, 404);
    let posted = eve
        .post(
            &format!("/o/{org}/team/invitations"),
            &[("csrf", &csrf), ("email", "x@team.test"), ("role", "owner")],
        )
        .await;
    assert_eq!(posted.status, 404);
    // Acme's member through Eve's own organization: not hers, 404.
    for action in ["remove", "transfer"] {
        let posted = eve
            .post(
                &format!("{eve_org}/team/members/{bob_id}/{action}"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(posted.status, 404, "{action}: {}", posted.body);
        assert!(
            eve.get(&format!("{eve_org}/team/members/{bob_id}/{action}"))
                .await
                .status
                == 404
        );
    }
    assert!(role_of(&app, &org, &bob_id).await.is_some());
    // Signed out: the sign-in page.
    for path in ["/account", "/account/sessions"] {
        let away = Browser::new(&app).get(path).await;
        assert_eq!(away.location.as_deref(), Some("/sign-in"), "{path}");
    }
}

async fn settings_rename_for_owners_and_read_only_for_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, bob, org, _) = acme(&app).await;
    let settings = format!("/o/{org}/settings");

    let page = ada.get(&settings).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.input_value("name").as_deref(), Some("Acme"));
    let bad = ada
        .submit(
            &settings,
            &settings,
            &[("name", "   "), ("billing_email", "billing@acme.test")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("name").is_some(), "{}", bad.body);
    assert_eq!(
        bad.input_value("billing_email").as_deref(),
        Some("billing@acme.test")
    );
    let saved = ada
        .submit(
            &settings,
            &settings,
            &[
                ("name", "Acme Corp"),
                ("billing_email", "billing@acme.test"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = ada.get(saved.location.as_deref().expect("back")).await;
    assert!(page.body.contains("Settings saved."));
    assert_eq!(page.input_value("name").as_deref(), Some("Acme Corp"));

    // A member reads, no form; posting anyway is refused.
    let seen = bob.get(&settings).await;
    assert_eq!(seen.status, 200);
    assert!(seen.body.contains("Acme Corp") && seen.body.contains("billing@acme.test"));
    assert!(!seen.body.contains(&format!("action=\"{settings}\"")));
    let refused = bob
        .post(&settings, &[("csrf", &seen.csrf()), ("name", "Bob's now")])
        .await;
    assert_eq!(refused.status, 403);
    // Without a token, even the owner is refused.
    let forged = ada.post(&settings, &[("name", "Forged")]).await;
    assert_eq!(forged.status, 403);
    let name: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
        .bind(&org)
        .fetch_one(app.db.pool())
        .await
        .expect("the name");
    assert_eq!(name, "Acme Corp");
}

async fn account_changes_name_and_password_like_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = Browser::new(&app);
    ada.sign_up("ada@account.test", "Acme").await;
    let other = Browser::new(&app);
    assert_eq!(
        other.sign_in("ada@account.test", PASSWORD).await.status,
        303
    );

    let page = ada.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.input_value("name").as_deref(), Some("Ada"));
    let renamed = ada
        .submit("/account", "/account/name", &[("name", "Ada Lovelace")])
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);
    assert_eq!(
        ada.get("/account").await.input_value("name").as_deref(),
        Some("Ada Lovelace")
    );
    let long = "x".repeat(101);
    let bad = ada
        .submit("/account", "/account/name", &[("name", &long)])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("name").is_some(), "{}", bad.body);
    assert_eq!(bad.input_value("name").as_deref(), Some(long.as_str()));

    let wrong = ada
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", "not the password"),
                ("new_password", "a new long password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(
        wrong.field_error("current_password").as_deref(),
        Some("Is not the current password.")
    );
    let weak = ada
        .submit(
            "/account",
            "/account/password",
            &[("current_password", PASSWORD), ("new_password", "short")],
        )
        .await;
    assert_eq!(weak.status, 422);
    assert!(weak.field_error("new_password").is_some());
    assert!(!weak.body.contains(PASSWORD));

    let changed = ada
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a new long password"),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    // This browser stays; the other session is signed out, like the API.
    assert_eq!(ada.get("/account").await.status, 200);
    let away = other.get("/account").await;
    assert_eq!(away.location.as_deref(), Some("/sign-in"));
    assert_eq!(
        Browser::new(&app)
            .sign_in("ada@account.test", "a new long password")
            .await
            .status,
        303
    );
}

async fn sessions_page_marks_this_browser_and_revokes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = Browser::new(&app);
    ada.sign_up("ada@sessions.test", "Acme").await;
    let second = Browser::new(&app);
    assert_eq!(
        second.sign_in("ada@sessions.test", PASSWORD).await.status,
        303
    );
    let third = Browser::new(&app);
    assert_eq!(
        third.sign_in("ada@sessions.test", PASSWORD).await.status,
        303
    );

    let page = ada.get("/account/sessions").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body.matches("This browser</strong>").count(), 1);
    assert_eq!(page.body.matches("/revoke\">").count(), 3 + 2);

    // Revoke the second browser's session by its id (the API's list).
    let api = session_of(&app, "ada@sessions.test").await;
    let token = api["access_token"].as_str().expect("access token");
    let listed = data(app.get_as("/api/v1/auth/sessions", token).await).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(4), "{listed}");
    let second_page = second.get("/account/sessions").await;
    let marker = "action=\"/account/sessions/";
    let own = second_page
        .body
        .split(marker)
        .find(|part| part.contains("Sign out this browser"))
        .and_then(|part| part.split('/').next())
        .expect("the second browser's session id")
        .to_string();
    let revoked = ada
        .post(
            &format!("/account/sessions/{own}/revoke"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert_eq!(
        second.get("/account").await.location.as_deref(),
        Some("/sign-in")
    );
    // Another person's session id is not found.
    let missing = ada
        .post(
            "/account/sessions/01900000-0000-7000-8000-000000000000/revoke",
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(missing.status, 404);

    // Every other session: the API's token and the third browser go.
    let others = ada
        .post(
            "/account/sessions/revoke",
            &[("csrf", &page.csrf()), ("which", "others")],
        )
        .await;
    assert_eq!(others.status, 303);
    assert_eq!(ada.get("/account").await.status, 200);
    assert_eq!(third.get("/account").await.status, 303);

    // This browser's own session: signed out, cookie cleared.
    let page = ada.get("/account/sessions").await;
    let own = page
        .body
        .split(marker)
        .find(|part| part.contains("Sign out this browser"))
        .and_then(|part| part.split('/').next())
        .expect("this browser's session id")
        .to_string();
    let out = ada
        .post(
            &format!("/account/sessions/{own}/revoke"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/sign-in"));
    assert!(ada.cookie("landlord_session").is_none());
    assert_eq!(
        ada.get("/account").await.location.as_deref(),
        Some("/sign-in")
    );

    // A session revoked over the API signs the browser out.
    let fourth = Browser::new(&app);
    assert_eq!(
        fourth.sign_in("ada@sessions.test", PASSWORD).await.status,
        303
    );
    assert_eq!(fourth.get("/account/sessions").await.status, 200);
    let api = session_of(&app, "ada@sessions.test").await;
    let token = api["access_token"].as_str().expect("access token");
    let all = app.delete_as("/api/v1/auth/sessions", token).await;
    assert!(all.status().is_success());
    assert_eq!(
        fourth.get("/account/sessions").await.location.as_deref(),
        Some("/sign-in")
    );
}

async fn leaving_moves_the_browser_to_another_organization(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, bob, org, bob_id) = acme(&app).await;
    let team = format!("/o/{org}/team");

    // Bob leaves Acme (not his session's organization): back to his own.
    let page = bob.get(&format!("{team}/leave")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Leave the organization"));
    let left = bob
        .post(&format!("{team}/leave"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(left.status, 303, "{}", left.body);
    let home = left.location.expect("his own organization");
    assert_ne!(home, format!("/o/{org}"));
    assert_eq!(bob.get(&home).await.status, 200);
    assert_eq!(bob.get(&team).await.status, 404);

    // Ada, in Bob's organization too, hands Acme over and leaves it, her
    // session's organization: the browser moves on, still signed in.
    let ada_id = app.user_id("ada@team.test").await;
    let bobs = home.trim_start_matches("/o/").to_string();
    app.add_membership(&bobs, &ada_id, "member").await;
    app.add_membership(&org, &bob_id, "member").await;
    let page = ada.get(&team).await;
    let moved = ada
        .post(
            &format!("{team}/members/{bob_id}/transfer"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    let left = ada
        .post(&format!("{team}/leave"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(left.status, 303, "{}", left.body);
    assert_eq!(left.location.as_deref(), Some(home.as_str()));
    assert_eq!(ada.get(&home).await.status, 200);
    assert_eq!(ada.get("/").await.location.as_deref(), Some(home.as_str()));
}

backend_tests!(
    team_page_follows_the_permission_matrix,
    invitations_are_sent_resent_and_cancelled_with_errors_at_their_fields,
    the_last_owner_rule_is_explained,
    another_organizations_user_gets_404_on_every_page,
    settings_rename_for_owners_and_read_only_for_members,
    account_changes_name_and_password_like_the_api,
    sessions_page_marks_this_browser_and_revokes,
    leaving_moves_the_browser_to_another_organization,
);
