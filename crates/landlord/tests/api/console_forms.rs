//! Every form of the console says why it refuses: an audit, not a list.
//!
//! An owner who is also a platform administrator, in an organization with
//! a key, a webhook endpoint, a WhatsApp number and a conversation, crawls
//! every console page reachable by links from the overview, the account
//! and the operator console. Each form that takes typed input is sent
//! twice — every field blank, then every field far too long (a choice no
//! list offers, for a select) — and every answer must be either accepted
//! (2xx, 3xx) or a refusal a person can read: the reason next to the field
//! that is wrong (`aria-invalid` with its `…-error` paragraph), or a
//! message for the whole form. A refusal that shows nothing, a field's
//! reason shown as the API's `field: reason` message, or any 5xx fails the
//! test, which lists every such form at once.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use reqwest::StatusCode;

use crate::backend_tests;
use crate::console::Browser;
use crate::support::accounts::{data, token_of, PASSWORD};
use crate::support::eventually::eventually;
use crate::support::whatsapp::{incoming_text, post_signed};
use crate::support::{Backend, TestApp};

backend_tests!(every_refusal_of_every_form_is_shown_to_the_person,);

/// Pages the crawl visits at most (the console has about sixty).
const MAX_PAGES: usize = 150;
/// A value longer than any field accepts.
const TOO_LONG: usize = 5000;

/// A form as the page gives it.
#[derive(Debug, Clone)]
struct FormSeen {
    page: String,
    /// GET (a filter, a preview) or POST.
    post: bool,
    action: String,
    /// Hidden fields, sent as they are (the CSRF token among them).
    hidden: Vec<(String, String)>,
    /// Fields a person types or chooses: (name, kind).
    typed: Vec<(String, Kind)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Number,
    Select,
}

/// The value of `name="…"` in a tag (`&amp;` decoded).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')?;
    Some(tag[start..start + end].replace("&amp;", "&"))
}

/// The opening tags `<{name} …>` inside `html`.
fn tags<'h>(html: &'h str, name: &str) -> Vec<&'h str> {
    let open = format!("<{name} ");
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        found.push(&rest[start..start + end + 1]);
        rest = &rest[start + end + 1..];
    }
    found
}

/// The POST forms of a page.
fn forms(page: &str, html: &str) -> Vec<FormSeen> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<form ") {
        let Some(end) = rest[start..].find("</form>") else {
            break;
        };
        let form = &rest[start..start + end];
        rest = &rest[start + end..];
        let open = &form[..form.find('>').unwrap_or(form.len())];
        let post = attribute(open, "method").as_deref() == Some("post");
        let action = attribute(open, "action").unwrap_or_else(|| page.to_string());
        let action = action.split('#').next().unwrap_or_default().to_string();
        let mut hidden = Vec::new();
        let mut typed = Vec::new();
        for input in tags(form, "input") {
            let Some(name) = attribute(input, "name") else {
                continue;
            };
            match attribute(input, "type").as_deref().unwrap_or("text") {
                "hidden" => hidden.push((name, attribute(input, "value").unwrap_or_default())),
                "text" | "email" | "password" | "url" | "search" | "tel" => {
                    typed.push((name, Kind::Text))
                }
                "number" | "date" | "datetime-local" => typed.push((name, Kind::Number)),
                _ => {}
            }
        }
        for textarea in tags(form, "textarea") {
            if let Some(name) = attribute(textarea, "name") {
                typed.push((name, Kind::Text));
            }
        }
        for select in tags(form, "select") {
            if let Some(name) = attribute(select, "name") {
                typed.push((name, Kind::Select));
            }
        }
        found.push(FormSeen {
            page: page.to_string(),
            post,
            action,
            hidden,
            typed,
        });
    }
    found
}

/// The console paths a page links to.
fn links(html: &str) -> Vec<String> {
    tags(html, "a")
        .into_iter()
        .filter_map(|tag| attribute(tag, "href"))
        .filter(|href| href.starts_with('/') && !href.starts_with("//"))
        .map(|href| href.split('#').next().unwrap_or_default().to_string())
        .filter(|href| {
            [
                "/o/",
                "/account",
                "/operator",
                "/marketplace",
                "/organizations",
            ]
            .iter()
            .any(|prefix| href.starts_with(prefix))
                && !href.contains("/stream")
                && !href.ends_with(".csv")
                && !href.contains("/download")
        })
        .collect()
}

/// Why a refused answer does not tell the person what to fix, if it does not.
fn unexplained(body: &str) -> Option<String> {
    // Every field marked invalid carries its reason.
    for tag in tags(body, "input")
        .into_iter()
        .chain(tags(body, "textarea"))
        .chain(tags(body, "select"))
    {
        if !tag.contains("aria-invalid=\"true\"") {
            continue;
        }
        let name = attribute(tag, "name").unwrap_or_default();
        let described = attribute(tag, "aria-describedby").unwrap_or_default();
        let marker = format!("id=\"{described}\">");
        let reason = body
            .find(&marker)
            .map(|at| &body[at + marker.len()..])
            .map(|after| after[..after.find('<').unwrap_or(0)].trim().to_string())
            .unwrap_or_default();
        if described.is_empty() || reason.is_empty() {
            return Some(format!("field {name} is marked invalid without a reason"));
        }
    }
    let field_reasons = body.matches("-error\">").count();
    let alerts: Vec<String> = tags(body, "p")
        .into_iter()
        .chain(tags(body, "div"))
        .filter(|tag| tag.contains("role=\"alert\""))
        .filter_map(|tag| {
            let at = body.find(tag)? + tag.len();
            let text = &body[at..];
            Some(text[..text.find("</").unwrap_or(0)].trim().to_string())
        })
        .filter(|text| !text.is_empty())
        .collect();
    // The API's `field: reason` shape means a field's reason landed in the
    // form's general message instead of next to the field.
    for alert in &alerts {
        if let Some((field, _)) = alert.split_once(": ") {
            let technical = !field.is_empty()
                && field
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.' || c.is_ascii_digit());
            if technical {
                return Some(format!(
                    "a field's reason shown as a general message: {alert:?}"
                ));
            }
        }
    }
    if field_reasons == 0 && alerts.is_empty() {
        return Some("no reason shown".into());
    }
    None
}

/// Sends `form` with every typed field set by `value`; returns a finding.
async fn probe(
    person: &Browser<'_>,
    form: &FormSeen,
    how: &str,
    value: impl Fn(Kind) -> String,
) -> Option<String> {
    // A fresh token: the page may have been rendered for another session
    // state since (the crawl signs nobody out, but tokens are per page).
    let fresh = person.get(&form.page).await;
    let csrf_now = if fresh.status == StatusCode::OK && fresh.body.contains("name=\"csrf\"") {
        Some(fresh.csrf())
    } else {
        None
    };
    let mut fields: Vec<(String, String)> = form
        .hidden
        .iter()
        .map(|(name, old)| match (&csrf_now, name.as_str()) {
            (Some(csrf), "csrf") => (name.clone(), csrf.clone()),
            _ => (name.clone(), old.clone()),
        })
        .collect();
    fields.extend(
        form.typed
            .iter()
            .map(|(name, kind)| (name.clone(), value(*kind))),
    );
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let seen = if form.post {
        person.post(&form.action, &pairs).await
    } else {
        let query = serde_urlencoded::to_string(&pairs).expect("a query");
        person.get(&format!("{}?{query}", form.action)).await
    };
    let status = seen.status;
    let method = if form.post { "POST" } else { "GET" };
    let place = format!("{} → {method} {} ({how})", form.page, form.action);
    if status.is_server_error() {
        return Some(format!("{place}: {status}"));
    }
    if status.is_client_error() {
        if let Some(why) = unexplained(&seen.body) {
            return Some(format!("{place}: {status}, {why}"));
        }
    }
    None
}

/// Ada's organization with something on every page: a key, a webhook
/// endpoint, a WhatsApp number with a conversation. Ada is a platform
/// administrator too.
async fn furnished(app: &TestApp) -> (Browser<'_>, String) {
    let ada = Browser::new(app);
    let overview = ada.sign_up("ada@forms.test", "Form Audit").await;
    let org = overview.trim_start_matches("/o/").to_string();
    sqlx::query("UPDATE users SET platform_admin_at = 1 WHERE email = $1")
        .bind("ada@forms.test")
        .execute(app.db.pool())
        .await
        .expect("Ada is an operator");
    let login = app.login("ada@forms.test", PASSWORD).await;
    let token = token_of(
        &crate::support::app::json(login).await["data"],
        "access_token",
    );
    let key = app
        .post_as(
            "/api/v1/keys",
            &token,
            &serde_json::json!({ "name": "audit" }),
        )
        .await;
    assert_eq!(key.status(), 201);
    let endpoint = app
        .post_as(
            "/api/v1/webhooks/endpoints",
            &token,
            &serde_json::json!({ "url": "https://hooks.forms.test/in" }),
        )
        .await;
    assert_eq!(
        endpoint.status(),
        201,
        "{}",
        endpoint.text().await.unwrap_or_default()
    );
    // An app in review: its settings, and the operator's review forms.
    let created = data(
        app.post_as(
            "/api/v1/apps",
            &token,
            &serde_json::json!({
                "slug": "form-audit", "name": "Form audit", "client_type": "confidential",
                "redirect_uris": ["https://app.forms.test/cb"], "scopes": ["openid"],
            }),
        )
        .await,
    )
    .await;
    let submit = format!(
        "/api/v1/apps/{}/submit",
        created["id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        app.post_as(&submit, &token, &serde_json::json!({}))
            .await
            .status(),
        200
    );
    let channel = data(
        app.post_as(
            "/api/v1/inbox/channels",
            &token,
            &serde_json::json!({
                "name": "Support line", "phone_number_id": "106540352242922",
                "business_account_id": "102290129340398", "access_token": "EAAG-forms",
                "app_secret": "app-secret-of-the-forms", "verify_token": "verify-token-of-the-forms",
            }),
        )
        .await,
    )
    .await;
    let payload = incoming_text(
        "102290129340398",
        "106540352242922",
        "447700900123",
        "Grace Hopper",
        "wamid.FORMS",
        "hello",
        crate::support::clock::now_secs(),
    );
    let url = app.url(&format!(
        "/api/v1/inbox/webhooks/whatsapp/{}",
        channel["id"].as_str().expect("the channel's id")
    ));
    let answer = post_signed(&app.client, &url, "app-secret-of-the-forms", &payload).await;
    assert_eq!(answer.status(), 200);
    eventually(
        "the conversation stored",
        Duration::from_secs(20),
        async || {
            let stored = app
                .count(
                    "SELECT COUNT(*) FROM inbox_messages WHERE organization_id = $1",
                    &[&org],
                )
                .await;
            (stored > 0).then_some(())
        },
    )
    .await;
    // Bob, a member: the team page's role and removal forms.
    let bob = Browser::new(app);
    bob.sign_up("bob@forms.test", "Bob's").await;
    let bob_id = app.user_id("bob@forms.test").await;
    app.add_membership(&org, &bob_id, "member").await;
    (ada, org)
}

async fn every_refusal_of_every_form_is_shown_to_the_person(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, org) = furnished(&app).await;
    let mut queue: VecDeque<String> = [
        format!("/o/{org}"),
        "/account".to_string(),
        "/operator".to_string(),
        "/marketplace".to_string(),
    ]
    .into();
    let mut visited = BTreeSet::new();
    let mut found_forms = Vec::new();
    while let Some(path) = queue.pop_front() {
        if visited.len() >= MAX_PAGES || !visited.insert(path.clone()) {
            continue;
        }
        let seen = ada.get(&path).await;
        assert!(
            !seen.status.is_server_error(),
            "GET {path}: {}",
            seen.status
        );
        if seen.status != StatusCode::OK {
            continue;
        }
        found_forms.extend(forms(&path, &seen.body));
        queue.extend(
            links(&seen.body)
                .into_iter()
                .filter(|l| !visited.contains(l)),
        );
    }
    // One form per action is enough (a list repeats its row's forms).
    let mut actions = BTreeSet::new();
    let typed: Vec<FormSeen> = found_forms
        .into_iter()
        .filter(|form| !form.typed.is_empty() && !form.action.starts_with("/sign-"))
        // A select-only form (the role of a member) is probed like the others.
        .filter(|form| actions.insert(generic(&form.action)))
        .collect();
    assert!(
        typed.len() >= 10,
        "the crawl found only {} forms with fields on {} pages: {:?}",
        typed.len(),
        visited.len(),
        visited
    );
    // The apps' forms are among them: an app's create and settings forms,
    // the review queue's reasons.
    for action in [
        "/o/{id}/apps",
        "/o/{id}/apps/{id}",
        "/operator/apps/{id}/reject",
        "/operator/apps/{id}/suspend",
    ] {
        assert!(
            typed.iter().any(|form| generic(&form.action) == action),
            "no form posts to {action}"
        );
    }
    let mut findings = Vec::new();
    for form in &typed {
        let blank = probe(&ada, form, "every field blank", |_| String::new()).await;
        let long = probe(&ada, form, "every field too long", |kind| match kind {
            Kind::Text => "x".repeat(TOO_LONG),
            Kind::Number => "9".repeat(40),
            Kind::Select => "not-a-choice".into(),
        })
        .await;
        findings.extend(blank);
        findings.extend(long);
    }
    assert!(
        findings.is_empty(),
        "{} of {} forms' refusals do not reach the person:\n{}",
        findings.len(),
        typed.len(),
        findings.join("\n")
    );
}

/// An action with its ids blanked, so that one row's form stands for all.
fn generic(action: &str) -> String {
    action
        .split('/')
        .map(|segment| {
            if segment.len() >= 20
                || segment.chars().any(|c| c.is_ascii_digit()) && segment.len() > 8
            {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
