//! Custom domains: an app adds one, proves it with a TXT record that a
//! local DNS server (started by the test) answers, and only then is the
//! domain routed to it; another app's claim is refused, a record gone
//! detaches the domain (the owner is mailed), a removed domain stays
//! reserved for its organization. Over HTTP, on SQLite and PostgreSQL.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};
use serde_json::{json, Value};
use tokio::net::UdpSocket;

use crate::backend_tests;
use crate::console::{owner_and_member, Browser};
use crate::support::accounts::{data, signed_in};
use crate::support::app::{json, smtp_to};
use crate::support::errors::{assert_error, assert_message_contains};
use crate::support::gateway::{allow_loopback_upstreams, get_at, published_app, Upstream};
use crate::support::smtp::SmtpServer;
use crate::support::{Backend, TestApp};

backend_tests!(
    a_domain_is_routed_once_its_record_proves_it_and_detached_when_it_goes,
    domains_refuse_bad_names_members_other_tenants_and_reserved_names,
    the_apps_page_shows_its_domains_and_adds_and_removes_them,
);

/// A DNS server on 127.0.0.1 (UDP) answering TXT queries from a map the
/// test changes; any other name: NXDOMAIN.
struct Dns {
    address: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl Dns {
    async fn start() -> Dns {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("DNS port");
        let address = socket.local_addr().expect("DNS address");
        let records: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let shared = records.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 4096];
            while let Ok((n, from)) = socket.recv_from(&mut buffer).await {
                let Ok(request) = Message::from_vec(&buffer[..n]) else {
                    continue;
                };
                let mut response = Message::response(request.metadata.id, request.metadata.op_code);
                response.metadata.recursion_desired = request.metadata.recursion_desired;
                response.metadata.recursion_available = true;
                response.metadata.authoritative = true;
                response.add_queries(request.queries.to_vec());
                let mut found = false;
                for query in &request.queries {
                    let name = query.name().to_string();
                    let name = name.trim_end_matches('.').to_ascii_lowercase();
                    let texts = shared
                        .lock()
                        .map(|r| r.get(&name).cloned().unwrap_or_default())
                        .unwrap_or_default();
                    if !texts.is_empty() {
                        found = true;
                    }
                    if query.query_type() == RecordType::TXT {
                        for text in texts {
                            response.add_answer(Record::from_rdata(
                                query.name().clone(),
                                1,
                                RData::TXT(TXT::new(vec![text])),
                            ));
                        }
                    }
                }
                if !found {
                    response.metadata.response_code = ResponseCode::NXDomain;
                }
                if let Ok(bytes) = response.to_vec() {
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        Dns { address, records }
    }

    fn set(&self, name: &str, texts: &[&str]) {
        self.records.lock().expect("records").insert(
            name.to_owned(),
            texts.iter().map(|t| (*t).to_owned()).collect(),
        );
    }

    fn remove(&self, name: &str) {
        self.records.lock().expect("records").remove(name);
    }
}

async fn app_with_dns(backend: Backend, dns: &Dns, smtp: Option<&SmtpServer>) -> TestApp {
    let resolver = dns.address.to_string();
    let smtp = smtp.map(|s| s.port);
    TestApp::spawn_with(backend, move |s| {
        allow_loopback_upstreams(s);
        s.apps.dns_resolver = resolver;
        if let Some(port) = smtp {
            smtp_to(s, port);
        }
    })
    .await
}

fn domains_path(app_id: &str) -> String {
    format!("/api/v1/apps/{app_id}/domains")
}

async fn add(app: &TestApp, token: &str, app_id: &str, domain: &str) -> reqwest::Response {
    app.post_as(&domains_path(app_id), token, &json!({ "domain": domain }))
        .await
}

async fn verify(app: &TestApp, token: &str, app_id: &str, domain_id: &str) -> reqwest::Response {
    app.post_as(
        &format!("{}/{domain_id}/verify", domains_path(app_id)),
        token,
        &json!({}),
    )
    .await
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

async fn a_domain_is_routed_once_its_record_proves_it_and_detached_when_it_goes(backend: Backend) {
    let dns = Dns::start().await;
    let smtp = SmtpServer::start().await;
    let app = app_with_dns(backend, &dns, Some(&smtp)).await;
    let upstream = Upstream::start().await;
    let shop = published_app(&app, "dev@shop.test", "shop", &upstream.url()).await;
    let shop_id = shop.client_id().to_owned();

    // Added: pending, with the record to publish.
    let added = add(&app, &shop.token, &shop_id, "www.shop.test").await;
    assert_eq!(added.status(), 201);
    let domain = json(added).await["data"].clone();
    assert_eq!(domain["status"], "pending", "{domain}");
    assert_eq!(domain["domain"], "www.shop.test");
    assert_eq!(domain["record"]["type"], "TXT");
    assert_eq!(
        domain["record"]["name"],
        "_landlord-challenge.www.shop.test"
    );
    let challenge = domain["record"]["value"].as_str().unwrap().to_owned();
    assert!(challenge.len() >= 32, "{challenge}");
    let domain_id = id_of(&domain);
    let listed = data(app.get_as(&domains_path(&shop_id), &shop.token).await).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    // Before the record exists: not routed, and verifying says why.
    assert_eq!(get_at(&app, "www.shop.test", "/").await.status(), 421);
    let refused = assert_error(
        verify(&app, &shop.token, &shop_id, &domain_id).await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_message_contains(
        &refused,
        "no TXT record found at _landlord-challenge.www.shop.test",
    );
    dns.set("_landlord-challenge.www.shop.test", &["something-else"]);
    let refused = assert_error(
        verify(&app, &shop.token, &shop_id, &domain_id).await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_message_contains(&refused, "\"something-else\"");
    let listed = data(app.get_as(&domains_path(&shop_id), &shop.token).await).await;
    assert_eq!(listed[0]["status"], "pending");
    assert!(
        listed[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("something-else")),
        "{listed}"
    );
    assert_eq!(get_at(&app, "www.shop.test", "/").await.status(), 421);

    // The record holds the challenge: verified, and routed.
    dns.set(
        "_landlord-challenge.www.shop.test",
        &["something-else", &challenge],
    );
    let verified = data(verify(&app, &shop.token, &shop_id, &domain_id).await).await;
    assert_eq!(verified["status"], "verified", "{verified}");
    assert!(verified["verified_at"].is_string(), "{verified}");
    let answer = get_at(&app, "www.shop.test", "/from-the-domain").await;
    assert_eq!(answer.status(), 200);
    assert!(upstream
        .received()
        .iter()
        .any(|r| r.uri == "/from-the-domain"));

    // Another app may not claim it: at once when it is verified...
    let other_upstream = Upstream::start().await;
    let other = published_app(&app, "dev@other.test", "other", &other_upstream.url()).await;
    let other_id = other.client_id().to_owned();
    let taken = assert_error(
        add(&app, &other.token, &other_id, "www.shop.test").await,
        409,
        "CONFLICT",
    )
    .await;
    assert_message_contains(&taken, "another app has verified this domain");
    // ...and when verifying, if the first app verified it meanwhile.
    let theirs = data(add(&app, &other.token, &other_id, "both.shop.test").await).await;
    let ours = data(add(&app, &shop.token, &shop_id, "both.shop.test").await).await;
    dns.set(
        "_landlord-challenge.both.shop.test",
        &[
            theirs["record"]["value"].as_str().unwrap(),
            ours["record"]["value"].as_str().unwrap(),
        ],
    );
    let first = data(verify(&app, &shop.token, &shop_id, &id_of(&ours)).await).await;
    assert_eq!(first["status"], "verified");
    assert_error(
        verify(&app, &other.token, &other_id, &id_of(&theirs)).await,
        409,
        "CONFLICT",
    )
    .await;
    let answer = json(get_at(&app, "both.shop.test", "/").await).await;
    assert_eq!(answer["uri"], "/");
    assert_eq!(other_upstream.received().len(), 0, "only the verified app");

    // The record goes: the re-check detaches the domain and mails the owner.
    dns.remove("_landlord-challenge.www.shop.test");
    let checked = data(
        app.post_json("/__test/apps/domains/recheck", &json!({}))
            .await,
    )
    .await;
    assert!(checked.as_u64().is_some_and(|n| n >= 2), "{checked}");
    let listed = data(app.get_as(&domains_path(&shop_id), &shop.token).await).await;
    let www = listed
        .as_array()
        .and_then(|l| l.iter().find(|d| d["domain"] == "www.shop.test"))
        .expect("www.shop.test")
        .clone();
    assert_eq!(www["status"], "failed", "{www}");
    assert!(
        www["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no TXT record found")),
        "{www}"
    );
    assert_eq!(get_at(&app, "www.shop.test", "/").await.status(), 421);
    // The other domain's record is still there: still routed.
    assert_eq!(get_at(&app, "both.shop.test", "/").await.status(), 200);
    let mail = smtp
        .wait_for_subject("dev@shop.test", "www.shop.test no longer reaches")
        .await;
    let text = mail.decoded();
    assert!(text.contains("_landlord-challenge.www.shop.test"), "{text}");
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(action, ..)| action)
        .collect();
    for action in [
        "app.domain_added",
        "app.domain_verified",
        "app.domain_detached",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }

    // The record back, verified on demand: routed again.
    dns.set("_landlord-challenge.www.shop.test", &[&challenge]);
    let again = data(verify(&app, &shop.token, &shop_id, &domain_id).await).await;
    assert_eq!(again["status"], "verified");
    assert_eq!(get_at(&app, "www.shop.test", "/").await.status(), 200);
}

async fn domains_refuse_bad_names_members_other_tenants_and_reserved_names(backend: Backend) {
    let dns = Dns::start().await;
    let app = app_with_dns(backend, &dns, None).await;
    let upstream = Upstream::start().await;
    let shop = published_app(&app, "dev@shop.test", "shop", &upstream.url()).await;
    let shop_id = shop.client_id().to_owned();

    // Each rule of a name: 422 on `domain`.
    let long_label = format!("{}.shop.test", "a".repeat(64));
    let too_long = format!("{}shop.test", "abcdefghi.".repeat(25));
    for bad in [
        "",
        "Shop.test",
        "localhost",
        "127.0.0.1",
        "::1",
        "[::1]",
        "a..shop.test",
        "-a.shop.test",
        "a_b.shop.test",
        "shop.test.",
        "shop.123",
        long_label.as_str(),
        too_long.as_str(),
        "apps.localhost",
        "notes.apps.localhost",
    ] {
        let body = assert_error(
            add(&app, &shop.token, &shop_id, bad).await,
            422,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(
            body["error"]["details"]["fields"][0]["field"], "domain",
            "{bad}: {body}"
        );
    }
    // At most ten per app.
    for n in 0..10 {
        let added = add(&app, &shop.token, &shop_id, &format!("d{n}.shop.test")).await;
        assert_eq!(added.status(), 201, "{n}");
    }
    let body = assert_error(
        add(&app, &shop.token, &shop_id, "d10.shop.test").await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_message_contains(&body, "at most 10");
    // Twice the same: 409.
    assert_error(
        add(&app, &shop.token, &shop_id, "d0.shop.test").await,
        409,
        "CONFLICT",
    )
    .await;

    // A member may not manage domains.
    let organization = data(app.get_as("/api/v1/organization", &shop.token).await).await;
    let (member, member_data) = signed_in(&app, "member@shop.test").await;
    let member_id = member_data["user"]["id"].as_str().unwrap().to_owned();
    app.add_membership(organization["id"].as_str().unwrap(), &member_id, "member")
        .await;
    let switched = data(
        app.post_as(
            "/api/v1/auth/switch-organization",
            &member,
            &json!({"organization_id": organization["id"]}),
        )
        .await,
    )
    .await;
    let member = switched["access_token"].as_str().unwrap();
    assert_error(
        add(&app, member, &shop_id, "m.shop.test").await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.get_as(&domains_path(&shop_id), member).await,
        403,
        "FORBIDDEN",
    )
    .await;

    // Another organization sees none of it.
    let listed = data(app.get_as(&domains_path(&shop_id), &shop.token).await).await;
    let d0 = listed
        .as_array()
        .and_then(|l| l.iter().find(|d| d["domain"] == "d0.shop.test"))
        .expect("d0")
        .clone();
    let d0_id = id_of(&d0);
    let (stranger, _) = signed_in(&app, "stranger@else.test").await;
    assert_error(
        app.get_as(&domains_path(&shop_id), &stranger).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        add(&app, &stranger, &shop_id, "x.else.test").await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        verify(&app, &stranger, &shop_id, &d0_id).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let path = format!("{}/{d0_id}", domains_path(&shop_id));
    assert_error(app.delete_as(&path, &stranger).await, 404, "NOT_FOUND").await;
    // Their own app with our domain's id: not found either.
    let theirs = crate::support::apps::publisher(
        &app,
        "dev@else.test",
        json!({ "slug": "elsewhere", "name": "Elsewhere" }),
    )
    .await;
    let theirs_id = theirs.client_id().to_owned();
    assert_error(
        verify(&app, &theirs.token, &theirs_id, &d0_id).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.delete_as(
            &format!("{}/{d0_id}", domains_path(&theirs_id)),
            &theirs.token,
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;

    // Removed: reserved for its organization, refused to others.
    let removed = data(app.delete_as(&path, &shop.token).await).await;
    assert_eq!(removed["domain"]["domain"], "d0.shop.test");
    assert!(removed["reserved_until"].is_string(), "{removed}");
    assert_error(app.delete_as(&path, &shop.token).await, 404, "NOT_FOUND").await;
    let body = assert_error(
        add(&app, &theirs.token, &theirs_id, "d0.shop.test").await,
        409,
        "CONFLICT",
    )
    .await;
    assert_message_contains(&body, "reserved");
    let back = add(&app, &shop.token, &shop_id, "d0.shop.test").await;
    assert_eq!(back.status(), 201, "the organization takes it back");

    // A deleted app's domains are reserved as well.
    assert_eq!(
        add(&app, &theirs.token, &theirs_id, "gone.else.test")
            .await
            .status(),
        201
    );
    let deleted = app
        .delete_as(&format!("/api/v1/apps/{theirs_id}"), &theirs.token)
        .await;
    assert_eq!(deleted.status(), 200);
    // The shop has ten domains again; make room first.
    let listed = data(app.get_as(&domains_path(&shop_id), &shop.token).await).await;
    let d1 = listed
        .as_array()
        .and_then(|l| l.iter().find(|d| d["domain"] == "d1.shop.test"))
        .map(id_of)
        .expect("d1");
    let removed = app
        .delete_as(&format!("{}/{d1}", domains_path(&shop_id)), &shop.token)
        .await;
    assert_eq!(removed.status(), 200);
    assert_error(
        add(&app, &shop.token, &shop_id, "gone.else.test").await,
        409,
        "CONFLICT",
    )
    .await;
}

async fn the_apps_page_shows_its_domains_and_adds_and_removes_them(backend: Backend) {
    let dns = Dns::start().await;
    let app = app_with_dns(backend, &dns, None).await;
    let (ada, bob, org, _) = owner_and_member(&app, "domains.test", "Acme", "member").await;
    let apps = format!("/o/{org}/apps");
    let created = ada
        .submit(
            &format!("{apps}/new"),
            &apps,
            &[
                ("client_type", "public"),
                ("name", "Shop"),
                ("slug", "shop"),
                ("category", "other"),
                ("scopes", "openid"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = created.location.expect("the app's page");
    let shown = ada.get(&page).await;
    assert!(shown.body.contains("id=\"domains\""), "{}", shown.body);
    // The app's own address: the public URL's scheme and port.
    assert!(
        shown.body.contains("shop.apps.localhost:8080</code>"),
        "{}",
        shown.body
    );
    assert!(
        shown.body.contains("No custom domain yet"),
        "{}",
        shown.body
    );

    // A refusal beside the field.
    let refused = ada
        .submit(
            &page,
            &format!("{page}/domains"),
            &[("domain", "127.0.0.1")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .field_error("domain")
            .is_some_and(|e| e.contains("not an IP address")),
        "{}",
        refused.body
    );
    assert_eq!(refused.input_value("domain").as_deref(), Some("127.0.0.1"));

    // Added: the page shows the record to publish.
    let added = ada
        .submit(
            &page,
            &format!("{page}/domains"),
            &[("domain", "Www.Shop.Test")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let shown = ada.get(&page).await;
    assert!(shown.body.contains("www.shop.test"), "{}", shown.body);
    assert!(
        shown.body.contains("_landlord-challenge.www.shop.test"),
        "{}",
        shown.body
    );
    let challenge = {
        let marker = "landlord-challenge=";
        let start = shown.body.find(marker).expect("the challenge");
        let end = shown.body[start..].find('"').expect("its end");
        shown.body[start..start + end].to_owned()
    };
    assert!(shown.body.contains("Pending"), "{}", shown.body);
    let domain_id: String = sqlx::query_scalar("SELECT id FROM app_domains WHERE domain = $1")
        .bind("www.shop.test")
        .fetch_one(app.db.pool())
        .await
        .expect("the domain's id");

    // Verify now: refused, then verified.
    let verify_path = format!("{page}/domains/{domain_id}/verify");
    let refused = ada.submit(&page, &verify_path, &[]).await;
    assert_eq!(refused.status, 303, "{}", refused.body);
    let shown = ada.get(&page).await;
    assert!(
        shown
            .body
            .contains("No TXT record found at _landlord-challenge.www.shop.test")
            || shown
                .body
                .contains("no TXT record found at _landlord-challenge.www.shop.test"),
        "{}",
        shown.body
    );
    dns.set("_landlord-challenge.www.shop.test", &[&challenge]);
    let verified = ada.submit(&page, &verify_path, &[]).await;
    assert_eq!(verified.status, 303, "{}", verified.body);
    let shown = ada.get(&page).await;
    assert!(shown.body.contains("Verified"), "{}", shown.body);

    // A member does not see the page; removing asks first.
    assert_eq!(bob.get(&page).await.status, 403);
    let remove_path = format!("{page}/domains/{domain_id}/remove");
    let confirm = ada.get(&remove_path).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("www.shop.test"), "{}", confirm.body);
    let removed = ada.submit(&remove_path, &remove_path, &[]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let shown = ada.get(&page).await;
    assert!(
        shown.body.contains("No custom domain yet"),
        "{}",
        shown.body
    );
    assert!(
        shown.body.contains("www.shop.test stays reserved"),
        "{}",
        shown.body
    );
    let _ = Browser::new(&app);
}
