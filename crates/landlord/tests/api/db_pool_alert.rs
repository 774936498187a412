//! The built-in alert on a database pool near its limit: every instance
//! reports its pool use, and the `db_pool_use` signal is the highest use
//! among the instances heard from within the window — on SQLite and
//! PostgreSQL.

use std::time::Duration;

use landlord_alerts::config::{default_rules, AlertSeverity, AlertSignal};
use landlord_alerts::evaluate::measure;
use landlord_alerts::store::report_pool_use;
use landlord_alerts::RequestLog;
use landlord_core::Timestamp;

use crate::backend_tests;
use crate::support::eventually::eventually;
use crate::support::{Backend, TestApp};

backend_tests!(
    the_pool_signal_is_the_busiest_instance_heard_from_lately,
    a_running_instance_reports_its_pool_use,
);

async fn the_pool_signal_is_the_busiest_instance_heard_from_lately(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let minute = Duration::from_secs(60);
    let now = Timestamp::now().plus(Duration::from_secs(3600));
    let value = async |at: Timestamp| {
        measure(&app.db, AlertSignal::DbPoolUse, minute, at, RequestLog::Raw)
            .await
            .expect("measured")
    };
    assert_eq!(value(now).await, 0.0, "nobody reported within the window");

    // Two instances: 5 of 10 connections and 9 of 10; a third, silent for
    // two minutes, used all of its pool.
    report_pool_use(&app.db, "a", 5.0, 10, now).await.unwrap();
    report_pool_use(&app.db, "b", 9.0, 10, now.minus(Duration::from_secs(20)))
        .await
        .unwrap();
    report_pool_use(&app.db, "c", 4.0, 4, now.minus(2 * minute))
        .await
        .unwrap();
    assert_eq!(value(now).await, 90.0);
    // b reports again, calmer: its newest report counts.
    report_pool_use(&app.db, "b", 2.0, 10, now).await.unwrap();
    assert_eq!(value(now).await, 50.0);

    let rule = &default_rules()["db_pool_use"];
    assert_eq!(rule.signal, AlertSignal::DbPoolUse);
    assert_eq!(rule.threshold, 80.0);
    assert_eq!(rule.severity, AlertSeverity::Warning);
    assert!(rule.enabled);
}

async fn a_running_instance_reports_its_pool_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Reported every 10 seconds: the running server's own figure arrives.
    let reported = eventually(
        "the instance's pool report",
        Duration::from_secs(30),
        async || {
            let n = app.count("SELECT COUNT(*) FROM db_pool_use", &[]).await;
            (n >= 1).then_some(n)
        },
    )
    .await;
    assert!(reported >= 1);
}
