//! Events (issue 13, item 1): each catalog entry written by its action in
//! the action's transaction, the history `GET /events` (filters, cursor
//! pages, bad input, tenants, permissions) and the published catalog — on
//! SQLite and PostgreSQL.

use std::time::Duration;

use landlord_payments::signature::sign_stripe;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::console::Browser;
use crate::support::accounts::{signed_in, PASSWORD};
use crate::support::app::{json, smtp_to};
use crate::support::billing::planted_counters;
use crate::support::clock::{now_ms, now_secs};
use crate::support::errors::{assert_error, assert_invalid_field};
use crate::support::eventually::eventually;
use crate::support::keys::{create_key, email_message, wait_until_sent};
use crate::support::payments::{billed, Billed};
use crate::support::providers::STRIPE_WEBHOOK_SECRET;
use crate::support::smtp::SmtpServer;
use crate::support::team::Team;
use crate::support::{Backend, TestApp};

backend_tests!(
    team_and_key_actions_write_their_events_with_their_payloads,
    a_refused_or_failed_action_writes_no_event,
    the_history_filters_by_type_and_time_and_pages_with_cursors,
    the_history_refuses_bad_input_naming_the_field,
    another_organizations_events_are_not_found_nor_listed,
    only_owners_and_admins_read_the_history,
    the_catalog_is_published_by_the_api_and_the_openapi_document,
    billing_events_follow_the_close_the_overdue_mark_and_the_payment,
    message_events_follow_the_delivery,
    a_message_that_cannot_be_delivered_writes_message_failed,
    usage_thresholds_are_written_once_each_per_period,
    a_failed_payment_writes_payment_failed_once,
    the_events_page_shows_the_history_with_its_type_filter,
    an_ownership_transfer_writes_both_role_changes,
);

/// Every event of the organization, newest first (all pages).
async fn all_events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = String::new();
    loop {
        let response = app
            .get_as(
                &format!("/api/v1/events?limit=100&cursor={cursor}{query}"),
                token,
            )
            .await;
        assert_eq!(response.status(), 200, "GET /events{query}");
        let body = json(response).await;
        events.extend(body["data"].as_array().unwrap().iter().cloned());
        match body["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return events,
        }
    }
}

/// The payloads of the events of `event_type`, oldest first.
async fn payloads(app: &TestApp, token: &str, event_type: &str) -> Vec<Value> {
    let mut events = all_events(app, token, &format!("&type={event_type}")).await;
    events.reverse();
    events
        .into_iter()
        .map(|e| {
            assert_eq!(e["type"], event_type, "{e}");
            assert_eq!(e["version"], 1, "{e}");
            e["payload"].clone()
        })
        .collect()
}

async fn team_and_key_actions_write_their_events_with_their_payloads(backend: Backend) {
    let team = Team::new(backend, "ev").await;
    let app = &team.app;
    let org = team.org_id.as_str();

    // Team::new invited and brought in an admin and a member.
    let created = payloads(app, &team.owner, "invitation.created").await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["email"], "ev-admin@example.com");
    assert_eq!(created[0]["role"], "admin");
    assert_eq!(created[0]["organization_id"], org);
    assert_eq!(created[0]["invited_by"], team.owner_id.as_str());
    assert!(created[0]["expires_at"].is_string());
    let accepted = payloads(app, &team.owner, "invitation.accepted").await;
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[1]["user_id"], team.member_id.as_str());
    assert_eq!(accepted[1]["invitation_id"], created[1]["invitation_id"]);
    let added = payloads(app, &team.owner, "member.added").await;
    assert_eq!(added.len(), 2);
    assert_eq!(added[1]["user_id"], team.member_id.as_str());
    assert_eq!(added[1]["email"], "ev-member@example.com");
    assert_eq!(added[1]["role"], "member");

    // organization.updated
    let response = app
        .client
        .patch(app.url("/api/v1/organization"))
        .bearer_auth(&team.owner)
        .json(&json!({"name": "Renamed Inc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let updated = payloads(app, &team.owner, "organization.updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["name"], "Renamed Inc");
    assert_eq!(updated[0]["updated_by"], team.owner_id.as_str());
    assert_eq!(updated[0]["organization_id"], org);

    // api_key.created, api_key.revoked
    let key = create_key(app, &team.member, json!({"name": "ci"})).await;
    let key_id = key["id"].as_str().unwrap();
    let keys = payloads(app, &team.owner, "api_key.created").await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["api_key_id"], key_id);
    assert_eq!(keys[0]["name"], "ci");
    assert_eq!(keys[0]["prefix"], key["prefix"]);
    assert_eq!(keys[0]["created_by"], team.member_id.as_str());
    assert!(!keys[0].to_string().contains(key["key"].as_str().unwrap()));
    let revoked = app
        .delete_as(&format!("/api/v1/keys/{key_id}"), &team.admin)
        .await;
    assert_eq!(revoked.status(), 200);
    let revocations = payloads(app, &team.owner, "api_key.revoked").await;
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0]["api_key_id"], key_id);
    assert_eq!(revocations[0]["revoked_by"], team.admin_id.as_str());

    // member.role_changed
    let response = app
        .client
        .put(app.url(&format!("/api/v1/team/members/{}/role", team.member_id)))
        .bearer_auth(&team.owner)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let changes = payloads(app, &team.owner, "member.role_changed").await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["user_id"], team.member_id.as_str());
    assert_eq!(changes[0]["previous_role"], "member");
    assert_eq!(changes[0]["role"], "admin");
    assert_eq!(changes[0]["changed_by"], team.owner_id.as_str());

    // member.removed (removed, with the key they created revoked too) and
    // member.removed (left).
    let second = create_key(app, &team.member, json!({"name": "second"})).await;
    let removed = app
        .delete_as(
            &format!("/api/v1/team/members/{}", team.member_id),
            &team.owner,
        )
        .await;
    assert_eq!(removed.status(), 200);
    let left = app
        .post_as("/api/v1/team/leave", &team.admin, &json!({}))
        .await;
    assert_eq!(left.status(), 200);
    let removals = payloads(app, &team.owner, "member.removed").await;
    assert_eq!(removals.len(), 2);
    assert_eq!(removals[0]["user_id"], team.member_id.as_str());
    assert_eq!(removals[0]["removed_by"], team.owner_id.as_str());
    assert_eq!(removals[1]["user_id"], team.admin_id.as_str());
    assert_eq!(removals[1]["removed_by"], Value::Null);
    let revocations = payloads(app, &team.owner, "api_key.revoked").await;
    assert_eq!(revocations.len(), 2);
    assert_eq!(revocations[1]["api_key_id"], second["id"]);
    assert_eq!(revocations[1]["revoked_by"], team.owner_id.as_str());
}

async fn a_refused_or_failed_action_writes_no_event(backend: Backend) {
    let team = Team::new(backend, "evno").await;
    let app = &team.app;
    let before = all_events(app, &team.owner, "").await.len();
    // Refused: a member may not rename the organization.
    let response = app
        .client
        .patch(app.url("/api/v1/organization"))
        .bearer_auth(&team.member)
        .json(&json!({"name": "Nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Failed: the last owner cannot be demoted; inviting a member again
    // conflicts; an unknown key cannot be revoked.
    let response = app
        .client
        .put(app.url(&format!("/api/v1/team/members/{}/role", team.owner_id)))
        .bearer_auth(&team.owner)
        .json(&json!({"role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let response = app
        .post_as(
            "/api/v1/team/invite",
            &team.owner,
            &json!({"email": "evno-member@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(response.status(), 409);
    let response = app
        .delete_as(
            "/api/v1/keys/0192f000-0000-7000-8000-000000000000",
            &team.owner,
        )
        .await;
    assert_eq!(response.status(), 404);
    // Setting a role to what it is changes nothing: no event.
    let response = app
        .client
        .put(app.url(&format!("/api/v1/team/members/{}/role", team.member_id)))
        .bearer_auth(&team.owner)
        .json(&json!({"role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(all_events(app, &team.owner, "").await.len(), before);
}

async fn the_history_filters_by_type_and_time_and_pages_with_cursors(backend: Backend) {
    let team = Team::new(backend, "evpage").await;
    let app = &team.app;
    for n in 0..3 {
        create_key(app, &team.owner, json!({"name": format!("k{n}")})).await;
    }
    let all = all_events(app, &team.owner, "").await;
    // 2 invitations created, 2 accepted, 2 members added, 3 keys.
    assert_eq!(all.len(), 9, "{all:?}");
    // Newest first.
    let times: Vec<&str> = all
        .iter()
        .map(|e| e["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
    assert_eq!(all[0]["type"], "api_key.created");
    assert_eq!(all[0]["payload"]["name"], "k2");

    // Pages of 2 walk everything exactly once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let body = json(
            app.get_as(
                &format!("/api/v1/events?limit=2&cursor={cursor}"),
                &team.owner,
            )
            .await,
        )
        .await;
        let page = body["data"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match body["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    let ids: Vec<String> = all
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, ids);

    // Type filter.
    let keys = all_events(app, &team.owner, "&type=api_key.created").await;
    assert_eq!(keys.len(), 3);
    // Time filters: since the newest includes it; until the newest excludes it.
    let newest = all[0]["created_at"].as_str().unwrap();
    let since = all_events(app, &team.owner, &format!("&since={}", urlencode(newest))).await;
    assert!(since.iter().any(|e| e["id"] == all[0]["id"]));
    assert!(since.len() < all.len() || since.len() == all.len());
    let until = all_events(app, &team.owner, &format!("&until={}", urlencode(newest))).await;
    assert!(until.iter().all(|e| e["id"] != all[0]["id"]));
    let future = all_events(app, &team.owner, "&since=2999-01-01T00:00:00Z").await;
    assert!(future.is_empty());

    // One event by id.
    let one = app
        .get_as(
            &format!("/api/v1/events/{}", all[0]["id"].as_str().unwrap()),
            &team.owner,
        )
        .await;
    assert_eq!(one.status(), 200);
    assert_eq!(json(one).await["data"], all[0]);
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

async fn the_history_refuses_bad_input_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = signed_in(&app, "evbad@example.com").await;
    for (query, field) in [
        ("type=nope.nothing", "type"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=abc", "cursor"),
        ("until=", "until"),
        ("since=", "since"),
        ("type=", "type"),
    ] {
        let response = app.get_as(&format!("/api/v1/events?{query}"), &token).await;
        assert_invalid_field(response, field).await;
    }
    for id in ["nope", "0192f000-0000-7000-8000-000000000000"] {
        let response = app.get_as(&format!("/api/v1/events/{id}"), &token).await;
        assert_error(response, 404, "NOT_FOUND").await;
    }
    let response = app.get("/api/v1/events").await;
    assert_error(response, 401, "UNAUTHORIZED").await;
}

async fn another_organizations_events_are_not_found_nor_listed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alpha, _) = signed_in(&app, "evalpha@example.com").await;
    let (beta, _) = signed_in(&app, "evbeta@example.com").await;
    create_key(&app, &alpha, json!({"name": "alpha key"})).await;
    let alpha_events = all_events(&app, &alpha, "").await;
    assert_eq!(alpha_events.len(), 1);
    assert!(all_events(&app, &beta, "").await.is_empty());
    let id = alpha_events[0]["id"].as_str().unwrap();
    let response = app.get_as(&format!("/api/v1/events/{id}"), &beta).await;
    assert_error(response, 404, "NOT_FOUND").await;
}

async fn only_owners_and_admins_read_the_history(backend: Backend) {
    let team = Team::new(backend, "evperm").await;
    let app = &team.app;
    let any = all_events(app, &team.owner, "").await;
    let id = any[0]["id"].as_str().unwrap();
    for token in [&team.owner, &team.admin] {
        assert_eq!(app.get_as("/api/v1/events", token).await.status(), 200);
        let response = app.get_as(&format!("/api/v1/events/{id}"), token).await;
        assert_eq!(response.status(), 200);
    }
    let body = assert_error(
        app.get_as("/api/v1/events", &team.member).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert!(body.to_string().contains("view_events"), "{body}");
    let response = app
        .get_as(&format!("/api/v1/events/{id}"), &team.member)
        .await;
    assert_error(response, 403, "FORBIDDEN").await;
    // The catalog is for every signed-in person.
    let response = app
        .get_as("/api/v1/webhooks/event-types", &team.member)
        .await;
    assert_eq!(response.status(), 200);
}

const CATALOG: [&str; 33] = [
    "organization.updated",
    "member.added",
    "member.removed",
    "member.role_changed",
    "invitation.created",
    "invitation.accepted",
    "api_key.created",
    "api_key.revoked",
    "usage.threshold_reached",
    "invoice.created",
    "invoice.overdue",
    "invoice.paid",
    "payment.succeeded",
    "payment.failed",
    "message.sent",
    "message.failed",
    "webhook.test",
    "inbox.message.received",
    "inbox.message.status_changed",
    "inbox.conversation.created",
    "inbox.conversation.assigned",
    "inbox.conversation.resolved",
    "marketplace.order.created",
    "marketplace.order.paid",
    "marketplace.order.cancelled",
    "marketplace.vendor_order.status_changed",
    "marketplace.payout.paid",
    "marketplace.payout.failed",
    "marketplace.review.created",
    "app.published",
    "app.installed",
    "app.uninstalled",
    "app.scopes_accepted",
];

async fn the_catalog_is_published_by_the_api_and_the_openapi_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = signed_in(&app, "evcat@example.com").await;
    let body = json(app.get_as("/api/v1/webhooks/event-types", &token).await).await;
    let types: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, CATALOG);
    for entry in body["data"].as_array().unwrap() {
        assert_eq!(entry["version"], 1);
        assert!(!entry["description"].as_str().unwrap().is_empty());
        assert_eq!(entry["schema"]["type"], "object", "{entry}");
        assert!(entry["schema"]["properties"]["organization_id"].is_object());
    }
    let paid = &body["data"][11];
    assert_eq!(paid["type"], "invoice.paid");
    for field in [
        "invoice_id",
        "organization_id",
        "period",
        "amount",
        "currency",
        "paid_at",
    ] {
        assert!(paid["schema"]["properties"][field].is_object(), "{field}");
    }

    let doc = json(app.get("/openapi.json").await).await;
    let tag = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Events")
        .unwrap();
    for name in CATALOG {
        assert!(
            tag["description"].as_str().unwrap().contains(name),
            "{name}"
        );
        let component = format!("EventPayload_{}", name.replace('.', "_"));
        assert_eq!(
            doc["components"]["schemas"][&component]["type"], "object",
            "{component}"
        );
    }
    let type_param = doc["paths"]["/api/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "type")
        .unwrap()
        .clone();
    // The enum, inline or as a component the document holds.
    let schema = match type_param["schema"]["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            doc["components"]["schemas"][name].clone()
        }
        None => type_param["schema"].clone(),
    };
    assert_eq!(
        schema["enum"].as_array().map(Vec::len),
        Some(CATALOG.len()),
        "{type_param}"
    );
}

/// Waits for `count` events of `event_type` and answers their payloads,
/// oldest first (events written by jobs arrive in the background).
async fn wait_for_payloads(
    app: &TestApp,
    token: &str,
    event_type: &str,
    count: usize,
) -> Vec<Value> {
    eventually(
        format_args!("{count} {event_type} events"),
        Duration::from_secs(15),
        async || {
            let found = payloads(app, token, event_type).await;
            (found.len() >= count).then_some(found)
        },
    )
    .await
}

async fn billing_events_follow_the_close_the_overdue_mark_and_the_payment(backend: Backend) {
    let b = billed(backend, 3).await;
    let app = &b.app;
    let invoices = payloads(app, &b.owner, "invoice.created").await;
    assert_eq!(invoices.len(), 1, "{invoices:?}");
    assert_eq!(invoices[0]["invoice_id"], b.cycle_id.as_str());
    assert_eq!(invoices[0]["organization_id"], b.organization_id.as_str());
    assert_eq!(invoices[0]["period"], "2026-10");
    assert_eq!(invoices[0]["amount"], 6000);
    assert_eq!(invoices[0]["currency"], "USD");
    // Closing the month again creates no second invoice, nor event.
    let october = landlord_billing::Period::parse("2026-10").unwrap();
    landlord_billing::close_period(&app.db, &app.config, october)
        .await
        .unwrap();
    assert_eq!(payloads(app, &b.owner, "invoice.created").await.len(), 1);

    // Overdue, once.
    sqlx::query("UPDATE billing_cycles SET due_at = 1 WHERE id = $1")
        .bind(&b.cycle_id)
        .execute(app.db.pool())
        .await
        .unwrap();
    for _ in 0..2 {
        landlord_billing::mark_overdue(&app.db, &app.config)
            .await
            .unwrap();
    }
    let overdue = payloads(app, &b.owner, "invoice.overdue").await;
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["invoice_id"], b.cycle_id.as_str());
    assert_eq!(overdue[0]["amount"], 6000);

    // Paid through the Stripe stand-in: invoice.paid and payment.succeeded,
    // once each even when the provider sends the event twice.
    assert!(b.initiate("stripe", None).await.status().is_success());
    let body = b.stripe_event("evt_events", 6000, "usd");
    for _ in 0..2 {
        let signature = sign_stripe(&body, STRIPE_WEBHOOK_SECRET, now_secs());
        assert_eq!(b.post_stripe(&body, Some(signature)).await.status(), 200);
    }
    b.wait_for_cycle("paid").await;
    let paid = wait_for_payloads(app, &b.owner, "invoice.paid", 1).await;
    assert_eq!(paid[0]["invoice_id"], b.cycle_id.as_str());
    assert_eq!(paid[0]["organization_id"], b.organization_id.as_str());
    assert_eq!(paid[0]["period"], "2026-10");
    assert_eq!(paid[0]["amount"], 6000);
    assert_eq!(paid[0]["currency"], "USD");
    assert!(paid[0]["paid_at"].is_string());
    let payments = wait_for_payloads(app, &b.owner, "payment.succeeded", 1).await;
    assert_eq!(payments[0]["invoice_id"], b.cycle_id.as_str());
    assert_eq!(payments[0]["provider"], "stripe");
    assert_eq!(payments[0]["amount"], 6000);
    assert!(payments[0]["payment_id"].is_string());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(payloads(app, &b.owner, "invoice.paid").await.len(), 1);
    assert_eq!(payloads(app, &b.owner, "payment.succeeded").await.len(), 1);
}

async fn message_events_follow_the_delivery(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, |c| smtp_to(c, port)).await;
    let (token, data) = signed_in(&app, "evmsg@example.com").await;
    let org = data["organization"]["id"].as_str().unwrap().to_string();
    let key = create_key(&app, &token, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = app
        .send_message(&key, &email_message("customer@example.com"), None)
        .await;
    assert_eq!(sent.status(), 202);
    let id = json(sent).await["data"]["id"].as_str().unwrap().to_string();
    wait_until_sent(&app, &key, &id).await;
    let events = wait_for_payloads(&app, &token, "message.sent", 1).await;
    assert_eq!(events[0]["message_id"], id.as_str());
    assert_eq!(events[0]["organization_id"], org.as_str());
    assert_eq!(events[0]["channel"], "email");
    assert_eq!(events[0]["to"], "customer@example.com");
    assert!(payloads(&app, &token, "message.failed").await.is_empty());
}

async fn a_message_that_cannot_be_delivered_writes_message_failed(backend: Backend) {
    // An SMTP port where nothing listens, and a single attempt.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(backend, |c| {
        smtp_to(c, closed);
        c.jobs_max_attempts = 1;
    })
    .await;
    let (token, _) = signed_in(&app, "evfail@example.com").await;
    let key = create_key(&app, &token, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = app
        .send_message(&key, &email_message("nobody@example.com"), None)
        .await;
    assert_eq!(sent.status(), 202);
    let id = json(sent).await["data"]["id"].as_str().unwrap().to_string();
    let events = wait_for_payloads(&app, &token, "message.failed", 1).await;
    assert_eq!(events[0]["message_id"], id.as_str());
    assert_eq!(events[0]["to"], "nobody@example.com");
    assert!(events[0]["reason"].is_string());
    assert!(payloads(&app, &token, "message.sent").await.is_empty());
}

/// Plants `count` metered requests of this month for `org` (database and
/// counters), as `keys.rs` does for the quota.
async fn plant_this_month(app: &TestApp, org: &str, key_id: &str, count: usize) {
    let now = now_ms();
    let mut tx = app.db.pool().begin().await.unwrap();
    for _ in 0..count {
        sqlx::query("INSERT INTO usage_records (organization_id, api_key_id, endpoint, method, status, created_at) VALUES ($1, $2, '/api/v1/messages/send', 'POST', 202, $3)")
            .bind(org)
            .bind(key_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    planted_counters(app, org, key_id, count as i64, now).await;
}

async fn usage_thresholds_are_written_once_each_per_period(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let path = "/api/v1/messages/00000000-0000-7000-8000-000000000000";
    let period = {
        let now = chrono::Utc::now();
        now.format("%Y-%m").to_string()
    };

    // A free organization (1,000 requests a month) at 795: the 800th
    // request reaches 80 %, the next ones write nothing more.
    let (near, data) = signed_in(&app, "ev80@example.com").await;
    let org = data["organization"]["id"].as_str().unwrap().to_string();
    let key = create_key(&app, &near, json!({"name": "k"})).await;
    plant_this_month(&app, &org, key["id"].as_str().unwrap(), 795).await;
    let secret = key["key"].as_str().unwrap();
    for _ in 0..4 {
        app.with_key(reqwest::Method::GET, path, secret).await;
    }
    assert!(payloads(&app, &near, "usage.threshold_reached")
        .await
        .is_empty());
    for _ in 0..5 {
        app.with_key(reqwest::Method::GET, path, secret).await;
    }
    let reached = payloads(&app, &near, "usage.threshold_reached").await;
    assert_eq!(reached.len(), 1, "{reached:?}");
    assert_eq!(reached[0]["percent"], 80);
    assert_eq!(reached[0]["quota"], 1000);
    assert_eq!(reached[0]["used"], 800);
    assert_eq!(reached[0]["period"], period.as_str());
    assert_eq!(reached[0]["organization_id"], org.as_str());

    // Another at 995: the 1,000th request reaches both; refusals past it
    // write nothing more.
    let (full, data) = signed_in(&app, "ev100@example.com").await;
    let org = data["organization"]["id"].as_str().unwrap().to_string();
    let key = create_key(&app, &full, json!({"name": "k"})).await;
    plant_this_month(&app, &org, key["id"].as_str().unwrap(), 995).await;
    let secret = key["key"].as_str().unwrap();
    for _ in 0..5 {
        app.with_key(reqwest::Method::GET, path, secret).await;
    }
    let over = app.with_key(reqwest::Method::GET, path, secret).await;
    assert_eq!(over.status(), 429);
    let reached = payloads(&app, &full, "usage.threshold_reached").await;
    let percents: Vec<i64> = reached
        .iter()
        .map(|p| p["percent"].as_i64().unwrap())
        .collect();
    assert_eq!(percents, [80, 100], "{reached:?}");
    assert_eq!(reached[1]["used"], 1000);
}

/// A signed Stripe event of `event_type` about the checkout session
/// `cs_test_1` of `b`'s cycle.
fn stripe_session_event(b: &Billed, event_id: &str, event_type: &str, status: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id,
        "object": "event",
        "type": event_type,
        "data": {"object": {
            "id": "cs_test_1",
            "object": "checkout.session",
            "amount_total": 6000,
            "currency": "usd",
            "payment_status": status,
            "metadata": {"billing_cycle_id": b.cycle_id, "organization_id": b.organization_id},
        }},
    }))
    .unwrap()
}

async fn a_failed_payment_writes_payment_failed_once(backend: Backend) {
    let b = billed(backend, 3).await;
    let app = &b.app;
    assert!(b.initiate("stripe", None).await.status().is_success());
    for event_id in ["evt_fail_1", "evt_fail_2"] {
        let body = stripe_session_event(
            &b,
            event_id,
            "checkout.session.async_payment_failed",
            "unpaid",
        );
        let signature = sign_stripe(&body, STRIPE_WEBHOOK_SECRET, now_secs());
        assert_eq!(b.post_stripe(&body, Some(signature)).await.status(), 200);
    }
    let failed = wait_for_payloads(app, &b.owner, "payment.failed", 1).await;
    assert_eq!(failed[0]["invoice_id"], b.cycle_id.as_str());
    assert_eq!(failed[0]["organization_id"], b.organization_id.as_str());
    assert_eq!(failed[0]["provider"], "stripe");
    assert_eq!(failed[0]["amount"], 6000);
    assert_eq!(failed[0]["currency"], "USD");
    assert!(failed[0]["payment_id"].is_string());
    assert!(failed[0]["reason"].is_string());
    assert_eq!(
        b.count("SELECT COUNT(*) FROM payments WHERE status = 'failed'")
            .await,
        1
    );
    assert_eq!(b.cycle_status().await, "pending");
    // The second failure report of the same checkout writes nothing more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(payloads(app, &b.owner, "payment.failed").await.len(), 1);
    assert!(payloads(app, &b.owner, "invoice.paid").await.is_empty());
}

async fn the_events_page_shows_the_history_with_its_type_filter(backend: Backend) {
    let team = Team::new(backend, "evpage2").await;
    let app = &team.app;
    create_key(app, &team.owner, json!({"name": "page key"})).await;
    let page_path = format!("/o/{}/events", team.org_id);

    // Signed out: the sign-in page.
    let visitor = Browser::new(app);
    assert_eq!(
        visitor.get(&page_path).await.location.as_deref(),
        Some("/sign-in")
    );

    let admin = Browser::new(app);
    admin.sign_in("evpage2-admin@example.com", PASSWORD).await;
    let page = admin.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("href=\"{page_path}\"")),
        "nav link"
    );
    for event_type in ["invitation.created", "member.added", "api_key.created"] {
        assert!(
            page.body.contains(&format!("<code>{event_type}</code>")),
            "{event_type}"
        );
    }
    assert!(page.body.contains("page key"));
    let keys_only = admin
        .get(&format!("{page_path}?type=api_key.created"))
        .await;
    assert_eq!(keys_only.status, 200);
    assert_eq!(
        keys_only
            .body
            .matches("<code>api_key.created</code>")
            .count(),
        1
    );
    assert!(!keys_only.body.contains("<code>member.added</code>"));
    assert!(keys_only.body.contains("Clear the filter"));
    let bad = admin.get(&format!("{page_path}?type=nope")).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"type-error\""));

    // A member is refused, and is not offered the link.
    let member = Browser::new(app);
    member.sign_in("evpage2-member@example.com", PASSWORD).await;
    let refused = member.get(&page_path).await;
    assert_eq!(refused.status, 403);
    let team_page = member.get(&format!("/o/{}/team", team.org_id)).await;
    assert!(!team_page.body.contains(&format!("href=\"{page_path}\"")));
}

async fn an_ownership_transfer_writes_both_role_changes(backend: Backend) {
    let team = Team::new(backend, "evown").await;
    let app = &team.app;
    let transferred = app
        .post_as(
            "/api/v1/team/transfer-ownership",
            &team.owner,
            &json!({"user_id": team.admin_id}),
        )
        .await;
    assert_eq!(transferred.status(), 200);
    // The former owner is an admin now: still allowed to read events.
    let changes = payloads(app, &team.owner, "member.role_changed").await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0]["user_id"], team.admin_id.as_str());
    assert_eq!(changes[0]["previous_role"], "admin");
    assert_eq!(changes[0]["role"], "owner");
    assert_eq!(changes[1]["user_id"], team.owner_id.as_str());
    assert_eq!(changes[1]["previous_role"], "owner");
    assert_eq!(changes[1]["role"], "admin");
    for change in &changes {
        assert_eq!(change["changed_by"], team.owner_id.as_str());
    }
}
