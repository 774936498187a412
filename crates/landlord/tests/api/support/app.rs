//! One running server per test.

use std::io::Write;
use std::net::SocketAddr;

use landlord::settings::Settings;
use landlord::Application;
use landlord_core::config::DatabaseKind;
use landlord_core::{Config, Db};
use serde_json::Value;
use tempfile::TempDir;

use super::postgres;

pub use super::errors::assert_error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A server running in this process, its data directory and an HTTP client.
pub struct TestApp {
    pub address: SocketAddr,
    /// The `metrics_listen` address, when configured.
    pub metrics_address: Option<SocketAddr>,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub config: Settings,
    pub db: Db,
    // Removed when the test ends.
    _data_dir: TempDir,
}

/// True where skipping is not allowed: under CI every backend must run.
pub fn services_required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Says, past the test harness's output capture, that a test was skipped.
pub fn report_skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// Whether the PostgreSQL variant of `test` can run; reports it skipped
/// when not (and fails under CI, where every backend must run).
pub fn postgres_ready(test: &str) -> bool {
    match postgres::cluster() {
        Ok(_) => true,
        Err(why) if services_required() => {
            panic!("{test}: PostgreSQL is required under CI but unavailable: {why}")
        }
        Err(why) => {
            report_skip(test, &why);
            false
        }
    }
}

/// The configuration tests start from: random port, throwaway data dir,
/// quiet logs, test routes on.
pub fn test_config(data_dir: &TempDir) -> Settings {
    let core = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.path().to_path_buf(),
        log_level: "warn".into(),
        enable_test_routes: true,
        jobs_poll_interval_ms: 50,
        jobs_backoff_base_ms: 100,
        usage_flush_interval_ms: 50,
        // Billing tests close periods themselves.
        billing_schedule: false,
        // Tests sign many people in from one address; one test checks the limit.
        sensitive_rate_limit_per_minute: 10_000,
        mail_from: "Landlord Tests <no-reply@landlord.test>".into(),
        app_url: Some("https://app.landlord.test".into()),
        ..Config::default()
    };
    Settings {
        core,
        // Receivers in tests listen on http://127.0.0.1.
        webhooks: landlord_webhooks::config::WebhooksConfig {
            allow_http: true,
            allow_private_addresses: true,
            dispatch_interval_ms: 50,
            ..Default::default()
        },
        // Connecting a number asks Meta about it: a stand-in answers.
        inbox: landlord_inbox::config::InboxConfig {
            whatsapp_api_base: super::whatsapp::shared_base_url(),
            ..Default::default()
        },
        ..Settings::default()
    }
}

impl TestApp {
    /// Starts a server on `backend` with the default test configuration.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server after letting `adjust` change the configuration.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let mut config = test_config(&data_dir);
        if backend == Backend::Postgres {
            config.database_url = Some(fresh_postgres_database().await.into());
        }
        adjust(&mut config);
        let app = Application::build(config.clone().into_config())
            .await
            .expect("the application starts");
        let address = app.address();
        let metrics_address = app.metrics_address();
        let db = app.state().db.clone();
        tokio::spawn(app.run_until(std::future::pending()));
        TestApp {
            address,
            metrics_address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
            backend,
            config,
            db,
            _data_dir: data_dir,
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    /// The database this instance runs on, for a second instance to share
    /// (`c.database_url = Some(first.database_url())`).
    pub fn database_url(&self) -> landlord_core::Secret<String> {
        match self.backend {
            Backend::Sqlite => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir().join("landlord.db").display()
            )
            .into(),
            Backend::Postgres => self
                .config
                .database_url
                .clone()
                .expect("a PostgreSQL instance has its database URL"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }
}

/// Points a configuration's mail at the test SMTP server on `port`.
pub fn smtp_to(config: &mut Settings, port: u16) {
    config.smtp_host = Some("127.0.0.1".into());
    config.smtp_port = port;
    config.smtp_tls = landlord_core::config::SmtpTls::None;
}

/// Creates an empty database in the shared cluster and returns its URL.
pub async fn fresh_postgres_database() -> String {
    let cluster = postgres::cluster().expect("cluster checked by the caller");
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = Db::connect_url(&cluster.url("postgres"), DatabaseKind::Postgres, 1)
        .await
        .expect("connect to the cluster");
    admin
        .execute_raw(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    admin.close().await;
    cluster.url(&name)
}

/// Reads a response as JSON, failing the test with the body when it is not.
pub async fn json(response: reqwest::Response) -> Value {
    let text = response.text().await.expect("response body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

impl TestApp {
    /// The single number `sql` (a `SELECT COUNT(*)…`) answers with `binds`.
    pub async fn count(&self, sql: &str, binds: &[&str]) -> i64 {
        let mut query = sqlx::query_as::<_, (i64,)>(sql);
        for bind in binds {
            query = query.bind(*bind);
        }
        let (n,) = query.fetch_one(self.db.pool()).await.expect("a count");
        n
    }
}
