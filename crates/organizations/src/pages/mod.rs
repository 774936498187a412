//! The organization's console pages: its team (members, roles,
//! invitations, and the invitation mail's link), its settings, its audit
//! log and its events.

mod audit;
mod events;
mod invitation;
mod settings;
mod team;

use axum::extract::FromRef;
use landlord_identity::permissions;
use landlord_keys::KeysState;

use landlord_console::{ConsoleState, Module, NavEntry, NavGroup, Templates};

/// What the organization's pages need: the shell's state and the keys'
/// (a member's departure revokes their keys).
#[derive(Clone)]
pub struct Pages {
    console: ConsoleState,
    pub keys: KeysState,
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

/// The organization's templates.
const TEMPLATES: Templates = template_files!(
    "accept_invitation.html",
    "team.html",
    "team_confirm.html",
    "settings.html",
    "audit.html",
    "events.html",
);

/// The organization's pages, templates and navigation entries.
pub fn console_pages(keys: KeysState) -> Module {
    Module::new("organizations")
        .templates(TEMPLATES)
        .routes(move |console| {
            invitation::routes()
                .merge(team::routes())
                .merge(settings::routes())
                .merge(audit::routes())
                .merge(events::routes())
                .with_state(Pages { console, keys })
        })
        .organization_nav(NavEntry::new("team", "Team", "/team", 30))
        .organization_nav(
            NavEntry::new("audit", "Audit log", "/audit", 50).requires(permissions::VIEW_AUDIT_LOG),
        )
        .organization_nav(
            NavEntry::new("events", "Events", "/events", 60)
                .requires(permissions::VIEW_EVENTS)
                .in_group(NavGroup::DEVELOPERS),
        )
        .organization_nav(NavEntry::new("settings", "Settings", "/settings", 40))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        landlord_console::check_templates(super::TEMPLATES)
            .unwrap_or_else(|error| panic!("{error}"));
    }
}
