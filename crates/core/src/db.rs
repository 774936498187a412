//! The one place that reaches the database.
//!
//! Landlord speaks to SQLite and PostgreSQL through sqlx's `Any` driver, so
//! every query is written once. The schema keeps to what both dialects share
//! (TEXT ids holding UUIDs, BIGINT integers and Unix-millisecond timestamps,
//! TEXT JSON), which lets one ordered set of migrations serve both: core's
//! and each module's, run as one set sorted by version ([`Db::migrate`]). Queries
//! use `$1`-style placeholders, which SQLite accepts too (multi-row inserts
//! number theirs with [`values_placeholders`]). The rare statement
//! that must differ (row claiming with `FOR UPDATE SKIP LOCKED`) asks
//! [`Db::backend`].

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::migrate::{Migration, Migrator};
use sqlx::{Any, AnyConnection, AnyPool, Executor};

use crate::config::{Config, DatabaseKind};
use crate::replicas::Replicas;
use crate::secret::Secret;
use crate::sqlite_reader::SqliteReader;

/// The migrations of everything but the modules, embedded in the binary,
/// shared by both backends. Each module crate embeds its own the same way;
/// [`Db::migrate`] runs them all as one set.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Core's migrations and `modules`' as one set, sorted by version: the
/// order they were written in, whichever crate holds them. A database
/// records every version it applied, so the set must hold each of them
/// once (sqlx refuses to run when an applied version is missing).
pub fn combined_migrator(modules: &[&Migrator]) -> Result<Migrator, DbError> {
    let mut migrations: Vec<Migration> = MIGRATOR
        .iter()
        .chain(modules.iter().flat_map(|module| module.iter()))
        .cloned()
        .collect();
    migrations.sort_by_key(|migration| migration.version);
    if let Some(pair) = migrations
        .windows(2)
        .find(|pair| pair[0].version == pair[1].version)
    {
        return Err(DbError::DuplicateMigration(pair[0].version));
    }
    Ok(Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: MIGRATOR.ignore_missing,
        locking: MIGRATOR.locking,
        no_tx: MIGRATOR.no_tx,
    })
}

/// Whether `migration` runs on `backend`: a migration whose file name ends
/// in `_sqlite.sql` or `_postgres.sql` (its description in ` sqlite` or
/// ` postgres`) is that backend's half of a change the two dialects make
/// differently (SQLite rebuilds a table where PostgreSQL alters a column);
/// each half has its own version, and a database records only its own.
pub fn runs_on(migration: &Migration, backend: DatabaseKind) -> bool {
    let description = migration.description.as_ref();
    match backend {
        DatabaseKind::Sqlite => !description.ends_with(" postgres"),
        DatabaseKind::Postgres => !description.ends_with(" sqlite"),
    }
}

/// [`combined_migrator`] without the other backend's halves (see [`runs_on`]).
pub fn backend_migrator(modules: &[&Migrator], backend: DatabaseKind) -> Result<Migrator, DbError> {
    let mut migrator = combined_migrator(modules)?;
    migrator.migrations = Cow::Owned(
        migrator
            .migrations
            .iter()
            .filter(|migration| runs_on(migration, backend))
            .cloned()
            .collect(),
    );
    Ok(migrator)
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("two migrations have the version {0}")]
    DuplicateMigration(i64),
    #[error(transparent)]
    Query(#[from] sqlx::Error),
}

/// The placeholders of a multi-row `VALUES`: `rows` groups of `columns`
/// parameters, bound in row order. PostgreSQL gets `$1, $2, …`; SQLite
/// gets anonymous `?`s, bound in order: a numbered parameter there (`$N`
/// or `?N`) is found by a linear search of the statement's parameter list,
/// once by SQLite when it parses and once more by sqlx when it binds —
/// quadratic in the parameters, 0.4–1 s for an 18,000-parameter insert.
pub fn values_placeholders(conn: &AnyConnection, rows: usize, columns: usize) -> String {
    let numbered = !conn.backend_name().eq_ignore_ascii_case("sqlite");
    let mut values = String::with_capacity(rows * columns * 8);
    for row in 0..rows {
        if row > 0 {
            values.push_str(", ");
        }
        values.push('(');
        for column in 1..=columns {
            if column > 1 {
                values.push_str(", ");
            }
            if numbered {
                values.push('$');
                values.push_str(&(row * columns + column).to_string());
            } else {
                values.push('?');
            }
        }
        values.push(')');
    }
    values
}

/// A pool of connections and the dialect behind it, and the read
/// replicas' pools when there are any. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: DatabaseKind,
    replicas: Option<Arc<Replicas>>,
    /// SQLite's file, read on the calling thread by the hottest reads.
    reader: Option<SqliteReader>,
}

impl Db {
    /// Connects as configured, creating the data directory for SQLite.
    pub async fn connect(config: &Config) -> Result<Self, DbError> {
        let backend = config
            .database_kind()
            .map_err(|e| DbError::Connect(sqlx::Error::Configuration(e.into())))?;
        if backend == DatabaseKind::Sqlite && config.database_url.is_none() {
            std::fs::create_dir_all(&config.data_dir).map_err(|source| DbError::DataDir {
                path: config.data_dir.display().to_string(),
                source,
            })?;
        }
        let db = Self::connect_url(
            &config.effective_database_url(),
            backend,
            config.database_max_connections,
        )
        .await?;
        if config.database_read_url.is_empty() {
            return Ok(db);
        }
        let urls: Vec<&str> = config
            .database_read_url
            .iter()
            .map(Secret::expose_str)
            .collect();
        db.with_replicas(
            &urls,
            Duration::from_millis(config.database_read_max_lag_ms),
            config.database_max_connections,
        )
    }

    /// This database with read replicas at `urls` (PostgreSQL), each
    /// skipped while it lags by more than `max_lag` or does not answer.
    pub fn with_replicas(
        mut self,
        urls: &[&str],
        max_lag: Duration,
        max_connections: u32,
    ) -> Result<Self, DbError> {
        let replicas = Replicas::start(urls, max_lag, max_connections).map_err(DbError::Connect)?;
        self.replicas = Some(replicas);
        Ok(self)
    }

    /// Connects to `url`, which must be of the `backend` dialect.
    pub async fn connect_url(
        url: &str,
        backend: DatabaseKind,
        max_connections: u32,
    ) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10));
        let options = match backend {
            DatabaseKind::Sqlite => options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; the busy
                    // timeout makes a second writer wait instead of failing.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            DatabaseKind::Postgres => options,
        };
        let pool = options.connect(url).await.map_err(DbError::Connect)?;
        let reader = match backend {
            DatabaseKind::Sqlite => SqliteReader::for_url(url),
            DatabaseKind::Postgres => None,
        };
        Ok(Self {
            pool,
            backend,
            replicas: None,
            reader,
        })
    }

    /// Applies every migration not yet applied: core's and `modules'`, as
    /// one set in version order (see [`combined_migrator`]). Safe to run
    /// from several instances at once: sqlx takes a lock on PostgreSQL.
    ///
    /// On SQLite the migrations run on one connection with foreign keys
    /// off, as SQLite asks for a table rebuilt to change a column: dropping
    /// the old table then deletes nothing that refers to it. The keys are
    /// checked afterwards and turned back on.
    pub async fn migrate(&self, modules: &[&Migrator]) -> Result<(), DbError> {
        let migrator = backend_migrator(modules, self.backend)?;
        match self.backend {
            DatabaseKind::Postgres => migrator.run(&self.pool).await?,
            DatabaseKind::Sqlite => {
                let mut conn = self.pool.acquire().await?;
                conn.execute("PRAGMA foreign_keys = OFF").await?;
                let before = applied_migrations(&mut conn).await;
                let outcome = migrator.run(&mut *conn).await;
                // The check reads every table: only after a migration ran
                // (not at every start, where it grew with the database).
                let dangling = if applied_migrations(&mut conn).await != before {
                    sqlx::query("PRAGMA foreign_key_check")
                        .fetch_all(&mut *conn)
                        .await
                        .map(|rows| rows.len())
                } else {
                    Ok(0)
                };
                conn.execute("PRAGMA foreign_keys = ON").await?;
                outcome?;
                let dangling = dangling?;
                if dangling > 0 {
                    tracing::warn!(
                        rows = dangling,
                        "after migrating, rows refer to rows that do not exist (PRAGMA foreign_key_check)"
                    );
                }
            }
        }
        Ok(())
    }

    /// Starts a transaction that will write. On SQLite it takes the write
    /// lock up front (`BEGIN IMMEDIATE`): a deferred transaction that reads
    /// and then writes fails at once with SQLITE_BUSY when another
    /// connection wrote in between, instead of waiting its turn.
    ///
    /// The wait for a connection of the pool is measured
    /// (`db_pool_acquire_seconds`, and `db_pool_acquire_timeouts_total`
    /// when it ran out).
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        let started = std::time::Instant::now();
        let acquired = self.pool.acquire().await;
        metrics::histogram!("db_pool_acquire_seconds").record(started.elapsed().as_secs_f64());
        let conn = match acquired {
            Ok(conn) => conn,
            Err(error) => {
                if matches!(error, sqlx::Error::PoolTimedOut) {
                    metrics::counter!("db_pool_acquire_timeouts_total").increment(1);
                }
                return Err(error);
            }
        };
        let statement = match self.backend {
            DatabaseKind::Sqlite => Some(Cow::Borrowed("BEGIN IMMEDIATE")),
            DatabaseKind::Postgres => None,
        };
        // What `Pool::begin_with` does, with the wait measured apart.
        sqlx::Transaction::begin(conn, statement).await
    }

    /// A transaction on a connection the caller holds (a background
    /// task that keeps one connection, and with it the statements it
    /// prepared), begun as [`Db::begin`] begins one.
    pub async fn begin_on<'c>(
        &self,
        conn: &'c mut sqlx::AnyConnection,
    ) -> Result<sqlx::Transaction<'c, sqlx::Any>, sqlx::Error> {
        let statement = match self.backend {
            DatabaseKind::Sqlite => Some(Cow::Borrowed("BEGIN IMMEDIATE")),
            DatabaseKind::Postgres => None,
        };
        sqlx::Transaction::begin(conn, statement).await
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// SQLite's reader on the calling thread (see [`SqliteReader`]), for a
    /// store's hottest reads of one row; `None` on PostgreSQL and for an
    /// in-memory SQLite database.
    pub fn sqlite_reader(&self) -> Option<&SqliteReader> {
        self.reader.as_ref()
    }

    /// The primary's pool: every write, and every read that must see
    /// the latest writes (a read after a write in the same request,
    /// sign-in, key verification, checkout).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for a read that tolerates lag (lists, dashboards,
    /// exports, figures): a healthy replica's when one is configured, the
    /// primary's otherwise. Use it only for a request that has not
    /// written: a replica may not have the write yet.
    pub fn reader(&self) -> &AnyPool {
        self.replicas
            .as_deref()
            .and_then(Replicas::pick)
            .unwrap_or(&self.pool)
    }

    /// Runs the lag-tolerant read `run` on [`Db::reader`]'s pool, and
    /// again on the primary's if the replica it was given fails it by
    /// going away (see [`Replicas`]): a replica stopping between two lag
    /// checks never fails a read. `run` may thus run twice; it must only
    /// read. (The pool is handed over by value, a cheap clone, so that
    /// the future stays `Send` for any borrow it holds.)
    pub async fn read<T, F, Answer>(&self, run: F) -> Result<T, sqlx::Error>
    where
        F: Fn(AnyPool) -> Answer,
        Answer: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        match &self.replicas {
            Some(replicas) => replicas.read(&self.pool, run).await,
            None => run(self.pool.clone()).await,
        }
    }

    /// The replicas, when any are configured (checks and tests).
    pub fn replicas(&self) -> Option<&Replicas> {
        self.replicas.as_deref()
    }

    pub fn backend(&self) -> DatabaseKind {
        self.backend
    }

    /// Runs one statement with no parameters (administration and tests).
    pub async fn execute_raw(&self, sql: &str) -> Result<AnyQueryResult, DbError> {
        Ok(self.pool.execute(sql).await?)
    }

    /// Closes every connection; waits for checked-out ones to come back.
    pub async fn close(&self) {
        if let Some(replicas) = &self.replicas {
            replicas.close().await;
        }
        self.pool.close().await;
    }
}

/// The current time as stored in the database: Unix milliseconds.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// How many migrations the database has applied (0 before the first: no
/// bookkeeping table yet).
async fn applied_migrations(conn: &mut sqlx::pool::PoolConnection<Any>) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut **conn)
        .await
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrations_apply_twice_on_sqlite_with_foreign_keys_on() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect_url(&url, DatabaseKind::Sqlite, 2)
            .await
            .unwrap();
        db.migrate(&[]).await.unwrap();
        db.migrate(&[]).await.unwrap();
        let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        db.ping().await.unwrap();
    }

    /// The foreign-key check after migrating runs only when a migration
    /// ran: the count it compares moves on the first start, not the next.
    #[tokio::test]
    async fn applied_migrations_move_only_when_one_runs() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect_url(&url, DatabaseKind::Sqlite, 1)
            .await
            .unwrap();
        let mut conn = db.pool().acquire().await.unwrap();
        assert_eq!(applied_migrations(&mut conn).await, 0, "a new database");
        drop(conn);
        db.migrate(&[]).await.unwrap();
        let mut conn = db.pool().acquire().await.unwrap();
        let first = applied_migrations(&mut conn).await;
        assert!(first > 0, "the first start applied the migrations");
        drop(conn);
        db.migrate(&[]).await.unwrap();
        let mut conn = db.pool().acquire().await.unwrap();
        assert_eq!(
            applied_migrations(&mut conn).await,
            first,
            "nothing to apply"
        );
    }

    #[test]
    fn a_version_given_twice_is_refused() {
        let error = combined_migrator(&[&MIGRATOR]).unwrap_err();
        assert!(
            matches!(error, DbError::DuplicateMigration(version) if version == MIGRATOR.iter().next().unwrap().version),
            "{error}"
        );
        let alone = combined_migrator(&[]).unwrap();
        let versions: Vec<i64> = alone.iter().map(|m| m.version).collect();
        let expected: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        assert_eq!(versions, expected);
    }
}
