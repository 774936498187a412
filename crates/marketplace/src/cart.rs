//! A buyer's cart: lines from any number of stores, totalled per currency
//! (checkout takes one currency).
//! Adding checks what is available, counting the lines of the same
//! product already in the cart; checkout checks again, for real.

use crate::ids::{CartLineId, ProductId};
use landlord_core::ids::UserId;
use landlord_core::{ApiError, Timestamp};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::store::{self, CartLineRow, ProductStatus, VendorStatus};
use crate::views::{CartLineView, CartView, StoreRef};
use crate::MarketplaceState;

pub const MAX_LINES: i64 = 50;
pub const MAX_QUANTITY: i64 = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLineRequest {
    pub product_id: ProductId,
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantityRequest {
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

fn check_quantity(quantity: i64) -> Result<(), ApiError> {
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(ApiError::invalid_field(
            "quantity",
            format!("must be between 1 and {MAX_QUANTITY}"),
        ));
    }
    Ok(())
}

fn short(title: &str, wanted: i64, available: i64) -> ApiError {
    ApiError::Conflict(format!(
        "not enough stock: {title} has {available} available and your cart would hold {wanted}"
    ))
}

pub async fn view(state: &MarketplaceState, user_id: &UserId) -> Result<CartView, ApiError> {
    let mut conn = state.db.pool().acquire().await?;
    let lines = store::cart_lines(&mut *conn, user_id).await?;
    let ids: Vec<ProductId> = lines.iter().map(|l| l.product_id.clone()).collect();
    let products = store::products_by_ids(&mut conn, &ids).await?;
    let mut views = Vec::new();
    for line in lines {
        let Some(product) = products.iter().find(|p| p.id == line.product_id) else {
            continue;
        };
        let vendor = store::vendor(&mut *conn, &product.vendor_id).await?;
        let purchasable = product.status == ProductStatus::Active
            && vendor.is_some_and(|v| v.status == VendorStatus::Approved);
        views.push(CartLineView {
            id: line.id,
            product_id: line.product_id,
            title: product.title.clone(),
            vendor: StoreRef {
                organization_id: product.vendor_id.clone(),
                store_name: product.store_name.clone(),
                slug: product.store_slug.clone(),
            },
            unit_price: product.price,
            currency: product.currency.clone(),
            quantity: line.quantity,
            line_total: product.price * line.quantity,
            available: product.stock - product.reserved,
            purchasable,
        });
    }
    Ok(CartView::new(views))
}

/// Adds a line (a new one each time, even for a product in the cart).
pub async fn add(
    state: &MarketplaceState,
    user_id: &UserId,
    body: AddLineRequest,
) -> Result<CartLineView, ApiError> {
    check_quantity(body.quantity)?;
    let db = &state.db;
    let product = store::listed_product(db.pool(), &body.product_id)
        .await?
        .ok_or_else(|| ApiError::not_found("product"))?;
    // The limits hold however many additions run at once: they take turns.
    let mut tx = db.begin().await?;
    landlord_identity::store::hold_user(&mut tx, db.backend(), user_id).await?;
    let lines = store::cart_lines(&mut *tx, user_id).await?;
    if lines.len() as i64 >= MAX_LINES {
        return Err(ApiError::Conflict(format!(
            "a cart holds at most {MAX_LINES} lines"
        )));
    }
    let ids: Vec<ProductId> = lines.iter().map(|l| l.product_id.clone()).collect();
    if let Some(other) = store::products_by_ids(&mut tx, &ids)
        .await?
        .into_iter()
        .find(|p| p.currency != product.currency)
    {
        return Err(ApiError::invalid_field(
            "product_id",
            format!(
                "this product is priced in {} and your cart in {}: one order has one currency",
                product.currency, other.currency
            ),
        ));
    }
    let in_cart: i64 = lines
        .iter()
        .filter(|l| l.product_id == product.id)
        .map(|l| l.quantity)
        .sum();
    let available = product.stock - product.reserved;
    if in_cart + body.quantity > available {
        return Err(short(&product.title, in_cart + body.quantity, available));
    }
    let row = CartLineRow {
        id: CartLineId::generate(),
        user_id: user_id.clone(),
        product_id: product.id.clone(),
        quantity: body.quantity,
        created_at: Timestamp::now(),
    };
    store::insert_cart_line(&mut *tx, &row).await?;
    tx.commit().await?;
    Ok(CartLineView {
        id: row.id,
        product_id: row.product_id,
        title: product.title,
        vendor: StoreRef {
            organization_id: product.vendor_id,
            store_name: product.store_name,
            slug: product.store_slug,
        },
        unit_price: product.price,
        currency: product.currency,
        quantity: row.quantity,
        line_total: product.price * row.quantity,
        available,
        purchasable: true,
    })
}

pub async fn set_quantity(
    state: &MarketplaceState,
    user_id: &UserId,
    id: &str,
    body: SetQuantityRequest,
) -> Result<CartView, ApiError> {
    check_quantity(body.quantity)?;
    let not_found = || ApiError::not_found("cart line");
    let id = CartLineId::parse(id).ok_or_else(not_found)?;
    let db = &state.db;
    let lines = store::cart_lines(db.pool(), user_id).await?;
    let line = lines.iter().find(|l| l.id == id).ok_or_else(not_found)?;
    if let Some(product) = store::listed_product(db.pool(), &line.product_id).await? {
        let others: i64 = lines
            .iter()
            .filter(|l| l.product_id == line.product_id && l.id != id)
            .map(|l| l.quantity)
            .sum();
        let available = product.stock - product.reserved;
        if others + body.quantity > available {
            return Err(short(&product.title, others + body.quantity, available));
        }
    }
    if !store::set_cart_quantity(db.pool(), user_id, &id, body.quantity).await? {
        return Err(not_found());
    }
    view(state, user_id).await
}

pub async fn remove(state: &MarketplaceState, user_id: &UserId, id: &str) -> Result<(), ApiError> {
    let not_found = || ApiError::not_found("cart line");
    let id = CartLineId::parse(id).ok_or_else(not_found)?;
    if !store::delete_cart_line(state.db.pool(), user_id, &id).await? {
        return Err(not_found());
    }
    Ok(())
}
