//! Module: Inbox (issue 14) over HTTP, with the WhatsApp Cloud API
//! stand-in: Meta's verification handshake; signed notifications → a
//! contact, a conversation and a message, once; bad signatures store
//! nothing; replies inside the 24-hour window reach the stand-in and their
//! status callbacks apply in any order without going back; outside it
//! only templates go; concurrent messages of a new contact open one
//! conversation; a capped plan stops sending; another organization sees
//! nothing — on SQLite and PostgreSQL.

use std::time::Duration;

use landlord_core::Timestamp;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::{data, signed_in};
use crate::support::app::json;
use crate::support::billing::planted_counters;
use crate::support::clock::{now_ms, now_secs};
use crate::support::errors::{assert_error, assert_invalid_field};
use crate::support::eventually::eventually;
use crate::support::redis::RedisServer;
use crate::support::team::Team;
use crate::support::whatsapp::{
    incoming_text, post_signed, post_with_signature, signature, status_update, WhatsAppStandIn,
    EXPIRED_TOKEN, UNKNOWN_PHONE_NUMBER_ID, VERIFIED_NAME,
};
use crate::support::{Backend, TestApp};

backend_tests!(
    meta_verification_echoes_the_challenge_only_with_the_verify_token,
    a_signed_message_is_stored_once_and_a_bad_signature_stores_nothing,
    a_reply_in_the_window_is_sent_and_statuses_never_go_back,
    outside_the_window_only_a_template_goes,
    concurrent_messages_of_a_new_contact_open_one_conversation,
    a_capped_plan_stops_sending_with_quota_exceeded,
    conversations_are_assigned_resolved_labelled_and_filtered,
    channels_refuse_bad_input_and_members,
    connecting_asks_meta_and_test_connection_says_what_it_said,
    a_message_that_never_got_through_says_so_in_plain_words,
    another_organization_sees_nothing_of_the_inbox,
    a_bulk_close_of_many_conversations_reports_progress_to_the_end,
    the_stream_delivers_this_organizations_events_and_resumes_after_the_last_id,
    two_instances_on_one_redis_share_the_stream,
    contacts_keep_attributes_and_labels_and_a_snooze_ends_by_itself,
);

const APP_SECRET: &str = "app-secret-of-the-test";
const VERIFY_TOKEN: &str = "verify-token-of-the-test";
const ACCESS_TOKEN: &str = "EAAG-access-token-9Qz";
const WABA: &str = "102290129340398";
const CONTACT: &str = "447700900123";

/// Connects a channel with phone number id `phone`; returns its view.
async fn connect(app: &TestApp, token: &str, phone: &str) -> Value {
    data(
        app.post_as(
            "/api/v1/inbox/channels",
            token,
            &json!({
                "name": "Support line",
                "phone_number_id": phone,
                "business_account_id": WABA,
                "access_token": ACCESS_TOKEN,
                "app_secret": APP_SECRET,
                "verify_token": VERIFY_TOKEN,
            }),
        )
        .await,
    )
    .await
}

/// The path of the channel's webhook.
fn hook(channel: &Value) -> String {
    format!(
        "/api/v1/inbox/webhooks/whatsapp/{}",
        channel["id"].as_str().unwrap()
    )
}

/// Posts a signed incoming text from `from`.
async fn incoming(app: &TestApp, channel: &Value, from: &str, wamid: &str, text: &str, at: i64) {
    let phone = channel["phone_number_id"].as_str().unwrap();
    let payload = incoming_text(WABA, phone, from, "Ada Lovelace", wamid, text, at);
    let response = post_signed(&app.client, &app.url(&hook(channel)), APP_SECRET, &payload).await;
    assert_eq!(response.status(), 200, "the notification is accepted");
}

async fn status(app: &TestApp, channel: &Value, wamid: &str, status: &str) {
    let phone = channel["phone_number_id"].as_str().unwrap();
    let payload = status_update(WABA, phone, wamid, CONTACT, status, now_secs());
    let response = post_signed(&app.client, &app.url(&hook(channel)), APP_SECRET, &payload).await;
    assert_eq!(response.status(), 200);
}

async fn conversations(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let body = data(
        app.get_as(&format!("/api/v1/inbox/conversations?{query}"), token)
            .await,
    )
    .await;
    body.as_array().unwrap().clone()
}

async fn messages(app: &TestApp, token: &str, conversation: &str) -> Vec<Value> {
    let body = data(
        app.get_as(
            &format!("/api/v1/inbox/conversations/{conversation}/messages?limit=100"),
            token,
        )
        .await,
    )
    .await;
    body.as_array().unwrap().clone()
}

/// Waits for the first conversation to hold `count` messages.
async fn wait_for_messages(app: &TestApp, token: &str, count: usize) -> (Value, Vec<Value>) {
    eventually(
        format!("{count} message(s) stored"),
        Duration::from_secs(20),
        async || {
            let list = conversations(app, token, "").await;
            let first = list.first()?.clone();
            let stored = messages(app, token, first["id"].as_str().unwrap()).await;
            (stored.len() >= count).then_some((first, stored))
        },
    )
    .await
}

async fn event_types(app: &TestApp, token: &str) -> Vec<String> {
    let body = data(app.get_as("/api/v1/events?limit=100", token).await).await;
    body.as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

async fn reply(app: &TestApp, token: &str, conversation: &str, body: Value) -> reqwest::Response {
    app.post_as(
        &format!("/api/v1/inbox/conversations/{conversation}/messages"),
        token,
        &body,
    )
    .await
}

// ---- the channel's webhook ---------------------------------------------------------

async fn meta_verification_echoes_the_challenge_only_with_the_verify_token(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (token, _) = signed_in(&app, "verify@example.com").await;
    let channel = connect(&app, &token, "106540352242922").await;
    assert!(channel["webhook_url"]
        .as_str()
        .unwrap()
        .ends_with(&hook(&channel)));
    assert_eq!(channel["access_token_hint"], "…-9Qz");
    assert!(!channel.to_string().contains(APP_SECRET), "no secret shown");

    let ask = |mode: &str, verify: &str| {
        format!(
            "{}?hub.mode={mode}&hub.verify_token={verify}&hub.challenge=1158201444",
            hook(&channel)
        )
    };
    let answer = app.get(&ask("subscribe", VERIFY_TOKEN)).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "1158201444");
    assert_error(
        app.get(&ask("subscribe", "wrong-token")).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.get(&ask("unsubscribe", VERIFY_TOKEN)).await,
        403,
        "FORBIDDEN",
    )
    .await;
    let unknown = format!(
        "/api/v1/inbox/webhooks/whatsapp/{}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1",
        uuid::Uuid::now_v7()
    );
    assert_error(app.get(&unknown).await, 404, "NOT_FOUND").await;
}

async fn a_signed_message_is_stored_once_and_a_bad_signature_stores_nothing(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (token, _) = signed_in(&app, "inbound@example.com").await;
    let channel = connect(&app, &token, "106540352242922").await;
    let phone = channel["phone_number_id"].as_str().unwrap();

    // Unsigned and badly signed: 401, counted, nothing stored.
    let payload = incoming_text(WABA, phone, CONTACT, "Ada", "wamid.BAD", "hi", now_secs());
    let body = serde_json::to_vec(&payload).unwrap();
    let url = app.url(&hook(&channel));
    let response = post_with_signature(&app.client, &url, None, body.clone()).await;
    assert_error(response, 401, "UNAUTHORIZED").await;
    let wrong = signature("another-secret", &body);
    let response = post_with_signature(&app.client, &url, Some(&wrong), body.clone()).await;
    assert_error(response, 401, "UNAUTHORIZED").await;
    // Signed over other bytes than those sent.
    let other = signature(APP_SECRET, b"{}");
    let response = post_with_signature(&app.client, &url, Some(&other), body).await;
    assert_error(response, 401, "UNAUTHORIZED").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM inbox_messages", &[]).await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM inbox_contacts", &[]).await,
        0
    );
    let shown = data(
        app.get_as(
            &format!("/api/v1/inbox/channels/{}", channel["id"].as_str().unwrap()),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(shown["rejected_webhooks"], 3);

    // Signed: stored; the same notification again stores nothing more.
    incoming(
        &app,
        &channel,
        CONTACT,
        "wamid.HELLO",
        "Hello there",
        now_secs(),
    )
    .await;
    let (conversation, stored) = wait_for_messages(&app, &token, 1).await;
    incoming(
        &app,
        &channel,
        CONTACT,
        "wamid.HELLO",
        "Hello there",
        now_secs(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        messages(&app, &token, conversation["id"].as_str().unwrap())
            .await
            .len(),
        1
    );
    assert_eq!(stored[0]["body"], "Hello there");
    assert_eq!(stored[0]["direction"], "incoming");
    assert_eq!(stored[0]["provider_message_id"], "wamid.HELLO");
    assert_eq!(conversation["status"], "open");
    assert_eq!(conversation["number"], 1);
    let contact = data(
        app.get_as(
            &format!(
                "/api/v1/inbox/contacts/{}",
                conversation["contact_id"].as_str().unwrap()
            ),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(contact["wa_id"], CONTACT);
    assert_eq!(contact["name"], "Ada Lovelace");
    assert_eq!(contact["phone"], format!("+{CONTACT}"));
    let found = data(
        app.get_as("/api/v1/inbox/contacts?q=lovelace", &token)
            .await,
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let found = data(app.get_as("/api/v1/inbox/contacts?q=nobody", &token).await).await;
    assert_eq!(found, json!([]));
    let types = event_types(&app, &token).await;
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "inbox.message.received")
            .count(),
        1
    );
    assert!(types.contains(&"inbox.conversation.created".to_string()));
}

// ---- replies -----------------------------------------------------------------------

async fn a_reply_in_the_window_is_sent_and_statuses_never_go_back(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (token, _) = signed_in(&app, "reply@example.com").await;
    let channel = connect(&app, &token, "106540352242922").await;
    incoming(
        &app,
        &channel,
        CONTACT,
        "wamid.Q",
        "Where is my order?",
        now_secs(),
    )
    .await;
    let (conversation, _) = wait_for_messages(&app, &token, 1).await;
    let conversation_id = conversation["id"].as_str().unwrap();

    let queued = reply(
        &app,
        &token,
        conversation_id,
        json!({ "text": "On its way!" }),
    )
    .await;
    assert_eq!(queued.status(), 202);
    let queued = json(queued).await["data"].clone();
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["direction"], "outgoing");
    let sent = graph.wait_for_sent(1).await.remove(0);
    assert_eq!(sent.phone_number_id, "106540352242922");
    assert_eq!(sent.authorization, format!("Bearer {ACCESS_TOKEN}"));
    assert_eq!(sent.body["to"], CONTACT);
    assert_eq!(sent.body["type"], "text");
    assert_eq!(sent.body["text"]["body"], "On its way!");
    let outgoing = eventually(
        "the reply marked sent",
        Duration::from_secs(20),
        async || {
            let stored = messages(&app, &token, conversation_id).await;
            let reply = stored
                .iter()
                .find(|m| m["direction"] == "outgoing")?
                .clone();
            (reply["status"] == "sent").then_some(reply)
        },
    )
    .await;
    assert_eq!(outgoing["provider_message_id"], sent.wamid.as_str());

    // Callbacks out of order: read first, then delivered and sent late.
    status(&app, &channel, &sent.wamid, "read").await;
    status(&app, &channel, &sent.wamid, "delivered").await;
    status(&app, &channel, &sent.wamid, "sent").await;
    status(&app, &channel, &sent.wamid, "failed").await;
    eventually("read", Duration::from_secs(20), async || {
        let stored = messages(&app, &token, conversation_id).await;
        let reply = stored
            .iter()
            .find(|m| m["direction"] == "outgoing")?
            .clone();
        (reply["status"] == "read").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = messages(&app, &token, conversation_id).await;
    let reply_now = stored
        .iter()
        .find(|m| m["direction"] == "outgoing")
        .unwrap();
    assert_eq!(reply_now["status"], "read", "never backwards");
    let changes = event_types(&app, &token)
        .await
        .into_iter()
        .filter(|t| t == "inbox.message.status_changed")
        .count();
    assert_eq!(changes, 2, "sent, then read");

    // Metered against the plan: one request more this month.
    let metered = eventually("the reply metered", Duration::from_secs(20), async || {
        let n = app
            .count(
                "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM usage_hourly WHERE route LIKE '%inbox%'",
                &[],
            )
            .await;
        (n >= 1).then_some(n)
    })
    .await;
    assert_eq!(metered, 1);
}

async fn outside_the_window_only_a_template_goes(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (token, _) = signed_in(&app, "window@example.com").await;
    let channel = connect(&app, &token, "106540352242922").await;
    let yesterday = now_secs() - 25 * 3600;
    incoming(&app, &channel, CONTACT, "wamid.OLD", "Thanks!", yesterday).await;
    let (conversation, _) = wait_for_messages(&app, &token, 1).await;
    let id = conversation["id"].as_str().unwrap();

    let refused = reply(&app, &token, id, json!({ "text": "Anything else?" })).await;
    let body = assert_invalid_field(refused, "text").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("24-hour"));
    let unknown = reply(
        &app,
        &token,
        id,
        json!({ "template": { "name": "order_update", "language": "en_US", "parameters": ["42"] } }),
    )
    .await;
    assert_invalid_field(unknown, "template").await;
    let added = app
        .post_as(
            "/api/v1/inbox/templates",
            &token,
            &json!({ "name": "order_update", "language": "en_US", "body": "Your order {{1}} has shipped." }),
        )
        .await;
    assert_eq!(data(added).await["parameters"], 1);
    let wrong_count = reply(
        &app,
        &token,
        id,
        json!({ "template": { "name": "order_update", "language": "en_US", "parameters": [] } }),
    )
    .await;
    assert_invalid_field(wrong_count, "template").await;
    let queued = reply(
        &app,
        &token,
        id,
        json!({ "template": { "name": "order_update", "language": "en_US", "parameters": ["42"] } }),
    )
    .await;
    assert_eq!(queued.status(), 202);
    let sent = graph.wait_for_sent(1).await.remove(0);
    assert_eq!(sent.body["type"], "template");
    assert_eq!(sent.body["template"]["name"], "order_update");
    assert_eq!(sent.body["template"]["language"]["code"], "en_US");
    assert_eq!(
        sent.body["template"]["components"][0]["parameters"][0]["text"],
        "42"
    );
    let both = reply(
        &app,
        &token,
        id,
        json!({ "text": "x", "template": { "name": "order_update", "language": "en_US" } }),
    )
    .await;
    assert_invalid_field(both, "text").await;
    assert_eq!(graph.sent().len(), 1, "nothing else went out");

    // The Graph API refuses the next one: the message is failed, with why.
    graph.fail_next(400);
    let queued = reply(
        &app,
        &token,
        id,
        json!({ "template": { "name": "order_update", "language": "en_US", "parameters": ["43"] } }),
    )
    .await;
    let failed_id = json(queued).await["data"]["id"].clone();
    let failed = eventually(
        "the refused message failed",
        Duration::from_secs(20),
        async || {
            let stored = messages(&app, &token, id).await;
            let m = stored.iter().find(|m| m["id"] == failed_id)?.clone();
            (m["status"] == "failed").then_some(m)
        },
    )
    .await;
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.starts_with("WhatsApp refused the message (400): "),
        "{failed}"
    );
    assert!(!error.contains("http"), "{failed}");
}

async fn concurrent_messages_of_a_new_contact_open_one_conversation(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (token, _) = signed_in(&app, "burst@example.com").await;
    let channel = connect(&app, &token, "106540352242922").await;
    let sends = (0..10).map(|n| {
        let app = &app;
        let channel = &channel;
        async move {
            incoming(
                app,
                channel,
                CONTACT,
                &format!("wamid.BURST{n}"),
                &format!("message {n}"),
                now_secs(),
            )
            .await
        }
    });
    futures::future::join_all(sends).await;
    let (_, stored) = wait_for_messages(&app, &token, 10).await;
    assert_eq!(stored.len(), 10);
    assert_eq!(conversations(&app, &token, "").await.len(), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM inbox_contacts", &[]).await,
        1
    );
}

async fn a_capped_plan_stops_sending_with_quota_exceeded(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (token, registered) = signed_in(&app, "capped@example.com").await;
    let organization_id = registered["organization"]["id"].as_str().unwrap();
    let channel = connect(&app, &token, "106540352242922").await;
    incoming(&app, &channel, CONTACT, "wamid.CAP", "hi", now_secs()).await;
    let (conversation, _) = wait_for_messages(&app, &token, 1).await;
    // The free plan's 1,000 requests are used up.
    planted_counters(&app, organization_id, "", 1_000, now_ms()).await;
    let refused = reply(
        &app,
        &token,
        conversation["id"].as_str().unwrap(),
        json!({ "text": "hello" }),
    )
    .await;
    assert_error(refused, 429, "QUOTA_EXCEEDED").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(graph.sent().is_empty(), "nothing sent");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM inbox_messages WHERE direction = 'outgoing'",
            &[]
        )
        .await,
        0
    );
}

// ---- conversations -------------------------------------------------------------------

async fn conversations_are_assigned_resolved_labelled_and_filtered(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let base = graph.base_url();
    let team = Team::new_with(backend, "agents", |c| c.inbox.whatsapp_api_base = base).await;
    let app = &team.app;
    let channel = connect(app, &team.owner, "106540352242922").await;
    for (n, contact) in ["447700900001", "447700900002", "447700900003"]
        .iter()
        .enumerate()
    {
        incoming(
            app,
            &channel,
            contact,
            &format!("wamid.C{n}"),
            "hello",
            now_secs(),
        )
        .await;
        eventually("stored", Duration::from_secs(20), async || {
            (conversations(app, &team.owner, "").await.len() > n).then_some(())
        })
        .await;
    }
    let all = conversations(app, &team.owner, "").await;
    let numbers: Vec<i64> = all.iter().map(|c| c["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [3, 2, 1], "newest activity first");
    let id = |n: usize| all[n]["id"].as_str().unwrap().to_string();

    // A member takes a conversation, but may not give one to someone else.
    let path = |id: &str, what: &str| format!("/api/v1/inbox/conversations/{id}/{what}");
    let taken = app
        .post_as(
            &path(&id(0), "assign"),
            &team.member,
            &json!({ "assignee_id": team.member_id }),
        )
        .await;
    assert_eq!(data(taken).await["assignee_id"], team.member_id.as_str());
    let refused = app
        .post_as(
            &path(&id(1), "assign"),
            &team.member,
            &json!({ "assignee_id": team.admin_id }),
        )
        .await;
    assert_error(refused, 403, "FORBIDDEN").await;
    let given = app
        .post_as(
            &path(&id(1), "assign"),
            &team.admin,
            &json!({ "assignee_id": team.member_id, "team": "billing" }),
        )
        .await;
    assert_eq!(data(given).await["team"], "billing");
    let stranger = app
        .post_as(
            &path(&id(2), "assign"),
            &team.admin,
            &json!({ "assignee_id": uuid::Uuid::now_v7().to_string() }),
        )
        .await;
    assert_invalid_field(stranger, "assignee_id").await;
    let mine = conversations(app, &team.member, "assignee=me").await;
    assert_eq!(mine.len(), 2);
    let unassigned = conversations(app, &team.member, "assignee=none").await;
    assert_eq!(unassigned.len(), 1);

    // Labels, status and their filters.
    let labelled = app
        .client
        .put(app.url(&path(&id(2), "labels")))
        .bearer_auth(&team.member)
        .json(&json!({ "labels": ["VIP", "refund", "vip"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(data(labelled).await["labels"], json!(["refund", "vip"]));
    assert_eq!(conversations(app, &team.owner, "label=vip").await.len(), 1);
    let resolved = app
        .post_as(
            &path(&id(2), "status"),
            &team.member,
            &json!({ "status": "resolved" }),
        )
        .await;
    assert_eq!(data(resolved).await["status"], "resolved");
    let snooze = app
        .post_as(
            &path(&id(1), "status"),
            &team.member,
            &json!({ "status": "snoozed" }),
        )
        .await;
    assert_invalid_field(snooze, "snoozed_until").await;
    assert_eq!(
        conversations(app, &team.owner, "status=resolved")
            .await
            .len(),
        1
    );
    assert_eq!(
        conversations(app, &team.owner, "status=open").await.len(),
        2
    );
    let types = event_types(app, &team.owner).await;
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "inbox.conversation.assigned")
            .count(),
        2
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "inbox.conversation.resolved")
            .count(),
        1
    );

    // A new message after the resolution opens a new conversation.
    let resolved_contact = all[2]["contact_id"].clone();
    incoming(
        app,
        &channel,
        "447700900001",
        "wamid.AGAIN",
        "one more thing",
        now_secs(),
    )
    .await;
    eventually(
        "a fourth conversation",
        Duration::from_secs(20),
        async || (conversations(app, &team.owner, "").await.len() == 4).then_some(()),
    )
    .await;
    let latest = &conversations(app, &team.owner, "").await[0];
    assert_eq!(latest["contact_id"], resolved_contact);
    assert_eq!(latest["number"], 4);
    // Reopening the old one now would make two unresolved: refused.
    let reopen = app
        .post_as(
            &path(&id(2), "status"),
            &team.owner,
            &json!({ "status": "open" }),
        )
        .await;
    assert_error(reopen, 409, "CONFLICT").await;

    // Cursor pages by last activity.
    let first = json(
        app.get_as("/api/v1/inbox/conversations?limit=3", &team.owner)
            .await,
    )
    .await;
    assert_eq!(first["data"].as_array().unwrap().len(), 3);
    let cursor = first["meta"]["next_cursor"].as_str().unwrap();
    let rest = data(
        app.get_as(
            &format!("/api/v1/inbox/conversations?limit=3&cursor={cursor}"),
            &team.owner,
        )
        .await,
    )
    .await;
    assert_eq!(rest.as_array().unwrap().len(), 1);
    for bad in [
        "status=closed",
        "assignee=someone",
        "cursor=nope",
        "limit=0",
    ] {
        let response = app
            .get_as(&format!("/api/v1/inbox/conversations?{bad}"), &team.owner)
            .await;
        assert_error(response, 422, "VALIDATION_ERROR").await;
    }
}

async fn channels_refuse_bad_input_and_members(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let base = graph.base_url();
    let team = Team::new_with(backend, "channels", |c| c.inbox.whatsapp_api_base = base).await;
    let app = &team.app;
    let body = |phone: &str, secret: &str| {
        json!({
            "name": "Line", "phone_number_id": phone, "business_account_id": WABA,
            "access_token": ACCESS_TOKEN, "app_secret": secret, "verify_token": VERIFY_TOKEN,
        })
    };
    let refused = app
        .post_as(
            "/api/v1/inbox/channels",
            &team.member,
            &body("1065", APP_SECRET),
        )
        .await;
    assert_error(refused, 403, "FORBIDDEN").await;
    let wrong = app
        .post_as(
            "/api/v1/inbox/channels",
            &team.admin,
            &body("not digits", "short"),
        )
        .await;
    let wrong = assert_error(wrong, 422, "VALIDATION_ERROR").await;
    let fields: Vec<&str> = wrong["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["phone_number_id", "app_secret"]);
    let connected = app
        .post_as(
            "/api/v1/inbox/channels",
            &team.admin,
            &body("1065", APP_SECRET),
        )
        .await;
    assert_eq!(connected.status(), 201);
    let again = app
        .post_as(
            "/api/v1/inbox/channels",
            &team.owner,
            &body("1065", APP_SECRET),
        )
        .await;
    assert_error(again, 409, "CONFLICT").await;
    // Members read channels; the secrets are sealed at rest.
    let listed = data(app.get_as("/api/v1/inbox/channels", &team.member).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let stored = app
        .count(
            "SELECT COUNT(*) FROM inbox_channels WHERE access_token_sealed LIKE $1 OR app_secret_sealed LIKE $2",
            &[&format!("%{ACCESS_TOKEN}%"), &format!("%{APP_SECRET}%")],
        )
        .await;
    assert_eq!(stored, 0, "no secret in the clear");
    let canned = app
        .post_as(
            "/api/v1/inbox/canned-responses",
            &team.admin,
            &json!({ "short_code": "thanks", "content": "Thank you!" }),
        )
        .await;
    assert_eq!(canned.status(), 201);
    let taken = app
        .post_as(
            "/api/v1/inbox/canned-responses",
            &team.admin,
            &json!({ "short_code": "thanks", "content": "Again" }),
        )
        .await;
    assert_error(taken, 409, "CONFLICT").await;
    let bad = app
        .post_as(
            "/api/v1/inbox/canned-responses",
            &team.admin,
            &json!({ "short_code": "Thanks!", "content": "" }),
        )
        .await;
    assert_error(bad, 422, "VALIDATION_ERROR").await;
    let listed = data(
        app.get_as("/api/v1/inbox/canned-responses", &team.member)
            .await,
    )
    .await;
    assert_eq!(listed[0]["short_code"], "thanks");
}

async fn another_organization_sees_nothing_of_the_inbox(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (token, _) = signed_in(&app, "mine@example.com").await;
    let (stranger, _) = signed_in(&app, "theirs@example.com").await;
    let channel = connect(&app, &token, "106540352242922").await;
    incoming(&app, &channel, CONTACT, "wamid.MINE", "private", now_secs()).await;
    let (conversation, _) = wait_for_messages(&app, &token, 1).await;
    let id = conversation["id"].as_str().unwrap();
    let channel_id = channel["id"].as_str().unwrap();
    let contact_id = conversation["contact_id"].as_str().unwrap();
    for path in [
        format!("/api/v1/inbox/conversations/{id}"),
        format!("/api/v1/inbox/conversations/{id}/messages"),
        format!("/api/v1/inbox/channels/{channel_id}"),
        format!("/api/v1/inbox/contacts/{contact_id}"),
    ] {
        assert_error(app.get_as(&path, &stranger).await, 404, "NOT_FOUND").await;
    }
    for (path, body) in [
        (
            format!("/api/v1/inbox/conversations/{id}/messages"),
            json!({ "text": "hi" }),
        ),
        (
            format!("/api/v1/inbox/conversations/{id}/assign"),
            json!({ "assignee_id": null }),
        ),
        (
            format!("/api/v1/inbox/conversations/{id}/status"),
            json!({ "status": "resolved" }),
        ),
        (
            format!("/api/v1/inbox/channels/{channel_id}/check"),
            json!({}),
        ),
    ] {
        assert_error(app.post_as(&path, &stranger, &body).await, 404, "NOT_FOUND").await;
    }
    assert_error(
        app.delete_as(&format!("/api/v1/inbox/channels/{channel_id}"), &stranger)
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(conversations(&app, &stranger, "").await.len(), 0);
    let contacts = data(app.get_as("/api/v1/inbox/contacts", &stranger).await).await;
    assert_eq!(contacts, json!([]));
    // Nothing of it changed.
    let still = data(
        app.get_as(&format!("/api/v1/inbox/conversations/{id}"), &token)
            .await,
    )
    .await;
    assert_eq!(still["status"], "open");
    assert!(graph.sent().is_empty());
}

async fn a_bulk_close_of_many_conversations_reports_progress_to_the_end(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let base = graph.base_url();
    let team = Team::new_with(backend, "bulk", |c| c.inbox.whatsapp_api_base = base).await;
    let app = &team.app;
    let channel = connect(app, &team.owner, "106540352242922").await;
    const MANY: usize = 120;
    for batch in (0..MANY).collect::<Vec<_>>().chunks(20) {
        let sends = batch.iter().map(|n| {
            let channel = &channel;
            async move {
                let from = format!("4477009{n:05}");
                incoming(
                    app,
                    channel,
                    &from,
                    &format!("wamid.BULK{n}"),
                    "hi",
                    now_secs(),
                )
                .await
            }
        });
        futures::future::join_all(sends).await;
    }
    eventually("120 conversations", Duration::from_secs(60), async || {
        let n = app
            .count("SELECT COUNT(*) FROM inbox_conversations", &[])
            .await;
        (n == MANY as i64).then_some(())
    })
    .await;

    // Members may not; bad requests name the field.
    let close_open = json!({ "action": "close", "filter": { "status": "open" } });
    let refused = app
        .post_as(
            "/api/v1/inbox/conversations/bulk",
            &team.member,
            &close_open,
        )
        .await;
    assert_error(refused, 403, "FORBIDDEN").await;
    let both = app
        .post_as(
            "/api/v1/inbox/conversations/bulk",
            &team.admin,
            &json!({ "action": "close", "filter": {}, "conversation_ids": [] }),
        )
        .await;
    assert_invalid_field(both, "conversation_ids").await;
    let no_labels = app
        .post_as(
            "/api/v1/inbox/conversations/bulk",
            &team.admin,
            &json!({ "action": "label", "filter": {} }),
        )
        .await;
    assert_invalid_field(no_labels, "labels").await;

    let started = app
        .post_as("/api/v1/inbox/conversations/bulk", &team.admin, &close_open)
        .await;
    assert_eq!(started.status(), 202);
    let started = json(started).await["data"].clone();
    assert_eq!(started["total"], MANY);
    let job = format!("/api/v1/inbox/jobs/{}", started["id"].as_str().unwrap());
    let mut seen_progress = Vec::new();
    let finished = eventually("the bulk close done", Duration::from_secs(60), async || {
        let progress = data(app.get_as(&job, &team.admin).await).await;
        seen_progress.push(progress["done"].as_i64().unwrap());
        (progress["status"] == "done").then_some(progress)
    })
    .await;
    assert_eq!(finished["done"], MANY);
    assert!(finished["finished_at"].is_string());
    assert!(
        seen_progress.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {seen_progress:?}"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM inbox_conversations WHERE status = 'resolved'",
            &[]
        )
        .await,
        MANY as i64
    );
    let resolved = app
        .count(
            "SELECT COUNT(*) FROM events WHERE type = 'inbox.conversation.resolved'",
            &[],
        )
        .await;
    assert_eq!(resolved, MANY as i64, "one event each");

    // Labels by ids: another organization's ids are not touched.
    let (stranger, _) = signed_in(app, "bulk-stranger@example.com").await;
    let ids: Vec<Value> = conversations(app, &team.owner, "status=resolved&limit=5")
        .await
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    let theirs = app
        .post_as(
            "/api/v1/inbox/conversations/bulk",
            &stranger,
            &json!({ "action": "label", "labels": ["x"], "conversation_ids": ids }),
        )
        .await;
    let theirs = json(theirs).await["data"].clone();
    assert_eq!(theirs["total"], 0, "none of them are the stranger's");
    assert_error(app.get_as(&job, &stranger).await, 404, "NOT_FOUND").await;
    let labelled = app
        .post_as(
            "/api/v1/inbox/conversations/bulk",
            &team.owner,
            &json!({ "action": "label", "labels": ["Spring-Sale"], "conversation_ids": ids }),
        )
        .await;
    let labelled = json(labelled).await["data"].clone();
    assert_eq!(labelled["total"], 5);
    let job = format!("/api/v1/inbox/jobs/{}", labelled["id"].as_str().unwrap());
    eventually("labelled", Duration::from_secs(30), async || {
        let p = data(app.get_as(&job, &team.owner).await).await;
        (p["status"] == "done").then_some(())
    })
    .await;
    assert_eq!(
        conversations(app, &team.owner, "label=spring-sale")
            .await
            .len(),
        5
    );
}

// ---- realtime ------------------------------------------------------------------------

/// One server-sent event.
#[derive(Debug, Clone)]
struct SseEvent {
    id: String,
    event: String,
    data: Value,
}

/// Reads a `text/event-stream` answer event by event.
struct SseReader {
    response: reqwest::Response,
    text: String,
}

impl SseReader {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> SseReader {
        let mut request = app
            .client
            .get(app.url("/api/v1/inbox/stream"))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        SseReader {
            response,
            text: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped), within `within`.
    async fn next(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let frame: String = self.text.drain(..end + 2).collect();
                let mut event = SseEvent {
                    id: String::new(),
                    event: String::new(),
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        event.id = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if event.event.is_empty() {
                    continue; // a keep-alive comment
                }
                event.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.text.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// The next event of `kind`, skipping others.
    async fn next_of(&mut self, kind: &str, within: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next(left).await?;
            if event.event == kind {
                return Some(event);
            }
        }
    }
}

async fn the_stream_delivers_this_organizations_events_and_resumes_after_the_last_id(
    backend: Backend,
) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (token, registered) = signed_in(&app, "live@example.com").await;
    let (stranger, _) = signed_in(&app, "elsewhere@example.com").await;
    let channel = connect(&app, &token, "106540352242922").await;
    let mut mine = SseReader::open(&app, &token, None).await;
    let mut theirs = SseReader::open(&app, &stranger, None).await;

    incoming(&app, &channel, CONTACT, "wamid.LIVE1", "first", now_secs()).await;
    let first = mine
        .next_of("message.created", Duration::from_secs(20))
        .await
        .expect("the first message, live");
    assert_eq!(first.data["message"]["body"], "first");
    assert_eq!(first.data["conversation_created"], true);
    let conversation = first.data["conversation_id"].as_str().unwrap().to_string();

    // Presence and typing reach the organization's streams.
    let typing = app
        .post_as(
            "/api/v1/inbox/presence",
            &token,
            &json!({ "status": "typing", "conversation_id": conversation }),
        )
        .await;
    assert_eq!(typing.status(), 200);
    let presence = mine
        .next_of("presence", Duration::from_secs(20))
        .await
        .expect("presence");
    assert_eq!(presence.data["user_id"], registered["user"]["id"]);
    assert_eq!(presence.data["status"], "typing");
    let bad = app
        .post_as(
            "/api/v1/inbox/presence",
            &token,
            &json!({ "status": "viewing" }),
        )
        .await;
    assert_invalid_field(bad, "conversation_id").await;

    // The stranger's stream got nothing of it (only presence of its own).
    while let Some(event) = theirs.next(Duration::from_millis(500)).await {
        assert_eq!(event.event, "presence");
        assert_ne!(event.data["user_id"], registered["user"]["id"]);
    }
    drop(theirs);

    // Disconnected, a second message; reconnecting after the first's id
    // gives what was missed.
    drop(mine);
    incoming(&app, &channel, CONTACT, "wamid.LIVE2", "second", now_secs()).await;
    wait_for_messages(&app, &token, 2).await;
    let mut again = SseReader::open(&app, &token, Some(&first.id)).await;
    let missed = again
        .next_of("message.created", Duration::from_secs(20))
        .await
        .expect("the missed message");
    assert_eq!(missed.data["message"]["body"], "second");

    // Assignment and replies are live too.
    let assigned = app
        .post_as(
            &format!("/api/v1/inbox/conversations/{conversation}/assign"),
            &token,
            &json!({ "assignee_id": registered["user"]["id"] }),
        )
        .await;
    assert_eq!(assigned.status(), 200);
    let updated = again
        .next_of("conversation.updated", Duration::from_secs(20))
        .await
        .expect("the assignment, live");
    assert_eq!(updated.data["change"], "assigned");
    let bad_id = app
        .client
        .get(app.url("/api/v1/inbox/stream"))
        .bearer_auth(&token)
        .header("last-event-id", "nope")
        .send()
        .await
        .unwrap();
    assert_invalid_field(bad_id, "last_event_id").await;
    // An empty header does not hide a wrong query value.
    let empty_header = app
        .client
        .get(app.url("/api/v1/inbox/stream?last_event_id=null"))
        .bearer_auth(&token)
        .header("last-event-id", "")
        .send()
        .await
        .unwrap();
    assert_invalid_field(empty_header, "last_event_id").await;
}

async fn two_instances_on_one_redis_share_the_stream(backend: Backend) {
    let test = "inbox::two_instances_on_one_redis_share_the_stream";
    let Some(redis) = RedisServer::start(test).await else {
        return;
    };
    let graph = WhatsAppStandIn::start().await;
    let base = graph.base_url();
    let keys = |c: &mut landlord::settings::Settings| {
        c.token_signing_key = Some("a token signing key for two servers, 32+".into());
        c.payload_encryption_key = Some("a payload key for two servers, long enough".into());
        c.redis_url = Some(redis.url().into());
        c.inbox.whatsapp_api_base = base.clone();
        // Only Redis can wake the other instance's stream in time.
        c.inbox.stream_poll_ms = 600_000;
    };
    let first = TestApp::spawn_with(backend, keys).await;
    let database = first.database_url();
    let second = TestApp::spawn_with(backend, |c| {
        keys(c);
        c.database_url = Some(database);
        // The second instance works no job: what it streams comes from the first.
        c.jobs_poll_interval_ms = 3_600_000;
    })
    .await;
    let (token, _) = signed_in(&first, "two@example.com").await;
    let channel = connect(&first, &token, "106540352242922").await;
    let mut on_second = SseReader::open(&second, &token, None).await;
    incoming(
        &first,
        &channel,
        CONTACT,
        "wamid.TWO",
        "across instances",
        now_secs(),
    )
    .await;
    let event = on_second
        .next_of("message.created", Duration::from_secs(20))
        .await
        .expect("the message received by the first instance, on the second's stream");
    assert_eq!(event.data["message"]["body"], "across instances");
}

async fn contacts_keep_attributes_and_labels_and_a_snooze_ends_by_itself(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let app = graph.app(backend).await;
    let (token, _) = signed_in(&app, "contacts@example.com").await;
    let (stranger, _) = signed_in(&app, "contacts-stranger@example.com").await;
    let channel = connect(&app, &token, "106540352242922").await;
    incoming(&app, &channel, CONTACT, "wamid.ATTR", "hello", now_secs()).await;
    let (conversation, _) = wait_for_messages(&app, &token, 1).await;
    let contact = format!(
        "/api/v1/inbox/contacts/{}",
        conversation["contact_id"].as_str().unwrap()
    );
    let patch = |token: String, body: Value| {
        let request = app
            .client
            .patch(app.url(&contact))
            .bearer_auth(token)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let changed = data(
        patch(
            token.clone(),
            json!({ "name": "Ada L.", "attributes": { "plan": "gold", "city": "London" }, "labels": ["VIP", "vip", "beta"] }),
        )
        .await,
    )
    .await;
    assert_eq!(changed["name"], "Ada L.");
    assert_eq!(changed["attributes"]["plan"], "gold");
    assert_eq!(changed["labels"], json!(["vip", "beta"]));
    let kept = data(patch(token.clone(), json!({ "name": "Ada" })).await).await;
    assert_eq!(kept["attributes"]["city"], "London", "absent fields stay");
    let too_many: serde_json::Map<String, Value> =
        (0..51).map(|n| (format!("k{n}"), json!("v"))).collect();
    assert_invalid_field(
        patch(token.clone(), json!({ "attributes": too_many })).await,
        "attributes",
    )
    .await;
    assert_invalid_field(
        patch(token.clone(), json!({ "labels": ["no spaces"] })).await,
        "labels",
    )
    .await;
    assert_error(
        patch(stranger.clone(), json!({ "name": "x" })).await,
        404,
        "NOT_FOUND",
    )
    .await;

    // A snooze ends by itself at its time: the conversation is open again.
    let id = conversation["id"].as_str().unwrap();
    let until = Timestamp::now().plus(Duration::from_secs(3600)).rfc3339();
    let snoozed = app
        .post_as(
            &format!("/api/v1/inbox/conversations/{id}/status"),
            &token,
            &json!({ "status": "snoozed", "snoozed_until": until }),
        )
        .await;
    assert_eq!(data(snoozed).await["status"], "snoozed");
    assert_eq!(conversations(&app, &token, "status=open").await.len(), 0);
    assert_eq!(conversations(&app, &token, "status=snoozed").await.len(), 1);
    // The test's clock: the snooze ended a minute ago.
    sqlx::query("UPDATE inbox_conversations SET snoozed_until = $1 WHERE id = $2")
        .bind(now_ms() - 60_000)
        .bind(id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let open = conversations(&app, &token, "status=open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["status"], "open");
    assert!(open[0]["snoozed_until"].is_null());
    assert_eq!(conversations(&app, &token, "status=snoozed").await.len(), 0);
}

/// Connecting a number asks Meta about it first: a token Meta refuses or a
/// number it does not know is refused on its field and nothing is saved;
/// Meta out of reach saves nothing either (503). "Test connection" says
/// what Meta says now, to the channel's managers only.
async fn connecting_asks_meta_and_test_connection_says_what_it_said(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let base = graph.base_url();
    let team = Team::new_with(backend, "checks", |c| c.inbox.whatsapp_api_base = base).await;
    let app = &team.app;
    let body = |phone: &str, token: &str| {
        json!({
            "name": "Line", "phone_number_id": phone, "business_account_id": WABA,
            "access_token": token, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN,
        })
    };
    let expired = app
        .post_as(
            "/api/v1/inbox/channels",
            &team.admin,
            &body("1065", EXPIRED_TOKEN),
        )
        .await;
    let expired = assert_invalid_field(expired, "access_token").await;
    let reason = expired["error"]["details"]["fields"][0]["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.contains("does not accept this access token"),
        "{reason}"
    );
    let unknown = app
        .post_as(
            "/api/v1/inbox/channels",
            &team.admin,
            &body(UNKNOWN_PHONE_NUMBER_ID, ACCESS_TOKEN),
        )
        .await;
    let unknown = assert_invalid_field(unknown, "phone_number_id").await;
    assert!(!unknown.to_string().contains("Graph"), "{unknown}");
    let listed = data(app.get_as("/api/v1/inbox/channels", &team.admin).await).await;
    assert_eq!(listed, json!([]), "nothing Meta refused was saved");

    let connected = data(
        app.post_as(
            "/api/v1/inbox/channels",
            &team.admin,
            &body("1065", ACCESS_TOKEN),
        )
        .await,
    )
    .await;
    let check_path = format!(
        "/api/v1/inbox/channels/{}/check",
        connected["id"].as_str().unwrap()
    );
    let check = data(app.post_as(&check_path, &team.owner, &json!({})).await).await;
    assert_eq!(check["status"], "working", "{check}");
    assert_eq!(check["verified_name"], VERIFIED_NAME);
    assert!(check["message"].as_str().unwrap().contains(VERIFIED_NAME));
    assert_error(
        app.post_as(&check_path, &team.member, &json!({})).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.post_as(
            "/api/v1/inbox/channels/ich_00000000000000000000000000/check",
            &team.owner,
            &json!({}),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;

    // Meta out of reach: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let offline = TestApp::spawn_with(backend, |c| c.inbox.whatsapp_api_base = unreachable).await;
    let (token, _) = signed_in(&offline, "offline@example.com").await;
    let refused = offline
        .post_as(
            "/api/v1/inbox/channels",
            &token,
            &body("1065", ACCESS_TOKEN),
        )
        .await;
    let refused = assert_error(refused, 503, "SERVICE_UNAVAILABLE").await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("nothing was saved"), "{message}");
    assert!(!message.contains("127.0.0.1"), "{message}");
    let listed = data(offline.get_as("/api/v1/inbox/channels", &token).await).await;
    assert_eq!(listed, json!([]));
}

/// A message WhatsApp kept failing until the last attempt is `failed` with
/// a sentence for the agent: no URL, no transport error.
async fn a_message_that_never_got_through_says_so_in_plain_words(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let base = graph.base_url();
    let app = TestApp::spawn_with(backend, |c| {
        c.inbox.whatsapp_api_base = base;
        c.core.jobs_max_attempts = 2;
    })
    .await;
    let (token, _) = signed_in(&app, "retries@example.com").await;
    let channel = connect(&app, &token, "106540352242922").await;
    incoming(&app, &channel, CONTACT, "wamid.IN1", "hello", now_secs()).await;
    let (conversation, _) = wait_for_messages(&app, &token, 1).await;
    let id = conversation["id"].as_str().unwrap();
    graph.fail_next(503);
    graph.fail_next(503);
    let queued = reply(&app, &token, id, json!({ "text": "on its way" })).await;
    let failed_id = json(queued).await["data"]["id"].clone();
    let failed = eventually(
        "the message failed after its last attempt",
        Duration::from_secs(30),
        async || {
            let stored = messages(&app, &token, id).await;
            let m = stored.iter().find(|m| m["id"] == failed_id)?.clone();
            (m["status"] == "failed").then_some(m)
        },
    )
    .await;
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("could not be reached"), "{error}");
    for raw in ["http", "127.0.0.1", "Graph API", "503"] {
        assert!(!error.contains(raw), "{raw} in {error}");
    }
    assert_eq!(graph.sent().len(), 2, "two attempts, then it gave up");
}
