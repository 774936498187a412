//! The console's webhook pages (`/o/{organization_id}/webhooks`): the
//! endpoints, an endpoint's page, its secret and its attempt log,
//! registered with the console's shell.

mod endpoints;

use landlord_console::{Module, NavEntry, NavGroup, Templates};
use landlord_identity::permissions;

macro_rules! template_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

/// The webhook pages' templates.
const TEMPLATES: Templates = template_files!(
    "webhooks.html",
    "webhook.html",
    "webhook_confirm.html",
    "webhook_types.html",
);

/// The webhook pages, their templates and navigation entry.
pub fn console_pages() -> Module {
    Module::new("webhooks")
        .templates(TEMPLATES)
        .routes(|console| endpoints::routes().with_state(console))
        .organization_nav(
            NavEntry::new("webhooks", "Webhooks", "/webhooks", 30)
                .requires(permissions::MANAGE_WEBHOOKS)
                .in_group(NavGroup::DEVELOPERS),
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
