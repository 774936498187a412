//! Mail that arrives: a permanent SMTP refusal (550) or a bounce reported
//! by the provider's webhook puts the address on the suppression list, the
//! next mail to it is not sent, the organization's owners see it on the
//! team page, and an operator lists and lifts it (API and console), each
//! step audited.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::console::Browser;
use crate::support::accounts::token_of;
use crate::support::app::{json, smtp_to};
use crate::support::eventually::eventually;
use crate::support::smtp::SmtpServer;
use crate::support::{Backend, TestApp};

backend_tests!(
    a_refused_address_is_suppressed_until_an_operator_lifts_it,
    the_bounce_webhook_suppresses_permanent_bounces_and_complaints,
    owners_see_suppressed_members_and_operators_lift_from_the_console,
);

const SECRET: &str = "bounce-secret-for-tests-0123456789";

async fn make_admin(app: &TestApp, email: &str) {
    sqlx::query("UPDATE users SET platform_admin_at = 1 WHERE email = $1")
        .bind(email)
        .execute(app.db.pool())
        .await
        .expect("admin made");
}

/// Mail jobs not yet done.
async fn mail_jobs_waiting(app: &TestApp) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'mail.send' AND status <> 'done'",
        &[],
    )
    .await
}

async fn mail_jobs_done(app: &TestApp) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'mail.send' AND status = 'done'",
        &[],
    )
    .await
}

/// Asks for a password reset of `email` and waits until its mail job is
/// done (sent, or skipped when the address is suppressed).
async fn reset_mail_job_runs(app: &TestApp, email: &str) {
    let before = mail_jobs_done(app).await;
    let asked = app
        .post_json(
            "/api/v1/auth/request-password-reset",
            &json!({ "email": email }),
        )
        .await;
    assert_eq!(asked.status(), 202);
    eventually(
        "the reset mail job to finish",
        Duration::from_secs(20),
        async || {
            (mail_jobs_done(app).await > before && mail_jobs_waiting(app).await == 0).then_some(())
        },
    )
    .await;
}

async fn audit_count(app: &TestApp, action: &str, target: &str) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND target_id = $2",
        &[action, target],
    )
    .await
}

async fn suppressions(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let response = app
        .get_as(&format!("/api/v1/admin/mail-suppressions{query}"), token)
        .await;
    assert_eq!(response.status(), 200);
    json(response).await["data"]
        .as_array()
        .expect("a list")
        .clone()
}

async fn a_refused_address_is_suppressed_until_an_operator_lifts_it(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.refuse_recipient("gone@mail.test");
    let app = TestApp::spawn_with(backend, |c| smtp_to(c, smtp.port)).await;
    let ops = token_of(
        &app.register("ops@ops.test", "Operators").await,
        "access_token",
    );
    make_admin(&app, "ops@ops.test").await;
    let member = token_of(
        &app.register("member@else.test", "Else").await,
        "access_token",
    );

    // The verification mail to a mailbox that does not exist: the server
    // answers 550, the address is suppressed at once (no retry), audited.
    app.register("Gone@Mail.test", "Gone").await;
    let listed = eventually(
        "the refused address to be suppressed",
        Duration::from_secs(20),
        async || {
            let list = suppressions(&app, &ops, "").await;
            (!list.is_empty()).then_some(list)
        },
    )
    .await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["address"], "gone@mail.test");
    assert_eq!(listed[0]["reason"], "smtp_permanent");
    assert_eq!(listed[0]["smtp_code"], 550);
    assert_eq!(listed[0]["source"], "smtp");
    assert!(
        listed[0]["description"]
            .as_str()
            .is_some_and(|d| d.contains("mailbox unavailable")),
        "{listed:?}"
    );
    eventually("no mail job waiting", Duration::from_secs(10), async || {
        (mail_jobs_waiting(&app).await == 0).then_some(())
    })
    .await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'mail.send' AND attempts > 1",
            &[]
        )
        .await,
        0,
        "a permanent refusal is not retried"
    );
    assert_eq!(
        audit_count(&app, "mail.address_suppressed", "gone@mail.test").await,
        1
    );

    // The next mail to it is not sent, even though the server would now
    // take it.
    smtp.accept_recipient("gone@mail.test");
    reset_mail_job_runs(&app, "gone@mail.test").await;
    assert!(
        smtp.received().iter().all(|m| !m
            .to
            .iter()
            .any(|t| t.eq_ignore_ascii_case("gone@mail.test"))),
        "{:#?}",
        smtp.received()
    );

    // Search and limits.
    assert_eq!(suppressions(&app, &ops, "?search=GONE@").await.len(), 1);
    assert_eq!(suppressions(&app, &ops, "?search=nobody").await.len(), 0);
    assert_eq!(
        suppressions(&app, &ops, "?search=%25&limit=1").await.len(),
        0
    );
    for bad in ["?limit=0", "?limit=501", "?limit=x"] {
        let refused = app
            .get_as(&format!("/api/v1/admin/mail-suppressions{bad}"), &ops)
            .await;
        assert_eq!(refused.status(), 422, "{bad}");
    }

    // Nobody else lists or lifts.
    let anonymous = app.get("/api/v1/admin/mail-suppressions").await;
    assert_eq!(anonymous.status(), 401);
    let forbidden = app.get_as("/api/v1/admin/mail-suppressions", &member).await;
    assert_eq!(forbidden.status(), 403);
    let forbidden = app
        .delete_as("/api/v1/admin/mail-suppressions/gone@mail.test", &member)
        .await;
    assert_eq!(forbidden.status(), 403);
    let anonymous = app
        .client
        .delete(app.url("/api/v1/admin/mail-suppressions/gone@mail.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The operator lifts it (any case): audited; mail is sent again.
    let lifted = app
        .delete_as("/api/v1/admin/mail-suppressions/GONE@mail.test", &ops)
        .await;
    assert_eq!(lifted.status(), 200);
    let lifted = json(lifted).await;
    assert_eq!(lifted["data"]["address"], "gone@mail.test");
    assert_eq!(lifted["data"]["lifted"], true);
    assert_eq!(
        audit_count(&app, "admin.mail_suppression_lifted", "gone@mail.test").await,
        1
    );
    let again = app
        .delete_as("/api/v1/admin/mail-suppressions/gone@mail.test", &ops)
        .await;
    assert_eq!(again.status(), 404);
    assert!(suppressions(&app, &ops, "").await.is_empty());
    reset_mail_job_runs(&app, "gone@mail.test").await;
    let mails = smtp.wait_for("gone@mail.test", 1).await;
    assert!(
        mails[0].subject().contains("Reset"),
        "{}",
        mails[0].subject()
    );
}

async fn post_bounce(
    app: &TestApp,
    secret: Option<&str>,
    content_type: &str,
    body: &Value,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/v1/mail/bounces"))
        .header("content-type", content_type)
        .body(body.to_string());
    if let Some(secret) = secret {
        request = request.header("x-bounce-secret", secret);
    }
    request.send().await.expect("request sent")
}

async fn the_bounce_webhook_suppresses_permanent_bounces_and_complaints(backend: Backend) {
    // Without a secret configured the webhook is off.
    let off = TestApp::spawn(backend).await;
    let refused = post_bounce(
        &off,
        Some(SECRET),
        "application/json",
        &json!({"type": "bounce", "address": "a@b.test"}),
    )
    .await;
    assert_eq!(refused.status(), 404);

    let app = TestApp::spawn_with(backend, |c| {
        c.mail_bounce_secret = Some(SECRET.to_string().into());
    })
    .await;
    let ops = token_of(
        &app.register("ops@ops.test", "Operators").await,
        "access_token",
    );
    make_admin(&app, "ops@ops.test").await;
    let bounce = json!({"type": "bounce", "address": "Hard@Bounce.test", "permanent": true,
                        "description": "550 5.1.1 no such user"});

    // No secret, a wrong one: refused, nothing suppressed.
    for secret in [None, Some("wrong")] {
        let refused = post_bounce(&app, secret, "application/json", &bounce).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{secret:?}");
    }
    assert!(suppressions(&app, &ops, "").await.is_empty());

    // The documented JSON: a permanent bounce suppresses, a transient one
    // is ignored, a complaint suppresses.
    let done = json(post_bounce(&app, Some(SECRET), "application/json", &bounce).await).await;
    assert_eq!(done["data"]["suppressed"], json!(["hard@bounce.test"]));
    let again = json(post_bounce(&app, Some(SECRET), "application/json", &bounce).await).await;
    assert_eq!(
        again["data"]["already_suppressed"],
        json!(["hard@bounce.test"])
    );
    let soft = json(
        post_bounce(
            &app,
            Some(SECRET),
            "application/json",
            &json!({"type": "bounce", "address": "soft@bounce.test", "permanent": false}),
        )
        .await,
    )
    .await;
    assert_eq!(soft["data"]["ignored"], json!(["soft@bounce.test"]));
    let complaint = json(
        post_bounce(
            &app,
            Some(SECRET),
            "application/json",
            &json!({"type": "complaint", "address": "spam@complaint.test"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        complaint["data"]["suppressed"],
        json!(["spam@complaint.test"])
    );
    let unreadable = post_bounce(
        &app,
        Some(SECRET),
        "application/json",
        &json!({"type": "bounce", "address": "not an address"}),
    )
    .await;
    assert_eq!(unreadable.status(), 422);

    // Postmark's bounce webhook, the secret as the basic-auth password.
    let postmark = app
        .client
        .post(app.url("/api/v1/mail/bounces"))
        .basic_auth("postmark", Some(SECRET))
        .json(&json!({
            "RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "ID": 42,
            "Email": "postmark@bounce.test", "Description": "The server was unable to deliver your message",
            "BouncedAt": "2026-12-06T16:33:54.9070259Z"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(postmark.status(), 200);
    // Amazon SES through SNS (sent as text/plain), two recipients.
    let ses = json!({
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "bouncedRecipients": [
            {"emailAddress": "ses1@bounce.test", "diagnosticCode": "smtp; 550 5.1.1 user unknown"},
            {"emailAddress": "ses2@bounce.test"}
        ]},
        "mail": {"messageId": "0100018c"}
    });
    let sns = json!({
        "Type": "Notification", "MessageId": "8f1b", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-bounces",
        "Message": ses.to_string(), "Timestamp": "2026-12-06T16:33:54.000Z"
    });
    let done = json(post_bounce(&app, Some(SECRET), "text/plain; charset=UTF-8", &sns).await).await;
    assert_eq!(
        done["data"]["suppressed"],
        json!(["ses1@bounce.test", "ses2@bounce.test"])
    );

    let listed = suppressions(&app, &ops, "").await;
    let mut addresses: Vec<&str> = listed
        .iter()
        .map(|s| s["address"].as_str().unwrap())
        .collect();
    addresses.sort();
    assert_eq!(
        addresses,
        [
            "hard@bounce.test",
            "postmark@bounce.test",
            "ses1@bounce.test",
            "ses2@bounce.test",
            "spam@complaint.test"
        ]
    );
    let complaint = listed
        .iter()
        .find(|s| s["address"] == "spam@complaint.test")
        .unwrap();
    assert_eq!(complaint["reason"], "complaint");
    assert_eq!(complaint["source"], "webhook");
    let ses1 = listed
        .iter()
        .find(|s| s["address"] == "ses1@bounce.test")
        .unwrap();
    assert_eq!(ses1["reason"], "bounce");
    assert_eq!(ses1["description"], "smtp; 550 5.1.1 user unknown");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'mail.address_suppressed'",
            &[]
        )
        .await,
        5
    );
}

async fn owners_see_suppressed_members_and_operators_lift_from_the_console(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.mail_bounce_secret = Some(SECRET.to_string().into());
    })
    .await;
    // Acme: an owner and a member whose mail bounces; Globex: another
    // organization; an operator.
    let owner = Browser::new(&app);
    let overview = owner.sign_up("owner@acme.test", "Acme").await;
    let acme = overview.trim_start_matches("/o/").to_string();
    let member = Browser::new(&app);
    member.sign_up("bounced@acme.test", "Bounced's").await;
    let member_id = app.user_id("bounced@acme.test").await;
    app.add_membership(&acme, &member_id, "admin").await;
    let other = Browser::new(&app);
    let other_overview = other.sign_up("owner@globex.test", "Globex").await;
    let globex = other_overview.trim_start_matches("/o/").to_string();
    let operator = Browser::new(&app);
    operator.sign_up("ops@ops.test", "Operators").await;
    make_admin(&app, "ops@ops.test").await;

    let done = post_bounce(
        &app,
        Some(SECRET),
        "application/json",
        &json!({"type": "bounce", "address": "Bounced@acme.test", "description": "mailbox full for good"}),
    )
    .await;
    assert_eq!(done.status(), 200);

    // Acme's owner sees the member's address marked and explained.
    let team = owner.get(&format!("/o/{acme}/team")).await;
    assert_eq!(team.status, 200);
    assert!(
        team.body.contains("Addresses Landlord no longer mails"),
        "{}",
        team.body
    );
    assert!(team.body.contains("mail suppressed"));
    assert!(team.body.contains("<code>bounced@acme.test</code>"));
    assert!(team.body.contains("mailbox full for good"));
    // An admin of Acme (not an owner) and Globex's owner do not.
    let as_admin = member.get(&format!("/o/{acme}/team")).await;
    assert_eq!(as_admin.status, 200);
    assert!(!as_admin.body.contains("Addresses Landlord no longer mails"));
    assert!(!as_admin.body.contains("mail suppressed"));
    let globex_team = other.get(&format!("/o/{globex}/team")).await;
    assert_eq!(globex_team.status, 200);
    assert!(!globex_team
        .body
        .contains("Addresses Landlord no longer mails"));
    assert!(!globex_team.body.contains("bounced@acme.test"));

    // The operator page: hidden from the owner, lists for the operator.
    assert_eq!(owner.get("/operator/mail-suppressions").await.status, 404);
    let page = operator.get("/operator/mail-suppressions").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<code>bounced@acme.test</code>"));
    assert!(page.body.contains("mailbox full for good"));
    let searched = operator
        .get("/operator/mail-suppressions?search=nobody")
        .await;
    assert!(searched.body.contains("No suppressed address contains"));
    // The owner cannot lift (404), a forged form is refused.
    let csrf = team.csrf();
    let refused = owner
        .post(
            "/operator/mail-suppressions/lift",
            &[("csrf", &csrf), ("address", "bounced@acme.test")],
        )
        .await;
    assert_eq!(refused.status, 404);
    let forged = operator
        .post(
            "/operator/mail-suppressions/lift",
            &[("csrf", "forged"), ("address", "bounced@acme.test")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let lifted = operator
        .submit(
            "/operator/mail-suppressions",
            "/operator/mail-suppressions/lift",
            &[("address", "bounced@acme.test")],
        )
        .await;
    assert_eq!(lifted.status, 303, "{}", lifted.body);
    let location = lifted.location.expect("back to the list");
    assert_eq!(location, "/operator/mail-suppressions");
    let after = operator.get(&location).await;
    assert!(
        after.body.contains("is no longer suppressed"),
        "{}",
        after.body
    );
    assert!(after.body.contains("No address is suppressed"));
    assert_eq!(
        audit_count(&app, "admin.mail_suppression_lifted", "bounced@acme.test").await,
        1
    );
    let team = owner.get(&format!("/o/{acme}/team")).await;
    assert!(!team.body.contains("Addresses Landlord no longer mails"));
    // Lifting what is not suppressed: the 404 page.
    let missing = operator
        .submit(
            "/operator/mail-suppressions",
            "/operator/mail-suppressions/lift",
            &[("address", "bounced@acme.test")],
        )
        .await;
    assert_eq!(missing.status, 404);
}
