//! The browser harness itself, proved on pages the server serves today: the
//! interactive API documentation and `/health`. The console's journeys use
//! the same `Browser`.

use std::path::Path;

use crate::support::browser::{png_size, Browser, ColorScheme, Viewport};
use crate::support::{Backend, TestApp};

/// A screenshot exists, is a PNG of `width` pixels across, and is more than
/// a blank page.
fn assert_screenshot(path: &Path, width: u32) {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("screenshot {} not saved: {e}", path.display()));
    let (w, h) = png_size(&bytes).unwrap_or_else(|| panic!("{} is not a PNG", path.display()));
    assert_eq!(w, width, "{} width", path.display());
    assert!(h >= 400, "{} is {w}×{h}", path.display());
    // A blank page of this size compresses to well under a kilobyte.
    assert!(
        bytes.len() > 5_000,
        "{} is only {} bytes: a blank page?",
        path.display(),
        bytes.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_docs_and_health_render_in_light_and_dark() {
    let test = "browser::the_api_docs_and_health_render_in_light_and_dark";
    let Some(browser) = Browser::start(test).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;

    browser.goto(&app, "/docs/").await;
    // Swagger UI renders the document client-side: the title, a tag and an
    // operation appear once it has fetched /openapi.json.
    browser.wait_for_text("Landlord").await;
    browser.wait_for_text("operations").await;
    browser.wait_for_text("/health").await;
    assert!(browser.current_path().await.starts_with("/docs"));
    let [light, dark] = browser.screenshot_themes("docs").await;
    assert!(light.ends_with("01-docs-light.png"), "{}", light.display());
    assert!(dark.ends_with("02-docs-dark.png"), "{}", dark.display());
    assert_screenshot(&light, 1280);
    assert_screenshot(&dark, 1280);

    browser.goto(&app, "/health").await;
    browser.wait_for_text("\"status\"").await;
    browser.wait_for_text("ok").await;
    assert_eq!(browser.current_path().await, "/health");
    let [light, dark] = browser.screenshot_themes("health").await;
    assert!(
        light.ends_with("03-health-light.png"),
        "{}",
        light.display()
    );
    assert!(dark.ends_with("04-health-dark.png"), "{}", dark.display());
    for shot in [&light, &dark] {
        let bytes = std::fs::read(shot).expect("health screenshot saved");
        assert_eq!(png_size(&bytes).map(|(w, _)| w), Some(1280));
    }

    // Back to the documentation, as a person pressing Back would.
    browser.client().back().await.expect("back");
    browser.wait_for_path("/docs/").await;
    browser.wait_for_text("Landlord").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_colour_scheme_is_what_the_test_chooses() {
    let test = "browser::the_colour_scheme_is_what_the_test_chooses";
    let Some(browser) = Browser::start_with(test, Viewport::Desktop, ColorScheme::Dark).await
    else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;

    browser.goto(&app, "/health").await;
    assert!(browser.prefers_dark().await, "started dark");
    browser.set_color_scheme(ColorScheme::Light).await;
    assert!(!browser.prefers_dark().await, "switched to light");
    // The choice holds across navigations.
    browser.goto(&app, "/docs/").await;
    browser.wait_for_text("Landlord").await;
    assert!(
        !browser.prefers_dark().await,
        "still light on the next page"
    );
    browser.set_color_scheme(ColorScheme::Dark).await;
    browser.goto(&app, "/health").await;
    assert!(browser.prefers_dark().await, "dark on the next page");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_sees_a_375_pixel_wide_page() {
    let test = "browser::a_phone_sees_a_375_pixel_wide_page";
    let Some(browser) = Browser::start_with(test, Viewport::Phone, ColorScheme::Light).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;

    // A page that declares a device-width viewport (as the console's do) is
    // laid out 375 px wide; the phone is emulated as a mobile device, so a
    // page without that declaration would get a zoomed-out 980 px layout,
    // as on a real phone.
    let page = r#"<!doctype html><meta name="viewport" content="width=device-width, initial-scale=1"><p>Narrow"#;
    browser
        .goto_url(&format!("data:text/html,{}", percent_encode(page)))
        .await;
    browser.wait_for_text("Narrow").await;
    let width = browser.script("return window.innerWidth;", vec![]).await;
    assert_eq!(width.as_u64(), Some(375), "the layout viewport");

    let [light, dark] = browser
        .visit(&app, "/docs/", "Landlord", "docs-phone")
        .await;
    assert_screenshot(&light, 375);
    assert_screenshot(&dark, 375);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_share_nothing() {
    let test = "browser::two_browsers_share_nothing";
    let Some(first) = Browser::start(test).await else {
        return;
    };
    let Some(second) = Browser::start(test).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;

    first.goto(&app, "/health").await;
    second.goto(&app, "/health").await;
    first
        .script(
            "localStorage.setItem('who', 'first'); document.cookie = 'who=first; path=/';",
            vec![],
        )
        .await;
    let seen = second
        .script(
            "return [localStorage.getItem('who'), document.cookie];",
            vec![],
        )
        .await;
    assert_eq!(seen, serde_json::json!([null, ""]), "the second browser");
    let kept = first
        .script(
            "return [localStorage.getItem('who'), document.cookie];",
            vec![],
        )
        .await;
    assert_eq!(kept, serde_json::json!(["first", "who=first"]));

    // Both number their screenshots in one sequence for the test.
    let a = first.screenshot("first").await;
    let b = second.screenshot("second").await;
    assert!(a.ends_with("01-first-light.png"), "{}", a.display());
    assert!(b.ends_with("02-second-light.png"), "{}", b.display());
    first.close().await;
    second.close().await;
}

/// The form helpers on a page of their own (a `data:` URL): fill by label,
/// by a label with a hint, by `aria-label` and by name; click by text; read
/// what the page answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_are_filled_by_label_and_buttons_clicked_by_text() {
    let test = "browser::forms_are_filled_by_label_and_buttons_clicked_by_text";
    let Some(browser) = Browser::start(test).await else {
        return;
    };
    let page = r##"<!doctype html><meta charset="utf-8"><title>Form</title>
<form id="f">
  <label for="org">Organization name</label><input id="org" name="organization">
  <label>Email <input type="email" name="email"></label>
  <label for="pw">Password <small>12 characters or more</small></label>
  <input id="pw" type="password" name="password" value="typed before">
  <input aria-label="Search" name="q">
  <textarea name="note"></textarea>
  <label for="plan">Plan</label>
  <select id="plan" name="plan"><option value="free">Free</option><option value="pro">Pro — 29 USD</option></select>
  <label><input type="checkbox" name="terms" value="yes"> I accept the terms</label>
  <button type="button" id="go">Create organization</button>
</form>
<a href="#next" id="next">Next step</a>
<p id="out"></p>
<script>
document.getElementById('go').addEventListener('click', () => {
  const f = new FormData(document.getElementById('f'));
  setTimeout(() => {
    document.getElementById('out').textContent =
      [...f.entries()].map(([k, v]) => k + '=' + v).join(';');
  }, 300);
});
document.getElementById('next').addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('out').textContent = 'Link followed';
});
</script>"##;
    browser
        .goto_url(&format!("data:text/html,{}", percent_encode(page)))
        .await;
    browser.fill("Organization name", "Acme's \"Best\"").await;
    browser.fill("Email", "owner@acme.test").await;
    browser.fill("Password", "correct horse battery").await;
    browser.fill("Search", "keys").await;
    browser.fill("note", "hello").await;
    browser.choose("Plan", "Pro — 29 USD").await;
    browser.check("I accept the terms", true).await;
    browser.click_button("Create organization").await;
    // Written after a delay: the wait polls, it does not sleep.
    browser.wait_for_text("organization=Acme's \"Best\"").await;
    assert_eq!(
        browser.text_of("#out").await,
        "organization=Acme's \"Best\";email=owner@acme.test;\
         password=correct horse battery;q=keys;note=hello;plan=pro;terms=yes"
    );
    browser.click_link("Next step").await;
    browser.wait_for_text("Link followed").await;
    // What the page wrote is gone once it is loaded again.
    browser.reload().await;
    browser.wait_for_text("Next step").await;
    browser.assert_no_text("Link followed").await;
    browser.close().await;
}

/// Enough percent-encoding for a `data:` URL.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
