//! Backups to an S3-compatible bucket, end to end: the `landlord` binary
//! against moto's S3 server (request signing checked), the objects looked
//! at with boto3.

use std::process::{Command, Output};

use serde_json::json;

use crate::support::accounts::{token_of, PASSWORD};
use crate::support::app::json;
use crate::support::binary::{landlord, send_sigterm, start, wait_for_exit};
use crate::support::s3::S3StandIn;

const BUCKET: &str = "landlord-backups";
const PREFIX: &str = "some/prefix";
const EMAIL: &str = "kept@backup.test";

async fn run(command: Command) -> Output {
    let mut command = command;
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `landlord backup --to s3://…` and its first word (the snapshot's name).
async fn back_up(s3: &S3StandIn, dir: &tempfile::TempDir) -> String {
    let mut command = landlord(dir);
    s3.configure(&mut command);
    command.args(["backup", "--to", &s3.url(PREFIX)]);
    let output = run(command).await;
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "backup failed: {stdout}{}",
        text(&output.stderr)
    );
    let written = format!(" written to s3://{BUCKET}/{PREFIX} ");
    let line = stdout
        .lines()
        .find(|line| line.contains(&written))
        .unwrap_or_else(|| panic!("{written:?} in {stdout}"));
    line.split_whitespace()
        .next()
        .expect("the snapshot's name")
        .to_string()
}

async fn migrated(dir: &tempfile::TempDir) {
    let mut command = landlord(dir);
    command.arg("migrate");
    let output = run(command).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// A snapshot written to the bucket under a prefix while the server runs is
/// listed, lies in the bucket as an archive and its manifest, and restores
/// (by URL, and as `latest` at the configured destination) to a database a
/// server starts on and where the account made before the snapshot signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_in_a_bucket_is_listed_and_restores_by_url_and_as_latest() {
    let Some(s3) = S3StandIn::start("backup_s3::a_snapshot_in_a_bucket", BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let command = landlord(&dir);
    let mut server = tokio::task::spawn_blocking(move || start(command))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let registered = client
        .post(format!("http://{}/api/v1/auth/register", server.address))
        .json(&json!({"organization_name": "Kept Inc", "email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);

    // While the server runs.
    let name = back_up(&s3, &dir).await;
    send_sigterm(&server.child);
    let status = tokio::task::spawn_blocking(move || wait_for_exit(&mut server.child))
        .await
        .unwrap();
    assert!(status.success());

    let mut list = landlord(&dir);
    s3.configure(&mut list);
    list.args(["backup", "--to", &s3.url(PREFIX), "--list"]);
    let output = run(list).await;
    let listed = text(&output.stdout);
    assert!(output.status.success(), "{listed}{}", text(&output.stderr));
    let row = listed
        .lines()
        .find(|line| line.starts_with(&name))
        .unwrap_or_else(|| panic!("{name} listed: {listed}"));
    assert!(row.split_whitespace().any(|word| word == "yes"), "{row}");

    let objects = s3.objects(&format!("{PREFIX}/"));
    let keys: Vec<&str> = objects.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            format!("{PREFIX}/{name}.json"),
            format!("{PREFIX}/{name}.tar.zst")
        ],
        "the bucket holds the archive and its manifest under the prefix"
    );
    assert!(objects[&format!("{PREFIX}/{name}.tar.zst")] > 0);

    // By URL, into a new directory; a server starts on it.
    let restored = tempfile::tempdir().unwrap();
    let mut restore = landlord(&restored);
    s3.configure(&mut restore);
    let from = format!("{}/{name}.tar.zst", s3.url(PREFIX));
    restore.args(["restore", "--from", &from, "--data-dir"]);
    restore.arg(restored.path());
    let output = run(restore).await;
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains(&format!("restored {name}")));
    let command = landlord(&restored);
    let mut server = tokio::task::spawn_blocking(move || start(command))
        .await
        .unwrap();
    let signed_in = client
        .post(format!("http://{}/api/v1/auth/login", server.address))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let token = token_of(&json(signed_in).await["data"], "access_token");
    let me = client
        .get(format!("http://{}/api/v1/auth/me", server.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(json(me).await.to_string().contains(EMAIL));
    send_sigterm(&server.child);
    tokio::task::spawn_blocking(move || wait_for_exit(&mut server.child))
        .await
        .unwrap();

    // `latest` at the configured destination.
    let newest = tempfile::tempdir().unwrap();
    let mut restore = landlord(&newest);
    s3.configure(&mut restore);
    restore
        .env("LANDLORD_BACKUP__DESTINATION", s3.url(PREFIX))
        .args(["restore", "--from", "latest", "--data-dir"])
        .arg(newest.path());
    let output = run(restore).await;
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains(&format!("restored {name}")));
    assert!(newest.path().join("landlord.db").is_file());
}

/// A wrong secret key: the backup fails, saying so in words, exit code 1,
/// without the secret and without a panic; nothing is listed or stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_key_fails_the_backup_in_words_and_stores_nothing() {
    let Some(s3) = S3StandIn::start("backup_s3::a_wrong_secret_key", BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    migrated(&dir).await;
    let wrong = "wRoNgSeCrEtKeY0123456789abcdefghijklmnop";
    let mut command = landlord(&dir);
    s3.configure_with_secret(&mut command, wrong);
    command.args(["backup", "--to", &s3.url(PREFIX)]);
    let output = run(command).await;
    let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(!said.contains("panicked"), "{said}");
    assert!(!said.contains(wrong), "the secret is never printed: {said}");
    let stderr = text(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("landlord: ") && last.contains("SignatureDoesNotMatch"),
        "{said}"
    );
    assert!(last.contains("secret access key"), "{last}");

    let mut list = landlord(&dir);
    s3.configure(&mut list);
    list.args(["backup", "--to", &s3.url(PREFIX), "--list"]);
    let output = run(list).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains(&format!("no snapshots at s3://{BUCKET}/{PREFIX}")),
        "{}",
        text(&output.stdout)
    );
    assert!(s3.objects("").is_empty(), "{:?}", s3.objects(""));
}

/// An archive changed in the bucket after its manifest was written (one
/// flipped byte) is refused by restore, which leaves no database behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_changed_in_the_bucket_is_refused_by_restore() {
    let Some(s3) = S3StandIn::start("backup_s3::an_archive_changed", BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    migrated(&dir).await;
    let name = back_up(&s3, &dir).await;
    let archive = format!("{PREFIX}/{name}.tar.zst");
    let size = s3.objects(PREFIX)[&archive];
    s3.flip_byte(&archive, (size / 2) as usize);
    assert_eq!(s3.objects(PREFIX)[&archive], size);

    let target = tempfile::tempdir().unwrap();
    let mut restore = landlord(&target);
    s3.configure(&mut restore);
    let from = format!("{}/{name}.tar.zst", s3.url(PREFIX));
    restore.args(["restore", "--from", &from, "--data-dir"]);
    restore.arg(target.path());
    let output = run(restore).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("damaged") && last.contains("SHA-256"),
        "{stderr}"
    );
    assert!(!target.path().join("landlord.db").exists());
}
