//! The Apps module's console pages:
//! - [`developer`][]: the organization's apps (create, settings, redirect
//!   URIs, credentials shown once, rotate the secret, submit for review);
//! - [`operator`][]: the operator's review queue (publish, suspend with a
//!   reason);
//! - [`consent`][]: `/oauth/authorize`'s sign-in and consent page;
//! - [`authorized`][]: the account's authorized apps, with revoke;
//! - [`directory`][]: the public directory, an app's page with install,
//!   and the organization's installed apps with uninstall.

mod authorized;
pub(crate) mod consent;
mod developer;
mod directory;
mod domains;
mod operator;

use axum::extract::FromRef;
use axum::Router;
use landlord_console::{ConsoleState, Module, NavGroup, Templates};

use crate::AppsState;

/// The module's group of the console's navigation.
pub const GROUP: NavGroup = NavGroup::new("apps", "Apps", 60);

/// What the module's pages need: the shell's state and the module's.
#[derive(Clone)]
pub struct Pages {
    console: ConsoleState,
    pub apps: AppsState,
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

/// The module's templates, by page family.
const TEMPLATES: Templates = template_files!(
    // The developer's apps.
    "developer_apps.html",
    "developer_app_fields.html",
    "developer_app_new.html",
    "developer_app.html",
    "developer_app_confirm.html",
    "developer_app_domains.html",
    "developer_app_domain_remove.html",
    "developer_app_traffic.html",
    // The operator's review queue.
    "operator_apps.html",
    // Consent.
    "apps_consent.html",
    "apps_oauth_error.html",
    // Authorized apps.
    "authorized_apps.html",
    // The directory and installations.
    "directory.html",
    "directory_app.html",
    "directory_install.html",
    "installed_apps.html",
    "installed_app_uninstall.html",
    // The gateway secret.
    "developer_app_gateway.html",
    "developer_app_gateway_confirm.html",
);

/// The module's pages, templates and navigation entries.
pub fn console_pages(apps: AppsState) -> Module {
    let module = Module::new("apps")
        .templates(TEMPLATES)
        .stylesheet(include_str!("../../static/apps.css"))
        .routes(move |console| {
            Router::new()
                .merge(developer::routes())
                .merge(domains::routes())
                .merge(operator::routes())
                .merge(consent::routes())
                .merge(authorized::routes())
                .merge(directory::routes())
                .with_state(Pages { console, apps })
        });
    let module = developer::navigation(module);
    let module = operator::navigation(module);
    let module = authorized::navigation(module);
    directory::navigation(module)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        landlord_console::check_templates(super::TEMPLATES)
            .unwrap_or_else(|error| panic!("{error}"));
    }
}
