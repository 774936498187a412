//! Restoring snapshots, with the binary as an operator runs it: a snapshot
//! taken under a stream of writes holds every row committed before it
//! began; a damaged snapshot, a directory holding a database, a running
//! server's directory and a missing passphrase are refused, leaving the
//! target as it was; the encrypted keys keep webhook secrets and access
//! tokens working on the restored server, and without them the restore
//! says what is lost; a restored older snapshot is migrated forward by the
//! server started on it; on PostgreSQL `backup` points to its own tools.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use landlord_backup::keys::LOST_WITHOUT_KEYS;
use landlord_backup::manifest::Manifest;
use landlord_backup::StoredManifest;
use landlord_core::config::DatabaseKind;
use landlord_core::Db;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::accounts::{data, signed_in};
use crate::support::app::report_skip;
use crate::support::binary::{self, BINARY};
use crate::support::clock::now_ms;
use crate::support::eventually::eventually;
use crate::support::receiver::Receiver;
use crate::support::{Backend, TestApp};

const PASSPHRASE: &str = "a long backup passphrase";

/// What a run of the binary answered.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "{}", self.text());
    }

    fn assert_failure(&self) {
        assert_ne!(self.code, Some(0), "{}", self.text());
        assert!(self.code.is_some(), "ended by a signal: {}", self.text());
    }
}

/// The binary with a clean environment, on the data directory `data_dir`.
fn landlord(data_dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANDLORD_DATA_DIR", data_dir)
        .env("LANDLORD_LISTEN", "127.0.0.1:0")
        .env("LANDLORD_LOG_LEVEL", "warn")
        .current_dir(data_dir);
    command
}

/// Runs `command` to its end off the async threads.
async fn run(mut command: Command) -> Outcome {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the command's thread")
        .expect("the binary runs");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `landlord backup --to to` on `data_dir`, with `env`; the snapshot's
/// archive and stored manifest.
async fn backup(
    data_dir: &Path,
    to: &Path,
    env: &[(&str, &str)],
) -> (PathBuf, StoredManifest, Outcome) {
    let mut command = landlord(data_dir);
    command.arg("backup").arg("--to").arg(to);
    command.envs(env.iter().copied());
    let outcome = run(command).await;
    outcome.assert_success();
    let archive = only_archive(to);
    let stored: StoredManifest = serde_json::from_slice(
        &std::fs::read(archive.with_extension("").with_extension("json")).expect("the manifest"),
    )
    .expect("a stored manifest");
    (archive, stored, outcome)
}

/// The one archive in `dir`.
fn only_archive(dir: &Path) -> PathBuf {
    let archives: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the backup directory")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.to_string_lossy().ends_with(".tar.zst"))
        .collect();
    assert_eq!(archives.len(), 1, "{archives:?}");
    archives.into_iter().next().unwrap()
}

/// `landlord restore --from archive --data-dir into` with `flags` and `env`.
async fn restore(archive: &Path, into: &Path, flags: &[&str], env: &[(&str, &str)]) -> Outcome {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let mut command = landlord(scratch.path());
    command
        .arg("restore")
        .arg("--from")
        .arg(archive)
        .arg("--data-dir")
        .arg(into)
        .args(flags)
        .envs(env.iter().copied());
    run(command).await
}

/// Opens a restored database read-only (as restore itself reads it).
async fn open_restored(dir: &Path) -> sqlx::AnyConnection {
    landlord_backup::store::open_file(&dir.join("landlord.db"), true)
        .await
        .expect("the restored database opens")
}

async fn integrity(conn: &mut sqlx::AnyConnection) -> Vec<String> {
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(conn)
        .await
        .expect("integrity_check runs")
}

/// What a directory holds, by name (sorted).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| {
                entry
                    .expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

fn sha256_of(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).expect("the file"))
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `landlord migrate` on `data_dir`: a database with every table.
async fn migrated(data_dir: &Path) {
    let mut command = landlord(data_dir);
    command.arg("migrate");
    run(command).await.assert_success();
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).expect("the file").ino()
}

/// A server on `dir` (a restored data directory), in this process.
async fn server_on(dir: &Path) -> TestApp {
    let dir = dir.to_path_buf();
    TestApp::spawn_with(Backend::Sqlite, move |c| c.core.data_dir = dir).await
}

// ---- a snapshot under concurrent writes ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_snapshot_under_concurrent_writes_holds_every_row_committed_before_it_began() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (token, _) = signed_in(&app, "writer@example.com").await;
    let stop = Arc::new(AtomicBool::new(false));
    // Each key's id and when its creation's answer arrived.
    let written: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (client, url, token) = (app.client.clone(), app.url("/api/v1/keys"), token.clone());
        let (stop, written) = (stop.clone(), written.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "name": format!("writer {writer} key {n}") }))
                    .send()
                    .await
                    .expect("request sent");
                assert_eq!(response.status(), 201, "create a key");
                let body: serde_json::Value = response.json().await.expect("JSON");
                let arrived = now_ms();
                let id = body["data"]["id"]
                    .as_str()
                    .expect("the key's id")
                    .to_string();
                written.lock().unwrap().push((id, arrived));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let backups = tempfile::tempdir().unwrap();
    let (archive, stored, _) = backup(app.data_dir(), backups.path(), &[]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("a writer ends cleanly");
    }
    let began = stored.manifest.created_at.millis();
    let written = written.lock().unwrap().clone();
    let before: Vec<&(String, i64)> = written.iter().filter(|(_, at)| *at < began).collect();
    let after = written.len() - before.len();
    assert!(
        before.len() >= 10,
        "writes before the snapshot: {}",
        before.len()
    );
    assert!(after >= 1, "writes went on while and after it was taken");

    let restored = tempfile::tempdir().unwrap();
    let into = restored.path().join("data");
    let outcome = restore(&archive, &into, &[], &[]).await;
    outcome.assert_success();
    assert!(
        outcome.stdout.contains("integrity_check passed"),
        "{}",
        outcome.text()
    );
    let mut db = open_restored(&into).await;
    assert_eq!(integrity(&mut db).await, vec!["ok".to_string()]);
    let present: std::collections::HashSet<String> = sqlx::query_scalar("SELECT id FROM api_keys")
        .fetch_all(&mut db)
        .await
        .expect("the keys")
        .into_iter()
        .collect();
    let missing: Vec<&String> = before
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !present.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} keys committed before the snapshot began are missing: {missing:?}",
        missing.len(),
        before.len()
    );
    eprintln!(
        "{} keys written before the snapshot began, all restored; {after} during and after it",
        before.len()
    );
    drop(db);
}

// ---- a damaged snapshot --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_with_one_flipped_byte_is_refused_and_nothing_is_restored() {
    let source = tempfile::tempdir().unwrap();
    migrated(source.path()).await;
    let backups = tempfile::tempdir().unwrap();
    let (archive, _, _) = backup(source.path(), backups.path(), &[]).await;
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&archive, &bytes).unwrap();

    // With its manifest beside it: the archive's checksum.
    let target = tempfile::tempdir().unwrap();
    let outcome = restore(&archive, target.path(), &[], &[]).await;
    outcome.assert_failure();
    assert!(outcome.stderr.contains("damaged"), "{}", outcome.text());
    assert!(outcome.stderr.contains("SHA-256"), "{}", outcome.text());
    assert!(
        outcome.stderr.contains("nothing was restored"),
        "{}",
        outcome.text()
    );
    assert_eq!(
        listing(target.path()),
        vec!["landlord.lock"],
        "nothing left behind"
    );

    // Alone: zstd's checksum or the database's.
    std::fs::remove_file(archive.with_extension("").with_extension("json")).unwrap();
    let outcome = restore(&archive, target.path(), &[], &[]).await;
    outcome.assert_failure();
    assert!(outcome.stderr.contains("damaged"), "{}", outcome.text());
    assert_eq!(
        listing(target.path()),
        vec!["landlord.lock"],
        "nothing left behind"
    );

    // Into a directory the restore creates: it is gone again.
    let parent = tempfile::tempdir().unwrap();
    let fresh = parent.path().join("new");
    let outcome = restore(&archive, &fresh, &[], &[]).await;
    outcome.assert_failure();
    assert!(!fresh.exists(), "{:?}", listing(&fresh));
}

// ---- the keys ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_encrypted_keys_keep_webhook_secrets_and_access_tokens_working() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let receiver = Receiver::start("received").await;
    let (token, _) = signed_in(&app, "hooks@example.com").await;
    let created = data(
        app.post_as(
            "/api/v1/webhooks/endpoints",
            &token,
            &json!({ "url": receiver.url("/hook") }),
        )
        .await,
    )
    .await;
    let secret = created["secret"].as_str().expect("the secret").to_string();
    assert!(secret.starts_with("whsec_"));
    let backups = tempfile::tempdir().unwrap();
    let with_passphrase = [("LANDLORD_BACKUP__PASSPHRASE", PASSPHRASE)];
    let (archive, stored, taken) = backup(app.data_dir(), backups.path(), &with_passphrase).await;
    assert_eq!(
        stored.manifest.keys,
        landlord_backup::KeysIncluded::Passphrase
    );
    assert!(
        taken
            .stderr
            .contains("keys are in this snapshot, encrypted with backup.passphrase"),
        "{}",
        taken.text()
    );

    // Without the passphrase: refused, saying how.
    let scratch = tempfile::tempdir().unwrap();
    let refused_into = scratch.path().join("refused");
    let outcome = restore(&archive, &refused_into, &[], &[]).await;
    outcome.assert_failure();
    for words in [
        "LANDLORD_BACKUP__PASSPHRASE",
        "--without-keys",
        "nothing was restored",
    ] {
        assert!(
            outcome.stderr.contains(words),
            "{words}: {}",
            outcome.text()
        );
    }
    assert!(!refused_into.join("landlord.db").exists());
    // A wrong one: refused, never repeated.
    let outcome = restore(
        &archive,
        &refused_into,
        &[],
        &[("LANDLORD_BACKUP__PASSPHRASE", "not the passphrase at all")],
    )
    .await;
    outcome.assert_failure();
    assert!(
        outcome.stderr.contains("passphrase does not open"),
        "{}",
        outcome.text()
    );
    assert!(!outcome.text().contains("not the passphrase at all"));
    assert!(!refused_into.join("landlord.db").exists());
    assert!(!refused_into.join("secrets").exists());

    // With it: the restored server signs with the original secret and
    // accepts the access token issued before the snapshot.
    let with_keys = tempfile::tempdir().unwrap();
    let outcome = restore(&archive, with_keys.path(), &[], &with_passphrase).await;
    outcome.assert_success();
    assert!(
        outcome.stdout.contains("keys were restored"),
        "{}",
        outcome.text()
    );
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(with_keys.path().join("secrets/payload_encryption_key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode, 0o600);
    let restored = server_on(with_keys.path()).await;
    let renamed = restored
        .client
        .patch(restored.url("/api/v1/organization"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Restored Inc" }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200, "the old access token works");
    let delivery = eventually(
        "the rename delivered by the restored server",
        Duration::from_secs(30),
        async || {
            receiver
                .at("/hook")
                .into_iter()
                .find(|r| String::from_utf8_lossy(&r.body).contains("Restored Inc"))
        },
    )
    .await;
    assert!(
        delivery.verifies(&secret),
        "signed with the original secret"
    );

    // Into a directory holding another key: refused without --force; with
    // it, replaced and the other key kept beside.
    let other_keys = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other_keys.path().join("secrets")).unwrap();
    let other = "7".repeat(64);
    std::fs::write(other_keys.path().join("secrets/token_signing_key"), &other).unwrap();
    let outcome = restore(&archive, other_keys.path(), &[], &with_passphrase).await;
    outcome.assert_failure();
    assert!(
        outcome
            .stderr
            .contains("holds a different token_signing_key"),
        "{}",
        outcome.text()
    );
    assert!(outcome.stderr.contains("--force"), "{}", outcome.text());
    assert!(!other_keys.path().join("landlord.db").exists());
    assert_eq!(
        listing(&other_keys.path().join("secrets")),
        vec!["token_signing_key"],
        "no key put in place"
    );
    let outcome = restore(&archive, other_keys.path(), &["--force"], &with_passphrase).await;
    outcome.assert_success();
    assert!(
        outcome.stdout.contains("before-restore"),
        "{}",
        outcome.text()
    );
    let kept: Vec<String> = listing(&other_keys.path().join("secrets"))
        .into_iter()
        .filter(|name| name.starts_with("token_signing_key.before-restore-"))
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        std::fs::read_to_string(other_keys.path().join("secrets").join(&kept[0])).unwrap(),
        other
    );
    assert_eq!(
        std::fs::read_to_string(other_keys.path().join("secrets/token_signing_key")).unwrap(),
        std::fs::read_to_string(app.data_dir().join("secrets/token_signing_key"))
            .unwrap()
            .trim()
    );

    // Without the keys: restored, saying what is lost; the old token ends.
    let without = tempfile::tempdir().unwrap();
    let outcome = restore(&archive, without.path(), &["--without-keys"], &[]).await;
    outcome.assert_success();
    assert!(
        outcome.stderr.contains("--without-keys was given"),
        "{}",
        outcome.text()
    );
    assert!(
        outcome.stderr.contains(LOST_WITHOUT_KEYS),
        "{}",
        outcome.text()
    );
    assert!(!without.path().join("secrets").exists());
    let unkeyed = server_on(without.path()).await;
    let refused = unkeyed
        .client
        .patch(unkeyed.url("/api/v1/organization"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Lost Inc" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        401,
        "the old access token no longer works"
    );
}

// ---- refusals ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_holding_a_database_or_used_by_a_server_is_refused() {
    let source = tempfile::tempdir().unwrap();
    migrated(source.path()).await;
    let backups = tempfile::tempdir().unwrap();
    let (archive, _, _) = backup(source.path(), backups.path(), &[]).await;

    // A directory holding a database, without --force.
    let held = tempfile::tempdir().unwrap();
    std::fs::write(held.path().join("landlord.db"), b"an existing database").unwrap();
    let before = sha256_of(&held.path().join("landlord.db"));
    let outcome = restore(&archive, held.path(), &[], &[]).await;
    outcome.assert_failure();
    assert!(
        outcome.stderr.contains("already holds a database"),
        "{}",
        outcome.text()
    );
    assert!(outcome.stderr.contains("--force"), "{}", outcome.text());
    assert_eq!(
        sha256_of(&held.path().join("landlord.db")),
        before,
        "untouched"
    );
    // With --force it is replaced.
    restore(&archive, held.path(), &["--force"], &[])
        .await
        .assert_success();
    assert_ne!(sha256_of(&held.path().join("landlord.db")), before);
    assert_eq!(listing(held.path()), vec!["landlord.db", "landlord.lock"]);

    // A running server's directory, even with --force.
    let served = tempfile::tempdir().unwrap();
    let mut server = binary::start(binary::landlord(&served));
    let before = inode(&served.path().join("landlord.db"));
    let outcome = restore(&archive, served.path(), &["--force"], &[]).await;
    outcome.assert_failure();
    assert!(
        outcome.stderr.contains("in use by a running server"),
        "{}",
        outcome.text()
    );
    assert!(
        binary::http_get(&server.address, "/health").contains("200"),
        "the server still answers"
    );
    binary::send_sigterm(&server.child);
    binary::wait_for_exit(&mut server.child);
    assert_eq!(
        inode(&served.path().join("landlord.db")),
        before,
        "not replaced"
    );
    assert!(
        !listing(served.path())
            .iter()
            .any(|name| name.starts_with(".restore-")),
        "{:?}",
        listing(served.path())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_on_postgresql_points_to_its_own_tools_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = landlord(dir.path());
    // Nothing listens there: the answer needs no connection.
    command
        .env(
            "LANDLORD_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/landlord",
        )
        .args(["backup", "--to"])
        .arg(dir.path().join("backups"));
    let outcome = run(command).await;
    assert_eq!(outcome.code, Some(1), "{}", outcome.text());
    for words in [
        "README",
        "\"Backups\"",
        "\"PostgreSQL\"",
        "pg_dump",
        "WAL archiving",
    ] {
        assert!(
            outcome.stderr.contains(words),
            "{words}: {}",
            outcome.text()
        );
    }
    assert!(!dir.path().join("backups").exists());
}

// ---- newer migrations ----------------------------------------------------------------

/// The tables (and indexes) the newest SQLite migration creates, when it
/// only creates tables and indexes (then dropping them and its row makes
/// the database exactly one migration older); `None` otherwise.
fn newest_migration_creations() -> Option<(i64, Vec<String>, Vec<String>)> {
    let migrator =
        landlord_core::db::combined_migrator(landlord::routes::MODULE_MIGRATIONS).ok()?;
    let newest = migrator
        .iter()
        .filter(|m| landlord_core::db::runs_on(m, DatabaseKind::Sqlite))
        .max_by_key(|m| m.version)?;
    let sql: String = newest
        .sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let (mut tables, mut indexes) = (Vec::new(), Vec::new());
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let words: Vec<String> = statement
            .split_whitespace()
            .map(|w| w.to_string())
            .collect();
        let upper: Vec<String> = words.iter().map(|w| w.to_uppercase()).collect();
        let name_at = |i: usize| {
            let i = if upper.get(i).map(String::as_str) == Some("IF") {
                i + 3
            } else {
                i
            };
            words
                .get(i)
                .map(|w| w.trim_matches(|c| c == '(' || c == '"').to_string())
        };
        match (
            upper.first().map(String::as_str),
            upper.get(1).map(String::as_str),
        ) {
            (Some("CREATE"), Some("TABLE")) => tables.push(name_at(2)?),
            (Some("CREATE"), Some("INDEX")) => indexes.push(name_at(2)?),
            (Some("CREATE"), Some("UNIQUE"))
                if upper.get(2).map(String::as_str) == Some("INDEX") =>
            {
                indexes.push(name_at(3)?)
            }
            _ => return None,
        }
    }
    Some((newest.version, tables, indexes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_older_snapshot_is_migrated_forward_by_the_server() {
    let Some((newest, tables, indexes)) = newest_migration_creations() else {
        report_skip(
            "backup_restore::a_restored_older_snapshot_is_migrated_forward_by_the_server",
            "the newest migration does more than create tables and indexes: it cannot be \
             undone honestly in a copy",
        );
        return;
    };
    // What the newest migration creates, to look for before and after.
    let Some(created) = tables.first().or(indexes.first()).cloned() else {
        panic!("the newest migration creates a table or an index");
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    signed_in(&app, "older@example.com").await;
    let backups = tempfile::tempdir().unwrap();
    let (archive, stored, _) = backup(app.data_dir(), backups.path(), &[]).await;
    assert_eq!(stored.manifest.schema_version, newest);

    // The same snapshot, one migration older: unpacked, the newest
    // migration's tables and row removed, packed again.
    let work = tempfile::tempdir().unwrap();
    let unpacked = landlord_backup::archive::unpack(&archive, work.path()).expect("it unpacks");
    let url = format!("sqlite://{}?mode=rw", unpacked.database.display());
    let db = Db::connect_url(&url, DatabaseKind::Sqlite, 1)
        .await
        .unwrap();
    for index in &indexes {
        db.execute_raw(&format!("DROP INDEX IF EXISTS {index}"))
            .await
            .unwrap();
    }
    for table in &tables {
        db.execute_raw(&format!("DROP TABLE {table}"))
            .await
            .unwrap();
    }
    db.execute_raw(&format!(
        "DELETE FROM _sqlx_migrations WHERE version = {newest}"
    ))
    .await
    .unwrap();
    let older: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(db.pool())
        .await
        .unwrap();
    // A whole file, as a snapshot is made (the changes may still be in
    // the connection's write-ahead log).
    let older_db = work.path().join("older.db");
    db.execute_raw(&format!("VACUUM INTO '{}'", older_db.display()))
        .await
        .unwrap();
    db.close().await;
    let (database_bytes, database_sha256) =
        landlord_backup::archive::digest_file(&older_db).unwrap();
    let manifest = Manifest {
        schema_version: older,
        database_bytes,
        database_sha256,
        ..unpacked.manifest.clone()
    };
    let packed = work.path().join(format!("{}.tar.zst", manifest.name));
    landlord_backup::archive::write(&manifest, &older_db, None, &packed).unwrap();

    let into = tempfile::tempdir().unwrap();
    let outcome = restore(&packed, into.path(), &[], &[]).await;
    outcome.assert_success();
    assert!(
        outcome.stdout.contains(&format!("schema {older}")),
        "{}",
        outcome.text()
    );
    let mut before = open_restored(into.path()).await;
    let (present,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM sqlite_master WHERE type IN ('table', 'index') AND name = '{created}'"
    ))
    .fetch_one(&mut before)
    .await
    .unwrap();
    assert_eq!(present, 0, "the restored database is the older one");
    drop(before);

    let restored = server_on(into.path()).await;
    assert_eq!(
        restored
            .count(
                "SELECT COUNT(*) FROM _sqlx_migrations WHERE version = $1",
                &[&newest.to_string()]
            )
            .await,
        1,
        "the server applied the newer migration"
    );
    for table in &tables {
        restored
            .count(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await;
    }
    for index in &indexes {
        assert_eq!(
            restored
                .count(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = $1",
                    &[index.as_str()]
                )
                .await,
            1,
            "the server created the index {index}"
        );
    }
    assert_eq!(
        restored
            .count(
                "SELECT COUNT(*) FROM users WHERE email = $1",
                &["older@example.com"]
            )
            .await,
        1,
        "the data came along"
    );
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(restored.db.pool())
        .await
        .unwrap();
    assert_eq!(problems, vec!["ok".to_string()]);
}
