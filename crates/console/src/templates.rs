//! The console's templates, compiled into the binary (minijinja, HTML
//! auto-escaped by the `.html` names).

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::web::{copy_script_version, inbox_script_version, stylesheet_version, PageError};

/// A template's values.
pub type Context = Map<String, Value>;

const PRODUCT: &str = "Landlord";

macro_rules! template_files {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Optional values (a form's errors, the signed-in session) may be
        // absent; reading into them renders nothing.
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.add_global("product", PRODUCT);
        env.add_global("css_version", stylesheet_version());
        env.add_global("copy_js_version", copy_script_version());
        env.add_global("inbox_js_version", inbox_script_version());
        for (name, source) in template_files!(
            "layout.html",
            "macros.html",
            "error.html",
            "message.html",
            "sign_up.html",
            "sign_in.html",
            "verify_email.html",
            "forgot_password.html",
            "reset_password.html",
            "overview.html",
            "accept_invitation.html",
            "keys.html",
            "key_new.html",
            "key_created.html",
            "key_revoke.html",
            "billing.html",
            "billing_change.html",
            "billing_invoice.html",
            "team.html",
            "team_confirm.html",
            "account.html",
            "sessions.html",
            "settings.html",
            "audit.html",
            "events.html",
            "webhooks.html",
            "webhook.html",
            "webhook_secret.html",
            "webhook_confirm.html",
            "webhook_types.html",
            "inbox.html",
            "inbox_channels.html",
            "inbox_channel_confirm.html",
            "operator_nav.html",
            "operator_figures.html",
            "operator_webhooks.html",
            "operator_organizations.html",
            "operator_jobs.html",
            "operator_discrepancies.html",
            "operator_alerts.html",
            "operator_marketplace.html",
            "market_nav.html",
            "market.html",
            "market_product.html",
            "market_cart.html",
            "market_orders.html",
            "market_order.html",
            "store_nav.html",
            "store_form.html",
            "store.html",
            "store_product_form.html",
            "store_products.html",
            "store_product.html",
            "store_orders.html",
            "store_order.html",
            "store_earnings.html",
            "store_reviews.html",
            "operator_marketplace_payouts.html",
            "operator_marketplace_tabs.html",
        ) {
            if let Err(error) = env.add_template(name, source) {
                // Compiled in and rendered by the tests: a build defect.
                tracing::error!(name, %error, "console template does not compile");
            }
        }
        env
    })
}

/// An empty context.
pub fn context() -> Context {
    Map::new()
}

/// Renders `name` with `context`.
pub fn render(name: &str, context: Context) -> Result<String, PageError> {
    environment()
        .get_template(name)
        .and_then(|template| template.render(Value::Object(context)))
        .map_err(|error| {
            PageError::Api(landlord_core::ApiError::internal(anyhow_free(format!(
                "console template {name}: {error}"
            ))))
        })
}

fn anyhow_free(message: String) -> std::io::Error {
    std::io::Error::other(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = environment();
        for (name, _) in env.templates() {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
        assert!(env.templates().count() >= 10);
    }
}
