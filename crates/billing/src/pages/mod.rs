//! The organization's overview in the console (`/o/{organization_id}`):
//! usage against the quota, by day, and the bill so far.

mod onboarding;
mod overview;

use crate::BillingState;
use axum::extract::FromRef;

use landlord_console::{ConsoleState, Module, NavEntry, Templates};

/// What these pages need: the shell's state and the feature's services.
#[derive(Clone)]
pub struct Pages {
    console: ConsoleState,
    pub billing: BillingState,
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
const TEMPLATES: Templates = template_files!("overview.html");

/// The overview page, its template and navigation entry.
pub fn console_pages(billing: BillingState) -> Module {
    Module::new("overview")
        .templates(TEMPLATES)
        .routes(move |console| overview::routes().with_state(Pages { console, billing }))
        .organization_nav(NavEntry::new("overview", "Overview", "", 0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        landlord_console::check_templates(super::TEMPLATES)
            .unwrap_or_else(|error| panic!("{error}"));
    }
}
