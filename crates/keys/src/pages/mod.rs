//! The organization's API keys in the console (`/o/{organization_id}/keys`).

mod keys;

use crate::KeysState;
use axum::extract::FromRef;

use landlord_console::{ConsoleState, Module, NavEntry, NavGroup, Templates};

/// What these pages need: the shell's state and the feature's services.
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

/// The pages' templates.
const TEMPLATES: Templates =
    template_files!("keys.html", "key.html", "key_new.html", "key_revoke.html");

/// The keys pages, templates and navigation entry.
pub fn console_pages(keys: KeysState) -> Module {
    Module::new("keys")
        .templates(TEMPLATES)
        .routes(move |console| keys::routes().with_state(Pages { console, keys }))
        .organization_nav(
            NavEntry::new("keys", "API keys", "/keys", 20).in_group(NavGroup::DEVELOPERS),
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
