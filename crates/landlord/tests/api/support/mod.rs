//! The test harness: spawns the app per test, provides throwaway databases.

pub mod app;
pub mod postgres;
pub mod redis;

pub use app::{Backend, TestApp};

/// Declares each listed `async fn(TestApp)` as two tests, `sqlite::name` and
/// `postgres::name`. The PostgreSQL variant is reported as skipped, by name,
/// when PostgreSQL's binaries are missing (and fails instead under CI).
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await;
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test = concat!(module_path!(), "::", stringify!($name));
                    let Some(app) = $crate::support::TestApp::spawn_postgres(test).await else {
                        return;
                    };
                    super::$name(app).await;
                }
            )*
        }
    };
}
