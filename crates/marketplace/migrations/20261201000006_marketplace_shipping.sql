-- Where a marketplace order goes: the buyer's shipping address (JSON:
-- name, line1, line2, city, postal_code, country), shown to each store
-- with its part. Absent for orders that ship nothing.
ALTER TABLE marketplace_orders ADD COLUMN shipping_address TEXT;
