//! The organization's billing pages in the console (`/o/{organization_id}/billing`):
//! the plan and its change, checkout, invoices. They live here rather than in
//! the billing crate because checkout and the payment providers are this
//! crate's, and this crate depends on billing.

mod billing;

use axum::extract::FromRef;
use landlord_identity::permissions;

use crate::routes::PaymentsState;

use landlord_console::{ConsoleState, Module, NavEntry, NavGroup, Templates};

/// What these pages need: the shell's state and the feature's services.
#[derive(Clone)]
pub struct Pages {
    console: ConsoleState,
    pub payments: PaymentsState,
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
const TEMPLATES: Templates = template_files!(
    "billing.html",
    "billing_change.html",
    "billing_invoice.html"
);

/// The billing pages, templates and navigation entry.
pub fn console_pages(payments: PaymentsState) -> Module {
    Module::new("billing")
        .templates(TEMPLATES)
        .routes(move |console| billing::routes().with_state(Pages { console, payments }))
        .organization_nav(
            NavEntry::new("billing", "Billing", "/billing", 40)
                .requires(permissions::VIEW_BILLING)
                .in_group(NavGroup::BILLING),
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
