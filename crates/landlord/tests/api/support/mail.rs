//! What the outbox holds and what arrived: the mail jobs, and the checks on
//! a received mail's text.

use std::time::Duration;

use super::eventually::eventually;
use super::smtp::ReceivedMail;
use super::TestApp;

/// Words that betray a missing value rendered into a mail.
pub fn assert_no_placeholder(mail: &ReceivedMail) {
    let text = mail.decoded();
    for word in ["None", "none", "null", "undefined"] {
        assert!(!text.contains(word), "{word:?} in {text}");
    }
}

/// Waits until no mail job is left to run, so what the SMTP server has is
/// all that will come.
pub async fn wait_for_mail_outbox(app: &TestApp) {
    eventually(
        "the mail jobs to finish",
        Duration::from_secs(20),
        async || {
            let (left,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM jobs WHERE kind = 'mail.send' AND status IN ('pending', 'running')",
            )
            .fetch_one(app.db.pool())
            .await
            .expect("jobs");
            (left == 0).then_some(())
        },
    )
    .await
}

/// Every stored job, as text: what a database dump would show.
pub async fn jobs_dump(app: &TestApp) -> String {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT kind, payload, last_error FROM jobs")
            .fetch_all(app.db.pool())
            .await
            .expect("jobs");
    assert!(!rows.is_empty());
    format!("{rows:?}")
}
