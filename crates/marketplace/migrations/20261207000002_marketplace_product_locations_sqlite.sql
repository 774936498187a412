-- SQLite: products' locations in an R*Tree, so a radius search reads the
-- products inside its box instead of a whole band of latitude (which
-- grows with the catalog). A product's entry is its `search_rowid`; the
-- store keeps it in step with the product's row, as it does the
-- full-text index.
CREATE VIRTUAL TABLE marketplace_product_locations USING rtree(
    id, min_latitude, max_latitude, min_longitude, max_longitude, +product_id);
INSERT INTO marketplace_product_locations (id, min_latitude, max_latitude,
    min_longitude, max_longitude, product_id)
SELECT search_rowid, latitude, latitude, longitude, longitude, id
FROM marketplace_products
WHERE latitude IS NOT NULL AND longitude IS NOT NULL AND search_rowid IS NOT NULL;
