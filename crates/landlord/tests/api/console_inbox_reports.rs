//! The console's inbox reports (`/o/{organization_id}/inbox/reports`)
//! over HTTP on both backends: linked from the inbox's navigation, an
//! empty state that says what to do first, conversations with known
//! times (the test's clock) giving the exact medians and p90s in words,
//! whole and by agent, label and channel; the CSV with the same figures;
//! a bad range said next to its field; another organization's reports
//! answer 404.

use crate::backend_tests;
use crate::console::{owner_and_member, Browser, Seen};
use crate::support::{Backend, TestApp};

backend_tests!(the_reports_page_shows_exact_figures_and_its_csv);

/// 2026-11-02T00:00:00Z.
pub(crate) const NOV_2: i64 = 1_793_577_600_000;

/// A UUID-shaped id, `tag` telling kinds apart.
fn id(tag: u32, n: u64) -> String {
    format!("{tag:08x}-0000-7000-8000-{n:012x}")
}

/// A WhatsApp number of `org` (written as the store writes one; its
/// secrets are never read by the reports).
pub(crate) async fn seed_channel(app: &TestApp, org: &str, n: u64, name: &str) -> String {
    let channel = id(0xc4a2, n);
    sqlx::query(
        "INSERT INTO inbox_channels (id, organization_id, name, phone_number_id, \
         business_account_id, access_token_sealed, app_secret_sealed, verify_token_sealed, \
         access_token_hint, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, '102290129340398', 'sealed', 'sealed', 'sealed', '9Qz', $5, $5)",
    )
    .bind(&channel)
    .bind(org)
    .bind(name)
    .bind(format!("1065403522{n:05}"))
    .bind(NOV_2)
    .execute(app.db.pool())
    .await
    .expect("the channel");
    channel
}

/// One conversation of the reports, as the store records it.
pub(crate) struct Seed<'a> {
    pub n: u64,
    pub channel: &'a str,
    pub opened_at: i64,
    /// Seconds from opening to the first reply, to the resolution.
    pub first_response: Option<i64>,
    pub resolution: Option<i64>,
    pub agent: Option<&'a str>,
    pub label: Option<&'a str>,
}

/// A contact, its conversation, the conversation's report row and label.
pub(crate) async fn seed_conversation(app: &TestApp, org: &str, seed: Seed<'_>) {
    let pool = app.db.pool();
    let contact = id(0xc0c0, seed.n);
    let conversation = id(0xc0de, seed.n);
    let at = seed.opened_at;
    sqlx::query(
        "INSERT INTO inbox_contacts (id, organization_id, channel_id, wa_id, name, phone, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $4, $6, $6)",
    )
    .bind(&contact)
    .bind(org)
    .bind(seed.channel)
    .bind(format!("4477009{:05}", seed.n))
    .bind(format!("Customer {}", seed.n))
    .bind(at)
    .execute(pool)
    .await
    .expect("the contact");
    let resolved_at = seed.resolution.map(|s| at + s * 1000);
    sqlx::query(
        "INSERT INTO inbox_conversations (id, organization_id, channel_id, contact_id, number, \
         status, assignee_id, last_activity_at, resolved_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8)",
    )
    .bind(&conversation)
    .bind(org)
    .bind(seed.channel)
    .bind(&contact)
    .bind(seed.n as i64 + 1)
    .bind(if resolved_at.is_some() {
        "resolved"
    } else {
        "open"
    })
    .bind(seed.agent)
    .bind(at)
    .bind(resolved_at)
    .execute(pool)
    .await
    .expect("the conversation");
    let hour = |at: i64| at - at % 3_600_000;
    let answered_at = seed.first_response.map(|s| at + s * 1000);
    sqlx::query(
        "INSERT INTO inbox_report_conversations (conversation_id, organization_id, channel_id, \
         agent_id, opened_at, opened_hour, first_response_at, first_response_hour, \
         first_response_ms, resolved_at, resolved_hour, resolution_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&conversation)
    .bind(org)
    .bind(seed.channel)
    .bind(seed.agent)
    .bind(at)
    .bind(hour(at))
    .bind(answered_at)
    .bind(answered_at.map(hour))
    .bind(seed.first_response.map(|s| s * 1000))
    .bind(resolved_at)
    .bind(resolved_at.map(hour))
    .bind(seed.resolution.map(|s| s * 1000))
    .execute(pool)
    .await
    .expect("the report row");
    if let Some(label) = seed.label {
        sqlx::query(
            "INSERT INTO inbox_conversation_labels (conversation_id, organization_id, label) \
             VALUES ($1, $2, $3)",
        )
        .bind(&conversation)
        .bind(org)
        .bind(label)
        .execute(pool)
        .await
        .expect("the label");
    }
}

/// The summary table's row of group `name`, from its name to the row's end.
fn row<'a>(seen: &'a Seen, name: &str) -> &'a str {
    let marker = format!("<td class=\"group-name\">{name}</td>");
    let start = seen
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no row {name} in {}", seen.body));
    let rest = &seen.body[start..];
    &rest[..rest.find("</tr>").expect("the row's end")]
}

/// The cells' texts of a row, in order.
fn cells(row: &str) -> Vec<String> {
    row.split("<td")
        .skip(1)
        .filter_map(|cell| {
            let start = cell.find('>')? + 1;
            let end = cell.find("</td>")?;
            Some(cell[start..end].to_string())
        })
        .collect()
}

async fn the_reports_page_shows_exact_figures_and_its_csv(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, bob, org, bob_id) = owner_and_member(&app, "reports.test", "Acme", "member").await;
    sqlx::query("UPDATE users SET name = 'Bob Tables' WHERE id = $1")
        .bind(&bob_id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let page = format!("/o/{org}/inbox/reports");

    // Linked from the inbox's navigation, for members too.
    let inbox = ada.get(&format!("/o/{org}/inbox")).await;
    assert!(
        inbox.body.contains(&format!("href=\"{page}\"")),
        "{}",
        inbox.body
    );
    // Nothing yet: the page says what to do first.
    let empty = ada.get(&page).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("No conversations to report on yet"));
    assert!(empty
        .body
        .contains(&format!("href=\"/o/{org}/inbox/channels\"")));
    assert!(!empty.body.contains("<svg"), "no empty charts");
    let seen = bob.get(&page).await;
    assert_eq!(seen.status, 200, "a member sees the reports");
    assert!(seen.body.contains(&format!("href=\"{page}\"")));

    // Three conversations on 2 November: opened at 09:00, 09:01, 09:02,
    // answered after 60, 120, 600 s, resolved after 1 h, 2 h, 30 min; two
    // Bob's on the support line labelled billing, one unassigned on the
    // sales line labelled vip.
    let support = seed_channel(&app, &org, 1, "Support line").await;
    let sales = seed_channel(&app, &org, 2, "Sales line").await;
    let seeds = [
        (&support, Some(bob_id.as_str()), "billing", 60, 3600),
        (&support, Some(bob_id.as_str()), "billing", 120, 7200),
        (&sales, None, "vip", 600, 1800),
    ];
    for (n, (channel, agent, label, first_response, resolution)) in seeds.into_iter().enumerate() {
        seed_conversation(
            &app,
            &org,
            Seed {
                n: n as u64,
                channel,
                opened_at: NOV_2 + 9 * 3_600_000 + n as i64 * 60_000,
                first_response: Some(first_response),
                resolution: Some(resolution),
                agent,
                label: Some(label),
            },
        )
        .await;
    }

    let range = "from=2026-11-01&to=2026-11-03";
    let whole = ada.get(&format!("{page}?{range}")).await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    assert!(whole.body.contains("Conversations per day"));
    assert_eq!(whole.body.matches("<svg").count(), 3, "three charts");
    // The summary: 3 opened, 3 resolved; first response median 120 s,
    // p90 600 s; resolution median 1 h, p90 2 h (nearest rank).
    assert_eq!(
        cells(row(&whole, "All conversations")),
        [
            "All conversations",
            "3",
            "3",
            "2 min",
            "10 min",
            "1 h",
            "2 h"
        ]
    );
    // The day's row says the same; the empty days say none.
    assert!(whole.body.contains(
        "<time datetime=\"2026-11-02\">2026-11-02</time></td><td data-label=\"Opened\" class=\"num\">3</td>"
    ));
    assert!(whole.body.contains("2026-11-01: 0 opened, 0 resolved"));
    // The form shows the range; the CSV link carries it.
    assert!(whole.body.contains("value=\"2026-11-01\""));
    // (the template escapes the link's `/` and `&`; a browser reads them back)
    assert!(whole
        .body
        .contains("reports.csv?from=2026-11-01&amp;to=2026-11-03\""));
    assert!(whole.body.contains("Download CSV"));

    let by_agent = ada.get(&format!("{page}?{range}&group_by=agent")).await;
    assert_eq!(by_agent.status, 200);
    assert_eq!(
        cells(row(&by_agent, "Bob Tables")),
        ["Bob Tables", "2", "2", "1 min", "2 min", "1 h", "2 h"]
    );
    assert_eq!(
        cells(row(&by_agent, "Unassigned")),
        [
            "Unassigned",
            "1",
            "1",
            "10 min",
            "10 min",
            "30 min",
            "30 min"
        ]
    );
    // The charts stay the whole inbox's.
    assert!(by_agent.body.contains("2026-11-02: 3 opened, 3 resolved"));

    let by_label = ada.get(&format!("{page}?{range}&group_by=label")).await;
    assert_eq!(
        cells(row(&by_label, "billing")),
        ["billing", "2", "2", "1 min", "2 min", "1 h", "2 h"]
    );
    assert_eq!(
        cells(row(&by_label, "vip")),
        ["vip", "1", "1", "10 min", "10 min", "30 min", "30 min"]
    );
    let by_channel = ada.get(&format!("{page}?{range}&group_by=channel")).await;
    assert_eq!(
        cells(row(&by_channel, "Sales line")),
        [
            "Sales line",
            "1",
            "1",
            "10 min",
            "10 min",
            "30 min",
            "30 min"
        ]
    );
    assert_eq!(cells(row(&by_channel, "Support line"))[1], "2");

    // The CSV: the API's, a row per group and day.
    let csv = app
        .client
        .get(app.url(&format!(
            "/o/{org}/inbox/reports.csv?from=2026-11-02&to=2026-11-02&group_by=label"
        )))
        .header("cookie", ada.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("inbox-report-2026-11-02-2026-11-02.csv"));
    let text = csv.text().await.unwrap();
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        [
            "2026-11-02,billing,2,2,2,60,120,2,3600,7200",
            "2026-11-02,vip,1,1,1,600,600,1,1800,1800",
        ]
    );

    // A quiet range: the page says so, and what counts.
    let quiet = ada
        .get(&format!("{page}?from=2026-10-01&to=2026-10-07"))
        .await;
    assert_eq!(quiet.status, 200);
    assert!(quiet
        .body
        .contains("Nothing happened between 1 Oct and 7 Oct 2026"));

    // A bad range is said next to its field.
    let bad = ada
        .get(&format!("{page}?from=2026-11-03&to=2026-11-01"))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(
        bad.field_error("from").as_deref(),
        Some("Must not be after to.")
    );
    let bad = ada.get(&format!("{page}?group_by=team")).await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("group_by").is_some(), "{}", bad.body);

    // Another organization's reports are not Eve's: 404, page and CSV.
    let eve = Browser::new(&app);
    let eve_overview = eve.sign_up("eve@other.test", "Other").await;
    let seen = eve.get(&format!("{page}?{range}")).await;
    assert_eq!(seen.status, 404, "{}", seen.body);
    assert!(!seen.body.contains("Bob Tables"));
    let seen = eve
        .get(&format!("/o/{org}/inbox/reports.csv?{range}"))
        .await;
    assert_eq!(seen.status, 404);
    assert!(!seen.body.contains("2026-11-02,billing"), "no CSV row");
    // Her own organization's reports have none of Acme's figures.
    let theirs = eve
        .get(&format!("{eve_overview}/inbox/reports?{range}"))
        .await;
    assert_eq!(theirs.status, 200);
    assert!(theirs.body.contains("No conversations to report on yet"));
}
