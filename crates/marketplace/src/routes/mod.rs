//! The marketplace's routes under `/api/v1/marketplace` and
//! `/api/v1/admin/marketplace` (thin: each calls the feature).

pub mod admin;
pub mod buyer;
pub mod storefront;
pub mod vendor;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::MarketplaceState;

pub const TAG: &str = "Marketplace";

/// The module's routes.
pub fn router() -> OpenApiRouter<MarketplaceState> {
    use self::{admin as ad, buyer as by, storefront as sf, vendor as vd};
    OpenApiRouter::new()
        .routes(routes!(vd::apply, vd::get, vd::update))
        .routes(routes!(vd::create_product, vd::products))
        .routes(routes!(vd::product, vd::update_product))
        .routes(routes!(vd::orders))
        .routes(routes!(vd::order))
        .routes(routes!(vd::set_status))
        .routes(routes!(vd::reviews))
        .routes(routes!(vd::reply))
        .routes(routes!(vd::ledger))
        .routes(routes!(vd::payouts))
        .routes(routes!(sf::products))
        .routes(routes!(sf::product))
        .routes(routes!(sf::product_reviews))
        .routes(routes!(sf::store))
        .routes(routes!(by::cart))
        .routes(routes!(by::add_line))
        .routes(routes!(by::set_quantity, by::remove_line))
        .routes(routes!(by::checkout))
        .routes(routes!(by::orders))
        .routes(routes!(by::order))
        .routes(routes!(by::cancel))
        .routes(routes!(by::review))
        .routes(routes!(ad::vendors))
        .routes(routes!(ad::approve))
        .routes(routes!(ad::suspend))
        .routes(routes!(ad::reject))
        .routes(routes!(ad::figures))
        .routes(routes!(ad::payouts))
        .routes(routes!(ad::run_payouts))
        .routes(routes!(ad::retry_payout))
}
