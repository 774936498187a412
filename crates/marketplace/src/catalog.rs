//! Products: the vendor's team manages them; anyone browses the listed
//! ones (active, of an approved vendor) with filters, full-text search and
//! search by distance ([`crate::geo`] has the method).

use crate::ids::ProductId;
use landlord_core::http::{ApiSuccess, Page};
use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Timestamp};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::geo::{self, Point};
use crate::store::{self, CatalogFilter, ProductIndex, ProductRow, ProductStatus};
use crate::vendors::{check_location, check_slug, check_text};
use crate::views::{Location, ProductView};
use crate::MarketplaceState;

pub const MAX_PRICE: i64 = 10_000_000_000;
pub const MAX_STOCK: i64 = 1_000_000;

/// `POST /marketplace/vendor/products`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Unique within the store: lowercase letters, digits, single hyphens.
    #[schema(min_length = 2, max_length = 60, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Minor units of `currency` (cents).
    #[schema(minimum = 1, maximum = 10_000_000_000_i64)]
    pub price: i64,
    /// ISO 4217, upper case.
    #[schema(pattern = r"^[A-Z]{3}$", min_length = 3, max_length = 3)]
    pub currency: String,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub stock: i64,
    /// `draft` when absent; only `active` products are listed.
    pub status: Option<ProductStatus>,
    /// Category slugs (at most 10).
    #[schema(max_items = 10)]
    pub categories: Option<Vec<String>>,
    /// Image URLs, `https://` (at most 10).
    #[schema(max_items = 10)]
    pub images: Option<Vec<String>>,
    /// Where the product is; absent: where its store is.
    pub location: Option<Location>,
}

/// `PATCH /marketplace/vendor/products/{id}`: the fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(min_length = 2, max_length = 60, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<String>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(minimum = 1, maximum = 10_000_000_000_i64)]
    pub price: Option<i64>,
    #[schema(pattern = r"^[A-Z]{3}$", min_length = 3, max_length = 3)]
    pub currency: Option<String>,
    /// Never below what unpaid orders hold (`reserved`).
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub stock: Option<i64>,
    pub status: Option<ProductStatus>,
    #[schema(max_items = 10)]
    pub categories: Option<Vec<String>>,
    #[schema(max_items = 10)]
    pub images: Option<Vec<String>>,
    pub location: Option<Location>,
}

pub fn check_currency(field: &str, currency: &str) -> Result<(), ApiError> {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::invalid_field(
            field,
            "must be an ISO 4217 code in upper case (USD)",
        ));
    }
    Ok(())
}

fn check_price(price: i64) -> Result<(), ApiError> {
    if !(1..=MAX_PRICE).contains(&price) {
        return Err(ApiError::invalid_field(
            "price",
            format!("must be between 1 and {MAX_PRICE} (minor units)"),
        ));
    }
    Ok(())
}

fn check_stock(stock: i64) -> Result<(), ApiError> {
    if !(0..=MAX_STOCK).contains(&stock) {
        return Err(ApiError::invalid_field(
            "stock",
            format!("must be between 0 and {MAX_STOCK}"),
        ));
    }
    Ok(())
}

fn check_categories(categories: &[String]) -> Result<Vec<String>, ApiError> {
    if categories.len() > 10 {
        return Err(ApiError::invalid_field("categories", "at most 10"));
    }
    let mut out: Vec<String> = Vec::new();
    for category in categories {
        check_slug("categories", category)?;
        if !out.contains(category) {
            out.push(category.clone());
        }
    }
    Ok(out)
}

fn check_images(images: &[String]) -> Result<(), ApiError> {
    if images.len() > 10 {
        return Err(ApiError::invalid_field("images", "at most 10"));
    }
    for image in images {
        let ok = image.len() <= 500
            && image.strip_prefix("https://").is_some_and(|rest| {
                !rest.is_empty() && !rest.starts_with('/') && !rest.chars().any(char::is_whitespace)
            });
        if !ok {
            return Err(ApiError::invalid_field(
                "images",
                "each must be an https:// URL of at most 500 characters",
            ));
        }
    }
    Ok(())
}

fn search_text(row: &ProductRow, categories: &[String]) -> String {
    format!("{} {} {}", row.title, row.description, categories.join(" "))
}

fn slug_taken() -> ApiError {
    ApiError::Conflict("slug: this store has a product with this slug already".into())
}

pub async fn create(
    state: &MarketplaceState,
    vendor_id: &OrganizationId,
    body: NewProductRequest,
) -> Result<ProductView, ApiError> {
    let vendor = crate::vendors::own(state, vendor_id).await?;
    check_text("title", &body.title, 1, 200)?;
    check_slug("slug", &body.slug)?;
    let description = body.description.unwrap_or_default();
    check_text("description", &description, 0, 5000)?;
    check_price(body.price)?;
    check_currency("currency", &body.currency)?;
    check_stock(body.stock)?;
    let categories = check_categories(&body.categories.unwrap_or_default())?;
    let images = body.images.unwrap_or_default();
    check_images(&images)?;
    if let Some(location) = &body.location {
        check_location("location", location)?;
    }
    let now = Timestamp::now();
    // A product without a location of its own is where its store is.
    let location = body.location.or_else(|| {
        Location::from_columns(vendor.latitude, vendor.longitude, vendor.location_label)
    });
    let row = ProductRow {
        id: ProductId::generate(),
        vendor_id: vendor_id.clone(),
        title: body.title.trim().to_string(),
        slug: body.slug,
        description,
        price: body.price,
        currency: body.currency,
        stock: body.stock,
        reserved: 0,
        status: body.status.unwrap_or(ProductStatus::Draft),
        categories: serde_json::to_string(&categories).map_err(ApiError::internal)?,
        images: serde_json::to_string(&images).map_err(ApiError::internal)?,
        latitude: location.as_ref().map(|l| l.latitude),
        longitude: location.as_ref().map(|l| l.longitude),
        location_label: location.and_then(|l| l.label),
        rating_sum: 0,
        rating_count: 0,
        created_at: now,
        updated_at: now,
        store_name: String::new(),
        store_slug: String::new(),
    };
    let text = search_text(&row, &categories);
    let mut tx = state.db.begin().await?;
    let index = ProductIndex {
        categories: &categories,
        search_text: &text,
    };
    match store::insert_product(&mut tx, &row, index).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(slug_taken()),
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    own_product(state, vendor_id, row.id.as_str()).await
}

/// One of the vendor's products; another vendor's is not found.
pub async fn own_product(
    state: &MarketplaceState,
    vendor_id: &OrganizationId,
    id: &str,
) -> Result<ProductView, ApiError> {
    let not_found = || ApiError::not_found("product");
    let id = ProductId::parse(id).ok_or_else(not_found)?;
    let row = store::vendor_product(state.db.pool(), vendor_id, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(ProductView::new(row))
}

pub async fn update(
    state: &MarketplaceState,
    vendor_id: &OrganizationId,
    id: &str,
    body: UpdateProductRequest,
) -> Result<ProductView, ApiError> {
    let not_found = || ApiError::not_found("product");
    let id = ProductId::parse(id).ok_or_else(not_found)?;
    let mut row = store::vendor_product(state.db.pool(), vendor_id, &id)
        .await?
        .ok_or_else(not_found)?;
    if let Some(title) = body.title {
        check_text("title", &title, 1, 200)?;
        row.title = title.trim().to_string();
    }
    if let Some(slug) = body.slug {
        check_slug("slug", &slug)?;
        row.slug = slug;
    }
    if let Some(description) = body.description {
        check_text("description", &description, 0, 5000)?;
        row.description = description;
    }
    if let Some(price) = body.price {
        check_price(price)?;
        row.price = price;
    }
    if let Some(currency) = body.currency {
        check_currency("currency", &currency)?;
        row.currency = currency;
    }
    if let Some(stock) = body.stock {
        check_stock(stock)?;
        row.stock = stock;
    }
    if let Some(status) = body.status {
        row.status = status;
    }
    let categories = match body.categories {
        Some(categories) => check_categories(&categories)?,
        None => serde_json::from_str(&row.categories).unwrap_or_default(),
    };
    row.categories = serde_json::to_string(&categories).map_err(ApiError::internal)?;
    if let Some(images) = body.images {
        check_images(&images)?;
        row.images = serde_json::to_string(&images).map_err(ApiError::internal)?;
    }
    if let Some(location) = body.location {
        check_location("location", &location)?;
        row.latitude = Some(location.latitude);
        row.longitude = Some(location.longitude);
        row.location_label = location.label;
    }
    row.updated_at = Timestamp::now();
    let text = search_text(&row, &categories);
    let mut tx = state.db.begin().await?;
    let index = ProductIndex {
        categories: &categories,
        search_text: &text,
    };
    let updated = match store::update_product(&mut tx, &row, index).await {
        Ok(updated) => updated,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(slug_taken()),
        Err(e) => return Err(e.into()),
    };
    if !updated {
        // The product is the vendor's (read above): only the stock rule refuses.
        return Err(ApiError::Conflict(
            "stock: cannot go below what unpaid orders hold (reserved)".into(),
        ));
    }
    tx.commit().await?;
    own_product(state, vendor_id, id.as_str()).await
}

/// The public listing's query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    /// Full-text search over title, description and categories: products
    /// matching every word (English stemming: "shoes" finds "shoe").
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// A category slug.
    #[param(max_length = 60)]
    pub category: Option<String>,
    /// A store's slug.
    #[param(max_length = 60)]
    pub vendor: Option<String>,
    #[param(minimum = 0)]
    pub min_price: Option<i64>,
    #[param(minimum = 0)]
    pub max_price: Option<i64>,
    #[param(pattern = r"^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// With `longitude` and `radius_km`: products within the radius.
    #[param(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[param(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    /// Kilometres, more than 0 and at most 1,000.
    #[param(exclusive_minimum = 0, maximum = 1000)]
    pub radius_km: Option<f64>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// PostgreSQL's English stop words (its `english.stop`), which its
/// 'english' configuration ignores. They are left out of the search on
/// both backends: otherwise FTS5 would need "for" or the "s" of "men's" in
/// a product's text, and "lamp for reading" would find nothing on SQLite.
const STOP_WORDS: &str =
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his \
     himself she her hers herself it its itself they them their theirs themselves what \
     which who whom this that these those am is are was were be been being have has had \
     having do does did doing a an the and but if or because as until while of at by for \
     with about against between into through during before after above below to from up \
     down in out on off over under again further then once here there when where why how \
     all any both each few more most other some such no nor not only own same so than \
     too very s t can will just don should now";

/// Lower-cased words of a search without stop words, at most 10.
fn words_of(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.split(' ').any(|stop| stop == w))
        .take(10)
        .collect()
}

fn check_optional_slug(field: &str, value: &Option<String>) -> Result<(), ApiError> {
    match value.as_deref() {
        None | Some("") => Ok(()),
        Some(slug) => check_slug(field, slug),
    }
}

/// The listing, newest first, with a radius search's distances.
pub async fn search(
    state: &MarketplaceState,
    query: CatalogQuery,
) -> Result<ApiSuccess<Vec<ProductView>>, ApiError> {
    let page: Page = landlord_core::http::PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .page()?;
    let q = query.q.clone().unwrap_or_default();
    if q.chars().count() > 200 {
        return Err(ApiError::invalid_field(
            "q",
            "must be at most 200 characters",
        ));
    }
    let words = words_of(&q);
    let has_word = q.chars().any(char::is_alphanumeric);
    if !q.trim().is_empty() && !has_word {
        return Err(ApiError::invalid_field("q", "has no word to search for"));
    }
    check_optional_slug("category", &query.category)?;
    check_optional_slug("vendor", &query.vendor)?;
    for (field, value) in [
        ("min_price", query.min_price),
        ("max_price", query.max_price),
    ] {
        if value.is_some_and(|v| v < 0) {
            return Err(ApiError::invalid_field(field, "must be at least 0"));
        }
    }
    if let Some(currency) = query.currency.as_deref() {
        check_currency("currency", currency)?;
    }
    let center = match (query.latitude, query.longitude, query.radius_km) {
        (None, None, None) => None,
        (Some(latitude), Some(longitude), Some(radius)) => {
            // The query's own parameter is named (not `location.…`).
            if !(-90.0..=90.0).contains(&latitude) {
                return Err(ApiError::invalid_field(
                    "latitude",
                    "must be between -90 and 90",
                ));
            }
            if !(-180.0..=180.0).contains(&longitude) {
                return Err(ApiError::invalid_field(
                    "longitude",
                    "must be between -180 and 180",
                ));
            }
            if !(radius > 0.0 && radius <= 1000.0) {
                return Err(ApiError::invalid_field(
                    "radius_km",
                    "must be more than 0 and at most 1000",
                ));
            }
            Some((
                Point {
                    latitude,
                    longitude,
                },
                radius,
            ))
        }
        _ => {
            return Err(ApiError::invalid_field(
                "radius_km",
                "a distance search needs latitude, longitude and radius_km together",
            ))
        }
    };
    if has_word && words.is_empty() {
        // Only stop words ("the"): PostgreSQL's query matches nothing, so
        // neither backend lists anything.
        return Ok(page.respond(Vec::<ProductView>::new(), |v| v.id.to_string(), |v| v));
    }
    let wanted = page.limit as usize;
    let mut filter = CatalogFilter {
        words,
        category: query.category.as_deref().filter(|s| !s.is_empty()),
        vendor_slug: query.vendor.as_deref().filter(|s| !s.is_empty()),
        min_price: query.min_price,
        max_price: query.max_price,
        currency: query.currency.as_deref(),
        within: center.map(|(point, radius)| geo::bounding_box(point, radius)),
        before: page.cursor.as_deref().map(ProductId::from_trusted),
        limit: page.fetch(),
    };
    let mut conn = state.db.pool().acquire().await?;
    let mut found: Vec<ProductView> = Vec::new();
    loop {
        let batch = store::catalog(&mut conn, &filter).await?;
        let exhausted = (batch.len() as i64) < filter.limit;
        for row in batch {
            filter.before = Some(row.id.clone());
            let mut view = ProductView::new(row);
            if let Some((point, radius)) = center {
                let Some(location) = &view.location else {
                    continue;
                };
                let here = Point {
                    latitude: location.latitude,
                    longitude: location.longitude,
                };
                let distance = geo::distance_km(point, here);
                if distance > radius {
                    continue;
                }
                view.distance_km = Some((distance * 10.0).round() / 10.0);
            }
            found.push(view);
            if found.len() > wanted {
                break;
            }
        }
        // Without a radius every candidate matches: one query is the page.
        if center.is_none() || exhausted || found.len() > wanted {
            break;
        }
    }
    Ok(page.respond(found, |v| v.id.to_string(), |v| v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_and_punctuation_are_not_searched_for() {
        assert_eq!(
            words_of("Men's LAMP for the reading-room"),
            ["men", "lamp", "reading", "room"]
        );
        assert!(words_of("the and of").is_empty());
        assert_eq!(
            STOP_WORDS.split(' ').count(),
            127,
            "PostgreSQL's english.stop"
        );
    }
}
