//! Read replicas: a real streaming replica, started here (a primary
//! cluster of its own, `pg_basebackup -R`, a standby on another port).
//! Lists that tolerate lag read from it; writes, and what a request reads
//! back of its own writes, stay on the primary; a stopped replica is
//! skipped and the list answers from the primary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use landlord_core::config::DatabaseKind;
use landlord_core::Db;
use serde_json::{json, Value};

use crate::support::accounts::signed_in;
use crate::support::app::{json, postgres_ready};
use crate::support::apps::operator;
use crate::support::eventually::eventually;
use crate::support::postgres::{bin_dir, command_as_owner, free_port, is_root, wait_until_ready};
use crate::support::{Backend, TestApp};

const USER: &str = "landlord";
const DATABASE: &str = "landlord_replicated";

/// One server of the pair: its directory (data and log) and port.
struct Server {
    dir: PathBuf,
    port: u16,
}

impl Server {
    fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{DATABASE}", self.port)
    }
}

fn run(root: bool, program: &Path, args: &[&str]) {
    let output = command_as_owner(root, program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} failed: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts `postgres` on `dir/data` in a shell that stops it and removes
/// the data when this test process is gone (the shell outlives the wait).
/// A server the test stops itself keeps its data until then: `pg_ctl stop`
/// polls the directory until the server is gone, and fails if the data
/// vanished under it.
#[allow(clippy::zombie_processes)]
fn start_server(root: bool, bin: &Path, dir: &Path, extra: &str) -> Server {
    let port = free_port().expect("a free port");
    let script = format!(
        "'{postgres}' -D '{dir}/data' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 \
         -c fsync=off -c full_page_writes=off {extra} \
         > '{dir}/server.log' 2>&1 & pg=$!; \
         while [ -d /proc/{pid} ] && kill -0 $pg 2>/dev/null; do sleep 0.5; done; \
         kill -INT $pg 2>/dev/null; wait $pg; \
         while [ -d /proc/{pid} ]; do sleep 0.5; done; rm -rf '{dir}/data'",
        postgres = bin.join("postgres").display(),
        dir = dir.display(),
        pid = std::process::id(),
    );
    let mut shell = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", &script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    };
    shell
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postgres");
    wait_until_ready(port, dir).expect("postgres starts");
    Server {
        dir: dir.to_path_buf(),
        port,
    }
}

/// A primary configured for streaming replication, with the test's
/// database, and a hot standby copied from it with `pg_basebackup -R`.
async fn primary_and_standby() -> (Server, Server) {
    let bin = bin_dir().expect("PostgreSQL's binaries");
    let root = is_root();
    let base = tempfile::Builder::new()
        .prefix("landlord-replica-")
        .tempdir()
        .expect("a temporary directory")
        .keep();
    let (primary_dir, standby_dir) = (base.join("primary"), base.join("standby"));
    std::fs::create_dir_all(&primary_dir).expect("primary directory");
    std::fs::create_dir_all(&standby_dir).expect("standby directory");
    if root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&base)
            .status()
            .expect("chown");
        assert!(status.success(), "chown the cluster directories");
    }
    let data = primary_dir.join("data");
    // initdb's pg_hba.conf lets loopback connections replicate (trust).
    run(
        root,
        &bin.join("initdb"),
        &[
            "-D",
            &data.display().to_string(),
            "-U",
            USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ],
    );
    let primary = start_server(
        root,
        &bin,
        &primary_dir,
        "-c wal_level=replica -c max_wal_senders=4",
    );
    let admin = Db::connect_url(
        &format!("postgres://{USER}@127.0.0.1:{}/postgres", primary.port),
        DatabaseKind::Postgres,
        1,
    )
    .await
    .expect("connect to the primary");
    admin
        .execute_raw(&format!("CREATE DATABASE {DATABASE}"))
        .await
        .expect("create the database");
    admin.close().await;
    run(
        root,
        &bin.join("pg_basebackup"),
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &primary.port.to_string(),
            "-U",
            USER,
            "-D",
            &standby_dir.join("data").display().to_string(),
            "-R",
            // An immediate checkpoint: a spread one takes minutes.
            "-c",
            "fast",
            "-X",
            "stream",
            "--no-sync",
        ],
    );
    let standby = start_server(root, &bin, &standby_dir, "-c hot_standby=on");
    (primary, standby)
}

fn stop(server: &Server) {
    let bin = bin_dir().expect("PostgreSQL's binaries");
    run(
        is_root(),
        &bin.join("pg_ctl"),
        &[
            "stop",
            "-D",
            &server.dir.join("data").display().to_string(),
            "-m",
            "fast",
        ],
    );
}

async fn on_standby(standby: &Server, sql: &str) {
    let db = Db::connect_url(&standby.url(), DatabaseKind::Postgres, 1)
        .await
        .expect("connect to the standby");
    db.execute_raw(sql).await.expect(sql);
    db.close().await;
}

/// A setting's value on the standby.
async fn standby_setting(standby: &Server, name: &str) -> String {
    let db = Db::connect_url(&standby.url(), DatabaseKind::Postgres, 1)
        .await
        .expect("connect to the standby");
    let value: String = sqlx::query_scalar(&format!("SELECT current_setting('{name}')"))
        .fetch_one(db.pool())
        .await
        .expect(name);
    db.close().await;
    value
}

async fn scrape(app: &TestApp) -> String {
    let address = app.metrics_address.expect("the metrics listener is bound");
    app.client
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .expect("metrics scraped")
        .text()
        .await
        .expect("metrics text")
}

async fn audit_actions_listed(app: &TestApp, token: &str) -> Vec<String> {
    let response = app.get_as("/api/v1/audit-log", token).await;
    assert_eq!(response.status(), 200);
    let body: Value = json(response).await;
    body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|entry| entry["action"].as_str().map(String::from))
        .collect()
}

/// The organizations counted by `GET /admin/figures`, all plans together.
async fn organizations_in_figures(app: &TestApp, operator: &str) -> i64 {
    let response = app.get_as("/api/v1/admin/figures", operator).await;
    assert_eq!(response.status(), 200);
    let body: Value = json(response).await;
    body["data"]["organizations_by_plan"]
        .as_object()
        .expect("organizations by plan")
        .values()
        .filter_map(Value::as_i64)
        .sum()
}

/// The organizations `GET /admin/organizations` finds.
async fn organizations_searched(app: &TestApp, operator: &str) -> usize {
    let response = app.get_as("/api/v1/admin/organizations", operator).await;
    assert_eq!(response.status(), 200);
    let body: Value = json(response).await;
    body["data"].as_array().expect("organizations").len()
}

async fn replica_healthy(app: &TestApp, healthy: bool) {
    let line = format!(
        "landlord_database_replica_healthy{{replica=\"replica 1\"}} {}",
        u8::from(healthy)
    );
    eventually(&line, Duration::from_secs(20), async || {
        scrape(app).await.contains(&line).then_some(())
    })
    .await;
}

#[tokio::test]
async fn lists_read_from_a_streaming_replica_and_from_the_primary_without_it() {
    if !postgres_ready("replica") {
        return;
    }
    let (primary, standby) = primary_and_standby().await;
    let app = TestApp::spawn_with(Backend::Postgres, |c| {
        c.database_url = Some(primary.url().into());
        c.database_read_url = vec![standby.url().into()];
        // Replay is paused below: the replica must stay in use meanwhile.
        c.database_read_max_lag_ms = 600_000;
        c.metrics_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let (token, _) = signed_in(&app, "owner@replica.test").await;
    let operator = operator(&app, "operator@replica.test").await;
    replica_healthy(&app, true).await;
    // The registration reaches the replica and its list.
    eventually(
        "the registration on the replica",
        Duration::from_secs(20),
        async || (!audit_actions_listed(&app, &token).await.is_empty()).then_some(()),
    )
    .await;
    let lag = scrape(&app).await;
    assert!(
        lag.contains("landlord_database_replica_lag_seconds{replica=\"replica 1\"}"),
        "{lag}"
    );

    eventually(
        "both organizations in the replica's figures",
        Duration::from_secs(20),
        async || (organizations_in_figures(&app, &operator).await == 2).then_some(()),
    )
    .await;

    // With replay paused, the replica keeps what it had.
    on_standby(&standby, "SELECT pg_wal_replay_pause()").await;
    signed_in(&app, "late@replica.test").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM organizations", &[]).await,
        3,
        "the primary has the third organization"
    );
    assert_eq!(
        organizations_in_figures(&app, &operator).await,
        2,
        "the operator's figures were read from the paused replica"
    );
    assert_eq!(
        organizations_searched(&app, &operator).await,
        2,
        "the operator's search was read from the paused replica"
    );
    let created = app
        .post_as("/api/v1/keys", &token, &json!({"name": "replica marker"}))
        .await;
    assert_eq!(created.status(), 201, "the write goes to the primary");
    let created: Value = json(created).await;
    assert_eq!(created["data"]["name"], "replica marker");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = $1",
            &["api_key.created"]
        )
        .await,
        1,
        "the primary has the entry"
    );
    let listed = audit_actions_listed(&app, &token).await;
    assert!(
        !listed.iter().any(|a| a == "api_key.created"),
        "the list was read from the paused replica: {listed:?}"
    );
    // A list that is not lag-tolerant stays on the primary: the new key is there.
    let keys: Value = json(app.get_as("/api/v1/keys", &token).await).await;
    assert!(keys.to_string().contains("replica marker"), "{keys}");

    on_standby(&standby, "SELECT pg_wal_replay_resume()").await;
    eventually(
        "the key's entry on the replica",
        Duration::from_secs(20),
        async || {
            audit_actions_listed(&app, &token)
                .await
                .iter()
                .any(|a| a == "api_key.created")
                .then_some(())
        },
    )
    .await;

    // A standby no longer streaming from the primary looks current (it
    // replayed all it received) while falling behind: it is skipped, and
    // used again once it streams.
    let conninfo = standby_setting(&standby, "primary_conninfo").await;
    assert!(
        !conninfo.is_empty(),
        "pg_basebackup -R wrote the standby's conninfo"
    );
    on_standby(&standby, "ALTER SYSTEM SET primary_conninfo = ''").await;
    on_standby(&standby, "SELECT pg_reload_conf()").await;
    replica_healthy(&app, false).await;
    let quoted = conninfo.replace('\'', "''");
    on_standby(
        &standby,
        &format!("ALTER SYSTEM SET primary_conninfo = '{quoted}'"),
    )
    .await;
    on_standby(&standby, "SELECT pg_reload_conf()").await;
    replica_healthy(&app, true).await;

    // A stopped replica is skipped: the list answers from the primary,
    // also for the reads sent to it before the next lag check noticed
    // (they are retried on the primary, not failed).
    on_standby(&standby, "SELECT pg_wal_replay_pause()").await;
    app.post_as("/api/v1/keys", &token, &json!({"name": "second"}))
        .await;
    stop(&standby);
    let mut reads = 0;
    loop {
        // Each read asserts a 200.
        let listed = audit_actions_listed(&app, &token).await;
        reads += 1;
        assert_eq!(
            listed.iter().filter(|a| *a == "api_key.created").count(),
            2,
            "read {reads} after the stop came from the primary: {listed:?}"
        );
        if scrape(&app)
            .await
            .contains("landlord_database_replica_healthy{replica=\"replica 1\"} 0")
        {
            break;
        }
    }
    replica_healthy(&app, false).await;
    let listed = audit_actions_listed(&app, &token).await;
    assert_eq!(
        listed.iter().filter(|a| *a == "api_key.created").count(),
        2,
        "the list now reads from the primary: {listed:?}"
    );
    assert_eq!(organizations_in_figures(&app, &operator).await, 3);
    assert_eq!(organizations_searched(&app, &operator).await, 3);
    drop(primary);
}
