//! Scheduled snapshots: two servers on one database take one snapshot per
//! interval; the schedule prunes the destination by retention; a failing
//! destination is recorded with its reason, counted in `/metrics` and
//! fires `backup_failed` (and `backup_stale`); the backup signals are
//! measured on both backends.

use std::path::Path;
use std::time::Duration;

use landlord::Application;
use landlord_alerts::config::AlertSignal;
use landlord_alerts::evaluate::{measure, Sources};
use landlord_alerts::RequestLog;
use landlord_backup::destination::{Destination, Location};
use landlord_backup::manifest::{archive_file, manifest_file, snapshot_name, FORMAT};
use landlord_backup::store::{self, RunRow, RunStatus};
use landlord_backup::{archive, BackupConfig, KeysIncluded, Manifest, StoredManifest, Trigger};
use landlord_core::Timestamp;
use serde_json::Value;
use sqlx::Connection;

use crate::backend_tests;
use crate::support::accounts::data;
use crate::support::app::test_config;
use crate::support::eventually::eventually;
use crate::support::{Backend, TestApp};

const SECOND: i64 = 1000;
const HOUR: i64 = 3600 * SECOND;
const DAY: i64 = 24 * HOUR;

/// `[backup]` scheduling snapshots to the directory `to` every
/// `interval_secs`, retention at its defaults.
fn scheduled(to: &Path, interval_secs: u64) -> BackupConfig {
    BackupConfig {
        destination: to.display().to_string(),
        interval_secs,
        ..BackupConfig::default()
    }
}

fn directory(path: &Path) -> Destination {
    Destination::open(
        &Location::Directory(path.to_path_buf()),
        &BackupConfig::default(),
    )
    .expect("the destination opens")
}

/// The snapshots listed at `destination`, oldest first.
async fn listed(destination: &Destination) -> Vec<StoredManifest> {
    let mut snapshots = destination.list().await.expect("the destination lists");
    snapshots.reverse();
    snapshots
}

/// A series' value in the Prometheus text of `/metrics` (process-wide:
/// every server of the test binary adds to it).
async fn metric(app: &TestApp, series: &str) -> Option<f64> {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

async fn runs(app: &TestApp) -> Vec<RunRow> {
    store::recent_runs(&app.db, 1000)
        .await
        .expect("the attempts are read")
}

/// No attempt is running and the schedule's claim is released.
async fn settled(app: &TestApp) -> bool {
    let running = runs(app)
        .await
        .iter()
        .any(|run| run.status == RunStatus::Running);
    let leased: Option<i64> =
        sqlx::query_scalar("SELECT leased_until FROM backup_schedule WHERE id = 1")
            .fetch_optional(app.db.pool())
            .await
            .expect("the schedule is read");
    !running && leased.unwrap_or(0) == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_take_one_snapshot_per_interval() {
    let destination = tempfile::tempdir().expect("temporary directory");
    let first = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.backup = scheduled(destination.path(), 2);
    })
    .await;
    // A second server on the same data directory and database.
    let unused = tempfile::tempdir().expect("temporary directory");
    let mut config = test_config(&unused);
    config.data_dir = first.data_dir().to_path_buf();
    config.database_url = Some(first.database_url());
    config.backup = scheduled(destination.path(), 2);
    let second = Application::build(config.into_config())
        .await
        .expect("the second instance starts");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let second = tokio::spawn(second.run_until(async {
        let _ = stopped.await;
    }));

    tokio::time::sleep(Duration::from_secs(7)).await;
    // The next snapshot a day away: no instance claims another; the one
    // in hand finishes.
    sqlx::query("UPDATE backup_schedule SET next_due_at = $1 WHERE id = 1")
        .bind(Timestamp::now().plus(Duration::from_secs(24 * 3600)))
        .execute(first.db.pool())
        .await
        .expect("the schedule is moved on");
    let _ = stop.send(());
    second
        .await
        .expect("the second instance's task")
        .expect("the second instance stops cleanly");
    eventually(
        "the snapshot in hand to finish",
        Duration::from_secs(60),
        async || settled(&first).await.then_some(()),
    )
    .await;

    let runs = runs(&first).await;
    let snapshots = listed(&directory(destination.path())).await;
    assert!(
        runs.iter()
            .all(|run| run.status == RunStatus::Succeeded
                && run.trigger == Trigger::Scheduled.as_str()),
        "{runs:#?}"
    );
    // One snapshot per interval: 0, 2, 4, 6 s (and 8 s when the freeze
    // came late); at least three however slow the machine.
    assert!(
        (3..=5).contains(&snapshots.len()),
        "{} snapshots in ~7 s at 2 s: {snapshots:#?}",
        snapshots.len()
    );
    let times: Vec<i64> = snapshots
        .iter()
        .map(|s| s.manifest.created_at.millis())
        .collect();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= 1500,
            "two snapshots {} ms apart (one interval is 2000 ms): {times:?}",
            pair[1] - pair[0]
        );
    }
    eprintln!(
        "two instances, 2 s interval, ~7 s: {} snapshots, {:?} ms apart",
        times.len(),
        times.windows(2).map(|p| p[1] - p[0]).collect::<Vec<_>>()
    );
    // The attempts recorded are the snapshots at the destination.
    let mut recorded: Vec<String> = runs.iter().filter_map(|r| r.snapshot.clone()).collect();
    recorded.sort();
    let names: Vec<String> = snapshots.iter().map(|s| s.manifest.name.clone()).collect();
    assert_eq!(recorded, names, "attempts vs destination");
    for (run, snapshot) in runs.iter().rev().zip(&snapshots) {
        assert_eq!(run.started_at, snapshot.manifest.created_at);
        assert_eq!(run.archive_bytes, Some(snapshot.archive_bytes as i64));
    }
    // `/metrics` counted them (with every other snapshot of the process).
    let succeeded = metric(&first, "landlord_backups_total{outcome=\"succeeded\"}")
        .await
        .expect("the succeeded counter");
    assert!(succeeded >= snapshots.len() as f64, "{succeeded}");
    assert!(
        metric(&first, "landlord_backup_last_success_timestamp_seconds")
            .await
            .is_some()
    );
}

/// A real, complete snapshot at `destination` as if taken at `at`: the
/// small database at `database` packed with its manifest, the stored
/// manifest written beside it (as `landlord backup` writes them).
async fn seed_snapshot(
    destination: &Destination,
    database: &Path,
    work: &Path,
    at: Timestamp,
) -> String {
    let name = snapshot_name(at);
    let (database_bytes, database_sha256) = archive::digest_file(database).expect("digest");
    let manifest = Manifest {
        format: FORMAT,
        name: name.clone(),
        created_at: at,
        landlord_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: 0,
        database_bytes,
        database_sha256,
        keys: KeysIncluded::None,
        trigger: Trigger::Scheduled,
    };
    let path = work.join(archive_file(&name));
    let (archive_bytes, archive_sha256) =
        archive::write(&manifest, database, None, &path).expect("the archive is written");
    destination
        .put_file(&archive_file(&name), &path)
        .await
        .expect("the archive is stored");
    let stored = StoredManifest {
        manifest,
        archive_bytes,
        archive_sha256,
        verified: true,
    };
    destination
        .put_bytes(
            &manifest_file(&name),
            serde_json::to_vec_pretty(&stored).expect("json"),
        )
        .await
        .expect("the manifest is stored");
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_prunes_the_destination_by_retention() {
    let root = tempfile::tempdir().expect("temporary directory");
    let backups = root.path().join("backups");
    let destination = directory(&backups);
    let database = root.path().join("seed.db");
    sqlx::any::install_default_drivers();
    let mut conn =
        sqlx::AnyConnection::connect(&format!("sqlite://{}?mode=rwc", database.display()))
            .await
            .expect("a small database");
    sqlx::query("CREATE TABLE notes (body TEXT)")
        .execute(&mut conn)
        .await
        .expect("a table");
    conn.close().await.expect("closed");

    // Snapshots of the past weeks, by UTC day (retention's defaults: all
    // of the last 24 hours, then the newest of each day for 30 days).
    let now = Timestamp::now().millis();
    let midnight = now - now.rem_euclid(DAY);
    let kept_times = [
        now - HOUR,                      // the last 24 hours
        midnight - 3 * DAY + 23 * HOUR,  // the newest of its day
        midnight - 5 * DAY + 6 * HOUR,   // alone on its day
        midnight - 29 * DAY + 12 * HOUR, // within 30 days
    ];
    let deleted_times = [
        midnight - 3 * DAY + HOUR,      // the same day as a newer one
        midnight - 3 * DAY + 13 * HOUR, // likewise
        midnight - 35 * DAY,            // older than 30 days
        midnight - 40 * DAY,
    ];
    let mut kept = Vec::new();
    for at in kept_times {
        kept.push(
            seed_snapshot(
                &destination,
                &database,
                root.path(),
                Timestamp::from_millis(at),
            )
            .await,
        );
    }
    for at in deleted_times {
        seed_snapshot(
            &destination,
            &database,
            root.path(),
            Timestamp::from_millis(at),
        )
        .await;
    }
    assert_eq!(listed(&destination).await.len(), 8);

    // The first scheduled snapshot is due when the server starts; the
    // schedule prunes after it.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.backup = scheduled(&backups, 3600);
    })
    .await;
    let taken = eventually(
        "the scheduled snapshot and the pruning after it",
        Duration::from_secs(60),
        async || {
            let runs = runs(&app).await;
            let taken = runs
                .iter()
                .find(|r| r.status == RunStatus::Succeeded)?
                .snapshot
                .clone()?;
            (listed(&destination).await.len() == kept.len() + 1).then_some(taken)
        },
    )
    .await;
    kept.push(taken);
    kept.sort();
    let names: Vec<String> = listed(&destination)
        .await
        .into_iter()
        .map(|s| s.manifest.name)
        .collect();
    assert_eq!(names, kept);
    // Archives went with their manifests: nothing else is left.
    let mut files: Vec<String> = std::fs::read_dir(&backups)
        .expect("the directory")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    let mut expected: Vec<String> = kept
        .iter()
        .flat_map(|name| [archive_file(name), manifest_file(name)])
        .collect();
    expected.sort();
    assert_eq!(files, expected);
    let pruned = metric(&app, "landlord_backup_pruned_total")
        .await
        .expect("the pruned counter");
    assert!(pruned >= deleted_times.len() as f64, "{pruned}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_destination_is_recorded_counted_and_alerted() {
    let root = tempfile::tempdir().expect("temporary directory");
    let backups = root.path().join("backups");
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.backup = scheduled(&backups, 2);
        c.alerts.interval_secs = 1;
    })
    .await;
    // Once the first snapshot is done, a file takes the directory's place.
    eventually(
        "the first scheduled snapshot",
        Duration::from_secs(60),
        async || (!runs(&app).await.is_empty() && settled(&app).await).then_some(()),
    )
    .await;
    std::fs::remove_dir_all(&backups).expect("the directory is removed");
    std::fs::write(&backups, b"not a directory").expect("a file in its place");

    let failed = eventually("a failed attempt", Duration::from_secs(60), async || {
        store::last_with_status(&app.db, RunStatus::Failed)
            .await
            .expect("the attempts are read")
    })
    .await;
    assert_eq!(failed.trigger, "scheduled");
    assert!(failed.finished_at.is_some());
    let reason = failed.error.clone().unwrap_or_default();
    assert!(!reason.trim().is_empty(), "{failed:#?}");

    let failures = metric(&app, "landlord_backups_total{outcome=\"failed\"}")
        .await
        .expect("the failed counter");
    assert!(failures >= 1.0, "{failures}");
    assert!(
        metric(&app, "landlord_backup_last_failure_timestamp_seconds")
            .await
            .is_some()
    );

    // Both rules fire: an attempt failed within the hour, and the newest
    // snapshot becomes older than two intervals.
    let ops = crate::support::apps::operator(&app, "ops@example.com").await;
    let firing = eventually(
        "backup_failed and backup_stale to fire",
        Duration::from_secs(60),
        async || {
            let response = app
                .client
                .get(app.url("/api/v1/admin/alerts"))
                .bearer_auth(&ops)
                .send()
                .await
                .expect("request sent");
            let overview = data(response).await;
            let active: Vec<Value> = overview["active"].as_array()?.clone();
            let rule = |name: &str| {
                active
                    .iter()
                    .find(|a| a["rule"] == name && a["status"] == "firing")
                    .cloned()
            };
            Some((rule("backup_failed")?, rule("backup_stale")?))
        },
    )
    .await;
    assert_eq!(firing.0["severity"], "critical", "{firing:?}");
    assert!(
        firing.0["value"].as_f64().unwrap_or(0.0) >= 1.0,
        "{firing:?}"
    );
    assert_eq!(firing.1["severity"], "critical", "{firing:?}");
    assert!(
        firing.1["value"].as_f64().unwrap_or(0.0) > 2.0,
        "{firing:?}"
    );
}

async fn record_run(app: &TestApp, destination: &str, status: &str, started: Timestamp) {
    sqlx::query(
        "INSERT INTO backup_runs (id, trigger, status, destination, error, started_at, finished_at) \
         VALUES ($1, 'command', $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(status)
    .bind(destination)
    .bind((status == "failed").then_some("the disk is full"))
    .bind(started)
    .bind(started.plus(Duration::from_secs(1)))
    .execute(app.db.pool())
    .await
    .expect("an attempt is recorded");
}

backend_tests!(the_backup_signals_are_measured_with_a_test_clock);

async fn the_backup_signals_are_measured_with_a_test_clock(backend: Backend) {
    let root = tempfile::tempdir().expect("temporary directory");
    let settings = BackupConfig {
        schedule: false,
        ..scheduled(root.path(), 2)
    };
    let app = TestApp::spawn_with(backend, |c| c.backup = settings.clone()).await;
    let to = root.path().display().to_string();
    let sources = Sources {
        requests: RequestLog::Raw,
        backup: Some(&settings),
    };
    let hour = Duration::from_secs(3600);
    let value = async |signal: AlertSignal, at: Timestamp| {
        measure(&app.db, signal, hour, at, sources)
            .await
            .expect("measured")
    };
    let t0 = Timestamp::now();
    let at = |millis: i64| Timestamp::from_millis(t0.millis() + millis);
    assert_eq!(value(AlertSignal::BackupFailed, t0).await, 0.0);
    assert_eq!(
        value(AlertSignal::BackupStale, t0).await,
        0.0,
        "nothing ran"
    );

    // An attempt that failed (finished a second later): counted for an hour.
    record_run(&app, &to, "failed", t0).await;
    assert_eq!(value(AlertSignal::BackupFailed, at(2 * SECOND)).await, 1.0);
    assert_eq!(
        value(AlertSignal::BackupFailed, at(HOUR + 2 * SECOND)).await,
        0.0
    );
    let stale = value(AlertSignal::BackupStale, at(10 * SECOND)).await;
    if backend == Backend::Postgres {
        // PostgreSQL is backed up with its own tools: never stale here.
        assert_eq!(stale, 0.0);
        return;
    }
    // Never succeeded: from the first attempt, 10 s at 2 s.
    assert_eq!(stale, 5.0);
    // A success 6 s in: 4 s old at 10 s is two intervals, not above.
    record_run(&app, &to, "succeeded", at(6 * SECOND)).await;
    assert_eq!(value(AlertSignal::BackupStale, at(10 * SECOND)).await, 2.0);
    assert!(value(AlertSignal::BackupStale, at(10 * SECOND + 1)).await > 2.0);
    // A snapshot elsewhere (`landlord backup --to`) is not this
    // destination's.
    record_run(&app, "/elsewhere", "succeeded", at(9 * SECOND)).await;
    assert_eq!(value(AlertSignal::BackupStale, at(10 * SECOND)).await, 2.0);
    // Without backup settings the signal is 0.
    let bare = measure(
        &app.db,
        AlertSignal::BackupStale,
        hour,
        at(10 * SECOND),
        RequestLog::Raw,
    )
    .await
    .expect("measured");
    assert_eq!(bare, 0.0);
}
