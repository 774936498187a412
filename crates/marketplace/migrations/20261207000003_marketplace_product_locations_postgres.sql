-- PostgreSQL: products' locations in a GiST index of points, so a radius
-- search reads the products inside its box instead of a whole band of
-- latitude (which grows with the catalog).
CREATE INDEX marketplace_products_point ON marketplace_products
    USING GIST (point(longitude, latitude));
