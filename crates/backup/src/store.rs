//! Backups' SQL: its tables are `backup_runs` and `backup_schedule`, and
//! it reads the database as a whole (`VACUUM INTO`, `PRAGMA
//! integrity_check`, the newest applied migration).

use std::time::Duration;

use landlord_core::{Db, Timestamp};
use sqlx::{AnyConnection, Connection, Row};

use crate::manifest::Trigger;

landlord_core::entity_id!(
    /// One attempt to take a snapshot.
    BackupRunId
);

landlord_core::text_enum!(
    /// Where an attempt stands.
    pub enum RunStatus {
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
    }
);

/// One attempt, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: BackupRunId,
    pub trigger: String,
    pub status: RunStatus,
    pub snapshot: Option<String>,
    pub destination: String,
    pub archive_bytes: Option<i64>,
    pub database_bytes: Option<i64>,
    pub error: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// Writes a consistent copy of the whole database to `path` (a new file):
/// one read transaction, so everything committed before it began is in
/// the copy and nothing after. Runs beside the server's writers (WAL).
pub async fn vacuum_into(db: &Db, path: &str) -> Result<(), sqlx::Error> {
    sqlx::query("VACUUM INTO $1")
        .bind(path)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Opens the SQLite file at `path` on its own connection (not a pool).
pub async fn open_file(
    path: &std::path::Path,
    read_only: bool,
) -> Result<AnyConnection, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let mode = if read_only { "ro" } else { "rw" };
    AnyConnection::connect(&format!("sqlite://{}?mode={mode}", path.display())).await
}

/// `PRAGMA integrity_check`: empty when the database is sound, else the
/// problems SQLite found (at most 20).
pub async fn integrity_problems(conn: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("PRAGMA integrity_check(20)")
        .fetch_all(&mut *conn)
        .await?;
    let lines: Vec<String> = rows
        .iter()
        .filter_map(|row| row.try_get::<String, _>(0).ok())
        .filter(|line| line != "ok")
        .collect();
    Ok(lines)
}

/// The newest migration applied to the database (0 when none).
pub async fn schema_version(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&mut *conn)
            .await?;
    Ok(version.unwrap_or(0))
}

/// Records the start of an attempt.
pub async fn start_run(
    db: &Db,
    trigger: Trigger,
    destination: &str,
    now: Timestamp,
) -> Result<BackupRunId, sqlx::Error> {
    let id = BackupRunId::generate();
    sqlx::query(
        "INSERT INTO backup_runs (id, trigger, status, destination, started_at) \
         VALUES ($1, $2, 'running', $3, $4)",
    )
    .bind(&id)
    .bind(trigger.as_str())
    .bind(destination)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(id)
}

/// What a finished attempt made.
#[derive(Debug, Clone)]
pub enum RunOutcome {
    Succeeded {
        snapshot: String,
        archive_bytes: u64,
        database_bytes: u64,
    },
    Failed {
        snapshot: Option<String>,
        error: String,
    },
}

/// Records how an attempt ended.
pub async fn finish_run(
    db: &Db,
    id: &BackupRunId,
    outcome: &RunOutcome,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let (status, snapshot, archive, database, error) = match outcome {
        RunOutcome::Succeeded {
            snapshot,
            archive_bytes,
            database_bytes,
        } => (
            RunStatus::Succeeded,
            Some(snapshot.as_str()),
            Some(*archive_bytes as i64),
            Some(*database_bytes as i64),
            None,
        ),
        RunOutcome::Failed { snapshot, error } => (
            RunStatus::Failed,
            snapshot.as_deref(),
            None,
            None,
            Some(error.as_str()),
        ),
    };
    sqlx::query(
        "UPDATE backup_runs SET status = $1, snapshot = $2, archive_bytes = $3, \
         database_bytes = $4, error = $5, finished_at = $6 WHERE id = $7",
    )
    .bind(status)
    .bind(snapshot)
    .bind(archive)
    .bind(database)
    .bind(error)
    .bind(now)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

const RUN_COLUMNS: &str = "id, trigger, status, snapshot, destination, archive_bytes, \
     database_bytes, error, started_at, finished_at";

/// The newest attempts, newest first.
pub async fn recent_runs(db: &Db, limit: i64) -> Result<Vec<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM backup_runs ORDER BY started_at DESC, id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

/// The newest attempt with `status`.
pub async fn last_with_status(db: &Db, status: RunStatus) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM backup_runs WHERE status = $1 \
         ORDER BY started_at DESC, id DESC LIMIT 1"
    ))
    .bind(status)
    .fetch_optional(db.pool())
    .await
}

/// Attempts that failed since `since` (the `backup_failed` alert; on
/// either backend, as the alert evaluates on both).
pub async fn failures_since(db: &Db, since: Timestamp) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM backup_runs WHERE status = 'failed' AND finished_at >= $1",
    )
    .bind(since)
    .fetch_one(db.pool())
    .await
}

/// Marks attempts left `running` by an instance that died as failed.
pub async fn fail_abandoned(
    db: &Db,
    started_before: Timestamp,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE backup_runs SET status = 'failed', finished_at = $1, \
         error = 'the instance taking it stopped before it finished' \
         WHERE status = 'running' AND started_at < $2",
    )
    .bind(now)
    .bind(started_before)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Claims the scheduled snapshot due at `now`, if any: moves the next due
/// time one `interval` on and holds the slot for `lease`. True for exactly
/// one caller per due time, however many instances ask at once.
pub async fn claim_due(
    db: &Db,
    now: Timestamp,
    interval: Duration,
    lease: Duration,
) -> Result<bool, sqlx::Error> {
    // The first instance to start schedules the first snapshot now.
    sqlx::query(
        "INSERT INTO backup_schedule (id, next_due_at, leased_until) VALUES (1, $1, 0) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(now)
    .execute(db.pool())
    .await?;
    let claimed = sqlx::query(
        "UPDATE backup_schedule SET next_due_at = $1, leased_until = $2 \
         WHERE id = 1 AND next_due_at <= $3 AND leased_until <= $4",
    )
    .bind(now.plus(interval))
    .bind(now.plus(lease))
    .bind(now)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Ends the claim on the scheduled slot (the snapshot is done).
pub async fn release_claim(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE backup_schedule SET leased_until = 0 WHERE id = 1")
        .execute(db.pool())
        .await?;
    Ok(())
}

/// When the schedule began (its row's creation is not kept: the first
/// attempt's start), for the staleness of a schedule that never succeeded.
pub async fn first_run_at(db: &Db) -> Result<Option<Timestamp>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(started_at) FROM backup_runs")
        .fetch_one(db.pool())
        .await
}

/// When the newest snapshot that succeeded at `destination` was taken
/// (its attempt's start, the manifest's `created_at`).
pub async fn newest_success_at(
    db: &Db,
    destination: &str,
) -> Result<Option<Timestamp>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT MAX(started_at) FROM backup_runs WHERE status = 'succeeded' AND destination = $1",
    )
    .bind(destination)
    .fetch_one(db.pool())
    .await
}

/// When the first attempt to `destination` began.
pub async fn first_run_to(db: &Db, destination: &str) -> Result<Option<Timestamp>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(started_at) FROM backup_runs WHERE destination = $1")
        .bind(destination)
        .fetch_one(db.pool())
        .await
}

/// Deletes finished attempts that started before `before` (daily
/// housekeeping: the operator's page shows recent ones).
pub async fn purge_runs_before(db: &Db, before: Timestamp) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM backup_runs WHERE started_at < $1 AND status <> 'running'")
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
