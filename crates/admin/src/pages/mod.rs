//! The operator console's core pages (`/operator`): the figures, the
//! organizations, the payment providers' webhooks, the jobs and the
//! discrepancies. The shell keeps the operator check and the
//! sub-navigation; other modules add their own sections.

mod mail_suppressions;
mod operator;

use axum::extract::FromRef;
use landlord_payments::routes::PaymentsState;

use landlord_console::{ConsoleState, Module, NavEntry, Templates};

/// What the operator pages need: the shell's state and the admin's
/// services.
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

/// The operator pages' templates.
const TEMPLATES: Templates = template_files!(
    "operator_figures.html",
    "operator_webhooks.html",
    "operator_organizations.html",
    "operator_jobs.html",
    "operator_discrepancies.html",
    "operator_mail_suppressions.html",
);

/// The operator console's core pages and templates (their sections are
/// the shell's sub-navigation).
pub fn console_pages(payments: PaymentsState) -> Module {
    Module::new("operator")
        .templates(TEMPLATES)
        .routes(move |console| {
            operator::routes()
                .merge(mail_suppressions::routes())
                .with_state(Pages { console, payments })
        })
        .operator_nav(NavEntry::new("figures", "Figures", "/operator", 10))
        .operator_nav(NavEntry::new(
            "organizations",
            "Organizations",
            "/operator/organizations",
            20,
        ))
        .operator_nav(NavEntry::new(
            "webhooks",
            "Webhook events",
            "/operator/webhooks",
            30,
        ))
        .operator_nav(NavEntry::new(
            "discrepancies",
            "Discrepancies",
            "/operator/discrepancies",
            40,
        ))
        .operator_nav(NavEntry::new(
            "jobs",
            "Jobs and mails",
            "/operator/jobs",
            50,
        ))
        .operator_nav(NavEntry::new(
            "mail_suppressions",
            "Mail suppressions",
            "/operator/mail-suppressions",
            55,
        ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        landlord_console::check_templates(super::TEMPLATES)
            .unwrap_or_else(|error| panic!("{error}"));
    }
}
