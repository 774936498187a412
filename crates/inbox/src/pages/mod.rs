//! The Inbox's console pages: the organization's inbox
//! (`/o/{organization_id}/inbox`), its live stream, its channel settings,
//! its reports, and the page's script (`/static/inbox.js`).

mod inbox;
mod reports;

use crate::live::Live;
use crate::InboxState;
use axum::extract::FromRef;
use axum::routing::get;

use landlord_console::{ConsoleState, Module, NavEntry, NavGroup, Templates};

/// What the Inbox's pages need: the shell's state and the module's
/// realtime wake-ups (the page's stream, replies).
#[derive(Clone)]
pub struct Pages {
    console: ConsoleState,
    pub live: Live,
    pub inbox: InboxState,
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

macro_rules! template_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

/// The Inbox's templates.
const TEMPLATES: Templates = template_files!(
    "inbox.html",
    "inbox_channels.html",
    "inbox_channel_confirm.html",
    "inbox_reports.html",
);

/// The inbox page's live updates and reply box helpers.
const SCRIPT: &str = include_str!("../../static/inbox.js");

/// The first 12 hex digits of the script's SHA-256, for its URL.
fn script_version() -> String {
    landlord_console::script_version(SCRIPT)
}

/// The Inbox's pages, templates and navigation entry.
pub fn console_pages(live: Live, inbox: InboxState) -> Module {
    Module::new("inbox")
        .templates(TEMPLATES)
        .stylesheet(include_str!("../../static/inbox.css"))
        .routes(move |console| {
            inbox::routes()
                .merge(reports::routes())
                .route(
                    "/static/inbox.js",
                    get(|| async { landlord_console::script(SCRIPT) }),
                )
                .with_state(Pages {
                    console,
                    live,
                    inbox,
                })
        })
        .organization_nav(
            NavEntry::new("inbox", "Inbox", "/inbox", 10)
                .requires(crate::permissions::USE_INBOX)
                .in_group(NavGroup::new("inbox", "Inbox", 40)),
        )
        .organization_nav(
            NavEntry::new("inbox_reports", "Reports", "/inbox/reports", 20)
                .requires(crate::permissions::USE_INBOX)
                .in_group(NavGroup::new("inbox", "Inbox", 40)),
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        landlord_console::check_templates(super::TEMPLATES)
            .unwrap_or_else(|error| panic!("{error}"));
    }
}
