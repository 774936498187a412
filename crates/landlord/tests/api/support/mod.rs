//! The test harness: spawns the app per test, provides throwaway databases,
//! and the fixtures and assertions the scenario files share.

pub mod accounts;
pub mod app;
pub mod apps;
pub mod billing;
pub mod binary;
pub mod browser;
pub mod clock;
pub mod errors;
pub mod eventually;
pub mod gateway;
pub mod keys;
pub mod mail;
pub mod marketplace;
pub mod otlp;
pub mod payments;
pub mod postgres;
pub mod providers;
pub mod python;
pub mod receiver;
pub mod redis;
pub mod requests;
pub mod s3;
pub mod smtp;
pub mod team;
pub mod twilio;
pub mod whatsapp;

pub use app::{Backend, TestApp};

/// Declares each listed `async fn(Backend)` as two tests, `sqlite::name` and
/// `postgres::name`. The PostgreSQL variant is reported as skipped, by name,
/// when PostgreSQL's binaries are missing (and fails instead under CI).
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test = concat!(module_path!(), "::", stringify!($name));
                    if !$crate::support::app::postgres_ready(test) {
                        return;
                    }
                    super::$name($crate::support::Backend::Postgres).await;
                }
            )*
        }
    };
}
