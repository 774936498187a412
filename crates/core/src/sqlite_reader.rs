//! SQLite's hottest point reads, on the thread that asks.
//!
//! sqlx runs each SQLite connection on a thread of its own: a query is
//! handed to that thread and its rows handed back, with a wake-up on
//! either side, and the `Any` driver converts every row twice. For a read
//! of one row by its key that is most of the read's cost. A
//! [`SqliteReader`] instead keeps one connection per worker thread,
//! opened on the same file and kept read-only (`query_only`), and runs
//! the statement right there: WAL lets it read beside the pool's writer,
//! and it sees every committed write. Only a store's few hot reads use it
//! (a message's status, a product's public page); everything else, and
//! every read inside a transaction, stays on the pool.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use rusqlite;
use rusqlite::{OpenFlags, OptionalExtension};

/// How many databases' connections a thread keeps (one in a server; the
/// tests start many servers in one process).
const CONNECTIONS_PER_THREAD: usize = 8;

/// As long as the pool's connections wait for a lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads of one SQLite file on the calling thread. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteReader {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Tells this database's connections from another's on a thread.
    id: u64,
    path: PathBuf,
}

thread_local! {
    static CONNECTIONS: RefCell<Vec<(u64, rusqlite::Connection)>> = const { RefCell::new(Vec::new()) };
}

impl SqliteReader {
    /// A reader of the file a `sqlite:` URL names; `None` for an
    /// in-memory database (which no second connection can see).
    pub fn for_url(url: &str) -> Option<Self> {
        let path = sqlite_file(url)?;
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Some(Self {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                path,
            }),
        })
    }

    /// The first row `sql` answers for `params`, made by `map`; `None`
    /// when there is none. The statement stays prepared on this thread.
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, map: F) -> rusqlite::Result<Option<T>>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        CONNECTIONS.with(|cell| {
            let mut connections = cell.borrow_mut();
            let index = match connections.iter().position(|(id, _)| *id == self.inner.id) {
                Some(index) => index,
                None => {
                    let connection = self.open()?;
                    if connections.len() == CONNECTIONS_PER_THREAD {
                        connections.remove(0);
                    }
                    connections.push((self.inner.id, connection));
                    connections.len() - 1
                }
            };
            let mut statement = connections[index].1.prepare_cached(sql)?;
            statement.query_row(params, map).optional()
        })
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        // Opened for writing (a read-only connection cannot always join a
        // WAL database) but refusing any write.
        let connection = rusqlite::Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "query_only", true)?;
        Ok(connection)
    }
}

/// The file of a `sqlite://path?options` or `sqlite:path` URL; `None` for
/// `sqlite::memory:` and `mode=memory`.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, options) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty()
        || path == ":memory:"
        || options.split('&').any(|option| option == "mode=memory");
    (!in_memory).then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_file_and_memory_has_none() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/landlord/landlord.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/landlord/landlord.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:data/l.db"),
            Some(PathBuf::from("data/l.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(
            sqlite_file("sqlite://shared?mode=memory&cache=shared"),
            None
        );
        assert_eq!(sqlite_file("postgres://localhost/landlord"), None);
    }

    #[test]
    fn a_reader_sees_committed_writes_and_refuses_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("reader.db");
        let writer = rusqlite::Connection::open(&file).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER); \
                 INSERT INTO t VALUES ('a', 1);",
            )
            .unwrap();
        let reader =
            SqliteReader::for_url(&format!("sqlite://{}?mode=rwc", file.display())).unwrap();
        let read = |id: &str| {
            reader
                .query_row("SELECT n FROM t WHERE id = ?1", [id], |row| {
                    row.get::<_, i64>(0)
                })
                .unwrap()
        };
        assert_eq!(read("a"), Some(1));
        assert_eq!(read("b"), None);
        writer
            .execute("UPDATE t SET n = 2 WHERE id = 'a'", [])
            .unwrap();
        assert_eq!(read("a"), Some(2), "the cached statement sees the new row");
        let refused = reader.query_row("DELETE FROM t RETURNING n", [], |row| row.get::<_, i64>(0));
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(read("a"), Some(2));
    }
}
