//! The console's navigation in a real browser, for an operator with both
//! modules on (the longest navigation): at 1280 px the grouped sidebar is
//! one column of one-line links beside the page; the keyboard reaches the
//! skip link, then the navigation; at 375 px the sidebar is a "Menu" that
//! opens and whose links work; the operator console has its own
//! navigation; the switcher creates a second organization and lands on
//! its overview. Screenshots light and dark at both widths.
//!
//! Geometry, not timing: element boxes are measured in the page.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use serde_json::Value;

use crate::support::accounts::{token_of, PASSWORD};
use crate::support::browser::{Browser, Viewport};
use crate::support::{Backend, TestApp};

const TEST: &str =
    "console_navigation_browser::an_operators_navigation_fits_and_works_by_keyboard_and_on_a_phone";

/// The boxes of the sidebar's links and what holds them.
const MEASURE: &str = r#"
const links = [...document.querySelectorAll('nav.groups a')];
const box = (e) => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height, right: r.right, bottom: r.bottom}; };
const lineHeight = parseFloat(getComputedStyle(links[0]).lineHeight);
const nav = document.querySelector('nav.groups');
return {
  links: links.map(a => Object.assign(box(a), {text: a.textContent.trim(), visible: a.checkVisibility(), current: a.getAttribute('aria-current')})),
  lineHeight,
  nav: box(nav),
  navVisible: nav.checkVisibility(),
  header: box(document.querySelector('header.top')),
  main: box(document.querySelector('main')),
  viewport: {w: document.documentElement.clientWidth, h: window.innerHeight},
  scrollWidth: document.documentElement.scrollWidth,
};
"#;

fn f(value: &Value, key: &str) -> f64 {
    value[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

/// Presses Tab once.
async fn tab(browser: &Browser) {
    let tab = '\u{e004}';
    browser
        .client()
        .perform_actions(
            KeyActions::new("keyboard".into())
                .then(KeyAction::Down { value: tab })
                .then(KeyAction::Up { value: tab }),
        )
        .await
        .expect("Tab pressed");
}

/// What has the focus: its tag, class, text and whether it is in the
/// sidebar, with its box.
async fn focused(browser: &Browser) -> Value {
    browser
        .script(
            "const e = document.activeElement; const r = e.getBoundingClientRect(); \
             return {tag: e.tagName, cls: e.className, text: (e.textContent || '').trim(), \
                     inNav: !!e.closest('nav.groups'), x: r.left, y: r.top, w: r.width, h: r.height, \
                     outline: getComputedStyle(e).outlineStyle};",
            vec![],
        )
        .await
}

/// Opens the `details` matching `selector` by clicking its summary.
async fn open(browser: &Browser, selector: &str) {
    browser
        .element(&format!("{selector} > summary"))
        .await
        .click()
        .await
        .expect("the summary clicked");
    let script = format!("return document.querySelector({selector:?}).open;");
    assert_eq!(browser.script(&script, vec![]).await, Value::Bool(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_navigation_fits_and_works_by_keyboard_and_on_a_phone() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    // Both modules are on by default.
    let app = TestApp::spawn(Backend::Sqlite).await;
    let registered = app
        .register("ops@example.com", "Operators of a long name")
        .await;
    token_of(&registered, "access_token");
    sqlx::query("UPDATE users SET platform_admin_at = 1 WHERE email = 'ops@example.com'")
        .execute(app.db.pool())
        .await
        .unwrap();
    browser.goto(&app, "/sign-in").await;
    browser.fill("Email", "ops@example.com").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    eventually_on_a_new_overview(&browser, "").await;
    let overview = browser.current_path().await;

    // 1280 px: one column of one-line links, beside the page, under a
    // one-row header; the overview marked current.
    let m = browser.script(MEASURE, vec![]).await;
    let links = m["links"].as_array().expect("links");
    let texts: Vec<&str> = links.iter().map(|l| l["text"].as_str().unwrap()).collect();
    for expected in [
        "Overview",
        "Team",
        "Settings",
        "Audit log",
        "API keys",
        "Webhooks",
        "Events",
        "API docs",
        "Billing",
        "Inbox",
        "Marketplace",
        "Store",
    ] {
        assert!(texts.contains(&expected), "{expected} in {texts:?}");
    }
    let line = f(&m, "lineHeight");
    let x0 = f(&links[0], "x");
    let mut previous_bottom = f64::MIN;
    for link in links {
        assert_eq!(link["visible"], Value::Bool(true), "{link}");
        assert!((f(link, "x") - x0).abs() < 0.5, "one column: {link}");
        assert!(f(link, "h") < 2.0 * line, "one line: {link} (line {line})");
        assert!(f(link, "y") >= previous_bottom - 0.5, "stacked: {link}");
        previous_bottom = f(link, "bottom");
    }
    assert!(
        f(&m["nav"], "right") <= f(&m["main"], "x") + 0.5,
        "the sidebar beside the page, not over it: {m}"
    );
    assert!(f(&m["header"], "h") <= 64.0, "a one-row header: {m}");
    assert_eq!(f(&m, "scrollWidth"), f(&m["viewport"], "w"), "{m}");
    let current: Vec<&Value> = links
        .iter()
        .filter(|l| l["current"] == Value::String("page".into()))
        .collect();
    assert_eq!(current.len(), 1, "{current:?}");
    assert_eq!(current[0]["text"], "Overview");
    browser.screenshot_themes("overview-sidebar").await;

    // The keyboard: from the top, Tab reaches the skip link (shown), then
    // the navigation, each with a visible focus; the skip link leads to
    // the page's content.
    browser.reload().await;
    browser.wait_for_text("Overview").await;
    tab(&browser).await;
    let skip = focused(&browser).await;
    assert_eq!(skip["cls"], "skip", "{skip}");
    assert!(f(&skip, "x") >= 0.0 && f(&skip, "w") > 0.0, "shown: {skip}");
    assert_ne!(skip["outline"], "none", "a visible focus: {skip}");
    browser.screenshot("skip-link-focused").await;
    tab(&browser).await;
    let first = focused(&browser).await;
    assert_eq!(first["inNav"], Value::Bool(true), "{first}");
    assert_eq!(first["text"], "Overview", "{first}");
    assert_ne!(first["outline"], "none", "a visible focus: {first}");
    // Every link of the sidebar, then the header's controls, by Tab.
    let mut reached = vec![first["text"].as_str().unwrap_or_default().to_string()];
    for _ in 0..30 {
        tab(&browser).await;
        let now = focused(&browser).await;
        if now["inNav"] != Value::Bool(true) {
            break;
        }
        reached.push(now["text"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(reached.len(), links.len(), "{reached:?}");
    let mut controls = Vec::new();
    for _ in 0..3 {
        let now = focused(&browser).await;
        controls.push(format!("{} {}", now["tag"], now["text"]));
        tab(&browser).await;
    }
    let controls = controls.join(" | ");
    assert!(controls.contains("Landlord"), "{controls}");
    assert!(controls.contains("Operators of a long name"), "{controls}");
    assert!(controls.contains("Account menu"), "{controls}");

    // The account menu: account, sessions, the operator console, signing
    // out.
    open(&browser, "details.account").await;
    browser.wait_for_text("Sign out").await;
    browser.wait_for_text("Sessions").await;
    browser.screenshot_themes("account-menu").await;
    browser.click_link("Operator console").await;
    browser.wait_for_path("/operator").await;
    browser.wait_for_text("Figures").await;
    let operator = browser.script(MEASURE, vec![]).await;
    let sections: Vec<&str> = operator["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(sections.contains(&"Organizations"), "{sections:?}");
    assert!(sections.contains(&"Marketplace"), "{sections:?}");
    assert!(
        !sections.contains(&"API keys"),
        "its own navigation: {sections:?}"
    );
    browser.screenshot_themes("operator-sidebar").await;
    browser.click_link("Organizations").await;
    browser.wait_for_path("/operator/organizations").await;
    browser.click_link("← Operators of a long name").await;
    browser.wait_for_path(&overview).await;

    // 375 px: the sidebar is a "Menu" button; opened, every link is shown
    // within the screen's width, and one of them works.
    browser.set_viewport(Viewport::Phone).await;
    browser.reload().await;
    browser.wait_for_text("Menu").await;
    let closed = browser.script(MEASURE, vec![]).await;
    assert_eq!(closed["navVisible"], Value::Bool(false), "{closed}");
    assert!(
        f(&closed["header"], "h") <= 64.0,
        "the header is one row: {closed}"
    );
    assert_eq!(
        f(&closed, "scrollWidth"),
        f(&closed["viewport"], "w"),
        "nothing wider than the phone: {closed}"
    );
    browser.screenshot_themes("phone-menu-closed").await;
    open(&browser, "details.menu-toggle").await;
    let opened = browser.script(MEASURE, vec![]).await;
    let width = f(&opened["viewport"], "w");
    for link in opened["links"].as_array().unwrap() {
        assert_eq!(link["visible"], Value::Bool(true), "{link}");
        assert!(f(link, "x") >= 0.0 && f(link, "right") <= width, "{link}");
    }
    browser.screenshot_themes("phone-menu-open").await;
    browser.click_link("Webhooks").await;
    browser.wait_for_path(&format!("{overview}/webhooks")).await;
    // The account menu on a phone: within the screen.
    open(&browser, "details.account").await;
    let panel = browser
        .script(
            "const r = document.querySelector('details.account .panel').getBoundingClientRect(); \
             return {x: r.left, right: r.right};",
            vec![],
        )
        .await;
    assert!(
        f(&panel, "x") >= 0.0 && f(&panel, "right") <= width,
        "{panel}"
    );
    browser.screenshot_themes("phone-account-menu").await;

    // The switcher creates a second organization: a refusal at the field,
    // then its overview.
    browser.set_viewport(Viewport::Desktop).await;
    browser.reload().await;
    open(&browser, "details.switcher").await;
    browser.screenshot_themes("switcher").await;
    browser.click_link("+ New organization").await;
    browser.wait_for_path("/organizations/new").await;
    browser.click_button("Create the organization").await;
    browser.wait_for_text("Is required.").await;
    browser.screenshot_themes("new-organization-refused").await;
    browser.fill("Organization name", "Second shop").await;
    browser.click_button("Create the organization").await;
    eventually_on_a_new_overview(&browser, &overview).await;
    browser.wait_for_text("Second shop").await;
    let switcher = browser.text_of("details.switcher > summary").await;
    assert!(switcher.contains("Second shop"), "{switcher}");
    browser.screenshot_themes("second-organization").await;

    // Its billing page: the plans compared, its own marked and chosen;
    // a signed-in 404 keeps the navigation; both at 375 px too.
    let second = browser.current_path().await;
    browser.click_link("Billing").await;
    browser.wait_for_text("Compare the plans").await;
    let chosen = browser
        .script(
            "return document.querySelector('select#plan').value;",
            vec![],
        )
        .await;
    assert_eq!(chosen, "free", "the current plan is the list's choice");
    browser.screenshot_themes("billing-plans").await;
    browser
        .goto(&app, &format!("{second}/billing/change?plan=pro"))
        .await;
    browser.wait_for_text("Upgrade now").await;
    let gap = browser
        .script(
            "const b = document.querySelector('.row-actions button').getBoundingClientRect();              const a = document.querySelector('.row-actions a').getBoundingClientRect();              return Math.max(a.left - b.right, a.top - b.bottom);",
            vec![],
        )
        .await;
    assert!(
        gap.as_f64().unwrap_or_default() >= 8.0,
        "the buttons apart: {gap}"
    );
    browser.screenshot_themes("billing-change").await;
    browser.goto(&app, &format!("{second}/no-such-page")).await;
    browser.wait_for_text("Page not found").await;
    browser.wait_for_text("API keys").await;
    browser.screenshot_themes("not-found-signed-in").await;
    browser.set_viewport(Viewport::Phone).await;
    browser.goto(&app, &format!("{second}/billing")).await;
    browser.wait_for_text("Compare the plans").await;
    browser
        .script(
            "document.querySelector('table.plans').scrollIntoView();",
            vec![],
        )
        .await;
    browser.screenshot_themes("billing-plans-phone").await;
    browser.goto(&app, &format!("{second}/webhooks")).await;
    browser.wait_for_text("Event types").await;
    browser
        .script(
            "document.querySelector('.type-grid').scrollIntoView();",
            vec![],
        )
        .await;
    browser.screenshot_themes("webhook-types-phone").await;
    browser.close().await;
}

/// Waits until the browser shows an organization's overview other than
/// `first`.
async fn eventually_on_a_new_overview(browser: &Browser, first: &str) {
    crate::support::eventually::eventually(
        "the new organization's overview",
        crate::support::browser::PAGE_TIMEOUT,
        async || {
            let path = browser.current_path().await;
            (path.starts_with("/o/") && path != first && path.matches('/').count() == 2)
                .then_some(())
        },
    )
    .await;
}
