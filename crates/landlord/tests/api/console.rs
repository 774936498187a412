//! The web console over HTTP (the real-browser journeys are in the browser
//! tests): what a person sees — statuses, the error next to its field,
//! redirects, cookies and their attributes — and that the pages keep the
//! API's rules: sessions shared with `/auth/sessions`, CSRF on every form,
//! another organization's pages answer 404.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::accounts::{app_with_smtp, data, session_of, PASSWORD};
use crate::support::team::{invite, owner_of};
use crate::support::{Backend, TestApp};

pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'";

/// A browser without JavaScript: keeps cookies, reads pages and forms.
pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    cookies: Mutex<BTreeMap<String, String>>,
}

/// A page as received.
pub(crate) struct Seen {
    pub(crate) status: StatusCode,
    pub(crate) location: Option<String>,
    pub(crate) set_cookies: Vec<String>,
    pub(crate) csp: Option<String>,
    pub(crate) body: String,
}

impl Seen {
    /// The CSRF token of the page's first form.
    pub(crate) fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        let end = self.body[start..].find('"').expect("the token's end");
        self.body[start..start + end].to_string()
    }

    pub(crate) fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    /// The error paragraph of field `name`.
    pub(crate) fn field_error(&self, name: &str) -> Option<String> {
        let marker = format!("id=\"{name}-error\">");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find("</p>")?;
        Some(self.body[start..start + end].to_string())
    }

    pub(crate) fn input_value(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" type=\"");
        let start = self.body.find(&marker)?;
        let rest = &self.body[start..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        let value_start = tag.find("value=\"")? + "value=\"".len();
        let value_end = tag[value_start..].find('"')?;
        Some(tag[value_start..value_start + value_end].to_string())
    }
}

/// Ada signs up owning `name`; Bob signs up (with an organization of his
/// own) and is added to Ada's as `role`. Both at `domain`. Returns their
/// browsers, the organization's id and Bob's user id.
pub(crate) async fn owner_and_member<'a>(
    app: &'a TestApp,
    domain: &str,
    name: &str,
    role: &str,
) -> (Browser<'a>, Browser<'a>, String, String) {
    let ada = Browser::new(app);
    let overview = ada.sign_up(&format!("ada@{domain}"), name).await;
    let org = overview.trim_start_matches("/o/").to_string();
    let bob = Browser::new(app);
    bob.sign_up(&format!("bob@{domain}"), "Bob's").await;
    let bob_id = app.user_id(&format!("bob@{domain}")).await;
    app.add_membership(&org, &bob_id, role).await;
    (ada, bob, org, bob_id)
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        let cookies = self.cookies.lock().expect("cookie jar");
        cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().expect("cookie jar").get(name).cloned()
    }

    pub(crate) async fn receive(&self, response: reqwest::Response) -> Seen {
        let status = response.status();
        let headers = response.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        {
            let mut jar = self.cookies.lock().expect("cookie jar");
            for cookie in &set_cookies {
                let pair = cookie.split(';').next().unwrap_or_default();
                if let Some((name, value)) = pair.split_once('=') {
                    if value.is_empty() || cookie.contains("Max-Age=0") {
                        jar.remove(name);
                    } else {
                        jar.insert(name.to_string(), value.to_string());
                    }
                }
            }
        }
        Seen {
            status,
            location: headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            set_cookies,
            csp: headers
                .get(CONTENT_SECURITY_POLICY)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: response.text().await.expect("page body"),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Seen {
        let response = self
            .app
            .client
            .get(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("request sent");
        self.receive(response).await
    }

    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Seen {
        let response = self
            .app
            .client
            .post(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("request sent");
        self.receive(response).await
    }

    /// Fills and sends the form of the page at `path` (with its CSRF token).
    pub(crate) async fn submit(&self, path: &str, action: &str, fields: &[(&str, &str)]) -> Seen {
        let page = self.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        let csrf = page.csrf();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(action, &form).await
    }

    /// Creates a key on the keys page `keys` (`/o/{id}/keys`): the form's
    /// answer is a redirect to the list, whose page (returned) shows the
    /// secret this once.
    pub(crate) async fn create_key(&self, keys: &str, fields: &[(&str, &str)]) -> Seen {
        let created = self.submit(&format!("{keys}/new"), keys, fields).await;
        assert_eq!(created.status, 303, "{}", created.body);
        assert_eq!(created.location.as_deref(), Some(keys));
        assert!(
            !created.body.contains("sk_live_"),
            "no secret in the POST's answer"
        );
        self.get(keys).await
    }

    /// Signs up a new organization; returns its overview's path.
    pub(crate) async fn sign_up(&self, email: &str, organization: &str) -> String {
        let seen = self
            .submit(
                "/sign-up",
                "/sign-up",
                &[
                    ("organization_name", organization),
                    ("name", "Ada"),
                    ("email", email),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(seen.status, 303, "{}", seen.body);
        seen.location.expect("redirected to the overview")
    }

    pub(crate) async fn sign_in(&self, email: &str, password: &str) -> Seen {
        self.submit(
            "/sign-in",
            "/sign-in",
            &[("email", email), ("password", password)],
        )
        .await
    }
}

async fn sign_up_signs_in_and_shows_the_overview(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = Browser::new(&app);

    let home = browser.get("/").await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location.as_deref(), Some("/sign-in"));

    let form = browser.get("/sign-up").await;
    assert_eq!(form.status, 200);
    assert_eq!(form.csp.as_deref(), Some(CSP));
    assert!(form.body.contains("<label for=\"organization_name\">"));
    let csrf_cookie = form.set_cookie("landlord_csrf").expect("a CSRF cookie");
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Lax"));

    // A weak password: the error beside the field, what was typed kept,
    // the password not sent back.
    let weak = browser
        .post(
            "/sign-up",
            &[
                ("csrf", &form.csrf()),
                ("organization_name", "Acme"),
                ("name", "Ada"),
                ("email", "ada@console.test"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, 422);
    assert_eq!(
        weak.field_error("password").as_deref(),
        Some("Must be at least 8 characters long.")
    );
    assert_eq!(
        weak.input_value("organization_name").as_deref(),
        Some("Acme")
    );
    assert_eq!(
        weak.input_value("email").as_deref(),
        Some("ada@console.test")
    );
    assert!(!weak.body.contains("short\""));

    let overview = browser.sign_up("ada@console.test", "Acme").await;
    assert!(overview.starts_with("/o/"), "{overview}");
    let session = browser
        .cookie("landlord_session")
        .expect("a session cookie");
    assert!(session.starts_with("rt_"));

    let page = browser.get(&overview).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.csp.as_deref(), Some(CSP));
    assert!(page.body.contains("<h1>Acme</h1>"));
    assert!(page.body.contains("of 1,000 included"), "{}", page.body);
    assert!(page.body.contains("Active API keys"));

    // Signed in, `/` and the sign-in page lead to the overview.
    assert_eq!(
        browser.get("/").await.location.as_deref(),
        Some(overview.as_str())
    );
    assert_eq!(
        browser.get("/sign-in").await.location.as_deref(),
        Some(overview.as_str())
    );

    // The same email again: the conflict beside the email field.
    let other = Browser::new(&app);
    let taken = other
        .submit(
            "/sign-up",
            "/sign-up",
            &[
                ("organization_name", "Again"),
                ("email", "ada@console.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(taken.status, 409);
    assert_eq!(
        taken.field_error("email").as_deref(),
        Some("An account with this email already exists.")
    );

    // The stylesheet: embedded, cached for long.
    let css = app.get("/static/console.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(css
        .text()
        .await
        .expect("css")
        .contains("prefers-color-scheme: dark"));
}

async fn session_cookie_is_an_api_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = Browser::new(&app);
    let overview = browser.sign_up("grace@console.test", "Navy").await;

    let signed_in = browser.get("/sign-in").await;
    assert_eq!(
        signed_in.location.as_deref(),
        Some(overview.as_str()),
        "already signed in"
    );

    // A fresh browser signs in; a wrong password first.
    let second = Browser::new(&app);
    let wrong = second
        .sign_in("grace@console.test", "not the password")
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Email or password is incorrect."));
    assert_eq!(
        wrong.input_value("email").as_deref(),
        Some("grace@console.test")
    );
    let ok = second.sign_in("grace@console.test", PASSWORD).await;
    assert_eq!(ok.status, 303);
    let cookie = ok.set_cookie("landlord_session").expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "public_url is http: {cookie}");

    // The API lists the browsers' sessions beside its own and revokes one.
    let api = session_of(&app, "grace@console.test").await;
    let token = api["access_token"].as_str().expect("access token");
    let sessions = data(app.get_as("/api/v1/auth/sessions", token).await).await;
    let sessions = sessions.as_array().expect("sessions");
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    let browser_sessions: Vec<&str> = sessions
        .iter()
        .filter(|s| s["current"] == json!(false))
        .filter_map(|s| s["id"].as_str())
        .collect();
    for id in browser_sessions {
        let revoked = app
            .delete_as(&format!("/api/v1/auth/sessions/{id}"), token)
            .await;
        assert!(revoked.status().is_success());
    }
    let after = browser.get(&overview).await;
    assert_eq!(after.status, 303, "revoked in the API: signed out");
    assert_eq!(after.location.as_deref(), Some("/sign-in"));
    assert!(
        browser.cookie("landlord_session").is_none(),
        "stale cookie cleared"
    );

    // Signing out in the browser revokes the session in the API's list.
    let third = Browser::new(&app);
    assert_eq!(
        third.sign_in("grace@console.test", PASSWORD).await.status,
        303
    );
    let page = third.get(&overview).await;
    assert_eq!(page.status, 200);
    let out = third.post("/sign-out", &[("csrf", &page.csrf())]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/sign-in"));
    let sessions = data(app.get_as("/api/v1/auth/sessions", token).await).await;
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    assert_eq!(third.get(&overview).await.status, 303);
}

async fn forms_refuse_a_missing_or_foreign_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = Browser::new(&app);

    // No token, or a made-up one: 403, a page that says why, nobody signed up.
    let page = browser.get("/sign-up").await;
    let fields = [
        ("organization_name", "Evil"),
        ("email", "evil@console.test"),
        ("password", PASSWORD),
    ];
    let refused = browser.post("/sign-up", &fields).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("This form has expired"),
        "{}",
        refused.body
    );
    assert!(refused.set_cookie("landlord_session").is_none());
    let mut forged = vec![("csrf", "00ff")];
    forged.extend_from_slice(&fields);
    assert_eq!(browser.post("/sign-up", &forged).await.status, 403);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = $1",
            &["evil@console.test"]
        )
        .await,
        0
    );

    // Another visitor's token does not fit this visitor's cookie.
    let other = Browser::new(&app);
    let theirs = other.get("/sign-in").await.csrf();
    assert_ne!(theirs, page.csrf());
    let mut with_theirs = vec![("csrf", theirs.as_str())];
    with_theirs.extend_from_slice(&fields);
    assert_eq!(browser.post("/sign-up", &with_theirs).await.status, 403);

    // Signed in: the token is the session's; the signed-out one no longer works.
    let overview = browser.sign_up("ok@console.test", "Fine").await;
    let signed_out_token = page.csrf();
    let refused = browser
        .post("/sign-out", &[("csrf", &signed_out_token)])
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(browser.get(&overview).await.status, 200, "still signed in");
}

async fn another_organizations_pages_answer_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = Browser::new(&app);
    let ada_overview = ada.sign_up("ada@tenant.test", "Ada's").await;
    let bob = Browser::new(&app);
    let bob_overview = bob.sign_up("bob@tenant.test", "Bob's").await;

    let foreign = ada.get(&bob_overview).await;
    assert_eq!(foreign.status, 404);
    assert!(foreign.body.contains("Page not found"));
    assert!(!foreign.body.contains("Bob's"));
    assert_eq!(foreign.csp.as_deref(), Some(CSP));
    assert_eq!(ada.get("/o/not-an-id").await.status, 404);
    assert_eq!(
        ada.get("/o/01900000-0000-7000-8000-000000000000")
            .await
            .status,
        404
    );
    assert_eq!(bob.get(&ada_overview).await.status, 404);

    // Signed out: the sign-in page, not the organization's data.
    let stranger = Browser::new(&app);
    let away = stranger.get(&ada_overview).await;
    assert_eq!(away.status, 303);
    assert_eq!(away.location.as_deref(), Some("/sign-in"));

    // A member of both sees both, and the switcher lists both.
    let bob_org = bob_overview.trim_start_matches("/o/");
    let ada_user: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind("ada@tenant.test")
        .fetch_one(app.db.pool())
        .await
        .expect("ada's id");
    app.add_membership(bob_org, &ada_user, "member").await;
    let both = ada.get(&bob_overview).await;
    assert_eq!(both.status, 200, "{}", both.body);
    assert!(both.body.contains("<h1>Bob&#x27;s</h1>"), "{}", both.body);
    assert!(both.body.contains(&format!("href=\"{ada_overview}\"")));
}

async fn mail_links_land_on_pages_that_work(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let email = "mail@console.test";
    let browser = Browser::new(&app);
    let overview = browser.sign_up(email, "Mailers").await;

    // Until the address is verified, the overview says so and sends the
    // link again.
    let unverified = browser.get(&overview).await;
    assert!(
        unverified.body.contains("Verify your email."),
        "{}",
        unverified.body
    );
    assert!(unverified.body.contains(email), "{}", unverified.body);
    let resent = browser
        .submit(&overview, "/verify-email", &[("email", email)])
        .await;
    assert_eq!(resent.status, 303, "{}", resent.body);
    assert_eq!(resent.location.as_deref(), Some("/verify-email"));
    let resent = browser.get("/verify-email").await;
    assert!(
        resent
            .body
            .contains("a new verification mail is on its way"),
        "{}",
        resent.body
    );
    // Said once: a reload asks for no other mail and says nothing.
    assert!(!browser
        .get("/verify-email")
        .await
        .body
        .contains("a new verification mail is on its way"));
    let confirmations = || {
        smtp.received()
            .into_iter()
            .filter(|m| m.subject().contains("Confirm your email"))
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while confirmations().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "a second verification mail"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Verification: the mail's link verifies, once.
    let mail = confirmations().pop().expect("the newest verification mail");
    assert!(mail
        .decoded()
        .contains("https://app.landlord.test/verify-email?token="));
    let token = mail.token().expect("a token");
    let stranger = Browser::new(&app);
    let verified = stranger.get(&format!("/verify-email?token={token}")).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(verified.body.contains("mail@console.test is verified"));
    let after = browser.get(&overview).await;
    assert!(!after.body.contains("Verify your email."), "{}", after.body);
    let again = stranger.get(&format!("/verify-email?token={token}")).await;
    assert_eq!(again.status, 422);
    assert!(
        again
            .body
            .contains("This verification link has already been used."),
        "{}",
        again.body
    );
    assert!(again.body.contains("Send a new link"));
    let unknown = stranger.get("/verify-email?token=nope").await;
    assert!(unknown
        .body
        .contains("This verification link is not a valid token."));

    // Password reset: asked for with the form, chosen on the mail's link.
    let asked = stranger
        .submit("/forgot-password", "/forgot-password", &[("email", email)])
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    assert_eq!(asked.location.as_deref(), Some("/forgot-password"));
    // Signed out, the notice is the browser's own: this one sees it once,
    // another browser never.
    assert!(!Browser::new(&app)
        .get("/forgot-password")
        .await
        .body
        .contains("a password reset mail is on its way"));
    let asked = stranger.get("/forgot-password").await;
    assert!(asked.body.contains("a password reset mail is on its way"));
    assert!(!stranger
        .get("/forgot-password")
        .await
        .body
        .contains("a password reset mail is on its way"));
    let mail = smtp.wait_for_subject(email, "Reset your password").await;
    assert!(mail
        .decoded()
        .contains("https://app.landlord.test/reset-password?token="));
    let token = mail.token().expect("a token");
    let path = format!("/reset-password?token={token}");
    let weak = stranger
        .submit(
            &path,
            "/reset-password",
            &[("token", &token), ("password", "short")],
        )
        .await;
    assert_eq!(weak.status, 422);
    assert!(weak.field_error("password").is_some(), "{}", weak.body);
    let changed = stranger
        .submit(
            &path,
            "/reset-password",
            &[("token", &token), ("password", "a brand new password")],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_eq!(changed.location.as_deref(), Some("/sign-in"));
    let sign_in = stranger.get("/sign-in").await;
    assert!(
        sign_in.body.contains("Your password is changed"),
        "{}",
        sign_in.body
    );
    assert!(!stranger
        .get("/sign-in")
        .await
        .body
        .contains("Your password is changed"));
    // Every session was revoked, the browser's too.
    assert_eq!(browser.get("/").await.location.as_deref(), Some("/sign-in"));
    let used = stranger
        .submit(
            &path,
            "/reset-password",
            &[("token", &token), ("password", "another new password")],
        )
        .await;
    assert_eq!(used.status, 422);
    assert!(
        used.body.contains("This reset link has already been used."),
        "{}",
        used.body
    );
    assert_eq!(
        stranger.sign_in(email, "a brand new password").await.status,
        303
    );
}

async fn console_cookies_are_secure_behind_https_and_the_console_can_be_off(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.public_url = "https://landlord.test".into()).await;
    let browser = Browser::new(&app);
    let form = browser.get("/sign-in").await;
    assert!(form
        .set_cookie("landlord_csrf")
        .is_some_and(|c| c.contains("; Secure")));
    browser.sign_up("secure@console.test", "Secure").await;
    // (The session cookie was set with Secure; the test client sends it anyway.)
    let api_doc = crate::support::app::json(app.get("/openapi.json").await).await;
    let paths = api_doc["paths"].as_object().expect("paths");
    assert!(paths
        .keys()
        .all(|p| p.starts_with("/api/v1/") || !p.contains("sign")));
    assert!(!paths.contains_key("/sign-in") && !paths.contains_key("/o/{organization_id}"));

    let off = TestApp::spawn_with(backend, |c| c.console = false).await;
    assert_eq!(off.get("/sign-in").await.status(), 404);
    assert_eq!(off.get("/").await.status(), 404);
    // Without the console, browsers get the API's envelope like anyone.
    let (status, kind, _) = fetch(&off, "/nowhere", "text/html").await;
    assert_eq!((status, kind.as_str()), (404, "application/json"));
}

/// Status, content type and body of `GET path` sent with `accept`.
async fn fetch(app: &TestApp, path: &str, accept: &str) -> (u16, String, String) {
    let response = app
        .client
        .get(app.url(path))
        .header(reqwest::header::ACCEPT, accept)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    (status, kind, response.text().await.unwrap_or_default())
}

async fn a_browser_on_a_wrong_path_gets_a_readable_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser_accept = "text/html,application/xhtml+xml,*/*;q=0.8";
    let (status, kind, body) = fetch(&app, "/no/such/page", browser_accept).await;
    assert_eq!((status, kind.as_str()), (404, "text/html"), "{body}");
    assert!(body.contains("Page not found"), "{body}");
    assert!(body.contains("href=\"/\""), "a way back: {body}");
    // API paths and programs keep the JSON envelope.
    let (status, kind, body) = fetch(&app, "/api/v1/no-such-route", browser_accept).await;
    assert_eq!((status, kind.as_str()), (404, "application/json"), "{body}");
    assert!(body.contains("\"NOT_FOUND\""), "{body}");
    let (status, kind, _) = fetch(&app, "/no/such/page", "application/json").await;
    assert_eq!((status, kind.as_str()), (404, "application/json"));
}

async fn invitation_links_join_in_place(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let owner = owner_of(&app, "owner@join.test", "Joiners").await;
    let org = data(app.get_as("/api/v1/organization", &owner).await).await;
    let overview = format!("/o/{}", org["id"].as_str().expect("organization id"));

    // No account yet: create it in place, signed in, in the organization.
    let token = invite(&app, &smtp, &owner, "new@join.test", "member").await;
    let newcomer = Browser::new(&app);
    let path = format!("/accept-invitation?token={token}");
    let page = newcomer.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .body
        .contains("<strong>Joiners</strong> as <strong>member</strong>"));
    assert!(page.body.contains("Create the account and join"));
    let weak = newcomer
        .submit(
            &path,
            "/accept-invitation",
            &[
                ("token", &token),
                ("mode", "create"),
                ("name", "Newt"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, 422);
    assert!(weak.field_error("password").is_some(), "{}", weak.body);
    assert_eq!(weak.input_value("name").as_deref(), Some("Newt"));
    let joined = newcomer
        .submit(
            &path,
            "/accept-invitation",
            &[
                ("token", &token),
                ("mode", "create"),
                ("name", "Newt"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert_eq!(joined.location.as_deref(), Some(overview.as_str()));
    assert!(joined.set_cookie("landlord_session").is_some());
    assert_eq!(newcomer.get(&overview).await.status, 200);

    // Used: the page says so.
    let used = Browser::new(&app).get(&path).await;
    assert_eq!(used.status, 422);
    assert!(
        used.body
            .contains("This invitation has already been accepted."),
        "{}",
        used.body
    );
    let unknown = Browser::new(&app)
        .get("/accept-invitation?token=nope")
        .await;
    assert!(
        unknown
            .body
            .contains("This invitation link is not a valid invitation token."),
        "{}",
        unknown.body
    );

    // An account exists: sign in in place (a wrong password is said beside the field).
    app.register("old@join.test", "Elsewhere").await;
    let token = invite(&app, &smtp, &owner, "old@join.test", "admin").await;
    let path = format!("/accept-invitation?token={token}");
    let existing = Browser::new(&app);
    let page = existing.get(&path).await;
    assert!(page.body.contains("Sign in and join"), "{}", page.body);
    let wrong = existing
        .submit(
            &path,
            "/accept-invitation",
            &[
                ("token", &token),
                ("mode", "sign_in"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.field_error("password").as_deref(),
        Some("Email or password is incorrect.")
    );
    let joined = existing
        .submit(
            &path,
            "/accept-invitation",
            &[
                ("token", &token),
                ("mode", "sign_in"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert_eq!(joined.location.as_deref(), Some(overview.as_str()));
    assert_eq!(existing.get(&overview).await.status, 200);

    // Signed in as someone else: told so, nothing joined.
    let token = invite(&app, &smtp, &owner, "third@join.test", "member").await;
    let page = newcomer
        .get(&format!("/accept-invitation?token={token}"))
        .await;
    assert!(
        page.body.contains("You are signed in as new@join.test"),
        "{}",
        page.body
    );
    // Signed in as the invited person: one button.
    app.register("third@join.test", "Third").await;
    let third = Browser::new(&app);
    assert_eq!(third.sign_in("third@join.test", PASSWORD).await.status, 303);
    let path = format!("/accept-invitation?token={token}");
    let page = third.get(&path).await;
    assert!(page.body.contains("Join Joiners"), "{}", page.body);
    let joined = third
        .submit(&path, "/accept-invitation", &[("token", &token)])
        .await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert_eq!(joined.location.as_deref(), Some(overview.as_str()));
}

/// The secret on the page that answers the create form.
fn secret_in(body: &str) -> Option<String> {
    let start = body.find("value=\"sk_live_")? + "value=\"".len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_string())
}

/// `POST /keys/verify`'s verdict on `secret`.
async fn verdict(app: &TestApp, secret: &str) -> serde_json::Value {
    data(
        app.post_json("/api/v1/keys/verify", &json!({ "key": secret }))
            .await,
    )
    .await
}

/// The user id of `email`.
async fn keys_page_lists_creates_once_and_revokes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = Browser::new(&app);
    let email = "keys@console.test";
    let overview = browser.sign_up(email, "Keyholders").await;
    let keys = format!("{overview}/keys");
    let token = session_of(&app, email).await["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    let from_api = data(
        app.post_as("/api/v1/keys", &token, &json!({"name": "from the api"}))
            .await,
    )
    .await;
    let api_secret = from_api["key"].as_str().expect("secret").to_string();

    let list = browser.get(&keys).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.csp.as_deref(), Some(CSP));
    assert!(list.body.contains("from the api"));
    assert!(list
        .body
        .contains(from_api["prefix"].as_str().expect("prefix")));
    assert!(list.body.contains(email), "the creator");
    assert!(list.body.contains("active"));
    assert!(list.body.contains(&format!(
        "href=\"{keys}\" aria-current=\"page\">API keys</a>"
    )));
    assert!(!list.body.contains(&api_secret));

    // Created here: redirected to the list, which shows the secret once,
    // with its copy button's script.
    let created = browser
        .create_key(
            &keys,
            &[
                ("name", "  console key "),
                ("scopes", "messages:send"),
                ("scopes", "messages:read"),
                ("rate_limit_per_minute", "100"),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let secret = secret_in(&created.body).expect("the secret on the page");
    assert!(created.body.contains("The key “console key” is created."));
    assert!(created.body.contains("readonly"));
    assert!(created.body.contains("src=\"/static/copy.js?v="));
    assert!(!created.body.contains("<script>"), "no inline script");
    let script = app
        .client
        .get(app.url("/static/copy.js"))
        .send()
        .await
        .expect("script");
    assert_eq!(script.status(), 200);
    assert!(script
        .text()
        .await
        .expect("script body")
        .contains("navigator.clipboard"));

    // The key works over the API, as created.
    let works = verdict(&app, &secret).await;
    assert_eq!(works["valid"], true);
    assert_eq!(works["allowed"], true);
    assert_eq!(works["scopes"], json!(["messages:send", "messages:read"]));
    let key_id = works["key_id"].as_str().expect("key id").to_string();

    // Reloading the list (or the form) never shows the secret again.
    let again = browser.get(&keys).await;
    assert!(again.body.contains("console key"));
    // Both keys name their creator (not only the first listed).
    assert_eq!(
        again
            .body
            .matches(&format!("<td data-label=\"Created by\">{email}</td>"))
            .count(),
        2,
        "{}",
        again.body
    );
    assert!(!again.body.contains(&secret));
    assert!(!browser
        .get(&format!("{keys}/new"))
        .await
        .body
        .contains(&secret));

    // CSRF: a forged create or revoke is refused and changes nothing.
    let forged = browser
        .post(&keys, &[("csrf", "forged"), ("name", "forged")])
        .await;
    assert_eq!(forged.status, 403);
    assert!(!browser.get(&keys).await.body.contains("forged"));
    let revoke = format!("{keys}/{key_id}/revoke");
    let forged = browser.post(&revoke, &[("csrf", "")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(verdict(&app, &secret).await["valid"], true);

    // Revoked after the confirmation: the key fails over the API, audited.
    let confirm = browser.get(&revoke).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("Revoke “console key”?"));
    let revoked = browser.submit(&revoke, &revoke, &[]).await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    let back = revoked.location.expect("back to the list");
    assert_eq!(back, keys);
    let after = browser.get(&back).await;
    assert!(after.body.contains("no longer works"));
    assert!(!browser.get(&back).await.body.contains("no longer works"));
    assert!(after.body.contains("revoked"));
    let refused = verdict(&app, &secret).await;
    assert_eq!(refused["valid"], false);
    assert_eq!(refused["reason"], "revoked");
    assert!(app
        .audit_actions()
        .await
        .iter()
        .any(|(action, ..)| action == "api_key.revoked"));
    // The API's key is untouched.
    assert_eq!(verdict(&app, &api_secret).await["valid"], true);
}

async fn key_form_errors_sit_next_to_their_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = Browser::new(&app);
    let overview = browser.sign_up("form@console.test", "Forms").await;
    let keys = format!("{overview}/keys");
    let new = format!("{keys}/new");

    let empty = browser.submit(&new, &keys, &[("name", "  ")]).await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert!(empty.field_error("name").is_some(), "{}", empty.body);
    assert!(secret_in(&empty.body).is_none());

    let zero = browser
        .submit(
            &new,
            &keys,
            &[
                ("name", "typed"),
                ("scopes", "messages:read"),
                ("rate_limit_per_minute", "0"),
            ],
        )
        .await;
    assert_eq!(zero.status, 422);
    assert_eq!(
        zero.field_error("rate_limit_per_minute").as_deref(),
        Some("Must be at least 1.")
    );
    assert_eq!(zero.input_value("name").as_deref(), Some("typed"));
    assert_eq!(
        zero.input_value("rate_limit_per_minute").as_deref(),
        Some("0")
    );
    assert!(
        zero.body.contains("value=\"messages:read\" checked"),
        "checked scope kept"
    );

    let too_many = browser
        .submit(
            &new,
            &keys,
            &[("name", "typed"), ("rate_limit_per_minute", "1000001")],
        )
        .await;
    assert_eq!(too_many.status, 422);
    assert!(too_many.field_error("rate_limit_per_minute").is_some());
    let words = browser
        .submit(
            &new,
            &keys,
            &[("name", "typed"), ("rate_limit_per_minute", "lots")],
        )
        .await;
    assert_eq!(words.status, 422);
    assert!(words.field_error("rate_limit_per_minute").is_some());

    let past = browser
        .submit(
            &new,
            &keys,
            &[("name", "typed"), ("expires_on", "2000-01-01")],
        )
        .await;
    assert_eq!(past.status, 422);
    assert_eq!(
        past.field_error("expires_at").as_deref(),
        Some("Must be in the future.")
    );
    assert_eq!(
        past.input_value("expires_on").as_deref(),
        Some("2000-01-01")
    );
    let nonsense = browser
        .submit(&new, &keys, &[("name", "typed"), ("expires_on", "soon")])
        .await;
    assert_eq!(nonsense.status, 422);
    assert!(nonsense.field_error("expires_at").is_some());

    // No key was created by any of these.
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM api_keys")
        .fetch_one(app.db.pool())
        .await
        .expect("count");
    assert_eq!(count, 0);
    let expiring = browser
        .create_key(&keys, &[("name", "expiring"), ("expires_on", "2999-12-31")])
        .await;
    assert!(
        expiring.body.contains("expires 2999-12-31"),
        "{}",
        expiring.body
    );
    assert!(browser.get(&keys).await.body.contains("2999-12-31"));
}

async fn members_see_and_revoke_only_their_own_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = Browser::new(&app);
    let overview = owner.sign_up("owner@keys.test", "Owned").await;
    let keys = format!("{overview}/keys");
    let organization_id = overview.trim_start_matches("/o/").to_string();
    let owners_key = owner.create_key(&keys, &[("name", "the owner's")]).await;
    let owners_secret = secret_in(&owners_key.body).expect("secret");
    let owners_id = verdict(&app, &owners_secret).await["key_id"]
        .as_str()
        .expect("key id")
        .to_string();

    let member = Browser::new(&app);
    member.sign_up("member@keys.test", "Member's own").await;
    app.add_membership(
        &organization_id,
        &app.user_id("member@keys.test").await,
        "member",
    )
    .await;
    let seen = member.get(&keys).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(!seen.body.contains("the owner&#x27;s"), "{}", seen.body);
    assert!(!seen.body.contains(&owners_id));

    let made = member.create_key(&keys, &[("name", "the member's")]).await;
    let members_secret = secret_in(&made.body).expect("secret");
    let members_id = verdict(&app, &members_secret).await["key_id"]
        .as_str()
        .expect("key id")
        .to_string();
    assert!(member.get(&keys).await.body.contains("the member&#x27;s"));

    // The owner's key is not the member's to see or revoke: 404.
    let owners_revoke = format!("{keys}/{owners_id}/revoke");
    assert_eq!(member.get(&owners_revoke).await.status, 404);
    let csrf = member.get(&keys).await.csrf();
    let refused = member.post(&owners_revoke, &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, 404);
    assert_eq!(verdict(&app, &owners_secret).await["valid"], true);

    // Their own they revoke.
    let members_revoke = format!("{keys}/{members_id}/revoke");
    let revoked = member.submit(&members_revoke, &members_revoke, &[]).await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert_eq!(verdict(&app, &members_secret).await["valid"], false);

    // The owner sees every key, the member's with its creator.
    let all = owner.get(&keys).await;
    assert!(all.body.contains("the owner&#x27;s"));
    assert!(all.body.contains("the member&#x27;s"));
    assert!(all.body.contains("member@keys.test"));

    // Another organization's user: 404 for every keys page.
    let stranger = Browser::new(&app);
    stranger.sign_up("stranger@keys.test", "Elsewhere").await;
    assert_eq!(stranger.get(&keys).await.status, 404);
    assert_eq!(stranger.get(&format!("{keys}/new")).await.status, 404);
    assert_eq!(stranger.get(&owners_revoke).await.status, 404);
    assert_eq!(
        member.get(&format!("{keys}/not-an-id/revoke")).await.status,
        404
    );
    // Signed out: the sign-in page.
    let away = Browser::new(&app).get(&keys).await;
    assert_eq!(away.status, 303);
    assert_eq!(away.location.as_deref(), Some("/sign-in"));
}

backend_tests!(
    sign_up_signs_in_and_shows_the_overview,
    session_cookie_is_an_api_session,
    forms_refuse_a_missing_or_foreign_csrf_token,
    another_organizations_pages_answer_404,
    mail_links_land_on_pages_that_work,
    console_cookies_are_secure_behind_https_and_the_console_can_be_off,
    invitation_links_join_in_place,
    keys_page_lists_creates_once_and_revokes,
    key_form_errors_sit_next_to_their_fields,
    members_see_and_revoke_only_their_own_keys,
    a_browser_on_a_wrong_path_gets_a_readable_404,
);
