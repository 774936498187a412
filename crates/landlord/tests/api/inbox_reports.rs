//! Inbox reports over HTTP: conversations opened, answered and resolved
//! are recorded as they happen; with known times (the test's clock) the
//! report gives the exact medians and p90s per agent and label, the CSV
//! the same figures; bad ranges and groupings are refused on their field;
//! another organization sees none of it — on SQLite and PostgreSQL.

use std::time::Duration;

use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::{data, signed_in};
use crate::support::clock::now_secs;
use crate::support::errors::assert_invalid_field;
use crate::support::eventually::eventually;
use crate::support::team::Team;
use crate::support::whatsapp::{incoming_text, post_signed, WhatsAppStandIn};
use crate::support::{Backend, TestApp};

backend_tests!(reports_give_exact_medians_and_p90s_per_agent_and_label);

const APP_SECRET: &str = "app-secret-of-the-test";
const WABA: &str = "102290129340398";
const PHONE: &str = "106540352242922";

async fn connect(app: &TestApp, token: &str) -> Value {
    data(
        app.post_as(
            "/api/v1/inbox/channels",
            token,
            &json!({
                "name": "Support line",
                "phone_number_id": PHONE,
                "business_account_id": WABA,
                "access_token": "EAAG-access-token-9Qz",
                "app_secret": APP_SECRET,
                "verify_token": "verify-token-of-the-test",
            }),
        )
        .await,
    )
    .await
}

async fn conversations(app: &TestApp, token: &str) -> Vec<Value> {
    let body = data(app.get_as("/api/v1/inbox/conversations", token).await).await;
    body.as_array().unwrap().clone()
}

async fn report(app: &TestApp, token: &str, query: &str) -> Value {
    data(
        app.get_as(&format!("/api/v1/inbox/reports?{query}"), token)
            .await,
    )
    .await
}

/// The group keyed `key` in a report.
fn group<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no group {key} in {report}"))
}

/// A day's figures: opened, resolved, first response (median, p90),
/// resolution (median, p90).
fn figures(day: &Value) -> (i64, i64, Value, Value, Value, Value) {
    (
        day["opened"].as_i64().unwrap(),
        day["resolved"].as_i64().unwrap(),
        day["first_response"]["median_seconds"].clone(),
        day["first_response"]["p90_seconds"].clone(),
        day["resolution"]["median_seconds"].clone(),
        day["resolution"]["p90_seconds"].clone(),
    )
}

async fn reports_give_exact_medians_and_p90s_per_agent_and_label(backend: Backend) {
    let graph = WhatsAppStandIn::start().await;
    let base = graph.base_url();
    let team = Team::new_with(backend, "reports", |c| c.inbox.whatsapp_api_base = base).await;
    let app = &team.app;
    let channel = connect(app, &team.owner).await;
    let hook = format!(
        "/api/v1/inbox/webhooks/whatsapp/{}",
        channel["id"].as_str().unwrap()
    );
    for n in 0..5 {
        let from = format!("44770090000{n}");
        let payload = incoming_text(
            WABA,
            PHONE,
            &from,
            "Ada",
            &format!("wamid.R{n}"),
            "hello",
            now_secs(),
        );
        let sent = post_signed(&app.client, &app.url(&hook), APP_SECRET, &payload).await;
        assert_eq!(sent.status(), 200);
        eventually("stored", Duration::from_secs(20), async || {
            (conversations(app, &team.owner).await.len() > n).then_some(())
        })
        .await;
    }
    // Oldest first: conversation n came from contact n.
    let mut ids: Vec<String> = conversations(app, &team.owner)
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    ids.reverse();
    let path = |id: &str, what: &str| format!("/api/v1/inbox/conversations/{id}/{what}");
    // 0, 1, 2 go to the member (labels billing, billing, vip); 3, 4 to the
    // admin (billing, vip). Each is answered, then resolved.
    for (n, id) in ids.iter().enumerate() {
        let (agent, label) = match n {
            0 | 1 => (&team.member_id, "billing"),
            2 => (&team.member_id, "vip"),
            3 => (&team.admin_id, "billing"),
            _ => (&team.admin_id, "vip"),
        };
        let assigned = app
            .post_as(
                &path(id, "assign"),
                &team.owner,
                &json!({ "assignee_id": agent }),
            )
            .await;
        assert_eq!(assigned.status(), 200);
        let labelled = app
            .client
            .put(app.url(&path(id, "labels")))
            .bearer_auth(&team.owner)
            .json(&json!({ "labels": [label] }))
            .send()
            .await
            .unwrap();
        assert_eq!(labelled.status(), 200);
        let replied = app
            .post_as(
                &path(id, "messages"),
                &team.owner,
                &json!({ "text": "on it" }),
            )
            .await;
        assert!(
            replied.status().is_success(),
            "{}",
            replied.text().await.unwrap()
        );
        let resolved = app
            .post_as(
                &path(id, "status"),
                &team.owner,
                &json!({ "status": "resolved" }),
            )
            .await;
        assert_eq!(resolved.status(), 200);
    }

    // Recorded as it happened: today has five of each.
    let today = report(app, &team.owner, "").await;
    let all = &today["groups"][0];
    assert!(all["key"].is_null(), "{today}");
    let days = all["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the 30 days to today by default");
    let last = &days[29];
    assert_eq!(last["opened"], 5, "{today}");
    assert_eq!(last["resolved"], 5);
    assert_eq!(last["first_response"]["count"], 5);
    assert_eq!(last["resolution"]["count"], 5);

    // The test's clock: the five happened on 2026-11-02, opened at 09:00 +
    // n minutes, answered and resolved after these many seconds.
    let first_response = [60, 120, 600, 30, 90];
    let resolution = [3600, 7200, 1800, 600, 900];
    let day = 1_793_577_600_000_i64; // 2026-11-02T00:00:00Z
    for (n, id) in ids.iter().enumerate() {
        let opened = day + 9 * 3_600_000 + n as i64 * 60_000;
        let answered = opened + first_response[n] * 1000;
        let resolved = opened + resolution[n] * 1000;
        let hour = |at: i64| at - at % 3_600_000;
        sqlx::query(
            "UPDATE inbox_report_conversations SET opened_at = $1, opened_hour = $2, \
             first_response_at = $3, first_response_hour = $4, first_response_ms = $5, \
             resolved_at = $6, resolved_hour = $7, resolution_ms = $8 \
             WHERE conversation_id = $9",
        )
        .bind(opened)
        .bind(hour(opened))
        .bind(answered)
        .bind(hour(answered))
        .bind(first_response[n] * 1000)
        .bind(resolved)
        .bind(hour(resolved))
        .bind(resolution[n] * 1000)
        .bind(id)
        .execute(app.db.pool())
        .await
        .unwrap();
    }

    let range = "from=2026-11-01&to=2026-11-03";
    let whole = report(app, &team.owner, range).await;
    let days = whole["groups"][0]["days"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    assert_eq!(days[1]["date"], "2026-11-02");
    assert_eq!(
        figures(&days[1]),
        (
            5,
            5,
            json!(90.0),
            json!(600.0),
            json!(1800.0),
            json!(7200.0)
        ),
        "{whole}"
    );
    assert_eq!(
        figures(&days[0]),
        (0, 0, json!(null), json!(null), json!(null), json!(null))
    );

    let by_agent = report(app, &team.owner, &format!("{range}&group_by=agent")).await;
    assert_eq!(by_agent["group_by"], "agent");
    assert_eq!(
        by_agent["groups"].as_array().unwrap().len(),
        2,
        "{by_agent}"
    );
    let member = &group(&by_agent, &team.member_id)["days"][1];
    assert_eq!(
        figures(member),
        (
            3,
            3,
            json!(120.0),
            json!(600.0),
            json!(3600.0),
            json!(7200.0)
        )
    );
    let admin = &group(&by_agent, &team.admin_id)["days"][1];
    assert_eq!(
        figures(admin),
        (2, 2, json!(30.0), json!(90.0), json!(600.0), json!(900.0))
    );

    let by_label = report(app, &team.owner, &format!("{range}&group_by=label")).await;
    let billing = &group(&by_label, "billing")["days"][1];
    assert_eq!(
        figures(billing),
        (
            3,
            3,
            json!(60.0),
            json!(120.0),
            json!(3600.0),
            json!(7200.0)
        )
    );
    let vip = &group(&by_label, "vip")["days"][1];
    assert_eq!(
        figures(vip),
        (2, 2, json!(90.0), json!(600.0), json!(900.0), json!(1800.0))
    );

    let by_channel = report(app, &team.owner, &format!("{range}&group_by=channel")).await;
    let channel_day = &group(&by_channel, channel["id"].as_str().unwrap())["days"][1];
    assert_eq!(channel_day["opened"], 5);

    // The CSV: the same figures, a row per group and day.
    let csv = app
        .get_as(
            "/api/v1/inbox/reports.csv?from=2026-11-02&to=2026-11-02&group_by=label",
            &team.owner,
        )
        .await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "date,group,opened,resolved,first_response_count,first_response_median_seconds,\
             first_response_p90_seconds,resolution_count,resolution_median_seconds,\
             resolution_p90_seconds",
            "2026-11-02,billing,3,3,3,60,120,3,3600,7200",
            "2026-11-02,vip,2,2,2,90,600,2,900,1800",
        ]
    );

    // Bad input names its field.
    for (query, field) in [
        ("from=2026-11-03&to=2026-11-01", "from"),
        ("from=2024-01-01&to=2026-11-01", "to"),
        ("group_by=team", "group_by"),
        ("from=yesterday", "from"),
    ] {
        for route in ["reports", "reports.csv"] {
            let refused = app
                .get_as(&format!("/api/v1/inbox/{route}?{query}"), &team.owner)
                .await;
            assert_invalid_field(refused, field).await;
        }
    }

    // Another organization sees none of it.
    let (stranger, _) = signed_in(app, "stranger-reports@example.com").await;
    let theirs = report(app, &stranger, &format!("{range}&group_by=agent")).await;
    assert_eq!(theirs["groups"], json!([]), "{theirs}");
    let theirs = report(app, &stranger, range).await;
    assert_eq!(
        figures(&theirs["groups"][0]["days"][1]),
        (0, 0, json!(null), json!(null), json!(null), json!(null))
    );
}
