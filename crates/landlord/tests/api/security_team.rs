//! Issue 9's team and mail items: a departing member's keys are revoked
//! (and can be transferred first), mail cannot be used to spam, one-time
//! tokens are not stored or logged in the clear — on SQLite and PostgreSQL.

use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::{app_with_smtp, token_of, PASSWORD};
use crate::support::app::{assert_error, json};
use crate::support::errors::assert_error_saying;
use crate::support::errors::assert_rate_limited;
use crate::support::keys::{assert_revoked, assert_works, create_key, long_key_cache, revocations};
use crate::support::mail::{assert_no_placeholder, jobs_dump, wait_for_mail_outbox};
use crate::support::team::Team;
use crate::support::{Backend, TestApp};

backend_tests!(
    a_removed_members_keys_are_revoked_listed_and_audited,
    a_member_who_leaves_takes_their_keys_along,
    a_key_transferred_before_removal_keeps_working,
    mails_to_people_without_a_name_read_right,
    invitations_to_one_address_stop_at_the_daily_limit,
    an_organization_sends_at_most_its_hourly_invitations,
    reset_and_verification_mails_are_limited_per_recipient,
    one_time_tokens_are_not_kept_in_the_clear_in_the_outbox,
);

async fn a_removed_members_keys_are_revoked_listed_and_audited(backend: Backend) {
    let team = Team::new_with(backend, "removed", long_key_cache).await;
    let app = &team.app;
    let members_key = create_key(app, &team.member, json!({"name": "member's backend"})).await;
    let members_second = create_key(app, &team.member, json!({"name": "member's cron"})).await;
    let owners_key = create_key(app, &team.owner, json!({"name": "owner's"})).await;
    // Used once: now cached as valid on this instance.
    assert_works(app, &members_key).await;

    let removed = app
        .delete_as(
            &format!("/api/v1/team/members/{}", team.member_id),
            &team.admin,
        )
        .await;
    assert_eq!(removed.status(), 200);
    let removed = json(removed).await["data"].clone();
    assert_eq!(removed["id"], team.member_id.as_str());
    let listed = removed["revoked_keys"].as_array().expect("revoked_keys");
    assert_eq!(listed.len(), 2, "{removed}");
    for (entry, key) in listed.iter().zip([&members_key, &members_second]) {
        assert_eq!(entry["id"], key["id"]);
        assert_eq!(entry["name"], key["name"]);
        assert_eq!(entry["prefix"], key["prefix"]);
        assert!(entry.get("key_hash").is_none(), "{entry}");
    }

    assert_revoked(app, &members_key).await;
    assert_revoked(app, &members_second).await;
    assert_works(app, &owners_key).await;

    let audited = revocations(app).await;
    assert_eq!(audited.len(), 2, "{audited:?}");
    for (id, actor, details) in &audited {
        assert!(
            [&members_key["id"], &members_second["id"]].contains(&&json!(id)),
            "{id}"
        );
        assert_eq!(actor.as_deref(), Some(team.admin_id.as_str()));
        assert_eq!(details["reason"], "member_removed", "{details}");
    }
    let keys = json(app.get_as("/api/v1/keys", &team.owner).await).await;
    let statuses: Vec<(&str, &str)> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["name"].as_str().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert!(statuses.contains(&("member's backend", "revoked")));
    assert!(statuses.contains(&("owner's", "active")));
}

async fn a_member_who_leaves_takes_their_keys_along(backend: Backend) {
    let team = Team::new_with(backend, "leaving", long_key_cache).await;
    let app = &team.app;
    let key = create_key(app, &team.member, json!({"name": "mine"})).await;
    let admins_key = create_key(app, &team.admin, json!({"name": "admin's"})).await;
    assert_works(app, &key).await;

    let left = app
        .post_as("/api/v1/team/leave", &team.member, &json!({}))
        .await;
    assert_eq!(left.status(), 200);
    let left = json(left).await["data"].clone();
    assert_eq!(
        left["revoked_keys"],
        json!([{ "id": key["id"], "name": "mine", "prefix": key["prefix"] }])
    );
    assert_revoked(app, &key).await;
    assert_works(app, &admins_key).await;

    let audited = revocations(app).await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(json!(audited[0].0), key["id"]);
    assert_eq!(audited[0].1.as_deref(), Some(team.member_id.as_str()));
    assert_eq!(audited[0].2["reason"], "member_left");
}

async fn a_key_transferred_before_removal_keeps_working(backend: Backend) {
    let team = Team::new_with(backend, "transfer-key", long_key_cache).await;
    let app = &team.app;
    let kept = create_key(app, &team.member, json!({"name": "kept"})).await;
    let dropped = create_key(app, &team.member, json!({"name": "dropped"})).await;
    let kept_id = kept["id"].as_str().unwrap();
    let path = format!("/api/v1/keys/{kept_id}/transfer");

    // A member may not take keys over, not even their own.
    assert_error_saying(
        app.post_as(&path, &team.member, &json!({})).await,
        403,
        "FORBIDDEN",
        "transfer_api_keys",
    )
    .await;
    // Another organization's owner finds no such key.
    let other = app
        .register("stranger-owner@example.com", "Stranger Inc")
        .await;
    let stranger = token_of(&other, "access_token");
    assert_error(
        app.post_as(&path, &stranger, &json!({})).await,
        404,
        "NOT_FOUND",
    )
    .await;

    let transferred = app.post_as(&path, &team.owner, &json!({})).await;
    assert_eq!(transferred.status(), 200);
    let transferred = json(transferred).await["data"].clone();
    assert_eq!(transferred["id"], kept["id"]);
    assert_eq!(transferred["created_by"], team.owner_id.as_str());
    assert_eq!(transferred["status"], "active");
    let (actor, details): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT actor_user_id, details FROM audit_log \
         WHERE action = 'api_key.transferred' AND target_id = $1",
    )
    .bind(kept_id)
    .fetch_one(app.db.pool())
    .await
    .expect("transfer audited");
    assert_eq!(actor.as_deref(), Some(team.owner_id.as_str()));
    let details: Value = serde_json::from_str(&details.unwrap()).unwrap();
    assert_eq!(details["from"], team.member_id.as_str());
    assert_eq!(details["to"], team.owner_id.as_str());

    let removed = app
        .delete_as(
            &format!("/api/v1/team/members/{}", team.member_id),
            &team.owner,
        )
        .await;
    assert_eq!(removed.status(), 200);
    let removed = json(removed).await["data"].clone();
    let listed: Vec<&Value> = removed["revoked_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["id"])
        .collect();
    assert_eq!(listed, vec![&dropped["id"]]);
    assert_works(app, &kept).await;
    assert_revoked(app, &dropped).await;

    // A revoked key cannot be transferred.
    assert_error(
        app.post_as(
            &format!("/api/v1/keys/{}/transfer", dropped["id"].as_str().unwrap()),
            &team.admin,
            &json!({}),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
}

async fn mails_to_people_without_a_name_read_right(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    // Registered without a name.
    let registered = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"organization_name": "Nameless Inc", "email": "nameless@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(registered.status(), 201);
    let owner = token_of(&json(registered).await["data"], "access_token");
    let verification = smtp
        .wait_for_subject("nameless@example.com", "Confirm your email")
        .await;
    assert_no_placeholder(&verification);
    assert!(verification.decoded().contains("Hello,"));

    let reset = app
        .post_json(
            "/api/v1/auth/request-password-reset",
            &json!({"email": "nameless@example.com"}),
        )
        .await;
    assert_eq!(reset.status(), 202);
    let reset = smtp
        .wait_for_subject("nameless@example.com", "Reset your password")
        .await;
    assert_no_placeholder(&reset);
    assert!(reset.decoded().contains("Hello,"));

    // The nameless owner invites: the invitation names their address.
    let invited = app
        .post_as(
            "/api/v1/team/invite",
            &owner,
            &json!({"email": "guest@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(invited.status(), 201);
    let invitation = smtp
        .wait_for_subject("guest@example.com", "invited you")
        .await;
    assert_no_placeholder(&invitation);
    assert_eq!(
        invitation.subject(),
        "nameless@example.com invited you to Nameless Inc"
    );
    assert!(invitation.decoded().contains("Hello,"));
}

async fn invitations_to_one_address_stop_at_the_daily_limit(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let limit = app.config.mails_per_recipient_per_day as usize;
    assert_eq!(limit, 10, "the default");
    let owner = token_of(
        &app.register("spam-owner@example.com", "Spam Inc").await,
        "access_token",
    );
    let mut sent = 0;
    for n in 0..40 {
        // The address in any letter case is one recipient.
        let email = if n % 2 == 0 {
            "victim@example.com"
        } else {
            "Victim@Example.COM"
        };
        let response = app
            .post_as(
                "/api/v1/team/invite",
                &owner,
                &json!({"email": email, "role": "member"}),
            )
            .await;
        if n < limit {
            assert_eq!(response.status(), 201, "invitation {n}");
            sent += 1;
        } else {
            let body = assert_rate_limited(response).await.0;
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("invitations a day"),
                "{body}"
            );
        }
    }
    assert_eq!(sent, limit);
    wait_for_mail_outbox(&app).await;
    let received = smtp
        .received()
        .into_iter()
        .filter(|m| {
            m.to.iter()
                .any(|t| t.eq_ignore_ascii_case("victim@example.com"))
        })
        .count();
    assert_eq!(received, limit, "the inbox got no more than the limit");
    // Another address is not affected.
    let other = app
        .post_as(
            "/api/v1/team/invite",
            &owner,
            &json!({"email": "someone-else@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(other.status(), 201);
}

async fn an_organization_sends_at_most_its_hourly_invitations(backend: Backend) {
    let smtp = crate::support::smtp::SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, |c| {
        crate::support::app::smtp_to(c, port);
        c.invitations_per_organization_per_hour = 5;
    })
    .await;
    let owner = token_of(
        &app.register("busy-owner@example.com", "Busy Inc").await,
        "access_token",
    );
    let invite = |token: String, n: usize| {
        let app = &app;
        async move {
            app.post_as(
                "/api/v1/team/invite",
                &token,
                &json!({"email": format!("person{n}@example.com"), "role": "member"}),
            )
            .await
        }
    };
    for n in 0..5 {
        assert_eq!(
            invite(owner.clone(), n).await.status(),
            201,
            "invitation {n}"
        );
    }
    let body = assert_rate_limited(invite(owner.clone(), 5).await).await.0;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("5 invitations an hour"),
        "{body}"
    );
    // Another organization has its own budget.
    let other = token_of(
        &app.register("calm-owner@example.com", "Calm Inc").await,
        "access_token",
    );
    assert_eq!(invite(other, 6).await.status(), 201);
    wait_for_mail_outbox(&app).await;
    assert_eq!(
        smtp.received()
            .iter()
            .filter(|m| m.subject().contains("invited you to Busy Inc"))
            .count(),
        5
    );
}

async fn reset_and_verification_mails_are_limited_per_recipient(backend: Backend) {
    let smtp = crate::support::smtp::SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, |c| {
        crate::support::app::smtp_to(c, port);
        c.mails_per_recipient_per_day = 3;
    })
    .await;
    // Registration sends the first verification mail.
    app.register("known@example.com", "Known Inc").await;
    let reset = |email: &'static str| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/request-password-reset",
                &json!({ "email": email }),
            )
            .await
        }
    };
    // A known and an unknown address are treated alike: three accepted,
    // then 429, so the limit tells nothing about the account.
    for email in ["known@example.com", "unknown@example.com"] {
        for n in 0..3 {
            assert_eq!(reset(email).await.status(), 202, "{email} {n}");
        }
        let body = assert_rate_limited(reset(email).await).await.0;
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("password reset mails a day"));
    }
    // The address in another letter case is the same recipient.
    assert_rate_limited(reset("KNOWN@example.com").await).await;

    // Verification: one went with the registration, two more fit.
    let verify = || async {
        app.post_json(
            "/api/v1/auth/request-email-verification",
            &json!({"email": "known@example.com"}),
        )
        .await
    };
    for _ in 0..2 {
        assert_eq!(verify().await.status(), 202);
    }
    assert_rate_limited(verify().await).await;

    wait_for_mail_outbox(&app).await;
    let to_known: Vec<String> = smtp
        .received()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == "known@example.com"))
        .map(|m| m.subject())
        .collect();
    assert_eq!(
        to_known
            .iter()
            .filter(|s| s.contains("Reset your password"))
            .count(),
        3,
        "{to_known:?}"
    );
    assert_eq!(
        to_known
            .iter()
            .filter(|s| s.contains("Confirm your email"))
            .count(),
        3,
        "{to_known:?}"
    );
}

async fn one_time_tokens_are_not_kept_in_the_clear_in_the_outbox(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let registered = app.register("sealed@example.com", "Sealed Inc").await;
    let owner = token_of(&registered, "access_token");
    let verification = smtp
        .wait_for_subject("sealed@example.com", "Confirm your email")
        .await
        .token()
        .expect("verification token");
    let accepted = app
        .post_json(
            "/api/v1/auth/request-password-reset",
            &json!({"email": "sealed@example.com"}),
        )
        .await;
    assert_eq!(accepted.status(), 202);
    let reset = smtp
        .wait_for_subject("sealed@example.com", "Reset your password")
        .await
        .token()
        .expect("reset token");
    let invited = app
        .post_as(
            "/api/v1/team/invite",
            &owner,
            &json!({"email": "sealed-guest@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(invited.status(), 201);
    let invitation = smtp
        .wait_for_subject("sealed-guest@example.com", "invited you")
        .await
        .token()
        .expect("invitation token");
    wait_for_mail_outbox(&app).await;

    let dump = jobs_dump(&app).await;
    for (what, token) in [
        ("verification", &verification),
        ("reset", &reset),
        ("invitation", &invitation),
    ] {
        assert!(
            !dump.contains(token.as_str()),
            "{what} token in the jobs table: {dump}"
        );
    }
    assert!(!dump.contains("token="), "{dump}");
    assert!(
        dump.contains("sealed") && dump.contains("v1:"),
        "the context is sealed: {dump}"
    );

    // The tokens that arrived by mail still work.
    let reset_done = app
        .post_json(
            "/api/v1/auth/reset-password",
            &json!({"token": reset, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(reset_done.status(), 200);
    assert_eq!(
        app.login("sealed@example.com", "a brand new passphrase")
            .await
            .status(),
        200
    );
    let verified = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": verification}))
        .await;
    assert_eq!(verified.status(), 200);
    let joined = app
        .post_json(
            "/api/v1/team/accept-invitation",
            &json!({"token": invitation, "password": PASSWORD}),
        )
        .await;
    assert_eq!(joined.status(), 200);
}

/// With SMTP configured, no log line of the server (at debug level) holds
/// a one-time token or a link with one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_no_token_reaches_the_log() {
    let smtp = crate::support::smtp::SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = crate::support::binary::landlord(&dir);
    command
        .env("LANDLORD_SMTP_HOST", "127.0.0.1")
        .env("LANDLORD_SMTP_PORT", smtp.port.to_string())
        .env("LANDLORD_SMTP_TLS", "none")
        .env("LANDLORD_LOG_LEVEL", "debug")
        .env("LANDLORD_APP_URL", "https://app.landlord.test");
    let mut server = tokio::task::spawn_blocking(move || crate::support::binary::start(command))
        .await
        .unwrap();
    let base = format!("http://{}", server.address);
    let client = reqwest::Client::new();
    let registered = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"organization_name": "Quiet Inc", "email": "quiet@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let owner = token_of(&json(registered).await["data"], "access_token");
    let reset = client
        .post(format!("{base}/api/v1/auth/request-password-reset"))
        .json(&json!({"email": "quiet@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 202);
    let invited = client
        .post(format!("{base}/api/v1/team/invite"))
        .bearer_auth(&owner)
        .json(&json!({"email": "quiet-guest@example.com", "role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), 201);
    let mut tokens = Vec::new();
    for (to, subject) in [
        ("quiet@example.com", "Confirm your email"),
        ("quiet@example.com", "Reset your password"),
        ("quiet-guest@example.com", "invited you"),
    ] {
        let mail = smtp.wait_for_subject(to, subject).await;
        tokens.push(mail.token().expect("a token in the mail"));
    }
    crate::support::binary::send_sigterm(&server.child);
    let status = tokio::task::spawn_blocking(move || {
        let status = crate::support::binary::wait_for_exit(&mut server.child);
        let mut lines = server.startup_lines.clone();
        lines.extend(server.lines.try_iter());
        (status, lines)
    })
    .await
    .unwrap();
    let (status, lines) = status;
    assert!(status.success());
    assert!(
        lines.iter().any(|l| l.contains("mail delivered over SMTP")),
        "the log is captured: {lines:#?}"
    );
    for line in &lines {
        for token in &tokens {
            assert!(!line.contains(token.as_str()), "a token in the log: {line}");
        }
        assert!(
            !line.contains("token="),
            "a link with a token in the log: {line}"
        );
    }
}
