//! The Marketplace for buyers (`/marketplace…`, any signed-in person): the
//! storefront (full-text search, category, price range, near a point;
//! paged), a product's page (description, images, store, reviews, add to
//! cart), the cart (quantities, removal, checkout on the provider's hosted
//! page), and the buyer's orders (status, each store's part with its
//! tracking, pay or cancel while unpaid, a review per delivered item).
//! Each page calls the same `landlord_marketplace` function as its
//! `/marketplace` API route; another buyer's order is the 404 page.
//!
//! The helpers at the end (money, ratings, amounts typed in major units,
//! locations) serve the store's and the operator's marketplace pages too.

use super::Pages;
use crate::cart::{self, AddLineRequest, SetQuantityRequest};
use crate::catalog::{self, CatalogQuery};
use crate::checkout::{self, order_view, CheckoutRequest};
use crate::ids::{MarketplaceOrderId, ProductId};
use crate::reviews::{self, ReviewRequest};
use crate::store::{self as market_store, OrderStatus, PayoutProvider, VendorOrderStatus};
use crate::views::{
    CartView, Location, OrderView, ProductView, Rating, ReviewView, ShippingAddress,
};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_billing::money::format_money;
use landlord_console::{
    base, encode, refusal, sentence, Context, FormErrors, Page, PageError, Visitor,
};
use landlord_core::http::{ApiSuccess, PageQuery};
use landlord_core::idempotency::{idempotent, Scope};
use landlord_core::ApiError;
use landlord_identity::CurrentUser;
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/marketplace", get(storefront))
        .route("/marketplace/products/{product_id}", get(product))
        .route("/marketplace/products/{product_id}/cart", post(add_to_cart))
        .route("/marketplace/cart", get(cart_page))
        .route("/marketplace/cart/lines/{line_id}", post(set_quantity))
        .route(
            "/marketplace/cart/lines/{line_id}/remove",
            post(remove_line),
        )
        .route("/marketplace/cart/checkout", post(checkout))
        .route("/marketplace/orders", get(orders))
        .route("/marketplace/orders/{order_id}", get(order))
        .route("/marketplace/orders/{order_id}/cancel", post(cancel))
        .route(
            "/marketplace/orders/{order_id}/items/{item_id}/review",
            post(review),
        )
}

/// Products one storefront page shows.
const PRODUCTS_PER_PAGE: u32 = 24;
/// Orders one page of "Your orders" shows.
const ORDERS_PER_PAGE: u32 = 20;

/// The signed-in buyer; the sign-in page when signed out.
async fn buyer(state: &Pages, visitor: &Visitor) -> Result<CurrentUser, PageError> {
    landlord_console::signed_in(state, visitor).cloned()
}

/// The layout's values with the marketplace's sub-navigation (and the
/// number of lines in the cart).
async fn market_base(
    state: &Pages,
    visitor: &Visitor,
    user: &CurrentUser,
    title: &str,
    section: &str,
) -> Result<Context, PageError> {
    let (mut context, _) = base(state, visitor, title, "marketplace", None).await?;
    let lines = market_store::cart_size(state.marketplace.db.pool(), &user.user_id)
        .await
        .map_err(ApiError::from)?;
    context.insert("section".into(), section.into());
    context.insert("cart_lines".into(), lines.into());
    Ok(context)
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, PageError> {
    Ok(serde_json::to_value(value).map_err(ApiError::internal)?)
}

fn render(template: &str, context: Context, status: StatusCode) -> Result<Page, PageError> {
    let page = Page::render(template, context)?;
    Ok(if status == StatusCode::OK {
        page
    } else {
        page.status(status)
    })
}

// ---- the storefront ------------------------------------------------------------------

/// The storefront's filters, as typed (prices in major units).
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SearchForm {
    q: String,
    category: String,
    min_price: String,
    max_price: String,
    latitude: String,
    longitude: String,
    radius_km: String,
    cursor: String,
}

impl SearchForm {
    fn filtered(&self) -> bool {
        [
            &self.q,
            &self.category,
            &self.min_price,
            &self.max_price,
            &self.latitude,
            &self.longitude,
            &self.radius_km,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }

    /// The query string of these filters (without the cursor).
    fn query_string(&self) -> String {
        [
            ("q", &self.q),
            ("category", &self.category),
            ("min_price", &self.min_price),
            ("max_price", &self.max_price),
            ("latitude", &self.latitude),
            ("longitude", &self.longitude),
            ("radius_km", &self.radius_km),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// The feature's query, or the fields the console could not read.
    fn query(&self) -> Result<CatalogQuery, FormErrors> {
        let mut errors = FormErrors::default();
        let mut amount = |field: &str, text: &str| match parse_amount(text) {
            Ok(value) => value,
            Err(reason) => {
                errors.fields.insert(field.into(), reason);
                None
            }
        };
        let min_price = amount("min_price", &self.min_price);
        let max_price = amount("max_price", &self.max_price);
        let mut number = |field: &str, text: &str| match parse_number(text) {
            Ok(value) => value,
            Err(reason) => {
                errors.fields.insert(field.into(), reason);
                None
            }
        };
        let latitude = number("latitude", &self.latitude);
        let longitude = number("longitude", &self.longitude);
        let radius_km = number("radius_km", &self.radius_km);
        if !errors.fields.is_empty() {
            errors.status = Some(StatusCode::UNPROCESSABLE_ENTITY);
            return Err(errors);
        }
        let text = |value: &str| Some(value.trim().to_string()).filter(|v| !v.is_empty());
        Ok(CatalogQuery {
            q: text(&self.q),
            category: text(&self.category),
            vendor: None,
            min_price,
            max_price,
            currency: None,
            latitude,
            longitude,
            radius_km,
            limit: Some(PRODUCTS_PER_PAGE),
            cursor: text(&self.cursor),
        })
    }
}

/// A product's card in the storefront.
fn card(product: &ProductView) -> Value {
    json!({
        "id": product.id,
        "title": product.title,
        "store_name": product.vendor.store_name,
        "price": format_money(product.price, &product.currency),
        "available": product.available,
        "availability": availability(product.available),
        "low": product.available > 0 && product.available <= 5,
        "rating": rating(&product.rating),
        "distance": product.distance_km.map(|d| format!("{d:.1} km away")),
        "image": product.images.first(),
        "initial": product.title.chars().next().map(|c| c.to_uppercase().to_string()),
        "place": product.location.as_ref().and_then(|l| l.label.clone()),
    })
}

/// `GET /marketplace`: listed products, newest first, with the search
/// form's filters (`catalog::search`, like `GET /marketplace/products`);
/// `?cursor=` pages.
pub async fn storefront(
    State(state): State<Pages>,
    visitor: Visitor,
    Query(form): Query<SearchForm>,
) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    let found = match form.query() {
        Ok(query) => match catalog::search(&state.marketplace, query).await {
            Ok(found) => Ok(found),
            Err(error) => Err(FormErrors::from_api(error)?
                .field_to_general("cursor", "This page of results")
                .field_to_general("limit", "This page of results")),
        },
        Err(errors) => Err(errors),
    };
    let mut context = market_base(&state, &visitor, &user, "Marketplace", "storefront").await?;
    let status = match found {
        Ok(success) => {
            let (_, envelope) = success.into_parts();
            let cards: Vec<Value> = envelope.data.iter().map(card).collect();
            let next = envelope.meta.and_then(|m| m.next_cursor).map(|cursor| {
                let filters = form.query_string();
                let sep = if filters.is_empty() { "" } else { "&" };
                format!("/marketplace?{filters}{sep}cursor={cursor}")
            });
            context.insert("products".into(), cards.into());
            context.insert("next".into(), next.into());
            FormErrors::ok().into_context(&mut context)
        }
        Err(errors) => {
            context.insert("products".into(), Value::Array(Vec::new()));
            errors.into_context(&mut context)
        }
    };
    let first = form.query_string();
    context.insert(
        "first_page".into(),
        (!form.cursor.is_empty())
            .then(|| {
                format!(
                    "/marketplace{}",
                    if first.is_empty() {
                        String::new()
                    } else {
                        format!("?{first}")
                    }
                )
            })
            .into(),
    );
    context.insert("filtered".into(), form.filtered().into());
    context.insert("form".into(), to_value(&form)?);
    Ok(render("market.html", context, status)?.allow_https_images())
}

// ---- a product -----------------------------------------------------------------------

/// What the add-to-cart form sends.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddForm {
    csrf: String,
    quantity: String,
}

/// A listed product, or the 404 page.
async fn listed(state: &Pages, product_id: &str) -> Result<ProductView, PageError> {
    let id = ProductId::parse(product_id.trim()).ok_or(PageError::NotFound)?;
    let row = market_store::read_listed_product(&state.marketplace.db, &id)
        .await
        .map_err(ApiError::from)?
        .ok_or(PageError::NotFound)?;
    Ok(ProductView::new(row))
}

async fn product_page(
    state: &Pages,
    visitor: &Visitor,
    user: &CurrentUser,
    view: ProductView,
    quantity: &str,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let rows = market_store::reviews(state.marketplace.db.pool(), Some(&view.id), None, None, 20)
        .await
        .map_err(ApiError::from)?;
    let reviews: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            let review = ReviewView::new(row);
            json!({
                "rating": review.rating,
                "stars": stars(review.rating),
                "text": review.text,
                "reply": review.reply,
                "created_at": review.created_at,
            })
        })
        .collect();
    let mut context = market_base(state, visitor, user, &view.title, "storefront").await?;
    let status = errors.into_context(&mut context);
    let mut product = to_value(&view)?;
    if let Some(object) = product.as_object_mut() {
        object.insert(
            "price_display".into(),
            format_money(view.price, &view.currency).into(),
        );
        object.insert("availability".into(), availability(view.available).into());
        object.insert("rating_display".into(), rating(&view.rating));
        object.insert(
            "max_quantity".into(),
            view.available.min(cart::MAX_QUANTITY).into(),
        );
    }
    context.insert("listing".into(), product);
    context.insert("reviews".into(), reviews.into());
    context.insert("quantity".into(), quantity.into());
    Ok(render("market_product.html", context, status)?.allow_https_images())
}

/// `GET /marketplace/products/{product_id}`: a listed product (`GET
/// /marketplace/products/{id}`) with its latest reviews.
pub async fn product(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(product_id): Path<String>,
) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    let view = listed(&state, &product_id).await?;
    product_page(&state, &visitor, &user, view, "1", FormErrors::ok()).await
}

/// A whole quantity as typed, or the field's error.
fn quantity_of(field: &str, text: &str) -> Result<i64, ApiError> {
    text.trim().parse::<i64>().map_err(|_| {
        ApiError::invalid_field(
            field,
            format!("must be a whole number from 1 to {}", cart::MAX_QUANTITY),
        )
    })
}

/// `POST /marketplace/products/{product_id}/cart`: `cart::add` (a new
/// line, never beyond what is available), then the cart.
pub async fn add_to_cart(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(product_id): Path<String>,
    Form(form): Form<AddForm>,
) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    visitor.check_csrf(&state, &form.csrf)?;
    let view = listed(&state, &product_id).await?;
    let result = match quantity_of("quantity", &form.quantity) {
        Ok(quantity) => {
            let request = AddLineRequest {
                product_id: view.id.clone(),
                quantity,
            };
            cart::add(&state.marketplace, &user.user_id, request).await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => {
            let flash = landlord_console::Flash::notice("Added to your cart.");
            Page::redirect_with(&state, &visitor, "/marketplace/cart", flash).await
        }
        Err(error) => {
            let mut errors = refusal(error)?;
            // Another currency than the cart's: a word for the whole form.
            if let Some(reason) = errors.fields.remove("product_id") {
                errors.general = Some(reason);
            }
            let errors = errors.general_to_field("quantity");
            product_page(&state, &visitor, &user, view, form.quantity.trim(), errors).await
        }
    }
}

// ---- the cart ------------------------------------------------------------------------

/// The origins of providers configured at a plain-http base (a local
/// stand-in): the checkout form's answer may redirect there too.
fn http_provider_origins(state: &Pages) -> Vec<String> {
    let config = &state.marketplace.config;
    let mut origins = Vec::new();
    for (configured, base) in [
        (config.stripe_secret_key.is_some(), &config.stripe_api_base),
        (
            config.paystack_secret_key.is_some(),
            &config.paystack_api_base,
        ),
    ] {
        if let Some(rest) = base.strip_prefix("http://").filter(|_| configured) {
            let host = rest.split('/').next().unwrap_or_default();
            let origin = format!("http://{host}");
            if !host.is_empty() && !origins.contains(&origin) {
                origins.push(origin);
            }
        }
    }
    origins
}

/// What the cart page shows beside the cart: a line's quantity error, the
/// checkout's errors.
#[derive(Default)]
struct CartState<'a> {
    line: Option<(&'a str, &'a str)>,
    provider: Option<&'a str>,
    /// The shipping address as typed (kept when the checkout is refused).
    shipping: Value,
}

fn cart_json(view: &CartView) -> Value {
    let lines: Vec<Value> = view
        .lines
        .iter()
        .map(|line| {
            json!({
                "id": line.id,
                "product_id": line.product_id,
                "title": line.title,
                "store_name": line.vendor.store_name,
                "unit_price": format_money(line.unit_price, &line.currency),
                "quantity": line.quantity,
                "line_total": format_money(line.line_total, &line.currency),
                "available": line.available,
                "purchasable": line.purchasable,
                "short": line.purchasable && line.quantity > line.available,
            })
        })
        .collect();
    let stores = {
        let mut names: Vec<&str> = view
            .lines
            .iter()
            .map(|l| l.vendor.store_name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    };
    let totals: Vec<Value> = view
        .totals
        .iter()
        .map(|t| json!({"currency": t.currency, "amount": format_money(t.amount, &t.currency)}))
        .collect();
    let currencies: Vec<&str> = view.totals.iter().map(|t| t.currency.as_str()).collect();
    let mixed = view.mixed_currencies();
    json!({
        "lines": lines,
        // One currency: its total; several: one total per currency, and no
        // single figure that would add them up.
        "total": match (view.total, view.currency.as_deref()) {
            (Some(total), Some(currency)) => Some(format_money(total, currency)),
            _ => None,
        },
        "totals": totals,
        "mixed": mixed,
        "currencies": currencies.join(" and "),
        "stores": stores,
        "blocked": mixed || view.lines.iter().any(|l| !l.purchasable || l.quantity > l.available),
    })
}

async fn cart_view_page(
    state: &Pages,
    visitor: &Visitor,
    user: &CurrentUser,
    shown: CartState<'_>,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let view = cart::view(&state.marketplace, &user.user_id).await?;
    let mut context = market_base(state, visitor, user, "Your cart", "cart").await?;
    let status = errors.into_context(&mut context);
    context.insert("cart".into(), cart_json(&view));
    let providers: Vec<Value> = [PayoutProvider::Stripe, PayoutProvider::Paystack]
        .into_iter()
        .filter(|p| state.marketplace.client.configured(*p))
        .map(|p| {
            json!({
                "name": p.as_str(),
                "label": match p {
                    PayoutProvider::Stripe => "Stripe (card)",
                    PayoutProvider::Paystack => "Paystack (card, bank, mobile money)",
                },
            })
        })
        .collect();
    let chosen = shown
        .provider
        .filter(|p| PayoutProvider::parse(p).is_some())
        .map(str::to_owned)
        .or_else(|| {
            providers
                .first()
                .and_then(|p| p["name"].as_str().map(str::to_owned))
        });
    context.insert("providers".into(), providers.into());
    context.insert("provider".into(), chosen.into());
    let typed = match &shown.shipping {
        Value::Object(_) => shown.shipping.clone(),
        _ => json!({}),
    };
    context.insert("shipping".into(), typed);
    // One key per checkout form: sending it twice places one order.
    context.insert(
        "checkout_key".into(),
        landlord_core::crypto::random_hex(16).into(),
    );
    if let Some((line, quantity)) = shown.line {
        context.insert(
            "line_error".into(),
            json!({ "id": line, "quantity": quantity }),
        );
    }
    let page = render("market_cart.html", context, status)?;
    Ok(page.allow_checkout_redirect_to(http_provider_origins(state)))
}

/// `GET /marketplace/cart`: the lines (`cart::view`), their total, and the
/// checkout form.
pub async fn cart_page(State(state): State<Pages>, visitor: Visitor) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    cart_view_page(
        &state,
        &visitor,
        &user,
        CartState::default(),
        FormErrors::ok(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QuantityForm {
    csrf: String,
    quantity: String,
}

/// `POST /marketplace/cart/lines/{line_id}`: `cart::set_quantity`.
pub async fn set_quantity(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(line_id): Path<String>,
    Form(form): Form<QuantityForm>,
) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    visitor.check_csrf(&state, &form.csrf)?;
    let field = format!("quantity-{}", line_id.trim());
    let result = match quantity_of("quantity", &form.quantity) {
        Ok(quantity) => {
            cart::set_quantity(
                &state.marketplace,
                &user.user_id,
                line_id.trim(),
                SetQuantityRequest { quantity },
            )
            .await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => {
            let flash = landlord_console::Flash::notice("Quantity updated.");
            Page::redirect_with(&state, &visitor, "/marketplace/cart", flash).await
        }
        Err(error) => {
            let mut errors = refusal(error)?.general_to_field("quantity");
            if let Some(reason) = errors.fields.remove("quantity") {
                errors.fields.insert(field, reason);
            }
            let shown = CartState {
                line: Some((line_id.trim(), form.quantity.trim())),
                ..CartState::default()
            };
            cart_view_page(&state, &visitor, &user, shown, errors).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /marketplace/cart/lines/{line_id}/remove`: `cart::remove`.
pub async fn remove_line(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(line_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    visitor.check_csrf(&state, &form.csrf)?;
    cart::remove(&state.marketplace, &user.user_id, line_id.trim())
        .await
        .map_err(|error| match error {
            ApiError::NotFound(_) => PageError::NotFound,
            other => PageError::Api(other),
        })?;
    let flash = landlord_console::Flash::notice("Removed from your cart.");
    Page::redirect_with(&state, &visitor, "/marketplace/cart", flash).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CheckoutForm {
    csrf: String,
    provider: String,
    key: String,
    #[serde(rename = "shipping.name")]
    ship_name: String,
    #[serde(rename = "shipping.line1")]
    ship_line1: String,
    #[serde(rename = "shipping.line2")]
    ship_line2: String,
    #[serde(rename = "shipping.city")]
    ship_city: String,
    #[serde(rename = "shipping.postal_code")]
    ship_postal_code: String,
    #[serde(rename = "shipping.country")]
    ship_country: String,
}

impl CheckoutForm {
    /// The address as the API takes it: none when every field is empty.
    fn shipping(&self) -> Option<ShippingAddress> {
        let optional = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let fields = [
            &self.ship_name,
            &self.ship_line1,
            &self.ship_line2,
            &self.ship_city,
            &self.ship_postal_code,
            &self.ship_country,
        ];
        if fields.iter().all(|f| f.trim().is_empty()) {
            return None;
        }
        Some(ShippingAddress {
            name: self.ship_name.trim().to_string(),
            line1: self.ship_line1.trim().to_string(),
            line2: optional(&self.ship_line2),
            city: self.ship_city.trim().to_string(),
            postal_code: optional(&self.ship_postal_code),
            country: self.ship_country.trim().to_uppercase(),
        })
    }
}

/// The order an idempotent checkout answered (first time or replayed).
async fn answered_order(response: axum::response::Response) -> Result<Value, PageError> {
    let bytes = axum::body::to_bytes(response.into_body(), 4 << 20)
        .await
        .map_err(ApiError::internal)?;
    let envelope: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
    Ok(envelope["data"].clone())
}

/// `POST /marketplace/cart/checkout`: `checkout::checkout` with the
/// provider's hosted page, under the form's key through `idempotent` like
/// `POST /marketplace/checkout` (a form sent twice places one order), then
/// 303 to the provider's page.
pub async fn checkout(
    State(state): State<Pages>,
    visitor: Visitor,
    Form(form): Form<CheckoutForm>,
) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    visitor.check_csrf(&state, &form.csrf)?;
    let Some(provider) = PayoutProvider::parse(form.provider.trim()) else {
        let errors = FormErrors::from_api(ApiError::invalid_field(
            "provider",
            "choose how to pay: Stripe or Paystack",
        ))?;
        return cart_view_page(&state, &visitor, &user, CartState::default(), errors).await;
    };
    let key = match form.key.trim() {
        "" => landlord_core::crypto::random_hex(16),
        key => key.to_string(),
    };
    // A key a header cannot carry was not the page's: a fresh one.
    let value = HeaderValue::from_str(&key)
        .or_else(|_| HeaderValue::from_str(&landlord_core::crypto::random_hex(16)));
    let mut headers = HeaderMap::new();
    if let Ok(value) = value {
        headers.insert("idempotency-key", value);
    }
    let shipping = form.shipping();
    let typed = to_value(&shipping)?;
    let body =
        json!({ "provider": provider.as_str(), "hosted": true, "shipping": shipping }).to_string();
    let route = format!("POST /marketplace/checkout {}", user.user_id);
    let scope = Scope {
        organization_id: &user.organization_id,
        route: &route,
    };
    let market = state.marketplace.clone();
    let buyer_id = user.user_id.clone();
    let answer = idempotent(
        &state.marketplace.db,
        scope,
        &headers,
        body.as_bytes(),
        |_key| async move {
            let request = CheckoutRequest {
                provider,
                hosted: true,
                shipping,
            };
            Ok(ApiSuccess::created(
                checkout::checkout(&market, &buyer_id, request).await?,
            ))
        },
    )
    .await;
    match answer {
        Ok(response) => {
            let order = answered_order(response).await?;
            let id = order["id"].as_str().unwrap_or_default();
            let pending = order["status"] == OrderStatus::PendingPayment.as_str();
            match order["payment"]["url"].as_str() {
                Some(url) if pending => Ok(Page::redirect(url)),
                _ => Ok(Page::redirect(format!("/marketplace/orders/{id}"))),
            }
        }
        Err(error) => {
            let errors = refusal(error)?;
            let mut errors = errors.field_to_general("cart", "Your cart");
            if let Some(reason) = errors.fields.remove("Idempotency-Key") {
                errors.general = Some(reason);
            }
            let shown = CartState {
                provider: Some(provider.as_str()),
                shipping: typed,
                ..CartState::default()
            };
            cart_view_page(&state, &visitor, &user, shown, errors).await
        }
    }
}

// ---- orders --------------------------------------------------------------------------

/// How far an order's payment went, in the buyer's words.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Payment {
    /// Paid: its parts' cancellations are refunded.
    Paid,
    /// Waiting for the buyer to pay.
    Awaiting,
    /// The provider never accepted it (checkout failed before): nothing
    /// was charged.
    NotStarted,
    /// Started but never paid (cancelled, failed or expired first).
    NotPaid,
}

fn payment_of(order: &OrderView) -> Payment {
    if order.paid_at.is_some() {
        Payment::Paid
    } else if order.status == OrderStatus::PendingPayment {
        Payment::Awaiting
    } else if order.payment.reference.is_none() {
        Payment::NotStarted
    } else {
        Payment::NotPaid
    }
}

fn order_json(order: &OrderView) -> Result<Value, PageError> {
    let currency = order.currency.as_str();
    let payment = payment_of(order);
    let mut value = to_value(order)?;
    let parts: Vec<Value> = order
        .vendor_orders
        .iter()
        .map(|part| {
            let items: Vec<Value> = order
                .items
                .iter()
                .filter(|i| i.vendor_order_id == part.id)
                .map(|item| {
                    json!({
                        "id": item.id,
                        "product_id": item.product_id,
                        "title": item.title,
                        "quantity": item.quantity,
                        "unit_price": format_money(item.unit_price, currency),
                        "line_total": format_money(item.line_total, currency),
                        "reviewed": item.reviewed,
                        "reviewable": part.status == VendorOrderStatus::Delivered && !item.reviewed,
                    })
                })
                .collect();
            json!({
                "id": part.id,
                "store_name": part.vendor.store_name,
                "status": part.status,
                "status_label": match (payment, part.status) {
                    (Payment::NotStarted, _) => "Payment not started",
                    (Payment::NotPaid, VendorOrderStatus::Cancelled) => "Cancelled, not charged",
                    (_, status) => part_label(status),
                },
                "subtotal": format_money(part.subtotal, currency),
                "tracking_reference": part.tracking_reference,
                "delivered_at": part.delivered_at,
                "items": items,
            })
        })
        .collect();
    let stores: Vec<&str> = order
        .vendor_orders
        .iter()
        .map(|p| p.vendor.store_name.as_str())
        .collect();
    let units: i64 = order.items.iter().map(|i| i.quantity).sum();
    if let Some(object) = value.as_object_mut() {
        object.insert("reference".into(), short_ref(order.id.as_str()).into());
        object.insert(
            "total_display".into(),
            format_money(order.total, currency).into(),
        );
        let provider = match order.payment.provider {
            PayoutProvider::Stripe => "Stripe",
            PayoutProvider::Paystack => "Paystack",
        };
        let (label, payment_line) = match payment {
            Payment::Paid => (order_label(order.status), format!("paid with {provider}")),
            Payment::Awaiting => (order_label(order.status), format!("to pay with {provider}")),
            Payment::NotStarted => (
                "Payment not started",
                format!("payment not started with {provider}: nothing was charged"),
            ),
            Payment::NotPaid => (
                order_label(order.status),
                "not paid: nothing was charged".into(),
            ),
        };
        object.insert("status_label".into(), label.into());
        object.insert("payment_line".into(), payment_line.into());
        object.insert(
            "payment_state".into(),
            match payment {
                Payment::Paid => "paid",
                Payment::Awaiting => "awaiting",
                Payment::NotStarted => "not_started",
                Payment::NotPaid => "not_paid",
            }
            .into(),
        );
        object.insert("parts".into(), parts.into());
        object.insert("stores".into(), stores.join(", ").into());
        object.insert("units".into(), units.into());
        object.insert(
            "unpaid".into(),
            (order.status == OrderStatus::PendingPayment).into(),
        );
    }
    Ok(value)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrdersQuery {
    cursor: Option<String>,
}

/// `GET /marketplace/orders`: the buyer's orders, newest first (`GET
/// /marketplace/orders`' list; `?cursor=` pages).
pub async fn orders(
    State(state): State<Pages>,
    visitor: Visitor,
    Query(query): Query<OrdersQuery>,
) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    let page = PageQuery {
        limit: Some(ORDERS_PER_PAGE),
        cursor: query.cursor.clone(),
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let before = page.cursor.as_deref().map(MarketplaceOrderId::from_trusted);
    let mut conn = state
        .marketplace
        .db
        .pool()
        .acquire()
        .await
        .map_err(ApiError::from)?;
    let mut rows =
        market_store::buyer_orders(&mut *conn, &user.user_id, before.as_ref(), page.fetch())
            .await
            .map_err(ApiError::from)?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        list.push(order_json(&order_view(&mut conn, row, false).await?)?);
    }
    drop(conn);
    let mut context = market_base(&state, &visitor, &user, "Your orders", "orders").await?;
    context.insert("orders".into(), list.into());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), page.cursor.is_none().into());
    Page::render("market_orders.html", context)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrderQuery {
    paid: Option<String>,
}

/// What the order page shows beside the order.
#[derive(Default)]
struct OrderState<'a> {
    paid: bool,
    /// The item whose review form was refused, with what was typed.
    review: Option<(&'a str, &'a str, &'a str)>,
}

/// The buyer's order, or the 404 page (another buyer's included).
async fn own_order(
    state: &Pages,
    user: &CurrentUser,
    order_id: &str,
) -> Result<OrderView, PageError> {
    let id = MarketplaceOrderId::parse(order_id.trim()).ok_or(PageError::NotFound)?;
    let pool = state.marketplace.db.pool();
    let row = market_store::buyer_order(pool, &user.user_id, &id)
        .await
        .map_err(ApiError::from)?
        .ok_or(PageError::NotFound)?;
    let mut conn = pool.acquire().await.map_err(ApiError::from)?;
    Ok(order_view(&mut conn, row, false).await?)
}

async fn order_page(
    state: &Pages,
    visitor: &Visitor,
    user: &CurrentUser,
    order_id: &str,
    shown: OrderState<'_>,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let view = own_order(state, user, order_id).await?;
    let order = order_json(&view)?;
    let title = format!("Order {}", short_ref(view.id.as_str()));
    let mut context = market_base(state, visitor, user, &title, "orders").await?;
    let status = errors.into_context(&mut context);
    let confirming = shown.paid && view.status == OrderStatus::PendingPayment;
    context.insert("order".into(), order);
    context.insert("confirming".into(), confirming.into());
    context.insert(
        "just_paid".into(),
        (shown.paid && view.paid_at.is_some()).into(),
    );
    if let Some((item, rating, text)) = shown.review {
        context.insert(
            "review_form".into(),
            json!({ "item": item, "rating": rating, "text": text }),
        );
    }
    render("market_order.html", context, status)
}

/// `GET /marketplace/orders/{order_id}`: one of the buyer's orders (`GET
/// /marketplace/orders/{id}`); `?paid=1` is where the provider sends the
/// buyer back: "confirming" until the provider's webhook confirms it.
pub async fn order(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(order_id): Path<String>,
    Query(query): Query<OrderQuery>,
) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    let shown = OrderState {
        paid: query.paid.is_some_and(|p| !p.is_empty() && p != "0"),
        review: None,
    };
    order_page(&state, &visitor, &user, &order_id, shown, FormErrors::ok()).await
}

/// `POST /marketplace/orders/{order_id}/cancel`: `fulfilment::cancel_order`
/// (an unpaid order only: its stock returns).
pub async fn cancel(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(order_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    visitor.check_csrf(&state, &form.csrf)?;
    match crate::fulfilment::cancel_order(&state.marketplace, &user.user_id, order_id.trim()).await
    {
        Ok(row) => {
            let location = format!("/marketplace/orders/{}", row.id);
            let flash = landlord_console::Flash::notice(
                "Order cancelled: nothing was charged and its items are back on sale.",
            );
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error) => {
            let errors = refusal(error)?;
            order_page(
                &state,
                &visitor,
                &user,
                &order_id,
                OrderState::default(),
                errors,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReviewForm {
    csrf: String,
    rating: String,
    text: String,
}

/// `POST /marketplace/orders/{order_id}/items/{item_id}/review`:
/// `reviews::create` (once per item, after its delivery).
pub async fn review(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((order_id, item_id)): Path<(String, String)>,
    Form(form): Form<ReviewForm>,
) -> Result<Page, PageError> {
    let user = buyer(&state, &visitor).await?;
    visitor.check_csrf(&state, &form.csrf)?;
    let result = match form.rating.trim().parse::<i64>() {
        Ok(rating) => {
            let request = ReviewRequest {
                rating,
                text: Some(form.text.clone()).filter(|t| !t.trim().is_empty()),
            };
            reviews::create(
                &state.marketplace,
                &user.user_id,
                order_id.trim(),
                item_id.trim(),
                request,
            )
            .await
        }
        Err(_) => Err(ApiError::invalid_field(
            "rating",
            "choose a rating from 1 to 5 stars",
        )),
    };
    match result {
        Ok(_) => {
            let location = format!("/marketplace/orders/{}", order_id.trim());
            let flash = landlord_console::Flash::notice("Thank you: your review is published.");
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error) => {
            let mut errors = refusal(error)?;
            for field in ["rating", "text"] {
                if let Some(reason) = errors.fields.remove(field) {
                    errors
                        .fields
                        .insert(format!("{field}-{}", item_id.trim()), reason);
                }
            }
            let shown = OrderState {
                review: Some((item_id.trim(), form.rating.trim(), form.text.as_str())),
                ..OrderState::default()
            };
            order_page(&state, &visitor, &user, &order_id, shown, errors).await
        }
    }
}

// ---- what the marketplace's pages share ------------------------------------------------

/// An order's or a vendor order's short reference: the last 8 characters
/// of its id, upper case (the whole id is on the page too).
pub(crate) fn short_ref(id: &str) -> String {
    let start = id.len().saturating_sub(8);
    id.get(start..).unwrap_or(id).to_uppercase()
}

/// "★ 4.5 · 2 reviews", or "No reviews yet".
pub(crate) fn rating(rating: &Rating) -> Value {
    match rating.average {
        Some(average) if rating.count > 0 => json!({
            "text": format!(
                "{average:.1} · {} review{}",
                rating.count,
                if rating.count == 1 { "" } else { "s" }
            ),
            "stars": stars(average.round() as i64),
            "average": average,
            "count": rating.count,
        }),
        _ => json!({ "text": "No reviews yet", "stars": null, "count": 0 }),
    }
}

/// `rating` of 5 as stars: "★★★★☆".
pub(crate) fn stars(rating: i64) -> String {
    let full = rating.clamp(0, 5) as usize;
    format!("{}{}", "★".repeat(full), "☆".repeat(5 - full))
}

pub(crate) fn availability(available: i64) -> String {
    match available {
        n if n <= 0 => "Out of stock".into(),
        n if n <= 5 => format!("Only {n} left"),
        n => format!("{n} in stock"),
    }
}

pub(crate) fn order_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::PendingPayment => "Awaiting payment",
        OrderStatus::Confirmed => "Confirmed",
        OrderStatus::Shipped => "Shipped",
        OrderStatus::Delivered => "Delivered",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Expired => "Expired",
    }
}

/// A store's part of an order, as its buyer reads it.
fn part_label(status: VendorOrderStatus) -> &'static str {
    match status {
        VendorOrderStatus::PendingPayment => "Awaiting payment",
        VendorOrderStatus::Confirmed => "Paid",
        VendorOrderStatus::Processing => "Being prepared",
        VendorOrderStatus::Shipped => "Shipped",
        VendorOrderStatus::Delivered => "Delivered",
        VendorOrderStatus::Cancelled => "Cancelled and refunded",
    }
}

/// A store's part of an order, as the store reads it.
pub(crate) fn vendor_order_label(status: VendorOrderStatus) -> &'static str {
    match status {
        VendorOrderStatus::PendingPayment => "Awaiting payment",
        VendorOrderStatus::Confirmed => "Paid, to prepare",
        VendorOrderStatus::Processing => "Processing",
        VendorOrderStatus::Shipped => "Shipped",
        VendorOrderStatus::Delivered => "Delivered",
        VendorOrderStatus::Cancelled => "Cancelled",
    }
}

/// An amount typed in major units ("12", "12.5", "12.50") as minor units;
/// blank is none.
pub(crate) fn parse_amount(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim().replace(',', "");
    if text.is_empty() {
        return Ok(None);
    }
    let invalid = || "Must be an amount such as 12.50.".to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 2
        || whole.len() > 12
    {
        return Err(invalid());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| invalid())?
    };
    let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    Ok(Some(whole * 100 + cents))
}

/// Minor units as the amount field shows them: 1234 → "12.34".
pub(crate) fn amount_input(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// A decimal number as typed; blank is none.
pub(crate) fn parse_number(text: &str) -> Result<Option<f64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(Some(n)),
        _ => Err("Must be a number such as 6.4541.".into()),
    }
}

/// A location typed in three fields: none when latitude and longitude are
/// both blank; the fields' errors (named `latitude`, `longitude`) else.
pub(crate) fn parse_location(
    latitude: &str,
    longitude: &str,
    label: &str,
) -> Result<Option<Location>, FormErrors> {
    let mut errors = FormErrors {
        status: Some(StatusCode::UNPROCESSABLE_ENTITY),
        ..FormErrors::default()
    };
    let lat = parse_number(latitude).unwrap_or_else(|e| {
        errors.fields.insert("latitude".into(), e);
        None
    });
    let lng = parse_number(longitude).unwrap_or_else(|e| {
        errors.fields.insert("longitude".into(), e);
        None
    });
    if !errors.fields.is_empty() {
        return Err(errors);
    }
    match (lat, lng) {
        (None, None) if label.trim().is_empty() => Ok(None),
        (Some(latitude), Some(longitude)) => Ok(Some(Location {
            latitude,
            longitude,
            label: Some(label.trim().to_string()).filter(|l| !l.is_empty()),
        })),
        (None, _) => {
            errors.fields.insert(
                "latitude".into(),
                "Give the latitude with the longitude.".into(),
            );
            Err(errors)
        }
        (_, None) => {
            errors.fields.insert(
                "longitude".into(),
                "Give the longitude with the latitude.".into(),
            );
            Err(errors)
        }
    }
}

/// A conflict that names its field first ("slug: another store has this
/// address"), moved next to that field when the form has it.
pub(crate) fn prefixed_to_field(mut errors: FormErrors, fields: &[&str]) -> FormErrors {
    if let Some(general) = errors.general.take() {
        let moved = general.split_once(": ").and_then(|(name, rest)| {
            let name = name.to_lowercase();
            fields
                .iter()
                .find(|f| **f == name)
                .map(|f| (f.to_string(), sentence(rest)))
        });
        match moved {
            Some((field, reason)) => {
                errors.fields.insert(field, reason);
            }
            None => errors.general = Some(general),
        }
    }
    errors
}

/// Renames the feature's field names (`payout.account`) to the form's
/// (`payout_account`).
pub(crate) fn rename_fields(mut errors: FormErrors, names: &[(&str, &str)]) -> FormErrors {
    for (from, to) in names {
        if let Some(reason) = errors.fields.remove(*from) {
            errors.fields.insert((*to).to_string(), reason);
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_typed_in_major_units() {
        assert_eq!(parse_amount("12.34"), Ok(Some(1234)));
        assert_eq!(parse_amount(" 12 "), Ok(Some(1200)));
        assert_eq!(parse_amount("12.5"), Ok(Some(1250)));
        assert_eq!(parse_amount(".5"), Ok(Some(50)));
        assert_eq!(parse_amount("1,200.00"), Ok(Some(120_000)));
        assert_eq!(parse_amount(""), Ok(None));
        for bad in ["12.345", "-1", "abc", "1e3", ".", "12.a"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
        assert_eq!(amount_input(1234), "12.34");
        assert_eq!(amount_input(5), "0.05");
    }

    #[test]
    fn locations_need_both_coordinates() {
        assert!(parse_location("", "", "").expect("none").is_none());
        let here = parse_location("6.45", "3.39", " Lagos ")
            .expect("a place")
            .expect("some");
        assert_eq!(here.label.as_deref(), Some("Lagos"));
        let errors = parse_location("6.45", "", "").expect_err("half");
        assert!(errors.fields.contains_key("longitude"));
        let errors = parse_location("north", "3", "").expect_err("text");
        assert!(errors.fields.contains_key("latitude"));
    }

    #[test]
    fn conflicts_naming_a_field_go_next_to_it() {
        let errors = FormErrors::from_api(ApiError::Conflict(
            "slug: another store has this address".into(),
        ))
        .expect("not internal");
        let errors = prefixed_to_field(errors, &["slug", "store_name"]);
        assert_eq!(errors.fields["slug"], "Another store has this address.");
        assert!(errors.general.is_none());
        let errors = FormErrors::from_api(ApiError::Conflict("not enough stock: X".into()))
            .expect("not internal");
        let errors = prefixed_to_field(errors, &["slug"]);
        assert!(errors.general.is_some());
    }

    #[test]
    fn references_ratings_and_stock_read_well() {
        assert_eq!(
            short_ref("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            "2E3F4A5B"
        );
        assert_eq!(stars(4), "★★★★☆");
        assert_eq!(availability(0), "Out of stock");
        assert_eq!(availability(3), "Only 3 left");
        assert_eq!(availability(40), "40 in stock");
        let none = rating(&Rating {
            average: None,
            count: 0,
        });
        assert_eq!(none["text"], "No reviews yet");
    }
}
