//! The Marketplace's console pages: the buyer's storefront, cart and
//! orders (`/marketplace`), a vendor organization's store
//! (`/o/{organization_id}/store`) and the operator's vendors and payouts
//! (`/operator/marketplace`).

mod market;
mod operator;
mod store;

use crate::MarketplaceState;
use axum::extract::FromRef;
use axum::Router;

use landlord_console::{ConsoleState, Module, NavEntry, NavGroup, Templates};

/// The marketplace's group of the console's navigation: shopping, and the
/// organization's store.
const GROUP: NavGroup = NavGroup::new("marketplace", "Marketplace", 50);

/// What the Marketplace's pages need: the shell's state and the
/// module's services.
#[derive(Clone)]
pub struct Pages {
    console: ConsoleState,
    /// The Marketplace's services.
    pub marketplace: MarketplaceState,
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

/// The Marketplace's templates.
const TEMPLATES: Templates = template_files!(
    "market_nav.html",
    "market.html",
    "market_product.html",
    "market_cart.html",
    "market_orders.html",
    "market_order.html",
    "store_nav.html",
    "store_form.html",
    "store_payout_form.html",
    "store.html",
    "store_product_form.html",
    "store_products.html",
    "store_product.html",
    "store_orders.html",
    "store_order.html",
    "store_earnings.html",
    "store_reviews.html",
    "operator_marketplace.html",
    "operator_marketplace_payouts.html",
    "operator_marketplace_tabs.html",
);

/// The Marketplace's pages, templates and navigation entries.
pub fn console_pages(marketplace: MarketplaceState) -> Module {
    Module::new("marketplace")
        .templates(TEMPLATES)
        .stylesheet(include_str!("../../static/marketplace.css"))
        .routes(move |console| {
            Router::new()
                .merge(market::routes())
                .merge(store::routes())
                .merge(operator::routes())
                .with_state(Pages {
                    console,
                    marketplace,
                })
        })
        .organization_nav(
            NavEntry::new("store", "Store", "/store", 20)
                .requires(crate::permissions::MANAGE_PRODUCTS)
                .in_group(GROUP),
        )
        .personal_nav(
            NavEntry::new("marketplace", "Marketplace", "/marketplace", 10).in_group(GROUP),
        )
        .operator_nav(NavEntry::new(
            "marketplace",
            "Marketplace",
            "/operator/marketplace",
            70,
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
