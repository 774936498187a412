//! What the API shows of the marketplace's rows.

use crate::ids::{
    CartLineId, MarketplaceOrderId, OrderItemId, PayoutId, ProductId, ReviewId, VendorOrderId,
};
use landlord_core::ids::OrganizationId;
use landlord_core::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{
    OrderItemRow, OrderRow, OrderStatus, PayoutProvider, PayoutRow, PayoutStatus, ProductRow,
    ProductStatus, ReviewRow, VendorOrderRow, VendorOrderStatus, VendorRow, VendorStatus,
};

/// A point on the map, in degrees, with an optional label.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
    /// A place name ("Lagos"), up to 100 characters.
    #[schema(max_length = 100)]
    pub label: Option<String>,
}

impl Location {
    pub fn from_columns(lat: Option<f64>, lng: Option<f64>, label: Option<String>) -> Option<Self> {
        Some(Location {
            latitude: lat?,
            longitude: lng?,
            label,
        })
    }
}

/// An average of 1–5 ratings (`null` before the first) and their count.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rating {
    pub average: Option<f64>,
    pub count: i64,
}

impl Rating {
    fn new(sum: i64, count: i64) -> Self {
        let average = (count > 0).then(|| (sum as f64 / count as f64 * 100.0).round() / 100.0);
        Rating { average, count }
    }
}

/// Where a vendor's earnings go.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutAccount {
    pub provider: PayoutProvider,
    /// A Stripe Connect account id (`acct_…`) or a Paystack transfer
    /// recipient code (`RCP_…`), as the provider gave it.
    #[schema(
        min_length = 5,
        max_length = 100,
        pattern = r"^(acct|RCP)_[A-Za-z0-9]+$"
    )]
    pub account: String,
}

/// A vendor as its team and operators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VendorView {
    pub organization_id: OrganizationId,
    pub store_name: String,
    pub slug: String,
    pub description: String,
    pub location: Option<Location>,
    /// Where payouts go; `null` until the store adds an account (its
    /// payouts wait until then).
    pub payout: Option<PayoutAccount>,
    pub status: VendorStatus,
    /// The operator's reason, when suspended or rejected.
    pub suspended_reason: Option<String>,
    /// The platform fee on this vendor's orders, in basis points (from its plan).
    pub fee_bps: u32,
    pub rating: Rating,
    pub approved_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl VendorView {
    pub fn new(row: VendorRow, fee_bps: u32) -> Self {
        VendorView {
            organization_id: row.organization_id,
            store_name: row.store_name,
            slug: row.slug,
            description: row.description,
            location: Location::from_columns(row.latitude, row.longitude, row.location_label),
            payout: row
                .payout_provider
                .zip(row.payout_account)
                .map(|(provider, account)| PayoutAccount { provider, account }),
            status: row.status,
            suspended_reason: row.suspended_reason,
            fee_bps,
            rating: Rating::new(row.rating_sum, row.rating_count),
            approved_at: row.approved_at,
            created_at: row.created_at,
        }
    }
}

/// A store as buyers see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreView {
    pub organization_id: OrganizationId,
    pub store_name: String,
    pub slug: String,
    pub description: String,
    pub location: Option<Location>,
    pub rating: Rating,
}

impl StoreView {
    pub fn new(row: VendorRow) -> Self {
        StoreView {
            organization_id: row.organization_id,
            store_name: row.store_name,
            slug: row.slug,
            description: row.description,
            location: Location::from_columns(row.latitude, row.longitude, row.location_label),
            rating: Rating::new(row.rating_sum, row.rating_count),
        }
    }
}

/// The store a product or order part belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreRef {
    pub organization_id: OrganizationId,
    pub store_name: String,
    pub slug: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductView {
    pub id: ProductId,
    pub vendor: StoreRef,
    pub title: String,
    pub slug: String,
    pub description: String,
    /// Minor units of `currency`.
    pub price: i64,
    pub currency: String,
    pub stock: i64,
    /// Held by unpaid orders.
    pub reserved: i64,
    /// `stock − reserved`: what a cart may take.
    pub available: i64,
    pub status: ProductStatus,
    pub categories: Vec<String>,
    pub images: Vec<String>,
    pub location: Option<Location>,
    pub rating: Rating,
    /// From the searched point, with a radius search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ProductView {
    pub fn new(row: ProductRow) -> Self {
        ProductView {
            id: row.id,
            vendor: StoreRef {
                organization_id: row.vendor_id,
                store_name: row.store_name,
                slug: row.store_slug,
            },
            title: row.title,
            slug: row.slug,
            description: row.description,
            price: row.price,
            currency: row.currency,
            stock: row.stock,
            reserved: row.reserved,
            available: row.stock - row.reserved,
            status: row.status,
            categories: serde_json::from_str(&row.categories).unwrap_or_default(),
            images: serde_json::from_str(&row.images).unwrap_or_default(),
            location: Location::from_columns(row.latitude, row.longitude, row.location_label),
            rating: Rating::new(row.rating_sum, row.rating_count),
            distance_km: None,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartLineView {
    pub id: CartLineId,
    pub product_id: ProductId,
    pub title: String,
    pub vendor: StoreRef,
    pub unit_price: i64,
    pub currency: String,
    pub quantity: i64,
    pub line_total: i64,
    /// What the product has available now (across every cart and order).
    pub available: i64,
    /// Listed and for sale now.
    pub purchasable: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartView {
    pub lines: Vec<CartLineView>,
    /// Σ line totals per currency, one entry per currency in the cart
    /// (ordered by currency code; empty for an empty cart). A cart that
    /// holds more than one currency cannot be checked out: one order has
    /// one currency.
    pub totals: Vec<CurrencyTotal>,
    /// Σ line totals when the cart holds one currency (0 when empty);
    /// `null` when it holds several — read `totals`.
    pub total: Option<i64>,
    /// The cart's currency when it holds one; `null` when empty or mixed.
    pub currency: Option<String>,
}

/// What a cart's lines in one currency add up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CurrencyTotal {
    pub currency: String,
    /// Minor units of `currency`.
    pub amount: i64,
}

impl CartView {
    /// The cart of `lines`, with its totals per currency.
    pub fn new(lines: Vec<CartLineView>) -> Self {
        let mut sums: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
        for line in &lines {
            *sums.entry(line.currency.as_str()).or_default() += line.line_total;
        }
        let totals: Vec<CurrencyTotal> = sums
            .into_iter()
            .map(|(currency, amount)| CurrencyTotal {
                currency: currency.to_string(),
                amount,
            })
            .collect();
        let (total, currency) = match totals.as_slice() {
            [] => (Some(0), None),
            [one] => (Some(one.amount), Some(one.currency.clone())),
            _ => (None, None),
        };
        CartView {
            lines,
            totals,
            total,
            currency,
        }
    }

    /// True when the lines are in more than one currency.
    pub fn mixed_currencies(&self) -> bool {
        self.totals.len() > 1
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderItemView {
    pub id: OrderItemId,
    pub product_id: ProductId,
    pub vendor_order_id: VendorOrderId,
    pub title: String,
    /// The price when the order was placed.
    pub unit_price: i64,
    pub quantity: i64,
    pub line_total: i64,
    pub reviewed: bool,
}

impl OrderItemView {
    pub fn new(row: OrderItemRow, reviewed: bool) -> Self {
        OrderItemView {
            id: row.id,
            product_id: row.product_id,
            vendor_order_id: row.vendor_order_id,
            title: row.title,
            unit_price: row.unit_price,
            quantity: row.quantity,
            line_total: row.line_total,
            reviewed,
        }
    }
}

/// A vendor order as its buyer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderPartView {
    pub id: VendorOrderId,
    pub vendor: StoreRef,
    pub status: VendorOrderStatus,
    pub subtotal: i64,
    pub tracking_reference: Option<String>,
    pub delivered_at: Option<Timestamp>,
}

/// Where an order goes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    /// Who receives it.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(min_length = 1, max_length = 200)]
    pub line1: String,
    #[schema(max_length = 200)]
    pub line2: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub city: String,
    #[schema(max_length = 20)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, upper case (`NG`, `GB`).
    #[schema(pattern = r"^[A-Z]{2}$", min_length = 2, max_length = 2)]
    pub country: String,
}

impl ShippingAddress {
    pub fn from_column(column: Option<&str>) -> Option<Self> {
        serde_json::from_str(column?).ok()
    }
}

/// How the buyer pays.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentView {
    pub provider: PayoutProvider,
    /// PaymentIntent id, Checkout Session id or Paystack reference.
    pub reference: Option<String>,
    /// For Stripe.js `confirmPayment` (PaymentIntent flow).
    pub client_secret: Option<String>,
    /// A hosted payment page (Stripe Checkout with `hosted`, Paystack).
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    pub id: MarketplaceOrderId,
    pub status: OrderStatus,
    /// Σ of the vendor orders' subtotals, minor units.
    pub total: i64,
    pub currency: String,
    pub items: Vec<OrderItemView>,
    pub vendor_orders: Vec<OrderPartView>,
    pub payment: PaymentView,
    pub shipping: Option<ShippingAddress>,
    /// An unpaid order expires then and its stock returns.
    pub expires_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl OrderView {
    pub fn new(
        row: OrderRow,
        items: Vec<OrderItemView>,
        vendor_orders: Vec<OrderPartView>,
        with_secret: bool,
    ) -> Self {
        OrderView {
            id: row.id,
            status: row.status,
            total: row.total,
            currency: row.currency,
            items,
            vendor_orders,
            shipping: ShippingAddress::from_column(row.shipping_address.as_deref()),
            payment: PaymentView {
                provider: row.provider,
                reference: row.payment_reference,
                client_secret: row.client_secret.filter(|_| with_secret),
                url: row.payment_url,
            },
            expires_at: row.expires_at,
            paid_at: row.paid_at,
            created_at: row.created_at,
        }
    }
}

/// A vendor order as its vendor sees it: the money and the items.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VendorOrderView {
    pub id: VendorOrderId,
    pub order_id: MarketplaceOrderId,
    pub status: VendorOrderStatus,
    pub subtotal: i64,
    /// The fee's rate, in basis points, fixed at checkout.
    pub fee_bps: i64,
    /// `round_half_up(subtotal × fee_bps ÷ 10,000)`.
    pub fee: i64,
    /// `subtotal − fee`.
    pub earnings: i64,
    pub currency: String,
    pub items: Vec<OrderItemView>,
    /// Where to send the items (the buyer's address at checkout).
    pub shipping: Option<ShippingAddress>,
    pub tracking_reference: Option<String>,
    pub cancel_reason: Option<String>,
    pub refund_reference: Option<String>,
    pub payout_id: Option<PayoutId>,
    pub delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl VendorOrderView {
    pub fn new(
        row: VendorOrderRow,
        items: Vec<OrderItemView>,
        shipping: Option<ShippingAddress>,
    ) -> Self {
        VendorOrderView {
            id: row.id,
            order_id: row.order_id,
            status: row.status,
            subtotal: row.subtotal,
            fee_bps: row.fee_bps,
            fee: row.fee,
            earnings: row.earnings,
            currency: row.currency,
            items,
            shipping,
            tracking_reference: row.tracking_reference,
            cancel_reason: row.cancel_reason,
            refund_reference: row.refund_reference,
            payout_id: row.payout_id,
            delivered_at: row.delivered_at,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewView {
    pub id: ReviewId,
    pub product_id: ProductId,
    pub vendor_id: OrganizationId,
    pub order_item_id: OrderItemId,
    pub rating: i64,
    pub text: String,
    pub reply: Option<String>,
    pub replied_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl ReviewView {
    pub fn new(row: ReviewRow) -> Self {
        ReviewView {
            id: row.id,
            product_id: row.product_id,
            vendor_id: row.vendor_id,
            order_item_id: row.order_item_id,
            rating: row.rating,
            text: row.text,
            reply: row.reply,
            replied_at: row.replied_at,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayoutView {
    pub id: PayoutId,
    pub vendor_id: OrganizationId,
    pub amount: i64,
    pub currency: String,
    pub provider: PayoutProvider,
    pub account: String,
    pub status: PayoutStatus,
    pub attempts: i64,
    /// The provider's transfer id (`tr_…`) or code (`TRF_…`).
    pub transfer_reference: Option<String>,
    pub last_error: Option<String>,
    pub paid_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl PayoutView {
    pub fn new(row: PayoutRow) -> Self {
        PayoutView {
            id: row.id,
            vendor_id: row.vendor_id,
            amount: row.amount,
            currency: row.currency,
            provider: row.provider,
            account: row.account,
            status: row.status,
            attempts: row.attempts,
            transfer_reference: row.transfer_reference,
            last_error: row.last_error,
            paid_at: row.paid_at,
            created_at: row.created_at,
        }
    }
}
