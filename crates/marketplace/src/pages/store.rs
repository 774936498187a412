//! The organization's store on the Marketplace (`/o/{organization_id}/store…`):
//! applying to sell and the store's settings, its products (list, create,
//! edit), the orders to fulfil (processing, shipped with a tracking
//! reference, delivered, or cancelled with a reason and a refund), and its
//! earnings (ledger balances and entries, payouts). Each action calls the
//! same `landlord_marketplace` function as its `/marketplace/vendor…` API
//! route under the same permission: `ManageStore` (owners, admins) for the
//! store itself, `ManageProducts` and `FulfilOrders` (every member) for
//! products and orders, `ViewEarnings` (owners, admins) for the money.
//! Another store's product or order is the 404 page.

use crate::catalog::{self, NewProductRequest, UpdateProductRequest};
use crate::fulfilment::{self, StatusRequest};
use crate::ids::{ProductId, ReviewId, VendorOrderId};
use crate::payouts;
use crate::reviews::{self, ReplyRequest};
use crate::store::{
    self as market_store, PayoutProvider, ProductStatus, VendorOrderStatus, VendorRow, VendorStatus,
};
use crate::vendors::{self, ApplyRequest, UpdateVendorRequest};
use crate::views::{PayoutAccount, PayoutView, ProductView, ReviewView, VendorOrderView};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_billing::money::format_money;
use landlord_core::http::PageQuery;
use landlord_core::ApiError;
use landlord_identity::permissions;
use landlord_identity::store::Membership;
use landlord_identity::CurrentUser;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::market::{
    amount_input, availability, parse_amount, parse_location, prefixed_to_field, rating,
    rename_fields, short_ref, stars, vendor_order_label,
};
use super::Pages;
use landlord_console::{
    api, base, member, refusal, sentence, Context, FormErrors, Gate, Page, PageError, Visitor,
};

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route(
            "/o/{organization_id}/store",
            get(store_page).post(save_store),
        )
        .route("/o/{organization_id}/store/payout", post(save_payout))
        .route(
            "/o/{organization_id}/store/products",
            get(products).post(create_product),
        )
        .route(
            "/o/{organization_id}/store/products/{product_id}",
            get(product).post(update_product),
        )
        .route("/o/{organization_id}/store/orders", get(orders))
        .route("/o/{organization_id}/store/orders/{order_id}", get(order))
        .route(
            "/o/{organization_id}/store/orders/{order_id}/status",
            post(move_order),
        )
        .route("/o/{organization_id}/store/earnings", get(earnings))
        .route("/o/{organization_id}/store/reviews", get(reviews_page))
        .route(
            "/o/{organization_id}/store/reviews/{review_id}/reply",
            post(reply),
        )
}

/// Products and orders one page lists.
const PER_PAGE: u32 = 25;

/// The layout's values with the store's sub-navigation.
async fn store_base(
    state: &Pages,
    visitor: &Visitor,
    title: &str,
    section: &str,
    (user, membership): &(CurrentUser, Membership),
    vendor: Option<&VendorRow>,
) -> Result<Context, PageError> {
    let (mut context, _) = base(state, visitor, title, "store", Some(membership)).await?;
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    context.insert("section".into(), section.into());
    let may = |p| permissions::allows(user.role, p);
    context.insert(
        "can_manage_store".into(),
        may(crate::permissions::MANAGE_STORE).into(),
    );
    context.insert(
        "can_earnings".into(),
        may(crate::permissions::VIEW_EARNINGS).into(),
    );
    context.insert(
        "vendor".into(),
        vendor
            .map(|v| {
                json!({
                    "store_name": v.store_name,
                    "slug": v.slug,
                    "status": v.status,
                    "status_label": vendor_label(v.status),
                    "suspended_reason": v.suspended_reason,
                    "has_payout_account": v.payout_account.is_some(),
                })
            })
            .into(),
    );
    Ok(context)
}

pub(crate) fn vendor_label(status: VendorStatus) -> &'static str {
    match status {
        VendorStatus::Pending => "Waiting for approval",
        VendorStatus::Approved => "Open",
        VendorStatus::Suspended => "Suspended",
        VendorStatus::Rejected => "Not approved",
    }
}

async fn vendor_of(state: &Pages, user: &CurrentUser) -> Result<Option<VendorRow>, PageError> {
    Ok(
        market_store::vendor(state.marketplace.db.pool(), &user.organization_id)
            .await
            .map_err(ApiError::from)?,
    )
}

fn render(template: &str, context: Context, status: StatusCode) -> Result<Page, PageError> {
    let page = Page::render(template, context)?;
    Ok(if status == StatusCode::OK {
        page
    } else {
        page.status(status)
    })
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, PageError> {
    Ok(serde_json::to_value(value).map_err(ApiError::internal)?)
}

// ---- the store: apply, status, settings ------------------------------------------------

/// The apply and settings form, as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct StoreForm {
    #[serde(skip_serializing)]
    csrf: String,
    store_name: String,
    slug: String,
    description: String,
    latitude: String,
    longitude: String,
    location_label: String,
}

impl StoreForm {
    fn of(vendor: &VendorRow) -> Self {
        let number = |n: Option<f64>| n.map(|n| n.to_string()).unwrap_or_default();
        StoreForm {
            csrf: String::new(),
            store_name: vendor.store_name.clone(),
            slug: vendor.slug.clone(),
            description: vendor.description.clone(),
            latitude: number(vendor.latitude),
            longitude: number(vendor.longitude),
            location_label: vendor.location_label.clone().unwrap_or_default(),
        }
    }
}

/// The payout account form, as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct PayoutForm {
    #[serde(skip_serializing)]
    csrf: String,
    payout_provider: String,
    payout_account: String,
}

impl PayoutForm {
    fn of(vendor: &VendorRow) -> Self {
        PayoutForm {
            csrf: String::new(),
            payout_provider: vendor
                .payout_provider
                .map_or("stripe", PayoutProvider::as_str)
                .into(),
            payout_account: vendor.payout_account.clone().unwrap_or_default(),
        }
    }
}

/// The feature's field names as the store page's forms name them.
const STORE_FIELDS: &[(&str, &str)] = &[
    ("payout.account", "payout_account"),
    ("payout.provider", "payout_provider"),
    ("payout", "payout_account"),
    ("location.latitude", "latitude"),
    ("location.longitude", "longitude"),
    ("location.label", "location_label"),
];

fn store_done(done: &str) -> Option<&'static str> {
    Some(match done {
        "applied" => "Application sent: an operator reviews it. You can add products meanwhile; they are listed once the store is approved.",
        "saved" => "Store settings saved.",
        "payout" => "Payout account saved: payouts that were waiting go out with the next payout run.",
        _ => return None,
    })
}

/// What the store page shows again after a refused form: the form as
/// typed and its refusals.
enum Sent<'a> {
    Nothing,
    Store(&'a StoreForm),
    Payout(&'a PayoutForm),
}

async fn store_view_page(
    state: &Pages,
    visitor: &Visitor,
    found: &(CurrentUser, Membership),
    sent: Sent<'_>,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let vendor = vendor_of(state, &found.0).await?;
    let title = if vendor.is_some() {
        "Store"
    } else {
        "Sell on the marketplace"
    };
    let mut context = store_base(state, visitor, title, "store", found, vendor.as_ref()).await?;
    let status = errors.into_context(&mut context);
    let form = match (&sent, &vendor) {
        (Sent::Store(form), _) => to_value(form)?,
        (_, Some(v)) => to_value(&StoreForm::of(v))?,
        (_, None) => to_value(&StoreForm::default())?,
    };
    context.insert("form".into(), form);
    let payout_form = match (&sent, &vendor) {
        (Sent::Payout(form), _) => to_value(form)?,
        (_, Some(v)) => to_value(&PayoutForm::of(v))?,
        (_, None) => to_value(&PayoutForm::default())?,
    };
    context.insert("payout_form".into(), payout_form);
    context.insert(
        "sent".into(),
        match sent {
            Sent::Nothing => Value::Null,
            Sent::Store(_) => "store".into(),
            Sent::Payout(_) => "payout".into(),
        },
    );
    if let Some(row) = vendor {
        let view = vendors::view(&state.marketplace, row).await?;
        let mut facts = to_value(&view)?;
        if let Some(object) = facts.as_object_mut() {
            object.insert(
                "fee".into(),
                format!("{:.2} %", f64::from(view.fee_bps) / 100.0)
                    .replace(".00 ", " ")
                    .into(),
            );
            object.insert("rating_display".into(), rating(&view.rating));
        }
        context.insert("store".into(), facts);
    }
    // Every provider is offered; one this server has no key for is
    // marked, and choosing it is refused next to the field.
    let providers: Vec<Value> = [PayoutProvider::Stripe, PayoutProvider::Paystack]
        .into_iter()
        .map(|p| {
            let configured = state.marketplace.client.configured(p);
            let label = match p {
                PayoutProvider::Stripe => "Stripe Connect (account id acct_…)",
                PayoutProvider::Paystack => "Paystack (transfer recipient RCP_…)",
            };
            json!({
                "name": p.as_str(),
                "label": if configured {
                    label.to_string()
                } else {
                    format!("{label} — not configured on this server")
                },
                "configured": configured,
            })
        })
        .collect();
    context.insert(
        "any_provider".into(),
        providers.iter().any(|p| p["configured"] == true).into(),
    );
    context.insert("providers".into(), providers.into());
    render("store.html", context, status)
}

/// `GET /o/{organization_id}/store`: the apply form before the
/// organization sells; afterwards its standing (pending, open, suspended
/// with the operator's reason) and settings (`GET /marketplace/vendor`).
pub async fn store_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::MANAGE_PRODUCTS,
    )
    .await?;
    store_view_page(&state, &visitor, &found, Sent::Nothing, FormErrors::ok()).await
}

/// `POST /o/{organization_id}/store`: `vendors::apply` the first time,
/// `vendors::update` afterwards (owners and admins).
pub async fn save_store(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Form(form): Form<StoreForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::MANAGE_STORE,
    )
    .await?;
    let user = &found.0;
    let result = match parse_location(&form.latitude, &form.longitude, &form.location_label) {
        Err(errors) => Err(Ok(errors)),
        Ok(location) => {
            let description = Some(form.description.clone());
            let existing = vendor_of(&state, user).await?;
            // A rejected store applies again; otherwise it changes its settings.
            let saved = if existing.is_some_and(|v| v.status != VendorStatus::Rejected) {
                vendors::update(
                    &state.marketplace,
                    &user.organization_id,
                    UpdateVendorRequest {
                        store_name: Some(form.store_name.clone()),
                        slug: Some(form.slug.trim().to_string()),
                        description,
                        location,
                        payout: None,
                    },
                )
                .await
                .map(|_| "saved")
            } else {
                vendors::apply(
                    &state.marketplace,
                    &user.organization_id,
                    ApplyRequest {
                        store_name: form.store_name.clone(),
                        slug: form.slug.trim().to_string(),
                        description,
                        location,
                        payout: None,
                    },
                )
                .await
                .map(|_| "applied")
            };
            saved.map_err(Err)
        }
    };
    match result {
        Ok(done) => {
            // An anchor of its own: without one the browser keeps the
            // form's (#store-form, #payout-form) and scrolls past the notice.
            let location = format!("/o/{}/store#main", user.organization_id);
            let flash = landlord_console::Flash::notice(store_done(done).unwrap_or("Saved."));
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error) => {
            let errors = match error {
                Ok(errors) => errors,
                Err(error) => rename_fields(
                    prefixed_to_field(refusal(error)?, &["slug", "store_name"]),
                    STORE_FIELDS,
                ),
            };
            store_view_page(&state, &visitor, &found, Sent::Store(&form), errors).await
        }
    }
}

/// `POST /o/{organization_id}/store/payout`: sets or replaces the store's
/// payout account (`PATCH /marketplace/vendor` with `payout`; owners and
/// admins). Payouts waiting for an account go out with the next run.
pub async fn save_payout(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Form(form): Form<PayoutForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::MANAGE_STORE,
    )
    .await?;
    let user = &found.0;
    let result = match PayoutProvider::parse(form.payout_provider.trim()) {
        None => {
            let mut errors = FormErrors::invalid();
            errors.fields.insert(
                "payout_provider".into(),
                "Choose Stripe or Paystack.".into(),
            );
            Err(errors)
        }
        Some(provider) => match vendors::update(
            &state.marketplace,
            &user.organization_id,
            UpdateVendorRequest {
                payout: Some(PayoutAccount {
                    provider,
                    account: form.payout_account.trim().to_string(),
                }),
                ..UpdateVendorRequest::default()
            },
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(error) => Err(rename_fields(refusal(error)?, STORE_FIELDS)),
        },
    };
    match result {
        Ok(()) => {
            // An anchor of its own: without one the browser keeps the
            // form's (#store-form, #payout-form) and scrolls past the notice.
            let location = format!("/o/{}/store#main", user.organization_id);
            let flash = landlord_console::Flash::notice(store_done("payout").unwrap_or("Saved."));
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(errors) => store_view_page(&state, &visitor, &found, Sent::Payout(&form), errors).await,
    }
}

// ---- products --------------------------------------------------------------------------

/// The product form, as typed (the price in major units, categories
/// comma-separated, one image URL a line).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ProductForm {
    #[serde(skip_serializing)]
    csrf: String,
    title: String,
    slug: String,
    description: String,
    price: String,
    currency: String,
    stock: String,
    status: String,
    categories: String,
    images: String,
    latitude: String,
    longitude: String,
    location_label: String,
}

impl ProductForm {
    fn blank() -> Self {
        ProductForm {
            currency: "USD".into(),
            status: "active".into(),
            stock: "1".into(),
            ..ProductForm::default()
        }
    }

    fn of(view: &ProductView) -> Self {
        ProductForm {
            csrf: String::new(),
            title: view.title.clone(),
            slug: view.slug.clone(),
            description: view.description.clone(),
            price: amount_input(view.price),
            currency: view.currency.clone(),
            stock: view.stock.to_string(),
            status: view.status.as_str().into(),
            categories: view.categories.join(", "),
            images: view.images.join("\n"),
            latitude: view
                .location
                .as_ref()
                .map(|l| l.latitude.to_string())
                .unwrap_or_default(),
            longitude: view
                .location
                .as_ref()
                .map(|l| l.longitude.to_string())
                .unwrap_or_default(),
            location_label: view
                .location
                .as_ref()
                .and_then(|l| l.label.clone())
                .unwrap_or_default(),
        }
    }

    /// The typed values the feature takes, or the fields the console
    /// could not read.
    fn parsed(&self) -> Result<ParsedProduct, FormErrors> {
        let mut errors = FormErrors::invalid();
        let price = match parse_amount(&self.price) {
            Ok(Some(price)) => Some(price),
            Ok(None) => {
                errors
                    .fields
                    .insert("price".into(), "Enter the price, such as 12.50.".into());
                None
            }
            Err(reason) => {
                errors.fields.insert("price".into(), reason);
                None
            }
        };
        let stock = match self.stock.trim().parse::<i64>() {
            Ok(stock) => Some(stock),
            Err(_) => {
                errors
                    .fields
                    .insert("stock".into(), "Must be a whole number, 0 or more.".into());
                None
            }
        };
        let status = ProductStatus::parse(self.status.trim());
        if status.is_none() {
            errors
                .fields
                .insert("status".into(), "Choose draft, active or archived.".into());
        }
        let location = match parse_location(&self.latitude, &self.longitude, &self.location_label) {
            Ok(location) => location,
            Err(located) => {
                errors.fields.extend(located.fields);
                None
            }
        };
        match (price, stock, status) {
            (Some(price), Some(stock), Some(status)) if errors.fields.is_empty() => {
                Ok(ParsedProduct {
                    price,
                    stock,
                    status,
                    categories: self
                        .categories
                        .split(',')
                        .map(|c| c.trim().to_lowercase())
                        .filter(|c| !c.is_empty())
                        .collect(),
                    images: self
                        .images
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    location,
                })
            }
            _ => Err(errors),
        }
    }
}

struct ParsedProduct {
    price: i64,
    stock: i64,
    status: ProductStatus,
    categories: Vec<String>,
    images: Vec<String>,
    location: Option<crate::views::Location>,
}

const PRODUCT_FIELDS: &[(&str, &str)] = &[
    ("location.latitude", "latitude"),
    ("location.longitude", "longitude"),
    ("location.label", "location_label"),
];

fn product_errors(error: ApiError) -> Result<FormErrors, PageError> {
    Ok(rename_fields(
        prefixed_to_field(refusal(error)?, &["slug", "stock"]),
        PRODUCT_FIELDS,
    ))
}

fn product_row(view: &ProductView) -> Value {
    json!({
        "id": view.id,
        "title": view.title,
        "slug": view.slug,
        "price": format_money(view.price, &view.currency),
        "stock": view.stock,
        "reserved": view.reserved,
        "available": view.available,
        "status": view.status,
        "updated_at": view.updated_at,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    status: Option<String>,
    cursor: Option<String>,
}

async fn products_page(
    state: &Pages,
    visitor: &Visitor,
    found: &(CurrentUser, Membership),
    query: &ListQuery,
    form: &ProductForm,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let user = &found.0;
    let vendor = vendor_of(state, user).await?;
    let mut context = store_base(
        state,
        visitor,
        "Products",
        "products",
        found,
        vendor.as_ref(),
    )
    .await?;
    let status_code = errors.into_context(&mut context);
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| ProductStatus::parse(s).ok_or(PageError::NotFound))
        .transpose()?;
    let page = PageQuery {
        limit: Some(PER_PAGE),
        cursor: query.cursor.clone(),
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let before = page.cursor.as_deref().map(ProductId::from_trusted);
    let mut rows = market_store::vendor_products(
        state.marketplace.db.pool(),
        &user.organization_id,
        status,
        before.as_ref(),
        page.fetch(),
    )
    .await
    .map_err(ApiError::from)?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    let list: Vec<Value> = rows
        .into_iter()
        .map(|row| product_row(&ProductView::new(row)))
        .collect();
    context.insert("products".into(), list.into());
    context.insert("status".into(), status.map(ProductStatus::as_str).into());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), page.cursor.is_none().into());
    context.insert("form".into(), to_value(form)?);
    render("store_products.html", context, status_code)
}

/// `GET /o/{organization_id}/store/products`: the store's products,
/// newest first, whatever their status (`?status=` one), and the create
/// form (`GET /marketplace/vendor/products`).
pub async fn products(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::MANAGE_PRODUCTS,
    )
    .await?;
    products_page(
        &state,
        &visitor,
        &found,
        &query,
        &ProductForm::blank(),
        FormErrors::ok(),
    )
    .await
}

/// `POST /o/{organization_id}/store/products`: `catalog::create`, then the
/// product's page.
pub async fn create_product(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Form(form): Form<ProductForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::MANAGE_PRODUCTS,
    )
    .await?;
    let user = &found.0;
    let errors = match form.parsed() {
        Err(errors) => errors,
        Ok(parsed) => {
            let request = NewProductRequest {
                title: form.title.clone(),
                slug: form.slug.trim().to_string(),
                description: Some(form.description.clone()),
                price: parsed.price,
                currency: form.currency.trim().to_uppercase(),
                stock: parsed.stock,
                status: Some(parsed.status),
                categories: Some(parsed.categories),
                images: Some(parsed.images),
                location: parsed.location,
            };
            match catalog::create(&state.marketplace, &user.organization_id, request).await {
                Ok(created) => {
                    let location =
                        format!("/o/{}/store/products/{}", user.organization_id, created.id);
                    let flash = landlord_console::Flash::notice("Product created.");
                    return Page::redirect_with(&state, &visitor, location, flash).await;
                }
                // Not a vendor yet: say so beside the form, not a 404.
                Err(ApiError::NotFound(message)) => {
                    let mut errors = FormErrors::invalid();
                    errors.status = Some(StatusCode::CONFLICT);
                    errors.general = Some(sentence(message.split(" (").next().unwrap_or(&message)));
                    errors
                }
                Err(error) => product_errors(error)?,
            }
        }
    };
    products_page(
        &state,
        &visitor,
        &found,
        &ListQuery::default(),
        &form,
        errors,
    )
    .await
}

async fn product_page(
    state: &Pages,
    visitor: &Visitor,
    found: &(CurrentUser, Membership),
    view: &ProductView,
    form: &ProductForm,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let vendor = vendor_of(state, &found.0).await?;
    let mut context = store_base(
        state,
        visitor,
        &view.title,
        "products",
        found,
        vendor.as_ref(),
    )
    .await?;
    let status = errors.into_context(&mut context);
    let mut product = to_value(view)?;
    if let Some(object) = product.as_object_mut() {
        object.insert(
            "price_display".into(),
            format_money(view.price, &view.currency).into(),
        );
        object.insert("availability".into(), availability(view.available).into());
        object.insert("rating_display".into(), rating(&view.rating));
    }
    context.insert("listing".into(), product);
    context.insert("form".into(), to_value(form)?);
    render("store_product.html", context, status)
}

/// `GET /o/{organization_id}/store/products/{product_id}`: the product and
/// its edit form (`catalog::own_product`: another store's is 404).
pub async fn product(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, product_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::MANAGE_PRODUCTS,
    )
    .await?;
    let view = catalog::own_product(
        &state.marketplace,
        &found.0.organization_id,
        product_id.trim(),
    )
    .await
    .map_err(api)?;
    let form = ProductForm::of(&view);
    product_page(&state, &visitor, &found, &view, &form, FormErrors::ok()).await
}

/// `POST /o/{organization_id}/store/products/{product_id}`: `catalog::update`
/// with every field of the form.
pub async fn update_product(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, product_id)): Path<(String, String)>,
    Form(form): Form<ProductForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::MANAGE_PRODUCTS,
    )
    .await?;
    let vendor_id = found.0.organization_id.clone();
    let current = catalog::own_product(&state.marketplace, &vendor_id, product_id.trim())
        .await
        .map_err(api)?;
    let errors = match form.parsed() {
        Err(errors) => errors,
        Ok(parsed) => {
            let request = UpdateProductRequest {
                title: Some(form.title.clone()),
                slug: Some(form.slug.trim().to_string()),
                description: Some(form.description.clone()),
                price: Some(parsed.price),
                currency: Some(form.currency.trim().to_uppercase()),
                stock: Some(parsed.stock),
                status: Some(parsed.status),
                categories: Some(parsed.categories),
                images: Some(parsed.images),
                location: parsed.location,
            };
            match catalog::update(&state.marketplace, &vendor_id, current.id.as_str(), request)
                .await
            {
                Ok(saved) => {
                    let location = format!("/o/{vendor_id}/store/products/{}", saved.id);
                    let flash = landlord_console::Flash::notice("Product saved.");
                    return Page::redirect_with(&state, &visitor, location, flash).await;
                }
                Err(error) => product_errors(error)?,
            }
        }
    };
    product_page(&state, &visitor, &found, &current, &form, errors).await
}

// ---- orders ----------------------------------------------------------------------------

fn vendor_order_json(view: &VendorOrderView) -> Result<Value, PageError> {
    let currency = view.currency.as_str();
    let mut value = to_value(view)?;
    let items: Vec<Value> = view
        .items
        .iter()
        .map(|item| {
            json!({
                "title": item.title,
                "product_id": item.product_id,
                "quantity": item.quantity,
                "unit_price": format_money(item.unit_price, currency),
                "line_total": format_money(item.line_total, currency),
            })
        })
        .collect();
    let summary: Vec<String> = view
        .items
        .iter()
        .map(|i| format!("{} × {}", i.quantity, i.title))
        .collect();
    if let Some(object) = value.as_object_mut() {
        object.insert("reference".into(), short_ref(view.order_id.as_str()).into());
        object.insert(
            "status_label".into(),
            vendor_order_label(view.status).into(),
        );
        object.insert(
            "subtotal_display".into(),
            format_money(view.subtotal, currency).into(),
        );
        object.insert(
            "fee_display".into(),
            format_money(view.fee, currency).into(),
        );
        object.insert(
            "earnings_display".into(),
            format_money(view.earnings, currency).into(),
        );
        object.insert(
            "fee_rate".into(),
            format!("{:.2} %", view.fee_bps as f64 / 100.0)
                .replace(".00 ", " ")
                .into(),
        );
        object.insert("lines".into(), items.into());
        object.insert("summary".into(), summary.join(", ").into());
    }
    Ok(value)
}

/// The statuses the order list filters by (every paid one when none).
const ORDER_FILTERS: &[VendorOrderStatus] = &[
    VendorOrderStatus::Confirmed,
    VendorOrderStatus::Processing,
    VendorOrderStatus::Shipped,
    VendorOrderStatus::Delivered,
    VendorOrderStatus::Cancelled,
];

/// `GET /o/{organization_id}/store/orders`: the store's part of paid
/// orders, newest first (`?status=` one status; `GET
/// /marketplace/vendor/orders`).
pub async fn orders(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::FULFIL_ORDERS,
    )
    .await?;
    let user = &found.0;
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| VendorOrderStatus::parse(s).ok_or(PageError::NotFound))
        .transpose()?;
    let page = PageQuery {
        limit: Some(PER_PAGE),
        cursor: query.cursor.clone(),
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let before = page.cursor.as_deref().map(VendorOrderId::from_trusted);
    let mut conn = state
        .marketplace
        .db
        .pool()
        .acquire()
        .await
        .map_err(ApiError::from)?;
    let mut rows = market_store::vendor_orders(
        &mut *conn,
        &user.organization_id,
        status,
        before.as_ref(),
        page.fetch(),
    )
    .await
    .map_err(ApiError::from)?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        list.push(vendor_order_json(
            &fulfilment::vendor_order_view(&mut conn, row).await?,
        )?);
    }
    drop(conn);
    let vendor = vendor_of(&state, user).await?;
    let mut context = store_base(
        &state,
        &visitor,
        "Orders",
        "orders",
        &found,
        vendor.as_ref(),
    )
    .await?;
    let filters: Vec<Value> = ORDER_FILTERS
        .iter()
        .map(|s| json!({ "value": s.as_str(), "label": vendor_order_label(*s) }))
        .collect();
    context.insert("orders".into(), list.into());
    context.insert("filters".into(), filters.into());
    context.insert(
        "status".into(),
        status.map(VendorOrderStatus::as_str).into(),
    );
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), page.cursor.is_none().into());
    Page::render("store_orders.html", context)
}

fn order_done(done: &str) -> Option<&'static str> {
    Some(match done {
        "processing" => "Marked processing.",
        "shipped" => "Marked shipped: the buyer sees the tracking reference.",
        "delivered" => "Marked delivered: the buyer may now review the items.",
        "cancelled" => {
            "Cancelled: the items are back in stock and the buyer is refunded this part."
        }
        _ => return None,
    })
}

/// What the order page's action forms send.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusForm {
    csrf: String,
    status: String,
    tracking_reference: String,
    reason: String,
}

async fn order_page(
    state: &Pages,
    visitor: &Visitor,
    found: &(CurrentUser, Membership),
    order_id: &str,
    form: Option<&StatusForm>,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let row = fulfilment::own(
        &state.marketplace,
        &found.0.organization_id,
        order_id.trim(),
    )
    .await
    .map_err(api)?;
    let mut conn = state
        .marketplace
        .db
        .pool()
        .acquire()
        .await
        .map_err(ApiError::from)?;
    let view = fulfilment::vendor_order_view(&mut conn, row).await?;
    drop(conn);
    let vendor = vendor_of(state, &found.0).await?;
    let title = format!("Order {}", short_ref(view.order_id.as_str()));
    let mut context = store_base(state, visitor, &title, "orders", found, vendor.as_ref()).await?;
    let status = errors.into_context(&mut context);
    context.insert("order".into(), vendor_order_json(&view)?);
    context.insert(
        "typed".into(),
        json!({
            "tracking_reference": form.map(|f| f.tracking_reference.trim()).unwrap_or(""),
            "reason": form.map(|f| f.reason.trim()).unwrap_or(""),
        }),
    );
    render("store_order.html", context, status)
}

/// `GET /o/{organization_id}/store/orders/{order_id}`: the store's part of
/// an order: its items, subtotal, fee and earnings, and the next moves.
pub async fn order(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, order_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::FULFIL_ORDERS,
    )
    .await?;
    order_page(&state, &visitor, &found, &order_id, None, FormErrors::ok()).await
}

/// `POST /o/{organization_id}/store/orders/{order_id}/status`:
/// `fulfilment::change_status` (processing, shipped with its tracking
/// reference, delivered, or cancelled with a reason).
pub async fn move_order(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, order_id)): Path<(String, String)>,
    Form(form): Form<StatusForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::FULFIL_ORDERS,
    )
    .await?;
    let vendor_id = found.0.organization_id.clone();
    let result = match VendorOrderStatus::parse(form.status.trim()) {
        Some(status) => {
            let text = |t: &str| Some(t.trim().to_string()).filter(|t| !t.is_empty());
            let request = StatusRequest {
                status,
                tracking_reference: text(&form.tracking_reference),
                reason: text(&form.reason),
            };
            fulfilment::change_status(&state.marketplace, &vendor_id, order_id.trim(), request)
                .await
                .map(|view| (view, status))
        }
        None => Err(ApiError::invalid_field(
            "status",
            "is not a move this page offers",
        )),
    };
    match result {
        Ok((view, status)) => {
            let location = format!("/o/{vendor_id}/store/orders/{}", view.id);
            let flash = landlord_console::Flash::notice(
                order_done(status.as_str()).unwrap_or("Order updated."),
            );
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error) => {
            let errors = refusal(error)?;
            let errors = match prefixed_to_field(errors, &["status"]) {
                mut errors if errors.fields.contains_key("status") => {
                    // Not a field of the page: a word for the whole page.
                    errors.general = errors.fields.remove("status");
                    errors
                }
                errors => errors,
            };
            order_page(&state, &visitor, &found, &order_id, Some(&form), errors).await
        }
    }
}

// ---- earnings --------------------------------------------------------------------------

/// `GET /o/{organization_id}/store/earnings`: the ledger's balances per
/// currency and its latest entries (`payouts::ledger`), and the payouts
/// with their status and last error (owners and admins).
pub async fn earnings(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::VIEW_EARNINGS,
    )
    .await?;
    let user = &found.0;
    let ledger = payouts::ledger(&state.marketplace, &user.organization_id).await?;
    let rows = market_store::payouts(
        state.marketplace.db.pool(),
        Some(&user.organization_id),
        None,
        None,
        50,
    )
    .await
    .map_err(ApiError::from)?;
    let balances: Vec<Value> = ledger
        .balances
        .iter()
        .map(|b| {
            json!({
                "currency": b.currency,
                "earned": format_money(b.earned, &b.currency),
                "reversed": format_money(b.reversed, &b.currency),
                "paid_out": format_money(b.paid_out, &b.currency),
                "balance": format_money(b.balance, &b.currency),
            })
        })
        .collect();
    let entries: Vec<Value> = ledger
        .entries
        .iter()
        .map(|e| {
            let kind = e.kind.as_str();
            json!({
                "kind": kind,
                "label": match kind {
                    "earned" => "Earned",
                    "reversed" => "Reversed (cancelled)",
                    _ => "Paid out",
                },
                "amount": format_money(
                    if kind == "earned" { e.amount } else { -e.amount },
                    &e.currency,
                ),
                "vendor_order_id": e.vendor_order_id,
                "payout_id": e.payout_id,
                "created_at": e.created_at,
            })
        })
        .collect();
    let payout_list: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            let view = PayoutView::new(row);
            json!({
                "id": view.id,
                "amount": format_money(view.amount, &view.currency),
                "provider": view.provider,
                "account": view.account,
                "status": view.status,
                "attempts": view.attempts,
                "transfer_reference": view.transfer_reference,
                "last_error": view.last_error,
                "paid_at": view.paid_at,
                "created_at": view.created_at,
            })
        })
        .collect();
    let vendor = vendor_of(&state, user).await?;
    let hold_days = state
        .marketplace
        .config
        .section::<crate::config::MarketplaceConfig>()
        .payout_hold_secs
        .div_ceil(86_400);
    let mut context = store_base(
        &state,
        &visitor,
        "Earnings",
        "earnings",
        &found,
        vendor.as_ref(),
    )
    .await?;
    context.insert("balances".into(), balances.into());
    context.insert("entries".into(), entries.into());
    context.insert("payouts".into(), payout_list.into());
    context.insert("hold_days".into(), hold_days.into());
    Page::render("store_earnings.html", context)
}

// ---- reviews ---------------------------------------------------------------------------

/// What a refused reply form sends back: the review, what was typed.
struct Typed<'a> {
    review_id: &'a str,
    text: &'a str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReviewsQuery {
    cursor: Option<String>,
}

async fn reviews_view_page(
    state: &Pages,
    visitor: &Visitor,
    found: &(CurrentUser, Membership),
    cursor: Option<String>,
    typed: Option<Typed<'_>>,
    errors: FormErrors,
) -> Result<Page, PageError> {
    let user = &found.0;
    let pool = state.marketplace.db.pool();
    let page = PageQuery {
        limit: Some(PER_PAGE),
        cursor,
    }
    .page()
    .map_err(|_| PageError::NotFound)?;
    let before = page.cursor.as_deref().map(ReviewId::from_trusted);
    let mut rows = market_store::reviews(
        pool,
        None,
        Some(&user.organization_id),
        before.as_ref(),
        page.fetch(),
    )
    .await
    .map_err(ApiError::from)?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    let mut titles: std::collections::HashMap<ProductId, Option<String>> = Default::default();
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let view = ReviewView::new(row);
        if !titles.contains_key(&view.product_id) {
            let title = market_store::vendor_product(pool, &user.organization_id, &view.product_id)
                .await
                .map_err(ApiError::from)?
                .map(|p| p.title);
            titles.insert(view.product_id.clone(), title);
        }
        let title = titles.get(&view.product_id).cloned().flatten();
        list.push(json!({
            "id": view.id,
            "product_id": view.product_id,
            "product_title": title,
            "rating": view.rating,
            "stars": stars(view.rating),
            "text": view.text,
            "reply": view.reply,
            "replied_at": view.replied_at,
            "created_at": view.created_at,
        }));
    }
    let vendor = vendor_of(state, user).await?;
    let mut context =
        store_base(state, visitor, "Reviews", "reviews", found, vendor.as_ref()).await?;
    let status = errors.into_context(&mut context);
    if let Some(typed) = typed {
        context.insert(
            "typed".into(),
            json!({ "id": typed.review_id, "text": typed.text }),
        );
    }
    context.insert("reviews".into(), list.into());
    context.insert("next_cursor".into(), meta.next_cursor.into());
    context.insert("first_page".into(), page.cursor.is_none().into());
    render("store_reviews.html", context, status)
}

/// `GET /o/{organization_id}/store/reviews`: the reviews of the store's
/// products, newest first, with their replies (`GET
/// /marketplace/vendor/reviews`); a reply form each for owners and admins.
pub async fn reviews_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<ReviewsQuery>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::FULFIL_ORDERS,
    )
    .await?;
    reviews_view_page(
        &state,
        &visitor,
        &found,
        query.cursor,
        None,
        FormErrors::ok(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReplyForm {
    csrf: String,
    text: String,
}

/// `POST /o/{organization_id}/store/reviews/{review_id}/reply`:
/// `reviews::reply` (replaces an earlier reply; owners and admins).
pub async fn reply(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, review_id)): Path<(String, String)>,
    Form(form): Form<ReplyForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::MANAGE_STORE,
    )
    .await?;
    let vendor_id = found.0.organization_id.clone();
    let id = review_id.trim();
    let request = ReplyRequest {
        text: form.text.clone(),
    };
    match reviews::reply(&state.marketplace, &vendor_id, id, request).await {
        Ok(_) => {
            let location = format!("/o/{vendor_id}/store/reviews");
            let flash =
                landlord_console::Flash::notice("Reply published: buyers see it under the review.");
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error) => {
            let mut errors = refusal(error)?;
            if let Some(reason) = errors.fields.remove("text") {
                errors.fields.insert(format!("reply-{id}"), reason);
            }
            let typed = Typed {
                review_id: id,
                text: form.text.as_str(),
            };
            reviews_view_page(&state, &visitor, &found, None, Some(typed), errors).await
        }
    }
}
