//! The team pages in a real browser: the owner invites a member on the
//! team page, the invitation mail arrives (test SMTP), the member accepts
//! in a second browser creating the account in place, the owner sees them
//! on the team page and changes their role; the member's account and
//! sessions pages; the settings page. Every page in the light and the dark
//! scheme, the team page also 375 px wide.
//!
//! SQLite only: the pages call the same feature functions as the API,
//! whose storage the API tests (and `console_team`) cover on both backends.

use crate::support::accounts::{app_with_smtp, PASSWORD};
use crate::support::browser::{Browser, Viewport};
use crate::support::smtp::ReceivedMail;
use crate::support::Backend;

const TEST: &str = "console_team_browser::an_owner_invites_a_member_who_joins_in_a_second_browser";

/// The mail's `/accept-invitation?token=…` link, on the test server.
fn invitation_path(mail: &ReceivedMail) -> String {
    let text = mail.decoded();
    assert!(
        text.contains("/accept-invitation?token="),
        "no link in:\n{text}"
    );
    let token = mail.token().expect("a token in the mail");
    format!("/accept-invitation?token={token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_invites_a_member_who_joins_in_a_second_browser() {
    let Some(owner) = Browser::start(TEST).await else {
        return;
    };
    let (app, smtp) = app_with_smtp(Backend::Sqlite).await;

    owner.goto(&app, "/sign-up").await;
    owner.fill("Organization name", "Acme Teams").await;
    owner.fill("Your name", "Ada").await;
    owner.fill("Email", "ada@teams.test").await;
    owner.fill("Password", PASSWORD).await;
    owner.click_button("Sign up").await;
    owner.wait_for_text("Requests this month").await;
    let overview = owner.current_path().await;
    let team = format!("{overview}/team");

    // The team page: the owner alone, the last-owner rule said.
    owner
        .visit(&app, &team, "always keeps at least one owner", "team-alone")
        .await;
    // A bad address: the error at the field, what was typed kept.
    owner.fill("Email", "carol-at-teams").await;
    owner.click_button("Send the invitation").await;
    owner.wait_for_text("Is not a valid email address.").await;
    assert_eq!(
        owner.text_of("#email-error").await,
        "Is not a valid email address."
    );
    owner.screenshot_themes("team-invite-bad-email").await;
    owner.fill("Email", "carol@teams.test").await;
    owner.choose("Role", "member").await;
    owner.click_button("Send the invitation").await;
    owner.wait_for_text("Invitation sent").await;
    owner.wait_for_text("carol@teams.test").await;
    owner.screenshot_themes("team-invited").await;

    // The mail, opened in a second browser: the account created in place.
    let mail = smtp
        .wait_for_subject("carol@teams.test", "invited you to")
        .await;
    let Some(member) = Browser::start(TEST).await else {
        return;
    };
    member
        .visit(
            &app,
            &invitation_path(&mail),
            "Create your account to join",
            "team-accept-invitation",
        )
        .await;
    member.fill("Your name", "Carol").await;
    member.fill("Password", PASSWORD).await;
    member.click_button("Create the account and join").await;
    member.wait_for_text("Acme Teams").await;
    member.wait_for_text("Requests this month").await;
    // A member reads the settings, no form.
    member
        .visit(
            &app,
            &format!("{overview}/settings"),
            "Only owners and admins change these settings",
            "settings-member",
        )
        .await;

    // The owner sees Carol and makes her an admin.
    owner
        .visit(&app, &team, "carol@teams.test", "team-with-member")
        .await;
    owner.wait_for_text("No pending invitations").await;
    owner.choose("Role of carol@teams.test", "admin").await;
    owner
        .click_button("Change the role of carol@teams.test")
        .await;
    owner.wait_for_text("Role changed.").await;
    owner.screenshot_themes("team-role-changed").await;
    // The confirmation steps, left unconfirmed.
    owner.click_link("Remove carol@teams.test").await;
    owner.wait_for_text("Remove Carol?").await;
    owner.screenshot_themes("team-remove-confirm").await;
    owner.click_link("Cancel").await;
    owner.wait_for_path(&team).await;
    owner
        .click_link("Transfer ownership to carol@teams.test")
        .await;
    owner.wait_for_text("Transfer ownership to Carol?").await;
    owner.screenshot_themes("team-transfer-confirm").await;
    owner.click_link("Cancel").await;
    owner.wait_for_path(&team).await;
    owner.set_viewport(Viewport::Phone).await;
    owner.screenshot_themes("team-phone").await;
    owner.set_viewport(Viewport::Desktop).await;
    owner
        .visit(
            &app,
            &format!("{overview}/settings"),
            "Organization settings",
            "settings-owner",
        )
        .await;
    owner
        .visit(
            &app,
            &format!("{team}/leave"),
            "Leave Acme Teams?",
            "team-leave-blocked",
        )
        .await;

    // The member's view: the team as an admin, her account and sessions.
    member
        .visit(&app, &team, "You are an admin", "team-as-admin")
        .await;
    member
        .visit(&app, "/account", "carol@teams.test", "account")
        .await;
    member.fill("Current password", "not the password").await;
    member.fill("New password", "a new long password").await;
    member.click_button("Change the password").await;
    member.wait_for_text("Is not the current password.").await;
    member.screenshot_themes("account-wrong-password").await;
    member
        .visit(&app, "/account/sessions", "This browser", "sessions")
        .await;
    member.click_button("Sign out this browser").await;
    member.wait_for_path("/sign-in").await;

    member.close().await;
    owner.close().await;
}
