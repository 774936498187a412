//! The operator console's backups page (`/operator/backups`): the
//! configuration in words, "Back up now", the last failure and its
//! reason, the snapshots with a download link each; on PostgreSQL, where
//! its own tools back it up. Registered with the console's shell; each
//! action calls the same function as its `/admin/backups` route and is
//! audited like it.

use std::time::Duration;

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use landlord_admin::PlatformAdmin;
use landlord_console::{
    operator, operator_base, ConsoleState, Flash, Module, NavEntry, Page, PageError, Templates,
    Visitor,
};
use landlord_core::http::client::ClientInfo;
use landlord_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::routes::{self, BackupsOverview, NowError};
use crate::snapshot::Backups;

/// The backups page's template.
const TEMPLATES: Templates = &[(
    "operator_backups.html",
    include_str!("../../templates/operator_backups.html"),
)];

/// PostgreSQL's own documentation: a copy with pg_dump, and WAL
/// archiving for point-in-time recovery.
pub const PG_DUMP_DOCS: &str = "https://www.postgresql.org/docs/current/backup-dump.html";
pub const PG_ARCHIVING_DOCS: &str =
    "https://www.postgresql.org/docs/current/continuous-archiving.html";

/// The backups page, its template and its operator navigation entry.
/// "Back up now" waits at most `wait` for the snapshot (keep it under the
/// request timeout).
pub fn console_pages(backups: Backups, wait: Duration) -> Module {
    Module::new("backups")
        .templates(TEMPLATES)
        .routes(move |console| {
            Router::new()
                .route("/operator/backups", get(backups_page).post(back_up_now))
                .route("/operator/backups/{name}/download", get(download))
                .with_state(Pages {
                    console,
                    backups,
                    wait,
                })
        })
        .operator_nav(NavEntry::new("backups", "Backups", "/operator/backups", 70))
}

/// What the backups page needs: the shell's state and the backups.
#[derive(Clone)]
pub struct Pages {
    console: ConsoleState,
    pub backups: Backups,
    wait: Duration,
}

impl std::ops::Deref for Pages {
    type Target = ConsoleState;

    fn deref(&self) -> &ConsoleState {
        &self.console
    }
}

impl FromRef<Pages> for ConsoleState {
    fn from_ref(pages: &Pages) -> ConsoleState {
        pages.console.clone()
    }
}

/// A size for people: `532 B`, `12.3 kB`, `4.56 MB`, `1.02 GB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for next in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = next;
    }
    if value < 10.0 {
        format!("{value:.2} {unit}")
    } else if value < 100.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

/// A number of seconds as the schedule reads: `15 minutes`, `1 hour`,
/// `90 seconds`.
pub fn interval_words(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if seconds.is_multiple_of(3600) {
        plural(seconds / 3600, "hour")
    } else if seconds.is_multiple_of(60) {
        plural(seconds / 60, "minute")
    } else {
        plural(seconds, "second")
    }
}

/// The page's values: the overview, with sizes and the schedule in words
/// and whether the last failure is newer than the last success.
fn page_values(overview: &BackupsOverview) -> Value {
    let mut value = serde_json::to_value(overview).unwrap_or_default();
    let snapshots: Vec<Value> = overview
        .snapshots
        .iter()
        .map(|snapshot| {
            let mut row = serde_json::to_value(snapshot).unwrap_or_default();
            row["archive_size"] = human_bytes(snapshot.archive_bytes).into();
            row["database_size"] = human_bytes(snapshot.database_bytes).into();
            row
        })
        .collect();
    value["snapshots"] = snapshots.into();
    value["interval_words"] = interval_words(overview.interval_secs).into();
    let failing = match (&overview.last_failure, &overview.last_success) {
        (Some(failure), Some(success)) => failure.at > success.at,
        (Some(_), None) => true,
        _ => false,
    };
    value["failing"] = failing.into();
    value["pg_dump_docs"] = PG_DUMP_DOCS.into();
    value["pg_archiving_docs"] = PG_ARCHIVING_DOCS.into();
    value
}

/// The page, with `error` (a refused or failed "back up now") in an
/// alert at its top, answered with `status`.
async fn render(
    state: &Pages,
    visitor: &Visitor,
    error: Option<String>,
    status: StatusCode,
) -> Result<Page, PageError> {
    let overview = routes::overview(&state.backups).await?;
    let mut context = operator_base(state, visitor, "Backups", "backups").await?;
    context.insert("backups".into(), page_values(&overview));
    context.insert("error".into(), json!(error));
    Ok(Page::render("operator_backups.html", context)?.status(status))
}

/// `GET /operator/backups`: `GET /admin/backups`' overview in words.
pub async fn backups_page(State(state): State<Pages>, visitor: Visitor) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    render(&state, &visitor, None, StatusCode::OK).await
}

/// The "back up now" form: its CSRF token only.
#[derive(Debug, Deserialize)]
pub struct BackUpForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /operator/backups`: "back up now", like `POST /admin/backups`
/// (audited). Back to the page with a notice once taken (or still
/// running); a refusal (409) or a failure (500) shows the page again with
/// the reason.
pub async fn back_up_now(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Form(form): Form<BackUpForm>,
) -> Result<Page, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    visitor.check_csrf(&state, &form.csrf)?;
    match routes::take_now(&state.backups, &admin, &client, state.wait).await {
        Ok(now) => {
            let flash = match &now.snapshot {
                Some(snapshot) => Flash::notice(format!(
                    "Backed up: {} ({}), read back from the destination and verified.",
                    snapshot.name,
                    human_bytes(snapshot.archive_bytes)
                )),
                None => Flash::notice(
                    "The backup is running: it is listed below when it is written and \
                     verified. Reload the page in a moment.",
                ),
            };
            Page::redirect_with(&state, &visitor, "/operator/backups", flash).await
        }
        Err(error) => {
            let (message, status) = match &error {
                NowError::Refused(_) => (
                    format!("Nothing was backed up: {}.", error.reason()),
                    StatusCode::CONFLICT,
                ),
                // Recorded: the last failure's panel below gives the reason.
                NowError::Failed(_) => (
                    "The backup failed: no snapshot was kept. The reason is below.".to_string(),
                    StatusCode::INTERNAL_SERVER_ERROR,
                ),
            };
            render(&state, &visitor, Some(message), status).await
        }
    }
}

/// `GET /operator/backups/{name}/download`: the archive, like
/// `GET /admin/backups/{name}/download` (audited); an unknown name is the
/// 404 page.
pub async fn download(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let admin = PlatformAdmin {
        user_id: operator(&state, &visitor).await?.user_id,
    };
    match routes::download_archive(&state.backups, &admin, &client, &name).await {
        Ok(response) => Ok(response),
        Err(ApiError::NotFound(_)) => Err(PageError::NotFound),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        landlord_console::check_templates(super::TEMPLATES)
            .unwrap_or_else(|error| panic!("{error}"));
    }

    #[test]
    fn sizes_and_intervals_read_as_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(12_345), "12.3 kB");
        assert_eq!(human_bytes(4_560_000), "4.56 MB");
        assert_eq!(human_bytes(1_020_000_000), "1.02 GB");
        assert_eq!(human_bytes(250_000_000), "250 MB");
        assert_eq!(interval_words(900), "15 minutes");
        assert_eq!(interval_words(60), "1 minute");
        assert_eq!(interval_words(3600), "1 hour");
        assert_eq!(interval_words(90), "90 seconds");
    }
}
