use std::sync::LazyLock;

use crate::ids::ProductId;
use landlord_core::ids::OrganizationId;
use landlord_core::sqlite_reader::rusqlite;
use landlord_core::{Db, Timestamp};
use sqlx::{Any, AnyConnection, Executor};

use super::ProductStatus;
use crate::geo::BoundingBox;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductRow {
    pub id: ProductId,
    pub vendor_id: OrganizationId,
    pub title: String,
    pub slug: String,
    pub description: String,
    pub price: i64,
    pub currency: String,
    pub stock: i64,
    pub reserved: i64,
    pub status: ProductStatus,
    /// JSON array of category slugs.
    pub categories: String,
    /// JSON array of image URLs.
    pub images: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub location_label: Option<String>,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The vendor's store name and slug (joined).
    pub store_name: String,
    pub store_slug: String,
}

const PRODUCT_COLUMNS: &str = "p.id, p.vendor_id, p.title, p.slug, p.description, p.price, \
     p.currency, p.stock, p.reserved, p.status, p.categories, p.images, p.latitude, p.longitude, \
     p.location_label, p.rating_sum, p.rating_count, p.created_at, p.updated_at, \
     v.store_name AS store_name, v.slug AS store_slug";

const PRODUCT_FROM: &str = "marketplace_products p \
     JOIN marketplace_vendors v ON v.organization_id = p.vendor_id";

fn is_sqlite(conn: &AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("sqlite")
}

/// Creates the full-text index the backend offers, once per start (both
/// statements are `IF NOT EXISTS`): PostgreSQL a GIN index over
/// `to_tsvector('english', search_text)`; SQLite an FTS5 table (Porter
/// stemming) that [`insert_product`] and [`update_product`] keep in step.
pub async fn prepare_search(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let statement = if is_sqlite(conn) {
        "CREATE VIRTUAL TABLE IF NOT EXISTS marketplace_product_search USING fts5(\
         product_id UNINDEXED, body, tokenize = 'porter unicode61')"
    } else {
        "CREATE INDEX IF NOT EXISTS marketplace_products_search ON marketplace_products \
         USING GIN (to_tsvector('english', search_text))"
    };
    sqlx::query(statement).execute(&mut *conn).await?;
    Ok(())
}

/// SQLite's FTS5 mirror of a product's searchable text: the product's
/// old row (named by `search_rowid`) is replaced by a new one, which the
/// product then names.
async fn index_search_text(
    conn: &mut AnyConnection,
    id: &ProductId,
    text: &str,
) -> Result<(), sqlx::Error> {
    if !is_sqlite(conn) {
        return Ok(());
    }
    sqlx::query(
        "DELETE FROM marketplace_product_search WHERE rowid = \
         (SELECT search_rowid FROM marketplace_products WHERE id = $1)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO marketplace_product_search (product_id, body) VALUES ($1, $2)")
        .bind(id)
        .bind(text)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE marketplace_products SET search_rowid = last_insert_rowid() WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Rewrites a product's category rows.
async fn set_categories(
    conn: &mut AnyConnection,
    id: &ProductId,
    categories: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM marketplace_product_categories WHERE product_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for category in categories {
        sqlx::query(
            "INSERT INTO marketplace_product_categories (product_id, category) VALUES ($1, $2)",
        )
        .bind(id)
        .bind(category)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// What a product row writes beside its columns.
pub struct ProductIndex<'a> {
    pub categories: &'a [String],
    pub search_text: &'a str,
}

/// Adds a product (a unique violation: the slug is taken in its store).
pub async fn insert_product(
    conn: &mut AnyConnection,
    row: &ProductRow,
    index: ProductIndex<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO marketplace_products (id, vendor_id, title, slug, description, price, \
         currency, stock, reserved, status, categories, images, search_text, latitude, longitude, \
         location_label, rating_sum, rating_count, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12, $13, $14, $15, 0, 0, $16, $16)",
    )
    .bind(&row.id)
    .bind(&row.vendor_id)
    .bind(&row.title)
    .bind(&row.slug)
    .bind(&row.description)
    .bind(row.price)
    .bind(&row.currency)
    .bind(row.stock)
    .bind(row.status)
    .bind(&row.categories)
    .bind(&row.images)
    .bind(index.search_text)
    .bind(row.latitude)
    .bind(row.longitude)
    .bind(&row.location_label)
    .bind(row.created_at)
    .execute(&mut *conn)
    .await?;
    set_categories(conn, &row.id, index.categories).await?;
    index_search_text(conn, &row.id, index.search_text).await
}

/// Writes a vendor's changes. `stock` never drops below what is reserved:
/// false when it would (or the product is not the vendor's).
pub async fn update_product(
    conn: &mut AnyConnection,
    row: &ProductRow,
    index: ProductIndex<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_products SET title = $1, slug = $2, description = $3, price = $4, \
         currency = $5, stock = $6, status = $7, categories = $8, images = $9, search_text = $10, \
         latitude = $11, longitude = $12, location_label = $13, updated_at = $14 \
         WHERE id = $15 AND vendor_id = $16 AND reserved <= $6",
    )
    .bind(&row.title)
    .bind(&row.slug)
    .bind(&row.description)
    .bind(row.price)
    .bind(&row.currency)
    .bind(row.stock)
    .bind(row.status)
    .bind(&row.categories)
    .bind(&row.images)
    .bind(index.search_text)
    .bind(row.latitude)
    .bind(row.longitude)
    .bind(&row.location_label)
    .bind(row.updated_at)
    .bind(&row.id)
    .bind(&row.vendor_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    set_categories(conn, &row.id, index.categories).await?;
    index_search_text(conn, &row.id, index.search_text).await?;
    Ok(true)
}

/// A vendor's own product, whatever its status.
pub async fn vendor_product<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    vendor_id: &OrganizationId,
    id: &ProductId,
) -> Result<Option<ProductRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_FROM} WHERE p.id = $1 AND p.vendor_id = $2"
    ))
    .bind(id)
    .bind(vendor_id)
    .fetch_optional(executor)
    .await
}

/// A vendor's products, newest first, optionally of one status.
pub async fn vendor_products<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    vendor_id: &OrganizationId,
    status: Option<ProductStatus>,
    before: Option<&ProductId>,
    limit: i64,
) -> Result<Vec<ProductRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_FROM} WHERE p.vendor_id = $1 \
         AND ($2 = '' OR p.status = $2) AND ($3 = '' OR p.id < $3) ORDER BY p.id DESC LIMIT $4"
    ))
    .bind(vendor_id)
    .bind(status.map_or("", ProductStatus::as_str))
    .bind(before.map_or("", ProductId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// A product as anyone may see it: active, of an approved vendor.
pub async fn listed_product<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &ProductId,
) -> Result<Option<ProductRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_FROM} \
         WHERE p.id = $1 AND p.status = 'active' AND v.status = 'approved'"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// A product as anyone may see it, for its public page: the hot read. On
/// SQLite it runs on the calling thread (see
/// [`landlord_core::sqlite_reader`]); elsewhere, or should that fail, on
/// the pool like [`listed_product`].
pub async fn read_listed_product(
    db: &Db,
    id: &ProductId,
) -> Result<Option<ProductRow>, sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_FROM} \
             WHERE p.id = ?1 AND p.status = 'active' AND v.status = 'approved'"
        )
    });
    if let Some(reader) = db.sqlite_reader() {
        match reader.query_row(&SQL, [id.as_str()], product_from_sqlite) {
            Ok(product) => return Ok(product),
            Err(error) => {
                tracing::warn!(%error, "reading a product on the calling thread failed; reading it on the pool")
            }
        }
    }
    listed_product(db.pool(), id).await
}

/// A row of [`PRODUCT_COLUMNS`], in their order.
fn product_from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<ProductRow> {
    Ok(ProductRow {
        id: row.get(0)?,
        vendor_id: row.get(1)?,
        title: row.get(2)?,
        slug: row.get(3)?,
        description: row.get(4)?,
        price: row.get(5)?,
        currency: row.get(6)?,
        stock: row.get(7)?,
        reserved: row.get(8)?,
        status: row.get(9)?,
        categories: row.get(10)?,
        images: row.get(11)?,
        latitude: row.get(12)?,
        longitude: row.get(13)?,
        location_label: row.get(14)?,
        rating_sum: row.get(15)?,
        rating_count: row.get(16)?,
        created_at: row.get(17)?,
        updated_at: row.get(18)?,
        store_name: row.get(19)?,
        store_slug: row.get(20)?,
    })
}

/// Products by id, whatever their status (a cart's or an order's).
pub async fn products_by_ids(
    conn: &mut AnyConnection,
    ids: &[ProductId],
) -> Result<Vec<ProductRow>, sqlx::Error> {
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        let row: Option<ProductRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_FROM} WHERE p.id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        rows.extend(row);
    }
    Ok(rows)
}

/// The public listing's filters.
#[derive(Debug, Clone, Default)]
pub struct CatalogFilter<'a> {
    /// Full-text query (already reduced to words), empty: none.
    pub words: Vec<String>,
    pub category: Option<&'a str>,
    pub vendor_slug: Option<&'a str>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub currency: Option<&'a str>,
    pub within: Option<BoundingBox>,
    pub before: Option<ProductId>,
    pub limit: i64,
}

/// Listed products matching `filter`, newest first.
///
/// A full-text search costs what the word's frequency allows, not what
/// the catalog's size does. On PostgreSQL each search is planned with its
/// words (an unnamed statement): the planner walks the newest products for
/// a common word and sorts the index's matches for a rare one, which a
/// plan cached for any words cannot tell apart. On SQLite a word with
/// many matches is looked for among the newest products first (see
/// [`newest_window`]); a rare word, or a window that holds too few, takes
/// every match and sorts them.
pub async fn catalog(
    conn: &mut AnyConnection,
    filter: &CatalogFilter<'_>,
) -> Result<Vec<ProductRow>, sqlx::Error> {
    let sqlite = is_sqlite(conn);
    let search = if filter.words.is_empty() {
        TextSearch::None
    } else {
        TextSearch::EveryMatch
    };
    if sqlite && search == TextSearch::EveryMatch {
        let query = search_query(filter, true);
        if count_matches(conn, &query, COMMON_WORD_MATCHES).await? >= COMMON_WORD_MATCHES {
            let rows = catalog_query(conn, filter, TextSearch::NewestWindow).await?;
            if rows.len() as i64 >= filter.limit {
                return Ok(rows);
            }
        }
    }
    catalog_query(conn, filter, search).await
}

/// A word with at least this many matches is looked for among the newest
/// products first; fewer are cheaper to gather and sort (about 6 ms for
/// 1,000 matches at a million products).
const COMMON_WORD_MATCHES: i64 = 2_000;

/// How many of the newest products a common word's search looks at
/// before it takes every match: enough that a word in one product of 50
/// fills the page.
fn newest_window(limit: i64) -> i64 {
    (limit * 50).clamp(1_000, 5_000)
}

/// How the listing's query finds a search's matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextSearch {
    /// No words asked for.
    None,
    /// Every product the index matches (PostgreSQL: its GIN index).
    EveryMatch,
    /// SQLite: the index's matches among the newest products only, joined
    /// by the products' `search_rowid`.
    NewestWindow,
}

/// SQLite's matches of `query`, counted up to `cap` (the index hands them
/// over in row order, so counting stops early).
async fn count_matches(
    conn: &mut AnyConnection,
    query: &str,
    cap: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM marketplace_product_search \
         WHERE marketplace_product_search MATCH $1 LIMIT $2)",
    )
    .bind(query)
    .bind(cap)
    .fetch_one(&mut *conn)
    .await
}

async fn catalog_query(
    conn: &mut AnyConnection,
    filter: &CatalogFilter<'_>,
    search: TextSearch,
) -> Result<Vec<ProductRow>, sqlx::Error> {
    let sqlite = is_sqlite(conn);
    let sql = catalog_sql(filter, sqlite, search);
    let mut query = bind_catalog(sqlx::query_as(&sql), filter, sqlite);
    if search == TextSearch::NewestWindow {
        query = query.bind(newest_window(filter.limit));
    }
    // PostgreSQL plans an unnamed statement with its values (see `catalog`).
    query
        .persistent(sqlite || search == TextSearch::None)
        .fetch_all(&mut *conn)
        .await
}

/// The listing's query. Each filter is in the SQL only when asked for, so
/// the planner sees the ranges it can take to an index (an `OR` with a
/// parameter would hide them: a radius search then reads the
/// `(status, latitude, longitude)` index's latitude band, not every
/// product); an absent filter still names its parameter, trivially.
fn catalog_sql(filter: &CatalogFilter<'_>, sqlite: bool, search: TextSearch) -> String {
    let category = if filter.category.is_some() {
        "p.id IN (SELECT c.product_id FROM marketplace_product_categories c WHERE c.category = $1)"
    } else {
        "$1 = ''"
    };
    let within = if filter.within.is_some() {
        "$8 = 1 AND p.latitude BETWEEN $9 AND $10 AND p.longitude BETWEEN $11 AND $12"
    } else {
        "$8 = 0 AND $9 = $10 AND $11 = $12"
    };
    // A window's products are found by id, never by the status indexes
    // (the unary `+` keeps SQLite from reading every listed product).
    let listed = if search == TextSearch::NewestWindow {
        "+p.status = 'active'"
    } else {
        "p.status = 'active'"
    };
    let (window, search) = match search {
        TextSearch::None => (String::new(), "$14 = ''"),
        TextSearch::EveryMatch if sqlite => (
            String::new(),
            "p.id IN (SELECT product_id FROM marketplace_product_search \
             WHERE marketplace_product_search MATCH $14)",
        ),
        TextSearch::EveryMatch => (
            String::new(),
            "to_tsvector('english', p.search_text) @@ plainto_tsquery('english', $14)",
        ),
        TextSearch::NewestWindow => (
            newest_window_sql(filter.before.is_some()),
            "p.id IN (SELECT n.id FROM newest n JOIN matched m ON m.search_rowid = n.search_rowid)",
        ),
    };
    format!(
        "{window}SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_FROM} \
         WHERE {listed} AND v.status = 'approved' \
           AND {category} \
           AND ($2 = '' OR v.slug = $2) \
           AND ($3 = 0 OR p.price >= $4) AND ($5 = 0 OR p.price <= $6) \
           AND ($7 = '' OR p.currency = $7) \
           AND {within} \
           AND ($13 = '' OR p.id < $13) AND {search} \
         ORDER BY p.id DESC LIMIT $15"
    )
}

/// The newest `$16` listed products (before the cursor) and the index's
/// matches from the oldest of their rows on: the index hands over only
/// the matches of rows that recent (a product's row is replaced when its
/// text changes, so a newer row than all of them can only be a product
/// edited since), never every match.
fn newest_window_sql(after_cursor: bool) -> String {
    let cursor = if after_cursor { "id < $13" } else { "$13 = ''" };
    format!(
        "WITH newest AS MATERIALIZED (SELECT id, search_rowid FROM marketplace_products \
           WHERE +status = 'active' AND {cursor} ORDER BY id DESC LIMIT $16), \
         matched AS MATERIALIZED (SELECT rowid AS search_rowid FROM marketplace_product_search \
           WHERE marketplace_product_search MATCH $14 \
             AND rowid >= (SELECT min(search_rowid) FROM newest)) "
    )
}

/// The search's text: each word quoted for FTS5 (terms that must all
/// match, never its query syntax); PostgreSQL's `plainto_tsquery` takes
/// the words as they are.
fn search_query(filter: &CatalogFilter<'_>, sqlite: bool) -> String {
    if sqlite {
        filter
            .words
            .iter()
            .map(|w| format!("\"{}\"", w.replace('"', "")))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        filter.words.join(" ")
    }
}

fn bind_catalog<'q, O>(
    query: sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments<'q>>,
    filter: &'q CatalogFilter<'_>,
    sqlite: bool,
) -> sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments<'q>> {
    let b = filter.within;
    query
        .bind(filter.category.unwrap_or(""))
        .bind(filter.vendor_slug.unwrap_or(""))
        .bind(i64::from(filter.min_price.is_some()))
        .bind(filter.min_price.unwrap_or(0))
        .bind(i64::from(filter.max_price.is_some()))
        .bind(filter.max_price.unwrap_or(0))
        .bind(filter.currency.unwrap_or(""))
        .bind(i64::from(b.is_some()))
        .bind(b.map_or(0.0, |b| b.min_latitude))
        .bind(b.map_or(0.0, |b| b.max_latitude))
        .bind(b.map_or(0.0, |b| b.min_longitude))
        .bind(b.map_or(0.0, |b| b.max_longitude))
        .bind(filter.before.as_ref().map_or("", ProductId::as_str))
        .bind(search_query(filter, sqlite))
        .bind(filter.limit)
}

// ---- stock ---------------------------------------------------------------------------

/// Holds `quantity` more of a listed product, only if that many are
/// available: one conditional update, so concurrent checkouts never hold
/// more than `stock` between them. False: not enough (or not for sale).
pub async fn reserve_stock(
    conn: &mut AnyConnection,
    id: &ProductId,
    quantity: i64,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_products SET reserved = reserved + $1, updated_at = $2 \
         WHERE id = $3 AND status = 'active' AND stock - reserved >= $1",
    )
    .bind(quantity)
    .bind(at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives held stock back (never below zero).
pub async fn release_stock(
    conn: &mut AnyConnection,
    id: &ProductId,
    quantity: i64,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_products SET reserved = reserved - $1, updated_at = $2 \
         WHERE id = $3 AND reserved >= $1",
    )
    .bind(quantity)
    .bind(at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Held stock is sold: it leaves both `stock` and `reserved`.
pub async fn sell_stock(
    conn: &mut AnyConnection,
    id: &ProductId,
    quantity: i64,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_products SET stock = stock - $1, reserved = reserved - $1, \
         updated_at = $2 WHERE id = $3 AND reserved >= $1",
    )
    .bind(quantity)
    .bind(at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sold stock comes back (a vendor cancelled a paid part).
pub async fn restock(
    conn: &mut AnyConnection,
    id: &ProductId,
    quantity: i64,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE marketplace_products SET stock = stock + $1, updated_at = $2 WHERE id = $3",
    )
    .bind(quantity)
    .bind(at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A product's `reserved` and the sum of its live reservations (they are
/// always equal; tests and operators check).
pub async fn reserved_and_live<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &ProductId,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.reserved, CAST(COALESCE((SELECT SUM(r.quantity) FROM marketplace_reservations r \
         WHERE r.product_id = p.id AND r.status = 'live'), 0) AS BIGINT) FROM marketplace_products p \
         WHERE p.id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// Adds a review's rating to its product and vendor.
pub async fn add_rating(
    conn: &mut AnyConnection,
    product_id: &ProductId,
    vendor_id: &OrganizationId,
    rating: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE marketplace_products SET rating_sum = rating_sum + $1, \
         rating_count = rating_count + 1 WHERE id = $2",
    )
    .bind(rating)
    .bind(product_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE marketplace_vendors SET rating_sum = rating_sum + $1, \
         rating_count = rating_count + 1 WHERE organization_id = $2",
    )
    .bind(rating)
    .bind(vendor_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::{bounding_box, Point};
    use landlord_core::config::DatabaseKind;
    use landlord_core::Db;

    async fn catalog_db() -> Db {
        let db = Db::connect_url("sqlite::memory:", DatabaseKind::Sqlite, 1)
            .await
            .unwrap();
        db.migrate(&[&crate::MIGRATOR]).await.unwrap();
        prepare_search(&mut db.pool().acquire().await.unwrap())
            .await
            .unwrap();
        db
    }

    /// The plan SQLite makes for `filter`'s query, one line per step.
    async fn plan(filter: &CatalogFilter<'_>, search: TextSearch) -> String {
        let db = catalog_db().await;
        let mut conn = db.pool().acquire().await.unwrap();
        let sql = format!("EXPLAIN QUERY PLAN {}", catalog_sql(filter, true, search));
        let mut query = bind_catalog(sqlx::query_as(&sql), filter, true);
        if search == TextSearch::NewestWindow {
            query = query.bind(newest_window(filter.limit));
        }
        let rows: Vec<(i64, i64, i64, String)> = query.fetch_all(&mut *conn).await.unwrap();
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
    }

    /// A store and `n` of its products, the ids in creation order; one in
    /// three has "kettle" in its text.
    async fn seed_products(conn: &mut AnyConnection, n: usize) -> (OrganizationId, Vec<ProductId>) {
        let vendor = OrganizationId::generate();
        // Only the marketplace's own tables are written here: the store's
        // organization (identity's) is left out, and keys are not checked.
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut *conn)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO marketplace_vendors (organization_id, store_name, slug, status, \
             approved_at, created_at, updated_at) VALUES ($1, 'Store', 'store', 'approved', 0, 0, 0)",
        )
        .bind(&vendor)
        .execute(&mut *conn)
        .await
        .unwrap();
        let mut ids: Vec<ProductId> = (0..n).map(|_| ProductId::generate()).collect();
        ids.sort();
        for (i, id) in ids.iter().enumerate() {
            let text = product_text(i, i % 3 == 0);
            insert_product(
                conn,
                &product(&vendor, id, i, &text),
                ProductIndex {
                    categories: &[],
                    search_text: &text,
                },
            )
            .await
            .unwrap();
        }
        (vendor, ids)
    }

    /// Writes a vendor's change to `row` (its title is its searchable text).
    async fn edit(conn: &mut AnyConnection, row: &ProductRow) {
        let index = ProductIndex {
            categories: &[],
            search_text: &row.title,
        };
        assert!(update_product(conn, row, index).await.unwrap());
    }

    fn product_text(i: usize, kettle: bool) -> String {
        format!("item {i} {}", if kettle { "kettle" } else { "lamp" })
    }

    fn product(vendor: &OrganizationId, id: &ProductId, i: usize, text: &str) -> ProductRow {
        ProductRow {
            id: id.clone(),
            vendor_id: vendor.clone(),
            title: text.to_owned(),
            slug: format!("item-{i}"),
            description: String::new(),
            price: 100,
            currency: "USD".into(),
            stock: 1,
            reserved: 0,
            status: ProductStatus::Active,
            categories: "[]".into(),
            images: "[]".into(),
            latitude: None,
            longitude: None,
            location_label: None,
            rating_sum: 0,
            rating_count: 0,
            created_at: Timestamp::from_millis(i as i64),
            updated_at: Timestamp::from_millis(i as i64),
            store_name: "Store".into(),
            store_slug: "store".into(),
        }
    }

    /// Every page of a search for `word`, walked with the cursor.
    async fn search_pages(
        conn: &mut AnyConnection,
        word: &str,
        search: Option<TextSearch>,
    ) -> Vec<Vec<ProductId>> {
        let mut pages = Vec::new();
        let mut before = None;
        loop {
            let filter = CatalogFilter {
                words: vec![word.to_owned()],
                before: before.clone(),
                limit: 21,
                ..CatalogFilter::default()
            };
            let rows = match search {
                Some(search) => catalog_query(conn, &filter, search).await.unwrap(),
                None => catalog(conn, &filter).await.unwrap(),
            };
            let page: Vec<ProductId> = rows.into_iter().map(|row| row.id).collect();
            before = page.last().cloned();
            let last = page.len() < 21;
            pages.push(page);
            if last {
                return pages;
            }
        }
    }

    #[tokio::test]
    async fn a_common_word_among_the_newest_products_finds_what_every_match_finds() {
        let db = catalog_db().await;
        let mut conn = db.pool().acquire().await.unwrap();
        let (vendor, ids) = seed_products(&mut conn, 6_300).await;
        // Edits give old products new index rows: one gains the word, one
        // loses it, and a new product loses it too.
        for (i, kettle) in [(1, true), (3, false), (6_297, false)] {
            let text = product_text(i, kettle);
            let mut row = product(&vendor, &ids[i], i, &text);
            row.updated_at = Timestamp::from_millis(10_000);
            edit(&mut conn, &row).await;
        }
        let every = search_pages(&mut conn, "kettle", Some(TextSearch::EveryMatch)).await;
        let matched: Vec<&ProductId> = every.iter().flatten().collect();
        assert_eq!(matched.len(), 2_099, "one in three, one more, two fewer");
        assert!(matched.contains(&&ids[1]) && !matched.contains(&&ids[3]));
        assert!(!matched.contains(&&ids[6_297]));
        assert!(
            matched.windows(2).all(|pair| pair[0] > pair[1]),
            "newest first"
        );

        assert_eq!(search_pages(&mut conn, "kettle", None).await, every);
        let first = &search_pages(&mut conn, "kettle", Some(TextSearch::NewestWindow)).await[0];
        assert_eq!(first, &every[0]);
        // A rare word takes every match.
        let rare = search_pages(&mut conn, "item 2", None).await;
        assert_eq!(rare, vec![vec![ids[2].clone()]]);
    }

    #[tokio::test]
    async fn a_radius_search_follows_a_product_that_moves() {
        let db = catalog_db().await;
        let mut conn = db.pool().acquire().await.unwrap();
        let (vendor, ids) = seed_products(&mut conn, 3).await;
        let lagos = Point {
            latitude: 6.5,
            longitude: 3.4,
        };
        let nairobi = Point {
            latitude: -1.29,
            longitude: 36.82,
        };
        let place = |i: usize, at: Point| {
            let mut row = product(&vendor, &ids[i], i, &product_text(i, false));
            row.latitude = Some(at.latitude);
            row.longitude = Some(at.longitude);
            row
        };
        for i in 0..2 {
            edit(&mut conn, &place(i, lagos)).await;
        }
        let near = |center: Point| CatalogFilter {
            within: Some(bounding_box(center, 25.0)),
            limit: 21,
            ..CatalogFilter::default()
        };
        let found = |rows: Vec<ProductRow>| rows.into_iter().map(|row| row.id).collect::<Vec<_>>();
        let in_lagos = found(catalog(&mut conn, &near(lagos)).await.unwrap());
        assert_eq!(
            in_lagos,
            vec![ids[1].clone(), ids[0].clone()],
            "newest first; the third has no place"
        );

        edit(&mut conn, &place(0, nairobi)).await;
        assert_eq!(
            found(catalog(&mut conn, &near(lagos)).await.unwrap()),
            vec![ids[1].clone()]
        );
        assert_eq!(
            found(catalog(&mut conn, &near(nairobi)).await.unwrap()),
            vec![ids[0].clone()]
        );
    }

    #[tokio::test]
    async fn a_common_word_reads_only_the_newest_products_matches() {
        let filter = CatalogFilter {
            words: vec!["kettle".into()],
            limit: 21,
            ..CatalogFilter::default()
        };
        let plan = plan(&filter, TextSearch::NewestWindow).await;
        // The newest products walk the id index in order (the limit stops
        // it), and the page's products are read by id: nothing is sorted.
        assert!(plan.contains("MATERIALIZE newest"), "{plan}");
        assert!(
            plan.contains(
                "SCAN marketplace_products USING INDEX sqlite_autoindex_marketplace_products_1"
            ),
            "{plan}"
        );
        assert!(
            plan.contains("SEARCH p USING INDEX sqlite_autoindex_marketplace_products_1 (id=?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[tokio::test]
    async fn a_radius_search_reads_the_location_index_not_every_product() {
        let filter = CatalogFilter {
            within: Some(bounding_box(
                Point {
                    latitude: 6.5,
                    longitude: 3.4,
                },
                50.0,
            )),
            limit: 51,
            ..CatalogFilter::default()
        };
        let plan = plan(&filter, TextSearch::EveryMatch).await;
        assert!(
            plan.contains("marketplace_products_location (status=? AND latitude>? AND latitude<?)"),
            "{plan}"
        );
    }

    #[tokio::test]
    async fn a_text_and_category_search_read_their_indexes() {
        let filter = CatalogFilter {
            words: vec!["lamp".into()],
            category: Some("lighting"),
            limit: 51,
            ..CatalogFilter::default()
        };
        let plan = plan(&filter, TextSearch::EveryMatch).await;
        assert!(plan.contains("VIRTUAL TABLE INDEX"), "{plan}");
        assert!(
            plan.contains("marketplace_product_categories_category (category=?)"),
            "{plan}"
        );
    }
}
