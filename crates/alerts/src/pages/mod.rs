//! The operator console's alerts page (`/operator/alerts`): the rules
//! pending or firing and the history; and its integrations page
//! (`/operator/integrations`): each integration's latest status.
//! Both registered with the console's shell.

use axum::extract::{FromRef, Query, State};
use axum::routing::get;
use axum::Router;
use landlord_console::{
    operator, operator_base, ConsoleState, Module, NavEntry, Page, PageError, Templates, Visitor,
};
use landlord_core::http::PageQuery;
use landlord_payments::routes::PaymentsState;
use serde::Deserialize;

/// The alerts and integrations pages' templates.
const TEMPLATES: Templates = &[
    (
        "operator_alerts.html",
        include_str!("../../templates/operator_alerts.html"),
    ),
    (
        "operator_integrations.html",
        include_str!("../../templates/operator_integrations.html"),
    ),
];

/// The alerts page, its template and its operator navigation entry.
pub fn console_pages(payments: PaymentsState) -> Module {
    Module::new("alerts")
        .templates(TEMPLATES)
        .routes(move |console| {
            Router::new()
                .route("/operator/alerts", get(alerts_page))
                .route("/operator/integrations", get(integrations_page))
                .with_state(Pages { console, payments })
        })
        .operator_nav(NavEntry::new("alerts", "Alerts", "/operator/alerts", 60))
        .operator_nav(NavEntry::new(
            "integrations",
            "Integrations",
            "/operator/integrations",
            61,
        ))
}

/// What the alerts page needs: the shell's state and the admin's
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

/// The alerts page's history cursor.
#[derive(Debug, Default, Deserialize)]
pub struct AlertsQuery {
    cursor: Option<String>,
}

/// `GET /operator/alerts`: the rules pending or firing and the history of
/// firings and resolutions, paged: `GET /admin/alerts`' overview.
pub async fn alerts_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Query(query): Query<AlertsQuery>,
) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    let page = PageQuery {
        limit: None,
        cursor: query.cursor.clone(),
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let (overview, meta) = crate::routes::overview(&state.payments, &page).await?;
    let mut context = operator_base(&state, &visitor, "Alerts", "alerts").await?;
    let value = serde_json::to_value(&overview).unwrap_or_default();
    context.insert("active".into(), value["active"].clone());
    context.insert("history".into(), value["history"].clone());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("paged".into(), query.cursor.is_some().into());
    Page::render("operator_alerts.html", context)
}

/// `GET /operator/integrations`: each configured integration's latest
/// status, `GET /admin/integrations`' list.
pub async fn integrations_page(
    State(state): State<Pages>,
    visitor: Visitor,
) -> Result<Page, PageError> {
    operator(&state, &visitor).await?;
    let integrations = crate::routes::integration_health(&state.payments).await?;
    let mut context = operator_base(&state, &visitor, "Integrations", "integrations").await?;
    context.insert(
        "integrations".into(),
        serde_json::to_value(&integrations).unwrap_or_default(),
    );
    Page::render("operator_integrations.html", context)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        landlord_console::check_templates(super::TEMPLATES)
            .unwrap_or_else(|error| panic!("{error}"));
    }
}
