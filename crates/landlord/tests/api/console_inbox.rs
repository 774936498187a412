//! The console's Inbox pages (`/o/{organization_id}/inbox…`): over HTTP on
//! both backends — a member sees the inbox and a conversation's thread,
//! another organization's conversation answers 404, a reply without the
//! CSRF token is refused, a reply outside the 24-hour window says the
//! rule next to the box, the channel settings are not a member's, a bad
//! phone number id is said next to its field — and in a real browser
//! (SQLite), an agent who sees an incoming message arrive live, replies,
//! and the WhatsApp stand-in receives it, with screenshots.

use std::time::Duration;

use crate::backend_tests;
use crate::console::{owner_and_member, Browser, Seen};
use crate::support::clock::now_secs;
use crate::support::eventually::eventually;
use crate::support::whatsapp::{
    incoming_text, post_signed, WhatsAppStandIn, EXPIRED_TOKEN, VERIFIED_NAME,
};
use crate::support::{Backend, TestApp};

backend_tests!(
    a_member_sees_the_inbox_and_a_conversations_thread,
    another_organizations_conversation_answers_404,
    a_reply_without_the_csrf_token_is_refused,
    a_reply_outside_the_window_shows_the_rule,
    channel_settings_are_not_allowed_to_members,
    a_bad_phone_number_id_is_said_next_to_its_field,
    a_token_meta_refuses_is_said_next_to_its_field_and_test_connection_reports,
    with_the_inbox_off_its_pages_routes_and_link_are_gone,
);

const APP_SECRET: &str = "app-secret-of-the-console-test";
const WABA: &str = "102290129340398";
const PHONE_NUMBER_ID: &str = "106540352242922";
const CONTACT: &str = "447700900123";

/// Ada owns `name`; Bob (his own organization too) is in it as a member.
async fn team<'a>(
    app: &'a TestApp,
    name: &str,
    domain: &str,
) -> (Browser<'a>, Browser<'a>, String) {
    let (ada, bob, org, _) = owner_and_member(app, domain, name, "member").await;
    (ada, bob, org)
}

/// Connects a number on the channel settings page; returns its id.
async fn connect(owner: &Browser<'_>, app: &TestApp, org: &str, phone: &str) -> String {
    let page = format!("/o/{org}/inbox/channels");
    let seen = owner
        .submit(
            &page,
            &page,
            &[
                ("name", "Support line"),
                ("phone_number_id", phone),
                ("business_account_id", WABA),
                ("access_token", "EAAG-access-token-9Qz"),
                ("app_secret", APP_SECRET),
                ("verify_token", "verify-token-of-the-test"),
            ],
        )
        .await;
    assert_eq!(seen.status, 303, "{}", seen.body);
    sqlx::query_scalar(
        "SELECT id FROM inbox_channels WHERE organization_id = $1 AND phone_number_id = $2",
    )
    .bind(org)
    .bind(phone)
    .fetch_one(app.db.pool())
    .await
    .expect("the channel")
}

/// Posts a signed incoming text to the channel's webhook, as Meta does.
async fn incoming(app: &TestApp, channel: &str, phone: &str, wamid: &str, text: &str, at: i64) {
    let payload = incoming_text(WABA, phone, CONTACT, "Grace Hopper", wamid, text, at);
    let url = app.url(&format!("/api/v1/inbox/webhooks/whatsapp/{channel}"));
    let response = post_signed(&app.client, &url, APP_SECRET, &payload).await;
    assert_eq!(response.status(), 200, "the notification is accepted");
}

/// Waits for the organization's first conversation; returns its id.
async fn conversation(app: &TestApp, org: &str) -> String {
    eventually(
        "the conversation stored",
        Duration::from_secs(20),
        async || {
            let id: Option<String> = sqlx::query_scalar(
                "SELECT c.id FROM inbox_conversations c \
                 WHERE c.organization_id = $1 AND EXISTS \
                 (SELECT 1 FROM inbox_messages m WHERE m.conversation_id = c.id)",
            )
            .bind(org)
            .fetch_optional(app.db.pool())
            .await
            .expect("the query");
            id
        },
    )
    .await
}

async fn outgoing_count(app: &TestApp, org: &str) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM inbox_messages WHERE organization_id = $1 AND direction = 'outgoing'",
        &[org],
    )
    .await
}

fn assert_not_allowed(seen: &Seen, path: &str) {
    assert_eq!(seen.status, 403, "{path}: {}", seen.body);
    assert!(seen.body.contains("Not allowed"), "{path}");
}

// ---- the tests -----------------------------------------------------------------------

async fn a_member_sees_the_inbox_and_a_conversations_thread(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (ada, bob, org) = team(&app, "Acme", "inbox.test").await;
    let channel = connect(&ada, &app, &org, PHONE_NUMBER_ID).await;
    incoming(
        &app,
        &channel,
        PHONE_NUMBER_ID,
        "wamid.FIRST",
        "Where is my order?",
        now_secs(),
    )
    .await;
    let id = conversation(&app, &org).await;

    // The nav link is everyone's.
    let overview = bob.get(&format!("/o/{org}")).await;
    assert!(overview.body.contains(&format!("href=\"/o/{org}/inbox\"")));

    let list = bob.get(&format!("/o/{org}/inbox")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("Grace Hopper"), "{}", list.body);
    assert!(list.body.contains(&format!("c={id}")));
    assert!(list.body.contains("/static/inbox.js"));
    assert!(list
        .body
        .contains(&format!("data-stream=\"/o/{org}/inbox/stream\"")));
    // A member is not offered the channel settings.
    assert!(!list.body.contains(&format!("/o/{org}/inbox/channels\"")));
    let csp = list.csp.clone().expect("the console's CSP");
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"));

    let thread = bob.get(&format!("/o/{org}/inbox?c={id}")).await;
    assert_eq!(thread.status, 200, "{}", thread.body);
    assert!(thread.body.contains("Where is my order?"));
    assert!(thread.body.contains("Received"));
    assert!(thread.body.contains(CONTACT), "the contact's number");
    assert!(thread.body.contains("Free-form replies allowed"));
    assert!(thread.body.contains("Assign to me"));
    assert!(thread.body.contains("Resolve"));

    // The member replies inside the window: queued, sent to the stand-in.
    let csrf = thread.csrf();
    let sent = bob
        .post(
            &format!("/o/{org}/inbox/{id}/reply"),
            &[("csrf", &csrf), ("text", "It ships today."), ("back", "")],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let location = sent.location.clone().expect("back to the thread");
    assert!(location.contains(&format!("c={id}")) && !location.contains("done="));
    let out = graph.wait_for_sent(1).await.remove(0);
    assert_eq!(out.body["text"]["body"], "It ships today.");
    let after = bob.get(&location).await;
    assert!(after.body.contains("It ships today."));
    assert!(after.body.contains("Reply queued"));
    // Said once: reloading the thread does not say it again.
    assert!(!bob.get(&location).await.body.contains("Reply queued"));

    // Assign to me, then resolve and reopen.
    let assigned = bob
        .post(&format!("/o/{org}/inbox/{id}/assign"), &[("csrf", &csrf)])
        .await;
    assert_eq!(assigned.status, 303, "{}", assigned.body);
    let mine = bob.get(&format!("/o/{org}/inbox?mine=1")).await;
    assert!(mine.body.contains("Grace Hopper"));
    assert!(ada
        .get(&format!("/o/{org}/inbox?mine=1"))
        .await
        .body
        .contains("No conversation matches these filters"));
    let resolved = bob
        .post(
            &format!("/o/{org}/inbox/{id}/status"),
            &[("csrf", &csrf), ("status", "resolved")],
        )
        .await;
    assert_eq!(resolved.status, 303, "{}", resolved.body);
    let page = bob.get(&format!("/o/{org}/inbox?c={id}")).await;
    assert!(page.body.contains("Reopen"));
    assert!(bob
        .get(&format!("/o/{org}/inbox?status=open"))
        .await
        .body
        .contains("No conversation matches"));
}

async fn another_organizations_conversation_answers_404(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (ada, _bob, org) = team(&app, "Acme", "one.test").await;
    let channel = connect(&ada, &app, &org, PHONE_NUMBER_ID).await;
    incoming(
        &app,
        &channel,
        PHONE_NUMBER_ID,
        "wamid.SECRET",
        "Private matter",
        now_secs(),
    )
    .await;
    let id = conversation(&app, &org).await;

    let eve = Browser::new(&app);
    let eve_overview = eve.sign_up("eve@other.test", "Other").await;
    let other = eve_overview.trim_start_matches("/o/").to_string();
    let seen = eve.get(&format!("/o/{other}/inbox?c={id}")).await;
    assert_eq!(seen.status, 404, "{}", seen.body);
    assert!(seen.body.contains("Page not found"));
    assert!(!seen.body.contains("Private matter"));
    // Nor through Acme's URL, which is not hers.
    let seen = eve.get(&format!("/o/{org}/inbox?c={id}")).await;
    assert_eq!(seen.status, 404);
    // Nor can she reply to it from her organization.
    let csrf = eve.get(&format!("/o/{other}/inbox")).await.csrf();
    let refused = eve
        .post(
            &format!("/o/{other}/inbox/{id}/reply"),
            &[("csrf", &csrf), ("text", "Hi")],
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    let stream = app
        .client
        .get(app.url(&format!("/o/{org}/inbox/stream")))
        .header("cookie", eve.cookie_header())
        .send()
        .await
        .expect("the stream request");
    assert_eq!(stream.status(), 404);
    assert_eq!(outgoing_count(&app, &org).await, 0);
}

async fn a_reply_without_the_csrf_token_is_refused(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (ada, _bob, org) = team(&app, "Acme", "csrf.test").await;
    let channel = connect(&ada, &app, &org, PHONE_NUMBER_ID).await;
    incoming(
        &app,
        &channel,
        PHONE_NUMBER_ID,
        "wamid.C",
        "Hello",
        now_secs(),
    )
    .await;
    let id = conversation(&app, &org).await;
    for (path, form) in [
        (
            format!("/o/{org}/inbox/{id}/reply"),
            vec![("text", "Forged")],
        ),
        (format!("/o/{org}/inbox/{id}/assign"), vec![]),
        (
            format!("/o/{org}/inbox/{id}/status"),
            vec![("status", "resolved")],
        ),
        (
            format!("/o/{org}/inbox/channels"),
            vec![("name", "Forged"), ("phone_number_id", "123")],
        ),
        (
            format!("/o/{org}/inbox/channels/{channel}/disconnect"),
            vec![],
        ),
    ] {
        let forged = ada.post(&path, &form).await;
        assert_eq!(forged.status, 403, "{path}: {}", forged.body);
        assert!(forged.body.contains("This form has expired"), "{path}");
        let wrong = "0".repeat(64);
        let mut fields = vec![("csrf", wrong.as_str())];
        fields.extend(form.iter().copied());
        assert_eq!(ada.post(&path, &fields).await.status, 403, "{path}");
    }
    assert_eq!(outgoing_count(&app, &org).await, 0);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM inbox_channels WHERE organization_id = $1",
            &[&org]
        )
        .await,
        1
    );
    assert!(graph.sent().is_empty());
}

async fn a_reply_outside_the_window_shows_the_rule(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (ada, bob, org) = team(&app, "Acme", "window.test").await;
    let channel = connect(&ada, &app, &org, PHONE_NUMBER_ID).await;
    let yesterday = now_secs() - 25 * 3600;
    incoming(
        &app,
        &channel,
        PHONE_NUMBER_ID,
        "wamid.OLD",
        "Thanks!",
        yesterday,
    )
    .await;
    let id = conversation(&app, &org).await;

    let thread = bob.get(&format!("/o/{org}/inbox?c={id}")).await;
    assert!(
        thread.body.contains("only templates can be sent"),
        "{}",
        thread.body
    );
    let refused = bob
        .post(
            &format!("/o/{org}/inbox/{id}/reply"),
            &[("csrf", &thread.csrf()), ("text", "Anything else?")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let error = refused.field_error("text").expect("the error at the box");
    assert!(error.contains("24-hour"), "{error}");
    assert!(
        refused.body.contains("Anything else?"),
        "what was typed stays"
    );
    assert_eq!(outgoing_count(&app, &org).await, 0);
    assert!(graph.sent().is_empty());
}

async fn channel_settings_are_not_allowed_to_members(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (ada, bob, org) = team(&app, "Acme", "members.test").await;
    let channel = connect(&ada, &app, &org, PHONE_NUMBER_ID).await;
    let page = format!("/o/{org}/inbox/channels");
    for path in [page.clone(), format!("{page}/{channel}/disconnect")] {
        let seen = bob.get(&path).await;
        assert_not_allowed(&seen, &path);
        assert!(!seen.body.contains("webhooks/whatsapp"), "{path}");
    }
    let csrf = bob.get(&format!("/o/{org}/inbox")).await.csrf();
    let connect_form = [
        ("csrf", csrf.as_str()),
        ("name", "Bob's line"),
        ("phone_number_id", "999"),
        ("business_account_id", WABA),
        ("access_token", "token-of-bob-123"),
        ("app_secret", "secret-of-bob-123"),
        ("verify_token", "verify-of-bob-123"),
    ];
    assert_not_allowed(&bob.post(&page, &connect_form).await, &page);
    let disconnect = format!("{page}/{channel}/disconnect");
    assert_not_allowed(
        &bob.post(&disconnect, &[("csrf", &csrf)]).await,
        &disconnect,
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM inbox_channels WHERE organization_id = $1",
            &[&org]
        )
        .await,
        1
    );

    // The owner sees the webhook URL, and disconnects after confirming.
    let settings = ada.get(&page).await;
    assert_eq!(settings.status, 200);
    assert!(settings.body.contains(&format!(
        "&#x2f;api&#x2f;v1&#x2f;inbox&#x2f;webhooks&#x2f;whatsapp&#x2f;{channel}"
    )));
    assert!(settings.body.contains("…-9Qz"), "the token's hint");
    assert!(!settings.body.contains(APP_SECRET));
    let confirm = ada.get(&disconnect).await;
    assert!(confirm.body.contains("Disconnect this number?"));
    let done = ada.post(&disconnect, &[("csrf", &confirm.csrf())]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM inbox_channels WHERE organization_id = $1",
            &[&org]
        )
        .await,
        0
    );
}

async fn a_bad_phone_number_id_is_said_next_to_its_field(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (ada, _bob, org) = team(&app, "Acme", "fields.test").await;
    let page = format!("/o/{org}/inbox/channels");
    let seen = ada
        .submit(
            &page,
            &page,
            &[
                ("name", "Support line"),
                ("phone_number_id", "+1 555 0100"),
                ("business_account_id", WABA),
                ("access_token", "EAAG-access-token-9Qz"),
                ("app_secret", APP_SECRET),
                ("verify_token", "verify-token-of-the-test"),
            ],
        )
        .await;
    assert_eq!(seen.status, 422, "{}", seen.body);
    let error = seen
        .field_error("phone_number_id")
        .expect("the error next to the field");
    assert!(error.contains("digits"), "{error}");
    assert!(seen.field_error("name").is_none());
    assert_eq!(seen.input_value("name").as_deref(), Some("Support line"));
    assert!(
        !seen.body.contains(APP_SECRET),
        "secrets are not shown back"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM inbox_channels WHERE organization_id = $1",
            &[&org]
        )
        .await,
        0
    );
}

/// Meta refusing the access token is said next to the token's field and
/// nothing is saved; a connected number's "Test connection" shows what
/// Meta answers next to the channel.
async fn a_token_meta_refuses_is_said_next_to_its_field_and_test_connection_reports(
    backend: Backend,
) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (ada, bob, org) = team(&app, "Acme", "checks.test").await;
    let page = format!("/o/{org}/inbox/channels");
    let seen = ada
        .submit(
            &page,
            &page,
            &[
                ("name", "Support line"),
                ("phone_number_id", PHONE_NUMBER_ID),
                ("business_account_id", WABA),
                ("access_token", EXPIRED_TOKEN),
                ("app_secret", APP_SECRET),
                ("verify_token", "verify-token-of-the-test"),
            ],
        )
        .await;
    assert_eq!(seen.status, 422, "{}", seen.body);
    let error = seen
        .field_error("access_token")
        .expect("the error next to the token");
    assert!(
        error.contains("does not accept this access token"),
        "{error}"
    );
    assert!(
        !seen.body.contains(EXPIRED_TOKEN),
        "the token is not shown back"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM inbox_channels WHERE organization_id = $1",
            &[&org]
        )
        .await,
        0
    );

    let channel = connect(&ada, &app, &org, PHONE_NUMBER_ID).await;
    let check = format!("{page}/{channel}/check");
    let seen = ada.submit(&page, &check, &[]).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.body.contains("Test connection"));
    assert!(
        seen.body.contains(&format!(
            "WhatsApp accepts this number and token: +15550783881 ({VERIFIED_NAME})"
        )),
        "{}",
        seen.body
    );
    let refused = bob.submit(&format!("/o/{org}/inbox"), &check, &[]).await;
    assert_ne!(refused.status, 200, "a member cannot test the channel");
    assert!(!refused.body.contains(VERIFIED_NAME));
}

// ---- in a real browser ---------------------------------------------------------------

const BROWSER_TEST: &str =
    "console_inbox::browser::an_agent_sees_a_message_arrive_live_and_replies";

mod browser {
    use super::{incoming, BROWSER_TEST, CONTACT, PHONE_NUMBER_ID, WABA};
    use crate::support::accounts::PASSWORD;
    use crate::support::browser::{Browser, Viewport};
    use crate::support::clock::now_secs;
    use crate::support::whatsapp::WhatsAppStandIn;
    use crate::support::Backend;

    /// Sign-up, the channel connected on its page, the empty inbox; a
    /// signed message posted by the test appears without a reload; the
    /// thread; a reply typed and sent, received by the stand-in and shown;
    /// light and dark, and 375 px wide.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_agent_sees_a_message_arrive_live_and_replies() {
        let Some(browser) = Browser::start(BROWSER_TEST).await else {
            return;
        };
        let graph = WhatsAppStandIn::start().await;
        let app = graph.app(Backend::Sqlite).await;

        browser.goto(&app, "/sign-up").await;
        browser.fill("Organization name", "Acme Support").await;
        browser.fill("Your name", "Ada").await;
        browser.fill("Email", "ada@inbox-browser.test").await;
        browser.fill("Password", PASSWORD).await;
        browser.click_button("Sign up").await;
        browser.wait_for_text("Requests this month").await;
        let overview = browser.current_path().await;
        let inbox = format!("{overview}/inbox");
        let org = overview.trim_start_matches("/o/").to_string();

        // The nav link; the empty inbox; the channel settings.
        browser.click_link("Inbox").await;
        browser.wait_for_path(&inbox).await;
        browser
            .wait_for_text("No WhatsApp number is connected yet")
            .await;
        browser.click_link("Channels").await;
        browser.wait_for_text("Connect a number").await;
        browser.fill("Name", "Support line").await;
        browser.fill("Phone number id", "+1 555").await;
        browser.fill("Business account id", WABA).await;
        browser.fill("Access token", "EAAG-access-token-9Qz").await;
        browser.fill("App secret", super::APP_SECRET).await;
        browser
            .fill("Verify token", "verify-token-of-the-test")
            .await;
        browser.click_button("Connect the number").await;
        browser.wait_for_text("Must be 1 to 32 digits.").await;
        browser.screenshot_themes("inbox-channels-bad-id").await;
        browser.fill("Phone number id", PHONE_NUMBER_ID).await;
        browser.fill("Access token", "EAAG-access-token-9Qz").await;
        browser.fill("App secret", super::APP_SECRET).await;
        browser
            .fill("Verify token", "verify-token-of-the-test")
            .await;
        browser.click_button("Connect the number").await;
        browser.wait_for_text("Number connected").await;
        browser.wait_for_text("…-9Qz").await;
        browser.script("window.scrollTo(0, 0);", vec![]).await;
        browser.screenshot_themes("inbox-channels").await;
        browser.set_viewport(Viewport::Phone).await;
        browser.screenshot_themes("inbox-channels-phone").await;
        browser.set_viewport(Viewport::Desktop).await;
        let channel: String =
            sqlx::query_scalar("SELECT id FROM inbox_channels WHERE organization_id = $1")
                .bind(&org)
                .fetch_one(app.db.pool())
                .await
                .expect("the channel");

        // The inbox open; a message arrives: shown without a reload.
        browser.goto(&app, &inbox).await;
        browser.wait_for_text("No conversation yet").await;
        browser
            .wait_for_text("Live: new messages appear as they arrive.")
            .await;
        browser.screenshot_themes("inbox-empty").await;
        browser.script("window.__notReloaded = true;", vec![]).await;
        incoming(
            &app,
            &channel,
            PHONE_NUMBER_ID,
            "wamid.LIVE1",
            "Hi! Is my parcel on its way?",
            now_secs(),
        )
        .await;
        browser.wait_for_text("Grace Hopper").await;
        let same_page = browser
            .script("return window.__notReloaded === true;", vec![])
            .await;
        assert_eq!(same_page, true, "the list updated without a reload");
        browser.screenshot_themes("inbox-live").await;

        // The thread: the message, the contact, the window open.
        browser
            .element("ul.conversations a")
            .await
            .click()
            .await
            .expect("the conversation's link clicked");
        browser.wait_for_text("Hi! Is my parcel on its way?").await;
        browser.wait_for_text("Free-form replies allowed").await;
        let panel = browser.text_of("#contact-panel").await;
        assert!(panel.contains(CONTACT), "{panel}");
        browser.script("window.__notReloaded = true;", vec![]).await;
        browser
            .wait_for_text("Live: new messages appear as they arrive.")
            .await;
        // A second message arrives while the thread is open.
        incoming(
            &app,
            &channel,
            PHONE_NUMBER_ID,
            "wamid.LIVE2",
            "It was due yesterday.",
            now_secs(),
        )
        .await;
        browser.wait_for_text("It was due yesterday.").await;
        let same_page = browser
            .script("return window.__notReloaded === true;", vec![])
            .await;
        assert_eq!(same_page, true, "the thread updated without a reload");
        browser.screenshot_themes("inbox-thread").await;

        // The reply: typed, sent, received by the stand-in, in the thread.
        browser
            .fill("Reply", "Sorry for the wait: it ships today.")
            .await;
        browser.click_button("Send").await;
        browser.wait_for_text("Reply queued").await;
        let sent = graph.wait_for_sent(1).await.remove(0);
        assert_eq!(
            sent.body["text"]["body"],
            "Sorry for the wait: it ships today."
        );
        assert_eq!(sent.body["to"], CONTACT);
        browser
            .wait_for_text("Sorry for the wait: it ships today.")
            .await;
        // Sent by the job: the status follows live.
        let deadline = std::time::Instant::now() + crate::support::browser::PAGE_TIMEOUT;
        while browser.text_of(".message.outgoing .delivery").await != "sent" {
            assert!(
                std::time::Instant::now() < deadline,
                "the reply never showed sent"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let thread = browser.text_of("#thread-messages").await;
        assert!(thread.contains("Sent by"), "{thread}");
        browser.screenshot_themes("inbox-replied").await;
        browser.set_viewport(Viewport::Phone).await;
        browser.screenshot_themes("inbox-thread-phone").await;
        browser.set_viewport(Viewport::Desktop).await;

        // Assign to me and resolve.
        browser.click_button("Assign to me").await;
        browser.wait_for_text("The conversation is yours.").await;
        browser.click_button("Resolve").await;
        browser.wait_for_text("Conversation resolved.").await;
        browser.wait_for_text("Reopen").await;

        browser.close().await;
    }
}

/// `[inbox] enabled = false`: the inbox page, its channels, its script
/// and its API routes answer 404, and the organization's navigation has
/// no Inbox link; with it on, the same owner sees the link.
async fn with_the_inbox_off_its_pages_routes_and_link_are_gone(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.inbox.enabled = false).await;
    let ada = Browser::new(&app);
    let overview = ada.sign_up("ada@inbox-off.test", "Ada's").await;
    let org = overview.trim_start_matches("/o/").to_string();
    let page = ada.get(&overview).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        !page.body.contains(&format!("/o/{org}/inbox")),
        "no Inbox link: {}",
        page.body
    );
    assert!(
        !page.body.contains("/static/inbox.css"),
        "no inbox stylesheet: {}",
        page.body
    );
    for path in [
        format!("/o/{org}/inbox"),
        format!("/o/{org}/inbox/channels"),
        "/static/inbox.js".to_string(),
        "/static/inbox.css".to_string(),
    ] {
        assert_eq!(ada.get(&path).await.status, 404, "{path}");
    }
    let api = app.get("/api/v1/inbox/conversations").await;
    assert_eq!(api.status(), 404);

    let on = TestApp::spawn(backend).await;
    let ada = Browser::new(&on);
    let overview = ada.sign_up("ada@inbox-on.test", "Ada's").await;
    let org = overview.trim_start_matches("/o/").to_string();
    let page = ada.get(&overview).await;
    assert!(
        page.body.contains(&format!("href=\"/o/{org}/inbox\"")),
        "the Inbox link: {}",
        page.body
    );
    assert_eq!(ada.get(&format!("/o/{org}/inbox")).await.status, 200);
    // The module's stylesheet: linked by every page, served, and styling.
    let href = page
        .body
        .split("href=\"")
        .find(|rest| rest.starts_with("/static/inbox.css?v="))
        .and_then(|rest| rest.split('"').next())
        .expect("the inbox stylesheet's link");
    let css = ada.get(href).await;
    assert_eq!(css.status, 200, "{href}");
    assert!(css.body.contains(".inbox-thread"), "{}", css.body);
}
