-- SQLite: each product names its row of the full-text index
-- (`search_rowid`), so a product's text is replaced by that row (not by
-- reading the whole index for its id) and a search for a common word can
-- take the newest products' matches by row instead of gathering every
-- match. The index is rebuilt once with each product's own rowid.
CREATE VIRTUAL TABLE IF NOT EXISTS marketplace_product_search USING fts5(
    product_id UNINDEXED, body, tokenize = 'porter unicode61');
ALTER TABLE marketplace_products ADD COLUMN search_rowid INTEGER;
DELETE FROM marketplace_product_search;
INSERT INTO marketplace_product_search (rowid, product_id, body)
SELECT rowid, id, search_text FROM marketplace_products;
UPDATE marketplace_products SET search_rowid = rowid;
