//! Accounts, sessions, email verification, password reset, brute-force
//! limits, mail through the outbox, and the audit entries they write — on
//! SQLite and PostgreSQL, with mail received by a test SMTP server.

use std::time::Duration;

use serde_json::json;

use crate::backend_tests;
use crate::support::accounts::{app_with_smtp, session_of, token_of, verified_account, PASSWORD};
use crate::support::app::{assert_error, json, smtp_to};
use crate::support::errors::{assert_error_saying, assert_invalid_field};
use crate::support::eventually::eventually;
use crate::support::smtp::SmtpServer;
use crate::support::{Backend, TestApp};

backend_tests!(
    registering_answers_a_session_and_mails_a_verification_link,
    the_mailed_link_verifies_the_address_and_a_welcome_follows,
    refreshing_rotates_the_refresh_token,
    a_reused_refresh_token_revokes_the_whole_family,
    signing_out_ends_the_session_at_once,
    password_reset_end_to_end,
    requests_answer_identically_for_known_and_unknown_emails,
    expired_and_reused_tokens_are_refused,
    repeated_wrong_passwords_are_throttled_and_the_limit_lifts,
    failed_logins_are_also_limited_per_client_address,
    mail_is_delivered_after_an_smtp_outage,
    sensitive_actions_are_audited,
    registration_refuses_bad_input_naming_the_field,
    users_in_several_organizations_choose_the_active_one,
    sessions_can_be_listed_and_revoked,
    changing_the_password_revokes_the_other_sessions,
    signed_in_routes_refuse_missing_or_bad_tokens,
    a_user_renames_themselves,
);

async fn a_user_renames_themselves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let access = token_of(
        &app.register("ren@example.com", "Renamers").await,
        "access_token",
    );
    let patch = |token: Option<&str>, body: serde_json::Value| {
        let mut request = app.client.patch(app.url("/api/v1/auth/me")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let renamed = json(
        patch(Some(&access), json!({"name": "  Ada Lovelace "}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(renamed["data"]["user"]["name"], "Ada Lovelace", "{renamed}");
    let me = json(app.get_as("/api/v1/auth/me", &access).await).await;
    assert_eq!(me["data"]["user"]["name"], "Ada Lovelace");
    // Blank, too long, missing or not a string: 422 naming the field; the
    // name unchanged.
    for body in [
        json!({"name": "   "}),
        json!({"name": "n".repeat(101)}),
        json!({}),
        json!({"name": 7}),
    ] {
        let refused = patch(Some(&access), body.clone()).await.unwrap();
        assert_error(refused, 422, "VALIDATION_ERROR").await;
    }
    let me = json(app.get_as("/api/v1/auth/me", &access).await).await;
    assert_eq!(me["data"]["user"]["name"], "Ada Lovelace");
    assert_error(
        patch(None, json!({"name": "X"})).await.unwrap(),
        401,
        "UNAUTHORIZED",
    )
    .await;
    // Audited.
    let audit = json(
        app.get_as("/api/v1/audit-log?action=auth.name_changed", &access)
            .await,
    )
    .await;
    assert_eq!(audit["data"].as_array().map(Vec::len), Some(1), "{audit}");
}

async fn registering_answers_a_session_and_mails_a_verification_link(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let registered = app.register("Ada@Example.com", "Acme").await;
    assert_eq!(registered["token_type"], "Bearer");
    assert_eq!(registered["expires_in"], 900);
    assert_eq!(registered["user"]["email"], "ada@example.com");
    assert_eq!(registered["user"]["email_verified"], false);
    assert_eq!(registered["organization"]["name"], "Acme");
    assert_eq!(registered["organization"]["plan"], "free");
    assert_eq!(registered["role"], "owner");

    // The verification mail arrives over SMTP, in HTML and plain text.
    let mail = smtp
        .wait_for_subject("ada@example.com", "Confirm your email")
        .await;
    assert_eq!(mail.from, "no-reply@landlord.test");
    assert!(mail.data.contains("text/plain") && mail.data.contains("text/html"));
    let decoded = mail.decoded();
    assert!(
        decoded.contains("https://app.landlord.test/verify-email?token="),
        "{decoded}"
    );
    assert!(mail.token().is_some(), "a token in the mail");
}

async fn the_mailed_link_verifies_the_address_and_a_welcome_follows(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    app.register("Ada@Example.com", "Acme").await;
    let token = smtp
        .wait_for_subject("ada@example.com", "Confirm your email")
        .await
        .token()
        .expect("a token in the mail");
    let verified = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(verified.status(), 200);
    assert_eq!(json(verified).await["data"]["email_verified"], true);
    // Verification is followed by the welcome mail.
    smtp.wait_for_subject("ada@example.com", "Welcome to Acme")
        .await;

    let session = session_of(&app, "ada@example.com").await;
    let access = token_of(&session, "access_token");
    let me = json(app.get_as("/api/v1/auth/me", &access).await).await;
    assert_eq!(me["data"]["user"]["email_verified"], true);
    assert_eq!(me["data"]["organization"]["name"], "Acme");
}

async fn refreshing_rotates_the_refresh_token(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    verified_account(&app, &smtp, "ada@example.com", "Acme").await;
    let session = session_of(&app, "ada@example.com").await;
    let first_refresh = token_of(&session, "refresh_token");
    let refreshed = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first_refresh}),
        )
        .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed = json(refreshed).await["data"].clone();
    let second_refresh = token_of(&refreshed, "refresh_token");
    assert_ne!(first_refresh, second_refresh);
    let second_access = token_of(&refreshed, "access_token");
    assert_eq!(
        app.get_as("/api/v1/auth/me", &second_access).await.status(),
        200
    );
}

async fn a_reused_refresh_token_revokes_the_whole_family(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    verified_account(&app, &smtp, "ada@example.com", "Acme").await;
    let session = session_of(&app, "ada@example.com").await;
    let first_refresh = token_of(&session, "refresh_token");
    let refreshed = json(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first_refresh}),
        )
        .await,
    )
    .await["data"]
        .clone();
    let second_refresh = token_of(&refreshed, "refresh_token");
    let second_access = token_of(&refreshed, "access_token");

    // The old refresh token presented again revokes the whole family.
    let reused = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first_refresh}),
        )
        .await;
    assert_error_saying(reused, 401, "UNAUTHORIZED", "already used").await;
    assert_error(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": second_refresh}),
        )
        .await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(
        app.get_as("/api/v1/auth/me", &second_access).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
}

async fn signing_out_ends_the_session_at_once(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    verified_account(&app, &smtp, "ada@example.com", "Acme").await;
    let session = session_of(&app, "ada@example.com").await;
    let access = token_of(&session, "access_token");
    let logout = app
        .post_as("/api/v1/auth/logout", &access, &json!({}))
        .await;
    assert_eq!(logout.status(), 200);
    assert_error(
        app.get_as("/api/v1/auth/me", &access).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": token_of(&session, "refresh_token")}),
        )
        .await,
        401,
        "UNAUTHORIZED",
    )
    .await;
}

async fn password_reset_end_to_end(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    app.register("grace@example.com", "Navy").await;
    let old_session = json(app.login("grace@example.com", PASSWORD).await).await["data"].clone();

    let requested = app
        .post_json(
            "/api/v1/auth/request-password-reset",
            &json!({"email": "grace@example.com"}),
        )
        .await;
    assert_eq!(requested.status(), 202);
    let mail = smtp
        .wait_for_subject("grace@example.com", "Reset your password")
        .await;
    assert!(mail
        .decoded()
        .contains("https://app.landlord.test/reset-password?token="));
    let token = mail.token().expect("reset token");

    // A weak password is refused without spending the token.
    let weak = app
        .post_json(
            "/api/v1/auth/reset-password",
            &json!({"token": token, "new_password": "short"}),
        )
        .await;
    assert_invalid_field(weak, "new_password").await;

    let reset = app
        .post_json(
            "/api/v1/auth/reset-password",
            &json!({"token": token, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(reset.status(), 200);

    // Old password out, new one in, old sessions revoked.
    assert_error(
        app.login("grace@example.com", PASSWORD).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(
        app.login("grace@example.com", "a brand new passphrase")
            .await
            .status(),
        200
    );
    assert_error(
        app.get_as("/api/v1/auth/me", &token_of(&old_session, "access_token"))
            .await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    // The token works once.
    let again = app
        .post_json(
            "/api/v1/auth/reset-password",
            &json!({"token": token, "new_password": "yet another passphrase"}),
        )
        .await;
    assert_error_saying(again, 422, "VALIDATION_ERROR", "already been used").await;
}

async fn requests_answer_identically_for_known_and_unknown_emails(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    app.register("known@example.com", "Known").await;
    smtp.wait_for("known@example.com", 1).await; // the verification mail
    for path in [
        "/api/v1/auth/request-password-reset",
        "/api/v1/auth/request-email-verification",
    ] {
        let known = app
            .post_json(path, &json!({"email": "known@example.com"}))
            .await;
        let unknown = app
            .post_json(path, &json!({"email": "nobody@example.com"}))
            .await;
        assert_eq!(known.status(), unknown.status(), "{path}");
        assert_eq!(known.status(), 202);
        let (mut known, mut unknown) = (json(known).await, json(unknown).await);
        assert_eq!(
            known.as_object_mut().map(|o| o.remove("meta")),
            unknown.as_object_mut().map(|o| o.remove("meta"))
        );
        assert_eq!(known, unknown, "{path}");
    }
    // Only the real account got mail: a reset and a new verification.
    smtp.wait_for("known@example.com", 3).await;
    assert!(smtp
        .received()
        .iter()
        .all(|m| !m.to.contains(&"nobody@example.com".to_string())));
    // A wrong password and an unknown account fail alike.
    let wrong = assert_error(
        app.login("known@example.com", "not the password").await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let unknown = assert_error(
        app.login("nobody@example.com", "not the password").await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(wrong["error"]["message"], unknown["error"]["message"]);
}

async fn expired_and_reused_tokens_are_refused(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    app.register("lin@example.com", "Lin").await;
    let token = smtp.wait_for("lin@example.com", 1).await[0]
        .token()
        .unwrap();

    // Expire every outstanding token, as 24 hours would.
    sqlx::query("UPDATE one_time_tokens SET expires_at = 0")
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_error_saying(
        app.post_json("/api/v1/auth/verify-email", &json!({"token": token}))
            .await,
        422,
        "VALIDATION_ERROR",
        "expired",
    )
    .await;

    // A fresh one works once.
    app.post_json(
        "/api/v1/auth/request-email-verification",
        &json!({"email": "lin@example.com"}),
    )
    .await;
    let mails = smtp.wait_for("lin@example.com", 2).await;
    let fresh = mails[1].token().unwrap();
    assert_ne!(fresh, token);
    assert_eq!(
        app.post_json("/api/v1/auth/verify-email", &json!({"token": fresh}))
            .await
            .status(),
        200
    );
    assert_error_saying(
        app.post_json("/api/v1/auth/verify-email", &json!({"token": fresh}))
            .await,
        422,
        "VALIDATION_ERROR",
        "already been used",
    )
    .await;

    assert_invalid_field(
        app.post_json(
            "/api/v1/auth/verify-email",
            &json!({"token": "f".repeat(64)}),
        )
        .await,
        "token",
    )
    .await;
    assert_error(
        app.post_json(
            "/api/v1/auth/reset-password",
            &json!({"token": "nope", "new_password": "long enough pass"}),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
}

async fn repeated_wrong_passwords_are_throttled_and_the_limit_lifts(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.login_max_failures_per_account = 3;
        c.login_failure_window_secs = 2;
    })
    .await;
    app.register("eve@example.com", "Eve").await;
    for _ in 0..3 {
        assert_error(
            app.login("eve@example.com", "wrong password").await,
            401,
            "UNAUTHORIZED",
        )
        .await;
    }
    let limited = app.login("eve@example.com", "wrong password").await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_error(limited, 429, "RATE_LIMITED").await;
    // Even the right password waits out the limit…
    assert_error(
        app.login("eve@example.com", PASSWORD).await,
        429,
        "RATE_LIMITED",
    )
    .await;
    // …which lifts by itself.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.login("eve@example.com", PASSWORD).await.status(), 200);
}

async fn failed_logins_are_also_limited_per_client_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.login_max_failures_per_account = 100;
        c.login_max_failures_per_ip = 4;
    })
    .await;
    app.register("real@example.com", "Real").await;
    // Guessing across many accounts from one address…
    for n in 0..4 {
        let email = format!("guess{n}@example.com");
        assert_error(
            app.login(&email, "hunter22hunter22").await,
            401,
            "UNAUTHORIZED",
        )
        .await;
    }
    // …locks that address out, whatever the account.
    let limited = app.login("real@example.com", PASSWORD).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "RATE_LIMITED").await;
}

async fn mail_is_delivered_after_an_smtp_outage(backend: Backend) {
    // Reserve a port with nothing listening on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(backend, |c| smtp_to(c, port)).await;
    app.register("ops@example.com", "Ops").await;

    // Delivery fails and is retried with backoff while the server is down.
    let (status, error) = eventually(
        "a retry of the mail job",
        Duration::from_secs(10),
        async || {
            let (attempts, status, error): (i64, String, Option<String>) = sqlx::query_as(
                "SELECT attempts, status, last_error FROM jobs WHERE kind = 'mail.send'",
            )
            .fetch_one(app.db.pool())
            .await
            .unwrap();
            (attempts >= 2).then_some((status, error))
        },
    )
    .await;
    // Queued for a retry (or being retried right now), not lost.
    assert!(status == "pending" || status == "running", "{status}");
    if status == "pending" {
        assert!(error.unwrap_or_default().contains("SMTP"));
    }

    // The server comes back; the mail arrives.
    let smtp = SmtpServer::start_on(port).await;
    let mail = smtp
        .wait_for_subject("ops@example.com", "Confirm your email")
        .await;
    assert!(mail.token().is_some());
    eventually(
        "the mail job marked done",
        Duration::from_secs(5),
        async || {
            let (status,): (String,) =
                sqlx::query_as("SELECT status FROM jobs WHERE kind = 'mail.send'")
                    .fetch_one(app.db.pool())
                    .await
                    .unwrap();
            (status == "done").then_some(())
        },
    )
    .await;
}

async fn sensitive_actions_are_audited(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let registered = app.register("audit@example.com", "Audited").await;
    let user_id = registered["user"]["id"].as_str().unwrap().to_string();
    let org_id = registered["organization"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_error(
        app.login("audit@example.com", "wrong password").await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let session = json(app.login("audit@example.com", PASSWORD).await).await["data"].clone();
    let access = token_of(&session, "access_token");
    let change = app
        .post_as(
            "/api/v1/auth/change-password",
            &access,
            &json!({"current_password": PASSWORD, "new_password": "changed passphrase"}),
        )
        .await;
    assert_eq!(change.status(), 200);
    app.post_json(
        "/api/v1/auth/request-password-reset",
        &json!({"email": "audit@example.com"}),
    )
    .await;
    let token = smtp
        .wait_for_subject("audit@example.com", "Reset")
        .await
        .token()
        .unwrap();
    app.post_json(
        "/api/v1/auth/reset-password",
        &json!({"token": token, "new_password": "reset passphrase"}),
    )
    .await;
    let session =
        json(app.login("audit@example.com", "reset passphrase").await).await["data"].clone();
    let access = token_of(&session, "access_token");
    let sessions = json(app.get_as("/api/v1/auth/sessions", &access).await).await;
    let id = sessions["data"][0]["id"].as_str().unwrap().to_string();
    app.delete_as(&format!("/api/v1/auth/sessions/{id}"), &access)
        .await;

    let actions = app.audit_actions().await;
    let names: Vec<&str> = actions.iter().map(|a| a.0.as_str()).collect();
    for expected in [
        "auth.register",
        "auth.login_failed",
        "auth.login",
        "auth.password_changed",
        "auth.password_reset_requested",
        "auth.password_reset",
        "auth.session_revoked",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for (action, actor, organization, ip) in &actions {
        assert_eq!(actor.as_deref(), Some(user_id.as_str()), "{action}: actor");
        assert_eq!(ip.as_deref(), Some("127.0.0.1"), "{action}: client ip");
        if [
            "auth.register",
            "auth.login",
            "auth.password_changed",
            "auth.session_revoked",
        ]
        .contains(&action.as_str())
        {
            assert_eq!(
                organization.as_deref(),
                Some(org_id.as_str()),
                "{action}: organization"
            );
        }
    }
    let (agent, time): (Option<String>, i64) =
        sqlx::query_as("SELECT user_agent, created_at FROM audit_log WHERE action = 'auth.login'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(time > 0);
    let _ = agent; // reqwest sends no user agent by default; the column exists.
}

async fn registration_refuses_bad_input_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        (
            json!({"organization_name": "A", "email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"organization_name": "A", "email": "a@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"organization_name": "A", "email": "a@example.com", "password": "x".repeat(129)}),
            "password",
        ),
        (
            json!({"organization_name": "A", "email": "same@example.com", "password": "same@example.com"}),
            "password",
        ),
        (
            json!({"organization_name": "  ", "email": "a@example.com", "password": PASSWORD}),
            "organization_name",
        ),
        (
            json!({"organization_name": "A", "name": "n".repeat(101), "email": "a@example.com", "password": PASSWORD}),
            "name",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD}),
            "organization_name",
        ),
        (
            json!({"organization_name": "A", "email": "a@example.com", "password": 12345678}),
            "password",
        ),
    ];
    for (body, field) in cases {
        let response = app.post_json("/api/v1/auth/register", &body).await;
        let error = assert_error(response, 422, "VALIDATION_ERROR").await;
        assert_eq!(
            error["error"]["details"]["fields"][0]["field"], field,
            "{body}"
        );
    }
    // Every wrong field is named at once, in the form's order.
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"organization_name": " ", "email": "nope", "password": "short"}),
        )
        .await;
    let error = assert_error(response, 422, "VALIDATION_ERROR").await;
    let named: Vec<&str> = error["error"]["details"]["fields"]
        .as_array()
        .map(|fields| fields.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(named, ["organization_name", "email", "password"], "{error}");
    app.register("taken@example.com", "First").await;
    let duplicate = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"organization_name": "Second", "email": "TAKEN@example.com", "password": PASSWORD}),
        )
        .await;
    assert_error(duplicate, 409, "CONFLICT").await;
    // Nothing half-made was left behind by the refusals.
    let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let (orgs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM organizations")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!((users, orgs), (1, 1));
}

async fn users_in_several_organizations_choose_the_active_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada@example.com", "Acme").await;
    let bob = app.register("bob@example.com", "Bobco").await;
    let bobco = bob["organization"]["id"].as_str().unwrap().to_string();
    // Ada joins Bobco as a member (invitations arrive in a later feature).
    app.add_membership(&bobco, &token_of(&ada["user"], "id"), "member")
        .await;

    let session = json(app.login("ada@example.com", PASSWORD).await).await["data"].clone();
    assert_eq!(session["organization"]["name"], "Acme");
    let access = token_of(&session, "access_token");
    let orgs = json(app.get_as("/api/v1/auth/organizations", &access).await).await;
    let names: Vec<&str> = orgs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["organization"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme", "Bobco"]);

    let switched = app
        .post_as(
            "/api/v1/auth/switch-organization",
            &access,
            &json!({"organization_id": bobco}),
        )
        .await;
    assert_eq!(switched.status(), 200);
    let switched = json(switched).await["data"].clone();
    assert_eq!(switched["role"], "member");
    let me = json(
        app.get_as("/api/v1/auth/me", &token_of(&switched, "access_token"))
            .await,
    )
    .await;
    assert_eq!(me["data"]["organization"]["name"], "Bobco");
    assert_eq!(me["data"]["role"], "member");
    assert_eq!(me["data"]["memberships"].as_array().unwrap().len(), 2);
    // The refresh token now refreshes into Bobco.
    let refreshed = json(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": token_of(&session, "refresh_token")}),
        )
        .await,
    )
    .await;
    assert_eq!(refreshed["data"]["organization"]["name"], "Bobco");

    // An organization Ada does not belong to answers 404, like none at all.
    let carol = app.register("carol@example.com", "Carolco").await;
    for id in [
        carol["organization"]["id"].as_str().unwrap().to_string(),
        uuid::Uuid::now_v7().to_string(),
    ] {
        let response = app
            .post_as(
                "/api/v1/auth/switch-organization",
                &access,
                &json!({"organization_id": id}),
            )
            .await;
        assert_error(response, 404, "NOT_FOUND").await;
    }
}

async fn sessions_can_be_listed_and_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("sam@example.com", "Sam").await;
    let laptop = json(app.login("sam@example.com", PASSWORD).await).await["data"].clone();
    let phone = json(app.login("sam@example.com", PASSWORD).await).await["data"].clone();
    let laptop_access = token_of(&laptop, "access_token");
    let phone_access = token_of(&phone, "access_token");

    let list = json(app.get_as("/api/v1/auth/sessions", &laptop_access).await).await;
    let sessions = list["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "register, laptop and phone");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_id = {
        let phone_list = json(app.get_as("/api/v1/auth/sessions", &phone_access).await).await;
        phone_list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Revoke the phone from the laptop.
    assert_eq!(
        app.delete_as(&format!("/api/v1/auth/sessions/{phone_id}"), &laptop_access)
            .await
            .status(),
        200
    );
    assert_error(
        app.get_as("/api/v1/auth/me", &phone_access).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(
        app.get_as("/api/v1/auth/me", &laptop_access).await.status(),
        200
    );
    assert_error(
        app.delete_as(&format!("/api/v1/auth/sessions/{phone_id}"), &laptop_access)
            .await,
        404,
        "NOT_FOUND",
    )
    .await;

    // Someone else's session id is not found, and stays active.
    let other = app.register("other@example.com", "Other").await;
    let other_access = token_of(&other, "access_token");
    let other_list = json(app.get_as("/api/v1/auth/sessions", &other_access).await).await;
    let other_id = other_list["data"][0]["id"].as_str().unwrap().to_string();
    assert_error(
        app.delete_as(&format!("/api/v1/auth/sessions/{other_id}"), &laptop_access)
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(
        app.get_as("/api/v1/auth/me", &other_access).await.status(),
        200
    );

    // Revoke everything, this session included.
    let all = json(app.delete_as("/api/v1/auth/sessions", &laptop_access).await).await;
    assert_eq!(all["data"]["revoked"], 2);
    assert_error(
        app.get_as("/api/v1/auth/me", &laptop_access).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
}

async fn changing_the_password_revokes_the_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("pat@example.com", "Pat").await;
    let first = json(app.login("pat@example.com", PASSWORD).await).await["data"].clone();
    let second = json(app.login("pat@example.com", PASSWORD).await).await["data"].clone();
    let first_access = token_of(&first, "access_token");

    let wrong = app
        .post_as(
            "/api/v1/auth/change-password",
            &first_access,
            &json!({"current_password": "not it at all", "new_password": "new passphrase"}),
        )
        .await;
    assert_invalid_field(wrong, "current_password").await;

    let changed = app
        .post_as(
            "/api/v1/auth/change-password",
            &first_access,
            &json!({"current_password": PASSWORD, "new_password": "new passphrase"}),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(
        app.get_as("/api/v1/auth/me", &first_access).await.status(),
        200,
        "this session stays"
    );
    assert_error(
        app.get_as("/api/v1/auth/me", &token_of(&second, "access_token"))
            .await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(
        app.login("pat@example.com", "new passphrase")
            .await
            .status(),
        200
    );
}

async fn signed_in_routes_refuse_missing_or_bad_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app.register("tok@example.com", "Tok").await;
    let access = token_of(&registered, "access_token");
    for path in [
        "/api/v1/auth/me",
        "/api/v1/auth/organizations",
        "/api/v1/auth/sessions",
    ] {
        assert_error(app.get(path).await, 401, "UNAUTHORIZED").await;
        assert_error(app.get_as(path, "garbage").await, 401, "UNAUTHORIZED").await;
        let tampered = format!("{}x", &access[..access.len() - 1]);
        assert_error(app.get_as(path, &tampered).await, 401, "UNAUTHORIZED").await;
        let key_like = format!("sk_live_{}", "0".repeat(64));
        assert_error_saying(
            app.get_as(path, &key_like).await,
            401,
            "UNAUTHORIZED",
            "API key",
        )
        .await;
        assert_eq!(app.get_as(path, &access).await.status(), 200, "{path}");
    }
    // A token signed with another key is refused.
    let other = TestApp::spawn(backend).await;
    let foreign = other.register("tok@example.com", "Elsewhere").await;
    assert_error(
        app.get_as("/api/v1/auth/me", &token_of(&foreign, "access_token"))
            .await,
        401,
        "UNAUTHORIZED",
    )
    .await;
}

#[tokio::test]
async fn without_smtp_mail_is_written_to_the_data_directory() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register("files@example.com", "Files").await;
    let dir = app.data_dir().join("mail");
    let text = eventually(
        format_args!("a mail file in {}", dir.display()),
        Duration::from_secs(10),
        async || {
            std::fs::read_dir(&dir)
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
                .filter(|text| text.contains("verify-email"))
        },
    )
    .await;
    assert!(text.contains("To: files@example.com"), "{text}");
    assert!(text.contains("verify-email?token="), "{text}");
}

#[tokio::test]
async fn sensitive_routes_are_limited_per_client_address() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.sensitive_rate_limit_per_minute = 3).await;
    let body = json!({"email": "someone@example.com"});
    for _ in 0..3 {
        let response = app
            .post_json("/api/v1/auth/request-password-reset", &body)
            .await;
        assert_eq!(response.status(), 202);
    }
    let limited = app
        .post_json("/api/v1/auth/request-password-reset", &body)
        .await;
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_error_saying(limited, 429, "RATE_LIMITED", "request-password-reset").await;
    // Each route has its own budget; other routes are not limited this way.
    let login = app.login("someone@example.com", "whatever pass").await;
    assert_eq!(login.status(), 401);
    assert_eq!(app.get("/health").await.status(), 200);
}
