//! A real browser per test: headless Chromium driven through WebDriver.
//!
//! [`Browser::start`] starts a `chromedriver` of its own on a free port (in
//! its own process group, killed with Chromium when the `Browser` is
//! dropped), opens a session with a fresh temporary profile, and offers the
//! few steps a journey needs: go to a page, fill a field, click a button,
//! wait for text, read the URL or an element's text, and screenshots in the
//! light and the dark colour scheme.
//!
//! Chromium is `$TEST_CHROMIUM` or the first of `chromium`,
//! `chromium-browser`, `google-chrome` on the `PATH`; chromedriver is
//! `$TEST_CHROMEDRIVER` or `chromedriver` on the `PATH`. When either is
//! missing the test is reported skipped by name (and fails instead under
//! CI), like PostgreSQL and Redis.
//!
//! Screenshots go to `$TEST_SCREENSHOTS_DIR/<test>/` when that is set, to
//! `<cargo target dir>/screenshots/<test>/` otherwise, named
//! `<NN>-<name>-<light|dark>.png` in the order they were taken.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::app::{report_skip, services_required};
use super::eventually::eventually;
use super::TestApp;

/// How long a page may take to show what a step waits for. Generous: the
/// whole suite shares two cores with Chromium.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long chromedriver and a new session may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The window the page is laid out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    /// 1280 × 900.
    Desktop,
    /// 375 × 812, a phone held upright.
    Phone,
}

impl Viewport {
    pub fn size(self) -> (u32, u32) {
        match self {
            Viewport::Desktop => (1280, 900),
            Viewport::Phone => (375, 812),
        }
    }
}

/// What `prefers-color-scheme` answers to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorScheme {
    Light,
    Dark,
}

impl ColorScheme {
    pub fn name(self) -> &'static str {
        match self {
            ColorScheme::Light => "light",
            ColorScheme::Dark => "dark",
        }
    }
}

/// A headless Chromium session, its chromedriver and its profile.
pub struct Browser {
    client: Client,
    test: String,
    scheme: Mutex<ColorScheme>,
    // Dropped in this order: the driver (and Chromium) are killed before
    // the profile directory is removed.
    _driver: Driver,
    _profile: TempDir,
}

impl Browser {
    /// A desktop-sized session in the light scheme, or `None` (reported
    /// skipped) when Chromium or chromedriver is not installed; under CI
    /// their absence fails the test. Each call is an independent browser
    /// (its own profile, cookies and storage): call it twice for a second
    /// person.
    pub async fn start(test: &str) -> Option<Browser> {
        Self::start_with(test, Viewport::Desktop, ColorScheme::Light).await
    }

    /// A session with the given window size and colour scheme.
    pub async fn start_with(
        test: &str,
        viewport: Viewport,
        scheme: ColorScheme,
    ) -> Option<Browser> {
        Self::start_with_args(test, viewport, scheme, &[]).await
    }

    /// A session whose Chromium also gets `extra_args` (e.g.
    /// `--host-resolver-rules=MAP *.apps.localhost 127.0.0.1`).
    pub async fn start_with_args(
        test: &str,
        viewport: Viewport,
        scheme: ColorScheme,
        extra_args: &[&str],
    ) -> Option<Browser> {
        let (chromium, chromedriver) = match (find_chromium(), find_chromedriver()) {
            (Some(chromium), Some(chromedriver)) => (chromium, chromedriver),
            _ => {
                let why = "chromium/chromedriver not installed";
                if services_required() {
                    panic!("{test}: a browser is required under CI: {why}");
                }
                report_skip(test, why);
                return None;
            }
        };
        let driver = Driver::start(&chromedriver).await;
        let profile = tempfile::Builder::new()
            .prefix("landlord-chromium-")
            .tempdir()
            .expect("a temporary browser profile");
        let (width, height) = viewport.size();
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra_args.iter().map(|arg| arg.to_string()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        let client = connect(&driver.url(), capabilities).await;
        let browser = Browser {
            client,
            test: test.to_string(),
            scheme: Mutex::new(scheme),
            _driver: driver,
            _profile: profile,
        };
        browser.set_viewport(viewport).await;
        browser.set_color_scheme(scheme).await;
        Some(browser)
    }

    /// The WebDriver client, for what the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `path` (e.g. `/sign-in`) on `app`.
    pub async fn goto(&self, app: &TestApp, path: &str) {
        self.goto_url(&app.url(path)).await;
    }

    /// Opens an absolute URL (e.g. the link of a mail).
    pub async fn goto_url(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot open {url}: {e}", self.test));
    }

    /// The address the browser shows.
    pub async fn current_url(&self) -> url::Url {
        self.client
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot read the URL: {e}", self.test))
    }

    /// The path of the address the browser shows (`/overview`).
    pub async fn current_path(&self) -> String {
        self.current_url().await.path().to_string()
    }

    /// Waits until the address's path is `path` (after a redirect).
    pub async fn wait_for_path(&self, path: &str) {
        eventually(
            format_args!("{}: the browser to be at {path}", self.test),
            PAGE_TIMEOUT,
            async || (self.current_path().await == path).then_some(()),
        )
        .await;
    }

    /// The page's visible text (`innerText` of the body).
    pub async fn page_text(&self) -> String {
        let value = self
            .script(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await;
        value.as_str().unwrap_or_default().to_string()
    }

    /// Waits until the page shows `text`, and fails saying what it shows
    /// instead when it does not.
    pub async fn wait_for_text(&self, text: &str) {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let shown = self.page_text().await;
            if shown.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: gave up after {PAGE_TIMEOUT:?} waiting for the page to show {text:?}; \
                 it shows:\n{shown}",
                self.test
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails when the page shows `text` now (after a wait for something
    /// else: "the secret is not shown again").
    pub async fn assert_no_text(&self, text: &str) {
        let shown = self.page_text().await;
        assert!(
            !shown.contains(text),
            "{}: the page shows {text:?} and should not:\n{shown}",
            self.test
        );
    }

    /// Loads the current page again.
    pub async fn reload(&self) {
        self.client
            .refresh()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot reload: {e}", self.test));
    }

    /// Reloads the page until it shows `text`: a figure or a status that
    /// background work (a job, a webhook, the usage writer) writes, not the
    /// page itself.
    pub async fn reload_until(&self, text: &str) {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            if self.page_text().await.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: gave up after {PAGE_TIMEOUT:?} reloading for {text:?}; the page shows:\n{}",
                self.test,
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.reload().await;
        }
    }

    /// Opens `path` on `app`, waits until it shows `shows`, and saves its
    /// light and dark screenshots as `name`: one step of a journey.
    pub async fn visit(&self, app: &TestApp, path: &str, shows: &str, name: &str) -> [PathBuf; 2] {
        self.goto(app, path).await;
        self.wait_for_text(shows).await;
        self.screenshot_themes(name).await
    }

    /// The first element matching the CSS `selector`, once it exists.
    pub async fn element(&self, selector: &str) -> Element {
        self.wait_for_element(
            format_args!("an element matching {selector:?}"),
            &[Locator::Css(selector)],
        )
        .await
    }

    /// The visible text of the first element matching `selector`.
    pub async fn text_of(&self, selector: &str) -> String {
        let element = self.element(selector).await;
        element
            .text()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot read {selector:?}: {e}", self.test))
    }

    /// Types `value` into the field labelled `label` (the text of its
    /// `<label>`, or its `aria-label`), or else named `label` (its `name` or
    /// `id`), replacing what it held.
    pub async fn fill(&self, label: &str, value: &str) {
        let field = self.field(label).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot clear {label:?}: {e}", self.test));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot type into {label:?}: {e}", self.test));
    }

    /// Picks the option shown as `option` in the `<select>` labelled or
    /// named `label`.
    pub async fn choose(&self, label: &str, option: &str) {
        let field = self.field(label).await;
        field.select_by_label(option).await.unwrap_or_else(|e| {
            panic!("{}: cannot choose {option:?} in {label:?}: {e}", self.test)
        });
    }

    /// Ticks (or unticks) the checkbox labelled or named `label`.
    pub async fn check(&self, label: &str, checked: bool) {
        let field = self.field(label).await;
        let is = field
            .is_selected()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot read {label:?}: {e}", self.test));
        if is != checked {
            field
                .click()
                .await
                .unwrap_or_else(|e| panic!("{}: cannot tick {label:?}: {e}", self.test));
        }
    }

    /// The form field for `label` (see [`Browser::fill`]).
    pub async fn field(&self, label: &str) -> Element {
        let l = xpath_literal(label);
        let fields = "self::input or self::textarea or self::select";
        let by_label = format!(
            "//*[({fields}) and @id=//label[normalize-space(.)={l}]/@for] \
             | //label[normalize-space(.)={l}]//*[{fields}]"
        );
        let by_aria = format!("//*[({fields}) and @aria-label={l}]");
        let by_name = format!("//*[({fields}) and (@name={l} or @id={l})]");
        // A label with a hint inside (`Password <small>12 characters</small>`).
        let by_label_start = format!(
            "//*[({fields}) and @id=//label[starts-with(normalize-space(.),{l})]/@for] \
             | //label[starts-with(normalize-space(.),{l})]//*[{fields}]"
        );
        self.wait_for_element(
            format_args!("a field labelled or named {label:?}"),
            &[
                Locator::XPath(&by_label),
                Locator::XPath(&by_aria),
                Locator::XPath(&by_name),
                Locator::XPath(&by_label_start),
            ],
        )
        .await
    }

    /// Clicks the button (or submit input, or link styled as a button)
    /// whose text is `text`.
    pub async fn click_button(&self, text: &str) {
        let t = xpath_literal(text);
        let button = format!(
            "//button[normalize-space(.)={t}] \
             | //input[(@type='submit' or @type='button') and @value={t}] \
             | //*[@role='button' and normalize-space(.)={t}]"
        );
        let element = self
            .wait_for_element(
                format_args!("a button {text:?}"),
                &[Locator::XPath(&button)],
            )
            .await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot click {text:?}: {e}", self.test));
    }

    /// Clicks the link whose text is `text`.
    pub async fn click_link(&self, text: &str) {
        let t = xpath_literal(text);
        let link = format!("//a[normalize-space(.)={t}]");
        let element = self
            .wait_for_element(format_args!("a link {text:?}"), &[Locator::XPath(&link)])
            .await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot click {text:?}: {e}", self.test));
    }

    /// Opens the header's account menu (account, sessions, the operator
    /// console, signing out).
    pub async fn open_account_menu(&self) {
        self.element("details.account > summary").await;
        self.script(
            "document.querySelector('details.account').open = true;",
            vec![],
        )
        .await;
    }

    /// Signs out from the account menu.
    pub async fn sign_out(&self) {
        self.open_account_menu().await;
        self.click_button("Sign out").await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}\n{script}", self.test))
    }

    /// Resizes the window.
    pub async fn set_viewport(&self, viewport: Viewport) {
        let (width, height) = viewport.size();
        // Headless Chromium lays the page out in the whole window, so the
        // device metrics pin the viewport itself (and mark a phone mobile).
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": width,
                "height": height,
                "deviceScaleFactor": 1,
                "mobile": viewport == Viewport::Phone,
            }),
        )
        .await;
    }

    /// Makes `prefers-color-scheme` answer `scheme`, for this page and the
    /// next ones in this tab (Chrome DevTools Protocol media emulation; a
    /// new tab or window needs it again).
    pub async fn set_color_scheme(&self, scheme: ColorScheme) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme.name() }] }),
        )
        .await;
        *self.scheme.lock().unwrap_or_else(|e| e.into_inner()) = scheme;
    }

    /// The scheme the page sees, as the page sees it.
    pub async fn prefers_dark(&self) -> bool {
        let value = self
            .script(
                "return window.matchMedia('(prefers-color-scheme: dark)').matches;",
                vec![],
            )
            .await;
        value.as_bool().unwrap_or(false)
    }

    /// Saves a PNG of the visible page as `<NN>-<name>-<scheme>.png` and
    /// returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let scheme = *self.scheme.lock().unwrap_or_else(|e| e.into_inner());
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("{}: screenshot {name}: {e}", self.test));
        let number = next_shot(&self.test);
        let dir = screenshot_dir(&self.test);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{number:02}-{name}-{}.png", scheme.name()));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Shoots the current page in the light scheme, then the dark one, and
    /// returns to the scheme the browser was in.
    pub async fn screenshot_themes(&self, name: &str) -> [PathBuf; 2] {
        let before = *self.scheme.lock().unwrap_or_else(|e| e.into_inner());
        self.set_color_scheme(ColorScheme::Light).await;
        self.wait_for_scheme(false).await;
        let light = self.screenshot(name).await;
        self.set_color_scheme(ColorScheme::Dark).await;
        self.wait_for_scheme(true).await;
        let dark = self.screenshot(name).await;
        if before != ColorScheme::Dark {
            self.set_color_scheme(before).await;
        }
        [light, dark]
    }

    async fn wait_for_scheme(&self, dark: bool) {
        eventually(
            format_args!("{}: prefers-color-scheme dark = {dark}", self.test),
            PAGE_TIMEOUT,
            async || (self.prefers_dark().await == dark).then_some(()),
        )
        .await;
        // Let the page paint in the new scheme before the shot.
        self.script_async_frame().await;
    }

    /// Waits two animation frames, so a style change has been painted.
    async fn script_async_frame(&self) {
        let _ = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await;
    }

    /// Ends the session and stops chromedriver and Chromium.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// Sends a Chrome DevTools Protocol command through chromedriver.
    async fn cdp(&self, command: &str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp {
                command: command.to_string(),
                params,
            })
            .await
            .unwrap_or_else(|e| panic!("{}: {command}: {e}", self.test))
    }

    /// The first element any of `locators` finds, trying them in order,
    /// polled until [`PAGE_TIMEOUT`].
    async fn wait_for_element(&self, what: impl Display, locators: &[Locator<'_>]) -> Element {
        eventually(
            format_args!("{}: {what} on {}", self.test, self.current_url().await),
            PAGE_TIMEOUT,
            async || {
                for locator in locators {
                    if let Ok(element) = self.client.find(*locator).await {
                        return Some(element);
                    }
                }
                None
            },
        )
        .await
    }
}

/// `POST /session/{id}/goog/cdp/execute`: chromedriver's passthrough to the
/// DevTools Protocol.
#[derive(Debug)]
struct Cdp {
    command: String,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.command, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// A chromedriver in its own process group: dropping it kills the group,
/// chromedriver and the Chromium it started.
struct Driver {
    port: u16,
    child: std::process::Child,
}

impl Driver {
    async fn start(binary: &Path) -> Driver {
        use std::os::unix::process::CommandExt;
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("its port").port()
        };
        let child = std::process::Command::new(binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let driver = Driver { port, child };
        let deadline = Instant::now() + START_TIMEOUT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen within {START_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (`process_group(0)`).
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens a session, retrying while chromedriver is still warming up.
async fn connect(driver: &str, capabilities: serde_json::Map<String, Value>) -> Client {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let attempt = ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(driver)
            .await;
        match attempt {
            Ok(client) => return client,
            Err(e) if Instant::now() >= deadline => {
                panic!("no browser session within {START_TIMEOUT:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// An XPath string literal for `text` (XPath 1.0 has no escapes: quotes
/// are joined with `concat`).
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

fn find_in_path(names: &[&str], extra: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    dirs.extend(extra.iter().map(PathBuf::from));
    dirs.iter()
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// The file `variable` names when it is set (absent when that file is
/// not there), or `None` when it is unset.
fn from_env(variable: &str) -> Option<Option<PathBuf>> {
    let value = std::env::var_os(variable).filter(|v| !v.is_empty())?;
    let path = PathBuf::from(value);
    Some(path.is_file().then_some(path))
}

/// `$TEST_CHROMIUM`, else Debian's `chromium` (a wrapper script in
/// /usr/bin) or another build on the `PATH`.
fn find_chromium() -> Option<PathBuf> {
    if let Some(chosen) = from_env("TEST_CHROMIUM") {
        return chosen;
    }
    find_in_path(
        &[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ],
        &["/usr/bin"],
    )
}

/// `$TEST_CHROMEDRIVER`, else `chromedriver` on the `PATH`.
fn find_chromedriver() -> Option<PathBuf> {
    if let Some(chosen) = from_env("TEST_CHROMEDRIVER") {
        return chosen;
    }
    find_in_path(&["chromedriver"], &["/usr/bin", "/usr/lib/chromium"])
}

/// Where `test`'s screenshots go (see the module's documentation).
pub fn screenshot_dir(test: &str) -> PathBuf {
    let root = match std::env::var_os("TEST_SCREENSHOTS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => target_dir().join("screenshots"),
    };
    root.join(test.replace("::", "."))
}

/// The cargo target directory this test binary was built in
/// (`<target>/debug/deps/api-…`), or `target` when that cannot be told.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// The next screenshot number for `test`, shared by all its browsers.
fn next_shot(test: &str) -> usize {
    static COUNTERS: OnceLock<Mutex<HashMap<String, usize>>> = OnceLock::new();
    let mut counters = COUNTERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let counter = counters.entry(test.to_string()).or_insert_with(|| {
        // The first shot of this run: last run's shots go.
        let _ = std::fs::remove_dir_all(screenshot_dir(test));
        0
    });
    *counter += 1;
    *counter
}

/// Width and height of a PNG, read from its header, or `None` when `bytes`
/// is not a PNG.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || !bytes.starts_with(SIGNATURE) || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((width, height))
}
